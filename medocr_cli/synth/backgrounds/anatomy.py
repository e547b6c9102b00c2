"""Cross-sectional anatomy shared by procedural CT and MR: an axial head, thorax or abdomen.

The same drawings serve both modalities; only the grey level of each tissue differs, so each
modality passes its own `Tones` (a CT window, or an MR T1 or T2 contrast).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from medocr_cli.synth.backgrounds.drawing import (
    ellipse_mask,
    fill_ellipse,
    point,
    px_axes,
    smooth_field,
    soft_blur,
    uniform,
)


class Tones(NamedTuple):
    """Display grey levels of tissues for one contrast (CT window, MR T1 or T2)."""

    air: float
    skin: float
    fat: float
    muscle: float
    bone: float
    marrow: float
    csf: float
    grey: float
    white: float
    liver: float
    spleen: float
    kidney: float
    vessel: float
    lung: float
    fluid: float


def draw_head(img: np.ndarray, rng: np.random.Generator, t: Tones) -> None:
    """An axial head: scalp, skull with diploe, cortex with sulci, white matter, ventricles."""
    s = img.shape[0]
    c = (s * uniform(rng, 0.46, 0.54), s * uniform(rng, 0.46, 0.54))
    a, b = s * uniform(rng, 0.27, 0.34), s * uniform(rng, 0.34, 0.41)
    ang = uniform(rng, -8, 8)
    bone = s * uniform(rng, 0.022, 0.035)
    fill_ellipse(img, c, (a + s * 0.018, b + s * 0.018), t.skin, ang)
    fill_ellipse(img, c, (a, b), t.bone, ang)
    fill_ellipse(img, c, (a - bone * 0.3, b - bone * 0.3), t.marrow, ang)
    fill_ellipse(img, c, (a - bone * 0.7, b - bone * 0.7), t.bone, ang)
    ai, bi = a - bone, b - bone
    fill_ellipse(img, c, (ai, bi), t.csf, ang)
    brain = ellipse_mask(s, c, (ai * 0.97, bi * 0.97), ang)
    depth = soft_blur(ellipse_mask(s, c, (ai * 0.8, bi * 0.85), ang), s * 0.04)
    cells = int(rng.integers(22, 32))
    folds = smooth_field(rng, s, cells, 1.0)
    wm = depth + 0.35 * folds > 0.55  # white matter reaching into the gyri
    sulci = (np.abs(folds) < 0.08) & (depth < 0.45)  # CSF in the sulci near the surface
    tissue = np.where(wm, t.white, t.grey) + smooth_field(rng, s, 10, 5.0)
    tissue = np.where(sulci, t.csf, tissue)
    img[:] = np.where(brain > 0, tissue, img)
    vy = c[1] - bi * uniform(rng, 0.0, 0.12)
    for sgn in (-1, 1):  # lateral ventricles (frontal and occipital horns)
        vx = c[0] + sgn * ai * uniform(rng, 0.08, 0.14)
        axes = (ai * uniform(rng, 0.04, 0.09), bi * uniform(rng, 0.16, 0.26))
        fill_ellipse(img, (vx, vy - bi * 0.12), axes, t.csf, ang + sgn * uniform(rng, 10, 25))
        fill_ellipse(
            img,
            (vx + sgn * ai * 0.05, vy + bi * 0.3),
            (axes[0], axes[1] * 0.5),
            t.csf,
            ang - sgn * 20,
        )
    cv2.line(
        img,
        point(c[0], c[1] - bi * 0.95),
        point(c[0], vy - bi * 0.4),
        t.csf + 0.5 * (t.bone - t.csf),
        1,
    )
    if rng.random() < 0.4:  # a lesion, bleed or infarct
        p = (c[0] + ai * uniform(rng, -0.5, 0.5), c[1] + bi * uniform(rng, -0.5, 0.5))
        fill_ellipse(
            img,
            p,
            (ai * uniform(rng, 0.05, 0.18), bi * uniform(rng, 0.05, 0.15)),
            uniform(rng, 0.6, 1.4) * t.grey,
            uniform(rng, 0, 180),
        )


def draw_trunk(img: np.ndarray, rng: np.random.Generator, t: Tones, *, thorax: bool) -> None:
    """An axial thorax or abdomen slice: fat, muscle wall, organs, spine, table."""
    s = img.shape[0]
    cx, cy = s * uniform(rng, 0.46, 0.54), s * uniform(rng, 0.44, 0.52)
    a, b = s * uniform(rng, 0.36, 0.46), s * uniform(rng, 0.24, 0.32)
    fat = uniform(rng, 0.04, 0.13)
    if t.air < 0:  # CT: the table under the patient
        cv2.ellipse(
            img, point(cx, cy + b + s * 0.65), px_axes(a * 1.3, s * 0.6), 0, 200, 340, 150, 2
        )
    fill_ellipse(img, (cx, cy), (a + 2, b + 2), t.skin)
    fill_ellipse(img, (cx, cy), (a, b), t.fat)
    am, bm = a * (1 - fat), b * (1 - fat * 1.4)
    fill_ellipse(img, (cx, cy), (am, bm), t.muscle)
    cav = ellipse_mask(s, (cx, cy - bm * 0.05), (am * 0.9, bm * 0.8))
    if thorax:
        inside = t.muscle + 0.2 * (t.fat - t.muscle) + smooth_field(rng, s, 8, 4.0)
    else:  # mesenteric fat between loops
        mix = smooth_field(rng, s, int(rng.integers(18, 28)), 1.0) > 0.35
        inside = np.where(mix, t.fat, t.muscle * 1.05) + smooth_field(rng, s, 8, 4.0)
    img[:] = np.where(cav > 0, inside, img)
    vy, vr = cy + bm * 0.55, bm * uniform(rng, 0.14, 0.18)
    for sgn in (-1, 1):  # paraspinal muscles
        fill_ellipse(
            img,
            (cx + sgn * vr * 1.5, vy + vr * 1.3),
            (vr * 1.2, vr * 0.9),
            t.muscle * 0.95,
            sgn * 15,
        )
    if thorax:
        _draw_lungs(img, rng, t, cx, cy, am, bm)
    else:
        _draw_abdomen(img, rng, t, cx, cy, am, bm)
    fill_ellipse(img, (cx, vy), (vr, vr * 0.9), t.bone)  # vertebra: cortex, marrow, canal, arch
    fill_ellipse(img, (cx, vy), (vr * 0.85, vr * 0.75), t.marrow)
    fill_ellipse(img, (cx, vy + vr * 1.45), (vr * 0.45, vr * 0.4), t.csf)
    cv2.ellipse(img, point(cx, vy + vr * 1.5), px_axes(vr * 0.9, vr * 0.8), 0, 20, 160, t.bone, 2)
    cv2.line(img, point(cx, vy + vr * 2.3), point(cx, vy + vr * 3.0), t.bone, 2)


def _draw_lungs(
    img: np.ndarray, rng: np.random.Generator, t: Tones, cx: float, cy: float, a: float, b: float
) -> None:
    s = img.shape[0]
    lung = np.zeros_like(img)
    for sgn in (-1, 1):  # bean shapes: two overlapping ellipses per side
        fill_ellipse(
            lung,
            (cx + sgn * a * 0.5, cy - b * 0.1),
            (a * uniform(rng, 0.30, 0.36), b * uniform(rng, 0.5, 0.62)),
            1.0,
            sgn * 10,
        )
        fill_ellipse(lung, (cx + sgn * a * 0.42, cy + b * 0.2), (a * 0.3, b * 0.45), 1.0, sgn * -15)
    vessels = np.zeros_like(img)
    for sgn in (-1, 1):  # vessel trees branching out of the hila
        for _ in range(int(rng.integers(4, 8))):
            th = rng.uniform(-1.3, 1.3)
            start = (cx + sgn * a * 0.22, cy + b * uniform(rng, -0.2, 0.2))
            _branch(
                vessels,
                rng,
                start,
                th if sgn > 0 else math.pi - th,
                a * uniform(rng, 0.12, 0.25),
                3,
            )
    n = int(rng.integers(20, 50))
    for x, y in zip(rng.uniform(cx - a, cx + a, n), rng.uniform(cy - b, cy + b, n), strict=True):
        cv2.circle(vessels, point(x, y), int(rng.integers(1, 3)), 1.0, -1)
    parenchyma = t.lung + smooth_field(rng, s, 12, 6.0)
    img[:] = np.where(lung > 0, np.where(vessels > 0, t.vessel * 0.7, parenchyma), img)
    fill_ellipse(img, (cx + a * 0.12, cy), (a * 0.28, b * 0.42), t.muscle * 1.1, 20)  # heart
    fill_ellipse(img, (cx - a * 0.05, cy - b * 0.45), (b * 0.12, b * 0.12), t.vessel)  # aorta
    for k in range(int(rng.integers(6, 12))):  # ribs cut obliquely around the rim
        th = math.radians(uniform(rng, 200, 340) if k % 2 else uniform(rng, 20, 160))
        p = (cx + a * 1.02 * math.cos(th), cy + b * 1.0 * math.sin(th))
        fill_ellipse(img, p, (a * 0.05, b * 0.035), t.bone, math.degrees(th) + 90)


def _branch(
    img: np.ndarray,
    rng: np.random.Generator,
    start: tuple[float, float],
    th: float,
    length: float,
    depth: int,
) -> None:
    """Draw a small branching tree (lung vessels) from `start` in direction `th`."""
    end = (start[0] + math.cos(th) * length, start[1] + math.sin(th) * length)
    cv2.line(img, point(*start), point(*end), 1.0, 1)
    if depth > 1:
        for turn in (-1, 1):
            _branch(img, rng, end, th + turn * uniform(rng, 0.2, 0.6), length * 0.7, depth - 1)


def _draw_abdomen(
    img: np.ndarray, rng: np.random.Generator, t: Tones, cx: float, cy: float, a: float, b: float
) -> None:
    fill_ellipse(
        img, (cx - a * 0.42, cy - b * 0.12), (a * 0.45, b * 0.62), t.liver + uniform(rng, -8, 8), 15
    )
    fill_ellipse(img, (cx + a * 0.62, cy - b * 0.25), (a * 0.16, b * 0.3), t.spleen, -25)
    for sgn in (-1, 1):  # kidneys with their sinus
        k = (cx + sgn * a * 0.4, cy + b * 0.35)
        fill_ellipse(img, k, (a * 0.1, b * 0.2), t.kidney, sgn * 25)
        fill_ellipse(img, (k[0] - sgn * a * 0.03, k[1]), (a * 0.035, b * 0.08), t.fat, sgn * 25)
    fill_ellipse(img, (cx - a * 0.05, cy + b * 0.32), (b * 0.08, b * 0.08), t.vessel)  # aorta
    fill_ellipse(img, (cx - a * 0.2, cy + b * 0.25), (b * 0.09, b * 0.07), t.vessel * 0.9)  # cava
    for _ in range(int(rng.integers(4, 10))):  # bowel loops, some with gas
        p = (cx + a * uniform(rng, -0.3, 0.6), cy + b * uniform(rng, -0.4, 0.3))
        val = t.air if rng.random() < 0.35 else t.fluid + uniform(rng, 0, 25)
        fill_ellipse(
            img,
            p,
            (a * uniform(rng, 0.04, 0.1), b * uniform(rng, 0.05, 0.12)),
            val,
            uniform(rng, 0, 180),
        )
