"""Ultrasound colour flow as hard negatives: colour and power Doppler in a ROI, with colour bars.

Ragged, thresholded flow in curving vessels and aliasing jets (colour Doppler), or the flame-like
vascular tree of an organ (power Doppler), clipped to a box or sector ROI with its outline and
an unlabelled colour scale beside it, as on GE, Philips and Siemens screens.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from medocr_cli.synth.negatives.drawing import (
    RGB,
    as_rgb,
    box_in,
    fixed_point,
    polyline,
    random_walk,
    scale_of,
    smooth_field,
    uniform,
)


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
        half = uniform(rng, 12.0, 28.0)
        depth = h * uniform(rng, 0.22, 0.45)
        r0 = h * uniform(rng, 0.1, 0.55)
        r1 = r0 + depth
        while r1 * math.sin(math.radians(half)) > w * 0.42 and half > 6:
            half *= 0.8
        cx = uniform(rng, w * 0.25, w * 0.75)
        top, bottom = h * 0.04 - r0 * math.cos(math.radians(half)), h * 0.96 - r1
        ay = uniform(rng, min(top, bottom), max(top, bottom))
        apex, radii = (round(cx), round(ay)), (round(r0), round(r1))
        cv2.ellipse(mask, apex, (radii[1], radii[1]), 0, 90 - half, 90 + half, 255, -1)
        cv2.ellipse(mask, apex, (radii[0], radii[0]), 0, 89 - half, 91 + half, 0, -1)
        return _Roi(mask, None, apex, radii, half)
    bw, bh = round(w * uniform(rng, 0.22, 0.5)), round(h * uniform(rng, 0.2, 0.45))
    x, y = box_in(rng, h, w, bw, bh)
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
        polyline(out, np.array([p0, p1]), colour, 1)


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
        width = s * uniform(rng, 4.0, 15.0)
        start = (uniform(rng, 0, w), uniform(rng, 0, h))
        step = max(1.5, s * uniform(rng, 3.0, 5.0))
        steps = int((h + w) / step * uniform(rng, 0.3, 0.7))
        pts = random_walk(rng, start, uniform(rng, -math.pi, math.pi), steps, step, 0.1)
        polyline(layer, pts, 255, width)
        for _ in range(int(rng.integers(0, 4))):
            at = pts[int(rng.integers(0, len(pts)))]
            side = random_walk(
                rng, tuple(at), uniform(rng, -math.pi, math.pi), steps // 3, step, 0.15
            )
            polyline(layer, side, 255, width * uniform(rng, 0.4, 0.75))
        prof = cv2.GaussianBlur(layer.astype(np.float32), (0, 0), max(0.8, width / 3))
        prof *= uniform(rng, 0.5, 1.25) / max(float(prof.max()), 1e-6)
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
    out = as_rgb(image)
    s = scale_of(out)
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
        root = (uniform(rng, 0, shape[1]), uniform(rng, 0, shape[0]))
        heading, length = uniform(rng, -math.pi, math.pi), s * uniform(rng, 30, 90)
        spread = uniform(rng, 0.2, 0.5)
        tip_l = (
            root[0] + length * math.cos(heading - spread),
            root[1] + length * math.sin(heading - spread),
        )
        tip_r = (
            root[0] + length * math.cos(heading + spread),
            root[1] + length * math.sin(heading + spread),
        )
        cv2.fillPoly(jet, [fixed_point(np.array([root, tip_l, tip_r]))], 255, cv2.LINE_AA, shift=4)
        far = (root[0] + length * math.cos(heading), root[1] + length * math.sin(heading))
        cv2.circle(
            jet, (round(far[0]), round(far[1])), max(2, round(length * math.sin(spread))), 255, -1
        )
        jet_f = cv2.GaussianBlur(jet.astype(np.float32) / 255.0, (0, 0), max(1.0, 3 * s))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        flip = smooth_field(rng, shape, max(3.0, 6 * s)) < uniform(rng, 0.2, 0.4)
        speed = 0.55 + 0.45 * smooth_field(rng, shape, max(2.0, 4 * s))
        mosaic = np.where(flip, -sign, sign) * speed
        vel = np.where(jet_f > 0.35, mosaic, vel)
    # Ragged, patchy colour: fine speckle on top of slow gain changes.
    grain = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.8)
    vel *= (
        0.5
        + 0.5 * smooth_field(rng, shape, max(6.0, 20 * s))
        + 0.35 * smooth_field(rng, shape, max(2.0, 4 * s))
    )
    vel *= 1.0 + 0.6 * grain
    keep = (np.abs(vel) > uniform(rng, 0.1, 0.22)) & (mask[y0:y1, x0:x1] > 0)
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
        bw, bh = max(3, round(s * uniform(rng, 5, 10))), max(12, round(s * uniform(rng, 60, 130)))
        column = _VELOCITY_LUT[::-1].copy()
        column[118:138] = 0  # the wall-filter band shows black
        x = round(x0 - bw - s * uniform(rng, 6, 20)) if rng.random() < 0.5 else x1 + round(6 * s)
        if rng.random() < 0.4:  # at the screen's edge instead
            x = round(s * uniform(rng, 4, 30)) if rng.random() < 0.5 else out.shape[1] - bw - 4
        _colour_bar(out, rng, x, round((y0 + y1) / 2 - bh / 2), (bw, bh), column)
    return out, "colour_doppler"


def draw_power_doppler(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Power Doppler: many small orange/yellow "flames" in an organ, in a thin box ROI.

    Short curved streaks radiate from a hilum through an oval organ, with isolated blobs, hot
    cores and ragged edges (like a lymph node's vascular tree); the legend bar runs dark red to
    yellow, sometimes mirrored and on both sides of the screen.
    """
    out = as_rgb(image)
    h, w = out.shape[:2]
    s = scale_of(out)
    bw, bh = round(w * uniform(rng, 0.25, 0.55)), round(h * uniform(rng, 0.18, 0.4))
    x0, y0 = box_in(rng, h, w, bw, bh)
    layer = np.zeros((bh, bw), np.uint8)
    cx, cy = bw * uniform(rng, 0.35, 0.65), bh * uniform(rng, 0.4, 0.6)
    ax, ay = bw * uniform(rng, 0.3, 0.47), bh * uniform(rng, 0.25, 0.42)
    # The trunk: hilar vessels along the organ's long axis, where the colour is densest.
    tilt = rng.normal(0, 0.25)
    x_a = cx - ax * uniform(rng, 0.3, 0.9)
    trunk = random_walk(rng, (x_a, cy), tilt, 8, ax * uniform(rng, 0.8, 1.6) / 8, 0.18)
    polyline(layer, trunk, 255, s * uniform(rng, 4, 9))
    along = np.concatenate([trunk[:-1] + (trunk[1:] - trunk[:-1]) * t for t in (0.25, 0.75)])
    n = int(uniform(rng, 20, 55) * max(0.5, ax * ay / (80 * 45 * s * s)) ** 0.5)
    for _ in range(n):
        if rng.random() < 0.65:  # branches leave the trunk, mostly along the beam
            base = along[int(rng.integers(len(along)))]
            start = (base[0] + rng.normal(0, 3 * s), base[1] + rng.normal(0, 2 * s))
            heading = math.pi / 2 * (1 if rng.random() < 0.5 else -1) + rng.normal(0, 0.45)
        else:  # peripheral twigs inside the organ
            r, t = math.sqrt(rng.random()), uniform(rng, 0, 2 * math.pi)
            start = (cx + ax * r * math.cos(t), cy + ay * r * math.sin(t))
            heading = math.atan2(start[1] - cy, start[0] - cx) + rng.normal(0, 0.8)
        steps, step = int(rng.integers(2, 9)), max(1.5, s * uniform(rng, 3, 7))
        pts = random_walk(rng, start, heading, steps, step, 0.3)
        polyline(layer, pts, 255, s * uniform(rng, 2.0, 5.5))
    for _ in range(int(rng.integers(6, 30))):  # isolated dots of flow
        r, t = math.sqrt(rng.random()) * 1.2, uniform(rng, 0, 2 * math.pi)
        c = (round(cx + ax * r * math.cos(t)), round(cy + ay * r * math.sin(t)))
        axes = (max(1, round(s * uniform(rng, 1.5, 6))), max(1, round(s * uniform(rng, 1, 4))))
        cv2.ellipse(layer, c, axes, uniform(rng, 0, 180), 0, 360, 255, -1)
    # Thick, dense flow saturates to yellow; thin edges stay red; speckle breaks it up.
    power = cv2.GaussianBlur(layer.astype(np.float32) / 255.0, (0, 0), 0.6 + 1.1 * s)
    power *= 0.45 + 0.85 * smooth_field(rng, (bh, bw), max(2.5, 5 * s))
    keep = power > uniform(rng, 0.15, 0.3)
    idx = np.clip(power * uniform(rng, 200, 300), 0, 255).astype(np.uint8)
    region = out[y0 : y0 + bh, x0 : x0 + bw]
    region[keep] = _POWER_LUT[idx[keep]]
    if rng.random() < 0.85:
        grey = int(rng.integers(170, 256))
        cv2.rectangle(out, (x0 - 1, y0 - 1), (x0 + bw, y0 + bh), (grey, grey, grey), 1)
    if rng.random() < 0.85:
        bar_w, bar_h = (
            max(3, round(s * uniform(rng, 10, 22))),
            max(12, round(s * uniform(rng, 40, 90))),
        )
        column = _POWER_LUT[::-1].copy()
        if rng.random() < 0.5:  # mirrored scale, as GE shows it
            column = np.concatenate([column[::2], column[::-2]])
        y = round(y0 + bh / 2 - bar_h / 2)
        left = round(s * uniform(rng, 3, 30))
        sides = [left] if rng.random() < 0.5 else [w - bar_w - left]
        if rng.random() < 0.3:
            sides = [left, w - bar_w - left]
        for x in sides:
            _colour_bar(out, rng, x, y, (bar_w, bar_h), column)
    return out, "power_doppler"
