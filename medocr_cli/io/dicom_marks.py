"""The pixel-cleaning marks of a DICOM output: set on writing, withdrawn when not earned.

`mark_cleaned` (called by `io.dicom_write.write_dicom`) writes BurnedInAnnotation NO, a
DeidentificationMethod entry and code 113101 (Clean Pixel Data Option), and removes overlays and
the icon. Those are claims that no burned-in text is left, so a file whose check found text
(flagged) or that was never checked (`--no-verify`) must not carry them: `withdraw_marks` takes
them back. BurnedInAnnotation becomes YES (the file may still show identifying text), the method
entry and the code go, and PatientIdentityRemoved becomes NO. Overlays and the icon stay
removed: that part of the cleaning holds either way.
"""

from __future__ import annotations

from pathlib import Path

from pydicom import Dataset
from pydicom.sequence import Sequence

from medocr_cli import __version__
from medocr_cli.io.atomic import atomic_path
from medocr_cli.io.formats import sniff

CLEAN_PIXEL_CODE = ("113101", "DCM", "Clean Pixel Data Option")
DEID_METHOD = f"medocr {__version__}: burned-in text removed"


def mark_cleaned(ds: Dataset) -> None:
    """Record pixel cleaning in the header and drop the other places pixels can hide text.

    Sets BurnedInAnnotation NO, appends to DeidentificationMethod and its code sequence (113101,
    Clean Pixel Data Option), removes overlay groups (60xx) and the Icon Image Sequence.
    """
    ds.BurnedInAnnotation = "NO"
    elem = ds.get("DeidentificationMethod")
    values = [] if elem is None else [elem] if isinstance(elem, str) else list(elem)
    if DEID_METHOD not in values:
        values.append(DEID_METHOD)
    ds.DeidentificationMethod = values if len(values) > 1 else values[0]
    codes = ds.get("DeidentificationMethodCodeSequence") or Sequence()
    if not any(getattr(item, "CodeValue", None) == CLEAN_PIXEL_CODE[0] for item in codes):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = CLEAN_PIXEL_CODE
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    _drop_overlays_and_icons(ds)


def _drop_overlays_and_icons(ds: Dataset) -> None:
    """Remove overlay groups (60xx) and Icon Image Sequences, in `ds` and every sequence item.

    Overlays and icons are pixels too (an overlay's label or description can name the
    patient), and a sequence item can carry them as well as the top level.
    """
    for tag in [e.tag for e in ds if 0x6000 <= e.tag.group <= 0x601E and e.tag.group % 2 == 0]:
        del ds[tag]
    if "IconImageSequence" in ds:
        del ds.IconImageSequence
    for elem in ds:
        if elem.VR == "SQ" and elem.value:
            for item in elem.value:
                _drop_overlays_and_icons(item)


def withdraw_marks(ds: Dataset) -> None:
    """Take the pixel-cleaning claims out of `ds` in place (see the module docstring)."""
    ds.BurnedInAnnotation = "YES"
    elem = ds.get("DeidentificationMethod")
    values = [] if elem is None else [elem] if isinstance(elem, str) else list(elem)
    values = [v for v in values if v != DEID_METHOD]
    if values:
        ds.DeidentificationMethod = values if len(values) > 1 else values[0]
    elif "DeidentificationMethod" in ds:
        del ds.DeidentificationMethod
    codes = ds.get("DeidentificationMethodCodeSequence")
    if codes is not None:
        kept = [c for c in codes if getattr(c, "CodeValue", None) != CLEAN_PIXEL_CODE[0]]
        if kept:
            ds.DeidentificationMethodCodeSequence = kept
        else:
            del ds.DeidentificationMethodCodeSequence
    if ds.get("PatientIdentityRemoved") == "YES":
        ds.PatientIdentityRemoved = "NO"


def withdraw_clean_marks(path: Path) -> None:
    """Rewrite the DICOM file at `path` (atomically) without its cleaning claims.

    Other formats carry no such claims and are left alone. The pixel data is copied as stored,
    not decoded.
    """
    if sniff(path) != "dicom" and path.suffix.lower() not in (".dcm", ".dicom", ".dic"):
        return
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    withdraw_marks(ds)
    with atomic_path(path) as tmp:
        ds.save_as(tmp)
