"""The `Scan`: one image file in memory, with its stored pixels and an 8-bit rendering per frame.

Stages look at the display rendering (what a person sees) and edit the stored values (what the
file holds), so a 16-bit signed CT stays 16-bit signed and a palette image keeps its indices.
A `Scan` is plain data: files become scans in `io/read_write.py` (by format), and frames are
rendered in `io/render.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medocr_cli.io.render import render_frame

if TYPE_CHECKING:
    from pydicom import Dataset


@dataclass(frozen=True)
class SourceFrames:
    """What a compressed DICOM input's frames decoded to: unchanged ones need no decoding again.

    Kept by `read_dicom`, read by `io/dicom_passthrough.py` (which says why).

    Attributes:
        pixel_data: The encapsulated Pixel Data value they were decoded from, or its element
            when pydicom left it on disk: that object (a dataset holding another, e.g. after
            a write, is checked by decoding).
        options: The pixel attributes they were decoded with (pydicom's `as_pixel_options`).
        keys: `dicom_passthrough.frame_digest` of each frame as decoded.
        stamp: For Pixel Data left on disk, the input file's modification time (ns) and size.
    """

    pixel_data: object
    options: dict[str, Any]
    keys: tuple[bytes, ...]
    stamp: tuple[int, int] | None = None


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
        source: For a compressed DICOM input, a digest of each frame as read, so the writer
            can keep the encoded frames of one left unchanged (`io/dicom_passthrough.py`).
    """

    path: Path
    format: str
    frames: np.ndarray
    photometric: str
    bits_stored: int
    signed: bool = False
    dataset: Dataset | None = None
    palette: np.ndarray | None = None
    source: SourceFrames | None = field(default=None, repr=False)
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
            self._display[index] = render_frame(
                self.frames[index], self.photometric, palette=self.palette, dataset=self.dataset
            )
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
