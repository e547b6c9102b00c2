"""Decoded real and user images as the process-wide caches keep them.

Both the curated real crops and the user's folder are decoded once per process into
`CachedImage`s: grey when the rendering's channels agree, shrunk so the shorter side is at most
`_MAX_CACHED_SIDE`, which bounds memory and makes every later crop cheap.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

#: Real images are stored with their shorter side at most this long (bounds memory and resizes).
_MAX_CACHED_SIDE = 1024


class CachedImage(NamedTuple):
    """A decoded real or user image kept in the cache."""

    pixels: np.ndarray  # uint8, (h, w) or (h, w, 3)
    modality: str
    source: str


def grey_if_neutral(view: np.ndarray) -> np.ndarray:
    """Return RGB renderings whose channels agree (grey stored as RGB) as one grey channel."""
    view = np.asarray(view, dtype=np.uint8)
    if view.ndim == 3:
        if view.shape[2] == 1:
            return np.ascontiguousarray(view[:, :, 0])
        rgb = view[:, :, :3].astype(np.int16)
        spread = np.abs(rgb[:, :, 0] - rgb[:, :, 1]) + np.abs(rgb[:, :, 1] - rgb[:, :, 2])
        if float(spread.mean()) < 3.0:
            return cv2.cvtColor(view[:, :, :3], cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(view[:, :, :3])
    return np.ascontiguousarray(view)


def shrink_to_cache(pixels: np.ndarray) -> np.ndarray:
    """Downscale so the shorter side is at most `_MAX_CACHED_SIDE` (memory, per-sample speed)."""
    h, w = pixels.shape[:2]
    scale = _MAX_CACHED_SIDE / min(h, w)
    if scale >= 1:
        return pixels
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
