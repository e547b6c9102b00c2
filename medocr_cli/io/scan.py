"""The `Scan`: one image file in memory, with its stored pixels and an 8-bit rendering per frame.

Stages look at the display rendering (what a person sees) and edit the stored values (what the
file holds), so a 16-bit signed CT stays 16-bit signed and a palette image keeps its indices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medocr_cli.errors import InputFileError
from medocr_cli.io.formats import expected_format, sniff

if TYPE_CHECKING:
    from pydicom import Dataset


@dataclass
class Scan:
    """One image file: its frames in their stored dtype, plus what is needed to write it back.

    Attributes:
        path: Where it was read from.
        format: "png", "jpeg", "tiff", "bmp" or "dicom".
        frames: Stored values shaped (frames, rows, cols) or (frames, rows, cols, samples),
            whatever the file's dimensionality; YBR data is already converted to RGB.
        photometric: How the samples are to be seen: "MONOCHROME1", "MONOCHROME2", "RGB",
            "PALETTE COLOR"; non-DICOM grey images are "MONOCHROME2".
        bits_stored: Significant bits per sample; edits are clipped to this range.
        signed: Whether samples are two's-complement signed.
        dataset: The DICOM dataset (pixel data still inside) for DICOM files, else None.
        palette: For PALETTE COLOR, the RGB colour (uint8) of every index, shape (entries, 3).
    """

    path: Path
    format: str
    frames: np.ndarray
    photometric: str
    bits_stored: int
    signed: bool = False
    dataset: Dataset | None = None
    palette: np.ndarray | None = None
    _display: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        """Rows per frame."""
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        """Columns per frame."""
        return int(self.frames.shape[2])

    @property
    def samples(self) -> int:
        """Samples per pixel as stored (1 grey or palette, 2 grey+alpha, 3 RGB, 4 RGBA)."""
        return 1 if self.frames.ndim == 3 else int(self.frames.shape[3])

    @property
    def value_range(self) -> tuple[int, int]:
        """Smallest and largest value a stored sample may take."""
        if np.issubdtype(self.frames.dtype, np.floating):
            info = np.finfo(self.frames.dtype)
            return int(info.min), int(info.max)
        if self.signed:
            return -(1 << (self.bits_stored - 1)), (1 << (self.bits_stored - 1)) - 1
        return 0, (1 << self.bits_stored) - 1

    def display(self, index: int) -> np.ndarray:
        """Return frame `index` rendered to 8 bits for detection: (rows, cols) or (rows, cols, 3).

        DICOM frames go through the modality LUT, the VOI LUT or window (min-max when there is
        none), MONOCHROME1 inversion and palette lookup; other images are scaled to 8 bits.
        """
        if index not in self._display:
            from medocr_cli.io.render import render_frame

            self._display[index] = render_frame(self, index)
        return self._display[index]

    def drop_renderings(self) -> None:
        """Forget the cached 8-bit renderings, so a long multi-frame file keeps few in memory."""
        self._display.clear()

    def set_frame(self, index: int, values: np.ndarray) -> None:
        """Replace the stored values of frame `index` (same shape and dtype); drop its rendering."""
        if values.shape != self.frames.shape[1:] or values.dtype != self.frames.dtype:
            raise ValueError(
                f"frame shape/dtype {values.shape}/{values.dtype} does not match "
                f"{self.frames.shape[1:]}/{self.frames.dtype}"
            )
        if not self.frames.flags.writeable:
            self.frames = self.frames.copy()
        if isinstance(self.frames, np.memmap):
            # Only the rows that changed are written: a mapped frame's untouched pages stay
            # backed by the file instead of becoming private memory.
            current = self.frames[index]
            rows = (current != values).reshape(values.shape[0], -1).any(axis=1)
            current[rows] = values[rows]
        else:
            self.frames[index] = values
        self._display.pop(index, None)


def frame_key(image: np.ndarray) -> bytes:
    """A digest of one frame (dtype, shape, bytes): equal keys mean byte-identical frames."""
    import hashlib

    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{image.dtype.str}{image.shape}".encode())
    digest.update(image.tobytes())
    return digest.digest()


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
        from medocr_cli.io.dicom import read_dicom

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
            `dicom.write_dicom`. Ignored for other formats.
    """
    if scan.format == "dicom":
        from medocr_cli.io.dicom import write_dicom

        write_dicom(scan, target, cleaned=cleaned, header=header, output_syntax=output_syntax)
    else:
        from medocr_cli.io.images import write_image

        write_image(scan, target)
