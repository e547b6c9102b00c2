"""Procedural radiographs (XR, and the CR look of real crops): a PA chest or a long-bone limb.

Drawn as displayed (bone white, air dark), with an uneven exposure, film grain and sometimes
collimator shutters; radiographs are also the images `augment` may invert.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from medocr_cli.synth.backgrounds.drawing import (
    apply_layout,
    fill_ellipse,
    point,
    polygon,
    random_layout,
    smooth_field,
    soft_blur,
    to_u8,
    uniform,
    upscale,
)
from medocr_cli.synth.backgrounds.noise import NoiseBanks, texture_window


def draw_xr(rng: np.random.Generator, size: int, banks: NoiseBanks) -> np.ndarray:
    """A radiograph as displayed (bone white, air dark): chest or a limb, maybe collimated."""
    side = max(32, size // 2)
    img = np.full((side, side), uniform(rng, 5, 30), np.float32)
    if rng.random() < 0.65:
        _xr_chest(img, rng)
    else:
        _xr_limb(img, rng)
    img = cv2.GaussianBlur(img, (0, 0), uniform(rng, 0.6, 1.2))
    img = apply_layout(img, random_layout(rng, side), None)  # replicate: the body runs on
    img *= 1.0 + smooth_field(rng, side, 2, 0.12)  # heel effect / uneven exposure
    out = upscale(img, size)
    out += texture_window(banks.grain, rng, size) * uniform(rng, 2.0, 6.0)
    if rng.random() < 0.3:  # collimator shutters: unexposed bands stay white
        lo, hi = rng.uniform(0.0, 0.12, size=2), 1 - rng.uniform(0.0, 0.12, size=2)
        x0, y0, x1, y1 = (int(v * size) for v in (lo[0], lo[1], hi[0], hi[1]))
        white = uniform(rng, 200, 250)
        out[:, :x0] = white
        out[:, x1:] = white
        out[:y0] = white
        out[y1:] = white
    return to_u8(out)


def _xr_chest(img: np.ndarray, rng: np.random.Generator) -> None:
    """A PA chest: shoulders, lungs with vessels, heart and mediastinum, ribs, clavicles."""
    s = img.shape[0]
    cx, top = s * uniform(rng, 0.46, 0.54), s * uniform(rng, 0.0, 0.15)
    w, h = (
        s * uniform(rng, 0.34, 0.44),
        s * uniform(rng, 0.55, 0.72),
    )  # thorax half width, lung height
    body = np.zeros_like(img)
    nw = w * 0.3
    polygon(
        body,
        [
            (cx - nw, -s),
            (cx + nw, -s),
            (cx + nw, top - h * 0.06),
            (cx + w * 1.3, top + h * 0.05),
            (cx + w * 1.25, 2 * s),
            (cx - w * 1.25, 2 * s),
            (cx - w * 1.3, top + h * 0.05),
            (cx - nw, top - h * 0.06),
        ],
        1.0,
    )
    img += soft_blur(body, s * 0.02) * uniform(rng, 150, 185)
    lungs = np.zeros_like(img)
    ts = np.linspace(0.0, 1.0, 10)
    for sgn in (-1, 1):
        dome = h * (0.14 if sgn < 0 else 0.1)
        lateral = [
            (cx + sgn * w * (0.3 + 0.65 * math.sin(u * math.pi / 2) ** 0.6), top + h * u)
            for u in ts
        ]
        diaphragm = [
            (cx + sgn * w * (0.95 - 0.85 * u), top + h - dome * math.sin(math.pi * (0.3 + 0.7 * u)))
            for u in ts
        ]
        medial = [(cx + sgn * w * 0.12, top + h * 0.4), (cx + sgn * w * 0.2, top + h * 0.05)]
        polygon(lungs, lateral + diaphragm + medial, 1.0)
    solid = np.zeros_like(img)
    fill_ellipse(solid, (cx + w * 0.18, top + h * 0.74), (w * 0.45, h * 0.24), 1.0, -15)  # heart
    cv2.rectangle(solid, point(cx - w * 0.16, 0), point(cx + w * 0.16, s), 1.0, -1)  # mediastinum
    air = soft_blur(lungs, s * 0.012) * (1 - soft_blur(solid, s * 0.015))
    vessels = np.zeros_like(img)
    for sgn in (-1, 1):  # vascular markings fanning out of the hila
        hx, hy = cx + sgn * w * 0.25, top + h * 0.45
        for _ in range(int(rng.integers(10, 18))):
            th = rng.uniform(-1.2, 1.2)
            ln = w * uniform(rng, 0.2, 0.6)
            cv2.line(
                vessels,
                point(hx, hy),
                point(hx + sgn * math.cos(th) * ln, hy + math.sin(th) * ln * 1.3),
                1.0,
                1,
            )
    darkness = uniform(rng, 95, 130) + smooth_field(rng, s, 6, 12.0)
    img -= air * (darkness - cv2.GaussianBlur(vessels, (0, 0), 1.0) * 40)
    thorax = soft_blur(lungs, s * 0.04)
    ribs = np.zeros_like(img)
    step, thick = h / uniform(rng, 9.0, 10.5), max(1, round(h * 0.035))
    us = np.linspace(0.0, 1.0, 12)
    for k in range(11):
        y0 = top + k * step - h * 0.04
        for sgn in (-1, 1):  # posterior ribs rise a little, then fall laterally
            pts = [
                (
                    cx + sgn * w * (0.07 + 0.95 * u),
                    y0 - h * 0.05 * math.sin(math.pi * u) + h * 0.2 * u * u,
                )
                for u in us
            ]
            polygon(ribs, pts, 1.0, thick)
            pts = [
                (cx + sgn * w * (0.95 - 0.6 * u), y0 + h * (0.08 + 0.18 * u)) for u in us
            ]  # anterior
            polygon(ribs, pts, 0.5, max(1, thick - 1))
    img += cv2.GaussianBlur(ribs, (0, 0), 0.8) * uniform(rng, 18, 30) * np.clip(thorax * 1.5, 0, 1)
    for sgn in (-1, 1):  # clavicles
        pts = [
            (cx + sgn * w * (0.1 + 0.8 * u), top + h * (0.04 - 0.08 * u + 0.06 * u * u)) for u in us
        ]
        clav = np.zeros_like(img)
        polygon(clav, pts, 1.0, max(1, round(h * 0.045)))
        img += cv2.GaussianBlur(clav, (0, 0), 1.0) * 35
    img += (np.abs(np.arange(s) - cx) < w * 0.09).astype(np.float32)[None, :] * 12  # spine


def _bone_outline(
    cx: float, y0: float, y1: float, half: float, flare_top: bool, flare_bottom: bool
) -> list[tuple[float, float]]:
    """Outline of a long bone from y0 to y1: a shaft that flares into rounded ends at joints."""
    ys = np.linspace(y0, y1, 24)
    span = half * 3.0

    def width(y: float) -> float:
        grow = 0.0
        if flare_top:
            grow = max(grow, 1 - (y - y0) / span)
        if flare_bottom:
            grow = max(grow, 1 - (y1 - y) / span)
        return half * (1 + 0.9 * max(0.0, grow) ** 2)

    left = [(cx - width(y), y) for y in ys]
    right = [(cx + width(y), y) for y in ys[::-1]]
    caps_b = [
        (cx + width(y1) * math.cos(t), y1 + half * 0.5 * math.sin(t))
        for t in np.linspace(0, math.pi, 9)
    ]
    caps_t = [
        (cx - width(y0) * math.cos(t), y0 - half * 0.5 * math.sin(t))
        for t in np.linspace(0, math.pi, 9)
    ]
    return (
        left + (caps_b[::-1] if flare_bottom else []) + right + (caps_t[::-1] if flare_top else [])
    )


def _xr_limb(img: np.ndarray, rng: np.random.Generator) -> None:
    """A long-bone radiograph, maybe across a joint, drawn upright and then rotated."""
    s = img.shape[0]
    layer = np.zeros_like(img)
    cx, width = s * 0.5, s * uniform(rng, 0.3, 0.5)
    cv2.rectangle(layer, point(cx - width / 2, -s), point(cx + width / 2, 2 * s), 1.0, -1)
    layer = soft_blur(layer, s * 0.04) * uniform(rng, 70, 100)
    half = width * uniform(rng, 0.13, 0.19)
    cortex, medulla = uniform(rng, 190, 225), uniform(rng, 135, 165)
    joint = s * uniform(rng, 0.4, 0.75) if rng.random() < 0.65 else 3.0 * s
    gap = half * uniform(rng, 0.5, 0.8)
    pieces = [(-s, joint - gap / 2, False, joint < s)]
    if joint < s:
        pieces.append((joint + gap / 2, 2 * s, True, False))
    bones = np.zeros_like(img)
    for i, (y0, y1, ft, fb) in enumerate(pieces):
        h = half * (1.0 if i == 0 else uniform(rng, 0.8, 1.1))
        polygon(bones, _bone_outline(cx, y0, y1, h, ft, fb), cortex)
        polygon(bones, _bone_outline(cx, y0, y1, h * 0.6, ft, fb), medulla)
    if rng.random() < 0.4:  # a thin companion bone (fibula, ulna)
        ox = cx + half * uniform(rng, 1.6, 2.0)
        y0 = joint + gap if joint < s else -s
        polygon(bones, _bone_outline(ox, y0, 2 * s, half * 0.3, joint < s, False), cortex * 0.95)
    trab = smooth_field(rng, s, 48, 12.0)
    layer = np.where(bones > 0, bones + trab, layer)
    rot = cv2.getRotationMatrix2D((s / 2, s / 2), uniform(rng, -25, 25), 1.0)
    img += cv2.warpAffine(
        layer, rot, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
