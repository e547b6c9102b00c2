"""Rich rendering of a scrub run: the progress bar and the closing summary table."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from medocr_cli.pipeline.scrub import ScrubSummary
from medocr_cli.types import FileResult, Status

_STYLE = {Status.OK: "green", Status.FLAGGED: "yellow", Status.FAILED: "red", Status.SKIPPED: "dim"}


class RichProgress:
    """A progress bar over files; failures are printed above it as they happen."""

    def __init__(self, console: Console, *, enabled: bool = True, verbose: bool = False) -> None:
        self.console = console
        self.enabled = enabled
        self.verbose = verbose
        self._bar = Progress(
            TextColumn("[bold]scrub"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._task = None

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.__exit__(et, ev, tb)

    def start(self, total: int) -> None:
        """Create the bar for `total` files."""
        self._task = self._bar.add_task("files", total=total)

    def advance(self, result: FileResult) -> None:
        """Move the bar; report failures (always) and every file (with --verbose)."""
        if self._task is not None:
            self._bar.advance(self._task)
        if result.status == Status.FAILED:
            self.console.print(f"[red]failed[/] {result.error}", highlight=False, soft_wrap=True)
        elif self.verbose:
            self.console.print(
                f"[{_STYLE[result.status]}]{result.status}[/] {result.path} "
                f"frames={result.frames} boxes={result.boxes} {result.seconds:.2f}s",
                highlight=False,
            )


def render_summary(console: Console, summary: ScrubSummary) -> None:
    """Print the totals table and where the report is."""
    counts = summary.counts
    images = [r for r in summary.results if r.status != Status.SKIPPED]
    table = Table(title="medocr scrub", show_header=True, header_style="bold")
    table.add_column("status")
    table.add_column("files", justify="right")
    for status in (Status.OK, Status.FLAGGED, Status.FAILED, Status.SKIPPED):
        table.add_row(f"[{_STYLE[status]}]{status}[/]", str(counts.get(str(status), 0)))
    console.print(table)
    frames = sum(r.frames for r in images)
    boxes = sum(r.boxes for r in images)
    per_image = summary.seconds / len(images) if images else 0.0
    console.print(
        f"{len(images)} images, {frames} frames, {boxes} text boxes removed in "
        f"{summary.seconds:.1f}s ({per_image:.2f}s per image)"
        + ("; stopped at the first failure" if summary.stopped_early else ""),
        highlight=False,
    )
    console.print(f"report: {summary.report_path}", highlight=False)
