"""Lossless DICOM outputs: `--output-syntax keep|explicit|rle|jpeg-ls|jpeg2000`.

Every output is decoded again (pydicom, without force) and compared with the cleaned frames
exactly, for every syntax and every kind of image; `keep` keeps a lossless input's syntax and
writes a lossy one losslessly with its history; large (streamed) files give the same bytes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_images import write_ct
from conftest import dcmread_quiet, find_test_file, make_dicom
from pydicom.pixels import get_encoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import UsageError
from medocr_cli.io import Scan, read_scan, write_scan
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
    """A lossy JPEG (and JPEG Lossless, which nothing here encodes) becomes the smallest of
    JPEG-LS / JPEG 2000 / RLE, losslessly; a lossy input keeps its LossyImageCompression 01."""
    path = find_test_file(name)
    src = dcmread_quiet(path, stop_before_pixels=True)
    assert src.file_meta.TransferSyntaxUID == source
    sizes = {}
    for mode in ("keep", *CODEC):
        scan = read_scan(path)
        frames = np.array(scan.frames, copy=True)
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
    A 3x3 RGB image fits only RLE (JPEG-LS overruns its buffer, OpenJPEG refuses it)."""
    dose = find_test_file("rtdose_rle.dcm")  # RLE, 32 bits allocated
    for mode in ("keep", "jpeg-ls", "jpeg2000", "rle"):
        scan = read_scan(dose)
        frames = np.array(scan.frames, copy=True)
        write_scan(scan, tmp_path / "dose.dcm", output_syntax=mode)
        ds = dcmread_quiet(tmp_path / "dose.dcm")
        want = DeflatedExplicitVRLittleEndian if mode == "keep" else ExplicitVRLittleEndian
        assert ds.file_meta.TransferSyntaxUID == want
        np.testing.assert_array_equal(read_scan(tmp_path / "dose.dcm").frames, frames)
        if mode == "keep":
            assert (tmp_path / "dose.dcm").stat().st_size < dose.stat().st_size
    tiny = find_test_file("SC_rgb_small_odd_jpeg.dcm")
    arr = np.array(read_scan(tiny).frames, copy=True)
    assert arr.shape == (1, 3, 3, 3)
    expected = {
        "jpeg-ls": ExplicitVRLittleEndian,
        "jpeg2000": ExplicitVRLittleEndian,
        "rle": RLELossless,
        "keep": RLELossless,
    }
    for mode, syntax in expected.items():
        write_scan(read_scan(tiny), tmp_path / "t.dcm", output_syntax=mode)
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
