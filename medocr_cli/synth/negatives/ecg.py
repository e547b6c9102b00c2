"""ECG traces as hard negatives: P-QRS-T waves along the bottom of echo and angiography screens."""

from __future__ import annotations

import math

import numpy as np

from medocr_cli.synth.negatives.drawing import (
    RGB,
    as_rgb,
    ink,
    polyline,
    scale_of,
    uniform,
)

#: ECG and physiological trace colours: green, yellow, white, cyan.
_TRACE_COLOURS: tuple[RGB, ...] = ((0, 255, 0), (80, 240, 80), (255, 255, 0), (240, 240, 240))


def draw_ecg(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """An ECG trace along the bottom of the image, as on echo and angiography screens.

    P-QRS-T complexes with baseline wander, sometimes a second physiological trace above and a
    cursor marking the displayed frame.
    """
    h, w = image.shape[:2]
    s = scale_of(image)
    if image.ndim == 2 and rng.random() < 0.3:
        v = int(rng.integers(190, 256))
        out, rgb = image.copy(), (v, v, v)
    else:
        out, rgb = as_rgb(image), _TRACE_COLOURS[int(rng.integers(len(_TRACE_COLOURS)))]
    col = ink(out, rgb)
    x0, x1 = w * uniform(rng, 0.0, 0.15), w * uniform(rng, 0.7, 1.0)
    base, amp = h * uniform(rng, 0.82, 0.95), s * uniform(rng, 14, 40)
    period = max(12.0, s * uniform(rng, 55, 140))
    xs = np.arange(x0, x1, 1.0)
    t = ((xs - x0 + uniform(rng, 0, period)) % period) / period
    wave = np.zeros_like(xs)
    for centre, height, width in (
        (0.15, 0.12, 0.025),
        (0.285, -0.12, 0.008),
        (0.3, 1.0, 0.011),
        (0.315, -0.25, 0.01),
        (0.55, 0.3, 0.045),
    ):
        wave += height * np.exp(-(((t - centre) / width) ** 2))
    wave += 0.06 * np.sin(2 * math.pi * xs / (s * uniform(rng, 150, 400)) + uniform(rng, 0, 6))
    wave += rng.normal(0, 0.015, xs.size)
    thick = 2 if s > 1.4 or rng.random() < 0.25 else 1
    polyline(out, np.stack([xs, base - amp * wave], axis=1), col, thick)
    if rng.random() < 0.3:  # respiration or pleth above it
        other = ink(out, _TRACE_COLOURS[int(rng.integers(len(_TRACE_COLOURS)))])
        trace = (
            base - amp * 1.8 - amp * 0.4 * np.sin(2 * math.pi * xs / (s * uniform(rng, 120, 300)))
        )
        polyline(out, np.stack([xs, trace], axis=1), other, 1)
    if rng.random() < 0.35:  # the cursor marking the displayed frame
        cx = uniform(rng, x0, x1)
        polyline(out, np.array([(cx, base - amp * 1.3), (cx, base + amp * 0.5)]), col, 1)
    return out, "ecg"
