"""`run_scrub`: the whole pipeline over folder trees (find -> mask -> repaint -> write -> verify).

For every input file and every frame: read, find the text (by default the learned finder of
`pipeline/find_text.py`: detector on every frame, classifier as the safety net, Tesseract around
detected lines of printed frames; or the classical whole-frame Tesseract pass), mask it (narrowed
to the strokes with the detector's text map), repaint the stored values (the learned inpainter,
or OpenCV Telea / Navier-Stokes), write the same format atomically into the mirrored output
tree, read the output back and search it again (verify), and record one report line. One bad
file never stops the run (unless asked), and a file that could not be cleaned is never written.

Frames whose display rendering is byte-identical to an earlier frame of the same file (still
ultrasound cine loops) reuse that frame's mask instead of being searched again; each frame's
own stored values are still repainted. `resume` skips inputs a previous run already finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from medocr_cli.errors import MedocrError, OutputError, UsageError
from medocr_cli.io import read_scan, write_scan
from medocr_cli.io.walk import REPORT_NAME, InputFile, check_output_root, walk_inputs
from medocr_cli.pipeline.find_text import FINDERS, TESSERACT_MODES, make_finder, read_stacked
from medocr_cli.pipeline.inpaint import AUTO, repaint_frame, resolve_method
from medocr_cli.stages.classify import combine_labels
from medocr_cli.stages.inpaint import ALL_METHODS, LEARNED, boxes_to_mask
from medocr_cli.stages.mask import text_mask
from medocr_cli.stages.printed import PrintedConfig, check_tesseract
from medocr_cli.types import Box, FileResult, Status

if TYPE_CHECKING:
    import numpy as np

    from medocr_cli.io.deid_header import HeaderDeidentifier
    from medocr_cli.pipeline.find_text import ClassicalFinder, LearnedFinder
    from medocr_cli.stages.inpaint import LearnedInpainter

HEADER_MODES = ("keep", "basic")

#: Mean core probability a detector line in a cleaned frame needs to count as residual text.
#: Measured on the 90 images with text among the first 120 of the ds1 test split: repainted
#: patches on busy anatomy (a fan edge, speckle) made lines of 0.80-0.88 in 5 outputs, none at
#: 0.9 or more; on the same images left uncleaned, a line of >= 0.9 over the text was found in
#: 89 of 90 (0.8: 90, 0.93: 79).
VERIFY_MIN_SCORE = 0.9

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
        method: Inpainting method: "auto" (learned when `inpainter.pt` is in the weights
            folder, else Telea), "learned", "telea" or "ns".
        printed: Settings of the whole-frame Tesseract pass.
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
        find: "learned" (detector + classifier + Tesseract around lines, see
            `pipeline/find_text.py`) or "tesseract" (whole-frame Tesseract, the classical path).
        tesseract: The learned finder's use of Tesseract: "regions", "full" or "off".
        weights: Weights folder (None: MEDOCR_WEIGHTS or the shipped one).
        device: Torch device of the models.
        batch_size: Frames per model pass.
        report_text: Write the text read in each file into its report line (sensitive: off
            by default; only what Tesseract read is there, the detector does not read).
        html: Write `OUT/medocr-report.html` for review after the run. Its "before"
            thumbnails (under `OUT/_report/`) show the original text, so it is off by default
            and that folder must be deleted before the output is shared.
        workers: Processes cleaning files side by side (each with its share of the cores);
            1 cleans them in this process.
    """

    inputs: list[Path]
    output: Path
    overwrite: bool = False
    stop_on_error: bool = False
    method: str = AUTO
    printed: PrintedConfig = field(default_factory=PrintedConfig)
    header: str = "keep"
    salt: str | None = None
    resume: bool = False
    verify: bool = True
    strict: bool = False
    find: str = "learned"
    tesseract: str = "off"
    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 8
    report_text: bool = False
    html: bool = False
    workers: int = 1


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
    target: Path,
    removed: dict[int, list[Box]],
    finder: LearnedFinder | ClassicalFinder,
    handwriting_only: set[int] | None = None,
) -> tuple[int, float]:
    """Search the written output again; return (residual boxes, seconds spent).

    Only frames that had boxes are searched (`removed`: frame index -> the boxes removed
    there), which bounds the cost to the frames that were edited. The finder searches each
    such frame again (the detector for the learned finder, whole-frame Tesseract for the
    classical one), and the learned finder's frames also get Tesseract on the removed
    regions (`read_stacked`: one call per frame); a box found there counts as residual text
    when it overlaps the removed region (the boxes grown as for the mask). Frames the
    classifier called H (`handwriting_only`) skip Tesseract, which does not read handwriting
    (the detector still searches them). Frames whose output rendering is byte-identical to an
    already searched one reuse its answer.
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
            found = finder.search(image, index)
            if finder.name == "learned":
                found = [b for b in found if b.score >= VERIFY_MIN_SCORE]
                if index not in (handwriting_only or set()):
                    found += read_stacked(image, index, boxes)
            seen[key] = sum(_overlaps(b, mask) for b in found)
        residual += seen[key]
        scan.drop_renderings()
    return residual, time.perf_counter() - t0


def quarantine_path(output: Path, rel: Path) -> Path:
    """Where `strict` moves the flagged output of the input at `rel`."""
    return output / QUARANTINE_DIR / rel


def _input_stat(item: InputFile) -> dict[str, int]:
    st = item.path.stat()
    return {"input_size": st.st_size, "input_mtime_ns": st.st_mtime_ns}


@dataclass
class RunModels:
    """What a run loads once and every file uses: the finder and the learned inpainter."""

    finder: LearnedFinder | ClassicalFinder
    method: str
    inpainter: LearnedInpainter | None = None


def load_run_models(config: ScrubConfig) -> RunModels:
    """Load the finder and, for the learned method, the inpainter named by `config`.

    Raises:
        UsageError: Unknown finder, Tesseract mode or method.
        NotBuiltError: Weights the chosen finder or method needs are missing.
    """
    finder = make_finder(
        config.find,
        weights=config.weights,
        device=config.device,
        tesseract=config.tesseract,
        printed=config.printed,
        batch_size=config.batch_size,
    )
    method = resolve_method(config.method, config.weights)
    inpainter = None
    if method == LEARNED:
        from medocr_cli.stages.inpaint import LearnedInpainter

        inpainter = LearnedInpainter.from_weights_dir(config.weights, config.device)
    return RunModels(finder, method, inpainter)


def _add_seconds(seconds: dict[str, float], more: dict[str, float]) -> None:
    for key, value in more.items():
        seconds[key] = seconds.get(key, 0.0) + value


def clean_frames(
    scan: Any, models: RunModels, batch_size: int, result: FileResult, report_text: bool
) -> tuple[dict[int, list[Box]], set[int]]:
    """Find, mask and repaint every frame of `scan` in place.

    Returns the removed boxes per frame, and the frames the classifier called handwriting only.

    Frames go through the finder `batch_size` at a time; a frame byte-identical to one already
    searched reuses its mask (kept bit-packed: a byte per 8 pixels of each distinct frame).
    Per-step seconds, the classifier's label, fallbacks, the removed regions (coordinates
    only) and, with `report_text`, the text read are put in `result`.
    """
    import numpy as np

    shape = (scan.height, scan.width)
    done: dict[bytes, tuple[list[Box], np.ndarray | None, str | None]] = {}
    removed: dict[int, list[Box]] = {}
    handwriting_only: set[int] = set()
    seconds: dict[str, float] = {}
    labels: list[str] = []
    regions: list[list[int]] = []
    texts: list[dict[str, Any]] = []
    reused = fallbacks = 0
    for start in range(0, scan.n_frames, batch_size):
        indices = list(range(start, min(scan.n_frames, start + batch_size)))
        t0 = time.perf_counter()
        frames = [scan.display(i) for i in indices]
        keys = [frame_key(f) for f in frames]
        seconds["read"] = seconds.get("read", 0.0) + time.perf_counter() - t0
        todo = [n for n, k in enumerate(keys) if k not in done and k not in keys[:n]]
        findings = models.finder.find([frames[n] for n in todo], [indices[n] for n in todo])
        for n, finding in zip(todo, findings, strict=True):
            _add_seconds(seconds, finding.seconds)
            if finding.label is not None:
                labels.append(finding.label)
            fallbacks += int(finding.fallback)
            t0 = time.perf_counter()
            mask = (
                np.packbits(text_mask(shape, finding.boxes, prob_map=finding.prob_map))
                if finding.boxes
                else None
            )
            seconds["mask"] = seconds.get("mask", 0.0) + time.perf_counter() - t0
            done[keys[n]] = (finding.boxes, mask, finding.label)
        for n, index in enumerate(indices):
            if n not in todo:
                reused += 1
            boxes, mask, label = done[keys[n]]
            if not boxes or mask is None:
                continue
            if label == "H":
                handwriting_only.add(index)
            boxes = [b if b.frame == index else replace(b, frame=index) for b in boxes]
            t0 = time.perf_counter()
            hole = np.unpackbits(mask, count=shape[0] * shape[1]).reshape(shape)
            repaint_frame(scan, index, hole, models.method, inpainter=models.inpainter)
            seconds["inpaint"] = seconds.get("inpaint", 0.0) + time.perf_counter() - t0
            removed[index] = boxes
            result.boxes += len(boxes)
            regions.extend([index, b.x0, b.y0, b.x1, b.y1] for b in boxes)
            if report_text:
                texts.extend(
                    {"frame": index, "box": [b.x0, b.y0, b.x1, b.y1], "text": b.text}
                    for b in boxes
                    if b.text
                )
        scan.drop_renderings()
    result.extra["frames_reused"] = reused
    result.extra["label"] = combine_labels(labels) if labels else None
    result.extra["fallback_frames"] = fallbacks
    result.extra["regions"] = regions
    if report_text:
        result.extra["texts"] = texts
    result.extra["stage_seconds"] = {k: round(v, 4) for k, v in seconds.items()}
    return removed, handwriting_only


def scrub_file(
    item: InputFile,
    target: Path,
    config: ScrubConfig,
    header: HeaderDeidentifier | None = None,
    models: RunModels | None = None,
) -> FileResult:
    """Clean one file and write it to `target`; never raises for a bad input.

    `header` is the run's header step (`header_step(config)`); a DICOM dataset goes through it
    before writing. Without one, "basic" builds its own (with a random salt, one per file,
    unless `config.salt` is set). `models` are the run's loaded models (`load_run_models`;
    loaded here when not given). With `config.verify` the written file is searched again and
    a file with text left over a removed region is `flagged` (with `config.strict` it is
    moved under `OUT/_quarantine`; `target` must then lie under `config.output`).
    """
    if header is None and config.header == "basic":
        header = header_step(config)
    if models is None:
        models = load_run_models(config)
    t0 = time.perf_counter()
    result = FileResult(path=str(item.path), status=Status.OK)
    try:
        result.extra.update(_input_stat(item))
        if target.exists() and not config.overwrite:
            raise OutputError(
                "output already exists", hint="pass --overwrite to replace it", path=target
            )
        t_read = time.perf_counter()
        scan = read_scan(item.path)
        read_seconds = time.perf_counter() - t_read
        result.frames = scan.n_frames
        removed, handwriting_only = clean_frames(
            scan, models, config.batch_size, result, config.report_text
        )
        stage = result.extra["stage_seconds"]
        stage["read"] = round(stage.get("read", 0.0) + read_seconds, 4)
        t_write = time.perf_counter()
        write_scan(scan, target, header=header)
        stage["write"] = round(time.perf_counter() - t_write, 4)
        del scan  # verification reads the output back: do not hold both in memory
        result.output = str(target)
        result.extra["verified"] = config.verify
        if config.verify:
            residual, seconds = verify_output(target, removed, models.finder, handwriting_only)
            stage["verify"] = round(seconds, 4)
            if residual:
                result.status = Status.FLAGGED
                result.extra["residual"] = residual
                result.error = f"{residual} text box(es) still found after cleaning"
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
    if config.method not in (AUTO, *ALL_METHODS):
        raise UsageError(
            f"unknown inpainting method {config.method!r}", hint="use auto, learned, telea or ns"
        )
    if config.find not in FINDERS:
        raise UsageError(f"unknown finder {config.find!r}", hint=f"use {' or '.join(FINDERS)}")
    if config.tesseract not in TESSERACT_MODES:
        raise UsageError(
            f"unknown Tesseract mode {config.tesseract!r}",
            hint=f"use {', '.join(TESSERACT_MODES)}",
        )
    if config.batch_size < 1:
        raise UsageError("the batch size must be at least 1")
    if config.workers < 1:
        raise UsageError("--workers must be at least 1")
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


def _jobs(
    items: list[InputFile], config: ScrubConfig, previous: dict[str, dict[str, Any]]
) -> Iterator[tuple[InputFile, Path | None, FileResult | None]]:
    """(input, target, result) per input: a result where none must be computed."""
    for item in items:
        if not item.candidate:
            skipped = FileResult(
                path=str(item.path), status=Status.SKIPPED, error="not an image file"
            )
            yield item, None, skipped
            continue
        target = config.output / item.rel
        done = resumed_result(item, target, previous.get(str(item.path))) if config.resume else None
        yield item, target, done


def _results(
    items: list[InputFile],
    config: ScrubConfig,
    header: HeaderDeidentifier | None,
    models: RunModels | None,
    previous: dict[str, dict[str, Any]],
) -> Iterator[FileResult]:
    """One result per input, in input order, cleaned here or in `config.workers` processes."""
    if config.workers > 1:
        from medocr_cli.pipeline.scrub_workers import parallel_results

        yield from parallel_results(_jobs(items, config, previous), config, config.workers)
        return
    for item, target, done in _jobs(items, config, previous):
        if done is not None:
            yield done
        else:
            assert target is not None
            yield scrub_file(item, target, config, header, models)


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
    header_step(config)  # refuses bad header options before the salt is drawn
    if config.header == "basic" and config.salt is None:
        from medocr_cli.io.deid_header import new_salt

        config = replace(config, salt=new_salt())  # one salt for the run, shared by workers
    header = header_step(config)
    check_output_root(config.inputs, config.output)
    check_tesseract()
    models = load_run_models(config)  # loaded here even with workers: bad weights fail early
    if config.workers > 1:
        models = None
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
            for result in _results(items, config, header, models, previous):
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
    summary = ScrubSummary(results, report, time.perf_counter() - t0, stopped)
    if config.html:
        from medocr_cli.pipeline.report_html import write_html_report

        summary.html_path = write_html_report(config.output, results)
    return summary
