"""Running the inpainter on whole images: a window around each cluster of holes, then the blend.

Pure: arrays in, arrays out.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from medocr_cli.models.inpainter.network import CHANNELS_LAST
from medocr_cli.types import join_overlapping

#: Context around each cluster of hole pixels given to the network when filling (pixels);
#: chosen by measurement on ds1 val (see weights/inpainter.md).
WINDOW_MARGIN = 32


class WindowCache:
    """Fills already computed, keyed by the exact window and hole they were computed from.

    The network's fill of a window depends on nothing but the window's pixels and its hole, so
    a window seen again (the static overlay of a cine: the same text on the same ground in
    every frame) takes the earlier fill instead of another forward pass; the result is the same
    to the bit. Keys are 32-byte BLAKE2 digests of the pixels, hole and shape; the least recently
    used fills are dropped past `max_bytes`.
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._fills: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def key(window: np.ndarray, window_mask: np.ndarray) -> bytes:
        """The digest naming one window and its hole."""
        digest = hashlib.blake2b(digest_size=32)
        digest.update(repr((window.shape, window.dtype.str)).encode())
        digest.update(window.tobytes())
        digest.update(np.packbits(window_mask > 0).tobytes())
        return digest.digest()

    def get(self, key: bytes) -> np.ndarray | None:
        """The fill stored under `key`, or None (counted as a hit or a miss)."""
        fill = self._fills.get(key)
        if fill is None:
            self.misses += 1
            return None
        self.hits += 1
        self._fills.move_to_end(key)
        return fill

    def put(self, key: bytes, fill: np.ndarray) -> None:
        """Keep `fill` under `key`, dropping the oldest fills past the size limit."""
        self._fills[key] = fill
        self._bytes += fill.nbytes
        while self._bytes > self.max_bytes and len(self._fills) > 1:
            _, dropped = self._fills.popitem(last=False)
            self._bytes -= dropped.nbytes


def inpaint_array(
    model: nn.Module,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    device: str | torch.device = "cpu",
    tile: int = 1024,
    margin: int = WINDOW_MARGIN,
    cache: WindowCache | None = None,
) -> np.ndarray:
    """Fill the hole of one image with `model`; pixels outside the hole are returned unchanged.

    Only windows around the hole run through the network: the hole's pixels are grouped into
    clusters (parts closer than `margin` join), and each cluster's bounding box, plus `margin`
    px of context on every side, is one forward pass (split into tiles of at most `tile` px
    when larger). Text sits in a few corner blocks, so a 512 px frame costs a fraction of a
    whole-frame pass, large frames never need the whole frame's activations in memory, and
    the network sees windows like the crops it was trained on.

    Args:
        model: A gated inpainter in eval mode.
        image: float32 (H, W) grey or (H, W, 3) colour, values in [0, 1].
        mask: (H, W), non-zero inside the hole.
        device: Where to run the model.
        tile: Largest side of the region filled per forward pass.
        margin: Context around each cluster given to the network, in pixels.
        cache: Fills of windows seen before (with this model): a window seen again is not
            run through the network again.

    Returns:
        float32 array of the image's shape: the input outside the hole, the fill inside it.
    """
    hole = np.asarray(mask) > 0
    out = np.array(image, dtype=np.float32, copy=True)
    if not hole.any():
        return out
    grey = out.ndim == 2
    rgb = np.repeat(out[:, :, None], 3, axis=2) if grey else out
    rows, cols = hole.shape
    for top, left, bottom, right in hole_clusters(hole, margin):
        for t in range(top, bottom, tile):
            for le in range(left, right, tile):
                b, r = min(bottom, t + tile), min(right, le + tile)
                core = hole[t:b, le:r]
                if not core.any():
                    continue
                y0, x0 = max(0, t - margin), max(0, le - margin)
                y1, x1 = min(rows, b + margin), min(cols, r + margin)
                window = np.ascontiguousarray(rgb[y0:y1, x0:x1].transpose(2, 0, 1))
                window_mask = hole[y0:y1, x0:x1].astype(np.float32)
                key = WindowCache.key(window, window_mask) if cache is not None else b""
                filled = cache.get(key) if cache is not None else None
                if filled is None:
                    filled = _run_window(model, window, window_mask, device, grey)
                    if cache is not None:
                        cache.put(key, filled)
                region = out[t:b, le:r]
                region[core] = filled[t - y0 : b - y0, le - x0 : r - x0][core]
    return out


def _run_window(
    model: nn.Module,
    window: np.ndarray,
    window_mask: np.ndarray,
    device: str | torch.device,
    grey: bool,
) -> np.ndarray:
    """One forward pass over a (3, h, w) window and its (h, w) hole; the (h, w[, 3]) fill."""
    with torch.inference_mode():
        predicted = model(
            torch.from_numpy(window)[None].to(device, memory_format=CHANNELS_LAST),
            torch.from_numpy(window_mask)[None, None].to(device),
        )
    filled = predicted[0].float().clamp(0.0, 1.0).cpu().numpy().transpose(1, 2, 0)
    return filled.mean(axis=2) if grey else filled


def hole_clusters(hole: np.ndarray, gap: int) -> list[tuple[int, int, int, int]]:
    """Return (top, left, bottom, right) of each cluster of hole pixels, disjoint, sorted.

    Parts of the hole closer than `gap` px belong to one cluster (their context windows would
    mostly overlap anyway); clusters whose boxes still overlap are merged, so every hole pixel
    is filled exactly once.
    """
    import cv2

    small = hole.astype(np.uint8)
    if gap > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (gap + 1, gap + 1))
        small = cv2.dilate(small, kernel)
    count, labels = cv2.connectedComponents(small, connectivity=8)
    ys, xs = np.nonzero(hole)
    which = labels[ys, xs]
    top = np.full(count, hole.shape[0]), np.full(count, hole.shape[1])
    low = np.zeros(count, np.int64), np.zeros(count, np.int64)
    np.minimum.at(top[0], which, ys)
    np.minimum.at(top[1], which, xs)
    np.maximum.at(low[0], which, ys + 1)
    np.maximum.at(low[1], which, xs + 1)
    boxes = [
        [int(top[0][k]), int(top[1][k]), int(low[0][k]), int(low[1][k])] for k in np.unique(which)
    ]
    return sorted((t, le, b, r) for t, le, b, r in join_overlapping(boxes))


def inpaint_uint8(
    model: nn.Module,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    device: str | torch.device = "cpu",
    cache: WindowCache | None = None,
) -> np.ndarray:
    """Fill the hole of an 8-bit grey (H, W) or RGB (H, W, 3) image; the rest stays bit-identical.

    The fill is rounded to the nearest 8-bit value; only hole pixels are written.
    """
    hole = np.asarray(mask) > 0
    out = image.copy()
    if not hole.any():
        return out
    filled = inpaint_array(
        model, image.astype(np.float32) / 255.0, hole, device=device, cache=cache
    )
    out[hole] = np.clip(np.rint(filled[hole] * 255.0), 0, 255).astype(image.dtype)
    return out
