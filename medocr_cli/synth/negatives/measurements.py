"""Measurement graphics as hard negatives: caliper crosses, dotted lines, ellipses, depth scales.

Small, sharp, letter-sized marks in scanner-graphics colours that the detector must not read as
text. Depth scales carry ticks, dots and focus markers but never numbers.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from medocr_cli.synth.negatives.drawing import (
    RGB,
    as_rgb,
    dot,
    fixed_point,
    ink,
    polyline,
    scale_of,
    uniform,
)

#: Overlay colours of scanner graphics: yellow, green, cyan, white, light grey, amber.
_OVERLAY_COLOURS: tuple[RGB, ...] = (
    (255, 255, 0),
    (40, 255, 40),
    (80, 255, 140),
    (0, 230, 255),
    (255, 255, 255),
    (215, 215, 215),
    (255, 200, 0),
)


def _triangle(
    img: np.ndarray,
    tip: tuple[float, float],
    direction: float,
    size: float,
    colour: tuple[float, ...],
    *,
    filled: bool = True,
) -> None:
    """A small arrowhead (focus marker) with its tip at `tip`, pointing along `direction`."""
    x, y = tip
    back = direction + math.pi
    pts = np.array(
        [
            (x, y),
            (x + size * math.cos(back - 0.5), y + size * math.sin(back - 0.5)),
            (x + size * math.cos(back + 0.5), y + size * math.sin(back + 0.5)),
        ]
    )
    if filled:
        cv2.fillPoly(img, [fixed_point(pts)], colour, cv2.LINE_AA, shift=4)
    else:
        polyline(img, pts, colour, 1, closed=True)


def _overlay_colour(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, RGB]:
    """A scanner-graphics colour; on grey images often plain white/grey (the image stays grey)."""
    if image.ndim == 3 or rng.random() < 0.5:
        return as_rgb(image), _OVERLAY_COLOURS[int(rng.integers(len(_OVERLAY_COLOURS)))]
    v = int(rng.integers(190, 256))
    return image.copy(), (v, v, v)


def _cross(img: np.ndarray, x: float, y: float, r: float, diagonal: bool, col: tuple) -> None:
    """A measurement cursor: '+' or, diagonal, 'x', of half-size r."""
    d = r * (math.sqrt(0.5) if diagonal else 1.0)
    arms = ((d, d), (d, -d)) if diagonal else ((r, 0.0), (0.0, r))
    for dx, dy in arms:
        polyline(img, np.array([(x - dx, y - dy), (x + dx, y + dy)]), col, 1)


def _dotted(
    img: np.ndarray, p: np.ndarray, q: np.ndarray, gap: float, r: float, col: tuple
) -> None:
    """Dots every `gap` pixels from p to q (the caliper's joining line)."""
    n = max(2, int(np.linalg.norm(q - p) / gap))
    for t in np.linspace(0, 1, n + 1)[1:-1]:
        dot(img, *(p + (q - p) * t), r, col)


def draw_calipers(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Measurement calipers: crosses joined by dotted or dashed lines, distance lines, ellipses.

    '+' or 'x' cursors at both ends of a dotted or dashed line, solid distance lines with end
    ticks, and dotted area ellipses, in scanner-graphics colours: small, sharp, letter-sized
    marks that the detector must not read as text.
    """
    out, rgb = _overlay_colour(rng, image)
    col = ink(out, rgb)
    h, w = out.shape[:2]
    s = scale_of(out)
    thick = 2 if s > 1.6 else 1
    for _ in range(int(rng.integers(1, 4))):
        style = rng.choice(
            ["dotted", "dashed", "ticks", "bare", "ellipse"], p=[0.4, 0.15, 0.15, 0.1, 0.2]
        )
        r, diagonal = s * uniform(rng, 3.5, 8.0), rng.random() < 0.4
        if style == "ellipse":
            c = np.array([w * uniform(rng, 0.2, 0.8), h * uniform(rng, 0.2, 0.8)])
            a, b, rot = s * uniform(rng, 20, 95), s * uniform(rng, 12, 60), uniform(rng, 0, math.pi)
            n = max(
                8,
                int(
                    2 * math.pi * math.sqrt((a * a + b * b) / 2) / max(2.0, s * uniform(rng, 4, 8))
                ),
            )
            t = np.linspace(0, 2 * math.pi, n, endpoint=False)
            ex = c[0] + a * np.cos(t) * math.cos(rot) - b * np.sin(t) * math.sin(rot)
            ey = c[1] + a * np.cos(t) * math.sin(rot) + b * np.sin(t) * math.cos(rot)
            for x, y in zip(ex, ey, strict=True):
                dot(out, float(x), float(y), max(0.8, 1.1 * s), col)
            for k in (0, n // 2):
                _cross(out, float(ex[k]), float(ey[k]), r, diagonal, col)
            continue
        p = np.array([w * uniform(rng, 0.1, 0.9), h * uniform(rng, 0.1, 0.9)])
        length, angle = s * uniform(rng, 25, 220), uniform(rng, -math.pi, math.pi)
        q = p + length * np.array([math.cos(angle), math.sin(angle)])
        q = np.clip(q, [w * 0.03, h * 0.03], [w * 0.97, h * 0.97])
        if style == "dotted":
            _dotted(
                out,
                p,
                q,
                max(2.5, s * uniform(rng, 4, 8)),
                max(0.7, s * uniform(rng, 0.8, 1.5)),
                col,
            )
        elif style == "dashed":
            dash, n = (
                max(2.0, s * uniform(rng, 3, 7)),
                max(2, int(np.linalg.norm(q - p) / max(4.0, s * 10))),
            )
            for t in np.linspace(0, 1, n, endpoint=False):
                a0 = p + (q - p) * t
                polyline(
                    out,
                    np.array([a0, a0 + (q - p) / max(1e-6, np.linalg.norm(q - p)) * dash]),
                    col,
                    thick,
                )
        elif style == "ticks":
            polyline(out, np.array([p, q]), col, thick)
            normal = np.array([-(q - p)[1], (q - p)[0]]) / max(1e-6, float(np.linalg.norm(q - p)))
            for end in (p, q):
                polyline(out, np.array([end - normal * r, end + normal * r]), col, thick)
            continue
        for x, y in (p, q):
            _cross(out, float(x), float(y), r, diagonal, col)
    return out, "calipers"


def draw_depth_scale(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """An ultrasound depth scale beside the image, with focus markers; never any numbers.

    A column of ticks or dots (heavier every few), small arrowheads marking the focal zones,
    and sometimes a horizontal distance bar below the image.
    """
    out, rgb = _overlay_colour(rng, image)
    col = ink(out, rgb)
    h, w = out.shape[:2]
    s = scale_of(out)
    left = rng.random() < 0.6
    x = w * uniform(rng, 0.01, 0.14) if left else w * uniform(rng, 0.86, 0.99)
    inward = 1.0 if left else -1.0
    y0, y1 = h * uniform(rng, 0.04, 0.22), h * uniform(rng, 0.6, 0.97)
    spacing, every = max(3.0, s * uniform(rng, 7, 24)), int(rng.choice([2, 5, 10]))
    style = rng.choice(["ticks", "dots", "both"], p=[0.45, 0.35, 0.2])
    ys = np.arange(y0, y1, spacing)
    for i, y in enumerate(ys):
        major = i % every == 0
        if style in ("ticks", "both"):
            length = s * (uniform(rng, 6, 9) if major else uniform(rng, 2.5, 4.5))
            polyline(out, np.array([(x, y), (x + inward * length, y)]), col, 1)
        if style in ("dots", "both") and (major or style == "dots"):
            dot(out, x - inward * 3 * s, float(y), max(0.7, s * (2.0 if major else 1.1)), col)
    if rng.random() < 0.3 and len(ys) > 1:
        polyline(out, np.array([(x, ys[0]), (x, ys[-1])]), col, 1)
    marker_col = (
        col
        if rng.random() < 0.6
        else ink(out, _OVERLAY_COLOURS[int(rng.integers(len(_OVERLAY_COLOURS)))])
    )
    filled = rng.random() < 0.7
    for _ in range(int(rng.integers(1, 4))):
        y = uniform(rng, y0, y1)
        tip = (x + inward * s * uniform(rng, 8, 16), y)
        _triangle(
            out,
            tip,
            0.0 if left else math.pi,
            max(3.0, s * uniform(rng, 4, 8)),
            marker_col,
            filled=filled,
        )
    if rng.random() < 0.3:  # horizontal scale bar below the image
        bx0, by = w * uniform(rng, 0.1, 0.4), h * uniform(rng, 0.85, 0.96)
        bx1 = bx0 + w * uniform(rng, 0.15, 0.35)
        tick = s * uniform(rng, 3, 6)
        polyline(out, np.array([(bx0, by - tick), (bx0, by), (bx1, by), (bx1, by - tick)]), col, 1)
        dot(out, uniform(rng, bx0, bx1), by - 2 * s, max(0.8, 1.6 * s), col)
    return out, "depth_scale"
