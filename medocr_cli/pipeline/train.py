"""`run_train` and `run_evaluate`: one entry point per learned stage, with its default recipe.

Each stage module in `training/` defines `stage_trainer()`: its default loop settings and two
functions (train, evaluate). The CLI only fills in what the user changed.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medocr_cli.errors import NotBuiltError, UsageError
from medocr_cli.training.loop import FitResult
from medocr_cli.training.trainer import StageTrainer, TrainOptions


@dataclass
class TrainOutcome:
    """What a training run produced: the fit, and the stage's held-out report."""

    stage: str
    checkpoint: Path
    fit: FitResult
    test: dict[str, Any]


#: The learned stages, in pipeline order; each has `medocr_cli.training.<name>.stage_trainer()`.
PLANNED = ("classifier", "detector", "recognizer", "inpainter")


def _command_line() -> str:
    """The medocr command line this process runs, quoted for a shell (kept in checkpoints)."""
    return "medocr " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def trainer_of(stage: str) -> StageTrainer:
    """Return the trainer of `stage`.

    Raises:
        UsageError: The stage does not exist.
        NotBuiltError: The stage exists in the design but cannot be trained yet.
    """
    if stage not in PLANNED:
        raise UsageError(f"unknown stage {stage!r}", hint=f"use one of {', '.join(PLANNED)}")
    import importlib

    try:
        module = importlib.import_module(f"medocr_cli.training.{stage}")
    except ModuleNotFoundError as exc:
        if exc.name != f"medocr_cli.training.{stage}":
            raise
        raise NotBuiltError(f"training the {stage} is not built yet") from exc
    return module.stage_trainer()


def run_train(stage: str, opts: TrainOptions) -> TrainOutcome:
    """Train `stage` on `opts.data` and return where the best checkpoint went and its report."""
    from medocr_cli.training.manifest import dataset_info

    trainer = trainer_of(stage)
    info = dataset_info(opts.data)
    d = trainer.defaults
    config = replace(
        d,
        out=opts.out or d.out,
        epochs=opts.epochs or d.epochs,
        lr=opts.lr or d.lr,
        optimizer=opts.optimizer or d.optimizer,
        patience=opts.patience if opts.patience is not None else d.patience,
        resume=opts.resume,
        init=opts.init,
        seed=opts.seed,
        quiet=opts.quiet,
        trained_with={
            "command": _command_line(),
            "data": str(opts.data),
            "data_seed": info.get("seed"),
            "data_count": info.get("count"),
            "data_size": info.get("size"),
            "seed": opts.seed,
            "device": opts.device,
        },
    )
    batch = opts.batch_size or trainer.batch_size
    size = opts.size or trainer.size
    config.trained_with.update({"epochs": config.epochs, "batch_size": batch, "lr": config.lr})
    if size:
        config.trained_with["input_size"] = size
    if opts.init is not None:
        config.trained_with["init"] = str(opts.init)
    fit, test = trainer.train(opts, config, batch, size)
    return TrainOutcome(stage, fit.best_path, fit, test)


def run_evaluate(stage: str, data: Path, weights: Path, split: str, device: str) -> dict[str, Any]:
    """Return the metrics of the checkpoint `weights` on one split of `data`."""
    return trainer_of(stage).evaluate(data, weights, split, device)


@dataclass
class AverageOutcome:
    """What a weight average produced: the checkpoint and its val and test reports."""

    stage: str
    checkpoint: Path
    val: dict[str, Any]
    test: dict[str, Any]


def run_average(
    stage: str, data: Path, sources: list[Path], out: Path | None, device: str
) -> AverageOutcome:
    """Average the weights of checkpoints of `stage` into OUT/STAGE.pt and measure it on `data`.

    The average is measured on the dataset's val and test splits from a scratch file beside
    the target, and only then written (atomically) to OUT/STAGE.pt with those metrics, so that
    file never holds an average that was not measured.

    Raises:
        UsageError: Fewer than two checkpoints, a checkpoint of another stage, or checkpoints
            of different networks.
    """
    from medocr_cli.io.checkpoints import load_checkpoint, save_checkpoint
    from medocr_cli.models.checkpoint import average_checkpoints

    trainer = trainer_of(stage)
    checkpoints = []
    for source in sources:
        checkpoint = load_checkpoint(source)
        arch = checkpoint.get("spec", {}).get("arch")
        if arch != trainer.arch:
            raise UsageError(
                f"a {arch!r} checkpoint, not one of the {stage} ({trainer.arch!r})",
                hint=f"average checkpoints written by `medocr train {stage}`",
                path=source,
            )
        checkpoints.append(checkpoint)
    averaged = average_checkpoints(checkpoints, [str(p) for p in sources])
    averaged["trained_with"].update(command=_command_line(), data=str(data))
    target = (out or trainer.defaults.out) / f"{stage}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{stage}.averaged.pt")
    try:
        save_checkpoint(scratch, averaged)
        val = trainer.evaluate(data, scratch, "val", device)
        test = trainer.evaluate(data, scratch, "test", device)
    finally:
        scratch.unlink(missing_ok=True)
    averaged["metrics"] = {"val": val, "test": test}
    save_checkpoint(target, averaged)
    return AverageOutcome(stage, target, val, test)
