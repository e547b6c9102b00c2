"""One file of a scrub run: find, mask and repaint every frame, write, verify, place.

`scrub_file` is the per-file engine every way of running uses (here, in worker processes, on a
Dask cluster, in `serve`): `clean_frames` finds the text of each frame and repaints it, the
output is written to a hidden staging file, searched again in full there (`verify.py`; what is
found is repainted once more and the file searched again, and text still found flags it), and
only then moved into place, or into the quarantine. It never raises for a bad input.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medocr_cli.errors import MedocrError, OutputError
from medocr_cli.io import read_scan, write_scan
from medocr_cli.io.dicom_marks import withdraw_clean_marks, withdraw_marks
from medocr_cli.io.scan import frame_key
from medocr_cli.io.walk import InputFile
from medocr_cli.pipeline.scrub.config import ScrubConfig, header_step, quarantine_path
from medocr_cli.pipeline.scrub.journal import staging_path
from medocr_cli.pipeline.scrub.key_frames import KeyFills, KeyFramePlan
from medocr_cli.pipeline.scrub.models import RunModels, load_run_models
from medocr_cli.stages.frame_change import change_tol
from medocr_cli.stages.mask import text_mask
from medocr_cli.types import Box, FileResult, Status

if TYPE_CHECKING:
    from medocr_cli.io.deid_header import HeaderDeidentifier
    from medocr_cli.site_config import FixedRegions


def input_stat(item: InputFile) -> tuple[int, int]:
    """The input's size and modification time (ns), as the report records them (for `--resume`)."""
    st = item.path.stat()
    return st.st_size, st.st_mtime_ns


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
    done: dict[bytes, tuple[list[Box], np.ndarray | None, str | None, int, int | None]] = {}
    removed: dict[int, list[Box]] = {}
    handwriting_only: set[int] = set()
    seconds: dict[str, float] = {}
    labels: list[str] = []
    regions: list[list[int]] = []
    texts: list[dict[str, Any]] = []
    reused = fallbacks = kept_total = regions_reused = 0
    plan = KeyFramePlan(models.finder, change_tol(scan), scan.n_frames > 1)
    fills = KeyFills(change_tol(scan))
    for start in range(0, scan.n_frames, batch_size):
        indices = list(range(start, min(scan.n_frames, start + batch_size)))
        t0 = time.perf_counter()
        frames = [scan.display(i) for i in indices]
        keys = [frame_key(f) for f in frames]
        seconds["read"] = seconds.get("read", 0.0) + time.perf_counter() - t0
        todo = [n for n, k in enumerate(keys) if k not in done and k not in keys[:n]]
        findings = plan.find(frames, indices, todo)
        for n, finding in zip(todo, findings, strict=True):
            _add_seconds(seconds, finding.seconds)
            regions_reused += finding.reused
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
            done[keys[n]] = (boxes, mask, finding.label, len(finding.kept), finding.key_index)
        for n, index in enumerate(indices):
            if n not in todo:
                reused += 1
            boxes, mask, label, kept, key_index = done[keys[n]]
            kept_total += kept
            if not boxes or mask is None:
                continue
            if label == "H":
                handwriting_only.add(index)
            boxes = [b if b.frame == index else replace(b, frame=index) for b in boxes]
            t0 = time.perf_counter()
            hole = np.unpackbits(mask, count=shape[0] * shape[1]).reshape(shape).astype(bool)
            whole, before = hole, None
            if key_index is not None:
                hole = fills.copy_into(scan, index, key_index, hole)
            if index in plan.keys:
                before = np.array(scan.frames[index], copy=True)
            if hole.any():
                models.repaint(scan, index, hole, models.method, inpainter=models.inpainter)
            if before is not None:
                fills.remember(index, before, np.array(scan.frames[index], copy=True), whole)
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
    result.frames_reused = reused
    result.regions_reused = regions_reused
    result.pixels_copied = fills.copied if plan.active else None
    result.key_frames = plan.key_frames if plan.active else None
    result.kept_non_text = kept_total
    label = None
    if labels:  # imported here: it brings torch, which a finder without a classifier never needs
        from medocr_cli.models.classifier.predictor import combine_labels

        label = combine_labels(labels)
    result.label = label
    result.fallback_frames = fallbacks
    result.regions = regions
    if report_text:
        result.texts = texts
    result.stage_seconds = {k: round(v, 4) for k, v in seconds.items()}
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
        result.input_size, result.input_mtime_ns = input_stat(item)
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
            result.site_rule = fixed.rule if fixed is not None else None
        removed, handwriting_only = clean_frames(
            scan, models, config.batch_size, result, config.report_text, fixed
        )
        stage = result.stage_seconds
        assert stage is not None  # set by clean_frames
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
        result.verified = config.verify
        final = target
        if config.verify and not _verified(
            staged, removed, handwriting_only, models, result, fixed, config.output_syntax
        ):
            result.status = Status.FLAGGED
            result.error = f"{result.residual} text region(s) still found after cleaning"
            withdraw_clean_marks(staged)
            if config.flagged == "quarantine":
                final = quarantine_path(config.output, target.relative_to(config.output))
        _place(staged, final)
        if final == target:
            result.output = str(target)
        else:
            result.quarantined = str(final)
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
    the report's `regions`) and the repainted frames searched again (the others did not change
    since the first search found nothing there); what that second search finds is
    the `residual` (count and `residual_regions`, coordinates only). Text found wholly inside
    a site rule's never-touch rectangle (`fixed`) was left there on purpose and does not count,
    nor does a region mostly (`KEPT_SHARE`) inside one: the detector's box around text kept
    there reaches a little past the rectangle, and the safety net never repaints inside it.
    """

    def search(done: dict[int, list[Box]], frames: set[int] | None = None) -> Any:
        found = models.search_output(staged, models.detector, done, handwriting_only, frames)
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
        result.repaired = len(check.regions)
        if result.regions is None:
            result.regions = []
        result.regions.extend(check.report())
        again = {i: list(b) for i, b in removed.items()}
        for box in check.regions:
            again.setdefault(box.frame, []).append(box)
        check = search(again, {box.frame for box in check.regions})
        seconds += check.seconds + (time.perf_counter() - t0 - check.seconds)
    if result.stage_seconds is None:
        result.stage_seconds = {}
    result.stage_seconds["verify"] = round(seconds, 4)
    if check.regions:
        result.residual = len(check.regions)
        result.residual_regions = check.report()
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
        models.repaint(scan, frame, hole, models.method, inpainter=models.inpainter)
    # the header step already ran on this dataset: not again
    write_scan(scan, staged, output_syntax=output_syntax)
