"""Hard negatives for `generate-dataset`: stroke-like structures of real scans that are not text.

A text detector shown only text on calm anatomy learns "thin, curved, high contrast" and then
takes colour and power Doppler flow, vessel trees, perfusion maps with dark curvy holes, caliper
crosses and dotted lines, depth scales, ECG traces, wires and catheters, collimator edges and
grids for handwriting. The drawers here put such structures on a clean background BEFORE any
text is composited, so they belong to the clean image (the inpainter's target too) and never to
the text mask, the line boxes or the label: every model learns them as "not text".

Each drawer is a pure function of a random generator and an image (uint8 grey (H, W) or RGB
(H, W, 3)). It never changes its input; it returns a new image (RGB when it needed colour: a grey
image is promoted, as the text compositor does for coloured text) and the kind it drew. Nothing
here draws a glyph: depth scales carry no numbers and colour bars no labels, since anything
letter-like would be unlabelled text. Sizes are tuned at 512 px and scale with the image.

Which images get negatives is decided by `has_negatives` from (seed, index, share) alone, and
they are drawn with their own generator (`negatives_rng`), apart from the sample's: with share 0
the images are identical to those made before negatives existed, and raising the share only
adds images with negatives.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np

#: A drawer: (rng, image) -> (new image, kind drawn).
Drawer = Callable[[np.random.Generator, np.ndarray], tuple[np.ndarray, str]]

#: Default share of images that get hard negatives.
NEGATIVES_SHARE = 0.35

#: Seed word of the negatives' own random stream ("neg"), so the sample's stream is untouched.
_STREAM = 0x6E6567
#: Spacing of the low-discrepancy sequence that picks the images with negatives.
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0

RGB = tuple[int, int, int]

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
#: ECG and physiological trace colours: green, yellow, white, cyan.
_TRACE_COLOURS: tuple[RGB, ...] = ((0, 255, 0), (80, 240, 80), (255, 255, 0), (240, 240, 240))


def _lut(stops: tuple[tuple[float, RGB], ...]) -> np.ndarray:
    """A 256-entry RGB lookup table interpolated between (position 0-1, colour) stops."""
    t = np.linspace(0.0, 1.0, 256)
    xs = [p for p, _ in stops]
    cols = np.array([c for _, c in stops], np.float64)
    return np.stack([np.interp(t, xs, cols[:, k]) for k in range(3)], axis=1).astype(np.uint8)


#: Colour Doppler velocity map: index 0 = fastest away (cyan), 128 = still, 255 = fastest toward.
_VELOCITY_LUT = _lut(
    (
        (0.0, (150, 250, 255)),
        (0.18, (0, 120, 255)),
        (0.4, (0, 20, 170)),
        (0.5, (0, 0, 0)),
        (0.6, (150, 0, 0)),
        (0.82, (235, 50, 0)),
        (1.0, (255, 240, 120)),
    )
)
#: Power Doppler map: dark red, red, orange, yellow, pale yellow with rising power.
_POWER_LUT = _lut(
    (
        (0.0, (100, 0, 0)),
        (0.35, (200, 30, 0)),
        (0.65, (245, 125, 0)),
        (0.85, (255, 205, 40)),
        (1.0, (255, 245, 120)),
    )
)


# -- small helpers -----------------------------------------------------------------------------


def _scale(image: np.ndarray) -> float:
    """Size factor of drawn structures: 1 at 512 px."""
    return min(image.shape[:2]) / 512.0


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _rgb(image: np.ndarray) -> np.ndarray:
    """A copy of `image` as RGB (grey promoted)."""
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image.copy()


def _ink(image: np.ndarray, colour: RGB) -> tuple[float, ...]:
    """`colour` as an OpenCV drawing value for `image` (its luminance on a grey image)."""
    if image.ndim == 2:
        r, g, b = colour
        return (0.299 * r + 0.587 * g + 0.114 * b,)
    return tuple(float(c) for c in colour)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Float (N, 2) points as OpenCV fixed-point (4 fractional bits) polyline points."""
    return (np.asarray(points, np.float64) * 16.0 + 0.5).astype(np.int32).reshape(-1, 1, 2)


def _polyline(
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
    cv2.polylines(img, [_fixed(points)], closed, value, width, cv2.LINE_AA, shift=4)


def _dot(img: np.ndarray, x: float, y: float, r: float, colour: tuple[float, ...]) -> None:
    """Filled anti-aliased disc of radius `r` (sub-pixel centre)."""
    centre = (round(x * 16), round(y * 16))
    cv2.circle(img, centre, max(8, round(r * 16)), colour, -1, cv2.LINE_AA, shift=4)


def _walk(
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


def _field(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Smooth random field in [0, 1] with features about `cell` pixels across."""
    h, w = shape
    gy, gx = max(2, round(h / max(cell, 1.0)) + 1), max(2, round(w / max(cell, 1.0)) + 1)
    coarse = rng.random((gy, gx), dtype=np.float32)
    return np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _blend(
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
        cv2.fillPoly(img, [_fixed(pts)], colour, cv2.LINE_AA, shift=4)
    else:
        _polyline(img, pts, colour, 1, closed=True)


def _colour_bar(
    out: np.ndarray,
    rng: np.random.Generator,
    x: int,
    y: int,
    size: tuple[int, int],
    column: np.ndarray,
) -> None:
    """A vertical colour scale (the map's legend beside a Doppler box), without any label."""
    bw, bh = size
    h, w = out.shape[:2]
    x, y = min(max(0, x), w - bw - 1), min(max(0, y), h - bh - 1)
    idx = np.linspace(0, len(column) - 1, bh).round().astype(int)
    out[y : y + bh, x : x + bw] = column[idx][:, None, :]
    if rng.random() < 0.5:
        grey = int(rng.integers(120, 230))
        cv2.rectangle(out, (x - 1, y - 1), (x + bw, y + bh), (grey, grey, grey), 1)


def _box_in(
    rng: np.random.Generator, h: int, w: int, bw: int, bh: int, margin: float = 0.04
) -> tuple[int, int]:
    """Top-left corner of a bw x bh box placed at random inside an h x w image."""
    mx, my = max(1, round(w * margin)), max(1, round(h * margin))
    x = int(rng.integers(mx, max(mx + 1, w - bw - mx)))
    y = int(rng.integers(my, max(my + 1, h - bh - my)))
    return x, y


# -- ultrasound colour flow ----------------------------------------------------------------------


class _Roi(NamedTuple):
    """A Doppler region of interest: its mask (image size) and the geometry of its outline.

    Attributes:
        mask: uint8, 255 inside the ROI.
        box: (x, y, width, height) of a rectangular ROI; None for a sector.
        apex: Sector apex (x, y), possibly above the image.
        radii: Inner and outer sector radius.
        half: Sector half-angle in degrees.
    """

    mask: np.ndarray
    box: tuple[int, int, int, int] | None
    apex: tuple[int, int] = (0, 0)
    radii: tuple[int, int] = (0, 0)
    half: float = 0.0


def _roi(rng: np.random.Generator, out: np.ndarray, sector: bool) -> _Roi:
    """A box or sector (convex/phased probe) Doppler ROI placed at random in `out`."""
    h, w = out.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    if sector:
        half = _u(rng, 12.0, 28.0)
        depth = h * _u(rng, 0.22, 0.45)
        r0 = h * _u(rng, 0.1, 0.55)
        r1 = r0 + depth
        while r1 * math.sin(math.radians(half)) > w * 0.42 and half > 6:
            half *= 0.8
        cx = _u(rng, w * 0.25, w * 0.75)
        top, bottom = h * 0.04 - r0 * math.cos(math.radians(half)), h * 0.96 - r1
        ay = _u(rng, min(top, bottom), max(top, bottom))
        apex, radii = (round(cx), round(ay)), (round(r0), round(r1))
        cv2.ellipse(mask, apex, (radii[1], radii[1]), 0, 90 - half, 90 + half, 255, -1)
        cv2.ellipse(mask, apex, (radii[0], radii[0]), 0, 89 - half, 91 + half, 0, -1)
        return _Roi(mask, None, apex, radii, half)
    bw, bh = round(w * _u(rng, 0.22, 0.5)), round(h * _u(rng, 0.2, 0.45))
    x, y = _box_in(rng, h, w, bw, bh)
    mask[y : y + bh, x : x + bw] = 255
    return _Roi(mask, (x, y, bw, bh))


def _roi_outline(out: np.ndarray, roi: _Roi, colour: tuple[float, ...]) -> None:
    """Draw the thin outline of a Doppler ROI (box or sector)."""
    if roi.box is not None:
        x, y, bw, bh = roi.box
        cv2.rectangle(out, (x - 1, y - 1), (x + bw, y + bh), colour, 1)
        return
    (cx, cy), half = roi.apex, roi.half
    for r in roi.radii:
        cv2.ellipse(out, roi.apex, (r, r), 0, 90 - half, 90 + half, colour, 1, cv2.LINE_AA)
    r0, r1 = roi.radii
    for sign in (-1, 1):
        a = math.radians(sign * half)
        p0 = (cx + r0 * math.sin(a), cy + r0 * math.cos(a))
        p1 = (cx + r1 * math.sin(a), cy + r1 * math.cos(a))
        _polyline(out, np.array([p0, p1]), colour, 1)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _vessel_flow(rng: np.random.Generator, shape: tuple[int, int], s: float, n: int) -> np.ndarray:
    """Signed velocity of `n` curving vessels with side branches (laminar: fastest centrally)."""
    h, w = shape
    vel = np.zeros(shape, np.float32)
    layer = np.zeros(shape, np.uint8)
    for _ in range(n):
        layer[...] = 0
        width = s * _u(rng, 4.0, 15.0)
        start = (_u(rng, 0, w), _u(rng, 0, h))
        step = max(1.5, s * _u(rng, 3.0, 5.0))
        steps = int((h + w) / step * _u(rng, 0.3, 0.7))
        pts = _walk(rng, start, _u(rng, -math.pi, math.pi), steps, step, 0.1)
        _polyline(layer, pts, 255, width)
        for _ in range(int(rng.integers(0, 4))):
            at = pts[int(rng.integers(0, len(pts)))]
            side = _walk(rng, tuple(at), _u(rng, -math.pi, math.pi), steps // 3, step, 0.15)
            _polyline(layer, side, 255, width * _u(rng, 0.4, 0.75))
        prof = cv2.GaussianBlur(layer.astype(np.float32), (0, 0), max(0.8, width / 3))
        prof *= _u(rng, 0.5, 1.25) / max(float(prof.max()), 1e-6)
        sign = 1.0 if rng.random() < 0.5 else -1.0
        vel = np.where(prof > np.abs(vel), sign * prof, vel)
    # Faster than the scale's limit aliases: the core wraps to the other colour.
    return np.where(np.abs(vel) > 1.0, vel - 2.0 * np.sign(vel), vel)


def draw_colour_doppler(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Colour Doppler: red/blue flow in vessels and jets inside a box or sector ROI, colour bar.

    Red to yellow is flow toward the probe, blue to cyan away from it; the colour is ragged
    (thresholded, patchy), aliases to a yellow/cyan mosaic in turbulent jets, and is clipped
    to the ROI, as on GE, Philips and Siemens screens.
    """
    out = _rgb(image)
    s = _scale(out)
    roi = _roi(rng, out, sector=rng.random() < 0.45)
    mask = roi.mask
    box = _bbox(mask)
    if box is None:
        return out, "colour_doppler"
    x0, y0, x1, y1 = box
    shape = (y1 - y0, x1 - x0)
    vel = _vessel_flow(rng, shape, s, int(rng.integers(1, 6)))
    if rng.random() < 0.35:  # a turbulent jet (valve, stenosis): a flame of aliased mosaic
        jet = np.zeros(shape, np.uint8)
        root = (_u(rng, 0, shape[1]), _u(rng, 0, shape[0]))
        heading, length = _u(rng, -math.pi, math.pi), s * _u(rng, 30, 90)
        spread = _u(rng, 0.2, 0.5)
        tip_l = (
            root[0] + length * math.cos(heading - spread),
            root[1] + length * math.sin(heading - spread),
        )
        tip_r = (
            root[0] + length * math.cos(heading + spread),
            root[1] + length * math.sin(heading + spread),
        )
        cv2.fillPoly(jet, [_fixed(np.array([root, tip_l, tip_r]))], 255, cv2.LINE_AA, shift=4)
        far = (root[0] + length * math.cos(heading), root[1] + length * math.sin(heading))
        cv2.circle(
            jet, (round(far[0]), round(far[1])), max(2, round(length * math.sin(spread))), 255, -1
        )
        jet_f = cv2.GaussianBlur(jet.astype(np.float32) / 255.0, (0, 0), max(1.0, 3 * s))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        flip = _field(rng, shape, max(3.0, 6 * s)) < _u(rng, 0.2, 0.4)
        speed = 0.55 + 0.45 * _field(rng, shape, max(2.0, 4 * s))
        mosaic = np.where(flip, -sign, sign) * speed
        vel = np.where(jet_f > 0.35, mosaic, vel)
    # Ragged, patchy colour: fine speckle on top of slow gain changes.
    grain = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.8)
    vel *= (
        0.5
        + 0.5 * _field(rng, shape, max(6.0, 20 * s))
        + 0.35 * _field(rng, shape, max(2.0, 4 * s))
    )
    vel *= 1.0 + 0.6 * grain
    keep = (np.abs(vel) > _u(rng, 0.1, 0.22)) & (mask[y0:y1, x0:x1] > 0)
    if rng.random() < 0.35:  # gain noise: scattered colour pixels
        flash = (rng.random(shape, dtype=np.float32) < 0.003).astype(np.uint8)
        flash = cv2.dilate(flash, np.ones((2, 2), np.uint8)) > 0
        vel = np.where(flash, np.float32(rng.choice([-0.35, 0.35])), vel)
        keep |= flash & (mask[y0:y1, x0:x1] > 0)
    idx = np.clip(128 + vel * 127, 0, 255).astype(np.uint8)
    region = out[y0:y1, x0:x1]
    region[keep] = _VELOCITY_LUT[idx[keep]]
    if rng.random() < 0.85:
        grey = int(rng.integers(150, 256))
        _roi_outline(out, roi, (grey, grey, grey))
    if rng.random() < 0.85:
        bw, bh = max(3, round(s * _u(rng, 5, 10))), max(12, round(s * _u(rng, 60, 130)))
        column = _VELOCITY_LUT[::-1].copy()
        column[118:138] = 0  # the wall-filter band shows black
        x = round(x0 - bw - s * _u(rng, 6, 20)) if rng.random() < 0.5 else x1 + round(6 * s)
        if rng.random() < 0.4:  # at the screen's edge instead
            x = round(s * _u(rng, 4, 30)) if rng.random() < 0.5 else out.shape[1] - bw - 4
        _colour_bar(out, rng, x, round((y0 + y1) / 2 - bh / 2), (bw, bh), column)
    return out, "colour_doppler"


def draw_power_doppler(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Power Doppler: many small orange/yellow "flames" in an organ, in a thin box ROI.

    Short curved streaks radiate from a hilum through an oval organ, with isolated blobs, hot
    cores and ragged edges (like a lymph node's vascular tree); the legend bar runs dark red to
    yellow, sometimes mirrored and on both sides of the screen.
    """
    out = _rgb(image)
    h, w = out.shape[:2]
    s = _scale(out)
    bw, bh = round(w * _u(rng, 0.25, 0.55)), round(h * _u(rng, 0.18, 0.4))
    x0, y0 = _box_in(rng, h, w, bw, bh)
    layer = np.zeros((bh, bw), np.uint8)
    cx, cy = bw * _u(rng, 0.35, 0.65), bh * _u(rng, 0.4, 0.6)
    ax, ay = bw * _u(rng, 0.3, 0.47), bh * _u(rng, 0.25, 0.42)
    # The trunk: hilar vessels along the organ's long axis, where the colour is densest.
    tilt = rng.normal(0, 0.25)
    x_a = cx - ax * _u(rng, 0.3, 0.9)
    trunk = _walk(rng, (x_a, cy), tilt, 8, ax * _u(rng, 0.8, 1.6) / 8, 0.18)
    _polyline(layer, trunk, 255, s * _u(rng, 4, 9))
    along = np.concatenate([trunk[:-1] + (trunk[1:] - trunk[:-1]) * t for t in (0.25, 0.75)])
    n = int(_u(rng, 20, 55) * max(0.5, ax * ay / (80 * 45 * s * s)) ** 0.5)
    for _ in range(n):
        if rng.random() < 0.65:  # branches leave the trunk, mostly along the beam
            base = along[int(rng.integers(len(along)))]
            start = (base[0] + rng.normal(0, 3 * s), base[1] + rng.normal(0, 2 * s))
            heading = math.pi / 2 * (1 if rng.random() < 0.5 else -1) + rng.normal(0, 0.45)
        else:  # peripheral twigs inside the organ
            r, t = math.sqrt(rng.random()), _u(rng, 0, 2 * math.pi)
            start = (cx + ax * r * math.cos(t), cy + ay * r * math.sin(t))
            heading = math.atan2(start[1] - cy, start[0] - cx) + rng.normal(0, 0.8)
        steps, step = int(rng.integers(2, 9)), max(1.5, s * _u(rng, 3, 7))
        pts = _walk(rng, start, heading, steps, step, 0.3)
        _polyline(layer, pts, 255, s * _u(rng, 2.0, 5.5))
    for _ in range(int(rng.integers(6, 30))):  # isolated dots of flow
        r, t = math.sqrt(rng.random()) * 1.2, _u(rng, 0, 2 * math.pi)
        c = (round(cx + ax * r * math.cos(t)), round(cy + ay * r * math.sin(t)))
        axes = (max(1, round(s * _u(rng, 1.5, 6))), max(1, round(s * _u(rng, 1, 4))))
        cv2.ellipse(layer, c, axes, _u(rng, 0, 180), 0, 360, 255, -1)
    # Thick, dense flow saturates to yellow; thin edges stay red; speckle breaks it up.
    power = cv2.GaussianBlur(layer.astype(np.float32) / 255.0, (0, 0), 0.6 + 1.1 * s)
    power *= 0.45 + 0.85 * _field(rng, (bh, bw), max(2.5, 5 * s))
    keep = power > _u(rng, 0.15, 0.3)
    idx = np.clip(power * _u(rng, 200, 300), 0, 255).astype(np.uint8)
    region = out[y0 : y0 + bh, x0 : x0 + bw]
    region[keep] = _POWER_LUT[idx[keep]]
    if rng.random() < 0.85:
        grey = int(rng.integers(170, 256))
        cv2.rectangle(out, (x0 - 1, y0 - 1), (x0 + bw, y0 + bh), (grey, grey, grey), 1)
    if rng.random() < 0.85:
        bar_w, bar_h = max(3, round(s * _u(rng, 10, 22))), max(12, round(s * _u(rng, 40, 90)))
        column = _POWER_LUT[::-1].copy()
        if rng.random() < 0.5:  # mirrored scale, as GE shows it
            column = np.concatenate([column[::2], column[::-2]])
        y = round(y0 + bh / 2 - bar_h / 2)
        left = round(s * _u(rng, 3, 30))
        sides = [left] if rng.random() < 0.5 else [w - bar_w - left]
        if rng.random() < 0.3:
            sides = [left, w - bar_w - left]
        for x in sides:
            _colour_bar(out, rng, x, y, (bar_w, bar_h), column)
    return out, "power_doppler"


# -- anatomy-like structures -----------------------------------------------------------------------


def draw_vessels(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """A branching vessel tree, dark (subtracted angiography) or bright (CT angiography, MIP).

    Curving segments fork repeatedly and thin out; thinner vessels are fainter, as contrast
    medium in a small lumen is.
    """
    out = image.copy()
    h, w = out.shape[:2]
    s = _scale(out)
    layer = np.zeros((h, w), np.uint8)
    edge = int(rng.integers(4))
    along = _u(rng, 0.15, 0.85)
    start, heading = {
        0: ((w * along, 0.0), math.pi / 2),
        1: ((w * along, float(h)), -math.pi / 2),
        2: ((0.0, h * along), 0.0),
        3: ((float(w), h * along), math.pi),
    }[edge]
    if rng.random() < 0.35:  # a tree rooted inside the field
        start, heading = (w * _u(rng, 0.25, 0.75), h * _u(rng, 0.25, 0.75)), _u(rng, -3.1, 3.1)
    queue = deque([(start, heading + rng.normal(0, 0.3), s * _u(rng, 3.0, 9.0), 0)])
    max_depth, budget = int(rng.integers(4, 8)), int(rng.integers(40, 130))
    while queue and budget > 0:  # breadth first, so the budget thins the finest twigs
        p, a, width, depth = queue.popleft()
        budget -= 1
        u = rng.random(12)  # one draw per segment: a loop of small draws costs more than lines
        pts = _walk(rng, p, a, 3 + int(u[0] * 6), max(1.5, s * (5.0 + 6.0 * u[1])), 0.16)
        value = int(255 * min(1.0, 0.4 + width / (6.0 * s + 1e-6)))
        _polyline(layer, pts, value, width)
        if depth >= max_depth or width < 0.9:
            continue
        end = (float(pts[-1][0]), float(pts[-1][1]))
        last = math.atan2(pts[-1][1] - pts[-2][1], pts[-1][0] - pts[-2][0])
        for k in range(3 if u[2] < 0.2 else 2):
            turn = (0.25 + 0.7 * u[3 + k]) * (1 if u[6 + k] < 0.5 else -1)
            queue.append((end, last + turn, width * (0.6 + 0.22 * u[9 + k]), depth + 1))
    alpha = cv2.GaussianBlur(layer, (0, 0), 0.4 + 0.4 * s).astype(np.float32)
    alpha *= _u(rng, 0.4, 0.9) / 255.0
    bright = rng.random() < 0.45
    value = _u(rng, 200, 255) if bright else _u(rng, 0, 50)
    _blend(out, alpha, (value,))
    return out, "vessels"


def draw_perfusion(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """A perfusion-map-like region: mottled, speckled tissue riddled with dark curvy holes.

    Like a CT brain perfusion map (vessels masked out as black squiggles), grey or through a
    rainbow colour map, with an irregular edge.
    """
    h, w = image.shape[:2]
    s = _scale(image)
    colour = rng.random() < 0.35
    out = _rgb(image) if colour else image.copy()
    cx, cy = w * _u(rng, 0.3, 0.7), h * _u(rng, 0.3, 0.7)
    ax, ay = w * _u(rng, 0.15, 0.38), h * _u(rng, 0.18, 0.42)
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
    edge += 0.2 * (_field(rng, small, max(4.0, 40 * s / f)) - 0.5)
    region = np.clip((1.0 - edge) * 12.0, 0.0, 1.0)
    # A parametric map of the anatomy underneath: its detail, a raised level, blotchy mottling.
    under = out[y0:y1, x0:x1]
    lum = cv2.cvtColor(under, cv2.COLOR_RGB2GRAY) if under.ndim == 3 else under
    lum = cv2.resize(lum, (small[1], small[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
    detail = lum - cv2.blur(lum, (max(3, round(31 * s / f)) | 1,) * 2)
    tissue = _u(rng, 150, 225) + _u(rng, 0.3, 0.8) * detail
    tissue += _u(rng, 15, 45) * (_field(rng, small, max(3.0, 18 * s / f)) - 0.5)
    tissue += _u(rng, 6, 18) * (_field(rng, small, max(2.0, 5 * s / f)) - 0.5)
    tissue += rng.standard_normal(small, dtype=np.float32) * _u(rng, 2.0, 7.0)
    if f > 1:
        size = (shape[1], shape[0])
        region = cv2.resize(region, size, interpolation=cv2.INTER_LINEAR)
        tissue = cv2.resize(tissue, size, interpolation=cv2.INTER_LINEAR)
    holes = np.zeros(shape, np.uint8)
    count = int(_u(rng, 40, 110) * (ax * ay) / (150 * 150 * s * s) + 8)
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
            _polyline(holes, pts, 255, widths[i])
        else:
            centre = (round(px[i]), round(py[i]))
            cv2.ellipse(
                holes, centre, (int(axes[i, 0]), int(axes[i, 1])), tilts[i], 0, 360, 255, -1
            )
    for _ in range(int(rng.integers(0, 4))):  # a few larger dark channels (sulci, ventricles)
        p = (cx - x0 + ax * _u(rng, -0.5, 0.5), cy - y0 + ay * _u(rng, -0.5, 0.5))
        pts = _walk(rng, p, _u(rng, -3.1, 3.1), int(rng.integers(3, 7)), s * _u(rng, 5, 10), 0.5)
        _polyline(holes, pts, 255, s * _u(rng, 4, 9))
    dark = holes.astype(np.float32) / 255.0
    if colour:
        norm = np.clip((tissue - tissue.min()) / max(float(np.ptp(tissue)), 1.0) * 255, 0, 255)
        cmap = cv2.COLORMAP_JET if rng.random() < 0.6 else cv2.COLORMAP_RAINBOW
        bgr = cv2.applyColorMap(norm.astype(np.uint8), cmap)
        paint = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) * (1.0 - dark[..., None])
    else:
        paint = tissue * (1.0 - dark) + _u(rng, 0, 25) * dark
        if out.ndim == 3:
            paint = np.repeat(paint[..., None], 3, axis=2)
    _blend(out, region * _u(rng, 0.8, 1.0), paint, at=(x0, y0))
    return out, "perfusion"


# -- measurements and scales -----------------------------------------------------------------------


def _overlay_colour(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, RGB]:
    """A scanner-graphics colour; on grey images often plain white/grey (the image stays grey)."""
    if image.ndim == 3 or rng.random() < 0.5:
        return _rgb(image), _OVERLAY_COLOURS[int(rng.integers(len(_OVERLAY_COLOURS)))]
    v = int(rng.integers(190, 256))
    return image.copy(), (v, v, v)


def _cross(img: np.ndarray, x: float, y: float, r: float, diagonal: bool, col: tuple) -> None:
    """A measurement cursor: '+' or, diagonal, 'x', of half-size r."""
    d = r * (math.sqrt(0.5) if diagonal else 1.0)
    arms = ((d, d), (d, -d)) if diagonal else ((r, 0.0), (0.0, r))
    for dx, dy in arms:
        _polyline(img, np.array([(x - dx, y - dy), (x + dx, y + dy)]), col, 1)


def _dotted(
    img: np.ndarray, p: np.ndarray, q: np.ndarray, gap: float, r: float, col: tuple
) -> None:
    """Dots every `gap` pixels from p to q (the caliper's joining line)."""
    n = max(2, int(np.linalg.norm(q - p) / gap))
    for t in np.linspace(0, 1, n + 1)[1:-1]:
        _dot(img, *(p + (q - p) * t), r, col)


def draw_calipers(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Measurement calipers: crosses joined by dotted or dashed lines, distance lines, ellipses.

    '+' or 'x' cursors at both ends of a dotted or dashed line, solid distance lines with end
    ticks, and dotted area ellipses, in scanner-graphics colours: small, sharp, letter-sized
    marks that the detector must not read as text.
    """
    out, rgb = _overlay_colour(rng, image)
    col = _ink(out, rgb)
    h, w = out.shape[:2]
    s = _scale(out)
    thick = 2 if s > 1.6 else 1
    for _ in range(int(rng.integers(1, 4))):
        style = rng.choice(
            ["dotted", "dashed", "ticks", "bare", "ellipse"], p=[0.4, 0.15, 0.15, 0.1, 0.2]
        )
        r, diagonal = s * _u(rng, 3.5, 8.0), rng.random() < 0.4
        if style == "ellipse":
            c = np.array([w * _u(rng, 0.2, 0.8), h * _u(rng, 0.2, 0.8)])
            a, b, rot = s * _u(rng, 20, 95), s * _u(rng, 12, 60), _u(rng, 0, math.pi)
            n = max(
                8, int(2 * math.pi * math.sqrt((a * a + b * b) / 2) / max(2.0, s * _u(rng, 4, 8)))
            )
            t = np.linspace(0, 2 * math.pi, n, endpoint=False)
            ex = c[0] + a * np.cos(t) * math.cos(rot) - b * np.sin(t) * math.sin(rot)
            ey = c[1] + a * np.cos(t) * math.sin(rot) + b * np.sin(t) * math.cos(rot)
            for x, y in zip(ex, ey, strict=True):
                _dot(out, float(x), float(y), max(0.8, 1.1 * s), col)
            for k in (0, n // 2):
                _cross(out, float(ex[k]), float(ey[k]), r, diagonal, col)
            continue
        p = np.array([w * _u(rng, 0.1, 0.9), h * _u(rng, 0.1, 0.9)])
        length, angle = s * _u(rng, 25, 220), _u(rng, -math.pi, math.pi)
        q = p + length * np.array([math.cos(angle), math.sin(angle)])
        q = np.clip(q, [w * 0.03, h * 0.03], [w * 0.97, h * 0.97])
        if style == "dotted":
            _dotted(out, p, q, max(2.5, s * _u(rng, 4, 8)), max(0.7, s * _u(rng, 0.8, 1.5)), col)
        elif style == "dashed":
            dash, n = (
                max(2.0, s * _u(rng, 3, 7)),
                max(2, int(np.linalg.norm(q - p) / max(4.0, s * 10))),
            )
            for t in np.linspace(0, 1, n, endpoint=False):
                a0 = p + (q - p) * t
                _polyline(
                    out,
                    np.array([a0, a0 + (q - p) / max(1e-6, np.linalg.norm(q - p)) * dash]),
                    col,
                    thick,
                )
        elif style == "ticks":
            _polyline(out, np.array([p, q]), col, thick)
            normal = np.array([-(q - p)[1], (q - p)[0]]) / max(1e-6, float(np.linalg.norm(q - p)))
            for end in (p, q):
                _polyline(out, np.array([end - normal * r, end + normal * r]), col, thick)
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
    col = _ink(out, rgb)
    h, w = out.shape[:2]
    s = _scale(out)
    left = rng.random() < 0.6
    x = w * _u(rng, 0.01, 0.14) if left else w * _u(rng, 0.86, 0.99)
    inward = 1.0 if left else -1.0
    y0, y1 = h * _u(rng, 0.04, 0.22), h * _u(rng, 0.6, 0.97)
    spacing, every = max(3.0, s * _u(rng, 7, 24)), int(rng.choice([2, 5, 10]))
    style = rng.choice(["ticks", "dots", "both"], p=[0.45, 0.35, 0.2])
    ys = np.arange(y0, y1, spacing)
    for i, y in enumerate(ys):
        major = i % every == 0
        if style in ("ticks", "both"):
            length = s * (_u(rng, 6, 9) if major else _u(rng, 2.5, 4.5))
            _polyline(out, np.array([(x, y), (x + inward * length, y)]), col, 1)
        if style in ("dots", "both") and (major or style == "dots"):
            _dot(out, x - inward * 3 * s, float(y), max(0.7, s * (2.0 if major else 1.1)), col)
    if rng.random() < 0.3 and len(ys) > 1:
        _polyline(out, np.array([(x, ys[0]), (x, ys[-1])]), col, 1)
    marker_col = (
        col
        if rng.random() < 0.6
        else _ink(out, _OVERLAY_COLOURS[int(rng.integers(len(_OVERLAY_COLOURS)))])
    )
    filled = rng.random() < 0.7
    for _ in range(int(rng.integers(1, 4))):
        y = _u(rng, y0, y1)
        tip = (x + inward * s * _u(rng, 8, 16), y)
        _triangle(
            out,
            tip,
            0.0 if left else math.pi,
            max(3.0, s * _u(rng, 4, 8)),
            marker_col,
            filled=filled,
        )
    if rng.random() < 0.3:  # horizontal scale bar below the image
        bx0, by = w * _u(rng, 0.1, 0.4), h * _u(rng, 0.85, 0.96)
        bx1 = bx0 + w * _u(rng, 0.15, 0.35)
        tick = s * _u(rng, 3, 6)
        _polyline(out, np.array([(bx0, by - tick), (bx0, by), (bx1, by), (bx1, by - tick)]), col, 1)
        _dot(out, _u(rng, bx0, bx1), by - 2 * s, max(0.8, 1.6 * s), col)
    return out, "depth_scale"


def draw_ecg(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """An ECG trace along the bottom of the image, as on echo and angiography screens.

    P-QRS-T complexes with baseline wander, sometimes a second physiological trace above and a
    cursor marking the displayed frame.
    """
    h, w = image.shape[:2]
    s = _scale(image)
    if image.ndim == 2 and rng.random() < 0.3:
        v = int(rng.integers(190, 256))
        out, rgb = image.copy(), (v, v, v)
    else:
        out, rgb = _rgb(image), _TRACE_COLOURS[int(rng.integers(len(_TRACE_COLOURS)))]
    col = _ink(out, rgb)
    x0, x1 = w * _u(rng, 0.0, 0.15), w * _u(rng, 0.7, 1.0)
    base, amp = h * _u(rng, 0.82, 0.95), s * _u(rng, 14, 40)
    period = max(12.0, s * _u(rng, 55, 140))
    xs = np.arange(x0, x1, 1.0)
    t = ((xs - x0 + _u(rng, 0, period)) % period) / period
    wave = np.zeros_like(xs)
    for centre, height, width in (
        (0.15, 0.12, 0.025),
        (0.285, -0.12, 0.008),
        (0.3, 1.0, 0.011),
        (0.315, -0.25, 0.01),
        (0.55, 0.3, 0.045),
    ):
        wave += height * np.exp(-(((t - centre) / width) ** 2))
    wave += 0.06 * np.sin(2 * math.pi * xs / (s * _u(rng, 150, 400)) + _u(rng, 0, 6))
    wave += rng.normal(0, 0.015, xs.size)
    thick = 2 if s > 1.4 or rng.random() < 0.25 else 1
    _polyline(out, np.stack([xs, base - amp * wave], axis=1), col, thick)
    if rng.random() < 0.3:  # respiration or pleth above it
        other = _ink(out, _TRACE_COLOURS[int(rng.integers(len(_TRACE_COLOURS)))])
        trace = base - amp * 1.8 - amp * 0.4 * np.sin(2 * math.pi * xs / (s * _u(rng, 120, 300)))
        _polyline(out, np.stack([xs, trace], axis=1), other, 1)
    if rng.random() < 0.35:  # the cursor marking the displayed frame
        cx = _u(rng, x0, x1)
        _polyline(out, np.array([(cx, base - amp * 1.3), (cx, base + amp * 0.5)]), col, 1)
    return out, "ecg"


# -- devices, collimation, grids ------------------------------------------------------------


def draw_devices(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Foreign bodies: catheters, wires, clips, ECG electrodes and bright specks.

    Long curvy tubes and lines, thin wires and sternal wire loops, small bright rectangles
    (surgical clips), rings with a centre snap (electrodes) and scattered specks. Metal is
    bright, or dark on an inverted radiograph.
    """
    out = image.copy()
    h, w = out.shape[:2]
    s = _scale(out)
    layer = np.zeros((h, w), np.uint8)
    items = rng.choice(
        ["catheter", "wire", "clips", "specks", "electrode"],
        size=int(rng.integers(1, 4)),
        replace=False,
        p=[0.3, 0.2, 0.2, 0.15, 0.15],
    )
    for item in items:
        if item in ("catheter", "wire"):
            edge = int(rng.integers(4))
            along = _u(rng, 0.1, 0.9)
            start = [
                (w * along, 0.0),
                (w * along, float(h)),
                (0.0, h * along),
                (float(w), h * along),
            ][edge]
            heading = [math.pi / 2, -math.pi / 2, 0.0, math.pi][edge] + rng.normal(0, 0.4)
            step = max(2.0, s * _u(rng, 5, 8))
            pts = _walk(
                rng, start, heading, int(_u(rng, 0.4, 1.1) * (h + w) / 2 / step), step, 0.07
            )
            if item == "catheter":
                width = s * _u(rng, 2, 5)
                _polyline(layer, pts, 235, width)
                if rng.random() < 0.3:  # a tube: bright walls, fainter lumen
                    _polyline(layer, pts, 130, max(1.0, width * 0.45))
                tip = pts[-1]
                if rng.random() < 0.5 and 0 <= tip[0] < w and 0 <= tip[1] < h:
                    _dot(layer, float(tip[0]), float(tip[1]), width * 0.9, (255,))
            else:
                _polyline(layer, pts, 255, max(1.0, s * _u(rng, 0.8, 1.6)))
                if rng.random() < 0.5:  # sternal wires: a column of twisted loops
                    cx, cy = w * _u(rng, 0.4, 0.6), h * _u(rng, 0.2, 0.4)
                    for k in range(int(rng.integers(2, 6))):
                        c = (round(cx + rng.normal(0, 3 * s)), round(cy + k * s * _u(rng, 25, 45)))
                        axes = (max(2, round(s * _u(rng, 7, 13))), max(1, round(s * _u(rng, 3, 6))))
                        cv2.ellipse(
                            layer,
                            c,
                            axes,
                            _u(rng, -15, 15),
                            0,
                            360,
                            255,
                            max(1, round(1.5 * s)),
                            cv2.LINE_AA,
                        )
                        twist = np.array(
                            [(c[0] + axes[0], c[1]), (c[0] + axes[0] + 5 * s, c[1] + 3 * s)]
                        )
                        _polyline(layer, twist, 255, max(1.0, 1.5 * s))
        elif item == "clips":
            cx, cy = w * _u(rng, 0.15, 0.85), h * _u(rng, 0.15, 0.85)
            for _ in range(int(rng.integers(1, 7))):
                centre = (cx + rng.normal(0, 20 * s), cy + rng.normal(0, 20 * s))
                size = (max(2.0, s * _u(rng, 6, 16)), max(1.0, s * _u(rng, 2, 4.5)))
                corners = cv2.boxPoints((centre, size, _u(rng, 0, 180)))
                cv2.fillPoly(layer, [_fixed(corners)], 255, cv2.LINE_AA, shift=4)
        elif item == "specks":
            cx, cy = w * _u(rng, 0.1, 0.9), h * _u(rng, 0.1, 0.9)
            spread = s * _u(rng, 10, 120)
            for _ in range(int(rng.integers(3, 40))):
                x, y = cx + rng.normal(0, spread), cy + rng.normal(0, spread)
                _dot(layer, x, y, max(0.6, s * _u(rng, 0.8, 2.5)), (int(rng.integers(180, 256)),))
        else:  # ECG electrodes: a ring with a snap in the middle, sometimes with its lead
            for _ in range(int(rng.integers(1, 4))):
                x, y = w * _u(rng, 0.1, 0.9), h * _u(rng, 0.1, 0.9)
                radius = max(3, round(s * _u(rng, 7, 14)))
                cv2.circle(
                    layer,
                    (round(x), round(y)),
                    radius,
                    200,
                    max(1, round(s * _u(rng, 1.5, 3))),
                    cv2.LINE_AA,
                )
                _dot(layer, x, y, max(1.0, s * _u(rng, 2, 4)), (255,))
                if rng.random() < 0.5:
                    lead = _walk(
                        rng, (x, y), _u(rng, -3.1, 3.1), int(rng.integers(8, 30)), 6 * s, 0.15
                    )
                    _polyline(layer, lead, 220, max(1.0, s * 1.2))
    alpha = layer.astype(np.float32) * (_u(rng, 0.7, 1.0) / 255.0)
    value = _u(rng, 10, 40) if rng.random() < 0.15 else _u(rng, 215, 255)
    _blend(out, alpha, (value,))
    return out, "devices"


def draw_collimator(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Collimator edges: straight dark or bright borders, or a round field.

    Slightly tilted shutters on 1-4 sides, or the circle of an image intensifier, with a soft
    or sharp edge and sometimes a thin bright line along it.
    """
    out = image.copy()
    h, w = out.shape[:2]
    s = _scale(out)
    mask = np.zeros((h, w), np.uint8)
    lines: list[np.ndarray] = []
    if rng.random() < 0.25:
        mask[...] = 255
        centre = (round(w * _u(rng, 0.42, 0.58)), round(h * _u(rng, 0.42, 0.58)))
        cv2.circle(mask, centre, round(min(h, w) * _u(rng, 0.42, 0.62)), 0, -1, cv2.LINE_AA)
    else:
        sides = rng.permutation(4)[: int(rng.integers(1, 5))]
        for side in sides:
            depth = (w if side < 2 else h) * _u(rng, 0.03, 0.22)
            tilt = math.tan(math.radians(_u(rng, -5, 5)))
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
            cv2.fillPoly(mask, [_fixed(poly.astype(np.float64))], 255, cv2.LINE_AA, shift=4)
    sigma = _u(rng, 0.3, 2.5) * max(s, 0.5)
    alpha = cv2.GaussianBlur(mask, (0, 0), sigma).astype(np.float32) * (_u(rng, 0.85, 1.0) / 255.0)
    value = _u(rng, 0, 35) if rng.random() < 0.8 else _u(rng, 200, 250)
    _blend(out, alpha, (value,))
    if lines and rng.random() < 0.25:
        v = _u(rng, 200, 255)
        for line in lines:
            _polyline(out, line, _ink(out, (round(v),) * 3), 1)
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
    s = _scale(out)
    style = rng.choice(["fine", "graph", "dots"], p=[0.3, 0.45, 0.25])
    if rng.random() < 0.25:
        a = math.radians(_u(rng, -8, 8))
        xx = np.arange(w, dtype=np.float32)[None, :]
        yy = np.arange(h, dtype=np.float32)[:, None]
        u = xx * math.cos(a) + yy * math.sin(a)
        v = yy * math.cos(a) - xx * math.sin(a)
    else:
        u = np.arange(w, dtype=np.float32)[None, :]
        v = np.arange(h, dtype=np.float32)[:, None]
    if style == "fine":
        period = _u(rng, 2.5, 5.0)
        amp = _u(rng, 4, 12) * (1 if rng.random() < 0.5 else -1)
        coord = u if rng.random() < 0.6 else v
        delta = amp * _lines(coord, period, 0.5) * np.ones((h, w), np.float32)
    elif style == "graph":
        period = max(5.0, s * _u(rng, 16, 60))
        amp = _u(rng, 15, 60) * (1 if rng.random() < 0.7 else -1)
        lu, lv = _lines(u, period, 0.5), _lines(v, period, 0.5)
        if rng.random() < 0.4:  # major lines every fifth
            lu = np.maximum(lu * 0.5, _lines(u, period * 5, 0.7))
            lv = np.maximum(lv * 0.5, _lines(v, period * 5, 0.7))
        both = rng.random() < 0.7
        delta = amp * (np.maximum(lu, lv) if both else lu * np.ones_like(lv))
    else:
        period = max(5.0, s * _u(rng, 12, 40))
        amp = _u(rng, 30, 90) * (1 if rng.random() < 0.75 else -1)
        delta = amp * _lines(u, period, 1.0) * _lines(v, period, 1.0)
    delta = np.broadcast_to(delta, (h, w)).astype(np.float32)
    if rng.random() < 0.4:  # over a region only
        bw, bh = round(w * _u(rng, 0.3, 0.7)), round(h * _u(rng, 0.3, 0.7))
        x0, y0 = _box_in(rng, h, w, bw, bh, margin=0.0)
        region = np.zeros((h, w), np.float32)
        region[y0 : y0 + bh, x0 : x0 + bw] = 1.0
        delta = delta * region
    if out.ndim == 3:
        delta = delta[..., None]
    out = np.clip(out.astype(np.float32) + delta + 0.5, 0, 255).astype(np.uint8)
    return out, "grid"


# -- choosing --------------------------------------------------------------------------------------

#: Every drawer by the kind it draws.
DRAWERS: dict[str, Drawer] = {
    "colour_doppler": draw_colour_doppler,
    "power_doppler": draw_power_doppler,
    "vessels": draw_vessels,
    "perfusion": draw_perfusion,
    "calipers": draw_calipers,
    "depth_scale": draw_depth_scale,
    "ecg": draw_ecg,
    "devices": draw_devices,
    "collimator": draw_collimator,
    "grid": draw_grid,
}
KINDS: tuple[str, ...] = tuple(DRAWERS)

#: Drawing order, from what lies in the anatomy to what the screen overlays on it.
_ORDER = (
    "collimator",
    "grid",
    "perfusion",
    "vessels",
    "devices",
    "power_doppler",
    "colour_doppler",
    "depth_scale",
    "calipers",
    "ecg",
)

#: How likely each kind is per background modality (in `KINDS` order); every kind stays
#: possible everywhere, since the detector meets every kind on every kind of image.
_WEIGHTS: dict[str, tuple[float, ...]] = {
    "US": (3.0, 3.0, 0.5, 0.3, 3.0, 3.0, 1.5, 0.4, 0.3, 0.4),
    "CT": (0.5, 0.5, 2.5, 2.5, 1.5, 0.4, 0.6, 1.2, 0.6, 0.8),
    "MR": (0.5, 0.5, 2.5, 2.5, 1.5, 0.4, 0.6, 0.8, 0.6, 0.8),
    "XR": (0.4, 0.4, 2.0, 0.4, 1.5, 0.4, 0.6, 3.0, 3.0, 1.5),
}
_WEIGHTS["CR"] = _WEIGHTS["XR"]


def has_negatives(seed: int, index: int, share: float) -> bool:
    """Whether image `index` of the dataset made with `seed` gets hard negatives.

    A golden-ratio sequence (offset by the seed) rather than a coin flip: the share is met
    almost exactly in any run of consecutive images (the preview's first 24 included), and an
    image that gets negatives at some share also gets them at any larger one.
    """
    if share <= 0.0:
        return False
    offset = float(np.random.default_rng([seed, _STREAM]).random())
    return (index * _GOLDEN + offset) % 1.0 < share


def negatives_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that draws image `index`'s negatives, apart from the sample's own."""
    return np.random.default_rng([seed, index, _STREAM])


def add_negatives(
    rng: np.random.Generator, image: np.ndarray, modality: str = ""
) -> tuple[np.ndarray, list[str]]:
    """Draw 1-3 different kinds of hard negatives on `image`, likelier ones for its modality.

    Returns:
        The new image (RGB if any drawer needed colour) and the kinds drawn, in drawing order.
    """
    weights = np.array(_WEIGHTS.get(modality, (1.0,) * len(KINDS)))
    n = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
    picked = [str(k) for k in rng.choice(KINDS, size=n, replace=False, p=weights / weights.sum())]
    if "colour_doppler" in picked and "power_doppler" in picked:  # one flow mode per screen
        picked.remove(max("colour_doppler", "power_doppler", key=picked.index))
    kinds: list[str] = []
    for kind in sorted(picked, key=_ORDER.index):
        image, drawn = DRAWERS[kind](rng, image)
        kinds.append(drawn)
    return image, kinds
