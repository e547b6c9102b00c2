"""Per-sample augmentation of every background: crop/zoom, mirror, gamma, noise, blur, tint.

Procedural, real and user images all pass through `augment`; real and user images are first
cut to a random square with `crop_square`, and a few grey results get a mild colour cast.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from medocr_cli.synth.backgrounds.drawing import to_u8, uniform
from medocr_cli.synth.backgrounds.noise import NoiseBanks, texture_window

#: Probability that a grey output gets a mild colour cast (monitor presets, scanned films).
TINT_PROB = 0.06


def crop_square(pixels: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random square window (0.5-1 of the shorter side), maybe mirrored, resized to `size`."""
    h, w = pixels.shape[:2]
    side = max(8, round(min(h, w) * uniform(rng, 0.5, 1.0)))
    side = min(side, h, w)
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = pixels[y : y + side, x : x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=interp)


def augment(
    image: np.ndarray, rng: np.random.Generator, banks: NoiseBanks, *, xray_style: bool
) -> np.ndarray:
    """Gamma 0.7-1.4, additive noise, slight blur, and for radiographs sometimes inversion."""
    gamma = math.exp(uniform(rng, math.log(0.7), math.log(1.4)))
    lut = (np.linspace(0.0, 1.0, 256) ** gamma * 255.0 + 0.5).astype(np.uint8)
    image = cv2.LUT(image, lut)
    if rng.random() < 0.6:
        noise = texture_window(banks.additive, rng, image.shape[0])
        sigma = uniform(rng, 0.5, 5.0) / 16.0
        if image.ndim == 2:
            image = cv2.addWeighted(image.astype(np.int16), 1.0, noise, sigma, 0.0, dtype=cv2.CV_8U)
        else:
            image = to_u8(image + (noise * sigma)[..., None])
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), uniform(rng, 0.4, 1.1))
    if xray_style and rng.random() < 0.12:
        image = 255 - image
    return image


def tint_grey(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give a grey image a mild colour cast (sepia/blue monitor presets, scanned films)."""
    tint = 1.0 - rng.uniform(0.0, 0.3, size=3)
    tint[int(rng.integers(3))] = 1.0
    lut = np.stack([(np.arange(256) * t).astype(np.uint8) for t in tint], axis=1)
    return cv2.LUT(cv2.merge([grey, grey, grey]), lut.reshape(256, 1, 3))
