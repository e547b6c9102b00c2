"""The classifier's spec: its architecture name, labels, input size and normalisation.

The spec dict a checkpoint stores (`classifier_spec`) and its typed, checked form
(`ClassifierSpec`, built by the zoo on load). Free of torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from medocr_cli.models.spec import Spec, SpecError
from medocr_cli.types import LABELS

#: Per-channel mean/std applied to [0, 1] pixels; medical images are dark, so not ImageNet's.
DEFAULT_MEAN = (0.2, 0.2, 0.2)
DEFAULT_STD = (0.25, 0.25, 0.25)
#: Registry name of this network; checkpoint specs and `medocr train` refer to it.
ARCH = "resnet18-classifier"


def classifier_spec(size: int = 224, dropout: float = 0.3) -> dict[str, Any]:
    """Return the spec of a classifier taking `size` x `size` inputs."""
    return {
        "arch": ARCH,
        "labels": list(LABELS),
        "input_size": int(size),
        "channels": 3,
        "mean": list(DEFAULT_MEAN),
        "std": list(DEFAULT_STD),
        "dropout": float(dropout),
        "resize": "area, aspect not kept",
    }


@dataclass(frozen=True, kw_only=True)
class ClassifierSpec(Spec):
    """The None / P / H / PH classifier (`network.py`), as its checkpoints store it."""

    ARCHS: ClassVar[tuple[str, ...]] = (ARCH,)

    labels: tuple[str, ...]
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int = 3
    dropout: float = 0.3

    def check(self) -> None:
        """Labels given, sizes and spreads positive, one mean and std per channel."""
        if not self.labels:
            raise SpecError("'labels' must not be empty")
        self._positive("input_size", "channels", "std")
        self._length("mean", self.channels)
        self._length("std", self.channels)
        self._between("dropout", 0.0, 1.0)
