"""Procedural MR: a T1 or T2 head or trunk slice with flow voids, coil bias and Rician noise."""

from __future__ import annotations

import cv2
import numpy as np

from medocr_cli.synth.backgrounds.anatomy import Tones, draw_head, draw_trunk
from medocr_cli.synth.backgrounds.drawing import (
    apply_layout,
    random_layout,
    smooth_field,
    to_u8,
    uniform,
    upscale,
)
from medocr_cli.synth.backgrounds.noise import NoiseBanks, texture_window

#: Display grey levels of the tissues in T1- and T2-weighted images.
_T1_TONES = Tones(0, 150, 215, 80, 12, 175, 35, 100, 150, 120, 95, 110, 5, 8, 40)
_T2_TONES = Tones(0, 130, 165, 55, 10, 125, 225, 120, 85, 60, 130, 150, 5, 8, 230)


def draw_mr(rng: np.random.Generator, size: int, banks: NoiseBanks) -> np.ndarray:
    """An MR slice (T1 or T2): smooth tissue contrast, flow voids, bias field, Rician noise."""
    side = max(32, size // 2)
    tones = _T2_TONES if rng.random() < 0.4 else _T1_TONES
    img = np.zeros((side, side), np.float32)
    if rng.random() < 0.55:
        draw_head(img, rng, tones)
    else:
        draw_trunk(img, rng, tones, thorax=rng.random() < 0.3)
    img = apply_layout(cv2.GaussianBlur(img, (0, 0), 0.9), random_layout(rng, side), 0.0)
    img *= 1.0 + smooth_field(rng, side, 3, 0.25)  # coil bias field
    out = upscale(img, size) * uniform(rng, 0.8, 1.1)
    sigma = uniform(rng, 2.0, 9.0)
    re = out + texture_window(banks.white, rng, size) * sigma
    im = texture_window(banks.white, rng, size) * sigma
    return to_u8(np.sqrt(re * re + im * im))
