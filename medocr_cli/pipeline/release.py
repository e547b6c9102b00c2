"""`run_release`: move reviewed files out of `OUT/_quarantine` into the output tree.

A flagged output goes to quarantine because a search of it still found text. A person who has
looked at it (the review page, `scrub --html`, shows every flagged frame at full size) can
release it: the file is moved (atomic rename) to its place in the tree and the journal gets a
new line for its input, status ok with `released` (who, when, and the reviewer's note if
given), from which the report is rewritten. The file itself is not changed: a DICOM keeps
BurnedInAnnotation YES, since no search passed it; the release is the reviewer's word, recorded
in the report, not a claim written into the image.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from medocr_cli.errors import MedocrError, OutputError, UsageError
from medocr_cli.pipeline.scrub.journal import (
    QUARANTINE_DIR,
    Journal,
    read_lines,
    run_lock,
    write_report,
)
from medocr_cli.types import Progress, notify_advance, notify_start


@dataclass
class Released:
    """What happened to one path given to `release`."""

    path: Path
    target: Path | None = None
    error: str | None = None


def _source(output: Path, path: Path) -> Path:
    """The quarantined file meant by `path` (a path into the quarantine, or relative to it)."""
    quarantine = (output / QUARANTINE_DIR).resolve()
    candidate = path if path.is_absolute() or path.exists() else quarantine / path
    real = candidate.resolve()
    if not real.is_relative_to(quarantine) or real == quarantine:
        raise UsageError(
            f"{path} is not in {output / QUARANTINE_DIR}",
            hint="name a quarantined file, e.g. OUT/_quarantine/sub/a.dcm or sub/a.dcm",
        )
    return real


@dataclass
class ReleaseConfig:
    """What `run_release` releases.

    Attributes:
        output: The OUT folder of a `medocr scrub` run.
        paths: Quarantined files: paths into `OUT/_quarantine`, or relative to it.
        note: The reviewer's note, recorded in the report with each release.
    """

    output: Path
    paths: list[Path]
    note: str | None = None


def run_release(
    config: ReleaseConfig, progress: Progress[Released] | None = None
) -> list[Released]:
    """Release every quarantined file of `config.paths` into the output tree of `config.output`.

    `progress` is started with the number of paths and advanced with each one's outcome.

    Raises:
        UsageError: OUT has no journal (it is not a scrub output folder), or another run
            holds it.
    """
    output = Path(config.output)
    if not (output / ".medocr" / "journal.jsonl").is_file():
        raise UsageError(
            f"{output} holds no scrub journal", hint="name the OUT folder of a `medocr scrub` run"
        )
    results: list[Released] = []
    notify_start(progress, len(config.paths))
    with run_lock(output):
        lines = read_lines(output)
        journal = Journal(output)
        try:
            for path in config.paths:
                results.append(_release_one(output, path, lines, journal, config.note))
                notify_advance(progress, results[-1])
        finally:
            journal.close()
            write_report(output)
    return results


def _release_one(
    output: Path, path: Path, lines: dict[str, dict], journal: Journal, note: str | None
) -> Released:
    try:
        source = _source(output, path)
        owner = next(
            (
                line
                for line in lines.values()
                if line.get("quarantined")
                and Path(line["quarantined"]).resolve() == source
                and line.get("status") == "flagged"
            ),
            None,
        )
        if owner is None or not source.is_file():
            raise UsageError(
                f"{path} is not a quarantined output of this folder's report",
                hint="see the `quarantined` paths of flagged lines in medocr-report.jsonl",
            )
        rel = source.relative_to((output / QUARANTINE_DIR).resolve())
        target = output / rel
        if target.exists():
            raise OutputError(
                "a file is already in the output tree there",
                hint="move or delete it first",
                path=target,
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except OSError as exc:
            raise OutputError(f"cannot move it: {exc.strerror}", path=target) from exc
        released = {"by": getpass.getuser(), "at": datetime.now(UTC).isoformat(timespec="seconds")}
        if note:
            released["note"] = note
        line = {**owner, "status": "ok", "output": str(target), "quarantined": None}
        line["released"] = released
        line["error"] = None
        journal.append(line)
        lines[line["path"]] = line
        return Released(path, target)
    except MedocrError as exc:
        return Released(path, error=exc.one_line())
