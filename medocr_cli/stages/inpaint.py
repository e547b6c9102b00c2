"""Removing text: boxes to a mask, then repainting the masked stored values.

Repainting works on the stored values, not on the display rendering, so a 16-bit CT keeps its
Hounsfield units and bit depth, and pixels outside the mask stay bit-identical to the input.
Two kinds of repaint: OpenCV's classical Telea / Navier-Stokes (fast, no weights) and the
learned gated-convolution inpainter (`LearnedInpainter`, weights `inpainter.pt`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medocr_cli.errors import NotBuiltError, UsageError
from medocr_cli.types import Box

#: The classical methods and their OpenCV flags.
METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
#: The learned method's name and its weights file in the weights folder.
LEARNED = "learned"
WEIGHTS_NAME = "inpainter.pt"
#: Every method `inpaint_stored` takes.
ALL_METHODS = (*METHODS, LEARNED)
#: Ring around the hole whose known values set the learned method's value range (pixels).
CONTEXT_RING = 16


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


class LearnedInpainter:
    """A loaded inpainter checkpoint that repaints stored frames on a device.

    Frames are handed to the network as values in [0, 1]: 8-bit samples divided by 255 (as
    it was trained), palette images as their RGB colours, and any other dtype (12/16-bit CT,
    signed or not, float) through the value range of the known pixels in a ring around the
    hole. That range is what the fill should lie in; a frame-wide min/max would flatten the
    contrast (a CT's padding value is far below air) and a display window would clip air or
    bone around text to one grey.
    """

    def __init__(self, weights: Path, device: str = "cpu") -> None:
        """Load `weights` (an `inpainter.pt`) onto `device`.

        Raises:
            NotBuiltError: The file does not exist.
            InputFileError: It is not an inpainter checkpoint.
        """
        import torch

        from medocr_cli.errors import InputFileError
        from medocr_cli.io.checkpoints import load_checkpoint
        from medocr_cli.models.checkpoint import unpack
        from medocr_cli.models.inpainter import CHANNELS_LAST

        weights = Path(weights)
        if not weights.is_file():
            raise NotBuiltError(
                "no learned inpainter weights here",
                hint="train them with `medocr train inpainter DATA`, pass --weights DIR, or use "
                "--method telea",
                path=weights,
            )
        checkpoint = load_checkpoint(weights)
        self.spec: dict[str, Any] = checkpoint["spec"]
        if self.spec.get("arch") != "gated-inpainter":
            raise InputFileError(
                f"not an inpainter checkpoint (arch {self.spec.get('arch')!r})", path=weights
            )
        self.path = weights
        self.metrics: dict[str, Any] = checkpoint.get("metrics", {})
        self.device = torch.device(device)
        model = unpack(checkpoint, source=str(weights)).to(self.device).eval()
        self.model = model.to(memory_format=CHANNELS_LAST)

    @classmethod
    def from_weights_dir(cls, folder: Path | None = None, device: str = "cpu") -> LearnedInpainter:
        """Load `inpainter.pt` from a weights folder (`--weights`, MEDOCR_WEIGHTS, shipped).

        A path to a `.pt` file is used as it is.
        """
        from medocr_cli.config import weights_dir

        path = weights_dir(folder)
        return cls(path if path.suffix == ".pt" else path / WEIGHTS_NAME, device)

    def fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Fill the hole of a float32 image in [0, 1] (grey or RGB); the rest is returned as is."""
        from medocr_cli.models.inpainter import inpaint_array

        return inpaint_array(self.model, image, mask, device=self.device)

    def repaint(
        self,
        frame: np.ndarray,
        mask: np.ndarray,
        *,
        value_range: tuple[int, int],
        palette: np.ndarray | None = None,
    ) -> np.ndarray:
        """Repaint the masked pixels of one stored frame in its dtype; see `inpaint_stored`."""
        from medocr_cli.models.inpainter import inpaint_uint8

        sel = mask > 0
        out = frame.copy()
        if palette is not None:
            colour = palette[np.clip(frame.astype(np.int64), 0, len(palette) - 1)]
            filled = inpaint_uint8(self.model, colour.astype(np.uint8), sel, device=self.device)
            out[sel] = _nearest_palette_index(filled[sel], palette).astype(frame.dtype)
            return out
        if frame.ndim == 3 and frame.shape[2] >= 3:
            view = frame[..., :3]
        else:
            view = frame if frame.ndim == 2 else frame[..., 0]
        lo, hi = value_range
        if view.dtype == np.uint8 and lo <= 0 and hi >= 255:
            filled = inpaint_uint8(self.model, np.ascontiguousarray(view), sel, device=self.device)
            values = filled[sel]
        else:
            low, high = _context_range(view, sel)
            scaled = (view.astype(np.float64) - low) / (high - low)
            result = self.fill(np.clip(scaled, 0.0, 1.0).astype(np.float32), sel)
            values = result[sel].astype(np.float64) * (high - low) + low
            if not np.issubdtype(frame.dtype, np.floating):
                values = np.rint(values)
            values = np.clip(values, lo, hi).astype(frame.dtype)
        if frame.ndim == 2:
            out[sel] = values
        elif frame.ndim == 3 and frame.shape[2] >= 3:
            out[..., :3][sel] = values
        else:
            out[..., 0][sel] = values
        return out


def _context_range(values: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    """Min and max of the known values in a ring around the hole (whole frame if none)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * CONTEXT_RING + 1,) * 2)
    ring = (cv2.dilate(hole.astype(np.uint8), kernel) > 0) & ~hole
    known = values[ring] if ring.any() else values[~hole] if (~hole).any() else values
    low, high = float(known.min()), float(known.max())
    return low, high if high > low else low + 1.0


@lru_cache(maxsize=4)
def _cached_inpainter(folder: str | None, device: str) -> LearnedInpainter:
    return LearnedInpainter.from_weights_dir(Path(folder) if folder else None, device)


def default_inpainter(folder: Path | None = None, device: str = "cpu") -> LearnedInpainter:
    """Return the learned inpainter of a weights folder, loaded once per folder and device."""
    return _cached_inpainter(str(folder) if folder else None, device)


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
