"""Choosing hard negatives: which images get them, which kinds, in what order, from which rng.

`has_negatives` and `negatives_rng` depend on (seed, index) alone and use their own random
stream, so the sample's stream is untouched; `add_negatives` picks 1-3 kinds weighted by the
background's modality and draws them from the anatomy outwards to the screen overlays.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from medocr_cli.synth.negatives.anatomy import draw_perfusion, draw_vessels
from medocr_cli.synth.negatives.devices import draw_devices
from medocr_cli.synth.negatives.doppler import draw_colour_doppler, draw_power_doppler
from medocr_cli.synth.negatives.ecg import draw_ecg
from medocr_cli.synth.negatives.edges import draw_collimator, draw_grid
from medocr_cli.synth.negatives.measurements import draw_calipers, draw_depth_scale

#: A drawer: (rng, image) -> (new image, kind drawn).
Drawer = Callable[[np.random.Generator, np.ndarray], tuple[np.ndarray, str]]

#: Default share of images that get hard negatives.
NEGATIVES_SHARE = 0.35

#: Seed word of the negatives' own random stream ("neg"), so the sample's stream is untouched.
_STREAM = 0x6E6567
#: Spacing of the low-discrepancy sequence that picks the images with negatives.
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


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
