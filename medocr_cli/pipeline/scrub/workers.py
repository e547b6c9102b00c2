"""Running `scrub_file` in worker processes (`scrub --workers N`).

Each worker loads the run's models once, with torch limited to its share of the cores, and
cleans whole files; the parent keeps the order of the report, the progress bar and the
resume logic. Workers ignore Ctrl-C: the parent cancels the files not yet started and lets
the ones in flight finish (their outputs are written atomically either way), so an
interrupted run leaves complete outputs and a report that `--resume` can continue from.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from medocr_cli.io.walk import InputFile
from medocr_cli.types import FileResult

_STATE: dict[str, Any] = {}


def _init(config: Any, threads: int) -> None:
    """Worker start: one torch thread share, the run's header step and models."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    from medocr_cli.pipeline.scrub.config import header_step
    from medocr_cli.pipeline.scrub.models import load_run_models

    torch.set_num_threads(threads)
    _STATE["config"] = config
    _STATE["header"] = header_step(config)
    _STATE["models"] = load_run_models(config)


def _run(item: InputFile, target: Path, replace_ok: bool) -> FileResult:
    from medocr_cli.pipeline.scrub.engine import scrub_file

    return scrub_file(
        item, target, _STATE["config"], _STATE["header"], _STATE["models"], replace_ok
    )


def threads_per_worker(workers: int) -> int:
    """Torch threads each worker gets: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def parallel_results(
    jobs: Iterable[Any],
    config: Any,
    workers: int,
) -> Iterator[FileResult]:
    """Yield one result per job, in job order, cleaning files in `workers` processes.

    A job is a `run.Job`: one that already has a result (skipped, resumed) is passed
    through in its place; the others are cleaned by a worker. Jobs are drawn from `jobs` only
    as they are handed out, so a journaling iterator records each just before it starts. At
    most 2 x `workers` files are in flight, so memory stays bounded on long runs. `config`
    must carry the run's salt when the header mode is "basic" (so every worker maps UIDs alike).
    """
    if config.header == "basic" and config.salt is None:
        raise ValueError("parallel runs need the run's salt in the config")
    window: deque[tuple[FileResult | None, Future[FileResult] | None]] = deque()
    context = get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init,
        initargs=(replace(config), threads_per_worker(workers)),
    )
    try:
        for job in jobs:
            if job.ready is not None:
                window.append((job.ready, None))
            else:
                window.append((None, pool.submit(_run, job.item, job.target, job.replace_ok)))
            while len(window) > 2 * workers or (window and window[0][1] is None):
                done, future = window.popleft()
                yield done if future is None else future.result()
        while window:
            done, future = window.popleft()
            yield done if future is None else future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
