"""`run_scrub`: the classical pipeline over folder trees (Tesseract -> mask -> Telea -> write).

For every input file and every frame: read, find printed text on the display rendering, mask it,
repaint the stored values, write the same format atomically into the mirrored output tree, and
record one report line. One bad file never stops the run (unless asked), and a file that could
not be cleaned is never written out.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from medocr_cli.errors import MedocrError, OutputError, UsageError
from medocr_cli.io import read_scan, write_scan
from medocr_cli.io.walk import REPORT_NAME, InputFile, check_output_root, walk_inputs
from medocr_cli.pipeline.inpaint import repaint_frame
from medocr_cli.stages.inpaint import METHODS, boxes_to_mask
from medocr_cli.stages.printed import PrintedConfig, check_tesseract, read_printed
from medocr_cli.types import FileResult, Status

if TYPE_CHECKING:
    from medocr_cli.io.deid_header import HeaderDeidentifier

HEADER_MODES = ("keep", "basic")


class Progress(Protocol):
    """Receives progress from a folder run (the CLI draws a bar with it)."""

    def start(self, total: int) -> None:
        """Called once with the number of files found."""

    def advance(self, result: FileResult) -> None:
        """Called after each file."""


@dataclass
class ScrubConfig:
    """Everything `run_scrub` needs.

    Attributes:
        inputs: Files or folders to clean (folders are walked recursively).
        output: Output folder; the input tree is mirrored below it.
        overwrite: Replace outputs that already exist.
        stop_on_error: Stop at the first failed file instead of going on.
        method: Inpainting method, "telea" or "ns".
        printed: Tesseract settings.
        header: DICOM header handling: "keep" (only the pixel-cleaning marks are written) or
            "basic" (PS3.15 Annex E Basic Profile, see `io.deid_header`).
        salt: Keys the UID remapping of "basic"; None draws a random salt per run, so UIDs then
            differ between runs. Never written anywhere.
    """

    inputs: list[Path]
    output: Path
    overwrite: bool = False
    stop_on_error: bool = False
    method: str = "telea"
    printed: PrintedConfig = field(default_factory=PrintedConfig)
    header: str = "keep"
    salt: str | None = None


def header_step(config: ScrubConfig) -> HeaderDeidentifier | None:
    """The header de-identification step of a run (one per run, so UIDs map consistently).

    Raises:
        UsageError: An unknown header mode, an empty salt, or a salt without `basic`.
    """
    if config.header not in HEADER_MODES:
        raise UsageError(f"unknown header mode {config.header!r}", hint="use keep or basic")
    if config.header == "keep":
        if config.salt is not None:
            raise UsageError("a salt only applies with --header basic")
        return None
    if config.salt is not None and not config.salt:
        raise UsageError("the salt must not be empty", hint="omit --salt for a random one")
    from medocr_cli.io.deid_header import HeaderDeidentifier, new_salt

    return HeaderDeidentifier(config.salt if config.salt is not None else new_salt())


@dataclass
class ScrubSummary:
    """The outcome of a run: one result per input file, the report's path, totals."""

    results: list[FileResult]
    report_path: Path
    seconds: float
    stopped_early: bool = False

    @property
    def counts(self) -> Counter[str]:
        """Number of files per status."""
        return Counter(str(r.status) for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 when every image was cleaned, 1 when any failed or was flagged."""
        c = self.counts
        return 1 if c[Status.FAILED] or c[Status.FLAGGED] or self.stopped_early else 0


def scrub_file(
    item: InputFile,
    target: Path,
    config: ScrubConfig,
    header: HeaderDeidentifier | None = None,
) -> FileResult:
    """Clean one file and write it to `target`; never raises for a bad input.

    `header` is the run's header step (`header_step(config)`); a DICOM dataset goes through it
    before writing. Without one, "basic" builds its own (with a random salt, one per file,
    unless `config.salt` is set).
    """
    if header is None and config.header == "basic":
        header = header_step(config)
    t0 = time.perf_counter()
    result = FileResult(path=str(item.path), status=Status.OK)
    try:
        if target.exists() and not config.overwrite:
            raise OutputError(
                "output already exists", hint="pass --overwrite to replace it", path=target
            )
        scan = read_scan(item.path)
        result.frames = scan.n_frames
        for index in range(scan.n_frames):
            boxes = read_printed(scan.display(index), index, config.printed)
            if not boxes:
                continue
            mask = boxes_to_mask(boxes, (scan.height, scan.width))
            repaint_frame(scan, index, mask, config.method)
            result.boxes += len(boxes)
        write_scan(scan, target, header=header)
        result.output = str(target)
    except MedocrError as exc:
        result.status, result.error = Status.FAILED, exc.one_line()
    except Exception as exc:
        # An unexpected defect on one file must not end an archive run; it is reported instead.
        result.status = Status.FAILED
        result.error = f"{item.path}: unexpected error {type(exc).__name__}: {exc}".splitlines()[0]
    result.seconds = time.perf_counter() - t0
    return result


def run_scrub(config: ScrubConfig, progress: Progress | None = None) -> ScrubSummary:
    """Clean every image under `config.inputs` into `config.output` and write the report.

    The report `OUT/medocr-report.jsonl` holds one JSON line per input file (path, status,
    output, frames, boxes, seconds, error); it is written as the run goes and completed with
    an atomic rename, also when the run is interrupted.

    Raises:
        UsageError: Missing inputs, an output folder inside an input, an unknown method or
            header mode, a salt without `header="basic"`.
        ToolMissingError: Tesseract is not installed.
    """
    if config.method not in METHODS:
        raise UsageError(f"unknown inpainting method {config.method!r}", hint="use telea or ns")
    header = header_step(config)
    check_output_root(config.inputs, config.output)
    check_tesseract()
    items = list(walk_inputs(config.inputs))
    if progress is not None:
        progress.start(len(items))
    try:
        config.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder: {exc.strerror}", path=config.output
        ) from exc
    report = config.output / REPORT_NAME
    partial = config.output / f".{REPORT_NAME}.partial"
    results: list[FileResult] = []
    stopped = False
    t0 = time.perf_counter()
    with open(partial, "w", encoding="utf-8") as fh:
        try:
            for item in items:
                if not item.candidate:
                    result = FileResult(
                        path=str(item.path), status=Status.SKIPPED, error="not an image file"
                    )
                else:
                    result = scrub_file(item, config.output / item.rel, config, header)
                results.append(result)
                fh.write(json.dumps(result.to_json()) + "\n")
                fh.flush()
                if progress is not None:
                    progress.advance(result)
                if result.status == Status.FAILED and config.stop_on_error:
                    stopped = True
                    break
        finally:
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(partial, report)
    return ScrubSummary(results, report, time.perf_counter() - t0, stopped)
