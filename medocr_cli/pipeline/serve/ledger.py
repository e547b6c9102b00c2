"""The node's record of every instance: `scrub`'s journal and report, shared by its threads.

Each spooled instance is keyed by its spool path. Its lines, in order: `started` before it is
cleaned; then its result (`ok`, `flagged` or `failed`, as `scrub` writes them) once its output is
filed or quarantined. With forwarding, an `ok` line carries `"forward": "queued"` when the cleaned
instance waits in the outbox, `"retrying"` (with the last error) after a round of failed tries,
and `"sent"` once the destination stored it. The newest line per instance is its report line.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from medocr_cli.pipeline.scrub.journal import (
    STARTED,
    Journal,
    read_lines,
    sweep,
    write_report,
)
from medocr_cli.types import Status

Line = dict[str, Any]

#: Values of a line's "forward" field.
QUEUED = "queued"
RETRYING = "retrying"
SENT = "sent"


def is_finished(line: Line | None) -> bool:
    """True when the instance of `line` needs nothing more (filed, quarantined, failed, sent)."""
    if line is None or line.get("status") == STARTED:
        return False
    if line.get("status") == str(Status.OK) and line.get("forward") in (QUEUED, RETRYING):
        return False
    return line.get("status") in (str(Status.OK), str(Status.FLAGGED), str(Status.FAILED))


def is_waiting(line: Line | None) -> bool:
    """True when the instance of `line` is cleaned and waits to be forwarded."""
    return (
        line is not None
        and line.get("status") == str(Status.OK)
        and line.get("forward") in (QUEUED, RETRYING)
    )


class Ledger:
    """The journal of one node run, safe to use from several threads; open it under `run_lock`.

    Raises (from `started`, `record`):
        OutputError: The journal cannot be appended to (the node cannot go on without it).
    """

    def __init__(self, output: Path, report_every: float) -> None:
        self.output = output
        self._lines = read_lines(output)
        sweep(self._lines)  # staging files of instances a killed node was cleaning
        self._journal = Journal(output)
        self._lock = threading.Lock()
        self._report_every = report_every
        self._reported = time.monotonic()
        self._dirty = False

    def line(self, key: str) -> Line | None:
        """The newest line of the instance spooled at `key`."""
        with self._lock:
            line = self._lines.get(key)
            return dict(line) if line is not None else None

    def started(self, key: str, work: Path, rel: Path) -> None:
        """Record that the instance at `key` is about to be cleaned into `work`."""
        with self._lock:
            self._journal.started(key, work, rel)
            self._lines[key] = {"path": key, "status": STARTED, "output": str(work)}

    def record(self, line: Line) -> None:
        """Append a finished instance's line; it is on disk when this returns."""
        with self._lock:
            self._journal.append(line)
            self._lines[line["path"]] = line
            self._dirty = True

    def report(self, *, force: bool = False) -> Path | None:
        """Rewrite OUT/medocr-report.jsonl when lines were added (at most every few seconds)."""
        with self._lock:
            due = time.monotonic() - self._reported >= self._report_every
            if not self._dirty or not (force or due):
                return None
            self._dirty = False
            self._reported = time.monotonic()
        return write_report(self.output)

    def close(self) -> Path:
        """Close the journal and write the report."""
        with self._lock:
            self._journal.close()
        return write_report(self.output)
