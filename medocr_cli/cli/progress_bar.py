"""A Rich progress bar that is a `types.Progress` for any command."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from medocr_cli.cli.common import err_console


class Bar:
    """A transient bar on stderr: `start(total)` shows it, `advance(_)` moves it one step.

    Used as a context manager around a `run_<command>` call; disabled with --quiet or --json.
    Nothing is drawn before `start`, so an error found by the run's checks is printed alone.
    """

    def __init__(
        self, description: str, *, enabled: bool = True, console: Console | None = None
    ) -> None:
        self._bar = Progress(
            TextColumn(f"[bold]{description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or err_console,
            transient=True,
            disable=not enabled,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._bar.stop()

    def start(self, total: int) -> None:
        """Show the bar for `total` items."""
        self._bar.start()
        self._task = self._bar.add_task("items", total=total)

    def advance(self, result: Any) -> None:
        """Move the bar one item."""
        if self._task is not None:
            self._bar.advance(self._task)
