"""The recognize stage: line crops in (grey or RGB uint8, any size), text and confidence out.

Crops come from the text detector; each is turned grey, resized to the recognizer's height of 32
(aspect kept), normalised, and read in batches of similar widths so that little time goes into
padding. `read_batch` puts `READ_TAIL` columns of background after the widest line of a batch
(it lowers the error on unseen handwriting, see the constant) and decodes with a CTC prefix beam
search of `BEAM_WIDTH` prefixes (greedy best path with a width of 1). The text is returned to
the caller only; this stage never logs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medocr_cli.config import weights_dir
from medocr_cli.io.checkpoints import load_checkpoint
from medocr_cli.models.checkpoint import unpack
from medocr_cli.models.recognizer import (
    BEAM_WIDTH,
    MAX_WIDTH,
    normalise_line,
    read_batch,
    spec_width_scale,
    to_line,
)

WEIGHTS_NAME = "recognizer.pt"


class Recognizer:
    """A loaded recognizer checkpoint, ready to read batches of line crops on a device."""

    def __init__(self, weights: Path, device: str = "cpu", beam_width: int | None = None) -> None:
        """Load `weights` (a `recognizer.pt`) onto `device`.

        Lines are read with `beam_width` prefixes of the beam search (None: `BEAM_WIDTH`).
        """
        checkpoint = load_checkpoint(weights)
        self.path = Path(weights)
        self.spec: dict[str, Any] = checkpoint["spec"]
        self.metrics: dict[str, Any] = checkpoint.get("metrics", {})
        self.vocab: str = self.spec["vocab"]
        self.max_width = int(self.spec.get("max_width", MAX_WIDTH))
        self.frames = int(self.spec.get("frames_per_column", 1))
        self.width_scale = spec_width_scale(self.spec)
        self.beam_width = BEAM_WIDTH if beam_width is None else int(beam_width)
        self.device = torch.device(device)
        self.model = unpack(checkpoint, source=str(weights)).to(self.device).eval()

    @classmethod
    def from_weights_dir(cls, folder: Path | None = None, device: str = "cpu") -> Recognizer:
        """Load `recognizer.pt` from the weights folder (`--weights`, MEDOCR_WEIGHTS, shipped)."""
        return cls(weights_dir(folder) / WEIGHTS_NAME, device)

    def prepare(self, crop: np.ndarray) -> np.ndarray:
        """Return the float32 (32, W) network input of one uint8 line crop (cheap, CPU).

        Raises:
            ValueError: The crop is not 8-bit grey, grey+alpha, RGB or RGBA.
        """
        return normalise_line(to_line(crop, self.max_width, self.width_scale))

    def read_prepared(
        self, inputs: Sequence[np.ndarray], batch_size: int = 32
    ) -> list[tuple[str, float]]:
        """Read prepared inputs, sorted into batches of similar width; results in input order."""
        out: list[tuple[str, float]] = [("", 0.0)] * len(inputs)
        order = np.argsort([a.shape[1] for a in inputs], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                _, _, readings = read_batch(
                    self.model,
                    [inputs[int(i)] for i in index],
                    self.vocab,
                    self.frames,
                    self.beam_width,
                    self.device,
                )
                for i, reading in zip(index, readings, strict=True):
                    out[int(i)] = reading
        return out

    def read(self, crops: Sequence[np.ndarray], batch_size: int = 32) -> list[tuple[str, float]]:
        """Read line crops: one (text, confidence in [0, 1]) per crop, in the crops' order.

        An empty crop reads as ("", 0.0).
        """
        inputs = [self.prepare(c) for c in crops]
        return self.read_prepared(inputs, batch_size)
