"""Display rendering: stored frames turned into the 8-bit view that detection and OCR look at.

Everything between a frame's stored values and what a person sees is here: the palette lookup,
colour scaled to 8 bits, and for a DICOM grey frame the modality LUT, the VOI LUT or window
(min-max when there is none) and MONOCHROME1 inversion; any other grey image is min-max scaled.
`Scan.display` renders through `render_frame` and caches the result.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pydicom import Dataset


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Min-max scale any numeric array to uint8 (a constant array becomes all zeros)."""
    if values.dtype == np.uint8:
        return values
    v = values.astype(np.float64, copy=False)
    lo, hi = float(np.min(v)), float(np.max(v))
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    return np.clip(np.rint((v - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def render_frame(
    frame: np.ndarray,
    photometric: str,
    *,
    palette: np.ndarray | None = None,
    dataset: Dataset | None = None,
) -> np.ndarray:
    """Return one stored frame as uint8: (rows, cols) grey or (rows, cols, 3) colour.

    Args:
        frame: The frame's stored values, (rows, cols) or (rows, cols, samples).
        photometric: How the samples are to be seen (`Scan.photometric`).
        palette: For PALETTE COLOR, the RGB colour (uint8) of every index (`Scan.palette`).
        dataset: The DICOM dataset the frame belongs to, whose LUTs and window render a grey
            frame; None for other images.
    """
    if photometric == "PALETTE COLOR" and palette is not None:
        idx = np.clip(frame.astype(np.int64), 0, len(palette) - 1)
        return palette[idx]
    if frame.ndim == 3:
        colour = frame[..., :3] if frame.shape[2] >= 3 else frame[..., 0]
        return to_uint8(colour) if colour.dtype != np.uint8 else np.ascontiguousarray(colour)
    if dataset is not None:
        return render_grey(dataset, frame, photometric)
    return to_uint8(frame)


def render_grey(ds: Dataset, frame: np.ndarray, photometric: str) -> np.ndarray:
    """Render one grey frame: modality LUT, VOI LUT or window, MONOCHROME1 inverted, 8-bit."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut  # only DICOM frames need it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = apply_modality_lut(frame, ds)
            if any(k in ds for k in ("WindowCenter", "VOILUTSequence")):
                values = apply_voi_lut(values, ds, index=0)
        except Exception:
            values = frame  # a broken LUT must not stop detection: fall back to min-max
    out = to_uint8(values)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out
