"""The detector's spec: its architecture name, widths, normalisation and box post-processing.

The spec dict a checkpoint stores (`detector_spec`) and its typed, checked form (`DetectorSpec`,
built by the zoo on load). Free of torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from medocr_cli.models.spec import Spec

#: The input must be a multiple of this (four stride-2 levels).
STRIDE = 16
#: Output channels of the head.
CHANNELS = ("core", "text")
#: Registry name of this network; checkpoint specs and `medocr train` refer to it.
ARCH = "text-detector"


def detector_spec(
    widths: tuple[int, ...] = (12, 24, 48, 96),
    decoder: int = 16,
    shrink: float = 0.25,
    margin: float = 0.15,
    join: float = 0.8,
    threshold: float = 0.4,
    min_score: float = 0.5,
    text_threshold: float = 0.5,
) -> dict[str, Any]:
    """Return the spec of a detector.

    Args:
        widths: Channels of the encoder levels at 1/2, 1/4, 1/8 and 1/16 of the input.
        decoder: Channels of the decoder (every level, then the head at 1/2).
        shrink: Share of the line height cut off each side of a line box for the core target;
            the post-processing grows components back by the same rule.
        margin: Extra growth of a predicted box, as a share of its line height, each side.
        join: Pieces of one line are joined across gaps up to this many line heights.
        threshold: Core probability above which a map pixel belongs to a line.
        min_score: Components whose mean core probability is below this are dropped.
        text_threshold: Boxes are stretched over text-map components above this (0: off).
    """
    return {
        "arch": ARCH,
        "widths": [int(w) for w in widths],
        "decoder": int(decoder),
        "in_channels": 2,
        "input": "grey + chroma (max-min of RGB), uint8 / 255",
        "mean": 0.25,
        "std": 0.3,
        "out_stride": 2,
        "pad_to": STRIDE,
        "channels": list(CHANNELS),
        "shrink": float(shrink),
        "margin": float(margin),
        "join": float(join),
        "threshold": float(threshold),
        "min_score": float(min_score),
        "text_threshold": float(text_threshold),
        "text_pad": 1,
    }


@dataclass(frozen=True, kw_only=True)
class DetectorSpec(Spec):
    """The text-line detector (`network.py`), as its checkpoints store it."""

    ARCHS: ClassVar[tuple[str, ...]] = (ARCH,)

    widths: tuple[int, ...]
    decoder: int
    mean: float
    std: float
    shrink: float
    threshold: float
    min_score: float
    in_channels: int = 2
    out_stride: int = 2
    pad_to: int = STRIDE
    margin: float = 0.1
    join: float = 0.0
    text_threshold: float = 0.5
    text_pad: int = 1

    def check(self) -> None:
        """Channel counts, strides and spread positive; thresholds are probabilities."""
        self._positive("widths", "decoder", "in_channels", "out_stride", "pad_to", "std")
        for name in ("threshold", "min_score", "text_threshold"):
            self._between(name, 0.0, 1.0)
        self._between("shrink", 0.0, 0.5)
