"""The scrub journal: an append-only record of every file a run starts and finishes.

`OUT/.medocr/journal.jsonl` is only ever appended to (one JSON line per event, never truncated
or rewritten), so any kill, `kill -9` included, keeps every line written before it. A file gets
a `started` line (path and output) before it is cleaned and its report line after its output
is in place; the report line is flushed to disk before the next file starts.

Lines are keyed by the input's identity (`walk.entry_key`, written as "resolved": its folder's
real path joined to its name), not by the path as given, so `in/x.png` and `$PWD/in/x.png` are
one input; "path" keeps the path as given. A finished line also records in "placed" the real
paths of the files it put in OUT (output, quarantined copy), and a started line its "target".

`OUT/medocr-report.jsonl`, the report users read, is derived from the journal: the newest line
of every input ever cleaned into OUT, written atomically at the end of every run (also a
run stopped by Ctrl-C or an error). An input whose newest line is `started` was being cleaned
when a run was killed; the report calls it failed, its left-over staging files are removed by
the next run, and that run may replace its output without `--overwrite` (medocr wrote it).

Every file the journal says medocr placed in OUT stays accounted for by the report: when an
input's new line no longer places a file its previous line placed (it now fails, is skipped, is
quarantined, or its output moved), that file is removed right after the new line is written,
unless a later line of another input placed a file at the same path. A kill between the two
leaves it for the next run's `Journal`, which removes such files first, along with the report's
own temp files a kill during the report rewrite left in OUT.

`OUT/.medocr/lock` is held (flock) for the whole run, so a second run into the same OUT stops
before touching anything. The lock goes with the process, however it ends.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medocr_cli.errors import OutputError, UsageError
from medocr_cli.io.atomic import write_text_atomic
from medocr_cli.io.locks import LockBusyError, exclusive_lock
from medocr_cli.io.walk import REPORT_NAME, entry_key, real_path

#: Folder under OUT where flagged outputs go (unless `scrub --flagged keep`).
QUARANTINE_DIR = "_quarantine"
#: Hidden folder under OUT with the journal and the lock (hidden: never walked as input).
STATE_DIR = ".medocr"
JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "lock"
#: Status of a journal line written before a file is cleaned.
STARTED = "started"
#: Reports of earlier versions (read for --resume, never written).
_LEGACY = (REPORT_NAME, f".{REPORT_NAME}.partial")

Line = dict[str, Any]


def state_dir(output: Path) -> Path:
    """The hidden folder holding a run's journal and lock."""
    return output / STATE_DIR


def journal_path(output: Path) -> Path:
    """Where the journal of runs into `output` lives."""
    return state_dir(output) / JOURNAL_NAME


def _hint(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "free some disk space, then run again with --resume"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the output folder must be writable"
    return "check the output folder, then run again with --resume"


@contextlib.contextmanager
def run_lock(output: Path) -> Iterator[None]:
    """Hold OUT's lock for a run; a second live run into OUT is a usage error (exit 2).

    Raises:
        UsageError: Another medocr run holds the lock.
        OutputError: The state folder or lock file cannot be created (read-only OUT).
    """
    folder = state_dir(output)
    stack = contextlib.ExitStack()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stack.enter_context(exclusive_lock(folder / LOCK_NAME))
    except LockBusyError as exc:
        raise UsageError(
            f"another medocr run is writing into {output}",
            hint="wait for it to finish, or choose another output folder",
        ) from exc
    except OSError as exc:
        raise OutputError(
            f"cannot create the run's journal folder: {exc.strerror}", hint=_hint(exc), path=folder
        ) from exc
    with stack:
        yield


def _parse(text: str) -> Iterator[Line]:
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line torn by a kill, or not ours
        if isinstance(line, dict) and isinstance(line.get("path"), str):
            yield line


def _history(output: Path) -> Iterator[Line]:
    """Every readable line of earlier runs into `output`, oldest first.

    The reports of earlier versions come first, then the journal.
    """
    for path in (*(output / name for name in _LEGACY), journal_path(output)):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        yield from _parse(text)


def input_key(line: Line) -> str:
    """The identity of a line's input: its "resolved" field, else its path resolved from here.

    Lines of older versions have no "resolved" field.
    """
    key = line.get("resolved")
    return key if isinstance(key, str) else entry_key(Path(line["path"]))


def recorded_target(line: Line) -> str | None:
    """The real output path a line names: a started line's target, else its output."""
    target = line.get("target")
    if isinstance(target, str):
        return target
    output = line.get("output")
    return entry_key(Path(output)) if isinstance(output, str) else None


def _placed(line: Line) -> set[str]:
    placed = line.get("placed")
    if line.get("status") == STARTED or not isinstance(placed, list):
        return set()
    return {p for p in placed if isinstance(p, str)}


def read_lines(output: Path) -> dict[str, Line]:
    """The newest line per input (`input_key`) of every earlier run into `output`.

    Unreadable lines are passed over: such a file is simply processed again.
    """
    return {input_key(line): line for line in _history(output)}


def staging_path(target: Path) -> Path:
    """Where a file's output is written and verified before it is moved into place.

    Hidden (never walked as input), beside the target (so the final rename is atomic), and
    named after it, so the leftovers of a killed run can be found from the journal alone.
    """
    return target.with_name(f".{target.name}.medocr-stage{target.suffix}")


def _leftovers(target: Path) -> Iterator[Path]:
    """Staging and temporary files a killed run may have left for the output `target`."""
    stage = staging_path(target).name
    prefixes = (stage, f".{stage}.", f".{target.name}.")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        if name == stage or (name.startswith(prefixes) and name.endswith(".medocr-tmp")):
            yield target.parent / name


def sweep(lines: dict[str, Line], extra: Path | None = None) -> int:
    """Remove the staging and temp files of files a killed run was cleaning; return the count.

    Only files named after the output of an input whose newest journal line is `started` are
    touched (and, when `extra` is given, the quarantine folder below it at the same place).
    """
    removed = 0
    for line in lines.values():
        target = line.get("output")
        if line.get("status") != STARTED or not isinstance(target, str):
            continue
        places = [Path(target)]
        rel = line.get("rel")
        if extra is not None and isinstance(rel, str):
            places.append(extra / rel)
        for place in places:
            for path in _leftovers(place):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
    return removed


class Journal:
    """The append-only journal of a run; open it under `run_lock`.

    Opening it finishes what a kill interrupted: files an input's newer line no longer
    places are removed, and so are the report's temp files in OUT.

    Raises (from every method):
        OutputError: The journal cannot be opened or appended to (disk full, read-only).
    """

    def __init__(self, output: Path) -> None:
        self.path = journal_path(output)
        self._out_real = real_path(output)
        self._owner: dict[str, str] = {}  # placed file -> the input whose newest line placed it
        self._placed: dict[str, set[str]] = {}  # input -> the files its newest line placed
        stale: set[str] = set()
        for line in _history(output):
            if line.get("status") != STARTED:
                stale |= self._take(input_key(line), _placed(line))
        for place in stale - self._owner.keys():
            self._remove(place)
        _remove_report_temps(output)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            size = os.fstat(self._fd).st_size
            if size:  # a kill may have torn the last line: start on a fresh one
                with open(self.path, "rb") as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        self._write(b"\n", sync=False)
        except OSError as exc:
            raise OutputError(
                f"cannot open the run's journal: {exc.strerror}", hint=_hint(exc), path=self.path
            ) from exc

    def _take(self, key: str, placed: set[str]) -> set[str]:
        """Record that `key`'s newest line places `placed`; return the files it no longer does."""
        for place in placed:
            other = self._owner.get(place)
            if other is not None and other != key:
                self._placed[other].discard(place)
            self._owner[place] = key
        gone = self._placed.get(key, set()) - placed
        for place in gone:
            del self._owner[place]
        self._placed[key] = set(placed)
        return gone

    def _remove(self, place: str) -> None:
        """Remove a file medocr placed in OUT that no line accounts for any more."""
        path = Path(place)
        if path.is_relative_to(self._out_real) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()

    def _write(self, data: bytes, *, sync: bool) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        if sync:
            os.fsync(self._fd)

    def append(self, line: Line, *, sync: bool = True) -> None:
        """Append one line; with `sync` it is on disk before this returns.

        The line gets its input's identity ("resolved") and, when finished, the real paths of
        the files it placed ("placed"). Files the input's previous line placed and this one
        does not are then removed (see the module notes).
        """
        line = dict(line)
        key = line.setdefault("resolved", entry_key(Path(line["path"])))
        if line.get("status") != STARTED:
            line["placed"] = sorted(
                entry_key(Path(p))
                for p in (line.get("output"), line.get("quarantined"))
                if isinstance(p, str)
            )
        try:
            self._write((json.dumps(line) + "\n").encode("utf-8"), sync=sync)
        except OSError as exc:
            raise OutputError(
                f"cannot write to the run's journal: {exc.strerror}",
                hint=_hint(exc),
                path=self.path,
            ) from exc
        if line.get("status") != STARTED:
            for place in self._take(key, _placed(line)):
                self._remove(place)

    def started(self, path: str, target: Path, rel: Path) -> None:
        """Record that the input at `path` is about to be cleaned into `target`."""
        self.append(
            {
                "path": path,
                "status": STARTED,
                "output": str(target),
                "target": entry_key(target),
                "rel": rel.as_posix(),
            },
            sync=False,
        )

    def close(self) -> None:
        """Close the journal (lines already written stay)."""
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _remove_report_temps(output: Path) -> None:
    """Remove the temp files a kill during the report's rewrite left in OUT (only those)."""
    prefix = f".{REPORT_NAME}."
    try:
        names = os.listdir(output)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".medocr-tmp"):
            with contextlib.suppress(OSError):
                (output / name).unlink()


def interrupted_line(line: Line) -> Line:
    """The report line of an input whose cleaning a killed run never finished."""
    return {
        "path": line["path"],
        "status": "failed",
        "output": None,
        "frames": 0,
        "boxes": 0,
        "seconds": 0.0,
        "error": "interrupted: the run stopped while this file was being cleaned; run again "
        "with --resume to clean it",
    }


def write_report(output: Path) -> Path:
    """Rewrite `OUT/medocr-report.jsonl` from the journal: the newest line per input, once.

    Raises:
        OutputError: The report cannot be written (disk full, read-only); the journal still
            holds every line, and the next run writes the report again.
    """
    lines = read_lines(output)
    body = "".join(
        json.dumps(interrupted_line(line) if line.get("status") == STARTED else line) + "\n"
        for line in lines.values()
    )
    target = output / REPORT_NAME
    try:
        write_text_atomic(target, body)
    except OutputError as exc:
        raise OutputError(
            f"cannot write the report: {exc.message}",
            hint=f"every result is in {journal_path(output)}; run again with --resume to "
            "write the report",
            path=target,
        ) from exc
    return target
