"""DICOM read -> write -> read over every bundled test file, and pixel edits in their stored dtype.

Every DICOM file in pydicom's `test_files` and in `pydicom-data` is tried: a file `read_scan`
cannot decode must fail with a `MedocrError` (never another exception type) and is skipped for
the round trip; every other file must come back with identical frames and an identical header,
except for what the DICOM rules of DESIGN.md say the writer changes.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import (
    all_test_files,
    dcmread_quiet,
    dicom_test_files,
    file_id,
    find_test_file,
    gradient,
    listing,
    make_dicom,
)
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit

from medocr_cli.errors import MedocrError
from medocr_cli.io import Scan, read_scan, write_scan

CLEAN_PIXEL_CODE = "113101"

# Several bundled files carry values pydicom warns about (hash-like UIDs, over-long SH) when their
# raw elements are converted; that is the files' business, not the code under test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length:UserWarning"),
]

#: Top-level elements the writer may (or must) change; each is checked on its own below.
_CHANGED_BY_WRITE = {
    "PixelData",
    "PhotometricInterpretation",  # YBR -> RGB only; checked in _check_pixel_module
    "PlanarConfiguration",  # colour is written interleaved (0)
    "BitsAllocated",  # these three only when the input stored them oddly
    "BitsStored",
    "HighBit",
    "BurnedInAnnotation",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "IconImageSequence",
    "LossyImageCompression",  # set to 01 when a lossy transfer syntax is decoded
    "LossyImageCompressionMethod",
    "ExtendedOffsetTable",  # only valid with encapsulated pixel data
    "ExtendedOffsetTableLengths",
}
_WORD_SIZE = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}
_BINARY_VRS = {"OB", "OW", "OL", "OF", "OD", "OV", "UN", "OB or OW", "US or OW"}

_DICOM_FILES = dicom_test_files()
_ALL_FILES = all_test_files()

# Slow decodes (a 120-frame JPEG, large JPEG 2000 files) are done once per session:
# `test_read_outcome...` keeps them here and `test_roundtrip` takes (pops) them. Only slow ones
# are kept, so memory stays small.
_READS: dict[Path, Scan | MedocrError] = {}
_SLOW_READ_S = 0.3


def _read(path: Path) -> Scan | MedocrError:
    """Read `path`, returning the scan or the MedocrError; any other exception propagates."""
    try:
        return read_scan(path)
    except MedocrError as exc:
        return exc


def _take(path: Path) -> Scan | MedocrError:
    """The cached outcome of reading `path` (removed from the cache), or a fresh read."""
    outcome = _READS.pop(path, None)
    return outcome if outcome is not None else _read(path)


def _is_overlay(tag: pydicom.tag.BaseTag) -> bool:
    return 0x6000 <= tag.group <= 0x601E and tag.group % 2 == 0


def _value_key(elem: pydicom.DataElement, big_endian: bool) -> object:
    """A comparable form of one element's value (binary words normalised to little endian)."""
    if elem.VR == "SQ":
        return [_header(item, big_endian=big_endian, top=False) for item in elem.value]
    if elem.VR in _BINARY_VRS and isinstance(elem.value, bytes):
        data = elem.value
        size = _WORD_SIZE.get(str(elem.VR))
        if big_endian and size and len(data) % size == 0:
            data = np.frombuffer(data, f">u{size}").astype(f"<u{size}").tobytes()
        return f"{len(data)} bytes sha1={hashlib.sha1(data).hexdigest()}"
    return repr(elem.value)


def _header(ds: pydicom.Dataset, *, big_endian: bool, top: bool = True) -> dict[str, object]:
    """`{tag keyword: value}` for every element, minus group lengths (pydicom drops them).

    At the top level, file meta, overlays and the elements in `_CHANGED_BY_WRITE` are left out.
    """
    out: dict[str, object] = {}
    for elem in ds:
        tag = elem.tag
        if tag.element == 0 or tag.group == 0x0002:
            continue
        if top and (_is_overlay(tag) or elem.keyword in _CHANGED_BY_WRITE):
            continue
        out[f"{tag} {elem.keyword}"] = _value_key(elem, big_endian)
    return out


def _check_cleaned_output(out: Path, source: pydicom.Dataset) -> pydicom.Dataset:
    """Assert the invariants of every DICOM output file and return it, read without force."""
    with open(out, "rb") as fh:
        head = fh.read(132)
    assert len(head) == 132 and head[128:132] == b"DICM", "no 128-byte preamble + DICM marker"
    ds = dcmread_quiet(out)  # no force: must be a conformant Part 10 file
    syntax = ds.file_meta.TransferSyntaxUID
    src_syntax = getattr(source, "file_meta", pydicom.Dataset()).get("TransferSyntaxUID")
    if src_syntax is None:  # no file meta: the encoding the dataset was actually read in
        implicit, little = source.original_encoding
        src_is_implicit_le = bool(implicit and little)
    else:
        src_is_implicit_le = src_syntax == ImplicitVRLittleEndian
    expected = ImplicitVRLittleEndian if src_is_implicit_le else ExplicitVRLittleEndian
    assert syntax == expected, f"written as {syntax.name}, expected {expected.name}"
    assert not syntax.is_compressed
    assert ds.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    assert codes.count(CLEAN_PIXEL_CODE) == 1
    item = ds.DeidentificationMethodCodeSequence[codes.index(CLEAN_PIXEL_CODE)]
    assert item.CodingSchemeDesignator == "DCM"
    assert "DeidentificationMethod" in ds
    assert not [str(e.tag) for e in ds if _is_overlay(e.tag)], "overlay group 60xx left in"
    assert "IconImageSequence" not in ds
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert ds.SOPInstanceUID == source.SOPInstanceUID
    assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID
    return ds


def _check_pixel_module(src: pydicom.Dataset, out: pydicom.Dataset, scan: Scan) -> None:
    """The Image Pixel elements the writer touches: changed only where the rules allow."""
    photometric = str(src.PhotometricInterpretation).strip()
    want = "RGB" if photometric.startswith("YBR") else photometric
    assert out.PhotometricInterpretation == want
    for keyword in ("Rows", "Columns", "SamplesPerPixel", "PixelRepresentation"):
        assert out.get(keyword) == src.get(keyword), keyword
    assert ("NumberOfFrames" in out) == ("NumberOfFrames" in src)
    if "NumberOfFrames" in src:
        assert int(out.NumberOfFrames) == int(src.NumberOfFrames)
    if int(src.SamplesPerPixel) > 1:
        assert out.PlanarConfiguration == 0
    itemsize_bits = scan.frames.dtype.itemsize * 8
    odd = src.BitsAllocated != itemsize_bits or src.HighBit != src.BitsStored - 1
    if odd:
        assert out.BitsAllocated == itemsize_bits
        assert out.HighBit == out.BitsStored - 1
    else:
        for keyword in ("BitsAllocated", "BitsStored", "HighBit"):
            assert out[keyword].value == src[keyword].value, keyword


@pytest.mark.parametrize("path", _ALL_FILES, ids=file_id)
def test_read_outcome_is_scan_or_medocr_error(path: Path) -> None:
    """Reading any test file gives a Scan or a one-line MedocrError naming the file."""
    start = time.perf_counter()
    outcome = _read(path)  # any other exception type fails the test here
    if time.perf_counter() - start > _SLOW_READ_S and isinstance(outcome, Scan):
        _READS[path] = outcome
    if isinstance(outcome, MedocrError):
        line = outcome.one_line()
        assert str(path) in line
        assert "\n" not in line
    else:
        assert outcome.n_frames >= 1
        assert outcome.frames.shape[0] == outcome.n_frames


@pytest.mark.parametrize("path", _DICOM_FILES, ids=file_id)
def test_roundtrip(path: Path, tmp_path: Path) -> None:
    """read -> write unchanged -> read: identical frames and header, cleaned markers set."""
    scan = _take(path)
    if isinstance(scan, MedocrError):
        pytest.skip(f"not decodable: {type(scan).__name__}")
    source = dcmread_quiet(path, force=True)
    src_big_endian = not source.original_encoding[1]
    before = scan.frames  # write_scan must not touch it (the edit tests check values exactly)
    src_header = _header(source, big_endian=src_big_endian)

    out = tmp_path / "out" / path.name
    write_scan(scan, out)
    assert listing(out.parent) == [path.name], "temporary files left behind"

    written = _check_cleaned_output(out, source)
    _check_pixel_module(source, written, scan)
    assert _header(written, big_endian=False) == src_header

    again = read_scan(out)
    assert again.frames.dtype == before.dtype
    assert again.frames.shape == before.shape
    np.testing.assert_array_equal(again.frames, before)
    assert again.photometric == scan.photometric
    assert again.bits_stored == scan.bits_stored
    assert again.signed == scan.signed


# Files that must decode: if one of these starts failing, its round trip would only be skipped.
_MUST_DECODE = [
    "CT_small.dcm",  # signed 16-bit, explicit LE
    "MR_small_implicit.dcm",  # implicit LE
    "MR_small_bigendian.dcm",  # explicit big endian
    "image_dfl.dcm",  # deflated
    "emri_small.dcm",  # 12-bit multi-frame
    "SC_rgb.dcm",
    "SC_ybr_full_uncompressed.dcm",
    "OT-PAL-8-face.dcm",  # palette, no file meta
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",  # JPEG 2000 (lossy allowed)
    "JPGExtended.dcm",  # 12-bit JPEG extended
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, YBR
    "JPEG-LL.dcm",  # JPEG lossless process 14
    "examples_ybr_color.dcm",  # multi-frame JPEG YBR_FULL_422
    "rtdose.dcm",  # 32-bit multi-frame
    "liver.dcm",  # 1-bit
    "6154",  # MONOCHROME1 (dicomdirtests)
]


@pytest.mark.parametrize("name", _MUST_DECODE)
def test_key_files_decode(name: str) -> None:
    scan = read_scan(find_test_file(name))
    assert scan.n_frames >= 1 and scan.frames.size > 0


# --- edits: the right frame, the right dtype, nothing else touched -------------------------------


def _edit_roundtrip(
    scan: Scan, tmp_path: Path, frame: int, region, value
) -> tuple[np.ndarray, Scan]:
    """Set `region` of `frame` to `value`, write, read back; return (original frames, re-read)."""
    before = scan.frames.copy()
    values = scan.frames[frame].copy()
    values[region] = value
    scan.set_frame(frame, values)
    out = tmp_path / f"edited_{Path(scan.path).name}"
    write_scan(scan, out)
    source = dcmread_quiet(scan.path, force=True)
    _check_cleaned_output(out, source)
    after = read_scan(out)
    assert after.frames.dtype == before.dtype
    assert after.frames.shape == before.shape
    expected = before.copy()
    expected[frame][region] = value
    np.testing.assert_array_equal(after.frames, expected)
    return before, after


def test_edit_signed_ct_keeps_int16(tmp_path: Path) -> None:
    scan = read_scan(find_test_file("CT_small.dcm"))
    assert scan.signed and scan.frames.dtype == np.int16
    region = (slice(10, 30), slice(20, 60))
    _, after = _edit_roundtrip(scan, tmp_path, 0, region, -1024)
    assert after.signed
    assert (after.frames[0][region] == -1024).all()
    assert dcmread_quiet(tmp_path / "edited_CT_small.dcm").PixelRepresentation == 1


def test_edit_12bit_multiframe_touches_only_that_frame(tmp_path: Path) -> None:
    scan = read_scan(find_test_file("emri_small.dcm"))
    assert scan.n_frames > 3 and scan.bits_stored == 12 and scan.frames.dtype == np.uint16
    region = (slice(5, 20), slice(5, 40))
    before, after = _edit_roundtrip(scan, tmp_path, 3, region, 4095)
    others = [i for i in range(scan.n_frames) if i != 3]
    np.testing.assert_array_equal(after.frames[others], before[others])
    ds = dcmread_quiet(tmp_path / "edited_emri_small.dcm")
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 12, 11)
    assert int(ds.NumberOfFrames) == scan.n_frames


@pytest.mark.parametrize("name", ["SC_rgb.dcm", "SC_rgb_2frame.dcm", "SC_rgb_16bit_2frame.dcm"])
def test_edit_rgb(name: str, tmp_path: Path) -> None:
    scan = read_scan(find_test_file(name))
    assert scan.samples == 3 and scan.photometric == "RGB"
    frame = scan.n_frames - 1
    colour = np.array([1, 2, 3], dtype=scan.frames.dtype)
    before, after = _edit_roundtrip(scan, tmp_path, frame, (slice(40, 60), slice(10, 90)), colour)
    if scan.n_frames > 1:
        np.testing.assert_array_equal(after.frames[0], before[0])


def test_ybr_written_as_rgb_with_decoded_values(tmp_path: Path) -> None:
    path = find_test_file("SC_ybr_full_uncompressed.dcm")
    assert dcmread_quiet(path).PhotometricInterpretation == "YBR_FULL"
    scan = read_scan(path)
    assert scan.photometric == "RGB"
    # Reference: pydicom's own YBR -> RGB conversion of the stored values.
    from pydicom.pixels import convert_color_space, pixel_array

    stored = pixel_array(dcmread_quiet(path), raw=True)  # the YCbCr values as stored
    ref = convert_color_space(stored, "YBR_FULL", "RGB")
    assert not np.array_equal(stored, ref)
    np.testing.assert_array_equal(scan.frames[0], ref)
    region = (slice(0, 10), slice(0, 10))
    _, after = _edit_roundtrip(scan, tmp_path, 0, region, np.array([255, 0, 0], np.uint8))
    out = dcmread_quiet(tmp_path / "edited_SC_ybr_full_uncompressed.dcm")
    assert out.PhotometricInterpretation == "RGB"
    assert out.PlanarConfiguration == 0
    # Raw stored bytes are the RGB values themselves (no conversion left to a reader).
    raw = np.frombuffer(out.PixelData, np.uint8)[: ref.size].reshape(ref.shape)
    np.testing.assert_array_equal(raw, after.frames[0])


def test_palette_keeps_indices_and_lut(tmp_path: Path) -> None:
    path = find_test_file("OT-PAL-8-face.dcm")
    scan = read_scan(path)
    assert scan.photometric == "PALETTE COLOR" and scan.palette is not None
    region = (slice(100, 140), slice(200, 300))
    _, after = _edit_roundtrip(scan, tmp_path, 0, region, 7)
    src = dcmread_quiet(path, force=True)  # this file has no file meta header
    out = dcmread_quiet(tmp_path / "edited_OT-PAL-8-face.dcm")
    assert out.PhotometricInterpretation == "PALETTE COLOR"
    assert out.SamplesPerPixel == 1
    lut_keywords = [
        f"{c}PaletteColorLookupTable{part}"
        for c in ("Red", "Green", "Blue")
        for part in ("Descriptor", "Data")
    ]
    for keyword in lut_keywords:
        assert out[keyword].value == src[keyword].value, keyword
    np.testing.assert_array_equal(after.palette, scan.palette)
    # The rendering of the edited region is palette entry 7.
    assert (after.display(0)[region] == scan.palette[7]).all()


def test_big_endian_palette_lut_survives(tmp_path: Path) -> None:
    """A big-endian palette file: its OW lookup tables must be byte-swapped, not copied."""
    little = read_scan(find_test_file("OBXXXX1A.dcm"))
    big = read_scan(find_test_file("OBXXXX1A_expb.dcm"))
    out = tmp_path / "big.dcm"
    write_scan(big, out)
    again = read_scan(out)
    np.testing.assert_array_equal(again.frames, little.frames)
    np.testing.assert_array_equal(again.palette, little.palette)
    np.testing.assert_array_equal(again.display(0), little.display(0))


def test_multiframe_frames_stay_separate(tmp_path: Path) -> None:
    frames = np.stack([np.full((8, 12), i * 10, np.uint16) for i in range(5)])
    src = tmp_path / "cine.dcm"
    make_dicom(src, frames, bits_stored=12)
    scan = read_scan(src)
    assert scan.frames.shape == (5, 8, 12)
    before, after = _edit_roundtrip(scan, tmp_path, 2, (slice(0, 4), slice(0, 4)), 4000)
    assert after.frames[2, 0, 0] == 4000 and after.frames[2, 7, 11] == 20
    np.testing.assert_array_equal(after.frames[[0, 1, 3, 4]], before[[0, 1, 3, 4]])


def test_single_frame_with_number_of_frames_keeps_it(tmp_path: Path) -> None:
    src = tmp_path / "one.dcm"
    make_dicom(src, gradient(6, 7, np.uint16, 0, 1000)[None], bits_stored=12)
    assert "NumberOfFrames" in dcmread_quiet(src)
    out = tmp_path / "out.dcm"
    write_scan(read_scan(src), out)
    assert int(dcmread_quiet(out).NumberOfFrames) == 1


def _monochrome1_file() -> Path:
    for path in dicom_test_files():
        if path.stat().st_size > 200_000:
            continue
        try:
            ds = dcmread_quiet(path, force=True, stop_before_pixels=True)
        except Exception:
            continue
        if ds.get("PhotometricInterpretation") == "MONOCHROME1":
            return path
    pytest.skip("no small MONOCHROME1 test file available")


def test_monochrome1_bundled_is_inverted(tmp_path: Path) -> None:
    path = _monochrome1_file()
    scan = read_scan(path)
    assert scan.photometric == "MONOCHROME1"
    frame = scan.frames[0]
    view = scan.display(0)
    assert view.dtype == np.uint8 and view.shape == frame.shape
    darkest_stored = np.unravel_index(frame.argmin(), frame.shape)
    brightest_stored = np.unravel_index(frame.argmax(), frame.shape)
    assert view[darkest_stored] > view[brightest_stored], "smallest value must render brightest"
    out = tmp_path / "m1.dcm"
    write_scan(scan, out)
    assert dcmread_quiet(out).PhotometricInterpretation == "MONOCHROME1"


def test_monochrome1_synthetic_is_inverted(tmp_path: Path) -> None:
    arr = gradient(16, 16, np.uint16, 0, 4095)
    src = tmp_path / "m1.dcm"
    make_dicom(src, arr, photometric="MONOCHROME1", bits_stored=12)
    scan = read_scan(src)
    view = scan.display(0)
    assert view[0, 0] == 255 and view[-1, -1] == 0
    assert (np.diff(view.astype(int).ravel()) <= 0).all(), "not monotonically inverted"
    # The same data as MONOCHROME2 renders the other way round.
    src2 = tmp_path / "m2.dcm"
    make_dicom(src2, arr, photometric="MONOCHROME2", bits_stored=12)
    np.testing.assert_array_equal(read_scan(src2).display(0), 255 - view)


def test_display_is_uint8_for_every_layout(tmp_path: Path) -> None:
    for name in ("CT_small.dcm", "emri_small.dcm", "SC_rgb_16bit.dcm", "OT-PAL-8-face.dcm"):
        scan = read_scan(find_test_file(name))
        view = scan.display(scan.n_frames - 1)
        assert view.dtype == np.uint8
        grey_like = scan.samples == 1 and scan.photometric != "PALETTE COLOR"
        want = scan.frames.shape[1:3] if grey_like else (*scan.frames.shape[1:3], 3)
        assert view.shape == want, name


@pytest.mark.parametrize(
    "name,twin",
    [
        ("MR_small_RLE.dcm", "MR_small.dcm"),
        ("emri_small_RLE.dcm", "emri_small.dcm"),
        ("SC_rgb_rle_16bit_2frame.dcm", "SC_rgb_16bit_2frame.dcm"),
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
        ("emri_small_jpeg_2k_lossless.dcm", "emri_small.dcm"),
        ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),
        ("emri_small_jpeg_ls_lossless.dcm", "emri_small.dcm"),
    ],
)
def test_lossless_compressed_written_uncompressed(name: str, twin: str, tmp_path: Path) -> None:
    """RLE / JPEG 2000 lossless / JPEG-LS lossless in, uncompressed and pixel-identical out."""
    path = find_test_file(name)
    src = dcmread_quiet(path)
    assert src.file_meta.TransferSyntaxUID.is_compressed
    reference = dcmread_quiet(find_test_file(twin)).pixel_array  # the uncompressed twin file
    out = tmp_path / name
    write_scan(read_scan(path), out)
    written = _check_cleaned_output(out, src)
    assert not written.file_meta.TransferSyntaxUID.is_encapsulated
    np.testing.assert_array_equal(written.pixel_array, reference)
    assert written.pixel_array.dtype == reference.dtype


def test_uncleaned_write_leaves_markers(tmp_path: Path) -> None:
    src = tmp_path / "in.dcm"
    make_dicom(src, gradient(8, 8), extra={"BurnedInAnnotation": "YES"})
    out = tmp_path / "out.dcm"
    write_scan(read_scan(src), out, cleaned=False)
    ds = dcmread_quiet(out)
    assert ds.BurnedInAnnotation == "YES"
    assert "DeidentificationMethodCodeSequence" not in ds


def test_existing_deidentification_method_is_appended_to(tmp_path: Path) -> None:
    from pydicom import Dataset
    from pydicom.sequence import Sequence

    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = (
        "113100",
        "DCM",
        "Basic Application Confidentiality Profile",
    )
    src = tmp_path / "in.dcm"
    make_dicom(
        src,
        gradient(8, 8),
        extra={
            "DeidentificationMethod": "earlier tool",
            "DeidentificationMethodCodeSequence": Sequence([code]),
            "BurnedInAnnotation": "YES",
        },
    )
    out = tmp_path / "out.dcm"
    write_scan(read_scan(src), out)
    ds = _check_cleaned_output(out, dcmread_quiet(src))
    methods = list(ds["DeidentificationMethod"].value)
    assert methods[0] == "earlier tool" and len(methods) == 2
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113101"]
    # Writing the output again does not add a second marker.
    again = tmp_path / "again.dcm"
    write_scan(read_scan(out), again)
    ds2 = dcmread_quiet(again)
    assert ds2["DeidentificationMethod"].VM == 2
    assert [c.CodeValue for c in ds2.DeidentificationMethodCodeSequence] == ["113100", "113101"]


def test_overlays_and_icon_removed(tmp_path: Path) -> None:
    from pydicom import Dataset
    from pydicom.sequence import Sequence

    icon = Dataset()
    icon.Rows, icon.Columns = 4, 4
    icon.SamplesPerPixel = 1
    icon.PhotometricInterpretation = "MONOCHROME2"
    icon.BitsAllocated, icon.BitsStored, icon.HighBit, icon.PixelRepresentation = 8, 8, 7, 0
    icon.PixelData = bytes(16)
    src = tmp_path / "in.dcm"
    ds = make_dicom(src, gradient(16, 16))
    ds.IconImageSequence = Sequence([icon])
    for group in (0x6000, 0x6002):
        ds.add_new((group, 0x0010), "US", 16)
        ds.add_new((group, 0x0011), "US", 16)
        ds.add_new((group, 0x0040), "CS", "G")
        ds.add_new((group, 0x0050), "SS", [1, 1])
        ds.add_new((group, 0x0100), "US", 1)
        ds.add_new((group, 0x0102), "US", 0)
        ds.add_new((group, 0x3000), "OW", bytes(32))
    ds.save_as(src, enforce_file_format=True)
    out = tmp_path / "out.dcm"
    write_scan(read_scan(src), out)
    _check_cleaned_output(out, dcmread_quiet(src))


def test_bundled_overlay_file_loses_overlay(tmp_path: Path) -> None:
    path = find_test_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert any(_is_overlay(e.tag) for e in dcmread_quiet(path))
    out = tmp_path / "o.dcm"
    write_scan(read_scan(path), out)
    _check_cleaned_output(out, dcmread_quiet(path))


def test_implicit_input_stays_implicit(tmp_path: Path) -> None:
    src = tmp_path / "imp.dcm"
    make_dicom(src, gradient(8, 8, np.uint16, 0, 4000), bits_stored=12, implicit=True)
    out = tmp_path / "out.dcm"
    write_scan(read_scan(src), out)
    assert dcmread_quiet(out).file_meta.TransferSyntaxUID == ImplicitVRLittleEndian


def test_raw_dataset_without_preamble_gets_part10_output(tmp_path: Path) -> None:
    """A raw dataset (no preamble, no file meta) named .dcm is read and written as Part 10."""
    ds = make_dicom(tmp_path / "tmp.dcm", gradient(8, 8))
    raw = tmp_path / "raw.dcm"
    ds2 = pydicom.Dataset()
    ds2.update(ds)
    pydicom.dcmwrite(raw, ds2, implicit_vr=True, little_endian=True)
    assert raw.read_bytes()[128:132] != b"DICM"
    scan = read_scan(raw)
    out = tmp_path / "out.dcm"
    write_scan(scan, out)
    written = dcmread_quiet(out)
    assert out.read_bytes()[128:132] == b"DICM"
    assert written.SOPInstanceUID == ds.SOPInstanceUID
    assert written.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_lossy_history_kept(tmp_path: Path) -> None:
    """A JPEG baseline input keeps LossyImageCompression 01 after being written uncompressed."""
    path = find_test_file("SC_rgb_jpeg_dcmtk.dcm")
    src = dcmread_quiet(path)
    assert src.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    out = tmp_path / "o.dcm"
    write_scan(read_scan(path), out)
    ds = dcmread_quiet(out)
    assert ds.LossyImageCompression == "01"
    assert ds.get("LossyImageCompressionMethod") == src.get("LossyImageCompressionMethod")


_LOSSY_SYNTAXES = {
    UID("1.2.840.10008.1.2.4.50"),  # JPEG baseline
    UID("1.2.840.10008.1.2.4.51"),  # JPEG extended
    UID("1.2.840.10008.1.2.4.81"),  # JPEG-LS near-lossless
}


def _lossy_inputs_without_flag() -> list[Path]:
    """Bundled files in a lossy transfer syntax whose header does not say LossyImageCompression 01.

    (The JPEG-LS ones here all use NEAR=2, i.e. they really are lossy.)
    """
    hits = []
    for path in dicom_test_files():
        try:
            ds = dcmread_quiet(path, force=True, stop_before_pixels=True)
            syntax = ds.file_meta.TransferSyntaxUID
        except Exception:
            continue
        if syntax in _LOSSY_SYNTAXES and ds.get("LossyImageCompression") != "01":
            hits.append(path)
    return hits


@pytest.mark.parametrize("path", _lossy_inputs_without_flag(), ids=file_id)
def test_lossy_transfer_syntax_recorded_after_decompression(path: Path, tmp_path: Path) -> None:
    scan = read_scan(path)
    out = tmp_path / path.name
    write_scan(scan, out)
    assert dcmread_quiet(out).get("LossyImageCompression") == "01"


def test_bits_above_bits_stored_are_not_written_back(tmp_path: Path) -> None:
    """Unused high bits (old-style overlays live there) are masked on read and never written."""
    arr = gradient(16, 16, np.uint16, 0, 4095)
    src = tmp_path / "hb.dcm"
    ds = make_dicom(src, arr, bits_stored=12)
    dirty = arr.copy()
    dirty[4:8, 2:14] |= 0x8000  # an "overlay" drawn into bit 15
    ds.PixelData = dirty.tobytes()
    ds.save_as(src, enforce_file_format=True)
    scan = read_scan(src)
    np.testing.assert_array_equal(scan.frames[0], arr)
    out = tmp_path / "out.dcm"
    write_scan(scan, out)
    raw = np.frombuffer(dcmread_quiet(out).PixelData, "<u2")
    assert int(raw.max()) <= 4095


@pytest.mark.parametrize("name", ["CT_small.dcm", "emri_small_RLE.dcm", "SC_rgb_expb_2frame.dcm"])
def test_writing_the_same_scan_twice_gives_the_same_file(name: str, tmp_path: Path) -> None:
    scan = read_scan(find_test_file(name))
    write_scan(scan, tmp_path / "1.dcm")
    write_scan(scan, tmp_path / "2.dcm")
    assert (tmp_path / "1.dcm").read_bytes() == (tmp_path / "2.dcm").read_bytes()


def test_writing_a_big_endian_scan_twice_keeps_its_lut(tmp_path: Path) -> None:
    little = read_scan(find_test_file("gdcm-US-ALOKA-16.dcm"))
    scan = read_scan(find_test_file("gdcm-US-ALOKA-16_big.dcm"))
    write_scan(scan, tmp_path / "1.dcm")
    write_scan(scan, tmp_path / "2.dcm")
    for name in ("1.dcm", "2.dcm"):
        again = read_scan(tmp_path / name)
        np.testing.assert_array_equal(again.palette, little.palette)


def test_extended_offset_table_dropped_when_decompressing(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate_extended, generate_frames

    ds = dcmread_quiet(find_test_file("emri_small_RLE.dcm"))
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(
        frames
    )
    src = tmp_path / "eot.dcm"
    ds.save_as(src)
    scan = read_scan(src)
    np.testing.assert_array_equal(scan.frames, read_scan(find_test_file("emri_small.dcm")).frames)
    out = tmp_path / "out.dcm"
    write_scan(scan, out)
    written = dcmread_quiet(out)
    assert not written.file_meta.TransferSyntaxUID.is_encapsulated
    assert "ExtendedOffsetTable" not in written
    assert "ExtendedOffsetTableLengths" not in written
