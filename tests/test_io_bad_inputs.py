"""Bad inputs fail with one clear MedocrError line naming the file; failed writes leave nothing."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import dcmread_quiet, find_test_file, gradient, listing, make_dicom, make_png
from PIL import Image
from pydicom.encaps import encapsulate

from medocr_cli.errors import InputFileError, MedocrError, OutputError, UnsupportedError
from medocr_cli.io import read_scan, write_scan

# --- builders: each writes one bad file into a folder and returns its path -----------------------


def _zero_bytes(folder: Path) -> Path:
    path = folder / "empty.dcm"
    path.write_bytes(b"")
    return path


def _zero_bytes_png(folder: Path) -> Path:
    path = folder / "empty.png"
    path.write_bytes(b"")
    return path


def _truncated_dicom(folder: Path) -> Path:
    raw = find_test_file("CT_small.dcm").read_bytes()
    path = folder / "truncated.dcm"
    path.write_bytes(raw[: len(raw) // 2])
    return path


def _truncated_in_header(folder: Path) -> Path:
    raw = find_test_file("CT_small.dcm").read_bytes()
    path = folder / "cut_early.dcm"
    path.write_bytes(raw[:300])
    return path


def _preamble_only(folder: Path) -> Path:
    path = folder / "preamble_only.dcm"
    path.write_bytes(b"\x00" * 128 + b"DICM")
    return path


def _random_bytes_dcm(folder: Path) -> Path:
    path = folder / "random.dcm"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def _text_named_png(folder: Path) -> Path:
    path = folder / "notes.png"
    path.write_text("Patient Doe^Jane, this is not an image\n")
    return path


def _truncated_png(folder: Path) -> Path:
    full = make_png(folder / "full.tmp", gradient(64, 64))
    data = full.read_bytes()
    full.unlink()
    path = folder / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    return path


def _truncated_jpeg(folder: Path) -> Path:
    full = folder / "full.tmp"
    Image.fromarray(gradient(64, 64)).save(full, format="JPEG")
    data = full.read_bytes()
    full.unlink()
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def _no_pixel_data_bundled(folder: Path) -> Path:
    path = folder / "rtplan.dcm"
    path.write_bytes(find_test_file("rtplan.dcm").read_bytes())
    return path


def _no_pixel_data_synthetic(folder: Path) -> Path:
    ds = make_dicom(folder / "with_pixels.tmp", gradient(4, 4))
    (folder / "with_pixels.tmp").unlink()
    del ds.PixelData
    path = folder / "no_pixels.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def _with_syntax(folder: Path, syntax: str, name: str) -> Path:
    ds = dcmread_quiet(find_test_file("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([b"\x00\x01not a real codestream" * 8])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    path = folder / name
    ds.save_as(path)
    return path


def _mpeg2(folder: Path) -> Path:
    return _with_syntax(folder, "1.2.840.10008.1.2.4.100", "mpeg2.dcm")


def _private_syntax(folder: Path) -> Path:
    return _with_syntax(folder, "1.2.826.0.1.3680043.99999.1", "private_syntax.dcm")


def _float_pixels(folder: Path) -> Path:
    ds = dcmread_quiet(find_test_file("MR_small.dcm"))
    del ds.PixelData
    ds.FloatPixelData = np.zeros(64 * 64, np.float32).tobytes()
    path = folder / "float.dcm"
    ds.save_as(path)
    return path


def _frames_beyond_data(folder: Path) -> Path:
    ds = dcmread_quiet(find_test_file("MR_small.dcm"))
    ds.NumberOfFrames = 3  # the data holds one frame
    path = folder / "frames.dcm"
    ds.save_as(path)
    return path


def _palette_without_lut(folder: Path) -> Path:
    ds = dcmread_quiet(find_test_file("MR_small.dcm"))
    ds.PhotometricInterpretation = "PALETTE COLOR"
    ds.PixelRepresentation = 0
    path = folder / "palette_no_lut.dcm"
    ds.save_as(path)
    return path


def _directory_named_png(folder: Path) -> Path:
    path = folder / "folder.png"
    path.mkdir()
    return path


def _tiff_pages_differ(folder: Path) -> Path:
    path = folder / "pages.tif"
    first, second = Image.fromarray(gradient(8, 8)), Image.fromarray(gradient(4, 6))
    first.save(path, save_all=True, append_images=[second])
    return path


def _float_tiff(folder: Path) -> Path:
    path = folder / "float.tif"
    Image.fromarray(np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4), mode="F").save(path)
    return path


BAD: dict[str, tuple[Callable[[Path], Path], type[MedocrError]]] = {
    "zero-byte dcm": (_zero_bytes, InputFileError),
    "zero-byte png": (_zero_bytes_png, InputFileError),
    "truncated dicom (half)": (_truncated_dicom, InputFileError),
    "truncated dicom (in header)": (_truncated_in_header, InputFileError),
    "preamble only": (_preamble_only, InputFileError),
    "random bytes .dcm": (_random_bytes_dcm, InputFileError),
    "text named .png": (_text_named_png, InputFileError),
    "truncated png": (_truncated_png, InputFileError),
    "truncated jpeg": (_truncated_jpeg, InputFileError),
    "no pixel data (rtplan)": (_no_pixel_data_bundled, InputFileError),
    "no pixel data (synthetic)": (_no_pixel_data_synthetic, InputFileError),
    "MPEG2 syntax": (_mpeg2, UnsupportedError),
    "unknown private syntax": (_private_syntax, UnsupportedError),
    "float pixel data": (_float_pixels, UnsupportedError),
    "NumberOfFrames beyond data": (_frames_beyond_data, InputFileError),
    "palette without LUT": (_palette_without_lut, UnsupportedError),
    "folder named .png": (_directory_named_png, InputFileError),
    "tiff pages of different sizes": (_tiff_pages_differ, UnsupportedError),
    "float tiff": (_float_tiff, UnsupportedError),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_one_line_medocr_error(case: str, tmp_path: Path) -> None:
    build, expected = BAD[case]
    folder = tmp_path / "in"
    folder.mkdir()
    path = build(folder)
    before = listing(folder)
    with pytest.raises(MedocrError) as info:
        read_scan(path)
    err = info.value
    assert isinstance(err, expected), f"{type(err).__name__}: {err.one_line()}"
    line = err.one_line()
    assert path.name in line and str(path) in line
    assert "\n" not in line and "\r" not in line
    assert str(err) == line
    assert err.path == path
    assert listing(folder) == before, "reading a bad file created or removed files"
    assert list(tmp_path.iterdir()) == [folder]


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.dcm"
    with pytest.raises(InputFileError) as info:
        read_scan(path)
    assert "nope.dcm" in info.value.one_line()


def test_bundled_truncated_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        read_scan(find_test_file("MR_truncated.dcm"))
    assert "MR_truncated.dcm" in info.value.one_line()


# --- failed writes -------------------------------------------------------------------------------


def _a_scan(kind: str, tmp_path: Path):
    src_dir = tmp_path / "src"
    if kind == "dicom":
        src = src_dir / "a.dcm"
        make_dicom(src, gradient(8, 8, np.uint16, 0, 4000), bits_stored=12)
    else:
        src = make_png(src_dir / "a.png", gradient(8, 8))
    return read_scan(src)


@pytest.mark.parametrize("kind", ["dicom", "png"])
def test_disk_full_on_rename_leaves_nothing(kind: str, tmp_path: Path, monkeypatch) -> None:
    scan = _a_scan(kind, tmp_path)
    out_dir = tmp_path / "out"
    target = out_dir / f"result.{'dcm' if kind == 'dicom' else 'png'}"

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OutputError) as info:
        write_scan(scan, target)
    monkeypatch.undo()
    assert not target.exists()
    assert listing(out_dir) == [], "temporary file left behind"
    line = info.value.one_line()
    assert target.name in line and "\n" not in line
    assert "disk" in line.lower()


def test_failed_write_keeps_existing_target(tmp_path: Path, monkeypatch) -> None:
    scan = _a_scan("dicom", tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "result.dcm"
    target.write_bytes(b"previous output")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OutputError):
        write_scan(scan, target)
    monkeypatch.undo()
    assert target.read_bytes() == b"previous output"
    assert listing(out_dir) == ["result.dcm"]


def test_disk_full_midway_through_dicom_write(tmp_path: Path, monkeypatch) -> None:
    """dcmwrite dies after writing part of the file: no target, no temp file, OutputError."""
    scan = _a_scan("dicom", tmp_path)
    target = tmp_path / "out" / "result.dcm"
    real = pydicom.dcmwrite

    def half_then_enospc(filename, *args, **kwargs):
        Path(filename).write_bytes(b"\x00" * 200)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pydicom, "dcmwrite", half_then_enospc)
    with pytest.raises(OutputError):
        write_scan(scan, target)
    monkeypatch.setattr(pydicom, "dcmwrite", real)
    assert listing(tmp_path / "out") == []


def test_unexpected_error_during_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    scan = _a_scan("png", tmp_path)
    target = tmp_path / "out" / "result.png"

    def boom(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"partial")
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(RuntimeError):
        write_scan(scan, target)
    monkeypatch.undo()
    assert listing(tmp_path / "out") == []


def test_output_parent_is_a_file(tmp_path: Path) -> None:
    scan = _a_scan("png", tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OutputError) as info:
        write_scan(scan, blocker / "result.png")
    assert "result.png" in info.value.one_line()
    assert blocker.read_text() == "a file, not a folder"
