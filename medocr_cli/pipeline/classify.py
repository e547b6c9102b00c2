"""`run_classify`: a None / P / H / PH verdict for every frame of every input, batched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.errors import MedocrError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import walk_inputs
from medocr_cli.models.classifier.predictor import Classifier, Verdict, union_label
from medocr_cli.types import Progress, notify_advance, notify_start


@dataclass
class ClassifyResult:
    """The verdict on one file (or why it has none)."""

    path: Path
    frames: list[Verdict] = field(default_factory=list)
    error: str | None = None

    @property
    def label(self) -> str | None:
        """Union over the frames: P if any frame has printed text, H likewise, PH for both."""
        return union_label(self.frames) if self.frames else None

    @property
    def probs(self) -> dict[str, float]:
        """Probabilities of the frame most likely to hold text (lowest P(None))."""
        if not self.frames:
            return {}
        return min(self.frames, key=lambda v: v.probs.get("None", 0.0)).probs

    def to_json(self) -> dict[str, Any]:
        """Return `{path, label, probs, frames}` (frames: one label per frame)."""
        out: dict[str, Any] = {
            "path": str(self.path),
            "label": self.label,
            "probs": self.probs,
            "frames": [v.label for v in self.frames],
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class ClassifyConfig:
    """What `run_classify` classifies and how.

    Attributes:
        inputs: Image files or folders (recursed).
        weights: Weights folder holding `classifier.pt` (None: `--weights` default,
            MEDOCR_WEIGHTS, shipped).
        device: Torch device of the classifier.
        batch_size: Frames per forward pass; frames of several files share a batch.
    """

    inputs: list[Path]
    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 32


def run_classify(
    config: ClassifyConfig,
    progress: Progress[ClassifyResult] | None = None,
    *,
    classifier: Classifier | None = None,
) -> list[ClassifyResult]:
    """Classify every frame of every image file under `config.inputs`, a batch at a time.

    Frames of several files share a batch; a file's result is complete (and `progress`
    advanced with it) once its last frame has been through the network. A file that cannot be
    read gets its one-line error and the run goes on. `classifier` is the model to use instead
    of loading `classifier.pt` from `config.weights` (the seam tests use).

    Raises:
        NotBuiltError: No `classifier.pt` in the weights folder.
        WeightsError: It holds another model or cannot be read.
    """
    if classifier is None:
        classifier = Classifier.from_weights_dir(
            config.weights, config.device, needed_by="classify"
        )
    batch_size = config.batch_size
    inputs = config.inputs
    files = [item.path for item in walk_inputs(inputs) if item.candidate]
    results = [ClassifyResult(path) for path in files]
    notify_start(progress, len(files))
    pending: list[tuple[int, np.ndarray]] = []
    remaining = [0] * len(files)

    def flush() -> None:
        verdicts = classifier.predict_prepared([x for _, x in pending])
        for (index, _), verdict in zip(pending, verdicts, strict=True):
            results[index].frames.append(verdict)
            remaining[index] -= 1
            if remaining[index] == 0:
                notify_advance(progress, results[index])
        pending.clear()

    for index, path in enumerate(files):
        try:
            scan = read_scan(path)
            remaining[index] = scan.n_frames
            for frame in range(scan.n_frames):
                pending.append((index, classifier.prepare(scan.display(frame))))
                if len(pending) >= batch_size:
                    flush()
        except MedocrError as exc:
            results[index].error = exc.one_line()
            results[index].frames.clear()
            pending[:] = [(i, x) for i, x in pending if i != index]
            remaining[index] = 0
            notify_advance(progress, results[index])
    if pending:
        flush()
    return results
