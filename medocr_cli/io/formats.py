"""Recognising file formats by content, so a DICOM without an extension is still found."""

from __future__ import annotations

from pathlib import Path

#: Extensions that promise an image; a file with one of these that is not an image is an error,
#: while any other non-image file is merely skipped in a folder run.
IMAGE_EXTENSIONS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".dic": "dicom",
}


def sniff(path: Path) -> str | None:
    """Return the format of `path` from its first bytes, or None when nothing is recognised.

    DICOM is recognised by the `DICM` marker after the 128-byte preamble. Files without a preamble
    (raw datasets) are recognised only through a DICOM extension, by the reader.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return None
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"  # checked first: a DICOM preamble may itself hold a TIFF header
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    return None


def expected_format(path: Path) -> str | None:
    """Return the format the extension of `path` promises, or None."""
    return IMAGE_EXTENSIONS.get(path.suffix.lower())


def is_candidate(path: Path) -> bool:
    """Whether a folder run should try `path`: its content or its extension says image."""
    return sniff(path) is not None or expected_format(path) is not None
