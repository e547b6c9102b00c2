"""Shared helpers for the I/O tests: the bundled DICOM test files and small synthetic builders.

The DICOM files come from two local folders, globbed directly: pydicom's bundled `test_files`
and the `pydicom-data` package (`data_store/data`). `pydicom.data.get_testdata_file(s)` is never
used here: for a file that is not already local it goes to the network.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

try:  # the pydicom-data package (a dev extra); its files are optional for the tests
    import data_store
except ImportError:  # pragma: no cover - depends on the environment
    data_store = None

PYDICOM_TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
PYDICOM_DATA_FILES = Path(data_store.__file__).parent / "data" if data_store is not None else None

#: Files in the test folders that are plainly not DICOM (dumps, JSON, a colour profile, a gzip).
_NOT_DICOM_SUFFIXES = {".txt", ".json", ".dump", ".gz", ".icc"}


def data_folders() -> list[Path]:
    """The local folders of DICOM test files that exist in this environment."""
    return [d for d in (PYDICOM_TEST_FILES, PYDICOM_DATA_FILES) if d is not None and d.is_dir()]


def all_test_files() -> list[Path]:
    """Every file in the test folders, DICOM or not, sorted."""
    return sorted(p for d in data_folders() for p in d.rglob("*") if p.is_file())


def dicom_test_files() -> list[Path]:
    """Every DICOM file in the test folders (by name: `.dcm` or extensionless, not a README)."""
    return [
        p
        for p in all_test_files()
        if p.suffix.lower() not in _NOT_DICOM_SUFFIXES and not p.name.upper().startswith("README")
    ]


def file_id(path: Path) -> str:
    """A short, unique pytest id for a test file: its folder tag and its path in the folder."""
    for tag, folder in (("pydicom", PYDICOM_TEST_FILES), ("pdata", PYDICOM_DATA_FILES)):
        if folder is not None and path.is_relative_to(folder):
            return f"{tag}:{path.relative_to(folder).as_posix()}"
    return path.name


def find_test_file(name: str) -> Path:
    """Return the test file called `name` (first match in either folder), or skip the test."""
    for folder in data_folders():
        hits = sorted(folder.rglob(name))
        if hits:
            return hits[0]
    pytest.skip(f"test file {name} is not available locally")


def dcmread_quiet(path: Path, **kwargs) -> Dataset:
    """`pydicom.dcmread` with pydicom's value-validation warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, **kwargs)


def make_dicom(
    path: Path,
    arr: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    implicit: bool = False,
    extra: dict | None = None,
) -> Dataset:
    """Write a small, valid DICOM file holding `arr` (pydicom 3 `set_pixel_data`) and return it.

    `arr` is (rows, cols), (frames, rows, cols), (rows, cols, 3) or (frames, rows, cols, 3);
    `extra` adds top-level elements by keyword.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "ID-0001"
    ds.Modality = "OT"
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    bits = bits_stored if bits_stored is not None else arr.dtype.itemsize * 8
    ds.set_pixel_data(arr, photometric, bits, generate_instance_uid=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return ds


def make_png(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    """Write `arr` as a PNG with Pillow (mode inferred from the array unless given)."""
    from PIL import Image

    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr, mode=mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")
    return path


def gradient(rows: int, cols: int, dtype=np.uint8, lo: int = 0, hi: int = 255) -> np.ndarray:
    """A deterministic (rows, cols) ramp from `lo` to `hi` in `dtype`."""
    ramp = np.linspace(lo, hi, rows * cols, dtype=np.float64).reshape(rows, cols)
    return np.rint(ramp).astype(dtype)


def listing(folder: Path) -> list[str]:
    """All entries under `folder` (recursively, hidden ones included), relative and sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, so every test is reproducible."""
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _no_fetched_fonts(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point the generator's font cache at an empty folder, whatever this machine has fetched.

    `make fonts` fills `~/.cache/medocr/fonts`; generated test data must not depend on it. Tests
    of the fetched fonts pass their own cache.
    """
    monkeypatch.setenv("MEDOCR_FONT_CACHE", str(tmp_path_factory.mktemp("no-fonts")))
