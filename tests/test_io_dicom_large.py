"""Large DICOM files: frames mapped from disk or decoded one by one, written as a stream.

The threshold is lowered to 1 KiB so small bundled files take the large-file path; each must
give the same frames and a byte-identical output as the in-memory path.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from _phi_images import phi_read, write_ct
from conftest import find_test_file, make_dicom

import medocr_cli.io.dicom_large as large
from medocr_cli.errors import InputFileError
from medocr_cli.io import read_scan, write_scan
from medocr_cli.io.dicom_large import ArrayReader

pytestmark = [
    pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length:UserWarning"),
]

#: Raw little-endian (grey, signed, multi-frame, RGB), and ones that must be decoded: RLE,
#: JPEG 2000, big endian, deflated, signed 12-bit (sign-extended by pydicom), YBR 4:2:2,
#: and a JPEG whose offset table defeats frame-by-frame decoding (decoded whole instead).
NAMES = [
    "CT_small.dcm",
    "emri_small.dcm",
    "SC_rgb_16bit_2frame.dcm",
    "emri_small_RLE.dcm",
    "MR2_J2KR.dcm",
    "MR_small_bigendian.dcm",
    "image_dfl.dcm",
    "mlut_18.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "SC_rgb_jpeg.dcm",
]


def _threshold(monkeypatch: pytest.MonkeyPatch, value: int) -> None:
    monkeypatch.setattr(large, "LARGE_BYTES", value)


@pytest.mark.parametrize("name", NAMES)
def test_large_path_gives_same_frames_and_same_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = find_test_file(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = read_scan(path)
        write_scan(small, tmp_path / "small.dcm")
        _threshold(monkeypatch, 1024)
        big = read_scan(path)
        assert isinstance(big.frames, np.memmap) or name == "SC_rgb_jpeg.dcm"
        assert big.frames.dtype == small.frames.dtype
        assert np.array_equal(big.frames, small.frames)
        write_scan(big, tmp_path / "big.dcm")
    assert (tmp_path / "big.dcm").read_bytes() == (tmp_path / "small.dcm").read_bytes()


def test_raw_frames_map_the_input_and_edits_never_reach_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = np.arange(6 * 32 * 40, dtype=np.uint16).reshape(6, 32, 40)
    src = tmp_path / "cine.dcm"
    make_dicom(src, frames, bits_stored=16)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    _threshold(monkeypatch, 1024)
    scan = read_scan(src)
    assert isinstance(scan.frames, np.memmap) and Path(scan.frames.filename) == src
    edited = scan.frames[3].copy()
    edited[5:10, 5:10] = 7
    scan.set_frame(3, edited)
    write_scan(scan, tmp_path / "out.dcm")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    back = read_scan(tmp_path / "out.dcm").frames
    expected = frames.copy()
    expected[3, 5:10, 5:10] = 7
    assert np.array_equal(back, expected)


def test_truncated_large_file_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "cut.dcm"
    make_dicom(src, np.ones((4, 64, 64), np.uint16))
    src.write_bytes(src.read_bytes()[:-5000])
    _threshold(monkeypatch, 1024)
    with pytest.raises(InputFileError) as caught:
        read_scan(src)
    assert "cut.dcm" in str(caught.value) and "\n" not in str(caught.value)


def test_array_reader_streams_and_pads() -> None:
    arr = np.arange(7, dtype=np.uint8)
    reader = ArrayReader(arr)
    assert reader.seek(0, io.SEEK_END) == 8 and reader.tell() == 8
    reader.seek(0)
    assert reader.read(3) == bytes([0, 1, 2])
    assert reader.read() == bytes([3, 4, 5, 6, 0])
    assert reader.read(4) == b""
    reader.seek(2)
    buf = bytearray(10)
    assert reader.readinto(buf) == 6 and bytes(buf[:6]) == bytes([2, 3, 4, 5, 6, 0])
    wide = ArrayReader(np.array([[1, 256]], dtype="<u2"))
    assert wide.read() == bytes([1, 0, 0, 1])


def test_scrub_of_a_large_cine_cleans_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from _phi_images import ocr_words

    from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub

    write_ct(tmp_path / "in" / "cine.dcm", frames=3)
    _threshold(monkeypatch, 1024)
    summary = run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "out"))
    (result,) = summary.results
    assert result.status == "ok" and result.frames == 3
    out = read_scan(tmp_path / "out" / "cine.dcm")
    assert isinstance(out.frames, np.memmap)
    for index in range(3):
        assert phi_read(ocr_words(out.display(index))) == []
