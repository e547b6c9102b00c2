"""Withdrawing the pixel-cleaning marks from an output that did not pass verification.

`io.dicom.mark_cleaned` writes BurnedInAnnotation NO, a DeidentificationMethod entry and code
113101 (Clean Pixel Data Option). Those are claims that no burned-in text is left, so a file
whose check found text (flagged) or that was never checked (`--no-verify`) must not carry
them: here they are taken back. BurnedInAnnotation becomes YES (the file may still show
identifying text), the method entry and the code go, and PatientIdentityRemoved becomes NO.
Overlays and the icon stay removed: that part of the cleaning holds either way.
"""

from __future__ import annotations

from pathlib import Path

from pydicom import Dataset

from medocr_cli.io.atomic import atomic_path
from medocr_cli.io.formats import sniff


def withdraw_marks(ds: Dataset) -> None:
    """Take the pixel-cleaning claims out of `ds` in place (see the module docstring)."""
    from medocr_cli.io.dicom import CLEAN_PIXEL_CODE, DEID_METHOD

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
