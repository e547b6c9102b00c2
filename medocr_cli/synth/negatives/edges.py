"""Straight-edged hard negatives: collimator shutters and round fields, and regular grids.

Collimator edges are long straight (or circular) borders, sometimes with a bright line along
them; grids are anti-scatter stripes, graph-paper lines or dot lattices over all or part of the
image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from medocr_cli.synth.negatives.drawing import (
    blend,
    box_in,
    fixed_point,
    ink,
    polyline,
    scale_of,
    uniform,
)


def draw_collimator(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Collimator edges: straight dark or bright borders, or a round field.

    Slightly tilted shutters on 1-4 sides, or the circle of an image intensifier, with a soft
    or sharp edge and sometimes a thin bright line along it.
    """
    out = image.copy()
    h, w = out.shape[:2]
    s = scale_of(out)
    mask = np.zeros((h, w), np.uint8)
    lines: list[np.ndarray] = []
    if rng.random() < 0.25:
        mask[...] = 255
        centre = (round(w * uniform(rng, 0.42, 0.58)), round(h * uniform(rng, 0.42, 0.58)))
        cv2.circle(mask, centre, round(min(h, w) * uniform(rng, 0.42, 0.62)), 0, -1, cv2.LINE_AA)
    else:
        sides = rng.permutation(4)[: int(rng.integers(1, 5))]
        for side in sides:
            depth = (w if side < 2 else h) * uniform(rng, 0.03, 0.22)
            tilt = math.tan(math.radians(uniform(rng, -5, 5)))
            if side in (0, 1):  # left / right: x = depth + tilt * (y - h/2)
                xa, xb = depth - tilt * h / 2, depth + tilt * h / 2
                if side == 1:
                    xa, xb = w - xa, w - xb
                far = -10 if side == 0 else w + 10
                poly = np.array([(far, -10), (xa, -10), (xb, h + 10), (far, h + 10)])
                lines.append(np.array([(xa, 0), (xb, h)]))
            else:  # top / bottom
                ya, yb = depth - tilt * w / 2, depth + tilt * w / 2
                if side == 3:
                    ya, yb = h - ya, h - yb
                far = -10 if side == 2 else h + 10
                poly = np.array([(-10, far), (-10, ya), (w + 10, yb), (w + 10, far)])
                lines.append(np.array([(0, ya), (w, yb)]))
            cv2.fillPoly(mask, [fixed_point(poly.astype(np.float64))], 255, cv2.LINE_AA, shift=4)
    sigma = uniform(rng, 0.3, 2.5) * max(s, 0.5)
    alpha = cv2.GaussianBlur(mask, (0, 0), sigma).astype(np.float32) * (
        uniform(rng, 0.85, 1.0) / 255.0
    )
    value = uniform(rng, 0, 35) if rng.random() < 0.8 else uniform(rng, 200, 250)
    blend(out, alpha, (value,))
    if lines and rng.random() < 0.25:
        v = uniform(rng, 200, 255)
        for line in lines:
            polyline(out, line, ink(out, (round(v),) * 3), 1)
    return out, "collimator"


def _lines(coord: np.ndarray, period: float, half_width: float) -> np.ndarray:
    """Anti-aliased line profile: 1 on lines every `period` pixels, fading over `half_width`."""
    d = np.abs(((coord / period + 0.5) % 1.0 - 0.5) * period)
    return np.clip(1.0 - d / half_width + 0.5, 0.0, 1.0)


def draw_grid(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Regular thin lines over the image or a region of it.

    An anti-scatter grid's fine stripes, a measurement or graph grid (sometimes with heavier
    major lines), or a lattice of dots; sometimes slightly rotated.
    """
    out = image.copy()
    h, w = out.shape[:2]
    s = scale_of(out)
    style = rng.choice(["fine", "graph", "dots"], p=[0.3, 0.45, 0.25])
    if rng.random() < 0.25:
        a = math.radians(uniform(rng, -8, 8))
        xx = np.arange(w, dtype=np.float32)[None, :]
        yy = np.arange(h, dtype=np.float32)[:, None]
        u = xx * math.cos(a) + yy * math.sin(a)
        v = yy * math.cos(a) - xx * math.sin(a)
    else:
        u = np.arange(w, dtype=np.float32)[None, :]
        v = np.arange(h, dtype=np.float32)[:, None]
    if style == "fine":
        period = uniform(rng, 2.5, 5.0)
        amp = uniform(rng, 4, 12) * (1 if rng.random() < 0.5 else -1)
        coord = u if rng.random() < 0.6 else v
        delta = amp * _lines(coord, period, 0.5) * np.ones((h, w), np.float32)
    elif style == "graph":
        period = max(5.0, s * uniform(rng, 16, 60))
        amp = uniform(rng, 15, 60) * (1 if rng.random() < 0.7 else -1)
        lu, lv = _lines(u, period, 0.5), _lines(v, period, 0.5)
        if rng.random() < 0.4:  # major lines every fifth
            lu = np.maximum(lu * 0.5, _lines(u, period * 5, 0.7))
            lv = np.maximum(lv * 0.5, _lines(v, period * 5, 0.7))
        both = rng.random() < 0.7
        delta = amp * (np.maximum(lu, lv) if both else lu * np.ones_like(lv))
    else:
        period = max(5.0, s * uniform(rng, 12, 40))
        amp = uniform(rng, 30, 90) * (1 if rng.random() < 0.75 else -1)
        delta = amp * _lines(u, period, 1.0) * _lines(v, period, 1.0)
    delta = np.broadcast_to(delta, (h, w)).astype(np.float32)
    if rng.random() < 0.4:  # over a region only
        bw, bh = round(w * uniform(rng, 0.3, 0.7)), round(h * uniform(rng, 0.3, 0.7))
        x0, y0 = box_in(rng, h, w, bw, bh, margin=0.0)
        region = np.zeros((h, w), np.float32)
        region[y0 : y0 + bh, x0 : x0 + bw] = 1.0
        delta = delta * region
    if out.ndim == 3:
        delta = delta[..., None]
    out = np.clip(out.astype(np.float32) + delta + 0.5, 0, 255).astype(np.uint8)
    return out, "grid"
