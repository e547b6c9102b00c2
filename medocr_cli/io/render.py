"""Rendering stored frames to the 8-bit view that detection and OCR look at."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from medocr_cli.io.scan import Scan


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Min-max scale any numeric array to uint8 (a constant array becomes all zeros)."""
    if values.dtype == np.uint8:
        return values
    v = values.astype(np.float64, copy=False)
    lo, hi = float(np.min(v)), float(np.max(v))
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    return np.clip(np.rint((v - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def render_frame(scan: Scan, index: int) -> np.ndarray:
    """Return frame `index` of `scan` as uint8: (rows, cols) grey or (rows, cols, 3) colour."""
    frame = scan.frames[index]
    if scan.photometric == "PALETTE COLOR" and scan.palette is not None:
        idx = np.clip(frame.astype(np.int64), 0, len(scan.palette) - 1)
        return scan.palette[idx]
    if frame.ndim == 3:
        colour = frame[..., :3] if frame.shape[2] >= 3 else frame[..., 0]
        return to_uint8(colour) if colour.dtype != np.uint8 else np.ascontiguousarray(colour)
    if scan.dataset is not None:
        from medocr_cli.io.dicom import render_grey

        return render_grey(scan.dataset, frame, index, scan.photometric)
    return to_uint8(frame)
