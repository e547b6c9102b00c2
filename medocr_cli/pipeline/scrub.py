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

import contextlib
import errno
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from medocr_cli.errors import MedocrError, OutputError, UsageError
from medocr_cli.io import read_scan, write_scan
from medocr_cli.io.dicom_marks import withdraw_clean_marks, withdraw_marks
from medocr_cli.io.scan import frame_key
from medocr_cli.io.walk import (
    InputFile,
    check_output_root,
    check_targets,
    check_unique,
    entry_key,
    real_path,
    walk_inputs,
)
from medocr_cli.pipeline.find_text import FINDERS, TESSERACT_MODES, make_finder
from medocr_cli.pipeline.inpaint import AUTO, repaint_frame, resolve_method
from medocr_cli.pipeline.scrub_journal import (
    QUARANTINE_DIR,
    STARTED,
    Journal,
    read_lines,
    recorded_target,
    run_lock,
    staging_path,
    sweep,
    write_report,
)
from medocr_cli.stages.inpaint import ALL_METHODS, LEARNED
from medocr_cli.stages.mask import text_mask
from medocr_cli.stages.printed import PrintedConfig, check_tesseract
from medocr_cli.types import Box, FileResult, Status

if TYPE_CHECKING:
    import numpy as np

    from medocr_cli.io.deid_header import HeaderDeidentifier
    from medocr_cli.io.file_list import FileList
    from medocr_cli.pipeline.find_text import ClassicalFinder, LearnedFinder
    from medocr_cli.site_config import FixedRegions, PixelRules
    from medocr_cli.stages.inpaint import LearnedInpainter

HEADER_MODES = ("keep", "basic")

#: What happens to a flagged output: moved to `OUT/_quarantine` (default) or kept in the tree.
FLAGGED_MODES = ("quarantine", "keep")


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
        verify: Read each output back and search every frame again in full
            (`pipeline/scrub_verify.py`); text found is removed once more (the safety net) and
            text a second search still finds flags the file. Without it, DICOM outputs are
            not marked BurnedInAnnotation NO.
        flagged: "quarantine" (default) moves flagged outputs to `OUT/_quarantine/<relative
            path>`, out of the output tree; "keep" leaves them in the tree, still reported
            flagged.
        find: "learned" (detector + classifier + Tesseract around lines, see
            `pipeline/find_text.py`) or "tesseract" (whole-frame Tesseract, the classical path).
        tesseract: The learned finder's use of Tesseract: "regions", "full" or "off".
        confirm: The learned finder confirms each detected region before it is removed
            (`LearnedFinder.confirm_boxes`); False removes every detected region.
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
        follow_links: Follow symbolic links that lead outside their input folder (by
            default such links are reported skipped).
        output_syntax: How DICOM outputs store their pixels, always losslessly (an
            `OutputSyntax` value, see `io/dicom_encode.py`): "keep" (the input's syntax when
            lossless and writable, else the smallest lossless codec), "explicit"
            (uncompressed), "rle", "jpeg-ls" or "jpeg2000".
        cluster: Clean files on a Dask cluster (`pipeline/scrub_cluster.py`): "local:N" or
            "tcp://HOST:PORT"; None cleans them here (or in `workers` processes).
        files: Read the input files from this list (`io/file_list.py`) instead of walking
            `inputs`, which are then the folders the list's files lie in (set by `run_scrub`).
        regions: A site recipe's per-scanner rules (`site_config.PixelRules`): rectangles
            always cleared or never touched on the DICOM images a rule matches.
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
    flagged: str = "quarantine"
    find: str = "learned"
    tesseract: str = "off"
    confirm: bool = True
    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 8
    report_text: bool = False
    html: bool = False
    workers: int = 1
    follow_links: bool = False
    output_syntax: str = "keep"
    cluster: str | None = None
    files: FileList | None = None
    regions: PixelRules | None = None


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


def quarantine_path(output: Path, rel: Path) -> Path:
    """Where a flagged output of the input at `rel` is quarantined."""
    return output / QUARANTINE_DIR / rel


def _input_stat(item: InputFile) -> dict[str, int]:
    st = item.path.stat()
    return {"input_size": st.st_size, "input_mtime_ns": st.st_mtime_ns}


@dataclass
class RunModels:
    """What a run loads once and every file uses.

    Attributes:
        finder: Finds the text to remove.
        method: Inpainting method ("learned", "telea", "ns").
        inpainter: The learned inpainter, for method "learned".
        detector: The text detector verify searches outputs with (the learned finder's own).
    """

    finder: LearnedFinder | ClassicalFinder
    method: str
    inpainter: LearnedInpainter | None = None
    detector: Any = None


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
        confirm=config.confirm,
    )
    method = resolve_method(config.method, config.weights)
    inpainter = None
    if method == LEARNED:
        from medocr_cli.stages.inpaint import LearnedInpainter

        inpainter = LearnedInpainter.from_weights_dir(config.weights, config.device)
    detector = getattr(finder, "detector", None)
    if detector is None and config.verify:
        detector = _verify_detector(config)
    return RunModels(finder, method, inpainter, detector)


def _verify_detector(config: ScrubConfig) -> Any:
    """The detector verify needs when the finder has none (the classical finder).

    Raises:
        NotBuiltError: `detector.pt` is missing from the weights folder.
    """
    from medocr_cli.config import weights_dir
    from medocr_cli.errors import NotBuiltError
    from medocr_cli.stages.detect import WEIGHTS_NAME, Detector

    path = weights_dir(config.weights) / WEIGHTS_NAME
    if not path.is_file():
        raise NotBuiltError(
            f"verification needs {WEIGHTS_NAME}, which is not in {path.parent}",
            hint="pass --weights DIR, or --no-verify (outputs are then not marked clean)",
        )
    return Detector(path, config.device)


def _add_seconds(seconds: dict[str, float], more: dict[str, float]) -> None:
    for key, value in more.items():
        seconds[key] = seconds.get(key, 0.0) + value


def clean_frames(
    scan: Any,
    models: RunModels,
    batch_size: int,
    result: FileResult,
    report_text: bool,
    fixed: FixedRegions | None = None,
) -> tuple[dict[int, list[Box]], set[int]]:
    """Find, mask and repaint every frame of `scan` in place.

    Returns the removed boxes per frame, and the frames the classifier called handwriting only.

    Frames go through the finder `batch_size` at a time; a frame byte-identical to one already
    searched reuses its mask (kept bit-packed: a byte per 8 pixels of each distinct frame).
    Per-step seconds, the classifier's label, fallbacks, the removed regions (coordinates
    only), how many proposed regions the confirm step kept as non-text (`kept_non_text`) and,
    with `report_text`, the text read are put in `result`. A site rule's `fixed`
    regions (`stages/fixed_regions.py`) add their clear rectangles to every frame's boxes and
    mask and take their never-touch rectangles out.
    """
    import numpy as np

    shape = (scan.height, scan.width)
    done: dict[bytes, tuple[list[Box], np.ndarray | None, str | None, int]] = {}
    removed: dict[int, list[Box]] = {}
    handwriting_only: set[int] = set()
    seconds: dict[str, float] = {}
    labels: list[str] = []
    regions: list[list[int]] = []
    texts: list[dict[str, Any]] = []
    reused = fallbacks = kept_total = 0
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
            boxes, hole = finding.boxes, None
            if fixed is not None:
                from medocr_cli.stages.fixed_regions import masked_with_regions

                boxes, hole = masked_with_regions(shape, boxes, finding.prob_map, fixed, indices[n])
            elif boxes:
                hole = text_mask(shape, boxes, prob_map=finding.prob_map)
            mask = np.packbits(hole) if hole is not None else None
            seconds["mask"] = seconds.get("mask", 0.0) + time.perf_counter() - t0
            done[keys[n]] = (boxes, mask, finding.label, len(finding.kept))
        for n, index in enumerate(indices):
            if n not in todo:
                reused += 1
            boxes, mask, label, kept = done[keys[n]]
            kept_total += kept
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
    result.extra["kept_non_text"] = kept_total
    label = None
    if labels:  # imported here: it brings torch, which a finder without a classifier never needs
        from medocr_cli.stages.classify import combine_labels

        label = combine_labels(labels)
    result.extra["label"] = label
    result.extra["fallback_frames"] = fallbacks
    result.extra["regions"] = regions
    if report_text:
        result.extra["texts"] = texts
    result.extra["stage_seconds"] = {k: round(v, 4) for k, v in seconds.items()}
    return removed, handwriting_only


def _place(staged: Path, final: Path) -> None:
    """Move a verified (or flagged) staged output to its final place, atomically."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
    except OSError as exc:
        raise OutputError(
            f"cannot move the output into place: {exc.strerror}",
            hint="free some disk space" if exc.errno == errno.ENOSPC else "check the output folder",
            path=final,
        ) from exc


def scrub_file(
    item: InputFile,
    target: Path,
    config: ScrubConfig,
    header: HeaderDeidentifier | None = None,
    models: RunModels | None = None,
    replace_ok: bool = False,
) -> FileResult:
    """Clean one file and write it to `target`; never raises for a bad input.

    `header` is the run's header step (`header_step(config)`); a DICOM dataset goes through it
    before writing. Without one, "basic" builds its own (with a random salt, one per file,
    unless `config.salt` is set). `models` are the run's loaded models (`load_run_models`;
    loaded here when not given). `replace_ok` lets an existing `target` be replaced without
    `config.overwrite` (an output a killed run of medocr left for this very input).

    The output is written to a hidden staging file beside `target` (`staging_path`), searched
    again there with `config.verify`, and only then renamed into place: at no moment does the
    output tree hold a file whose check has not finished, whatever kills the process. Text the
    search finds is removed from the staged output (the safety net) and the output searched
    again; a file where text is still found is `flagged`, its DICOM pixel-cleaning marks are
    withdrawn (BurnedInAnnotation is never NO on a file that did not pass), and unless
    `config.flagged` is "keep" it goes to `OUT/_quarantine` instead of `target` (which must
    then lie under `config.output`).
    """
    if header is None and config.header == "basic":
        header = header_step(config)
    if models is None:
        models = load_run_models(config)
    t0 = time.perf_counter()
    result = FileResult(path=str(item.path), status=Status.OK)
    staged = staging_path(target)
    try:
        result.extra.update(_input_stat(item))
        if target.exists() and not (config.overwrite or replace_ok):
            raise OutputError(
                "output already exists", hint="pass --overwrite to replace it", path=target
            )
        t_read = time.perf_counter()
        scan = read_scan(item.path)
        read_seconds = time.perf_counter() - t_read
        result.frames = scan.n_frames
        fixed = None
        if config.regions is not None:
            fixed = config.regions.for_image(scan.dataset, scan.height, scan.width)
            result.extra["site_rule"] = fixed.rule if fixed is not None else None
        removed, handwriting_only = clean_frames(
            scan, models, config.batch_size, result, config.report_text, fixed
        )
        stage = result.extra["stage_seconds"]
        stage["read"] = round(stage.get("read", 0.0) + read_seconds, 4)
        t_write = time.perf_counter()
        write_scan(
            scan,
            staged,
            header=header if config.verify else _unverified(header),
            output_syntax=config.output_syntax,
        )
        stage["write"] = round(time.perf_counter() - t_write, 4)
        del scan  # verification reads the output back: do not hold both in memory
        result.extra["verified"] = config.verify
        final = target
        if config.verify and not _verified(
            staged, removed, handwriting_only, models, result, fixed, config.output_syntax
        ):
            result.status = Status.FLAGGED
            result.error = f"{result.extra['residual']} text region(s) still found after cleaning"
            withdraw_clean_marks(staged)
            if config.flagged == "quarantine":
                final = quarantine_path(config.output, target.relative_to(config.output))
        _place(staged, final)
        if final == target:
            result.output = str(target)
        else:
            result.extra["quarantined"] = str(final)
    except MedocrError as exc:
        if exc.path is not None and exc.path.name == staged.name:
            exc.path = target  # name the output, not its hidden staging file
        result.status, result.error = Status.FAILED, exc.one_line()
    except Exception as exc:
        # An unexpected defect on one file must not end an archive run; it is reported instead,
        # by type and place only: the exception's text can quote header values or read text.
        from medocr_cli.errors import unexpected_error_line

        result.status = Status.FAILED
        result.error = unexpected_error_line(item.path, exc)
    finally:
        # Left only by a failure or Ctrl-C before placing. Removing it can fail too (a file
        # where its folder must be, a read-only folder): the file's own error is reported.
        with contextlib.suppress(OSError):
            staged.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - t0
    return result


def _unverified(header: HeaderDeidentifier | None) -> Callable[[Any], None]:
    """The header step of an output that is not verified: no BurnedInAnnotation NO on it."""

    def step(ds: Any) -> None:
        withdraw_marks(ds)
        if header is not None:
            header(ds)

    return step


def _verified(
    staged: Path,
    removed: dict[int, list[Box]],
    handwriting_only: set[int],
    models: RunModels,
    result: FileResult,
    fixed: FixedRegions | None = None,
    output_syntax: str = "explicit",
) -> bool:
    """Search the staged output in full; remove what is found once; True when none is left.

    What the first search finds is repainted in the staged file (`repaired` regions, added to
    the report's `regions`) and the file searched again; what that second search finds is
    the `residual` (count and `residual_regions`, coordinates only). Text found wholly inside
    a site rule's never-touch rectangle (`fixed`) was left there on purpose and does not count,
    nor does a region mostly (`KEPT_SHARE`) inside one: the detector's box around text kept
    there reaches a little past the rectangle, and the safety net never repaints inside it.
    """
    from medocr_cli.pipeline.scrub_verify import verify_file

    def search(done: dict[int, list[Box]]) -> Any:
        found = verify_file(staged, models.detector, done, handwriting_only)
        if fixed is not None:
            found.regions = [
                b for b in found.regions if fixed.kept_share(b.x0, b.y0, b.x1, b.y1) < KEPT_SHARE
            ]
        return found

    check = search(removed)
    seconds = check.seconds
    if check.regions:
        t0 = time.perf_counter()
        _repair(staged, check.regions, models, output_syntax, fixed)
        result.extra["repaired"] = len(check.regions)
        result.extra.setdefault("regions", []).extend(check.report())
        again = {i: list(b) for i, b in removed.items()}
        for box in check.regions:
            again.setdefault(box.frame, []).append(box)
        check = search(again)
        seconds += check.seconds + (time.perf_counter() - t0 - check.seconds)
    result.extra["stage_seconds"]["verify"] = round(seconds, 4)
    if check.regions:
        result.extra["residual"] = len(check.regions)
        result.extra["residual_regions"] = check.report()
        return False
    return True


#: A region verify finds counts as text a site rule keeps when this share of it lies inside the
#: rule's never-touch rectangles.
KEPT_SHARE = 0.6


def _repair(
    staged: Path,
    regions: list[Box],
    models: RunModels,
    output_syntax: str,
    fixed: FixedRegions | None = None,
) -> None:
    """Repaint `regions` (verify's finds) in the staged output and write it again in place.

    A site rule's never-touch rectangles (`fixed.keep`) are taken out of the hole: no pixel
    inside them is repainted, by the finder or by this safety net.
    """
    scan = read_scan(staged)
    shape = (scan.height, scan.width)
    for frame in sorted({b.frame for b in regions}):
        hole = text_mask(shape, [b for b in regions if b.frame == frame])
        if fixed is not None:
            for rect in fixed.keep:
                x0, y0, x1, y1 = rect.bounds
                hole[y0:y1, x0:x1] = 0
        if not hole.any():
            continue
        repaint_frame(scan, frame, hole, models.method, inpainter=models.inpainter)
    # the header step already ran on this dataset: not again
    write_scan(scan, staged, output_syntax=output_syntax)


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
    if config.cluster is not None:
        if config.workers > 1:
            raise UsageError(
                "--cluster and --workers both spread the files", hint="give only one of them"
            )
        from medocr_cli.pipeline.scrub_cluster import check_cluster

        check_cluster(config.cluster)
    if config.flagged not in FLAGGED_MODES:
        raise UsageError(
            f"unknown --flagged mode {config.flagged!r}", hint="use quarantine or keep"
        )
    if config.resume and config.header == "basic" and config.salt is None:
        raise UsageError(
            "--resume with --header basic needs the run's --salt",
            hint="pass the same --salt as the first run so UIDs stay consistent",
        )
    quarantine = real_path(config.output / QUARANTINE_DIR)  # Path.resolve raises on a loop
    for root in config.inputs:
        r = real_path(root)
        if r == quarantine or quarantine in r.parents:
            raise UsageError(
                f"input {root} lies in the quarantine folder of {config.output}",
                hint="copy quarantined files elsewhere before scrubbing them again",
            )


@dataclass
class Job:
    """One input of a run: where it goes, and what is known before cleaning it.

    Attributes:
        item: The input entry.
        target: Its output path (None for skipped entries).
        ready: Its result when none must be computed (skipped, resumed).
        replace_ok: Its existing output was left by a killed medocr run for this very input,
            so it may be replaced without `--overwrite`.
    """

    item: InputFile
    target: Path | None = None
    ready: FileResult | None = None
    replace_ok: bool = False


def plan_jobs(
    items: list[InputFile], config: ScrubConfig, previous: dict[str, dict[str, Any]]
) -> list[Job]:
    """One job per input entry, in input order, with nothing written yet.

    `previous` holds the newest journal line per input (`read_lines`, keyed by
    `walk.entry_key`). An input is resumed, or its existing output replaced without
    `--overwrite` after a kill, only when that line names this very output path.

    Raises:
        UsageError: One entry reached twice, two inputs sharing a path the run may write
            (quarantine places included unless `--flagged keep`), an output resolving into the
            inputs, a folder on the way to an output that is a file or a broken link, or
            (without `--overwrite`) outputs already there that this run would have to
            replace: a second run into the same OUT stops here, before touching anything.
    """
    check_unique(items)
    jobs: list[Job] = []
    clashes: list[Path] = []
    for item in items:
        if not item.candidate:
            skipped = FileResult(path=str(item.path), status=Status.SKIPPED, error=item.skip_reason)
            jobs.append(Job(item, ready=skipped))
            continue
        target = config.output / item.rel
        line = previous.get(entry_key(item.path))
        if line is not None and recorded_target(line) != entry_key(target):
            line = None  # another output path (another input root): not this output's line
        done = resumed_result(item, target, line) if config.resume else None
        orphan = line is not None and line.get("status") == STARTED
        if done is None and not (config.overwrite or orphan) and target.exists():
            clashes.append(target)
        jobs.append(Job(item, target, done, orphan))
    check_targets(
        [
            (
                job.item,
                [job.target]
                + (
                    [quarantine_path(config.output, job.item.rel)]
                    if config.flagged == "quarantine"
                    else []
                ),
            )
            for job in jobs
            if job.target is not None
        ],
        config.inputs,
        config.output,
    )
    if clashes:
        raise UsageError(
            f"{len(clashes)} output(s) already exist in {config.output}, e.g. {clashes[0]}",
            hint="--resume skips the files a previous run finished; --overwrite replaces outputs",
        )
    return jobs


def _dispatch(jobs: list[Job], journal: Journal) -> Iterator[Job]:
    """Yield the jobs, journaling each file as started just before it is handed out."""
    for job in jobs:
        if job.ready is None:
            assert job.target is not None
            journal.started(str(job.item.path), job.target, job.item.rel)
        yield job


def _results(
    jobs: Iterator[Job],
    config: ScrubConfig,
    header: HeaderDeidentifier | None,
    models: RunModels | None,
) -> Iterator[FileResult]:
    """One result per job, in job order: cleaned here, in workers or on a Dask cluster.

    `models` set with workers asked for means the caller passed its own: they are used here.
    """
    if config.workers > 1 and models is None:
        from medocr_cli.pipeline.scrub_workers import parallel_results

        yield from parallel_results(jobs, config, config.workers)
        return
    if config.cluster is not None and models is None:
        from medocr_cli.pipeline.scrub_cluster import cluster_results

        yield from cluster_results(jobs, config, config.cluster)
        return
    for job in jobs:
        if job.ready is not None:
            yield job.ready
        else:
            assert job.target is not None
            yield scrub_file(job.item, job.target, config, header, models, job.replace_ok)


def _record(journal: Journal, result: FileResult) -> None:
    """Journal a finished file; an output that cannot be recorded is taken back out.

    Raises:
        OutputError: The journal cannot be written (the run cannot go on without it).
    """
    try:
        journal.append(result.to_json())
    except OutputError:
        for key in (result.output, result.extra.get("quarantined")):
            if key:
                Path(key).unlink(missing_ok=True)  # nothing is left that the report does not hold
        raise


def run_scrub(
    config: ScrubConfig, progress: Progress | None = None, models: RunModels | None = None
) -> ScrubSummary:
    """Clean every image under `config.inputs` into `config.output` and write the report.

    `models` are the finder, inpainter and verify detector to use instead of loading them from
    the weights folder (the seam tests and embedding callers use); with them, every file is
    cleaned in this process, whatever `config.workers` says.

    Every file is journaled (`scrub_journal`: a `started` line before it is cleaned, its
    report line once its output is in place) in `OUT/.medocr/journal.jsonl`, which is only
    appended to; `OUT/medocr-report.jsonl` (the newest line per input path: path, status,
    output, frames, boxes, seconds, error, input_size, input_mtime_ns, frames_reused, verified,
    and where they apply residual, quarantined, resumed) is rewritten from it atomically when
    the run ends, also when it is interrupted.

    Raises:
        UsageError: Missing inputs, OUT and an input overlapping (either way, links
            followed), two inputs sharing an output path, outputs already there without
            `--overwrite`/`--resume`, another run holding OUT, an unknown method or header
            mode, a salt without `header="basic"`, an unknown `flagged` mode, `resume` with
            "basic" and no salt.
        OutputError: OUT, its journal or its report cannot be written.
        ToolMissingError: Tesseract is not installed.
    """
    if config.files is not None:  # the list's folders stand for the inputs in every check
        config = replace(config, inputs=config.files.folders())
    _check_options(config)
    header_step(config)  # refuses bad header options before the salt is drawn
    if config.header == "basic" and config.salt is None:
        from medocr_cli.io.deid_header import new_salt

        config = replace(config, salt=new_salt())  # one salt for the run, shared by workers
    header = header_step(config)
    check_output_root(config.inputs, config.output)
    check_tesseract()
    given = models is not None
    if models is None:
        models = load_run_models(config)  # loaded here even with workers: bad weights fail early
    if (config.workers > 1 or config.cluster is not None) and not given:
        models = None  # each worker loads its own
    items = list(
        config.files
        if config.files is not None
        else walk_inputs(config.inputs, follow_links=config.follow_links, output=config.output)
    )
    jobs = plan_jobs(items, config, read_lines(config.output))
    try:
        config.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder: {exc.strerror}", path=config.output
        ) from exc
    with run_lock(config.output):
        previous = read_lines(config.output)  # again: the lock makes this one authoritative
        jobs = plan_jobs(items, config, previous)
        sweep(previous, config.output / QUARANTINE_DIR)
        journal = Journal(config.output)
        if progress is not None:
            progress.start(len(items))
        results: list[FileResult] = []
        stopped = False
        t0 = time.perf_counter()
        try:
            for result in _results(_dispatch(jobs, journal), config, header, models):
                _record(journal, result)
                results.append(result)
                if progress is not None:
                    progress.advance(result)
                if result.status == Status.FAILED and config.stop_on_error:
                    stopped = True
                    break
        finally:
            journal.close()
            report = write_report(config.output)
    summary = ScrubSummary(results, report, time.perf_counter() - t0, stopped)
    if config.html:
        from medocr_cli.pipeline.report_html import write_html_report

        summary.html_path = write_html_report(config.output, results)
    return summary
