"""Reading and writing a `Scan` of any supported format: the format decides the module.

PNG, JPEG, TIFF and BMP go through `io/images.py`, DICOM through `io/dicom_read.py` and
`io/dicom_write.py`; the format is recognised by content (`io/formats.py`). A format module is
imported when a file of its format comes, so importing `medocr_cli.io` loads neither pydicom nor
Pillow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from medocr_cli.errors import InputFileError
from medocr_cli.io.formats import expected_format, sniff
from medocr_cli.io.scan import Scan

if TYPE_CHECKING:
    from pydicom import Dataset


def read_scan(path: Path) -> Scan:
    """Read an image file of any supported format, recognising the format by content.

    Raises:
        InputFileError: The file is empty, unreadable, not an image, or damaged.
        UnsupportedError: The file is an image medocr cannot decode (e.g. no codec).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror}", path=path) from exc
    if size == 0:
        raise InputFileError("file is empty (0 bytes)", path=path)
    fmt = sniff(path)
    promised = expected_format(path)
    if fmt is None and promised == "dicom":
        fmt = "dicom"  # raw DICOM dataset without the 128-byte preamble
    if fmt is None:
        what = f"not a {promised.upper()} file" if promised else "not a recognised image format"
        raise InputFileError(
            f"{what}: its content is not PNG, JPEG, TIFF, BMP or DICOM",
            hint="check the file is a complete image",
            path=path,
        )
    if fmt == "dicom":
        from medocr_cli.io.dicom_read import read_dicom

        return read_dicom(path)
    from medocr_cli.io.images import read_image

    return read_image(path, fmt)


def write_scan(
    scan: Scan,
    target: Path,
    *,
    cleaned: bool = True,
    header: Callable[[Dataset], None] | None = None,
    output_syntax: str = "explicit",
) -> None:
    """Write `scan` to `target` atomically, in the format it was read from.

    Args:
        scan: The scan, with its (edited) frames.
        target: Output file path; parent folders are created.
        cleaned: For DICOM, mark the file as pixel-cleaned (BurnedInAnnotation NO, the Clean Pixel
            Data Option code, overlays and icon removed).
        header: For DICOM, a header de-identification step called with the pydicom dataset
            before writing (e.g. `deid_header.HeaderDeidentifier`); ignored for other formats,
            which carry no header to clean.
        output_syntax: For DICOM, how the pixel data is stored, always losslessly: an
            `OutputSyntax` value ("keep", "explicit", "rle", "jpeg-ls", "jpeg2000"); see
            `dicom_write.write_dicom`. Ignored for other formats.
    """
    if scan.format == "dicom":
        from medocr_cli.io.dicom_write import write_dicom

        write_dicom(scan, target, cleaned=cleaned, header=header, output_syntax=output_syntax)
    else:
        from medocr_cli.io.images import write_image

        write_image(scan, target)
