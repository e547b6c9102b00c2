"""Anatomy-like hard negatives: branching vessel trees and perfusion maps with dark curvy holes.

Angiography and CT angiography show thin, curving, forking bright or dark lines; perfusion maps
show mottled tissue riddled with black squiggles. Both look like handwriting to a naive
detector, so they are drawn here into the clean image.
"""

from __future__ import annotations

import math
from collections import deque

import cv2
import numpy as np

from medocr_cli.synth.negatives.drawing import (
    as_rgb,
    blend,
    polyline,
    random_walk,
    scale_of,
    smooth_field,
    uniform,
)


def draw_vessels(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """A branching vessel tree, dark (subtracted angiography) or bright (CT angiography, MIP).

    Curving segments fork repeatedly and thin out; thinner vessels are fainter, as contrast
    medium in a small lumen is.
    """
    out = image.copy()
    h, w = out.shape[:2]
    s = scale_of(out)
    layer = np.zeros((h, w), np.uint8)
    edge = int(rng.integers(4))
    along = uniform(rng, 0.15, 0.85)
    start, heading = {
        0: ((w * along, 0.0), math.pi / 2),
        1: ((w * along, float(h)), -math.pi / 2),
        2: ((0.0, h * along), 0.0),
        3: ((float(w), h * along), math.pi),
    }[edge]
    if rng.random() < 0.35:  # a tree rooted inside the field
        start, heading = (
            (w * uniform(rng, 0.25, 0.75), h * uniform(rng, 0.25, 0.75)),
            uniform(rng, -3.1, 3.1),
        )
    queue = deque([(start, heading + rng.normal(0, 0.3), s * uniform(rng, 3.0, 9.0), 0)])
    max_depth, budget = int(rng.integers(4, 8)), int(rng.integers(40, 130))
    while queue and budget > 0:  # breadth first, so the budget thins the finest twigs
        p, a, width, depth = queue.popleft()
        budget -= 1
        u = rng.random(12)  # one draw per segment: a loop of small draws costs more than lines
        pts = random_walk(rng, p, a, 3 + int(u[0] * 6), max(1.5, s * (5.0 + 6.0 * u[1])), 0.16)
        value = int(255 * min(1.0, 0.4 + width / (6.0 * s + 1e-6)))
        polyline(layer, pts, value, width)
        if depth >= max_depth or width < 0.9:
            continue
        end = (float(pts[-1][0]), float(pts[-1][1]))
        last = math.atan2(pts[-1][1] - pts[-2][1], pts[-1][0] - pts[-2][0])
        for k in range(3 if u[2] < 0.2 else 2):
            turn = (0.25 + 0.7 * u[3 + k]) * (1 if u[6 + k] < 0.5 else -1)
            queue.append((end, last + turn, width * (0.6 + 0.22 * u[9 + k]), depth + 1))
    alpha = cv2.GaussianBlur(layer, (0, 0), 0.4 + 0.4 * s).astype(np.float32)
    alpha *= uniform(rng, 0.4, 0.9) / 255.0
    bright = rng.random() < 0.45
    value = uniform(rng, 200, 255) if bright else uniform(rng, 0, 50)
    blend(out, alpha, (value,))
    return out, "vessels"


def draw_perfusion(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """A perfusion-map-like region: mottled, speckled tissue riddled with dark curvy holes.

    Like a CT brain perfusion map (vessels masked out as black squiggles), grey or through a
    rainbow colour map, with an irregular edge.
    """
    h, w = image.shape[:2]
    s = scale_of(image)
    colour = rng.random() < 0.35
    out = as_rgb(image) if colour else image.copy()
    cx, cy = w * uniform(rng, 0.3, 0.7), h * uniform(rng, 0.3, 0.7)
    ax, ay = w * uniform(rng, 0.15, 0.38), h * uniform(rng, 0.18, 0.42)
    x0, x1 = max(0, int(cx - ax * 1.2)), min(w, int(cx + ax * 1.2) + 1)
    y0, y1 = max(0, int(cy - ay * 1.2)), min(h, int(cy + ay * 1.2) + 1)
    shape = (y1 - y0, x1 - x0)
    if min(shape) < 4:
        return out, "perfusion"
    # The smooth parts (outline, tissue) are made at half resolution on larger images: a
    # quarter of the work, and perfusion maps are coarse, resampled images anyway.
    f = 2 if min(shape) >= 128 else 1
    small = (-(-shape[0] // f), -(-shape[1] // f))
    ys = np.arange(small[0], dtype=np.float32)[:, None] * f + (y0 + (f - 1) / 2)
    xs = np.arange(small[1], dtype=np.float32)[None, :] * f + (x0 + (f - 1) / 2)
    edge = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2
    edge += 0.2 * (smooth_field(rng, small, max(4.0, 40 * s / f)) - 0.5)
    region = np.clip((1.0 - edge) * 12.0, 0.0, 1.0)
    # A parametric map of the anatomy underneath: its detail, a raised level, blotchy mottling.
    under = out[y0:y1, x0:x1]
    lum = cv2.cvtColor(under, cv2.COLOR_RGB2GRAY) if under.ndim == 3 else under
    lum = cv2.resize(lum, (small[1], small[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
    detail = lum - cv2.blur(lum, (max(3, round(31 * s / f)) | 1,) * 2)
    tissue = uniform(rng, 150, 225) + uniform(rng, 0.3, 0.8) * detail
    tissue += uniform(rng, 15, 45) * (smooth_field(rng, small, max(3.0, 18 * s / f)) - 0.5)
    tissue += uniform(rng, 6, 18) * (smooth_field(rng, small, max(2.0, 5 * s / f)) - 0.5)
    tissue += rng.standard_normal(small, dtype=np.float32) * uniform(rng, 2.0, 7.0)
    if f > 1:
        size = (shape[1], shape[0])
        region = cv2.resize(region, size, interpolation=cv2.INTER_LINEAR)
        tissue = cv2.resize(tissue, size, interpolation=cv2.INTER_LINEAR)
    holes = np.zeros(shape, np.uint8)
    count = int(uniform(rng, 40, 110) * (ax * ay) / (150 * 150 * s * s) + 8)
    # Many holes lie near the rim (sulcal vessels), the rest anywhere; drawn in one batch of
    # random numbers, since a Python loop of small draws would cost more than the pixels.
    r = rng.random(count) ** np.where(rng.random(count) < 0.5, 0.3, 0.5)
    t = rng.uniform(0, 2 * math.pi, count)
    px, py = cx - x0 + ax * r * np.cos(t), cy - y0 + ay * r * np.sin(t)
    stroke = rng.random(count) < 0.6
    steps = rng.integers(2, 8, count)
    headings = rng.uniform(-3.1, 3.1, (count, 1)) + np.cumsum(rng.normal(0, 0.8, (count, 7)), 1)
    lengths = s * rng.uniform(2.5, 7, (count, 1))
    widths = np.maximum(1, np.round(s * rng.uniform(1.2, 4.0, count))).astype(int)
    axes = np.maximum(1, np.round(s * rng.uniform(0.8, [4.0, 2.5], (count, 2)))).astype(int)
    tilts = rng.uniform(0, 180, count)
    xs_walk = px[:, None] + np.cumsum(np.cos(headings) * lengths, 1)
    ys_walk = py[:, None] + np.cumsum(np.sin(headings) * lengths, 1)
    for i in range(count):
        if stroke[i]:
            pts = np.empty((steps[i] + 1, 2))
            pts[0] = px[i], py[i]
            pts[1:, 0], pts[1:, 1] = xs_walk[i, : steps[i]], ys_walk[i, : steps[i]]
            polyline(holes, pts, 255, widths[i])
        else:
            centre = (round(px[i]), round(py[i]))
            cv2.ellipse(
                holes, centre, (int(axes[i, 0]), int(axes[i, 1])), tilts[i], 0, 360, 255, -1
            )
    for _ in range(int(rng.integers(0, 4))):  # a few larger dark channels (sulci, ventricles)
        p = (cx - x0 + ax * uniform(rng, -0.5, 0.5), cy - y0 + ay * uniform(rng, -0.5, 0.5))
        pts = random_walk(
            rng, p, uniform(rng, -3.1, 3.1), int(rng.integers(3, 7)), s * uniform(rng, 5, 10), 0.5
        )
        polyline(holes, pts, 255, s * uniform(rng, 4, 9))
    dark = holes.astype(np.float32) / 255.0
    if colour:
        norm = np.clip((tissue - tissue.min()) / max(float(np.ptp(tissue)), 1.0) * 255, 0, 255)
        cmap = cv2.COLORMAP_JET if rng.random() < 0.6 else cv2.COLORMAP_RAINBOW
        bgr = cv2.applyColorMap(norm.astype(np.uint8), cmap)
        paint = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) * (1.0 - dark[..., None])
    else:
        paint = tissue * (1.0 - dark) + uniform(rng, 0, 25) * dark
        if out.ndim == 3:
            paint = np.repeat(paint[..., None], 3, axis=2)
    blend(out, region * uniform(rng, 0.8, 1.0), paint, at=(x0, y0))
    return out, "perfusion"
