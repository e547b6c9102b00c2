"""`run_train`: train a learned stage with its default recipe, or evaluate, average or refit one.

Each model family's `models/<stage>/training.py` defines `stage_trainer()`: its default loop
settings and two functions (train, evaluate). The CLI only fills in what the user changed.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medocr_cli.errors import NotBuiltError, UsageError
from medocr_cli.training.loop import FitResult
from medocr_cli.training.trainer import StageTrainer, TrainOptions
from medocr_cli.types import Progress, notify_advance, notify_start


@dataclass
class TrainOutcome:
    """What a training run produced: the fit, and the stage's held-out report."""

    stage: str
    checkpoint: Path
    fit: FitResult
    test: dict[str, Any]


#: The learned stages, in pipeline order; each has `models/<name>/training.py: stage_trainer()`.
PLANNED = ("classifier", "detector", "recognizer", "inpainter", "confirm")


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

    name = f"medocr_cli.models.{stage}.training"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise NotBuiltError(f"training the {stage} is not built yet") from exc
    return module.stage_trainer()


@dataclass
class TrainConfig:
    """What `medocr train` does: train a stage (the default), or one mode that trains no loop.

    Attributes:
        stage: classifier, detector, recognizer, inpainter or confirm.
        options: The dataset, the output folder, the loop settings and the device.
        evaluate: Train nothing: measure `checkpoint` on `split` of the dataset.
        checkpoint: The checkpoint file `evaluate` measures (None: STAGE.pt of the weights
            folder).
        split: The split `evaluate` measures on.
        average: Train nothing: average these checkpoints of the stage (two or more).
        refit_head: Classifier only: fit only the last layer of `options.init` on these
            datasets.
    """

    stage: str
    options: TrainOptions
    evaluate: bool = False
    checkpoint: Path | None = None
    split: str = "test"
    average: list[Path] = field(default_factory=list)
    refit_head: list[Path] = field(default_factory=list)


@dataclass
class Evaluation:
    """The metrics of one checkpoint on one split (`--evaluate-only`)."""

    stage: str
    checkpoint: Path
    split: str
    report: dict[str, Any]


def run_train(
    config: TrainConfig, progress: Progress[dict[str, Any]] | None = None
) -> TrainOutcome | MeasuredCheckpoint | Evaluation:
    """Train `config.stage`, or evaluate, average or refit a checkpoint of it.

    Args:
        config: The stage, its options and the mode.
        progress: When a loop trains: started with the number of epochs, advanced with each
            epoch's row. Refitting a head reports the images whose features are read. Evaluating
            and averaging run no loop and report nothing.

    Raises:
        UsageError: Modes that cannot go together, an unknown stage, a dataset or checkpoint
            that is not one.
    """
    opts = config.options
    if config.refit_head:
        if config.evaluate or opts.resume or config.average:
            raise UsageError(
                "--refit-head cannot go with --evaluate-only, --resume or --average",
                hint="refit the head of one checkpoint, given with --init",
            )
        from medocr_cli.config import weights_dir

        source = opts.init or weights_dir() / f"{config.stage}.pt"
        return _refit_head(
            config.stage, opts.data, config.refit_head, source, opts.out, opts.device, progress
        )
    if config.average:
        if config.evaluate or opts.resume or opts.init is not None:
            raise UsageError(
                "--average trains nothing: it cannot go with --evaluate-only, --resume or --init",
                hint="average first, then evaluate or fine-tune the averaged checkpoint",
            )
        return _average(config.stage, opts.data, config.average, opts.out, opts.device)
    if config.evaluate:
        if opts.resume or opts.init is not None or opts.epochs is not None:
            raise UsageError(
                "--evaluate-only trains nothing: it cannot go with --resume, --init or --epochs",
                hint="evaluate the checkpoint with --checkpoint FILE",
            )
        from medocr_cli.config import weights_dir

        checkpoint = config.checkpoint or weights_dir() / f"{config.stage}.pt"
        report = trainer_of(config.stage).evaluate(opts.data, checkpoint, config.split, opts.device)
        return Evaluation(config.stage, checkpoint, config.split, report)
    return _train(config.stage, opts, progress)


def _train(
    stage: str, opts: TrainOptions, progress: Progress[dict[str, Any]] | None
) -> TrainOutcome:
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
        progress=progress,
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


@dataclass
class MeasuredCheckpoint:
    """A checkpoint made without a training loop (a weight average, a refit head), measured."""

    stage: str
    checkpoint: Path
    val: dict[str, Any]
    test: dict[str, Any]
    made_from: dict[str, Any] = field(default_factory=dict)


def _measure_and_save(
    stage: str, checkpoint: dict[str, Any], data: Path, out: Path | None, device: str
) -> MeasuredCheckpoint:
    """Measure `checkpoint` on `data`'s val and test splits, then write it to OUT/STAGE.pt.

    It is measured from a scratch file beside the target and only then written (atomically)
    with those metrics, so OUT/STAGE.pt never holds weights that were not measured.
    """
    from medocr_cli.io.checkpoints import save_checkpoint

    trainer = trainer_of(stage)
    target = (out or trainer.defaults.out) / f"{stage}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{stage}.unmeasured.pt")
    try:
        save_checkpoint(scratch, checkpoint)
        val = trainer.evaluate(data, scratch, "val", device)
        test = trainer.evaluate(data, scratch, "test", device)
    finally:
        scratch.unlink(missing_ok=True)
    checkpoint["metrics"] = {"val": val, "test": test}
    save_checkpoint(target, checkpoint)
    return MeasuredCheckpoint(stage, target, val, test)


def _load_stage_checkpoint(stage: str, path: Path) -> dict[str, Any]:
    """Load a checkpoint and check it is one of `stage`'s networks.

    Raises:
        UsageError: It is a checkpoint of another stage.
    """
    from medocr_cli.models import zoo

    trainer_of(stage)  # an unknown stage is refused as such
    return zoo.read(stage, path)


def _average(
    stage: str, data: Path, sources: list[Path], out: Path | None, device: str
) -> MeasuredCheckpoint:
    """Average the weights of checkpoints of `stage` into OUT/STAGE.pt and measure it on `data`.

    Raises:
        UsageError: Fewer than two checkpoints, a checkpoint of another stage, or checkpoints
            of different networks.
    """
    from medocr_cli.models.checkpoint import average_checkpoints

    target = (out or trainer_of(stage).defaults.out) / f"{stage}.pt"
    if any(Path(source).resolve() == target.resolve() for source in sources):
        raise UsageError(
            f"the average would overwrite {target}, one of the checkpoints it averages",
            hint="write it to another --out folder",
        )
    checkpoints = [_load_stage_checkpoint(stage, source) for source in sources]
    averaged = average_checkpoints(checkpoints, [str(p) for p in sources])
    averaged["trained_with"].update(command=_command_line(), data=str(data))
    measured = _measure_and_save(stage, averaged, data, out, device)
    measured.made_from = {"averaged": [str(p) for p in sources]}
    return measured


def _refit_head(
    stage: str,
    data: Path,
    sources: list[Path],
    init: Path,
    out: Path | None,
    device: str,
    progress: Progress[dict[str, Any]] | None,
) -> MeasuredCheckpoint:
    """Refit the classifier's final layer on `sources`, then measure it on `data`.

    The rest of `init` stays frozen (see `medocr_cli.models.classifier.head`). The head
    learns from the train and val splits of `sources`, so `data`, which measures it, must not
    be among them.

    Raises:
        UsageError: Another stage than the classifier, `data` among `sources` or without
            val and test images, a source that is not a dataset, or `init` not a classifier
            checkpoint.
    """
    if stage != "classifier":
        raise UsageError(
            f"--refit-head is for the classifier, not the {stage}",
            hint="use it with `medocr train classifier`",
        )
    resolved = {Path(s).resolve() for s in sources}
    if Path(data).resolve() in resolved:
        raise UsageError(
            f"{data} both fits the head and measures it",
            hint="measure on a dataset that is not passed to --refit-head",
        )
    from medocr_cli.models.classifier.head import refit_head, refit_records
    from medocr_cli.training.manifest import records_of

    for split in ("val", "test"):
        records_of(data, split)  # fail now, not after reading every refit image
    total = sum(len(refit_records(s)) for s in sources)
    checkpoint = _load_stage_checkpoint(stage, init)
    notify_start(progress, total)

    def advance(n: int) -> None:
        for _ in range(n):
            notify_advance(progress, {})

    refitted, _ = refit_head(checkpoint, sources, device, advance=advance)
    refitted["trained_with"]["head_refit"].update(
        command=_command_line(), init=str(init), data=str(data)
    )
    measured = _measure_and_save(stage, refitted, data, out, device)
    measured.made_from = {"init": str(init), "refit_on": [str(p) for p in sources]}
    return measured
