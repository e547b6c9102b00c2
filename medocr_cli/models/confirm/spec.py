"""The text / non-text check's spec: architecture name, widths, region size and thresholds.

The spec dict a checkpoint stores (`confirm_spec`) and its typed, checked form (`ConfirmSpec`,
built by the zoo on load). Free of torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from medocr_cli.models.spec import Spec, SpecError, quote

ARCH = "text-confirm"
HEIGHT = 32
MIN_WIDTH = 32
MAX_WIDTH = 384
#: Context around a region, in region heights, on each side.
MARGIN = 0.15


def confirm_spec(
    widths: Sequence[int] = (16, 32, 64, 96), threshold: float = 0.5
) -> dict[str, Any]:
    """Return the spec of a text / non-text network.

    Args:
        widths: Channels of the four convolution stages.
        threshold: P(text) at or above which a region counts as text (chosen by measurement
            and stored with the trained weights).
    """
    return {
        "arch": ARCH,
        "widths": [int(w) for w in widths],
        "height": HEIGHT,
        "min_width": MIN_WIDTH,
        "max_width": MAX_WIDTH,
        "margin": MARGIN,
        "threshold": float(threshold),
    }


@dataclass(frozen=True, kw_only=True)
class ConfirmSpec(Spec):
    """The text / non-text check of detected regions (`network.py`), as its checkpoints store it."""

    ARCHS: ClassVar[tuple[str, ...]] = (ARCH,)

    widths: tuple[int, ...]
    height: int
    min_width: int
    max_width: int
    margin: float
    threshold: float = 0.5
    threshold_none: float | None = None

    def check(self) -> None:
        """Four positive widths, positive sizes, a margin of at least 0."""
        self._length("widths", 4)
        self._positive("widths", "height", "min_width", "max_width")
        if self.margin < 0:
            raise SpecError(f"'margin' must be at least 0, not {quote(self.margin)}")

    @property
    def none_threshold(self) -> float:
        """The threshold on frames the classifier calls None (`threshold` when not stored)."""
        return self.threshold if self.threshold_none is None else self.threshold_none
