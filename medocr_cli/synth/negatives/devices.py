"""Foreign bodies as hard negatives: catheters, wires, sternal loops, clips, electrodes, specks.

Metal and tubing are long bright curves, loops, small rectangles and rings: stroke-like shapes
that belong to the image, drawn bright (or dark, as on an inverted radiograph).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from medocr_cli.synth.negatives.drawing import (
    blend,
    dot,
    fixed_point,
    polyline,
    random_walk,
    scale_of,
    uniform,
)


def draw_devices(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, str]:
    """Foreign bodies: catheters, wires, clips, ECG electrodes and bright specks.

    Long curvy tubes and lines, thin wires and sternal wire loops, small bright rectangles
    (surgical clips), rings with a centre snap (electrodes) and scattered specks. Metal is
    bright, or dark on an inverted radiograph.
    """
    out = image.copy()
    h, w = out.shape[:2]
    s = scale_of(out)
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
            along = uniform(rng, 0.1, 0.9)
            start = [
                (w * along, 0.0),
                (w * along, float(h)),
                (0.0, h * along),
                (float(w), h * along),
            ][edge]
            heading = [math.pi / 2, -math.pi / 2, 0.0, math.pi][edge] + rng.normal(0, 0.4)
            step = max(2.0, s * uniform(rng, 5, 8))
            pts = random_walk(
                rng, start, heading, int(uniform(rng, 0.4, 1.1) * (h + w) / 2 / step), step, 0.07
            )
            if item == "catheter":
                width = s * uniform(rng, 2, 5)
                polyline(layer, pts, 235, width)
                if rng.random() < 0.3:  # a tube: bright walls, fainter lumen
                    polyline(layer, pts, 130, max(1.0, width * 0.45))
                tip = pts[-1]
                if rng.random() < 0.5 and 0 <= tip[0] < w and 0 <= tip[1] < h:
                    dot(layer, float(tip[0]), float(tip[1]), width * 0.9, (255,))
            else:
                polyline(layer, pts, 255, max(1.0, s * uniform(rng, 0.8, 1.6)))
                if rng.random() < 0.5:  # sternal wires: a column of twisted loops
                    cx, cy = w * uniform(rng, 0.4, 0.6), h * uniform(rng, 0.2, 0.4)
                    for k in range(int(rng.integers(2, 6))):
                        c = (
                            round(cx + rng.normal(0, 3 * s)),
                            round(cy + k * s * uniform(rng, 25, 45)),
                        )
                        axes = (
                            max(2, round(s * uniform(rng, 7, 13))),
                            max(1, round(s * uniform(rng, 3, 6))),
                        )
                        cv2.ellipse(
                            layer,
                            c,
                            axes,
                            uniform(rng, -15, 15),
                            0,
                            360,
                            255,
                            max(1, round(1.5 * s)),
                            cv2.LINE_AA,
                        )
                        twist = np.array(
                            [(c[0] + axes[0], c[1]), (c[0] + axes[0] + 5 * s, c[1] + 3 * s)]
                        )
                        polyline(layer, twist, 255, max(1.0, 1.5 * s))
        elif item == "clips":
            cx, cy = w * uniform(rng, 0.15, 0.85), h * uniform(rng, 0.15, 0.85)
            for _ in range(int(rng.integers(1, 7))):
                centre = (cx + rng.normal(0, 20 * s), cy + rng.normal(0, 20 * s))
                size = (max(2.0, s * uniform(rng, 6, 16)), max(1.0, s * uniform(rng, 2, 4.5)))
                corners = cv2.boxPoints((centre, size, uniform(rng, 0, 180)))
                cv2.fillPoly(layer, [fixed_point(corners)], 255, cv2.LINE_AA, shift=4)
        elif item == "specks":
            cx, cy = w * uniform(rng, 0.1, 0.9), h * uniform(rng, 0.1, 0.9)
            spread = s * uniform(rng, 10, 120)
            for _ in range(int(rng.integers(3, 40))):
                x, y = cx + rng.normal(0, spread), cy + rng.normal(0, spread)
                dot(
                    layer,
                    x,
                    y,
                    max(0.6, s * uniform(rng, 0.8, 2.5)),
                    (int(rng.integers(180, 256)),),
                )
        else:  # ECG electrodes: a ring with a snap in the middle, sometimes with its lead
            for _ in range(int(rng.integers(1, 4))):
                x, y = w * uniform(rng, 0.1, 0.9), h * uniform(rng, 0.1, 0.9)
                radius = max(3, round(s * uniform(rng, 7, 14)))
                cv2.circle(
                    layer,
                    (round(x), round(y)),
                    radius,
                    200,
                    max(1, round(s * uniform(rng, 1.5, 3))),
                    cv2.LINE_AA,
                )
                dot(layer, x, y, max(1.0, s * uniform(rng, 2, 4)), (255,))
                if rng.random() < 0.5:
                    lead = random_walk(
                        rng, (x, y), uniform(rng, -3.1, 3.1), int(rng.integers(8, 30)), 6 * s, 0.15
                    )
                    polyline(layer, lead, 220, max(1.0, s * 1.2))
    alpha = layer.astype(np.float32) * (uniform(rng, 0.7, 1.0) / 255.0)
    value = uniform(rng, 10, 40) if rng.random() < 0.15 else uniform(rng, 215, 255)
    blend(out, alpha, (value,))
    return out, "devices"
