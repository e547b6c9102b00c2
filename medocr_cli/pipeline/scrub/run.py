"""`run_scrub`: a scrub run over folder trees, from the inputs to the report.

Checks the options, walks the inputs (or reads a file list), plans one job per input
(`plan_jobs`: outputs, clashes, what `--resume` skips), takes the lock on OUT, hands the files
out (cleaned here by `engine.scrub_file`, in worker processes or on a Dask cluster), journals
each one, and rewrites the report from the journal when the run ends, also when interrupted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medocr_cli.errors import OutputError, UsageError
from medocr_cli.io.walk import (
    InputFile,
    check_output_root,
    check_targets,
    check_unique,
    entry_key,
    walk_inputs,
)
from medocr_cli.pipeline.scrub.config import (
    ScrubConfig,
    check_options,
    header_step,
    quarantine_path,
)
from medocr_cli.pipeline.scrub.engine import input_stat, scrub_file
from medocr_cli.pipeline.scrub.journal import (
    QUARANTINE_DIR,
    STARTED,
    Journal,
    read_lines,
    recorded_target,
    run_lock,
    sweep,
    write_report,
)
from medocr_cli.pipeline.scrub.models import RunModels, load_run_models
from medocr_cli.stages.printed import check_tesseract
from medocr_cli.types import FileResult, Progress, Status, notify_advance, notify_start

if TYPE_CHECKING:
    from medocr_cli.io.deid_header import HeaderDeidentifier

#: The per-file step of a run: `engine.scrub_file` or what a caller gives in its place
#: (called as `scrub_file` is: item, target, config, header, models, replace_ok).
ScrubOne = Callable[..., FileResult]


@dataclass
class ScrubSummary:
    """The outcome of a run: one result per input file, the report's path, totals."""

    results: list[FileResult]
    report_path: Path
    seconds: float
    stopped_early: bool = False
    html_path: Path | None = None

    @property
    def counts(self) -> Counter[str]:
        """Number of files per status."""
        return Counter(str(r.status) for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 when every image was cleaned, 1 when any failed or was flagged."""
        c = self.counts
        return 1 if c[Status.FAILED] or c[Status.FLAGGED] or self.stopped_early else 0


def resumed_result(
    item: InputFile, target: Path, previous: dict[str, Any] | None
) -> FileResult | None:
    """The report line of an input a previous run already finished, or None to redo it.

    Finished means: the output exists, and the previous line says ok for the same path with the
    same input size and modification time. The earlier run's settings are not compared: a file
    it finished with verification off keeps `"verified": false` in its new line. The new line
    carries the previous line's frames_reused and verified (as written there) over.
    """
    if previous is None or previous.get("status") != str(Status.OK) or not target.is_file():
        return None
    try:
        size, mtime_ns = input_stat(item)
    except OSError:
        return None
    if previous.get("input_size") != size or previous.get("input_mtime_ns") != mtime_ns:
        return None
    return FileResult(
        path=str(item.path),
        status=Status.OK,
        output=str(target),
        frames=int(previous.get("frames", 0)),
        boxes=int(previous.get("boxes", 0)),
        input_size=size,
        input_mtime_ns=mtime_ns,
        frames_reused=previous.get("frames_reused"),
        verified=previous.get("verified"),
        resumed=True,
    )


@dataclass
class Job:
    """One input of a run: where it goes, and what is known before cleaning it.

    Attributes:
        item: The input entry.
        target: Its output path (None for skipped entries).
        ready: Its result when none must be computed (skipped, resumed).
        replace_ok: Its existing output was left by a killed medocr run for this very input,
            so it may be replaced without `--overwrite`.
    """

    item: InputFile
    target: Path | None = None
    ready: FileResult | None = None
    replace_ok: bool = False


def plan_jobs(
    items: list[InputFile], config: ScrubConfig, previous: dict[str, dict[str, Any]]
) -> list[Job]:
    """One job per input entry, in input order, with nothing written yet.

    `previous` holds the newest journal line per input (`read_lines`, keyed by
    `walk.entry_key`). An input is resumed, or its existing output replaced without
    `--overwrite` after a kill, only when that line names this very output path.

    Raises:
        UsageError: One entry reached twice, two inputs sharing a path the run may write
            (quarantine places included unless `--flagged keep`), an output resolving into the
            inputs, a folder on the way to an output that is a file or a broken link, or
            (without `--overwrite`) outputs already there that this run would have to
            replace: a second run into the same OUT stops here, before touching anything.
    """
    check_unique(items)
    jobs: list[Job] = []
    clashes: list[Path] = []
    for item in items:
        if not item.candidate:
            skipped = FileResult(path=str(item.path), status=Status.SKIPPED, error=item.skip_reason)
            jobs.append(Job(item, ready=skipped))
            continue
        target = config.output / item.rel
        line = previous.get(entry_key(item.path))
        if line is not None and recorded_target(line) != entry_key(target):
            line = None  # another output path (another input root): not this output's line
        done = resumed_result(item, target, line) if config.resume else None
        orphan = line is not None and line.get("status") == STARTED
        if done is None and not (config.overwrite or orphan) and target.exists():
            clashes.append(target)
        jobs.append(Job(item, target, done, orphan))
    check_targets(
        [
            (
                job.item,
                [job.target]
                + (
                    [quarantine_path(config.output, job.item.rel)]
                    if config.flagged == "quarantine"
                    else []
                ),
            )
            for job in jobs
            if job.target is not None
        ],
        config.inputs,
        config.output,
    )
    if clashes:
        raise UsageError(
            f"{len(clashes)} output(s) already exist in {config.output}, e.g. {clashes[0]}",
            hint="--resume skips the files a previous run finished; --overwrite replaces outputs",
        )
    return jobs


def _dispatch(jobs: list[Job], journal: Journal) -> Iterator[Job]:
    """Yield the jobs, journaling each file as started just before it is handed out."""
    for job in jobs:
        if job.ready is None:
            assert job.target is not None
            journal.started(str(job.item.path), job.target, job.item.rel)
        yield job


def _results(
    jobs: Iterator[Job],
    config: ScrubConfig,
    header: HeaderDeidentifier | None,
    models: RunModels | None,
    scrub_one: ScrubOne,
) -> Iterator[FileResult]:
    """One result per job, in job order: cleaned here, in workers or on a Dask cluster.

    `models` set with workers asked for means the caller passed its own (or its own
    `scrub_one`): files are then cleaned here, with `scrub_one`.
    """
    if config.workers > 1 and models is None:
        from medocr_cli.pipeline.scrub.workers import parallel_results

        yield from parallel_results(jobs, config, config.workers)
        return
    if config.cluster is not None and models is None:
        from medocr_cli.pipeline.scrub.cluster import cluster_results

        yield from cluster_results(jobs, config, config.cluster)
        return
    for job in jobs:
        if job.ready is not None:
            yield job.ready
        else:
            assert job.target is not None
            yield scrub_one(job.item, job.target, config, header, models, job.replace_ok)


def _record(journal: Journal, result: FileResult) -> None:
    """Journal a finished file; an output that cannot be recorded is taken back out.

    Raises:
        OutputError: The journal cannot be written (the run cannot go on without it).
    """
    try:
        journal.append(result.to_json())
    except OutputError:
        for key in (result.output, result.quarantined):
            if key:
                Path(key).unlink(missing_ok=True)  # nothing is left that the report does not hold
        raise


def run_scrub(
    config: ScrubConfig,
    progress: Progress[FileResult] | None = None,
    models: RunModels | None = None,
    scrub_one: ScrubOne | None = None,
) -> ScrubSummary:
    """Clean every image under `config.inputs` into `config.output` and write the report.

    `models` are the finder, inpainter and verify detector to use instead of loading them from
    the weights folder (the seam tests and embedding callers use); with them, every file is
    cleaned in this process, whatever `config.workers` says. `scrub_one` is the per-file step
    to use instead of `engine.scrub_file`, called as it is (the seam tests use to interrupt or
    break one file); with it too, every file is cleaned in this process.

    Every file is journaled (`journal.py`: a `started` line before it is cleaned, its
    report line once its output is in place) in `OUT/.medocr/journal.jsonl`, which is only
    appended to; `OUT/medocr-report.jsonl` (the newest line per input path, each a
    `FileResult.to_json()`: every field a line can hold is documented there) is rewritten from
    it atomically when the run ends, also when it is interrupted.

    Raises:
        UsageError: Missing inputs, OUT and an input overlapping (either way, links
            followed), two inputs sharing an output path, outputs already there without
            `--overwrite`/`--resume`, another run holding OUT, an unknown method or header
            mode, a salt without `header="basic"`, an unknown `flagged` mode, `resume` with
            "basic" and no salt.
        OutputError: OUT, its journal or its report cannot be written.
        ToolMissingError: Tesseract is not installed.
    """
    if config.files is not None:  # the list's folders stand for the inputs in every check
        config = replace(config, inputs=config.files.folders())
    check_options(config)
    header_step(config)  # refuses bad header options before the salt is drawn
    if config.header == "basic" and config.salt is None:
        from medocr_cli.io.deid_header import new_salt

        config = replace(config, salt=new_salt())  # one salt for the run, shared by workers
    header = header_step(config)
    check_output_root(config.inputs, config.output)
    check_tesseract()
    given = models is not None or scrub_one is not None
    if models is None:
        models = load_run_models(config)  # loaded here even with workers: bad weights fail early
    if (config.workers > 1 or config.cluster is not None) and not given:
        models = None  # each worker loads its own
    items = list(
        config.files
        if config.files is not None
        else walk_inputs(config.inputs, follow_links=config.follow_links, output=config.output)
    )
    jobs = plan_jobs(items, config, read_lines(config.output))
    try:
        config.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder: {exc.strerror}", path=config.output
        ) from exc
    with run_lock(config.output):
        previous = read_lines(config.output)  # again: the lock makes this one authoritative
        jobs = plan_jobs(items, config, previous)
        sweep(previous, config.output / QUARANTINE_DIR)
        journal = Journal(config.output)
        notify_start(progress, len(items))
        results: list[FileResult] = []
        stopped = False
        t0 = time.perf_counter()
        try:
            for result in _results(
                _dispatch(jobs, journal), config, header, models, scrub_one or scrub_file
            ):
                _record(journal, result)
                results.append(result)
                notify_advance(progress, result)
                if result.status == Status.FAILED and config.stop_on_error:
                    stopped = True
                    break
        finally:
            journal.close()
            report = write_report(config.output)
    summary = ScrubSummary(results, report, time.perf_counter() - t0, stopped)
    if config.html:
        from medocr_cli.pipeline.report_html import write_html_report

        summary.html_path = write_html_report(config.output, results)
    return summary
