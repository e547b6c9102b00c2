"""Running `scrub_file` on a Dask distributed cluster (`scrub --cluster local:N | tcp://HOST:PORT`).

An archive of millions of files outgrows one machine. With `--cluster`, files are spread over
Dask workers: each worker loads the run's models once (`ScrubModelsPlugin`, a worker plugin
that runs `load_run_models` and `header_step` when it is registered or when the worker joins
later) and cleans whole files with `scrub_file`, writing each output straight into OUT (staged,
verified and renamed there as in any run). So every worker must see OUT and the inputs at the
same paths as the machine that starts the run: a shared filesystem. The parent keeps what it
keeps with `--workers N` (`workers.py`): the journal (a `started` line when a file is
submitted, its result line when the result comes back), the report order, the progress bar,
resume and the lock on OUT.

`local:N` starts a `LocalCluster` of N single-threaded worker processes on this machine, each
with torch limited to its share of the cores. `tcp://HOST:PORT` connects to a running scheduler
(`dask scheduler`, with `dask worker tcp://HOST:PORT` on each machine); there each worker gives
torch as many threads as it has Dask threads (`dask worker --nthreads T`) and cleans one file at
a time, so `--nworkers P --nthreads T` with P x T = the machine's cores shares them out.

A file whose worker dies (Dask gives up after it killed several workers) is reported failed,
and the run goes on; losing the scheduler stops the run (`ClusterError`), with the journal
intact for `--resume`. Ctrl-C cancels the files not started; with `local:N` the workers stop
with the run, so files they were cleaning read "interrupted" until a `--resume`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin

from medocr_cli.errors import ClusterError, MedocrError, UsageError, printable
from medocr_cli.pipeline.scrub.cluster_address import (
    ClusterAddress,
    connect_timeout,
    parse_cluster,
    unreachable,
)
from medocr_cli.types import FileResult, Status

if TYPE_CHECKING:
    from distributed import Client, Future, Worker

    from medocr_cli.io.walk import InputFile


class ScrubModelsPlugin(WorkerPlugin):
    """Loads a run's models and header step on each worker once, and keeps them there.

    Registered under a name unique to the run, so two runs sharing a cluster keep their own
    settings, and removed when the run ends (the models' memory is given back).
    """

    def __init__(self, config: Any, threads: int | None) -> None:
        # Shipped pickled, and unpickled in `setup` only after torch is imported: unpickling
        # a `ScrubConfig` imports the pipeline, whose libraries may load an OpenMP runtime.
        self._config = pickle.dumps(config)
        self.threads = threads
        self.config: Any = None
        self.state: tuple[Any, Any] | None = None
        self.lock: threading.Lock | None = None

    def setup(self, worker: Worker) -> None:
        """Load the models with torch limited to this worker's share of the cores.

        A local worker inherits the parent's environment, where `config.tesseract_env` may
        already have set OMP_THREAD_LIMIT=1 for Tesseract; the OpenMP runtimes read it once,
        when the library that brings them is imported, and torch would then run on one
        thread whatever `set_num_threads` says (measured: a 2-thread worker ran at the speed
        of one). So torch is imported first, without it, as in a plain run.
        """
        limit = os.environ.pop("OMP_THREAD_LIMIT", None)
        try:
            import torch
        finally:
            if limit is not None:
                os.environ["OMP_THREAD_LIMIT"] = limit
        torch.set_num_threads(self.threads or max(1, worker.state.nthreads))

        from medocr_cli.pipeline.scrub.config import header_step
        from medocr_cli.pipeline.scrub.models import load_run_models

        self.config = pickle.loads(self._config)
        self.lock = threading.Lock()
        self.state = (header_step(self.config), load_run_models(self.config))

    def teardown(self, worker: Worker) -> None:
        """Drop the models."""
        self.state = None


def _clean(plugin_name: str, item: InputFile, target: Path, replace_ok: bool) -> FileResult:
    """The task run on a worker: clean one file with the models its plugin loaded.

    Raises:
        ClusterError: The plugin did not load on this worker (it failed there: e.g. the
            weights are missing on that machine).
    """
    from distributed import get_worker

    from medocr_cli.pipeline.scrub.engine import scrub_file

    plugin = get_worker().plugins.get(plugin_name)
    if not isinstance(plugin, ScrubModelsPlugin) or plugin.state is None or plugin.lock is None:
        raise ClusterError(
            "this Dask worker could not load medocr's models",
            hint="check the worker's log; every worker needs medocr and the weights installed",
        )
    header, models = plugin.state
    with plugin.lock:  # one file at a time per worker: torch already has its threads
        return scrub_file(item, target, plugin.config, header, models, replace_ok)


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start processes that ignore SIGINT (the disposition is inherited by spawned children).

    Ctrl-C in a terminal reaches every process of its group: the parent handles it (cancels,
    closes the cluster, writes the report); the workers would each print a traceback.
    """
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _connect(address: ClusterAddress) -> tuple[Client, Any, int | None]:
    """A client of the cluster, the local cluster it started (or None) and torch threads.

    Raises:
        UsageError: The scheduler cannot be reached, or has no worker in time.
    """
    import logging

    from distributed import Client, LocalCluster

    if address.local_workers is not None:
        n = address.local_workers
        threads = max(1, (os.cpu_count() or 1) // n)
        share = str(threads)  # Dask's workers would start with 1 (`pre-spawn-environ`)
        with _workers_ignore_ctrl_c():
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                memory_limit=0,  # no cap: one large file may need more than its share
                dashboard_address=None,
                silence_logs=logging.CRITICAL,  # the report says what went wrong, once per file
                env={"OMP_NUM_THREADS": share, "MKL_NUM_THREADS": share},
            )
        client = Client(cluster)
        client.wait_for_workers(n)
        return client, cluster, threads
    assert address.scheduler is not None
    timeout = connect_timeout()
    try:
        client = Client(address.scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise unreachable(address.scheduler, exc) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise UsageError(
            f"the Dask scheduler at {address.scheduler} has no worker",
            hint="start workers with `dask worker " + address.scheduler + "`",
        ) from None
    return client, None, None


def _absolute(job: Any) -> tuple[InputFile, Path]:
    """The job's input and target as absolute paths (a worker's working folder differs)."""
    return replace(job.item, path=job.item.path.absolute()), job.target.absolute()


def _as_parent(result: FileResult, job: Any, config: Any) -> FileResult:
    """Give a worker's result the parent's spelling of its paths (the journal's keys)."""
    from medocr_cli.pipeline.scrub.config import quarantine_path

    result.path = str(job.item.path)
    if result.output is not None:
        result.output = str(job.target)
    if result.quarantined:
        result.quarantined = str(quarantine_path(config.output, job.item.rel))
    return result


def _lost(job: Any, exc: BaseException) -> FileResult:
    """The failed result of a file whose task did not return one."""
    from distributed.scheduler import KilledWorker

    from medocr_cli.errors import unexpected_error_line

    path = str(job.item.path)
    if isinstance(exc, KilledWorker):
        error = (
            f"{printable(path)}: the Dask workers cleaning this file died (out of memory?) "
            "(hint: run again with --resume --overwrite on workers with more memory)"
        )
    elif isinstance(exc, MedocrError):
        error = f"{printable(path)}: {exc.one_line()}"
    else:
        error = unexpected_error_line(path, exc)
    return FileResult(path=path, status=Status.FAILED, error=error)


def _result(job: Any, future: Future, config: Any) -> FileResult:
    """Wait for one file's result.

    Raises:
        ClusterError: The scheduler was lost (the future was cancelled).
    """
    from concurrent.futures import CancelledError

    try:
        return _as_parent(future.result(), job, config)
    except CancelledError:
        raise ClusterError(
            "lost the Dask cluster while files were being cleaned",
            hint="check the scheduler, then run again with --resume",
        ) from None
    except Exception as exc:
        return _lost(job, exc)


def cluster_results(jobs: Iterable[Any], config: Any, address: str) -> Iterator[FileResult]:
    """Yield one result per job, in job order, cleaning files on a Dask cluster.

    A job is a `run.Job`: one that already has a result (skipped, resumed) is passed through
    in its place; the others are submitted to the cluster. Jobs are drawn from `jobs` only as
    they are submitted, so a journaling iterator records each just before it goes out. At most
    2 x the cluster's threads (at least 2) files are in flight, so memory stays bounded on
    long runs. `config` must carry the run's salt when the header mode is "basic".

    Raises:
        UsageError: A bad address, an unreachable scheduler, or one without workers.
        MedocrError: The models cannot be loaded on a worker (missing weights, bad options).
        ClusterError: The cluster was lost during the run.
    """
    if config.header == "basic" and config.salt is None:
        raise ValueError("cluster runs need the run's salt in the config")
    parsed = parse_cluster(address)
    output = config.output.absolute()
    shipped = replace(config, output=output)
    client, cluster, threads = _connect(parsed)
    name = f"medocr-scrub-{uuid.uuid4().hex}"
    window: deque[tuple[Any, FileResult | None, Future | None]] = deque()
    try:
        try:
            client.register_plugin(ScrubModelsPlugin(shipped, threads), name=name)
        except MedocrError:
            raise
        except Exception as exc:
            raise ClusterError(
                f"the Dask workers could not load medocr's models ({type(exc).__name__})",
                hint="every worker needs medocr and the weights installed",
            ) from None
        limit = max(2, 2 * sum(client.nthreads().values()))
        for job in jobs:
            if job.ready is not None:
                window.append((job, job.ready, None))
            else:
                item, target = _absolute(job)
                future = client.submit(_clean, name, item, target, job.replace_ok, pure=False)
                window.append((job, None, future))
            while len(window) > limit or (window and window[0][2] is None):
                done_job, done, future = window.popleft()
                yield done if future is None else _result(done_job, future, config)
        while window:
            done_job, done, future = window.popleft()
            yield done if future is None else _result(done_job, future, config)
    finally:
        pending = [f for _, _, f in window if f is not None]
        if pending:
            client.cancel(pending)
        _close(client, cluster, name)


def _close(client: Client, cluster: Any, name: str) -> None:
    """Unregister the run's plugin (freeing the models) and close what this run opened."""
    if cluster is None:  # a shared cluster: free the models this run loaded there
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(name)
    with contextlib.suppress(Exception):
        client.close()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()  # each nanny kills its worker if it has not stopped in 4 s
