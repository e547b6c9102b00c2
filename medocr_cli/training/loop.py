"""One fit loop for every learned stage: progress, validation, best checkpoint, early stop.

It also resumes, seeds and draws curves.

A stage supplies a `Task` (its model, batches, loss and validation); the loop owns the rest, so
`medocr train classifier|detector|recognizer|inpainter` behave the same way.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from medocr_cli.errors import UsageError
from medocr_cli.io.atomic import write_text_atomic
from medocr_cli.io.checkpoints import load_checkpoint, save_checkpoint
from medocr_cli.models.checkpoint import load_weights
from medocr_cli.training.plots import plot_curves
from medocr_cli.types import Progress, notify_advance, notify_start


class Task(Protocol):
    """What a stage gives the loop."""

    name: str
    model: nn.Module

    def train_batches(self, epoch: int) -> Iterable[Any]:
        """Yield the training batches of one epoch (shuffled by the task's own seeded RNG)."""
        ...

    def n_train_batches(self) -> int:
        """Return how many batches `train_batches` yields."""
        ...

    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the mean loss of a batch and running stats ({"n": ..., "correct": ...})."""
        ...

    def validate(self) -> dict[str, float]:
        """Return validation metrics; must hold the key the loop monitors."""
        ...

    def export(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Return the packed checkpoint dict of the current model with `metrics`."""
        ...

    def after_epoch(self, epoch: int, out: Path) -> None:
        """Write per-epoch pictures (a sample grid); may do nothing."""
        ...


@dataclass
class FitConfig:
    """How to run the loop.

    Attributes:
        out: Folder for `NAME.pt` (best), `NAME.last.pt` (resume state), history and curves.
        epochs: Most epochs to run.
        lr: Peak learning rate (linear warm-up over the first 3% of steps, then cosine decay).
        optimizer: "sgd" (momentum 0.9, the paper's) or "adamw".
        weight_decay: L2 / decoupled weight decay.
        patience: Stop after this many epochs without a better monitored value.
        monitor: Validation key that picks the best checkpoint.
        mode: "max" or "min" for `monitor`.
        resume: Continue from `NAME.last.pt` when it exists.
        init: Start from the weights of this checkpoint (fine-tuning: a new schedule and
            optimizer state, possibly another input size) instead of a random init. Ignored
            when a resume state is found.
        seed: Seed of torch, numpy and random.
        grad_clip: Clip the gradient norm to this (0 = off).
        quiet: No progress bars.
        trained_with: Provenance stored in the checkpoint (command, data seed...).
        progress: Started with the number of epochs, advanced with each epoch's row (what
            `history.json` holds); the bars drawn here are separate (`quiet` turns them off).
    """

    out: Path
    epochs: int = 10
    lr: float = 0.01
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    patience: int = 4
    monitor: str = "val_acc"
    mode: str = "max"
    resume: bool = False
    init: Path | None = None
    seed: int = 0
    grad_clip: float = 0.0
    quiet: bool = False
    trained_with: dict[str, Any] = field(default_factory=dict)
    progress: Progress[dict[str, Any]] | None = None


@dataclass
class FitResult:
    """What a fit produced."""

    best_path: Path
    best_epoch: int
    best: dict[str, Any]
    history: list[dict[str, Any]]
    stopped_early: bool
    seconds: float


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so that a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """Return SGD with momentum 0.9 or AdamW, without weight decay on norms and biases."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 or name.endswith(".bias") else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    raise UsageError(f"unknown optimizer {config.optimizer!r}", hint="use sgd or adamw")


def lr_at(step: int, total: int, peak: float) -> float:
    """Warm up linearly over 3% of the steps, then decay along a cosine to 1% of the peak."""
    warm = max(1, int(0.03 * total))
    if step < warm:
        return peak * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def load_init_weights(model: nn.Module, path: Path) -> None:
    """Copy the weights of the checkpoint at `path` into `model`, which must share its layers.

    Only the weights travel: the spec's input size may differ (a fully convolutional network
    fine-tuned at a larger input), but every layer must be there with the same shape.

    Raises:
        UsageError: The checkpoint's layers do not match the model's.
    """
    try:
        load_weights(model, load_checkpoint(path)["state_dict"])
    except ValueError as exc:
        raise UsageError(
            f"--init weights do not fit this stage's network: {exc}",
            hint="start from a checkpoint of the same stage and architecture",
            path=path,
        ) from exc


def _better(value: float, best: float | None, mode: str) -> bool:
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def fit(task: Task, config: FitConfig) -> FitResult:
    """Train `task.model` and keep the best checkpoint by `config.monitor`.

    Writes into `config.out`: `NAME.pt` (best, packed, fp16), `NAME.last.pt` (full state for
    `--resume`), `NAME.history.json` and `NAME.curves.png`, all atomically, each epoch.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    best_path = out / f"{task.name}.pt"
    last_path = out / f"{task.name}.last.pt"
    model = task.model
    device = next(model.parameters()).device
    optimizer = make_optimizer(model, config)
    history: list[dict[str, Any]] = []
    best_value: float | None = None
    best_epoch = 0
    best_metrics: dict[str, Any] = {}
    bad_epochs = 0
    start_epoch = 1
    seed_everything(config.seed)
    if config.resume and last_path.is_file():
        state = load_checkpoint(last_path)
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
        best_value = state["best_value"]
        best_epoch = state["best_epoch"]
        best_metrics = state["best_metrics"]
        bad_epochs = state["bad_epochs"]
        start_epoch = state["epoch"] + 1
        torch.set_rng_state(state["torch_rng"])
        seed_everything(config.seed + start_epoch)
    elif config.init is not None:
        load_init_weights(model, config.init)
    steps_per_epoch = task.n_train_batches()
    total_steps = steps_per_epoch * config.epochs
    started = time.perf_counter()
    stopped_early = False
    notify_start(config.progress, config.epochs)
    for epoch in range(start_epoch, config.epochs + 1):
        if bad_epochs >= config.patience:
            stopped_early = True
            break
        epoch_start = time.perf_counter()
        model.train()
        sums: dict[str, float] = {}
        with progress_bar(config.quiet, f"{task.name} epoch {epoch}/{config.epochs}") as progress:
            bar = progress.add_task("train", total=steps_per_epoch, info="")
            for i, batch in enumerate(task.train_batches(epoch)):
                step = (epoch - 1) * steps_per_epoch + i
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total_steps, config.lr)
                loss, stats = task.loss(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                n = stats.get("n", 1.0)
                sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * n
                for key, value in stats.items():
                    sums[key] = sums.get(key, 0.0) + value
                progress.update(bar, advance=1, info=f"loss {sums['loss'] / sums['n']:.4f}")
        n_seen = sums.get("n", 1.0)
        row: dict[str, Any] = {"epoch": epoch, "train_loss": sums.get("loss", 0.0) / n_seen}
        if "correct" in sums:
            row["train_acc"] = sums["correct"] / n_seen
        model.eval()
        with torch.inference_mode():
            row.update(task.validate())
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = round(time.perf_counter() - epoch_start, 1)
        history.append(row)
        if config.monitor not in row:
            raise UsageError(f"validation gave no {config.monitor!r}", hint="a bug in the task")
        value = float(row[config.monitor])
        if _better(value, best_value, config.mode):
            best_value, best_epoch, bad_epochs = value, epoch, 0
            best_metrics = {k: v for k, v in row.items() if k not in ("lr",)}
            packed = task.export({"val": best_metrics, "epoch": epoch})
            packed["trained_with"] = {**config.trained_with, "best_epoch": epoch}
            save_checkpoint(best_path, packed)
        else:
            bad_epochs += 1
        task.after_epoch(epoch, out)
        _log_epoch(row, config.monitor, epoch == best_epoch, config.quiet)
        notify_advance(config.progress, row)
        save_checkpoint(
            last_path,
            {
                "spec": {"resume_of": task.name},
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "history": history,
                "best_value": best_value,
                "best_epoch": best_epoch,
                "best_metrics": best_metrics,
                "bad_epochs": bad_epochs,
                "epoch": epoch,
                "torch_rng": torch.get_rng_state(),
            },
        )
        write_text_atomic(out / f"{task.name}.history.json", json.dumps(history, indent=2) + "\n")
        plot_curves(history, out / f"{task.name}.curves.png", f"{task.name} training")
        if device.type == "cuda":
            torch.cuda.empty_cache()
    else:
        stopped_early = False
    return FitResult(
        best_path=best_path,
        best_epoch=best_epoch,
        best=best_metrics,
        history=history,
        stopped_early=stopped_early,
        seconds=time.perf_counter() - started,
    )


def progress_bar(quiet: bool, description: str) -> Any:
    """A transient rich progress bar on stderr (count, elapsed, remaining, an info field)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from medocr_cli.training.console import console

    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        disable=quiet,
        transient=True,
    )


def _log_epoch(row: dict[str, Any], monitor: str, is_best: bool, quiet: bool) -> None:
    if quiet:
        return
    from medocr_cli.training.console import console

    parts = [f"epoch {row['epoch']}"]
    for key, value in row.items():
        if key in ("epoch",):
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    mark = " [green]best[/]" if is_best else ""
    console.print(" | ".join(parts) + mark, highlight=False)
