"""Subcommands whose stage is designed but not built yet: they say so and exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.common import fail


def _not_built(command: str, issue: str) -> None:
    fail(f"`medocr {command}` is not built yet ({issue}); nothing was done", code=2)


def merge(
    boxes: Annotated[
        list[Path], typer.Argument(help="JSON files written by `medocr extract --json`.")
    ],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """Merge boxes from several extractors into one de-duplicated set."""
    _not_built("merge", "box merging")
