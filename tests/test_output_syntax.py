"""Lossless DICOM outputs: `--output-syntax keep|explicit|rle|jpeg-ls|jpeg2000`.

Every output is decoded again (pydicom, without force) and compared with the cleaned frames
exactly, for every syntax and every kind of image; `keep` keeps a lossless input's syntax and
writes a lossy one losslessly with its history once a pixel changed; an unchanged compressed
input keeps its own encoded frames (lossy ones too), without their comment and application
segments; large (streamed) files give the same bytes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_images import write_ct
from conftest import dcmread_quiet, find_test_file, make_dicom
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import get_encoder
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import UsageError
from medocr_cli.io import Scan, read_scan, write_scan
from medocr_cli.io import dicom_large as large
from medocr_cli.io.dicom_encode import _SpooledFrames
from medocr_cli.pipeline.scrub import ScrubConfig
from medocr_cli.types import OutputSyntax

pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length:UserWarning"),
]

CODEC = {"rle": RLELossless, "jpeg-ls": JPEGLSLossless, "jpeg2000": JPEG2000Lossless}
ALL_MODES = [m.value for m in OutputSyntax]


def _image(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, str, int]:
    """(array, photometric, bits stored): smooth anatomy-like content with noise and a label."""
    yy, xx = np.mgrid[:48, :64]
    smooth = np.sin(xx / 7.0) + np.cos(yy / 5.0)
    if kind == "grey8":
        arr = np.clip(100 + 40 * smooth + rng.normal(0, 3, smooth.shape), 0, 255)
        return arr.astype(np.uint8), "MONOCHROME2", 8
    if kind == "ct12":  # signed, 12 of 16 bits, negative air
        arr = np.clip(-1000 + 600 * (smooth + 2) + rng.normal(0, 8, smooth.shape), -2048, 2047)
        return arr.astype(np.int16), "MONOCHROME2", 12
    if kind == "ct16":  # signed, all 16 bits, both extremes present
        arr = (-20000 + 12000 * (smooth + 2)).astype(np.int16)
        arr[0, 0], arr[0, 1] = -32768, 32767
        return arr, "MONOCHROME2", 16
    if kind == "rgb":
        grey = 100 + 40 * smooth
        arr = np.stack([grey, grey * 0.8 + 20, 255 - grey], axis=-1) + rng.normal(0, 2, (48, 64, 3))
        return np.clip(arr, 0, 255).astype(np.uint8), "RGB", 8
    if kind == "cine":  # multi-frame grey, moving content
        frames = [np.roll(100 + 40 * smooth, 3 * i, axis=1) for i in range(4)]
        return np.clip(np.stack(frames), 0, 255).astype(np.uint8), "MONOCHROME2", 8
    if kind == "cine_rgb":  # multi-frame colour
        grey = 100 + 40 * smooth
        frame = np.stack([grey, grey * 0.5 + 60, 200 - grey / 2], axis=-1)
        return np.stack([np.roll(frame, i, axis=0) for i in range(3)]).astype(np.uint8), "RGB", 8
    raise AssertionError(kind)


def _clean(scan: Scan) -> np.ndarray:
    """Repaint a 'text' rectangle of every frame (as scrub would) and return the frames."""
    lo, hi = scan.value_range
    for index in range(scan.n_frames):
        frame = scan.frames[index].copy()
        frame[4:12, 5:40] = np.clip(int(frame[4:12, 5:40].mean()), lo, hi)
        scan.set_frame(index, frame)
    return np.array(scan.frames, copy=True)


def _touch(scan: Scan, index: int = 0) -> np.ndarray:
    """Change one sample of frame `index` (as a cleaning would) and return all the frames."""
    frame = scan.frames[index].copy()
    lo, hi = scan.value_range
    frame.flat[0] = lo if frame.flat[0] != lo else hi
    scan.set_frame(index, frame)
    return np.array(scan.frames, copy=True)


def _decoded(path: Path) -> np.ndarray:
    """The output's frames as pydicom decodes them, (frames, rows, cols[, samples])."""
    ds = dcmread_quiet(path)  # no force: a conformant Part 10 file
    arr = ds.pixel_array
    samples, frames = int(ds.SamplesPerPixel), int(ds.get("NumberOfFrames", 1) or 1)
    return arr.reshape((frames, ds.Rows, ds.Columns) + ((samples,) if samples > 1 else ()))


@pytest.mark.parametrize("kind", ["grey8", "ct12", "ct16", "rgb", "cine", "cine_rgb"])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_every_syntax_gives_back_the_cleaned_frames_exactly(
    kind: str, mode: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    arr, photometric, bits = _image(kind, rng)
    src = tmp_path / "in.dcm"
    make_dicom(src, arr, photometric=photometric, bits_stored=bits)
    scan = read_scan(src)
    cleaned = _clean(scan)
    out = tmp_path / "out.dcm"
    write_scan(scan, out, output_syntax=mode)

    ds = dcmread_quiet(out)
    syntax = ds.file_meta.TransferSyntaxUID
    if mode in CODEC:
        assert syntax == CODEC[mode]
    elif mode == "explicit":
        assert syntax == ExplicitVRLittleEndian
    else:  # keep: the input was Explicit VR Little Endian
        assert syntax == ExplicitVRLittleEndian
    want_pi = "YBR_RCT" if syntax == JPEG2000Lossless and photometric == "RGB" else photometric
    assert ds.PhotometricInterpretation == want_pi
    assert ds.BitsStored == bits and ds.PixelRepresentation == int(arr.dtype.kind == "i")
    assert ds.BurnedInAnnotation == "NO"
    decoded = _decoded(out)
    assert decoded.dtype == cleaned.dtype
    np.testing.assert_array_equal(decoded, cleaned)
    back = read_scan(out)  # medocr's own reader: YBR_RCT comes back as RGB
    assert back.photometric == photometric and back.signed == (arr.dtype.kind == "i")
    np.testing.assert_array_equal(back.frames, cleaned)
    if mode in ("jpeg-ls", "jpeg2000"):  # RLE does not shrink noisy samples much
        assert len(ds.PixelData) < 0.8 * cleaned.nbytes


@pytest.mark.parametrize(
    "name,syntax",
    [
        ("MR_small_RLE.dcm", RLELossless),
        ("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless),
        ("MR_small_jp2klossless.dcm", JPEG2000Lossless),
        ("SC_rgb_rle_16bit_2frame.dcm", RLELossless),
        ("US1_J2KR.dcm", JPEG2000Lossless),  # RGB stored with the colour transform (YBR_RCT)
        ("emri_small.dcm", ExplicitVRLittleEndian),
        ("image_dfl.dcm", DeflatedExplicitVRLittleEndian),
    ],
)
def test_keep_keeps_a_lossless_syntax_and_the_size(name: str, syntax: UID, tmp_path: Path) -> None:
    path = find_test_file(name)
    assert dcmread_quiet(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    scan = read_scan(path)
    frames = np.array(scan.frames, copy=True)
    out = tmp_path / name
    write_scan(scan, out, output_syntax="keep")
    assert dcmread_quiet(out, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    np.testing.assert_array_equal(read_scan(out).frames, frames)
    assert out.stat().st_size <= 1.1 * path.stat().st_size + 2048  # header marks added


def test_keep_keeps_implicit_vr(tmp_path: Path, rng: np.random.Generator) -> None:
    arr, photometric, bits = _image("ct12", rng)
    src = tmp_path / "imp.dcm"
    make_dicom(src, arr, photometric=photometric, bits_stored=bits, implicit=True)
    for mode in ("keep", "explicit"):
        write_scan(read_scan(src), tmp_path / f"{mode}.dcm", output_syntax=mode)
        ds = dcmread_quiet(tmp_path / f"{mode}.dcm")
        assert ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
        np.testing.assert_array_equal(ds.pixel_array, arr)


@pytest.mark.parametrize(
    "name,source", [("SC_rgb_jpeg.dcm", JPEGBaseline8Bit), ("JPEG-LL.dcm", JPEGLosslessSV1)]
)
def test_keep_writes_what_it_cannot_encode_with_the_smallest_lossless_codec(
    name: str, source: UID, tmp_path: Path
) -> None:
    """Once a pixel changed, a lossy JPEG (and JPEG Lossless, which nothing here encodes)
    becomes the smallest of JPEG-LS / JPEG 2000 / RLE, losslessly; a lossy input keeps its
    LossyImageCompression 01."""
    path = find_test_file(name)
    src = dcmread_quiet(path, stop_before_pixels=True)
    assert src.file_meta.TransferSyntaxUID == source
    sizes = {}
    for mode in ("keep", *CODEC):
        scan = read_scan(path)
        frames = _touch(scan)
        out = tmp_path / f"{mode}.dcm"
        write_scan(scan, out, output_syntax=mode)
        ds = dcmread_quiet(out)
        np.testing.assert_array_equal(read_scan(out).frames, frames)
        if source == JPEGBaseline8Bit:
            assert ds.LossyImageCompression == "01"
            assert ds.LossyImageCompressionMethod == "ISO_10918_1"
        else:
            assert ds.get("LossyImageCompression") != "01"
        sizes[mode] = (out.stat().st_size, ds.file_meta.TransferSyntaxUID)
    assert sizes["keep"][1] in CODEC.values()
    assert sizes["keep"][0] == min(size for size, _ in sizes.values())
    assert sizes["keep"][0] <= 2 * path.stat().st_size


# --- keep: an unchanged compressed input keeps its own encoded frames ---------------------------

#: Patient data as it could sit in a codestream's comment or EXIF segment.
MARK = b"ZEBULON^QUIXWORTH"


def _frames_of(path: Path) -> list[bytes]:
    """The encoded frames of a compressed file's Pixel Data."""
    ds = dcmread_quiet(path)
    n = int(ds.get("NumberOfFrames", 1) or 1)
    return list(generate_frames(ds.PixelData, number_of_frames=n))[:n]


def _without_j2k_comment(frame: bytes) -> bytes:
    """A JPEG 2000 codestream with the comment (COM) of its main header cut out by hand."""
    com = frame.index(b"\xff\x64", 0, frame.index(b"\xff\x90"))
    return frame[:com] + frame[com + 2 + int.from_bytes(frame[com + 2 : com + 4], "big") :]


@pytest.mark.parametrize(
    "name,source,method",
    [
        ("SC_rgb_dcmtk_+eb+cy+np.dcm", JPEGBaseline8Bit, "ISO_10918_1"),  # YBR_FULL_422
        ("examples_ybr_color.dcm", JPEGBaseline8Bit, "ISO_10918_1"),  # 30 frames
        ("JPEG2000.dcm", JPEG2000, "ISO_15444_1"),  # irreversible, with a Kakadu comment
    ],
)
def test_keep_writes_an_unchanged_lossy_input_with_its_own_frames(
    name: str, source: UID, method: str, tmp_path: Path
) -> None:
    """No decoding and encoding again: the input's syntax, photometric and frames, the marks."""
    path = find_test_file(name)
    src = dcmread_quiet(path)
    assert src.file_meta.TransferSyntaxUID == source
    scan = read_scan(path)
    frames = np.array(scan.frames, copy=True)
    out = tmp_path / name
    write_scan(scan, out, output_syntax="keep")

    ds = dcmread_quiet(out)
    assert ds.file_meta.TransferSyntaxUID == source
    assert ds.PhotometricInterpretation == src.PhotometricInterpretation  # what the bytes need
    want = _frames_of(path)
    if source == JPEG2000:
        want = [_without_j2k_comment(f) for f in want]
        assert b"Kakadu" not in out.read_bytes()
    assert _frames_of(out) == want
    np.testing.assert_array_equal(ds.pixel_array, src.pixel_array)
    np.testing.assert_array_equal(read_scan(out).frames, frames)
    assert ds.BurnedInAnnotation == "NO"
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113101"]
    assert ds.LossyImageCompression == "01" and ds.LossyImageCompressionMethod == method
    assert out.stat().st_size <= path.stat().st_size + 1024  # the marks


def test_kept_frames_keep_the_header_s_own_lossy_flag(tmp_path: Path) -> None:
    """A reversible JPEG 2000 stored under the lossy-capable syntax and saying "00" stays "00"."""
    src = dcmread_quiet(find_test_file("MR2_J2KR.dcm"))
    src.file_meta.TransferSyntaxUID = JPEG2000
    src.LossyImageCompression = "00"
    path = tmp_path / "in.dcm"
    src.save_as(path, enforce_file_format=True)
    out = tmp_path / "out.dcm"
    write_scan(read_scan(path), out, output_syntax="keep")
    ds = dcmread_quiet(out)
    assert ds.file_meta.TransferSyntaxUID == JPEG2000  # the frames were kept
    assert ds.LossyImageCompression == "00"


@pytest.mark.parametrize("name", ["SC_rgb_dcmtk_+eb+cy+np.dcm", "JPEG2000.dcm"])
def test_keep_encodes_a_lossy_input_losslessly_once_a_pixel_changed(
    name: str, tmp_path: Path
) -> None:
    path = find_test_file(name)
    scan = read_scan(path)
    frames = _touch(scan)
    out = tmp_path / name
    write_scan(scan, out, output_syntax="keep")
    ds = dcmread_quiet(out)
    assert ds.file_meta.TransferSyntaxUID in CODEC.values()
    np.testing.assert_array_equal(_decoded(out), frames)
    assert ds.LossyImageCompression == "01"


def test_keep_never_mixes_kept_and_encoded_frames(tmp_path: Path) -> None:
    """One frame of 30 changed: all 30 are encoded losslessly, none kept as JPEG."""
    path = find_test_file("examples_ybr_color.dcm")
    scan = read_scan(path)
    frames = _touch(scan, 7)
    out = tmp_path / "cine.dcm"
    write_scan(scan, out, output_syntax="keep")
    ds = dcmread_quiet(out)
    assert ds.file_meta.TransferSyntaxUID in CODEC.values()
    assert ds.PhotometricInterpretation in ("RGB", "YBR_RCT")
    np.testing.assert_array_equal(_decoded(out), frames)
    assert not set(_frames_of(out)) & set(_frames_of(path))


def test_kept_frames_lose_their_comment_and_application_segments(tmp_path: Path) -> None:
    """A JPEG comment or EXIF segment can hold patient data (EXIF a thumbnail of the image, its
    burned-in text included): a kept frame goes without them, and decodes the same."""
    ds = dcmread_quiet(find_test_file("SC_rgb_jpeg_dcmtk.dcm"))  # JPEG baseline, JFIF header
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    assert frame[2:4] == b"\xff\xe0" and frame[4:6] == b"\x00\x10"  # APP0 JFIF, 16 bytes
    com = b"\xff\xfe" + (2 + len(MARK)).to_bytes(2, "big") + MARK
    exif = b"\xff\xe1" + (8 + len(MARK)).to_bytes(2, "big") + b"Exif\x00\x00" + MARK
    ds.PixelData = encapsulate([frame[:20] + com + exif + frame[20:]])
    src = tmp_path / "in.dcm"
    ds.save_as(src)
    scan = read_scan(src)
    frames = np.array(scan.frames, copy=True)
    write_scan(scan, tmp_path / "out.dcm", output_syntax="keep")
    assert MARK not in (tmp_path / "out.dcm").read_bytes()
    out = dcmread_quiet(tmp_path / "out.dcm")
    assert out.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert _frames_of(tmp_path / "out.dcm") == [frame]
    np.testing.assert_array_equal(read_scan(tmp_path / "out.dcm").frames, frames)


def _segment(marker: int) -> bytes:
    """A JPEG marker segment of kind `marker` holding `MARK`."""
    return b"\xff" + bytes([marker]) + (2 + len(MARK)).to_bytes(2, "big") + MARK


def _last_tile_part_unsized(frame: bytes) -> bytes:
    """A one-tile-part JPEG 2000 codestream whose tile-part length (Psot) is 0: "to EOC"."""
    sot = frame.index(b"\xff\x90")
    return frame[: sot + 6] + bytes(4) + frame[sot + 10 :]


def _j2k_unknown(frame: bytes) -> bytes:
    """A JPEG 2000 codestream with a Part 2 segment (MCT, 0xFF74) holding text after its SIZ."""
    end = 4 + int.from_bytes(frame[4:6], "big")
    return frame[:end] + b"\xff\x74" + (2 + len(MARK)).to_bytes(2, "big") + MARK + frame[end:]


def _adobe(frame: bytes) -> bytes:
    """A JPEG frame with an Adobe segment whose version and flags hold text."""
    body = b"Adobe" + MARK[:6] + bytes([1])  # transform 1: YCbCr, as the frame is coded
    return frame[:20] + b"\xff\xee" + (2 + len(body)).to_bytes(2, "big") + body + frame[20:]


def _rle_spare(frame: bytes) -> bytes:
    """An RLE frame with text in its header's last (unused) segment offset."""
    return frame[:60] + MARK[:4] + frame[64:]


def _rle_gap(frame: bytes) -> bytes:
    """An RLE frame of two segments with `MARK` between them, past the first one's codes."""
    second = int.from_bytes(frame[8:12], "little")
    moved = (second + len(MARK)).to_bytes(4, "little")
    return frame[:8] + moved + frame[12:second] + MARK + frame[second:]


@pytest.mark.parametrize(
    "name,hide",
    [
        ("SC_rgb_jpeg_dcmtk.dcm", lambda f: f[:20] + _segment(0xF0) + f[20:]),  # JPG0
        ("SC_rgb_jpeg_dcmtk.dcm", lambda f: f[:20] + _segment(0x4F) + f[20:]),  # reserved
        ("SC_rgb_jpeg_dcmtk.dcm", lambda f: f[:20] + _segment(0xC8) + f[20:]),  # JPG
        ("SC_rgb_jpeg_dcmtk.dcm", lambda f: f.rstrip(b"\0")[:-2] + MARK),  # no EOI
        ("MR_small_jp2klossless.dcm", lambda f: _last_tile_part_unsized(f.rstrip(b"\0")) + MARK),
        ("MR_small_jp2klossless.dcm", _j2k_unknown),
        ("JPEG2000.dcm", _j2k_unknown),
        ("SC_rgb_jpeg_dcmtk.dcm", _adobe),
        ("MR_small_RLE.dcm", lambda f: f + MARK + b"\0"),  # after the last segment
        ("MR_small_RLE.dcm", _rle_gap),
        ("MR_small_RLE.dcm", _rle_spare),
    ],
)
def test_kept_frames_hold_no_bytes_a_decoder_does_not_read(
    name: str, hide: Callable[[bytes], bytes], tmp_path: Path
) -> None:
    """Text hidden where decoders do not look (a JPEG segment of a kind no decoder needs, after
    the end of the image, in the header or past the segments of an RLE frame) decodes to the
    same image, but a frame holding it is not kept: it is encoded again, without it."""
    ds = dcmread_quiet(find_test_file(name))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([hide(frame)])
    src = tmp_path / "in.dcm"
    ds.save_as(src)
    scan = read_scan(src)
    frames = np.array(scan.frames, copy=True)
    write_scan(scan, tmp_path / "out.dcm", output_syntax="keep")
    assert MARK[:4] not in (tmp_path / "out.dcm").read_bytes()
    np.testing.assert_array_equal(_decoded(tmp_path / "out.dcm"), frames)


def test_a_last_tile_part_running_to_the_end_is_kept(tmp_path: Path) -> None:
    """A JPEG 2000 tile-part of length 0 ("to EOC"), with nothing after EOC, is still kept."""
    ds = dcmread_quiet(find_test_file("MR_small_jp2klossless.dcm"))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1)).rstrip(b"\0")
    assert frame.endswith(b"\xff\xd9")
    unsized = _last_tile_part_unsized(frame)
    ds.PixelData = encapsulate([unsized])
    ds.save_as(tmp_path / "in.dcm")
    write_scan(read_scan(tmp_path / "in.dcm"), tmp_path / "out.dcm", output_syntax="keep")
    assert _frames_of(tmp_path / "out.dcm") == [_without_j2k_comment(unsized)]


def test_a_scan_written_again_is_checked_against_the_pixel_data_it_now_holds(
    tmp_path: Path,
) -> None:
    """A write replaces the dataset's Pixel Data: the pixel changed back, the next write does
    not take the input's frames on trust, and what it writes decodes to the frames."""
    scan = read_scan(find_test_file("SC_rgb_dcmtk_+eb+cy+np.dcm"))
    original = np.array(scan.frames, copy=True)
    _touch(scan)
    write_scan(scan, tmp_path / "a.dcm", output_syntax="keep")
    scan.set_frame(0, original[0])
    write_scan(scan, tmp_path / "b.dcm", output_syntax="keep")
    np.testing.assert_array_equal(_decoded(tmp_path / "b.dcm"), original)
    write_scan(scan, tmp_path / "c.dcm", output_syntax="keep")  # unchanged: kept as it is now
    assert _frames_of(tmp_path / "c.dcm") == _frames_of(tmp_path / "b.dcm")


def test_keep_walks_jpeg_ls_and_leaves_a_jp2_file_to_the_encoder(tmp_path: Path) -> None:
    """A JPEG-LS frame loses its SPIFF header and is kept; a JPEG 2000 frame wrapped in a JP2
    file (boxes of metadata around the codestream) is not walked: it is encoded again."""
    jls = find_test_file("SC_rgb_jls_lossy_line.dcm")  # near-lossless, SPIFF header
    scan = read_scan(jls)
    frames = np.array(scan.frames, copy=True)
    write_scan(scan, tmp_path / "jls.dcm", output_syntax="keep")
    ds = dcmread_quiet(tmp_path / "jls.dcm")
    assert ds.file_meta.TransferSyntaxUID == JPEGLSNearLossless
    assert b"SPIFF" in jls.read_bytes() and b"SPIFF" not in (tmp_path / "jls.dcm").read_bytes()
    np.testing.assert_array_equal(read_scan(tmp_path / "jls.dcm").frames, frames)
    jp2 = find_test_file("GDCMJ2K_TextGBR.dcm")
    assert _frames_of(jp2)[0][4:8] == b"jP  "
    scan = read_scan(jp2)
    frames = np.array(scan.frames, copy=True)
    write_scan(scan, tmp_path / "jp2.dcm", output_syntax="keep")
    assert _frames_of(tmp_path / "jp2.dcm")[0][:2] == b"\xff\x4f"  # a bare codestream now
    np.testing.assert_array_equal(read_scan(tmp_path / "jp2.dcm").frames, frames)


def test_ybr_input_is_written_rgb_or_ybr_rct(tmp_path: Path) -> None:
    path = find_test_file("SC_ybr_full_uncompressed.dcm")
    assert dcmread_quiet(path).PhotometricInterpretation == "YBR_FULL"
    rgb = np.array(read_scan(path).frames, copy=True)
    for mode, want in (("rle", "RGB"), ("jpeg-ls", "RGB"), ("jpeg2000", "YBR_RCT")):
        out = tmp_path / f"{mode}.dcm"
        write_scan(read_scan(path), out, output_syntax=mode)
        assert dcmread_quiet(out).PhotometricInterpretation == want
        np.testing.assert_array_equal(_decoded(out), rgb)


def test_a_layout_a_codec_cannot_hold_falls_back_losslessly(tmp_path: Path) -> None:
    """32-bit samples fit no codec here: `keep` deflates, a named codec writes uncompressed.
    A 3x3 RGB image fits only RLE (JPEG-LS overruns its buffer, OpenJPEG refuses it). A pixel
    is changed first, else `keep` would keep the input's own frames."""
    dose = find_test_file("rtdose_rle.dcm")  # RLE, 32 bits allocated
    for mode in ("keep", "jpeg-ls", "jpeg2000", "rle"):
        scan = read_scan(dose)
        frames = _touch(scan)
        write_scan(scan, tmp_path / "dose.dcm", output_syntax=mode)
        ds = dcmread_quiet(tmp_path / "dose.dcm")
        want = DeflatedExplicitVRLittleEndian if mode == "keep" else ExplicitVRLittleEndian
        assert ds.file_meta.TransferSyntaxUID == want
        np.testing.assert_array_equal(read_scan(tmp_path / "dose.dcm").frames, frames)
        if mode == "keep":
            assert (tmp_path / "dose.dcm").stat().st_size < dose.stat().st_size
    tiny = find_test_file("SC_rgb_small_odd_jpeg.dcm")
    arr = _touch(read_scan(tiny))
    assert arr.shape == (1, 3, 3, 3)
    expected = {
        "jpeg-ls": ExplicitVRLittleEndian,
        "jpeg2000": ExplicitVRLittleEndian,
        "rle": RLELossless,
        "keep": RLELossless,
    }
    for mode, syntax in expected.items():
        scan = read_scan(tiny)
        _touch(scan)
        write_scan(scan, tmp_path / "t.dcm", output_syntax=mode)
        assert dcmread_quiet(tmp_path / "t.dcm").file_meta.TransferSyntaxUID == syntax
        np.testing.assert_array_equal(_decoded(tmp_path / "t.dcm"), arr)


def test_unknown_output_syntax_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "in.dcm"
    make_dicom(src, np.zeros((4, 4), np.uint8))
    with pytest.raises(UsageError, match="unknown output syntax"):
        write_scan(read_scan(src), tmp_path / "out.dcm", output_syntax="jpeg")
    assert not (tmp_path / "out.dcm").exists()


def _as_streamed(scan: Scan, folder: Path) -> Scan:
    """The same scan with its frames in a file map, as `read_dicom` gives a large file."""
    mapped = np.memmap(folder / "frames.raw", scan.frames.dtype, "w+", shape=scan.frames.shape)
    mapped[:] = scan.frames
    scan.frames = mapped
    return scan


@pytest.mark.parametrize("mode", ["keep", "rle", "jpeg-ls", "jpeg2000"])
@pytest.mark.parametrize("name", ["SC_rgb_rle_16bit_2frame.dcm", "emri_small_RLE.dcm"])
def test_large_file_path_streams_the_same_bytes(name: str, mode: str, tmp_path: Path) -> None:
    """A streamed (memory-mapped) scan is encoded frame by frame into the same file."""
    path = find_test_file(name)
    write_scan(read_scan(path), tmp_path / "memory.dcm", output_syntax=mode)
    big = _as_streamed(read_scan(path), tmp_path)
    write_scan(big, tmp_path / "streamed.dcm", output_syntax=mode)
    assert (tmp_path / "streamed.dcm").read_bytes() == (tmp_path / "memory.dcm").read_bytes()
    assert dcmread_quiet(tmp_path / "streamed.dcm").file_meta.TransferSyntaxUID.is_compressed


def test_keep_reads_a_large_inputs_frames_from_its_file_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Pixel Data pydicom left on disk (a large file) is kept frame by frame from the input
    file, spooled: the same output as from memory. One frame changed: all are encoded."""
    path = find_test_file("examples_ybr_color.dcm")
    write_scan(read_scan(path), tmp_path / "memory.dcm", output_syntax="keep")
    monkeypatch.setattr(large, "LARGE_BYTES", 1024)
    scan = read_scan(path)
    assert isinstance(scan.frames, np.memmap) and scan.dataset is not None
    assert scan.dataset.get_item("PixelData", keep_deferred=True).value is None  # on disk
    write_scan(scan, tmp_path / "streamed.dcm", output_syntax="keep")
    assert (tmp_path / "streamed.dcm").read_bytes() == (tmp_path / "memory.dcm").read_bytes()
    scan = read_scan(path)
    frames = _touch(scan, 29)
    write_scan(scan, tmp_path / "changed.dcm", output_syntax="keep")
    ds = dcmread_quiet(tmp_path / "changed.dcm")
    assert ds.file_meta.TransferSyntaxUID in CODEC.values()
    np.testing.assert_array_equal(_decoded(tmp_path / "changed.dcm"), frames)


def test_extended_offset_table_past_the_basic_tables_reach(tmp_path: Path) -> None:
    """Past 4 GiB (here: a limit of 0) the frames get an Extended Offset Table, read back."""
    frames = np.stack([np.full((16, 16), 10 * i, np.uint8) for i in range(3)])
    frames[1, 3:9, 2:11] = 200
    src = tmp_path / "in.dcm"
    ds = make_dicom(src, frames)
    layout = dict(
        rows=16,
        columns=16,
        samples_per_pixel=1,
        bits_allocated=8,
        bits_stored=8,
        pixel_representation=0,
        photometric_interpretation="MONOCHROME2",
        number_of_frames=1,
    )
    sink = _SpooledFrames(3, bot_limit=0)
    for frame in frames:
        sink.add(get_encoder(RLELossless).encode(frame, **layout))
    encoded = sink.encoded(RLELossless, "MONOCHROME2")
    assert encoded.extended is not None
    encoded.apply(ds)
    ds.save_as(tmp_path / "eot.dcm", enforce_file_format=True)
    back = dcmread_quiet(tmp_path / "eot.dcm")
    assert "ExtendedOffsetTable" in back and "ExtendedOffsetTableLengths" in back
    assert back["PixelData"].value[4:8] == b"\x00\x00\x00\x00"  # empty Basic Offset Table
    np.testing.assert_array_equal(back.pixel_array, frames)


def test_inpaint_command_takes_the_output_syntax(tmp_path: Path, rng: np.random.Generator) -> None:
    from PIL import Image

    arr, photometric, bits = _image("ct12", rng)
    src = tmp_path / "ct.dcm"
    make_dicom(src, arr, photometric=photometric, bits_stored=bits)
    mask = np.zeros(arr.shape, np.uint8)
    mask[4:12, 5:40] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out.dcm"
    result = CliRunner().invoke(
        app,
        [
            "inpaint",
            str(src),
            "--mask",
            str(tmp_path / "mask.png"),
            "--method",
            "telea",
            "-o",
            str(out),
            "--output-syntax",
            "jpeg-ls",
        ],
    )
    assert result.exit_code == 0, result.output
    ds = dcmread_quiet(out)
    assert ds.file_meta.TransferSyntaxUID == JPEGLSLossless
    np.testing.assert_array_equal(ds.pixel_array[mask == 0], arr[mask == 0])
    bad = CliRunner().invoke(app, ["inpaint", str(src), "--mask", "m.png", "--output-syntax", "x"])
    assert bad.exit_code == 2


@pytest.fixture(scope="module")
def rle_ct(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A CT with PHI burned in, stored RLE Lossless (so `keep` would keep RLE), in a folder."""
    folder = tmp_path_factory.mktemp("rle_ct")
    path = folder / "in" / "ct.dcm"
    boxes = write_ct(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless, generate_instance_uid=False)
        ds.save_as(path, enforce_file_format=True)
    return path, boxes


def _changes_only_near_text(before: np.ndarray, after: np.ndarray, boxes: list) -> None:
    allowed = np.zeros(before.shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        allowed[max(0, y0 - 12) : y1 + 12, max(0, x0 - 12) : x1 + 12] = True
    changed = before != after
    assert changed.any() and not changed[~allowed].any()


def test_scrub_defaults_to_keep(tmp_path: Path) -> None:
    assert ScrubConfig(inputs=[tmp_path], output=tmp_path / "out").output_syntax == "keep"
    result = CliRunner().invoke(app, ["scrub", "--help"], env={"COLUMNS": "200"})
    assert "--output-syntax" in result.output and "[default: keep]" in result.output
    bad = CliRunner().invoke(
        app, ["scrub", str(tmp_path), str(tmp_path / "o"), "--output-syntax", "x"]
    )
    assert bad.exit_code == 2 and not (tmp_path / "o").exists()


def test_scrub_command_writes_the_syntax_asked_for(
    rle_ct: tuple[Path, list], tmp_path: Path
) -> None:
    path, boxes = rle_ct
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["scrub", str(path.parent), str(out), "--no-verify", "--output-syntax", "jpeg2000"]
    )
    assert result.exit_code == 0, result.output
    ds = dcmread_quiet(out / "ct.dcm")
    assert ds.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert ds.BurnedInAnnotation == "YES"  # --no-verify: never claimed clean
    assert (out / "ct.dcm").stat().st_size < 1.2 * path.stat().st_size
    _changes_only_near_text(read_scan(path).frames[0], read_scan(out / "ct.dcm").frames[0], boxes)
