"""The learned inpainter as a predictor: a loaded checkpoint that repaints stored frames.

`LearnedInpainter` is what `inpaint --method learned` and `scrub` use; the classical OpenCV
methods and the choice between them live in `medocr_cli.stages.inpaint`. Torch is imported when
a checkpoint is loaded, not with this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medocr_cli.models import zoo

#: How to do without the learned inpainter's weights (the hint when they are missing).
INSTEAD = "use --method telea"
#: Ring around the hole whose known values set the learned method's value range (pixels).
CONTEXT_RING = 16


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
        """Load `weights` (an `inpainter.pt`) onto `device` through the zoo.

        Raises:
            NotBuiltError: The file does not exist.
            WeightsError: It is not a valid inpainter checkpoint.
        """
        import torch

        loaded = zoo.load(
            "inpainter", weights, device, needed_by="--method learned", instead=INSTEAD
        )
        self.path = Path(weights)
        self.spec: dict[str, Any] = loaded.raw_spec()
        self.metrics: dict[str, Any] = dict(loaded.metrics)
        self.device = torch.device(device)
        self.model = loaded.model
        from medocr_cli.models.inpainter.repaint import WindowCache

        #: Fills of windows already seen (a cine's static overlay is filled once).
        self.windows = WindowCache()

    @classmethod
    def from_weights_dir(cls, folder: Path | None = None, device: str = "cpu") -> LearnedInpainter:
        """Load `inpainter.pt` from a weights folder (`--weights`, MEDOCR_WEIGHTS, shipped).

        A path to a `.pt` file is used as it is.
        """
        return cls(zoo.locate("inpainter", folder), device)

    def fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Fill the hole of a float32 image in [0, 1] (grey or RGB); the rest is returned as is."""
        from medocr_cli.models.inpainter.repaint import inpaint_array

        return inpaint_array(self.model, image, mask, device=self.device, cache=self.windows)

    def repaint(
        self,
        frame: np.ndarray,
        mask: np.ndarray,
        *,
        value_range: tuple[int, int],
        palette: np.ndarray | None = None,
    ) -> np.ndarray:
        """Repaint the masked pixels of one stored frame in its dtype; see `inpaint_stored`."""
        from medocr_cli.models.inpainter.repaint import inpaint_uint8

        sel = mask > 0
        out = frame.copy()
        if palette is not None:
            colour = palette[np.clip(frame.astype(np.int64), 0, len(palette) - 1)]
            filled = inpaint_uint8(
                self.model, colour.astype(np.uint8), sel, device=self.device, cache=self.windows
            )
            out[sel] = nearest_palette_index(filled[sel], palette).astype(frame.dtype)
            return out
        if frame.ndim == 3 and frame.shape[2] >= 3:
            view = frame[..., :3]
        else:
            view = frame if frame.ndim == 2 else frame[..., 0]
        lo, hi = value_range
        if view.dtype == np.uint8 and lo <= 0 and hi >= 255:
            filled = inpaint_uint8(
                self.model, np.ascontiguousarray(view), sel, device=self.device, cache=self.windows
            )
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


def default_inpainter(folder: Path | None = None, device: str = "cpu") -> LearnedInpainter:
    """Return the learned inpainter of a weights folder (its network is loaded once, by the zoo)."""
    return LearnedInpainter.from_weights_dir(folder, device)


def nearest_palette_index(colours: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map RGB colours (N, 3) to the index of the closest palette entry, in bounded memory.

    Each distinct colour is looked up once: a fill repeats few colours over many pixels (a
    16-bit palette ultrasound: 35,757 hole pixels, 1,190 colours, 10,096 distinct entries),
    and the search is over every pair of colour and entry.
    """
    if len(colours) == 0:
        return np.empty(0, np.int64)
    wanted, back = np.unique(colours.astype(np.int32), axis=0, return_inverse=True)
    return _nearest_entries(wanted, palette)[back.reshape(-1)]


def _nearest_entries(colours: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """`nearest_palette_index` of distinct int32 colours, by exhaustive search in chunks."""
    unique, first = np.unique(palette.astype(np.int32), axis=0, return_index=True)
    cols = colours
    out = np.empty(len(cols), np.int64)
    step = max(1, (1 << 22) // len(unique))
    for start in range(0, len(cols), step):
        chunk = cols[start : start + step]
        d = ((chunk[:, None, :] - unique[None, :, :]) ** 2).sum(axis=2)
        out[start : start + step] = first[d.argmin(axis=1)]
    return out
