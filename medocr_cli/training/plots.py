"""Training pictures: loss/metric curves per epoch and a confusion matrix, as PNG files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.io.atomic import atomic_path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, Any]], target: Path, title: str) -> None:
    """Draw train/val loss and every other per-epoch metric of `history` into a PNG."""
    if not history:
        return
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    losses = [k for k in ("train_loss", "val_loss") if k in history[0]]
    others = [
        k
        for k in history[0]
        if k not in ("epoch", "lr", "seconds", *losses) and isinstance(history[0][k], int | float)
    ]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key in losses:
        axes[0].plot(epochs, [h[key] for h in history], marker="o", label=key)
    axes[0].set_xlabel("epoch")
    axes[0].set_title("loss")
    axes[0].legend()
    for key in others:
        axes[1].plot(epochs, [h[key] for h in history], marker="o", label=key)
    axes[1].set_xlabel("epoch")
    axes[1].set_title("metrics")
    if others:
        axes[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(target, durable=False) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], target: Path, title: str) -> None:
    """Draw a confusion matrix (rows: truth, columns: prediction) with counts into a PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = matrix.max() if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        colour = "white" if value > top / 2 else "black"
        ax.text(j, i, str(value), ha="center", va="center", color=colour)
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(target, durable=False) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
