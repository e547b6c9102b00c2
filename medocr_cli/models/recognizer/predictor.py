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

from medocr_cli.models import zoo
from medocr_cli.models.recognizer.decode import BEAM_WIDTH, read_batch
from medocr_cli.models.recognizer.lines import normalise_line, to_line


class Recognizer:
    """A loaded recognizer checkpoint, ready to read batches of line crops on a device."""

    def __init__(
        self,
        weights: Path,
        device: str = "cpu",
        beam_width: int | None = None,
        *,
        needed_by: str | None = None,
    ) -> None:
        """Load `weights` (a `recognizer.pt`) onto `device` through the zoo.

        Lines are read with `beam_width` prefixes of the beam search (None: `BEAM_WIDTH`).

        Raises:
            NotBuiltError: The file is missing (`needed_by` says what needs it).
            WeightsError: It does not hold a valid recognizer checkpoint.
        """
        loaded = zoo.load("recognizer", weights, device, needed_by=needed_by)
        self.path = Path(weights)
        self.spec: dict[str, Any] = loaded.raw_spec()
        self.metrics: dict[str, Any] = dict(loaded.metrics)
        self.vocab: str = loaded.spec.vocab
        self.max_width = loaded.spec.max_width
        self.frames = loaded.spec.frames_per_column
        self.width_scale = loaded.spec.width_scale
        self.beam_width = BEAM_WIDTH if beam_width is None else int(beam_width)
        self.device = torch.device(device)
        self.model = loaded.model

    @classmethod
    def from_weights_dir(
        cls, folder: Path | None = None, device: str = "cpu", *, needed_by: str | None = None
    ) -> Recognizer:
        """Load `recognizer.pt` from the weights folder (`--weights`, MEDOCR_WEIGHTS, shipped)."""
        return cls(zoo.locate("recognizer", folder), device, needed_by=needed_by)

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
