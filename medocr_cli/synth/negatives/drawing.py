"""Drawing helpers shared by the hard-negative drawers: colours, sub-pixel lines, curves, blending.

Lines and dots are anti-aliased with sub-pixel points (OpenCV fixed point), curves are smooth
random walks, and `blend` paints through a per-pixel opacity touching only the marked region.
Sizes scale with `scale_of` (1 at 512 px). Helpers that draw random numbers take the caller's
generator and draw in the order the caller calls them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: An RGB colour.
RGB = tuple[int, int, int]


def scale_of(image: np.ndarray) -> float:
    """Size factor of drawn structures: 1 at 512 px."""
    return min(image.shape[:2]) / 512.0


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One uniform draw in [lo, hi) as a plain float."""
    return float(rng.uniform(lo, hi))


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A copy of `image` as RGB (grey promoted)."""
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image.copy()


def ink(image: np.ndarray, colour: RGB) -> tuple[float, ...]:
    """`colour` as an OpenCV drawing value for `image` (its luminance on a grey image)."""
    if image.ndim == 2:
        r, g, b = colour
        return (0.299 * r + 0.587 * g + 0.114 * b,)
    return tuple(float(c) for c in colour)


def fixed_point(points: np.ndarray) -> np.ndarray:
    """Float (N, 2) points as OpenCV fixed-point (4 fractional bits) polyline points."""
    return (np.asarray(points, np.float64) * 16.0 + 0.5).astype(np.int32).reshape(-1, 1, 2)


def polyline(
    img: np.ndarray,
    points: np.ndarray,
    colour: tuple[float, ...] | float,
    thickness: float,
    *,
    closed: bool = False,
) -> None:
    """Anti-aliased polyline with sub-pixel points."""
    value = colour if isinstance(colour, tuple) else (float(colour),)
    width = max(1, round(thickness))
    cv2.polylines(img, [fixed_point(points)], closed, value, width, cv2.LINE_AA, shift=4)


def dot(img: np.ndarray, x: float, y: float, r: float, colour: tuple[float, ...]) -> None:
    """Filled anti-aliased disc of radius `r` (sub-pixel centre)."""
    centre = (round(x * 16), round(y * 16))
    cv2.circle(img, centre, max(8, round(r * 16)), colour, -1, cv2.LINE_AA, shift=4)


def random_walk(
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    steps: int,
    step: float,
    turn: float,
) -> np.ndarray:
    """A smooth random curve: `steps` segments of length `step`, heading drifting by `turn`.

    Short curves (most of them) are walked in plain Python: numpy's per-call overhead would
    cost more than the arithmetic.
    """
    turns = rng.normal(0.0, turn, max(1, steps))
    if turns.size > 24:
        angles = angle + np.cumsum(turns)
        pts = np.empty((angles.size + 1, 2))
        pts[0] = start
        pts[1:, 0] = start[0] + np.cumsum(np.cos(angles) * step)
        pts[1:, 1] = start[1] + np.cumsum(np.sin(angles) * step)
        return pts
    x, y = start
    out = [(x, y)]
    for d in turns.tolist():
        angle += d
        x, y = x + math.cos(angle) * step, y + math.sin(angle) * step
        out.append((x, y))
    return np.array(out)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Smooth random field in [0, 1] with features about `cell` pixels across."""
    h, w = shape
    gy, gx = max(2, round(h / max(cell, 1.0)) + 1), max(2, round(w / max(cell, 1.0)) + 1)
    coarse = rng.random((gy, gx), dtype=np.float32)
    return np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def blend(
    out: np.ndarray,
    alpha: np.ndarray,
    colour: tuple[float, ...] | np.ndarray,
    at: tuple[int, int] = (0, 0),
) -> None:
    """Paint `colour` over `out` in place with per-pixel opacity `alpha` (float, 0-1).

    `alpha` (and `colour`, when it is an array of the same height and width) covers the
    region of `out` whose top-left corner is `at` (x, y). Only the bounding box of the
    non-zero alpha is touched, which keeps small structures cheap.
    """
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    if rows.size == 0:
        return
    cols = np.flatnonzero(alpha[rows[0] : rows[-1] + 1].max(axis=0) > 0)
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    a = alpha[r0:r1, c0:c1]
    x, y = at
    target = out[y + r0 : y + r1, x + c0 : x + c1]
    region = target.astype(np.float32)
    col = np.asarray(colour, np.float32)
    if isinstance(colour, np.ndarray) and colour.shape[:2] == alpha.shape:
        col = col[r0:r1, c0:c1]
    if out.ndim == 3:
        a = a[..., None]
        if col.ndim == 1 and col.size == 1:
            col = np.repeat(col, 3)
    elif col.ndim == 1:
        col = col[:1].reshape(())
    target[...] = np.clip(region + (col - region) * a + 0.5, 0, 255).astype(np.uint8)


def box_in(
    rng: np.random.Generator, h: int, w: int, bw: int, bh: int, margin: float = 0.04
) -> tuple[int, int]:
    """Top-left corner of a bw x bh box placed at random inside an h x w image."""
    mx, my = max(1, round(w * margin)), max(1, round(h * margin))
    x = int(rng.integers(mx, max(mx + 1, w - bw - mx)))
    y = int(rng.integers(my, max(my + 1, h - bh - my)))
    return x, y
