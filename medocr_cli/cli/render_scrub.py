"""Rich rendering of a scrub run: the progress bar and the closing summary table."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medocr_cli.cli.progress_bar import Bar
from medocr_cli.errors import printable
from medocr_cli.pipeline.scrub import ScrubSummary
from medocr_cli.types import FileResult, Status

_STYLE = {Status.OK: "green", Status.FLAGGED: "yellow", Status.FAILED: "red", Status.SKIPPED: "dim"}


def shown(text: object) -> str:
    """A path or message as it may be printed: control characters escaped, no Rich markup.

    A file name can hold a terminal escape sequence, a newline or `[bold]`-like brackets.
    """
    return escape(printable(text))


class RichProgress(Bar):
    """The scrub bar over files; failures (and with --verbose every file) printed above it."""

    def __init__(self, console: Console, *, enabled: bool = True, verbose: bool = False) -> None:
        super().__init__("scrub", enabled=enabled, console=console)
        self.console = console
        self.verbose = verbose

    def advance(self, result: FileResult) -> None:
        """Move the bar; report failures (always) and every file (with --verbose)."""
        super().advance(result)
        if result.status == Status.FAILED:
            self.console.print(
                f"[red]failed[/] {shown(result.error)}", highlight=False, soft_wrap=True
            )
        elif result.status == Status.FLAGGED:
            where = f" -> {shown(result.quarantined)}" if result.quarantined is not None else ""
            self.console.print(
                f"[yellow]flagged[/] {shown(result.path)}: {result.residual or 0} "
                f"residual text box(es){where}",
                highlight=False,
                soft_wrap=True,
            )
        elif self.verbose:
            note = " (resumed)" if result.resumed else ""
            self.console.print(
                f"[{_STYLE[result.status]}]{result.status}[/] {shown(result.path)} "
                f"frames={result.frames} reused={result.frames_reused or 0} "
                f"boxes={result.boxes} {result.seconds:.2f}s{note}",
                highlight=False,
                soft_wrap=True,  # one line per file, however long the path
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
    resumed = sum(1 for r in images if r.resumed)
    images = [r for r in images if not r.resumed]
    frames = sum(r.frames for r in images)
    boxes = sum(r.boxes for r in images)
    per_image = summary.seconds / len(images) if images else 0.0
    reused = sum(int(r.frames_reused or 0) for r in images)
    console.print(
        f"{len(images)} images, {frames} frames ({reused} identical to an earlier frame), "
        f"{boxes} text boxes removed in {summary.seconds:.1f}s ({per_image:.2f}s per image)"
        + ("; stopped at the first failure" if summary.stopped_early else ""),
        highlight=False,
    )
    if resumed:
        console.print(f"{resumed} more already done by an earlier run (--resume)", highlight=False)
    quarantined = sum(1 for r in images if r.quarantined is not None)
    if quarantined:
        console.print(
            f"{quarantined} flagged outputs moved to the quarantine folder", highlight=False
        )
    stages: dict[str, float] = {}
    for r in images:
        for key, value in (r.stage_seconds or {}).items():
            stages[key] = stages.get(key, 0.0) + float(value)
    if stages:
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1]))
        console.print(f"time by stage: {parts}", highlight=False)
    console.print(f"report: {shown(summary.report_path)}", highlight=False)
    if summary.html_path is not None:
        console.print(
            f"review page: {shown(summary.html_path)} (its thumbnails show the original text)",
            highlight=False,
        )
