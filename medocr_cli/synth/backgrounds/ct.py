"""Procedural CT: an axial head, thorax or abdomen slice in a soft-tissue, lung or bone window."""

from __future__ import annotations

import cv2
import numpy as np

from medocr_cli.synth.backgrounds.anatomy import Tones, draw_head, draw_trunk
from medocr_cli.synth.backgrounds.drawing import (
    apply_layout,
    random_layout,
    to_u8,
    uniform,
    upscale,
)
from medocr_cli.synth.backgrounds.noise import NoiseBanks, texture_window

#: Display grey levels of the tissues in a soft-tissue window (air, lung below 0; bone above 255).
_CT_TONES = Tones(-120, 100, 68, 112, 262, 185, 68, 113, 102, 138, 128, 168, 150, -40, 95)


def draw_ct(rng: np.random.Generator, size: int, banks: NoiseBanks) -> np.ndarray:
    """An axial CT slice (head, thorax or abdomen) in a soft-tissue, lung or bone window."""
    side = max(32, size // 2)
    img = np.full((side, side), _CT_TONES.air, np.float32)
    region = int(rng.choice(3, p=[0.35, 0.35, 0.30]))
    if region == 0:
        draw_head(img, rng, _CT_TONES)
    else:
        draw_trunk(img, rng, _CT_TONES, thorax=region == 1)
    img = apply_layout(cv2.GaussianBlur(img, (0, 0), 0.7), random_layout(rng, side), _CT_TONES.air)
    out = upscale(img, size)
    out += texture_window(banks.grain, rng, size) * uniform(rng, 4.0, 12.0)
    u = rng.random()
    if region == 1 and u < 0.3:  # lung window
        out = (out + 70.0) * 1.5
    elif u < 0.1:  # bone window
        out = (out - 70.0) * 1.4
    return to_u8(out)
