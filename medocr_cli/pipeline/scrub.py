"""`run_scrub`: the classical pipeline over folder trees (Tesseract -> mask -> Telea -> write).

For every input file and every frame: read, find printed text on the display rendering, mask it,
repaint the stored values, write the same format atomically into the mirrored output tree, read
the output back and search it again (verify), and record one report line. One bad file never
stops the run (unless asked), and a file that could not be cleaned is never written out.

Frames whose display rendering is byte-identical to an earlier frame of the same file (still
ultrasound cine loops) reuse that frame's boxes instead of running Tesseract again; each frame's
own stored values are still repainted. `resume` skips inputs a previous run already finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from medocr_cli.errors import MedocrError, OutputError, UsageError
from medocr_cli.io import read_scan, write_scan
from medocr_cli.io.walk import REPORT_NAME, InputFile, check_output_root, walk_inputs
from medocr_cli.pipeline.inpaint import repaint_frame
from medocr_cli.stages.inpaint import METHODS, boxes_to_mask
from medocr_cli.stages.printed import PrintedConfig, check_tesseract, read_printed
from medocr_cli.types import Box, FileResult, Status

if TYPE_CHECKING:
    import numpy as np

    from medocr_cli.io.deid_header import HeaderDeidentifier

HEADER_MODES = ("keep", "basic")

#: Folder under OUT where `strict` runs move outputs that still show text.
QUARANTINE_DIR = "_quarantine"


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
        resume: Skip inputs whose output exists and whose line in the previous report (also
            the `.partial` report an interrupted run left) says ok for the same path, size and
            modification time; everything else is processed again.
        verify: Read each output back and search again every frame that had text; text found
            over a removed region flags the file.
        strict: Move flagged outputs to `OUT/_quarantine/<relative path>` instead of leaving
            them in the output tree (needs `verify`).
    """

    inputs: list[Path]
    output: Path
    overwrite: bool = False
    stop_on_error: bool = False
    method: str = "telea"
    printed: PrintedConfig = field(default_factory=PrintedConfig)
    header: str = "keep"
    salt: str | None = None
    resume: bool = False
    verify: bool = True
    strict: bool = False


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


def frame_key(image: np.ndarray) -> bytes:
    """A digest of one display frame: equal keys mean byte-identical renderings."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{image.dtype.str}{image.shape}".encode())
    digest.update(image.tobytes())
    return digest.digest()


def _overlaps(box: Box, mask: np.ndarray) -> bool:
    """True when `box` covers any removed pixel of `mask`."""
    return bool(mask[box.y0 : box.y1, box.x0 : box.x1].any())


def verify_output(
    target: Path, removed: dict[int, list[Box]], config: ScrubConfig
) -> tuple[int, float]:
    """Search the written output again; return (residual boxes, seconds spent).

    Only frames that had boxes are searched (`removed`: frame index -> the boxes removed
    there), which bounds the cost to the frames that were edited; a box found there counts as
    residual text when it overlaps the removed region (the grown boxes, as masked). Frames
    whose output rendering is byte-identical to an already searched one reuse its answer.
    """
    t0 = time.perf_counter()
    scan = read_scan(target)
    shape = (scan.height, scan.width)
    seen: dict[bytes, int] = {}
    residual = 0
    for index, boxes in sorted(removed.items()):
        image = scan.display(index)
        key = frame_key(image)
        if key not in seen:
            mask = boxes_to_mask(boxes, shape)
            found = read_printed(image, index, config.printed)
            seen[key] = sum(_overlaps(b, mask) for b in found)
        residual += seen[key]
    return residual, time.perf_counter() - t0


def quarantine_path(output: Path, rel: Path) -> Path:
    """Where `strict` moves the flagged output of the input at `rel`."""
    return output / QUARANTINE_DIR / rel


def _input_stat(item: InputFile) -> dict[str, int]:
    st = item.path.stat()
    return {"input_size": st.st_size, "input_mtime_ns": st.st_mtime_ns}


def scrub_file(
    item: InputFile,
    target: Path,
    config: ScrubConfig,
    header: HeaderDeidentifier | None = None,
) -> FileResult:
    """Clean one file and write it to `target`; never raises for a bad input.

    `header` is the run's header step (`header_step(config)`); a DICOM dataset goes through it
    before writing. Without one, "basic" builds its own (with a random salt, one per file,
    unless `config.salt` is set). With `config.verify` the written file is searched again and
    a file with text left over a removed region is `flagged` (with `config.strict` it is
    moved under `OUT/_quarantine`; `target` must then lie under `config.output`).
    """
    if header is None and config.header == "basic":
        header = header_step(config)
    t0 = time.perf_counter()
    result = FileResult(path=str(item.path), status=Status.OK)
    try:
        result.extra.update(_input_stat(item))
        if target.exists() and not config.overwrite:
            raise OutputError(
                "output already exists", hint="pass --overwrite to replace it", path=target
            )
        scan = read_scan(item.path)
        result.frames = scan.n_frames
        shape = (scan.height, scan.width)
        found: dict[bytes, list[Box]] = {}
        removed: dict[int, list[Box]] = {}
        reused = 0
        for index in range(scan.n_frames):
            image = scan.display(index)
            key = frame_key(image)
            if key in found:
                reused += 1
                boxes = found[key]
            else:
                boxes = found[key] = read_printed(image, index, config.printed)
            if not boxes:
                continue
            repaint_frame(scan, index, boxes_to_mask(boxes, shape), config.method)
            removed[index] = boxes
            result.boxes += len(boxes)
        result.extra["frames_reused"] = reused
        write_scan(scan, target, header=header)
        result.output = str(target)
        result.extra["verified"] = config.verify
        if config.verify:
            residual, seconds = verify_output(target, removed, config)
            result.extra["verify_seconds"] = round(seconds, 3)
            if residual:
                result.status = Status.FLAGGED
                result.extra["residual"] = residual
                result.error = f"{residual} text box(es) still readable after cleaning"
                if config.strict:
                    rel = target.relative_to(config.output)
                    moved = quarantine_path(config.output, rel)
                    try:
                        moved.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(target, moved)
                    except OSError as exc:
                        # Never leave a flagged output in the tree when --strict was asked for.
                        target.unlink(missing_ok=True)
                        raise OutputError(
                            f"cannot move the flagged output to quarantine: {exc.strerror}",
                            path=moved,
                        ) from exc
                    result.output = None
                    result.extra["quarantined"] = str(moved)
    except MedocrError as exc:
        result.status, result.error = Status.FAILED, exc.one_line()
    except Exception as exc:
        # An unexpected defect on one file must not end an archive run; it is reported instead.
        result.status = Status.FAILED
        result.error = f"{item.path}: unexpected error {type(exc).__name__}: {exc}".splitlines()[0]
    result.seconds = time.perf_counter() - t0
    return result


def previous_report(output: Path) -> dict[str, dict[str, Any]]:
    """The last report line per input path of earlier runs into `output`.

    Reads the finished report and, after it, the `.partial` report a killed run leaves behind
    (a newer line for the same path wins). Unreadable lines are ignored: such a file is simply
    processed again.
    """
    lines: dict[str, dict[str, Any]] = {}
    for name in (REPORT_NAME, f".{REPORT_NAME}.partial"):
        try:
            text = (output / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for raw in text.splitlines():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(line, dict) and isinstance(line.get("path"), str):
                lines[line["path"]] = line
    return lines


def resumed_result(
    item: InputFile, target: Path, previous: dict[str, Any] | None
) -> FileResult | None:
    """The report line of an input a previous run already finished, or None to redo it.

    Finished means: the output exists, and the previous line says ok for the same path with the
    same input size and modification time. The earlier run's settings are not compared: a file
    it finished with verification off keeps `"verified": false` in its new line.
    """
    if previous is None or previous.get("status") != str(Status.OK) or not target.is_file():
        return None
    try:
        stat = _input_stat(item)
    except OSError:
        return None
    if any(previous.get(k) != v for k, v in stat.items()):
        return None
    result = FileResult(
        path=str(item.path),
        status=Status.OK,
        output=str(target),
        frames=int(previous.get("frames", 0)),
        boxes=int(previous.get("boxes", 0)),
    )
    result.extra.update(stat)
    for key in ("frames_reused", "verified"):
        if key in previous:
            result.extra[key] = previous[key]
    result.extra["resumed"] = True
    return result


def _check_options(config: ScrubConfig) -> None:
    """Refuse option combinations that cannot work or would be unsafe."""
    if config.method not in METHODS:
        raise UsageError(f"unknown inpainting method {config.method!r}", hint="use telea or ns")
    if config.strict and not config.verify:
        raise UsageError("--strict needs verification", hint="drop --no-verify or --strict")
    if config.resume and config.header == "basic" and config.salt is None:
        raise UsageError(
            "--resume with --header basic needs the run's --salt",
            hint="pass the same --salt as the first run so UIDs stay consistent",
        )
    quarantine = (config.output / QUARANTINE_DIR).resolve()
    for root in config.inputs:
        r = root.resolve()
        if r == quarantine or quarantine in r.parents:
            raise UsageError(
                f"input {root} lies in the quarantine folder of {config.output}",
                hint="copy quarantined files elsewhere before scrubbing them again",
            )


def run_scrub(config: ScrubConfig, progress: Progress | None = None) -> ScrubSummary:
    """Clean every image under `config.inputs` into `config.output` and write the report.

    The report `OUT/medocr-report.jsonl` holds one JSON line per input file (path, status,
    output, frames, boxes, seconds, error, input_size, input_mtime_ns, frames_reused, verified,
    and where they apply verify_seconds, residual, quarantined, resumed); it is written as the
    run goes and completed with an atomic rename, also when the run is interrupted.

    Raises:
        UsageError: Missing inputs, an output folder inside an input, an input inside
            `OUT/_quarantine`, an unknown method or header mode, a salt without
            `header="basic"`, `strict` without `verify`, `resume` with "basic" and no salt.
        ToolMissingError: Tesseract is not installed.
    """
    _check_options(config)
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
    previous = previous_report(config.output)
    results: list[FileResult] = []
    stopped = False
    finished = False
    t0 = time.perf_counter()
    with open(partial, "w", encoding="utf-8") as fh:
        try:
            for item in items:
                if not item.candidate:
                    result = FileResult(
                        path=str(item.path), status=Status.SKIPPED, error="not an image file"
                    )
                else:
                    target = config.output / item.rel
                    result = None
                    if config.resume:
                        result = resumed_result(item, target, previous.get(str(item.path)))
                    if result is None:
                        result = scrub_file(item, target, config, header)
                results.append(result)
                fh.write(json.dumps(result.to_json()) + "\n")
                fh.flush()
                if progress is not None:
                    progress.advance(result)
                if result.status == Status.FAILED and config.stop_on_error:
                    stopped = True
                    break
            finished = not stopped
        finally:
            if not finished:
                # A run cut short keeps the earlier lines of the files it did not reach, so a
                # later --resume still knows those outputs are done.
                done = {r.path for r in results}
                for path, line in previous.items():
                    if path not in done:
                        fh.write(json.dumps(line) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(partial, report)
    return ScrubSummary(results, report, time.perf_counter() - t0, stopped)
