"""Procedural ultrasound: sector or linear fields of speckle, cysts and vessels, maybe Doppler.

The echo image is log-compressed to 8 bits as a scanner does; a share of the images gets
colour or power Doppler flow painted in its vessels and becomes RGB.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from medocr_cli.synth.backgrounds.drawing import (
    apply_layout,
    ellipse_mask,
    fill_ellipse,
    point,
    polygon,
    px_axes,
    random_layout,
    smooth_field,
    uniform,
    upscale,
)
from medocr_cli.synth.backgrounds.noise import NoiseBanks, texture_window

#: Probability that a procedural ultrasound gets Doppler-like colour flow.
DOPPLER_PROB = 0.40
#: Entries of the ultrasound log-compression table (intensity 0-2 in these steps).
_US_LUT_STEPS = 4096


def draw_us(rng: np.random.Generator, size: int, banks: NoiseBanks) -> np.ndarray:
    """An ultrasound image: black field, sector/linear shape, speckle, depth attenuation.

    With probability `DOPPLER_PROB` colour flow is painted in vessels and the result is RGB.
    """
    side = max(32, size // 2)
    probe = rng.choice(3, p=[0.45, 0.35, 0.20])  # convex, phased, linear
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    top = side * uniform(rng, 0.03, 0.1)
    if probe == 2:
        x0, x1 = side * uniform(rng, 0.05, 0.2), side * uniform(rng, 0.8, 0.95)
        depth = (ys - top) / (side * uniform(rng, 0.85, 0.95))
        mask = (xs >= x0) & (xs <= x1) & (depth >= 0) & (depth <= 1)
    else:
        r0 = side * (uniform(rng, 0.2, 0.45) if probe == 0 else uniform(rng, 0.0, 0.03))
        r1 = r0 + side * uniform(rng, 0.78, 0.9)
        half = math.radians(uniform(rng, 25, 38) if probe == 0 else uniform(rng, 35, 45))
        dy, dx = ys - (top - r0), xs - side * uniform(rng, 0.45, 0.55)
        r = np.sqrt(dx * dx + dy * dy)
        depth = (r - r0) / (r1 - r0)
        mask = (depth >= 0) & (depth <= 1) & (np.abs(np.arctan2(dx, dy)) <= half)
    echo = 0.45 + smooth_field(rng, side, 7, 0.22)
    echo += (
        0.25
        * np.sin(depth * uniform(rng, 15, 40) + smooth_field(rng, side, 4, 2.0))
        * (depth < 0.3)
    )
    anechoic = np.zeros((side, side), np.float32)
    for _ in range(int(rng.integers(0, 3))):  # cysts, chambers, bladder
        p = (side * uniform(rng, 0.25, 0.75), side * uniform(rng, 0.3, 0.85))
        ax = (side * uniform(rng, 0.04, 0.16), side * uniform(rng, 0.03, 0.12))
        ang = uniform(rng, 0, 180)
        fill_ellipse(anechoic, p, ax, 1.0, ang)
        cv2.ellipse(echo, point(*p), px_axes(ax[0] * 1.1, ax[1] * 1.15), ang, 200, 340, 1.3, 2)
    doppler = rng.random() < DOPPLER_PROB
    flow = np.zeros((side, side), np.float32)
    for _ in range(int(rng.integers(1, 4)) if doppler else int(rng.integers(0, 2))):  # vessels
        pts = _vessel_path(rng, side)
        thick = max(2, round(side * uniform(rng, 0.02, 0.06)))
        polygon(anechoic, pts, 1.0, thick)
        polygon(flow, pts, 1.0 if rng.random() < 0.5 else -1.0, thick)
    echo = np.where(anechoic > 0, 0.003, echo)
    echo *= np.exp(-uniform(rng, 0.3, 1.4) * depth.clip(0, 1))
    layout = random_layout(rng, side)
    echo = apply_layout(cv2.GaussianBlur(echo * mask, (0, 0), 0.8), layout, 0.0)
    out = upscale(echo, size) * texture_window(banks.speckle, rng, size)
    grey = _log_compress(out, uniform(rng, 40.0, 60.0), uniform(rng, 0.03, 0.09))
    if not doppler:
        return grey
    if rng.random() < 0.3:  # power-Doppler blush in tissue, like a lymph node or thyroid
        p = (side * uniform(rng, 0.3, 0.7), side * uniform(rng, 0.35, 0.75))
        blush = ellipse_mask(
            side,
            p,
            (side * uniform(rng, 0.08, 0.2), side * uniform(rng, 0.05, 0.12)),
            uniform(rng, 0, 180),
        )
        flow = np.maximum(flow, blush * (smooth_field(rng, side, 24, 1.0) > 0.25))
    flow = cv2.GaussianBlur(flow * mask, (0, 0), 1.2)  # laminar profile: fastest in the middle
    flow = apply_layout(flow, layout, 0.0)
    return _doppler(grey, rng, upscale(flow, size), banks)


def _log_compress(intensity: np.ndarray, dynamic_range_db: float, gain: float) -> np.ndarray:
    """Log-compress echo intensity to 8 bits as a scanner does (through a lookup table)."""
    idx = np.clip(intensity * (gain * _US_LUT_STEPS / 2.0), 0, _US_LUT_STEPS - 1).astype(np.int32)
    level = np.arange(_US_LUT_STEPS, dtype=np.float32) * (2.0 / _US_LUT_STEPS)
    db = 20.0 * np.log10(np.maximum(level, 1e-6))
    lut = np.clip((db + dynamic_range_db) * (255.0 / dynamic_range_db), 0, 255).astype(np.uint8)
    return lut[idx]


def _vessel_path(rng: np.random.Generator, side: int) -> list[tuple[float, float]]:
    """A gently curving vessel course across the field."""
    x, y = side * uniform(rng, 0.1, 0.9), side * uniform(rng, 0.25, 0.85)
    th = rng.uniform(-math.pi, math.pi)
    pts = [(x, y)]
    for _ in range(6):
        th += rng.uniform(-0.5, 0.5)
        x, y = x + math.cos(th) * side * 0.08, y + math.sin(th) * side * 0.05
        pts.append((x, y))
    return pts


def _doppler(
    grey: np.ndarray, rng: np.random.Generator, flow: np.ndarray, banks: NoiseBanks
) -> np.ndarray:
    """Colour the flow map over a grey image (velocity red/blue, or power orange).

    Only the few pixels near a vessel are computed, which keeps this cheap.
    """
    size = grey.shape[0]
    patchy = texture_window(banks.grain, rng, size)
    scale, threshold = uniform(rng, 0.5, 0.95), uniform(rng, 0.12, 0.25)
    power = rng.random() < 0.35
    near = np.flatnonzero(np.abs(flow) > 0.05)
    vel = flow.ravel()[near] * (1.0 + 0.2 * patchy.ravel()[near]) * scale
    keep = np.abs(vel) > threshold
    near, vel = near[keep], vel[keep]
    mag = np.clip(np.abs(vel), 0, 1)
    if power:  # power Doppler: dark orange to yellow
        colour = np.stack([190 + 65 * mag, 40 + 210 * mag * mag, 25 * mag], axis=1)
    else:  # colour Doppler: towards the probe red->yellow, away blue->cyan
        toward = vel > 0
        colour = np.stack(
            [
                np.where(toward, 140 + 115 * mag, 10),
                np.where(toward, 230 * mag**3, 40 + 215 * mag**3),
                np.where(toward, 10, 170 + 85 * mag),
            ],
            axis=1,
        )
    rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    rgb.reshape(-1, 3)[near] = colour.astype(np.uint8)
    return rgb
