"""Removing text: boxes to a mask, then repainting the masked stored values.

Repainting works on the stored values, not on the display rendering, so a 16-bit CT keeps its
Hounsfield units and bit depth, and pixels outside the mask stay bit-identical to the input.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from medocr_cli.errors import UsageError
from medocr_cli.types import Box

METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def boxes_to_mask(
    boxes: Iterable[Box], shape: tuple[int, int], *, grow: float = 0.25, min_grow: int = 2
) -> np.ndarray:
    """Rasterise boxes into a uint8 mask (255 = remove), each box grown to cover halos.

    Args:
        boxes: Boxes of one frame.
        shape: (rows, cols) of the frame.
        grow: Margin added on every side, as a fraction of the box height; covers
            anti-aliasing, outlines and shadows around the glyphs.
        min_grow: Smallest margin in pixels.
    """
    mask = np.zeros(shape, np.uint8)
    rows, cols = shape
    for b in boxes:
        m = max(min_grow, round(grow * b.height))
        x0, y0 = max(0, b.x0 - m), max(0, b.y0 - m)
        x1, y1 = min(cols, b.x1 + m), min(rows, b.y1 + m)
        mask[y0:y1, x0:x1] = 255
    return mask


def inpaint_stored(
    frame: np.ndarray,
    mask: np.ndarray,
    *,
    value_range: tuple[int, int],
    method: str = "telea",
    radius: int = 5,
    palette: np.ndarray | None = None,
) -> np.ndarray:
    """Repaint the masked pixels of one stored frame; everything outside the mask is untouched.

    Args:
        frame: Stored values, (rows, cols) or (rows, cols, samples), any integer dtype.
        mask: uint8 mask of the frame, non-zero where text is.
        value_range: Valid stored range (from Bits Stored and signedness); results are clipped.
        method: "telea" or "ns" (OpenCV's two classical inpainting methods).
        radius: Neighbourhood radius of the inpainting, in pixels.
        palette: For palette images, the RGB colour of every index: the repaint is done in
            colour and mapped back to the nearest palette index.

    Returns:
        A new frame of the same shape and dtype.
    """
    if method not in METHODS:
        raise UsageError(f"unknown inpainting method {method!r}", hint="use telea or ns")
    sel = mask > 0
    if not sel.any():
        return frame.copy()
    flag = METHODS[method]
    if palette is not None:
        colour = palette[np.clip(frame.astype(np.int64), 0, len(palette) - 1)]
        repainted = cv2.inpaint(np.ascontiguousarray(colour), mask, radius, flag)
        out = frame.copy()
        out[sel] = _nearest_palette_index(repainted[sel], palette).astype(frame.dtype)
        return out
    lo, hi = value_range
    if frame.ndim == 2:
        channels = [frame]
    else:
        colour_samples = 3 if frame.shape[2] >= 3 else 1
        channels = [frame[..., c] for c in range(colour_samples)]
    out = frame.copy()
    if frame.dtype == np.uint8 and len(channels) == 3:
        repainted = cv2.inpaint(np.ascontiguousarray(frame[..., :3]), mask, radius, flag)
        out[..., :3][sel] = repainted[sel]
        return out
    for c, channel in enumerate(channels):
        src = channel.astype(np.float32)
        repainted = cv2.inpaint(src, mask, radius, flag)
        values = np.clip(np.rint(repainted[sel]), lo, hi).astype(frame.dtype)
        if frame.ndim == 2:
            out[sel] = values
        else:
            out[..., c][sel] = values
    return out


def _nearest_palette_index(colours: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map RGB colours (N, 3) to the index of the closest palette entry, in bounded memory."""
    unique, first = np.unique(palette.astype(np.int32), axis=0, return_index=True)
    cols = colours.astype(np.int32)
    out = np.empty(len(cols), np.int64)
    step = max(1, (1 << 22) // len(unique))
    for start in range(0, len(cols), step):
        chunk = cols[start : start + step]
        d = ((chunk[:, None, :] - unique[None, :, :]) ** 2).sum(axis=2)
        out[start : start + step] = first[d.argmin(axis=1)]
    return out
