"""The confirm stage: candidate text regions in, the probability that each holds characters out.

A thin predictor around the `text-confirm` network (`network.py`): regions are cut
from the display frame with a little context, batched by similar width and scored. The finder
keeps (does not remove) a region whose probability is below the threshold stored with the
weights, unless Tesseract reads words there (`pipeline/find_text.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medocr_cli.models import zoo
from medocr_cli.models.confirm.network import collate, region_input, region_scalars
from medocr_cli.types import Box


class Confirmer:
    """A loaded text / non-text checkpoint, ready to score regions."""

    def __init__(self, weights: Path, device: str = "cpu") -> None:
        """Load `weights` (a `confirm.pt`) onto `device` through the zoo.

        Raises:
            NotBuiltError: The file is missing.
            WeightsError: It does not hold a valid text / non-text checkpoint.
        """
        loaded = zoo.load("confirm", weights, device)
        self.path = Path(weights)
        self.spec: dict[str, Any] = loaded.raw_spec()
        self.metrics: dict[str, Any] = dict(loaded.metrics)
        self.threshold = loaded.spec.threshold
        #: The threshold on frames the classifier calls None (no text expected there).
        self.threshold_none = loaded.spec.none_threshold
        self.device = torch.device(device)
        self.model = loaded.model

    @classmethod
    def from_weights_dir(cls, folder: Path | None = None, device: str = "cpu") -> Confirmer:
        """Load `confirm.pt` from the weights folder (`--weights`, MEDOCR_WEIGHTS, shipped)."""
        return cls(zoo.locate("confirm", folder), device)

    def score_inputs(
        self, inputs: Sequence[np.ndarray], scalars: Sequence[np.ndarray], batch_size: int = 64
    ) -> np.ndarray:
        """Return P(text) of prepared region inputs, in their order."""
        out = np.zeros(len(inputs), np.float32)
        order = np.argsort([a.shape[2] for a in inputs], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                x, s, w = collate([inputs[i] for i in index], [scalars[i] for i in index])
                logits = self.model(x.to(self.device), s.to(self.device), w.to(self.device))
                out[index] = torch.sigmoid(logits.float()).cpu().numpy()
        return out

    def score(self, frame: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Return P(text) of each box of one uint8 display frame (empty for no boxes)."""
        if not boxes:
            return np.zeros(0, np.float32)
        inputs = [region_input(frame, (b.x0, b.y0, b.x1, b.y1), self.spec) for b in boxes]
        scalars = [region_scalars((b.x0, b.y0, b.x1, b.y1)) for b in boxes]
        return self.score_inputs(inputs, scalars)
