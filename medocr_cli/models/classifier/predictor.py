"""The classify stage: 8-bit display frames in, None / P / H / PH verdicts and probabilities out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medocr_cli.models import zoo
from medocr_cli.models.classifier.network import normalise, to_input
from medocr_cli.types import Label


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classifier's answer for one frame."""

    label: str
    probs: dict[str, float]

    @property
    def has_printed(self) -> bool:
        """True for P and PH."""
        return "P" in self.label and self.label != "None"

    @property
    def has_handwritten(self) -> bool:
        """True for H and PH."""
        return "H" in self.label


def union_label(verdicts: Sequence[Verdict]) -> str:
    """Return the label of a multi-frame file: printed if any frame is, handwritten likewise."""
    return combine_labels([v.label for v in verdicts])


def combine_labels(labels: Sequence[str]) -> str:
    """Return the union of frame labels (None / P / H / PH): P if any has P, H likewise."""
    printed = any("P" in label for label in labels)
    written = any("H" in label for label in labels)
    return Label.of(printed, written)


class Classifier:
    """A loaded classifier checkpoint, ready to label batches of frames on a device."""

    def __init__(self, weights: Path, device: str = "cpu", *, needed_by: str | None = None) -> None:
        """Load `weights` (a `classifier.pt`) onto `device` through the zoo.

        Raises:
            NotBuiltError: The file is missing (`needed_by` says what needs it).
            WeightsError: It does not hold a valid classifier checkpoint.
        """
        loaded = zoo.load("classifier", weights, device, needed_by=needed_by)
        self.path = Path(weights)
        self.spec: dict[str, Any] = loaded.raw_spec()
        self.metrics: dict[str, Any] = dict(loaded.metrics)
        self.labels: list[str] = list(loaded.spec.labels)
        self.size = loaded.spec.input_size
        self.device = torch.device(device)
        self.model = loaded.model

    @classmethod
    def from_weights_dir(
        cls, folder: Path | None = None, device: str = "cpu", *, needed_by: str | None = None
    ) -> Classifier:
        """Load `classifier.pt` from the weights folder (`--weights`, MEDOCR_WEIGHTS, shipped)."""
        return cls(zoo.locate("classifier", folder), device, needed_by=needed_by)

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """Return the uint8 (3, S, S) network input of one display frame (cheap, CPU)."""
        return to_input(frame, self.size)

    def predict_prepared(self, inputs: Sequence[np.ndarray]) -> list[Verdict]:
        """Label prepared inputs in one forward pass."""
        if not inputs:
            return []
        batch = torch.from_numpy(np.stack(inputs)).to(self.device)
        with torch.inference_mode():
            x = normalise(batch, self.spec).contiguous(memory_format=torch.channels_last)
            probs = self.model(x).float().softmax(1).cpu().numpy()
        return [
            Verdict(
                self.labels[int(p.argmax())],
                {name: round(float(v), 6) for name, v in zip(self.labels, p, strict=True)},
            )
            for p in probs
        ]

    def predict(self, frames: Sequence[np.ndarray], batch_size: int = 32) -> list[Verdict]:
        """Label display frames, `batch_size` at a time."""
        out: list[Verdict] = []
        for i in range(0, len(frames), batch_size):
            out.extend(self.predict_prepared([self.prepare(f) for f in frames[i : i + batch_size]]))
        return out
