"""Removing text: boxes to a mask, then repainting the masked stored values.

Repainting works on the stored values, not on the display rendering, so a 16-bit CT keeps its
Hounsfield units and bit depth, and pixels outside the mask stay bit-identical to the input.
Two kinds of repaint: OpenCV's classical Telea / Navier-Stokes (fast, no weights) and the
learned gated-convolution inpainter (`models.inpainter.predictor.LearnedInpainter`, weights
`inpainter.pt`).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from medocr_cli.errors import UsageError
from medocr_cli.models.inpainter.predictor import (
    LearnedInpainter,
    default_inpainter,
    nearest_palette_index,
)
from medocr_cli.types import Box

#: The classical methods and their OpenCV flags.
METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
#: The learned method's name (its weights: `zoo.INPAINTER_FILE`).
LEARNED = "learned"
#: Every method `inpaint_stored` takes.
ALL_METHODS = (*METHODS, LEARNED)


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
    inpainter: LearnedInpainter | None = None,
) -> np.ndarray:
    """Repaint the masked pixels of one stored frame; everything outside the mask is untouched.

    Args:
        frame: Stored values, (rows, cols) or (rows, cols, samples), any integer dtype.
        mask: uint8 mask of the frame, non-zero where text is.
        value_range: Valid stored range (from Bits Stored and signedness); results are clipped.
        method: "telea" or "ns" (OpenCV's two classical inpainting methods), or "learned".
        radius: Neighbourhood radius of the classical inpainting, in pixels.
        palette: For palette images, the RGB colour of every index: the repaint is done in
            colour and mapped back to the nearest palette index.
        inpainter: The loaded learned inpainter for method "learned" (default: the one in the
            weights folder, loaded once).

    Returns:
        A new frame of the same shape and dtype.
    """
    if method not in ALL_METHODS:
        raise UsageError(f"unknown inpainting method {method!r}", hint="use learned, telea or ns")
    sel = mask > 0
    if not sel.any():
        return frame.copy()
    if method == LEARNED:
        return (inpainter or default_inpainter()).repaint(
            frame, sel, value_range=value_range, palette=palette
        )
    flag = METHODS[method]
    if palette is not None:
        colour = palette[np.clip(frame.astype(np.int64), 0, len(palette) - 1)]
        repainted = cv2.inpaint(np.ascontiguousarray(colour), mask, radius, flag)
        out = frame.copy()
        out[sel] = nearest_palette_index(repainted[sel], palette).astype(frame.dtype)
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
