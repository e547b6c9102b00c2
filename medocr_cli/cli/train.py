"""`medocr train STAGE DATA`: train one learned stage, or evaluate a checkpoint of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from medocr_cli.cli.choices import Device, Optimizer, Split, TrainStage
from medocr_cli.cli.common import global_options, handle_errors, out_console, print_json

if TYPE_CHECKING:
    from medocr_cli.pipeline.train import MeasuredCheckpoint


@handle_errors
def train(
    ctx: typer.Context,
    stage: Annotated[
        TrainStage,
        typer.Argument(
            help="classifier, detector, recognizer, inpainter or confirm (the text / non-text "
            "check, trained on regions the detector proposes).",
        ),
    ],
    data: Annotated[Path, typer.Argument(help="Dataset folder made by `medocr generate-dataset`.")],
    epochs: Annotated[
        int | None, typer.Option(help="Most epochs (stage default if unset).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (cosine decay).")] = None,
    optimizer: Annotated[
        Optimizer | None, typer.Option(help="sgd (momentum 0.9) or adamw.")
    ] = None,
    patience: Annotated[
        int | None, typer.Option(help="Stop after this many epochs without a better val score.")
    ] = None,
    size: Annotated[int | None, typer.Option(help="Network input size in pixels.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of weights init, shuffling, augmentation.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the checkpoint, curves and history.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from OUT/STAGE.last.pt if it is there.")
    ] = False,
    init: Annotated[
        Path | None,
        typer.Option(
            help="Fine-tune: start from this checkpoint's weights (same stage; the input size "
            "may differ) with a fresh schedule, instead of a random init.",
        ),
    ] = None,
    device: Annotated[
        Device | None, typer.Option(help="auto, cpu or cuda (overrides the global --device).")
    ] = None,
    evaluate_only: Annotated[
        bool,
        typer.Option("--evaluate-only", help="Train nothing: print a checkpoint's metrics."),
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="Checkpoint file to evaluate with --evaluate-only (default: STAGE.pt of the "
            "weights folder: MEDOCR_WEIGHTS, then the shipped weights).",
        ),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(hidden=True, help="Old name of --checkpoint (a file, not a folder)."),
    ] = None,
    split: Annotated[
        Split, typer.Option(help="Split to evaluate with --evaluate-only.")
    ] = Split.TEST,
    average: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="<path>",
            help="Train nothing: average these checkpoints' weights (give it two or more times; "
            "fine-tunes of one checkpoint) into OUT/STAGE.pt, measured on DATA's val and test.",
        ),
    ] = None,
    refit_head: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="<dataset>",
            help="Classifier only. Train only the final layer of --init (default: the shipped "
            "classifier.pt), the rest frozen, on the train and val images of these datasets "
            "(give it once per dataset); measured on DATA's val and test, written to OUT.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Train a stage on a generated dataset: progress bars, per-epoch validation, best checkpoint.

    Writes `OUT/STAGE.pt` (the best epoch on the val split, fp16, with spec and metrics),
    `OUT/STAGE.last.pt` (for `--resume`), `OUT/STAGE.history.json`, `OUT/STAGE.curves.png`
    and stage pictures (the classifier's `classifier.confusion.png` on the test split). Uses a
    GPU when there is one. With `--evaluate-only`, prints the metrics of `--checkpoint` on
    `--split`. With `--average`, writes the mean of checkpoints' weights (a "model soup")
    instead; with `--refit-head`, the classifier with only its last layer fit anew on more
    datasets.
    """
    from medocr_cli.cli.progress_bar import Bar
    from medocr_cli.config import resolve_device
    from medocr_cli.pipeline.train import (
        Evaluation,
        MeasuredCheckpoint,
        TrainConfig,
        TrainOptions,
        run_train,
    )

    opts = global_options(ctx)
    options = TrainOptions(
        data=data,
        out=out,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        patience=patience,
        size=size,
        seed=seed,
        resume=resume,
        init=init,
        device=resolve_device(device or opts.device),
        quiet=opts.quiet,
    )
    config = TrainConfig(
        stage,
        options,
        evaluate=evaluate_only,
        checkpoint=checkpoint or weights,
        split=split,
        average=list(average or []),
        refit_head=list(refit_head or []),
    )
    # the training loop draws its own bars; a refit reads features under this one
    with Bar("classifier head: features", enabled=bool(refit_head) and not opts.quiet) as bar:
        outcome = run_train(config, bar if refit_head else None)
    if isinstance(outcome, MeasuredCheckpoint):
        _print_measured(outcome, json_out)
    elif isinstance(outcome, Evaluation):
        if json_out:
            print_json(outcome.report)
        else:
            _print_report(stage, split, outcome.checkpoint, outcome.report)
    elif json_out:
        print_json(
            {
                "checkpoint": str(outcome.checkpoint),
                "best_epoch": outcome.fit.best_epoch,
                "seconds": round(outcome.fit.seconds, 1),
                "stopped_early": outcome.fit.stopped_early,
                "val": outcome.fit.best,
                "test": outcome.test,
            }
        )
    else:
        _print_report(stage, "test", outcome.checkpoint, outcome.test)


def _print_measured(measured: MeasuredCheckpoint, json_out: bool) -> None:
    """Print a checkpoint made without a training loop: JSON, or its val and test tables."""
    if json_out:
        report = {"checkpoint": str(measured.checkpoint), **measured.made_from}
        print_json({**report, "val": measured.val, "test": measured.test})
    else:
        _print_report(measured.stage, "val", measured.checkpoint, measured.val)
        _print_report(measured.stage, "test", measured.checkpoint, measured.test)


def _print_report(stage: str, split: str, checkpoint: Path, report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{stage} {checkpoint} on the {split} split", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
        elif isinstance(value, int | str):
            table.add_row(key, str(value))
    out_console.print(table)
    per_class = report.get("per_class")
    if per_class:
        classes = Table(title="per class", title_justify="left")
        for col in ("class", "precision", "recall", "support"):
            classes.add_column(col, justify="right")
        for name, row in per_class.items():
            classes.add_row(
                name, f"{row['precision']:.4f}", f"{row['recall']:.4f}", str(row["support"])
            )
        out_console.print(classes)
