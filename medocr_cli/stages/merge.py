"""The merge stage: the boxes of every extractor become one set of regions per frame.

Extractors overlap: Tesseract and the handwriting detector may both find the same note, Tesseract
reads a line as words while the detector boxes the whole line. Merging works in two levels:

1. Regions: boxes that are the same thing (IoU above `iou`, or one mostly inside another) are one
   region. Each extractor's reading of a region is its boxes there, in reading order. When two
   extractors read different text for one region, an arbiter (the classifier run on the region's
   crop, as the paper proposes) says whether it is printed or handwritten, and that extractor's
   reading stands; without a verdict the reading with the higher score stands.
2. Lines: regions side by side on one line (similar height, overlapping vertically, a small
   horizontal gap relative to their height) become one line box, their texts joined left to right.

Both levels repeat until nothing changes. A merged box is always the union rectangle of what it
merged: choosing a reading never drops a region, because removal needs recall more than precision.
The result depends only on the set of input boxes, never on their order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from medocr_cli.types import Box, box_area, box_intersection

#: Given the merged region (a Box of its frame, without text), returns "P", "H", "PH" or "None".
Arbiter = Callable[[Box], str]

#: Which box kind each arbiter verdict asks for; "PH" and "None" express no preference.
VERDICT_KIND = {"P": "printed", "H": "handwritten"}


@dataclass(frozen=True, slots=True)
class _Reading:
    """One extractor's reading of one region."""

    source: str
    text: str
    kinds: frozenset[str]
    score: float


def merge_boxes(
    boxes: Sequence[Box],
    *,
    arbiter: Arbiter | None = None,
    iou: float = 0.5,
    contain: float = 0.8,
    gap: float = 1.0,
    min_height_ratio: float = 0.4,
) -> list[Box]:
    """Merge the boxes of several extractors into one de-duplicated set, frame by frame.

    Args:
        boxes: Boxes of any frames, from any extractors, in any order.
        arbiter: Decides conflicting readings of one region (see module docstring); None keeps
            the reading with the higher score.
        iou: Two boxes with an intersection-over-union above this are one region.
        contain: A box with at least this fraction of its area inside another is one region
            with it.
        gap: Side-by-side boxes on one line join when the horizontal gap between them is at
            most `gap` times the taller one's height (word gaps in the generated data: median
            0.45, 90th percentile 1.0 of the word height for printed text, 0.5 for handwriting).
        min_height_ratio: Side-by-side boxes join only when the shorter is at least this
            fraction of the taller's height (lower-case words like "on" are about half as tall
            as "Study"; a small label beside a large title stays apart).

    Returns:
        The merged boxes sorted by frame, then top, then left.
    """
    out: list[Box] = []
    for frame in sorted({b.frame for b in boxes}):
        current = _canonical([b for b in boxes if b.frame == frame])
        while True:
            merged = _merge_round(current, arbiter, iou, contain, gap, min_height_ratio)
            if merged == current:
                break
            current = merged
        out.extend(current)
    return out


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    inter = box_intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def box_containment(a: Box, b: Box) -> float:
    """Fraction of the smaller box's area that lies inside the other box."""
    smaller = min(box_area(a), box_area(b))
    return box_intersection(a, b) / smaller if smaller > 0 else 0.0


def same_region(a: Box, b: Box, *, iou: float = 0.5, contain: float = 0.8) -> bool:
    """True when two boxes of one frame cover the same text: high IoU or one inside the other."""
    return a.frame == b.frame and (box_iou(a, b) > iou or box_containment(a, b) >= contain)


def same_line(a: Box, b: Box, *, gap: float = 1.0, min_height_ratio: float = 0.4) -> bool:
    """True when two boxes of one frame are neighbours on one text line.

    They must be of similar height, overlap vertically by at least half the shorter height, and
    be at most `gap` times the taller height apart horizontally (overlapping counts as 0 apart).
    """
    if a.frame != b.frame:
        return False
    short, tall = sorted((a.height, b.height))
    if short <= 0 or short < min_height_ratio * tall:
        return False
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    if overlap < 0.5 * short:
        return False
    horizontal_gap = max(a.x0, b.x0) - min(a.x1, b.x1)
    return horizontal_gap <= gap * tall


def reading_order(boxes: Iterable[Box]) -> list[Box]:
    """Sort boxes of one frame as text is read: lines top to bottom, left to right in a line.

    A box joins the line above it when it overlaps that line's band by half its own height
    (or half the band's, if that is shorter).
    """
    lines: list[list[Box]] = []
    bands: list[tuple[int, int]] = []
    for box in sorted(boxes, key=lambda b: ((b.y0 + b.y1) / 2, _key(b))):
        if bands:
            top, bottom = bands[-1]
            overlap = min(bottom, box.y1) - max(top, box.y0)
            if overlap >= 0.5 * min(box.height, bottom - top):
                lines[-1].append(box)
                bands[-1] = (min(top, box.y0), max(bottom, box.y1))
                continue
        lines.append([box])
        bands.append((box.y0, box.y1))
    return [box for line in lines for box in sorted(line, key=lambda b: (b.x0, _key(b)))]


def _merge_round(
    boxes: list[Box],
    arbiter: Arbiter | None,
    iou: float,
    contain: float,
    gap: float,
    min_height_ratio: float,
) -> list[Box]:
    """One pass: group related boxes, merge every group; the result is sorted canonically."""

    def related(a: Box, b: Box) -> bool:
        return same_region(a, b, iou=iou, contain=contain) or same_line(
            a, b, gap=gap, min_height_ratio=min_height_ratio
        )

    def overlapping(a: Box, b: Box) -> bool:
        return same_region(a, b, iou=iou, contain=contain)

    merged = []
    for group in _groups(boxes, related):
        if len(group) == 1:
            merged.append(group[0])
            continue
        regions = [
            _resolve_region(region, arbiter, overlapping) for region in _groups(group, overlapping)
        ]
        merged.append(_join_line(regions))
    return _canonical(merged)


def _resolve_region(
    region: list[Box], arbiter: Arbiter | None, overlapping: Callable[[Box, Box], bool]
) -> Box:
    """Merge boxes that cover one region into one box and choose the reading that stands."""
    readings = [_reading(source, region, overlapping) for source in _sources_of(region)]
    union = _union(region)
    texts = {_norm(r.text) for r in readings if r.text.strip()}
    if len(texts) > 1:
        verdict = arbiter(union) if arbiter is not None else "None"
        chosen = _choose(readings, VERDICT_KIND.get(verdict))
        kinds: Iterable[str] = chosen.kinds
    else:
        with_text = [r for r in readings if r.text.strip()]
        chosen = _choose(with_text or readings, None)
        kinds = (k for b in region for k in _parts(b.kind))
    return replace(
        union,
        text=chosen.text,
        kind=_combine(kinds),
        score=max(b.score for b in region),
        source=_combine(s for b in region for s in _parts(b.source)),
    )


def _reading(source: str, region: list[Box], overlapping: Callable[[Box, Box], bool]) -> _Reading:
    """The reading of one source in a region: its non-overlapping boxes, in reading order.

    When one source has overlapping boxes of its own (two renderings of one word), the one with
    the higher score is read.
    """
    kept: list[Box] = []
    for box in sorted((b for b in region if b.source == source), key=lambda b: (-b.score, _key(b))):
        if not any(overlapping(box, k) for k in kept):
            kept.append(box)
    text = " ".join(b.text.strip() for b in reading_order(kept) if b.text.strip())
    kinds = frozenset(k for b in kept for k in _parts(b.kind))
    return _Reading(source, text, kinds, sum(b.score for b in kept) / len(kept))


def _choose(readings: Sequence[_Reading], kind: str | None) -> _Reading:
    """The reading of the wanted kind with the highest score; any kind when none is wanted/found."""
    wanted = [r for r in readings if kind in r.kinds] if kind else []
    pool = wanted or list(readings)
    return max(pool, key=lambda r: (r.score, r.source, r.text))


def _join_line(regions: list[Box]) -> Box:
    """Join resolved regions side by side on one line into one box, texts left to right."""
    ordered = reading_order(regions)
    return replace(
        _union(ordered),
        text=" ".join(r.text.strip() for r in ordered if r.text.strip()),
        kind=_combine(k for r in ordered for k in _parts(r.kind)),
        score=max(r.score for r in ordered),
        source=_combine(s for r in ordered for s in _parts(r.source)),
    )


def _groups(boxes: list[Box], related: Callable[[Box, Box], bool]) -> list[list[Box]]:
    """Connected groups of boxes under a symmetric relation (union-find), canonically ordered."""
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if related(boxes[i], boxes[j]):
                parent[root(i)] = root(j)
    groups: dict[int, list[Box]] = {}
    for i, box in enumerate(boxes):
        groups.setdefault(root(i), []).append(box)
    return sorted((_canonical(g) for g in groups.values()), key=lambda g: _key(g[0]))


def _sources_of(boxes: Iterable[Box]) -> list[str]:
    return sorted({b.source for b in boxes})


def _union(boxes: Sequence[Box]) -> Box:
    """The union rectangle of boxes of one frame, as a Box without text."""
    return Box(
        boxes[0].frame,
        min(b.x0 for b in boxes),
        min(b.y0 for b in boxes),
        max(b.x1 for b in boxes),
        max(b.y1 for b in boxes),
        text="",
        kind=boxes[0].kind,
        score=max(b.score for b in boxes),
        source=boxes[0].source,
    )


def _parts(label: str) -> list[str]:
    """The parts of a combined kind or source label ("detector+tesseract" -> both)."""
    return [p for p in label.split("+") if p]


def _combine(parts: Iterable[str]) -> str:
    """One label from several: unique parts, sorted, joined by "+"."""
    return "+".join(sorted(set(parts)))


def _norm(text: str) -> str:
    """Text compared for agreement: whitespace collapsed, case folded."""
    return " ".join(text.split()).casefold()


def _key(b: Box) -> tuple[int, int, int, int, int, str, str, float, str]:
    """Total order on boxes: position first, then every other field (for determinism)."""
    return (b.frame, b.y0, b.x0, b.y1, b.x1, b.text, b.kind, b.score, b.source)


def _canonical(boxes: Iterable[Box]) -> list[Box]:
    return sorted(boxes, key=_key)
