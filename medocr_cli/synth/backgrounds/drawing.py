"""Drawing helpers shared by the procedural modalities: shapes, smooth fields, layout, scaling.

Every procedural image is drawn at half resolution with these helpers, laid out (zoom, shift,
mirror) with `random_layout`/`apply_layout`, and upscaled with `upscale`. Each helper draws
from the caller's rng only, in the order the caller calls it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One uniform draw in [lo, hi) as a plain float."""
    return float(rng.uniform(lo, hi))


def point(x: float, y: float) -> tuple[int, int]:
    """A point rounded to OpenCV's integer pixel coordinates."""
    return round(x), round(y)


def px_axes(a: float, b: float) -> tuple[int, int]:
    """Ellipse half-axes rounded to whole pixels, at least one each."""
    return max(1, round(a)), max(1, round(b))


def smooth_field(rng: np.random.Generator, side: int, cells: int, amp: float) -> np.ndarray:
    """Low-frequency random field in [-amp, amp] (tissue texture, bias fields, echogenicity)."""
    coarse = rng.uniform(-amp, amp, size=(cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)


def soft_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run at a quarter of the resolution (same look, far cheaper)."""
    if sigma < 3.0:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    side = img.shape[0]
    small = cv2.resize(img, (side // 4, side // 4), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)


def upscale(lo: np.ndarray, size: int) -> np.ndarray:
    """Upscale a half-resolution drawing to the output size (linear: soft, natural edges)."""
    if lo.shape[0] == size:
        return lo
    return cv2.resize(lo, (size, size), interpolation=cv2.INTER_LINEAR)


def to_u8(img: np.ndarray) -> np.ndarray:
    """Clip to 0-255 and convert to uint8."""
    return np.clip(img, 0, 255).astype(np.uint8)


def fill_ellipse(
    img: np.ndarray, c: tuple[float, float], ax: tuple[float, float], v: float, ang: float = 0
) -> None:
    """Fill an ellipse (centre `c`, half-axes `ax`, angle `ang` degrees) with value `v`."""
    cv2.ellipse(img, point(*c), px_axes(*ax), ang, 0, 360, float(v), -1)


def ellipse_mask(
    side: int, c: tuple[float, float], ax: tuple[float, float], ang: float = 0
) -> np.ndarray:
    """A float32 side x side mask that is 1 inside the ellipse and 0 elsewhere."""
    m = np.zeros((side, side), np.float32)
    fill_ellipse(m, c, ax, 1.0, ang)
    return m


def polygon(
    img: np.ndarray, pts: list[tuple[float, float]], value: float, thickness: int = 0
) -> None:
    """Fill a polygon (`thickness` 0) or draw an open polyline of that thickness."""
    arr = np.round(np.array(pts, np.float32)).astype(np.int32).reshape(-1, 1, 2)
    if thickness <= 0:
        cv2.fillPoly(img, [arr], float(value))
    else:
        cv2.polylines(img, [arr], False, float(value), thickness)


def random_layout(rng: np.random.Generator, side: int) -> np.ndarray:
    """A random zoom (0.8-1.25), shift and left-right flip of a procedural drawing (2x3 affine).

    No upside-down flips: scans are displayed head/probe up, and the models should learn that.
    """
    zoom = math.exp(uniform(rng, math.log(0.8), math.log(1.25)))
    fx = -1.0 if rng.random() < 0.5 else 1.0
    slack = abs(1 - zoom) * side / 2
    tx, ty = rng.uniform(-slack, slack, size=2)
    c = (side - 1) / 2
    return np.array(
        [[zoom * fx, 0, c - zoom * fx * c + tx], [0, zoom, c - zoom * c + ty]], np.float32
    )


def apply_layout(img: np.ndarray, m: np.ndarray, fill: float | None) -> np.ndarray:
    """Resample a clean (noise-free) drawing; uncovered borders get `fill`, or replicate."""
    side = img.shape[0]
    if fill is None:
        return cv2.warpAffine(img, m, (side, side), borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(
        img, m, (side, side), borderMode=cv2.BORDER_CONSTANT, borderValue=float(fill)
    )
