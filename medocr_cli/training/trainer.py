"""What every trainable stage exposes to `medocr train`: defaults plus train and evaluate.

Each model family's `models/<stage>/training.py` (classifier, detector, recognizer, inpainter,
confirm) defines `stage_trainer() -> StageTrainer`; `pipeline/train.py` finds it by the stage's
name, so adding a stage touches no shared file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medocr_cli.training.loop import FitConfig, FitResult


@dataclass
class TrainOptions:
    """What the user asked for on the command line; None means the stage's default."""

    data: Path
    out: Path | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    patience: int | None = None
    size: int | None = None
    seed: int = 0
    resume: bool = False
    init: Path | None = None
    device: str = "cpu"
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


#: train(options, loop config with the user's choices applied, batch size, input size)
#: -> (fit result, held-out test report stored in the checkpoint's metrics)
TrainFn = Callable[[TrainOptions, FitConfig, int, int | None], tuple[FitResult, dict[str, Any]]]
#: evaluate(dataset folder, checkpoint file, split, device) -> metrics
EvaluateFn = Callable[[Path, Path, str, str], dict[str, Any]]


@dataclass
class StageTrainer:
    """How one stage trains and evaluates, with its default recipe.

    A checkpoint of another stage is refused by the zoo (`models.zoo.read`), which knows each
    stage's architectures.
    """

    defaults: FitConfig
    batch_size: int
    size: int | None
    train: TrainFn
    evaluate: EvaluateFn
