"""Subcommands whose stage is designed but not built yet: they say so and exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.common import fail


def _not_built(command: str, issue: str) -> None:
    fail(f"`medocr {command}` is not built yet ({issue}); nothing was done", code=2)


def train(
    stage: Annotated[str, typer.Argument(help="classifier, detector, recognizer or inpainter.")],
    data: Annotated[Path, typer.Argument(help="Dataset folder made by generate-dataset.")],
) -> None:
    """Train one learned stage on a generated dataset and save a checkpoint with its metrics."""
    _not_built("train", "no learned stage is trainable yet")


def classify(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
) -> None:
    """Classify images as None / P (printed) / H (handwritten) / PH (both) with a ResNet18."""
    _not_built("classify", "the classifier has no weights yet")


def merge(
    boxes: Annotated[
        list[Path], typer.Argument(help="JSON files written by `medocr extract --json`.")
    ],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """Merge boxes from several extractors into one de-duplicated set."""
    _not_built("merge", "box merging")
