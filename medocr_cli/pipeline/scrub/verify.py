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
   each reading a page of its own, all pages of a frame in one Tesseract process, and a
   confident, word-like reading confirms it. This is the expensive step, and it runs only
   where the cheap one saw something; a page already read in the output (the same pixels, as
   in the static parts of a cine) is not read again.
3. Over the regions the finder removed, the earlier check stays: Tesseract on those regions
   (frames the classifier called handwriting-only skip it) and any detector line there.

The result names every region found (frame and box, never text). `scrub_file` uses it twice:
what it finds in the first check is removed (the safety net repairs the output), and only
what a second check still finds flags the file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
    """

    regions: list[Box] = field(default_factory=list)
    seconds: float = 0.0
    passes: int = 0
    reads: int = 0

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


#: Height in pixels a candidate's line is brought to before Tesseract reads it.
READ_HEIGHT = 48
#: A Tesseract word confirms a candidate at this confidence (0-100) or more, when it looks
#: like overlay text (`_overlay_like`)...
CONFIRM_CONF = 60
#: ... or at any confidence, when it holds this many capitals or digits in a row: Tesseract
#: gives 0 to real names with odd glyphs ("DOE^JANE", "TON^JULIAN"), while what it reads into
#: texture is short, mostly lower case ("its", "ean", "Se").
CONFIRM_RUN = 5


def _overlay_like(text: str) -> bool:
    """Four or more letters/digits, or three that are not all lower case."""
    chars = [ch for ch in text if ch.isalnum()]
    return len(chars) >= 4 or (len(chars) == 3 and not all(ch.islower() for ch in chars))


def _confirms(text: str, conf: float) -> bool:
    """Whether one Tesseract word confirms that a candidate is text (see the constants)."""
    if conf >= CONFIRM_CONF and _overlay_like(text):
        return True
    return re.search(rf"[A-Z0-9]{{{CONFIRM_RUN},}}", re.sub(r"[^A-Za-z0-9]", "", text)) is not None


def _stretch(values: np.ndarray) -> np.ndarray | None:
    """Stretch to 0-255 between the 1st and 99th percentile; None for a flat region."""
    lo, hi = np.percentile(values, 1), np.percentile(values, 99)
    if hi <= lo:
        return None
    return (np.clip((values - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def _dark_on_light(grey: np.ndarray) -> np.ndarray:
    """Tesseract reads dark text on a light ground: invert a mostly dark crop."""
    return 255 - grey if np.median(grey) < 128 else grey


def read_strips(contrast: np.ndarray, plain: np.ndarray, box: Box, turns: int) -> list[np.ndarray]:
    """Two readings of one candidate line, turned `turns` quarters, for Tesseract.

    The locally contrast-stretched rendering as it is, and the plain rendering with the strokes
    lifted off their background (the absolute difference to a median-filtered copy, stretched):
    the first serves text a few grey levels above a smooth ground, the second text on a ground
    that varies (an organ edge, speckle). Both dark on light, `READ_HEIGHT` high, padded.
    """
    import cv2

    height = box.height if turns % 2 == 0 else box.width
    g = max(2, round(height / 4))
    rows, cols = plain.shape[:2]
    y0, y1 = max(0, box.y0 - g), min(rows, box.y1 + g)
    x0, x1 = max(0, box.x0 - g), min(cols, box.x1 + g)
    first = np.rot90(contrast[y0:y1, x0:x1], turns)
    crop = plain[y0:y1, x0:x1].astype(np.float32)
    if crop.ndim == 3:
        crop = crop.mean(axis=2)
    second = None
    flat = _stretch(np.rot90(crop, turns))
    if flat is not None:
        k = min(31, 2 * (min(flat.shape) // 2) + 1)
        if k >= 3:
            lifted = _stretch(np.abs(flat.astype(np.float32) - cv2.medianBlur(flat, k)))
            second = None if lifted is None else 255 - lifted
    strips = []
    for reading in (_dark_on_light(np.ascontiguousarray(first)), second):
        if reading is None or min(reading.shape) < 2:
            continue
        scale = READ_HEIGHT / reading.shape[0]
        big = cv2.resize(reading, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        strips.append(cv2.copyMakeBorder(big, 16, 16, 16, 16, cv2.BORDER_REPLICATE))
    return strips


def confirmed_in(data: dict[str, list], spans: list[tuple[int, int]]) -> set[int]:
    """The indices of the stacked strips (`spans`) that a word of Tesseract's table confirms."""
    hits: set[int] = set()
    for i, text in enumerate(data.get("text", [])):
        if not _confirms(text, float(data["conf"][i])):
            continue
        mid = data["top"][i] + data["height"][i] / 2
        hits |= {n for n, (a, b) in enumerate(spans) if a <= mid < b}
    return hits


#: Pages already read in this output: (shape, bytes) of a page -> whether it confirms text.
ReadCache = dict[tuple[tuple[int, ...], bytes], bool]


def _confirm(
    renders: dict[str, np.ndarray],
    candidates: list[tuple[str, int, Box]],
    cache: ReadCache | None = None,
) -> tuple[list[Box], int]:
    """Read each candidate in both directions of its turn; return the confirmed ones and reads.

    Each candidate and direction is one page (its two readings stacked), read on its own: a
    strip read among other candidates' strips was missed where it was read alone (a
    window-hidden CT name). All pages of the frame go to one Tesseract process
    (`tesseract_pages`), and a page already read in this output (`cache`: the same pixels, e.g.
    a static part of a cine) is not read again. Then, the strongest candidate first, a
    candidate that overlaps one already confirmed is passed over, as when each was read in turn.
    """
    from medocr_cli.stages.printed import stack_strips, tesseract_pages

    cache = {} if cache is None else cache
    pages: list[list[tuple[tuple[tuple[int, ...], bytes], list[tuple[int, int]]]]] = []
    todo: dict[tuple[tuple[int, ...], bytes], tuple[np.ndarray, list[tuple[int, int]]]] = {}
    for name, turns, box in candidates:
        wide = name.startswith("wide")
        contrast = renders["wide_contrast" if wide else "contrast"]
        plain = renders["wide" if wide else "display"]
        sides = []
        for side in (0, 1):
            strips = read_strips(contrast, plain, box, (turns + 2 * side) % 4)
            if not strips:
                continue
            stack, spans = stack_strips(strips)
            key = (stack.shape, stack.tobytes())
            if key not in cache:
                todo[key] = (stack, spans)
            sides.append((key, spans))
        pages.append(sides)
    if todo:
        tables = tesseract_pages([stack for stack, _ in todo.values()], 6)
        for (key, (_, spans)), table in zip(todo.items(), tables, strict=True):
            cache[key] = bool(confirmed_in(table, spans))
    confirmed: list[Box] = []
    for (_, _, box), sides in zip(candidates, pages, strict=True):
        if not _overlaps_any(box, confirmed) and any(cache[key] for key, _ in sides):
            confirmed.append(box)
    return confirmed, len(todo)


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


def search_frame(
    scan: Scan,
    index: int,
    detector: Any,
    removed: Sequence[Box] = (),
    cache: ReadCache | None = None,
) -> tuple[list[Box], int, int]:
    """Search frame `index` of `scan` in full; return (text regions, detector passes, reads).

    `removed` are the regions already cleaned in this frame (grown as for the mask): a weak
    candidate mostly inside them is not read (`INSIDE_REMOVED`); the region check reads those.
    `cache` keeps what Tesseract made of each page read so far in this output; `reads` counts
    the pages read now.
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
    candidates = [
        c
        for c in candidates
        if not _overlaps_any(c[2], found) and _share_inside(c[2], removed) < INSIDE_REMOVED
    ]
    candidates.sort(key=lambda c: -c[2].score)
    chosen = candidates[:MAX_CANDIDATES]
    confirmed, reads = _confirm(renders, chosen, cache) if chosen else ([], 0)
    return found + confirmed, len(todo), reads


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
    from medocr_cli.pipeline.find_text import read_stacked

    t0 = time.perf_counter()
    result = VerifyResult()
    seen: dict[bytes, list[Box]] = {}
    cache: ReadCache = {}
    for index in range(scan.n_frames):
        if frames is not None and index not in frames:
            continue
        coords = sorted((b.x0, b.y0, b.x1, b.y1) for b in removed.get(index, []))
        key = frame_key(scan.frames[index]) + repr(coords).encode()
        if key not in seen:
            boxes = removed.get(index, [])
            found, passes, reads = search_frame(scan, index, detector, _grown(boxes), cache)
            if boxes and index not in (handwriting_only or set()):
                words = read_stacked(scan.display(index), index, boxes)
                reads += 1
                grown = _grown(boxes)
                found += [w for w in words if _overlaps_any(w, grown)]
            seen[key] = found
            result.passes += passes
            result.reads += reads
        result.regions += [
            Box(index, b.x0, b.y0, b.x1, b.y1, "", "text", b.score, "verify") for b in seen[key]
        ]
        scan.drop_renderings()
    result.regions = merge_regions(result.regions)
    result.seconds = time.perf_counter() - t0
    return result


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
