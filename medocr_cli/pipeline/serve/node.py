"""`run_serve`: a DICOM node that receives, cleans, and files or forwards, until it is stopped.

Start: refuse bad settings, take OUT's lock (no `scrub` or second node writes into OUT at the
same time), load the models once (or take them from the caller), open the journal, start the
cleaning worker (and the forwarder), which at once resume whatever the spool holds, and only
then listen. Stop (SIGTERM, Ctrl-C, or `stop()`): stop accepting associations, let the open
ones finish (up to `drain_seconds`, then abort them), let the worker finish the instance in
hand and the forwarder the send in progress, write the report, release the lock. Instances
still spooled stay there for the next start.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medocr_cli.errors import OutputError, UsageError, error_origin
from medocr_cli.pipeline.scrub import header_step, load_run_models
from medocr_cli.pipeline.scrub.journal import run_lock
from medocr_cli.pipeline.serve.config import LOG_NAME, OUTBOX_DIR, WORK_DIR, ServeConfig
from medocr_cli.pipeline.serve.ledger import Ledger
from medocr_cli.pipeline.serve.receive import Receiver
from medocr_cli.pipeline.serve.spool import Spool
from medocr_cli.stages.printed import check_tesseract
from medocr_cli.types import FileResult

if TYPE_CHECKING:
    from medocr_cli.pipeline.scrub import RunModels
    from medocr_cli.pipeline.serve.forward import Forwarder
    from medocr_cli.pipeline.serve.worker import Worker

_NODES = itertools.count(1)
_FORMAT = "%(asctime)s %(levelname)s %(message)s"


@dataclass
class ServeSummary:
    """What a node did between its start and its stop.

    Attributes:
        received: Instances stored in the spool.
        refused: C-STOREs answered with a failure (the spool could not take them).
        results: Instances cleaned, per status (ok, flagged, failed).
        forwarded: Instances the destination stored.
        left: Instances still in the spool at the stop (resumed at the next start).
        report_path: OUT/medocr-report.jsonl.
    """

    received: int = 0
    refused: int = 0
    results: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0
    left: int = 0
    report_path: Path | None = None


@contextlib.contextmanager
def _logging(config: ServeConfig) -> Iterator[logging.Logger]:
    """The node's logger: OUT/.medocr/serve.log, and stderr unless told otherwise.

    The file is reopened when logrotate moves it away (`WatchedFileHandler`).
    """
    log = logging.getLogger(f"medocr.serve.node{next(_NODES)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    formatter = logging.Formatter(_FORMAT)
    try:
        file_handler = WatchedFileHandler(config.state / LOG_NAME, encoding="utf-8")
    except OSError as exc:
        raise OutputError(
            f"cannot open the node's log: {exc.strerror}", path=config.state / LOG_NAME
        ) from exc
    handlers: list[logging.Handler] = [file_handler]
    if config.log_to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING if config.quiet else logging.INFO)
        handlers.append(stream)
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)
    # pynetdicom's own errors (a refused connection, an aborted association) go to the file too,
    # marked as its; below that level it would describe every message, at debug level datasets.
    library = logging.getLogger("pynetdicom")
    library_level = library.level
    library_handler = WatchedFileHandler(config.state / LOG_NAME, encoding="utf-8")
    library_handler.setFormatter(
        logging.Formatter(_FORMAT.replace("%(message)s", "pynetdicom: %(message)s"))
    )
    library.setLevel(logging.ERROR)
    library.addHandler(library_handler)
    try:
        yield log
    finally:
        library.removeHandler(library_handler)
        library_handler.close()
        library.setLevel(library_level)
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()


class ServeNode:
    """One running DICOM node; `start()` it, then `stop()` it (or use it as a context manager).

    Args:
        config: The node's settings.
        models: Loaded models to use (`load_run_models`); loaded from `config` when None.
    """

    def __init__(self, config: ServeConfig, models: RunModels | None = None) -> None:
        self.config = config
        self.port: int | None = None
        self.summary = ServeSummary()
        self.fatal: BaseException | None = None
        self.failed = threading.Event()  # set with `fatal`
        self._models = models
        self._stack = contextlib.ExitStack()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._worker: Worker | None = None
        self._forwarder: Forwarder | None = None
        self._server: Any = None
        self._receiver: Receiver | None = None
        self._spool: Spool | None = None
        self.log = logging.getLogger("medocr.serve")

    def __enter__(self) -> ServeNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> int:
        """Set the node up and listen; return the port it listens on.

        Raises:
            UsageError: Bad settings, another run holding OUT, or the port cannot be bound.
            OutputError: OUT, its journal, log or spool cannot be written.
            NotBuiltError: Weights the finder or method needs are missing.
            ToolMissingError: Tesseract is not installed.
        """
        try:
            return self._start()
        except BaseException:
            self._stack.close()
            raise

    def _start(self) -> int:
        config = self.config
        config.check()
        # Journal keys are spool paths: absolute, so a restart from another folder finds them.
        given = config.spool.absolute() if config.spool is not None else None
        config = self.config = replace(config, output=config.output.absolute(), spool=given)
        engine = config.scrub_config()
        header = header_step(engine)
        check_tesseract()
        try:
            config.state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the output folder: {exc.strerror}", path=config.output
            ) from exc
        self._stack.enter_context(run_lock(config.output))
        self.log = self._stack.enter_context(_logging(config))
        models = self._models if self._models is not None else load_run_models(engine)
        ledger = Ledger(config.output, config.report_every)
        self._stack.callback(self._close_ledger, ledger)
        spool = self._spool = Spool(config.spool_dir)
        self._stack.enter_context(spool.locked())
        swept = spool.sweep_parts()
        work = config.state / WORK_DIR
        if config.forward is not None:
            from medocr_cli.pipeline.serve.forward import Forwarder

            outbox = config.state / OUTBOX_DIR
            outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._forwarder = Forwarder(
                config.forward,
                config.ae_title,
                outbox,
                spool,
                ledger,
                self._stopping,
                attempts=config.forward_attempts,
                backoff=config.forward_backoff,
                max_delay=config.forward_max_delay,
                on_sent=self._sent,
                on_fatal=self._fail,
                log=self.log,
            )
        from medocr_cli.pipeline.serve.worker import Worker

        self._worker = Worker(
            spool,
            ledger,
            engine,
            header,
            models,
            work,
            self._forwarder,
            self._wake,
            self._stopping,
            on_result=self._cleaned,
            on_fatal=self._fail,
            log=self.log,
        )
        pending = len(spool.pending())
        self._receiver = Receiver(config.ae_title, spool, self._spooled, self.log)
        self._listen(self._receiver)  # before any work: a port in use fails at once
        for thread in (self._forwarder, self._worker):
            if thread is not None:
                thread.start()
        target = f", forwarding to {config.forward}" if config.forward else ", filing under OUT"
        self.log.info(
            "listening on %s:%d as %s%s; %d instance(s) in the spool to resume%s",
            config.host,
            self.port,
            config.ae_title,
            target,
            pending,
            f" ({swept} unacknowledged part file(s) removed)" if swept else "",
        )
        return self.port  # type: ignore[return-value]

    def _listen(self, receiver: Receiver) -> None:
        ae = receiver.make_ae()
        try:
            self._server = ae.start_server(
                (self.config.host, self.config.port), block=False, evt_handlers=receiver.handlers()
            )
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}",
                hint="choose another --port (below 1024 needs root) or --host",
            ) from exc
        self.port = int(self._server.server_address[1])

    def stop(self) -> ServeSummary:
        """Stop as described in the module docstring; return the summary. Safe to call twice.

        In order: no new instance is taken for cleaning; the listening socket closes and open
        associations get `drain_seconds` to finish; the worker finishes the instance in hand and
        the forwarder its send; then the report is written and OUT's lock released.
        """
        self._stopping.set()
        self._wake.set()
        try:
            if self._server is not None:
                self._close_server()
            for thread in (self._worker, self._forwarder):
                if thread is not None and thread.is_alive():
                    if thread is self._forwarder:
                        self._forwarder.stop()
                    thread.join()
        finally:
            self._stack.close()  # report, spool lock, log, OUT's lock
        if self._receiver is not None:
            self.summary.received = self._receiver.received
            self.summary.refused = self._receiver.refused
        return self.summary

    def wait(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Block until `stop` is set or the node failed."""
        while not stop.wait(poll) and not self.failed.is_set():
            pass

    # --- callbacks from the threads ----------------------------------------------------------

    def _spooled(self, name: str) -> None:
        self._wake.set()

    def _cleaned(self, result: FileResult) -> None:
        self.summary.results[str(result.status)] += 1

    def _sent(self, name: str) -> None:
        self.summary.forwarded += 1

    def _fail(self, exc: BaseException) -> None:
        if self.fatal is None:
            self.fatal = exc
        self.log.error("stopping: %s", getattr(exc, "message", type(exc).__name__))
        self._stopping.set()
        self.failed.set()

    # --- teardown ----------------------------------------------------------------------------

    def _close_server(self) -> None:
        """Stop accepting associations; let open ones finish for `drain_seconds`."""
        server, self._server = self._server, None
        server.shutdown()  # the listening socket is closed: new associations are refused
        self.log.info("no longer accepting associations; finishing the instance in hand")
        deadline = time.monotonic() + self.config.drain_seconds
        while server.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        for assoc in server.active_associations:
            assoc.abort()

    def _close_ledger(self, ledger: Ledger) -> None:
        try:
            self.summary.report_path = ledger.close()
        except OutputError as exc:  # the journal holds every line; the next start writes it
            self.log.error("%s", exc.one_line())
            if self.fatal is None:
                self.fatal = exc
        if self._spool is not None:
            self.summary.left = len(self._spool.pending())
        counts = self.summary.results
        self.log.info(
            "stopped: %d received, %d ok, %d flagged, %d failed, %d forwarded; "
            "%d left in the spool",
            self._receiver.received if self._receiver else 0,
            counts["ok"],
            counts["flagged"],
            counts["failed"],
            self.summary.forwarded,
            self.summary.left,
        )


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGTERM or SIGINT (only from the main thread; elsewhere it does nothing).

    A second signal gets the default behaviour back (a second Ctrl-C interrupts the drain).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, frame: object) -> None:
        stop.set()
        for sig, old in previous.items():
            signal.signal(sig, old)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_serve(
    config: ServeConfig,
    models: RunModels | None = None,
    stop: threading.Event | None = None,
) -> ServeSummary:
    """Run a node until SIGTERM, SIGINT or `stop` is set; return what it did.

    Raises:
        UsageError: Bad settings, OUT held by another run, the port cannot be bound.
        OutputError: OUT cannot be written, or the journal failed while running (the node
            stopped; everything accepted is still in the spool).
        ToolMissingError: Tesseract is not installed.
    """
    stop = stop if stop is not None else threading.Event()
    node = ServeNode(config, models)
    with stop_on_signals(stop):
        node.start()
        try:
            node.wait(stop)
        finally:
            summary = node.stop()
    if node.fatal is not None:
        if isinstance(node.fatal, OutputError):
            raise node.fatal
        raise OutputError(f"the node stopped on an unexpected error: {error_origin(node.fatal)}")
    return summary
