"""Verify: search every frame of a written output again, in full, for text the cleaning left.

The finder looks at each frame as it is displayed. Text it missed there is exactly the text a
check of the removed regions alone can never see, so every output frame is searched again,
independently of the boxes the finder made:

1. The text detector runs on several renderings of each distinct frame (identical frames are
   searched once): the display rendering, a locally contrast-stretched one (CLAHE: text 10
   grey levels above its background becomes as plain as any overlay), and for grey data of
   more than 8 bits the whole stored range (text a window hides, e.g. below the window of a
   CT, is still PHI), each upright and turned a quarter (vertical text). The detector finds
   upside-down text as well as upright text, so two turns cover all four orientations.
2. A line the detector sees with its usual confidence (`VERIFY_MIN_SCORE`) on the display
   rendering is residual text, wherever it is. A weaker line, or one seen in another
   rendering, is a candidate: Tesseract reads each candidate in both directions of its turn,
   each reading a page of its own, and a confident, word-like reading confirms it. This is
   the expensive step, and it runs only where the cheap one saw something. The pages of up
   to `READ_EVERY` frames go to one Tesseract process per page layout (`PageBatch`), and a
   page already read in the output (the same pixels) is not read again.
3. Over the regions the finder removed, the earlier check stays: Tesseract on those regions
   (frames the classifier called handwriting-only skip it) and any detector line there.
4. In a multi-frame output, a frame that differs from the last frame searched in full (the
   key frame) in less than `frame_change.MAX_CHANGED_SHARE` of its pixels is searched against
   it: the detector's passes all run, and its confident lines all count, but a weak candidate
   or a removed region whose pixels did not change is not read again, and the key frame's
   finds there stand for this frame too (`stages/frame_change.py`).

The result names every region found (frame and box, never text). `scrub_file` uses it twice:
what it finds in the first check is removed (the safety net repairs the output), and only
what a second check still finds flags the file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medocr_cli.pipeline.scrub.verify_read import PageBatch, PageKey
from medocr_cli.stages.frame_change import (
    MAX_CHANGED_SHARE,
    Change,
    change_between,
    change_tol,
    stored_tol,
)
from medocr_cli.types import Box, join_overlapping

if TYPE_CHECKING:
    from medocr_cli.io.scan import Scan

#: Mean core probability a detector line on the display rendering needs to count as residual
#: text by itself. Measured on the 90 images with text among the first 120 of the ds1 test
#: split: repainted patches on busy anatomy (a fan edge, speckle) made lines of 0.80-0.88 in 5
#: outputs, none at 0.9 or more; on the same images left uncleaned, a line of >= 0.9 over the
#: text was found in 89 of 90 (0.8: 90, 0.93: 79).
VERIFY_MIN_SCORE = 0.9
#: A detector line at or above this (in any rendering and turn) is read by Tesseract.
CANDIDATE_MIN_SCORE = 0.5
#: Candidates read per frame at most (the strongest first): bounds the cost on busy frames.
MAX_CANDIDATES = 8
#: CLAHE settings of the contrast rendering.
CLAHE_CLIP = 4.0
CLAHE_TILES = 8


@dataclass
class VerifyResult:
    """What a search of an output found.

    Attributes:
        regions: Boxes of text found, in frame coordinates (their `frame` set), merged.
        seconds: Time spent.
        passes: Detector passes run (renderings x turns x distinct frames).
        reads: Pages Tesseract read to confirm candidates (all of a frame's in one call).
        frames_against_key: Frames searched against a key frame (see `verify_scan`).
    """

    regions: list[Box] = field(default_factory=list)
    seconds: float = 0.0
    passes: int = 0
    reads: int = 0
    frames_against_key: int = 0

    def report(self) -> list[list[int]]:
        """The regions as `[frame, x0, y0, x1, y1]` rows for the report (no text)."""
        return [[b.frame, b.x0, b.y0, b.x1, b.y1] for b in self.regions]


def renderings(scan: Scan, index: int) -> dict[str, np.ndarray]:
    """The 8-bit renderings of frame `index` that the full search looks at.

    "display" is what a person sees, "contrast" its CLAHE, and for grey data of more than 8
    bits "wide" (the whole stored range of the frame, min to max) and "wide_contrast".
    """
    import cv2

    shown = scan.display(index)
    grey = shown if shown.ndim == 2 else cv2.cvtColor(shown, cv2.COLOR_RGB2GRAY)
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(CLAHE_TILES, CLAHE_TILES))
    out = {"display": shown, "contrast": clahe.apply(np.ascontiguousarray(grey))}
    frame = scan.frames[index]
    if frame.ndim == 2 and scan.bits_stored > 8 and scan.palette is None:
        values = frame.astype(np.float32)
        lo, hi = float(values.min()), float(values.max())
        if hi > lo:
            wide = ((values - lo) * (255.0 / (hi - lo))).round().astype(np.uint8)
            out["wide"] = wide
            out["wide_contrast"] = clahe.apply(wide)
    return out


#: (rendering, quarter turns) searched by the detector; absent renderings are passed over.
PASSES: tuple[tuple[str, int], ...] = (
    ("display", 0),
    ("contrast", 0),
    ("contrast", 1),
    ("wide", 0),
    ("wide_contrast", 1),
)


def turn_box(box: Box, turns: int, shape: tuple[int, int]) -> Box:
    """Map a box found in `np.rot90(frame, turns)` back into the frame (`shape`: rows, cols).

    `np.rot90` turns counter-clockwise: a pixel at (row r, col c) of the turned image is
    (row c, col cols-1-r) of the original for one turn; applied `turns` times.
    """
    rows, cols = shape
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    for k in range(turns % 4, 0, -1):
        c = cols if (k - 1) % 2 == 0 else rows  # columns of the image turned k-1 times
        x0, y0, x1, y1 = c - y1, x0, c - y0, x1
    return Box(box.frame, x0, y0, x1, y1, box.text, box.kind, box.score, box.source)


def _into(box: Box, turns: int, shape: tuple[int, int]) -> Box:
    """Map a frame box into `np.rot90(frame, turns)` (the inverse of `turn_box`)."""
    rows, cols = shape
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    for k in range(turns % 4):
        c = cols if k % 2 == 0 else rows  # columns of the image turned k times
        x0, y0, x1, y1 = y0, c - x1, y1, c - x0
    return Box(box.frame, x0, y0, x1, y1, box.text, box.kind, box.score, box.source)


def _overlaps_any(box: Box, others: Sequence[Box]) -> bool:
    return any(box.x0 < o.x1 and o.x0 < box.x1 and box.y0 < o.y1 and o.y0 < box.y1 for o in others)


#: A candidate lying this much (share of its area) inside regions the finder already removed is
#: left to the region check: a repainted patch read in another rendering or turn made false
#: "words" (a generated CT's repainted overlay, read turned, confirmed as a capital run).
INSIDE_REMOVED = 0.5


def _share_inside(box: Box, regions: Sequence[Box]) -> float:
    """The share of `box`'s area covered by `regions` (overlaps counted once)."""
    area = max(1, box.width * box.height)
    cover = np.zeros((box.height, box.width), bool)
    for r in regions:
        x0, x1 = max(r.x0, box.x0) - box.x0, min(r.x1, box.x1) - box.x0
        y0, y1 = max(r.y0, box.y0) - box.y0, min(r.y1, box.y1) - box.y0
        if x1 > x0 and y1 > y0:
            cover[y0:y1, x0:x1] = True
    return float(cover.sum()) / area


@dataclass
class _Search:
    """One searched frame, waiting for its pages to be read (`PageBatch`).

    Attributes:
        index: The frame.
        found: The detector's confident lines on the display rendering: text already.
        candidates: Weaker lines, strongest first, with the keys of their pages.
        proposals: Every detector line of every pass at candidate strength.
        regions: Handle of the stacked page of removed regions read again, or None.
        grown: Those regions, grown as for the mask.
        key: The key frame's search this frame was compared with, or None.
        change: Where the frame differs from that key frame.
    """

    index: int
    found: list[Box]
    candidates: list[tuple[Box, list[PageKey]]]
    proposals: list[Box]
    regions: int | None = None
    grown: list[Box] = field(default_factory=list)
    key: _Search | None = None
    change: Change | None = None
    result: list[Box] | None = None

    def resolve(self, batch: PageBatch) -> list[Box]:
        """The text regions of the frame, once `batch` has read its pages."""
        if self.result is not None:
            return self.result
        confirmed: list[Box] = []
        for box, keys in self.candidates:
            if not _overlaps_any(box, confirmed) and batch.confirms(keys):
                confirmed.append(box)
        found = self.found + confirmed
        if self.regions is not None:
            words = batch.words(self.regions, self.index)
            found += [w for w in words if _overlaps_any(w, self.grown)]
        if self.key is not None and self.change is not None:
            # the key frame's finds where nothing changed stand
            found += [
                _in_frame(b, self.index)
                for b in self.key.resolve(batch)
                if not self.change.touches(b)
            ]
        self.result = found
        return found


def search_frame(
    scan: Scan,
    index: int,
    detector: Any,
    batch: PageBatch,
    removed: Sequence[Box] = (),
    change: Change | None = None,
    judged: Sequence[Box] = (),
) -> tuple[_Search, int]:
    """Search frame `index` of `scan` in full; its candidates' pages go into `batch`.

    `removed` are the regions already cleaned in this frame (grown as for the mask): a weak
    candidate mostly inside them is not read (`INSIDE_REMOVED`); the region check reads those.
    With `change` (where the frame differs from a key frame searched before) and `judged`
    (that key frame's proposals), a weak candidate whose pixels did not change and that the
    key frame had proposed too is not read again: the key frame's reading of the same pixels
    stands. The detector's passes and its confident lines are never skipped. Returns the
    search (resolved once the batch is read) and the detector passes run.
    """
    renders = renderings(scan, index)
    shape = (scan.height, scan.width)
    todo = [(name, turns) for name, turns in PASSES if name in renders]
    results: dict[tuple[str, int], list[Box]] = {}
    for parity in (0, 1):  # one batch per shape: upright frames, then turned ones
        group = [(name, turns) for name, turns in todo if turns % 2 == parity]
        images = [np.ascontiguousarray(np.rot90(renders[n], t)) for n, t in group]
        found_here = detector.detect(images, len(images)) if images else []
        results.update(zip(group, found_here, strict=True))
    found: list[Box] = []
    candidates: list[tuple[str, int, Box]] = []
    for (name, turns), boxes in results.items():
        for b in boxes:
            box = turn_box(b, turns, shape)
            box = Box(index, box.x0, box.y0, box.x1, box.y1, "", "text", b.score, "verify")
            if name == "display" and turns == 0 and b.score >= VERIFY_MIN_SCORE:
                found.append(box)
            elif b.score >= CANDIDATE_MIN_SCORE:
                candidates.append((name, turns, box))
    proposals = found + [c[2] for c in candidates]
    candidates = [
        c
        for c in candidates
        if not _overlaps_any(c[2], found) and _share_inside(c[2], removed) < INSIDE_REMOVED
    ]
    if change is not None:
        candidates = [
            c for c in candidates if change.touches(c[2]) or not _overlaps_any(c[2], judged)
        ]
    candidates.sort(key=lambda c: -c[2].score)
    chosen = [
        (box, batch.candidate(renders, name, turns, box))
        for name, turns, box in candidates[:MAX_CANDIDATES]
    ]
    return _Search(index, found, chosen, proposals), len(todo)


def merge_regions(boxes: list[Box]) -> list[Box]:
    """Merge overlapping regions of each frame into one box per cluster."""
    out: list[Box] = []
    for frame in sorted({b.frame for b in boxes}):
        rects = [[b.x0, b.y0, b.x1, b.y1] for b in boxes if b.frame == frame]
        out += [Box(frame, *r, "", "text", 1.0, "verify") for r in join_overlapping(rects)]
    return out


def verify_scan(
    scan: Scan,
    detector: Any,
    removed: dict[int, list[Box]],
    handwriting_only: set[int] | None = None,
    frames: set[int] | None = None,
) -> VerifyResult:
    """Search every frame of `scan` (an output read back) for text; see the module docstring.

    `removed` maps frame index -> the boxes removed there (the earlier, region check);
    frames the classifier called handwriting only (`handwriting_only`) skip Tesseract on
    those regions. Frames whose stored values are byte-identical to an already searched frame
    reuse its answer. With `frames`, only those frames are searched (the second search after
    a repair: the other frames are unchanged since the first found nothing there).
    """
    from medocr_cli.io.scan import frame_key

    t0 = time.perf_counter()
    result = VerifyResult()
    batch = PageBatch()
    seen: dict[bytes, _Search] = {}
    order: list[tuple[int, _Search]] = []
    tol, values_tol = change_tol(scan), stored_tol(scan)
    # the key frame: display rendering, stored values, search, removed regions
    key: tuple[np.ndarray, np.ndarray, _Search, list[Box]] | None = None
    waiting = 0
    for index in range(scan.n_frames):
        if frames is not None and index not in frames:
            continue
        coords = sorted((b.x0, b.y0, b.x1, b.y1) for b in removed.get(index, []))
        key_bytes = frame_key(scan.frames[index]) + repr(coords).encode()
        if key_bytes not in seen:
            boxes = removed.get(index, [])
            shown = scan.display(index)
            change = None
            if key is not None:
                stored = (scan.frames[index], key[1])
                change = change_between(shown, key[0], tol, stored, values_tol)
                if change.share > MAX_CHANGED_SHARE:
                    change = None
            judged = key[2].proposals if key is not None and change is not None else ()
            search, passes = search_frame(
                scan, index, detector, batch, _grown(boxes), change, judged
            )
            read = boxes
            if key is not None and change is not None:
                search.key, search.change = key[2], change
                # the key frame's region check stands for regions that did not change
                read = [b for b in boxes if change.touches(b) or not _overlaps_any(b, key[3])]
                result.frames_against_key += 1
            if read and index not in (handwriting_only or set()):
                search.regions = batch.regions(shown, read)
                search.grown = _grown(read)
            if change is None:
                values = np.array(scan.frames[index])
                key = (np.array(shown, copy=True), values, search, list(boxes))
            seen[key_bytes] = search
            result.passes += passes
            waiting += 1
        order.append((index, seen[key_bytes]))
        scan.drop_renderings()
        if waiting >= READ_EVERY:
            batch.read()
            waiting = 0
    batch.read()
    for index, search in order:
        result.regions += [
            Box(index, b.x0, b.y0, b.x1, b.y1, "", "text", b.score, "verify")
            for b in search.resolve(batch)
        ]
    result.reads = batch.reads
    result.regions = merge_regions(result.regions)
    result.seconds = time.perf_counter() - t0
    return result


#: Frames whose pages are collected before Tesseract reads them (one process per mode).
READ_EVERY = 32


def _in_frame(box: Box, index: int) -> Box:
    return Box(index, box.x0, box.y0, box.x1, box.y1, box.text, box.kind, box.score, box.source)


def _grown(boxes: Sequence[Box], grow: float = 0.25, min_grow: int = 2) -> list[Box]:
    """The removed boxes as grown for the mask (`stages.inpaint.boxes_to_mask`)."""
    out = []
    for b in boxes:
        m = max(min_grow, round(grow * b.height))
        out.append(Box(b.frame, b.x0 - m, b.y0 - m, b.x1 + m, b.y1 + m))
    return out


def verify_file(
    path: Path,
    detector: Any,
    removed: dict[int, list[Box]],
    handwriting_only: set[int] | None = None,
    frames: set[int] | None = None,
) -> VerifyResult:
    """Read the output at `path` back and search it (`verify_scan`; all frames, or `frames`)."""
    from medocr_cli.io import read_scan

    return verify_scan(read_scan(path), detector, removed, handwriting_only, frames)
