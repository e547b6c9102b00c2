"""Diagnostic colour: telling Doppler flow and colour maps from coloured overlay text.

Colour flow (red/blue velocity, orange/yellow power Doppler) and colour maps are diagnostic
data, and to the detector their curved blobs look like handwriting. Overlay text in colour is
one flat hue (a yellow label, a green cursor readout), anti-aliased against grey; flow spans a
range of hues. A region is treated as lying in colour flow when a good share of its pixels is
coloured (`FLOW_SHARE`) and the hues of those pixels spread (`HUE_SPREAD`), in a frame that is
mostly grey (`FRAME_MAX_SHARE`); the finder then removes it only on stronger evidence
(`pipeline/find_text.py`).
"""

from __future__ import annotations

import numpy as np

#: A pixel is coloured when max - min of its RGB values is at least this.
CHROMA = 40
#: A region is in colour flow when at least this share of its pixels is coloured...
FLOW_SHARE = 0.12
#: ...and the circular spread of their hues is at least this many degrees...
HUE_SPREAD = 8.0
#: ...in a frame that is mostly grey: when more than this share of the whole frame is coloured
#: (a colour map, a tinted or photographic image), colour says nothing about flow. Measured on
#: the ds1 test split: every line the flow rule kept was handwriting on such a frame.
FRAME_MAX_SHARE = 0.25


def coloured(frame: np.ndarray) -> np.ndarray:
    """Return the bool (H, W) mask of coloured pixels of a uint8 frame (none for grey)."""
    if frame.ndim != 3:
        return np.zeros(frame.shape[:2], bool)
    rgb = frame[..., :3]
    return (rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)) >= CHROMA


def hue_spread(pixels: np.ndarray) -> float:
    """Return the circular standard deviation, in degrees, of the hues of (N, 3) RGB pixels."""
    import cv2

    if len(pixels) < 2:
        return 0.0
    hsv = cv2.cvtColor(pixels.reshape(1, -1, 3).astype(np.uint8), cv2.COLOR_RGB2HSV_FULL)
    angle = hsv[0, :, 0].astype(np.float64) * (2 * np.pi / 256)
    r = float(np.hypot(np.cos(angle).mean(), np.sin(angle).mean()))
    return float(np.degrees(np.sqrt(max(0.0, -2.0 * np.log(max(r, 1e-12))))))


def flow_possible(frame: np.ndarray) -> bool:
    """True when `frame` is colour data that is mostly grey, where coloured patches can be flow."""
    return frame.ndim == 3 and float(coloured(frame).mean()) <= FRAME_MAX_SHARE


def in_colour_flow(
    frame: np.ndarray, box: tuple[int, int, int, int], possible: bool | None = None
) -> bool:
    """True when the region `box` (x0, y0, x1, y1) of `frame` lies in multi-hued colour flow.

    `possible` is `flow_possible(frame)` when the caller has it already (one pass per frame).
    """
    if frame.ndim != 3:
        return False
    if possible is None:
        possible = flow_possible(frame)
    if not possible:
        return False
    x0, y0, x1, y1 = box
    crop = frame[y0:y1, x0:x1, :3]
    if crop.size == 0:
        return False
    mask = coloured(crop)
    if mask.mean() < FLOW_SHARE:
        return False
    return hue_spread(crop[mask]) >= HUE_SPREAD
