"""The cleaning worker: takes spooled instances, oldest first, through `scrub`'s engine.

For each instance: a `started` journal line, then `scrub_file` (the same find, mask, repaint,
write, verify as `medocr scrub`, models loaded once per node) into OUT/.medocr/work, then:

- ok: filed under OUT/<study>/<series>/<instance>.dcm (the output's UIDs), or, with a forward
  destination, moved to the outbox and handed to the forwarder (it leaves the spool once sent);
- flagged (text found again after cleaning): OUT/_quarantine/<study>/<series>/<instance>.dcm,
  never forwarded;
- failed (undecodable, unsupported): the received file is moved aside to SPOOL/failed/ (it is
  kept for an administrator, never copied into OUT).

Its result line is journaled (fsynced), and only then does the instance leave the spool (or,
failed, move aside). A crash
anywhere before that leaves it in the spool with a `started` line: the next start cleans it again
(replacing any output the crash left). An instance whose line says finished but which is still
spooled (a crash between the two) is only removed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from medocr_cli.errors import OutputError
from medocr_cli.io.walk import InputFile
from medocr_cli.pipeline.scrub import scrub_file
from medocr_cli.pipeline.serve.ledger import QUEUED, Ledger, is_finished, is_waiting
from medocr_cli.pipeline.serve.place import file_instance, move_into
from medocr_cli.types import FileResult, Status

if TYPE_CHECKING:
    from medocr_cli.io.deid_header import HeaderDeidentifier
    from medocr_cli.pipeline.scrub import RunModels, ScrubConfig
    from medocr_cli.pipeline.serve.forward import Forwarder
    from medocr_cli.pipeline.serve.spool import Spool


class Worker(threading.Thread):
    """Cleans the spool until the node stops (the instance in hand is always finished).

    Args:
        spool: The spool.
        ledger: The node's journal.
        engine: `scrub`'s settings (verification on, no strict: placement is done here).
        header: The node's header step (one for the run, so UIDs map consistently).
        models: The loaded finder and inpainter.
        work: Folder the engine writes outputs to before they are filed.
        forwarder: The forwarder, or None to file cleaned instances under OUT.
        wake: Set when an instance was spooled.
        stopping: Set when the node stops.
        on_result: Called with each result (counters).
        on_fatal: Called with the exception when the journal cannot be written.
        log: The node's logger.
    """

    def __init__(
        self,
        spool: Spool,
        ledger: Ledger,
        engine: ScrubConfig,
        header: HeaderDeidentifier | None,
        models: RunModels,
        work: Path,
        forwarder: Forwarder | None,
        wake: threading.Event,
        stopping: threading.Event,
        *,
        on_result: Callable[[FileResult], None],
        on_fatal: Callable[[BaseException], None],
        log: logging.Logger,
    ) -> None:
        super().__init__(name="medocr-clean", daemon=True)
        self._spool = spool
        self._ledger = ledger
        self._engine = engine
        self._header = header
        self._models = models
        self._work = work
        self._forwarder = forwarder
        self._wake = wake
        self._stopping = stopping
        self._on_result = on_result
        self._on_fatal = on_fatal
        self._log = log
        self._skip: set[str] = set()  # handed to the forwarder, or not placeable this run

    def run(self) -> None:
        """Clean instances until `stopping` is set."""
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                name = next((n for n in self._spool.pending() if n not in self._skip), None)
                if name is None:
                    self._report()
                    self._wake.wait(1.0)
                    continue
                self._process(name)
                self._report()
        except Exception as exc:
            self._on_fatal(exc)

    def _report(self) -> None:
        """Rewrite the report now and then; the journal keeps every line if that fails."""
        try:
            self._ledger.report()
        except OutputError as exc:
            self._log.warning("%s", exc.one_line())

    def _process(self, name: str) -> None:
        path = self._spool.path(name)
        key = str(path)
        line = self._ledger.line(key)
        if is_finished(line):  # a crash came between its record and its removal
            self._drop(name, line)
            return
        forwarder = self._forwarder
        if forwarder is not None and is_waiting(line) and (forwarder.outbox / name).is_file():
            self._skip.add(name)  # cleaned before a stop: only the forward is left to do
            forwarder.put(name)
            return
        work = self._work / name
        self._ledger.started(key, work, Path(name))
        self._log.info("%s: cleaning", name)
        result = scrub_file(
            InputFile(path, Path(name), True),
            work,
            self._engine,
            self._header,
            self._models,
            replace_ok=True,
        )
        try:
            self._place(name, work, result)
        except OutputError as exc:  # OUT cannot take it now: it stays spooled for the next start
            self._skip.add(name)
            self._log.error("%s: cleaned but not placed, kept in the spool: %s", name, exc.message)
            return
        line = result.to_json()
        self._ledger.record(line)
        self._on_result(result)
        if result.status == Status.OK and self._forwarder is not None:
            self._skip.add(name)
            self._forwarder.put(name)
        else:
            self._drop(name, line)

    def _drop(self, name: str, line: dict) -> None:
        """Take a finished instance out of the spool: moved aside when it failed."""
        if line.get("status") != str(Status.FAILED):
            self._spool.remove(name)
            return
        try:
            self._spool.move_aside(name)
        except OutputError as exc:
            self._skip.add(name)
            self._log.error("%s: %s", name, exc.message)

    def _place(self, name: str, work: Path, result: FileResult) -> None:
        """Move the engine's output where its status sends it; note where in `result`."""
        stem = Path(name).stem
        out = self._engine.output
        if result.status == Status.FAILED:
            result.kept = str(self._spool.failed / name)
            self._log.error("%s: failed, moved to %s: %s", name, self._spool.failed, result.error)
        elif result.status == Status.FLAGGED:
            result.output = None
            result.quarantined = str(file_instance(work, out, stem, quarantine=True))
            self._log.warning(
                "%s: flagged (%s text box(es) left after cleaning), quarantined",
                name,
                "?" if result.residual is None else result.residual,
            )
        elif self._forwarder is not None:
            move_into(work, self._forwarder.outbox / name)
            result.output = None
            result.forward, result.forward_to = QUEUED, str(self._forwarder.destination)
            self._log.info("%s: cleaned (%d box(es)), queued to forward", name, result.boxes)
        else:
            result.output = str(file_instance(work, out, stem, quarantine=False))
            self._log.info("%s: cleaned (%d box(es)), filed", name, result.boxes)
