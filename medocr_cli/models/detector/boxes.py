"""The detector's post-processing: probability maps to text-line boxes.

The core map is thresholded; each component is grown back ("unclipped") by the shrink the training
targets were drawn with, pieces of one line are joined, and with the text map each box is fitted
to the text pixels it covers ("cover" for removal, "tight" for reading). Pure: arrays in, boxes
out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: A core at least this many times taller than wide is read as a vertical line (text rotated
#: 90 or 270 degrees): its line height is its width. A horizontal line's core is never taller
#: than wide unless the line is a lone glyph narrower than its height, and only an isolated
#: hairline glyph ("I", "|") is this slender, so horizontal lines are read as before.
VERTICAL_RATIO = 4.0


def shrink_box(box: tuple[float, float, float, float], shrink: float) -> tuple[float, ...]:
    """Return the core of a line box: `shrink` x its height cut off each side.

    Horizontally the cut is also at most a quarter of the width, so a one-letter "line" keeps
    a core. The training targets are drawn from this; `unclip_box` undoes it.
    """
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    dy = shrink * h
    dx = min(shrink * h, 0.25 * w)
    return (x0 + dx, y0 + dy, x1 - dx, y1 - dy)


def line_height(core_height: float, shrink: float) -> float:
    """Return the height of the text line whose core (its middle band) is `core_height` high.

    Training shrinks each line box by `shrink` of its height at top and bottom to make the core,
    so the line is the core's height divided by (1 - 2 x shrink).
    """
    return core_height / max(1e-6, 1.0 - 2.0 * shrink)


def _touches(box: Sequence[float], comp: Sequence[float]) -> bool:
    """Whether two (x0, y0, x1, y1, ...) rectangles overlap (touching edges do not count)."""
    return comp[0] < box[2] and comp[2] > box[0] and comp[1] < box[3] and comp[3] > box[1]


def is_vertical(width: float, height: float) -> bool:
    """Whether a core of this size is a vertical line's (see `VERTICAL_RATIO`)."""
    return height > VERTICAL_RATIO * width


def unclip_box(
    core: tuple[float, float, float, float], shrink: float, margin: float
) -> tuple[float, float, float, float]:
    """Grow a predicted core back to its line box, plus `margin` x the line height each side.

    The line height is `line_height` of the core's height across the text: its height, or for
    a vertical line (`is_vertical`: text rotated 90 or 270 degrees) its width. Growing a little
    beyond the shrink is on purpose: a box slightly too large costs a few repainted pixels, one
    slightly too small leaves the edge of the letters behind.
    """
    x0, y0, x1, y1 = core
    across = x1 - x0 if is_vertical(x1 - x0, y1 - y0) else y1 - y0
    grow = (shrink + margin) * line_height(across, shrink)
    return (x0 - grow, y0 - grow, x1 + grow, y1 + grow)


def _join_lines(cores: list[list[float]], shrink: float, join: float) -> list[list[float]]:
    """Merge core boxes `[x0, y0, x1, y1, prob_sum, area]` that lie on one text line.

    Two cores join when they overlap vertically by at least half the lower one, their heights
    differ by less than 2.5x, and the horizontal gap between them is at most `join` line
    heights: the map can break a line at a wide word gap, and a line read in pieces is both
    harder to cover and harder to recognise. Two vertical cores (`is_vertical`) are joined by
    the same rule turned 90 degrees (overlap across, gap along the column), so a label along
    the left edge is never joined to one along the right edge.
    """
    n = len(cores)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    upright = [is_vertical(c[2] - c[0], c[3] - c[1]) for c in cores]
    for i in range(n):
        for j in range(i + 1, n):
            ax0, ay0, ax1, ay1 = cores[i][:4]
            bx0, by0, bx1, by1 = cores[j][:4]
            if upright[i] and upright[j]:  # turn both 90 degrees: the same rule then applies
                ax0, ay0, ax1, ay1 = ay0, ax0, ay1, ax1
                bx0, by0, bx1, by1 = by0, bx0, by1, bx1
            ha, hb = ay1 - ay0, by1 - by0
            if min(ay1, by1) - max(ay0, by0) < 0.5 * min(ha, hb):
                continue
            if max(ha, hb) > 2.5 * min(ha, hb):
                continue
            gap = max(bx0 - ax1, ax0 - bx1)
            if gap <= join * line_height(max(ha, hb), shrink):
                parent[root(j)] = root(i)
    groups: dict[int, list[float]] = {}
    for i, core in enumerate(cores):
        g = groups.get(root(i))
        if g is None:
            groups[root(i)] = list(core)
        else:
            g[0], g[1] = min(g[0], core[0]), min(g[1], core[1])
            g[2], g[3] = max(g[2], core[2]), max(g[3], core[3])
            g[4] += core[4]
            g[5] += core[5]
    return list(groups.values())


def _fit_to_text(
    boxes: list[tuple[int, int, int, int, float]],
    text: np.ndarray,
    spec: dict[str, Any],
    shape: tuple[int, int],
    fit: str,
    lines: list[tuple[float, float]] | None = None,
) -> list[tuple[int, int, int, int, float]]:
    """Adjust line boxes with the text-pixel components they touch.

    Text components are the text map above `text_threshold`, grown by `text_pad` pixels; a
    component belongs to a box when it overlaps it and is at most 1.5x as tall (a blob that
    spans several lines is no guide). With `fit="cover"` each box is stretched over its
    components: the core can stop short of a faint last letter or a tall ascender that the
    text map still sees. With `fit="tight"` the box becomes the bounding box of its
    components (each already grown by `text_pad`) plus 5% of its height: close to the ink,
    the crop a recognizer wants (it was trained on crops a few pixels beyond the ink), at the
    cost of missing a little of what the text map did not see. Boxes without
    components are kept as they are.

    A cover box reaches well beyond its line (`unclip_box`'s margin), so in a stack of lines
    it overlaps the letters of the lines above and below. For the cover fit that only makes
    the box larger; a tight box taking them in would be a crop of three lines, which the
    recognizer cannot read. So with `fit="tight"` and `lines` (each box's core centre row and
    line height) a component counts only for the box whose core centre is nearest to its own
    centre row, and only when it is at most 2 line heights tall.
    """
    import cv2

    binary = (text > float(spec.get("text_threshold", 0.5))).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return boxes
    stride = int(spec.get("out_stride", 2))
    pad = int(spec.get("text_pad", 1))
    comps = [
        (x * stride - pad, y * stride - pad, (x + w) * stride + pad, (y + h) * stride + pad)
        for x, y, w, h, _ in stats[1:].tolist()
    ]
    height, width = shape
    owner = _nearest_line(boxes, comps, lines) if fit == "tight" and lines else None
    out = []
    for k, (x0, y0, x1, y1, score) in enumerate(boxes):
        hits = [
            comp
            for j, comp in enumerate(comps)
            if _touches((x0, y0, x1, y1), comp)
            and comp[3] - comp[1] <= 1.5 * (y1 - y0)
            and (owner is None or owner[j] == k)
        ]
        if not hits:
            out.append((x0, y0, x1, y1, score))
            continue
        a, b = min(h[0] for h in hits), min(h[1] for h in hits)
        c, d = max(h[2] for h in hits), max(h[3] for h in hits)
        if fit == "tight":
            grow = 0.05 * (d - b)
            a, b = int(np.floor(a - grow)), int(np.floor(b - grow))
            c, d = int(np.ceil(c + grow)), int(np.ceil(d + grow))
        else:
            a, b, c, d = min(x0, a), min(y0, b), max(x1, c), max(y1, d)
        out.append((max(0, a), max(0, b), min(width, c), min(height, d), score))
    return out


def _nearest_line(
    boxes: list[tuple[int, int, int, int, float]],
    comps: list[tuple[int, int, int, int]],
    lines: list[tuple[float, float]],
) -> list[int]:
    """Return, per text component, the index of the box it is read with (-1: none).

    That is the box whose core centre row is nearest to the component's centre row, among the
    boxes the component overlaps and whose line height it exceeds by at most 2x.
    """
    owner = []
    for comp in comps:
        centre, best, best_k = (comp[1] + comp[3]) / 2.0, float("inf"), -1
        for k, (box, (row, height)) in enumerate(zip(boxes, lines, strict=True)):
            near = abs(centre - row) < best
            if near and _touches(box, comp) and comp[3] - comp[1] <= 2.0 * height:
                best, best_k = abs(centre - row), k
        owner.append(best_k)
    return owner


def boxes_from_map(
    core: np.ndarray,
    spec: dict[str, Any],
    shape: tuple[int, int],
    text: np.ndarray | None = None,
    fit: str = "cover",
) -> list[tuple[int, int, int, int, float]]:
    """Turn a core probability map into line boxes `(x0, y0, x1, y1, score)` in input pixels.

    The map (at 1/`out_stride` of the input) is thresholded and split into 8-connected
    components; components on one line are joined (`_join_lines`) and each line's bounding box
    is grown back by `unclip_box`. The score is the line's mean core probability; lines below
    `min_score` are dropped. With the text map, each box is then fitted to the text pixels
    it touches (`_fit_to_text`; off when the spec's `text_threshold` is 0).

    Args:
        core: Float (h, w) core probabilities for one frame (padding already cut off).
        spec: The detector spec (threshold, min_score, shrink, margin, join, out_stride,
            text_threshold, text_pad).
        shape: (height, width) of the frame, to clip the boxes.
        text: Float (h, w) text-pixel probabilities of the same frame, or None.
        fit: "cover" (the default, recall first: boxes only grow to take in text pixels) or
            "tight" (boxes shrink to the text pixels: for reading, not for removal). Both give
            the same boxes in the same order, so the two can be paired.
    """
    import cv2

    binary = (core > float(spec["threshold"])).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return []
    sums = np.bincount(labels.ravel(), weights=core.ravel().astype(np.float64), minlength=n)
    stride = float(spec.get("out_stride", 2))
    shrink = float(spec["shrink"])
    cores = [
        [float(x), float(y), float(x + w), float(y + h), float(sums[i]), float(area)]
        for i, (x, y, w, h, area) in enumerate(stats.tolist())
        if i > 0
    ]
    if float(spec.get("join", 0.0)) > 0:
        cores = _join_lines(cores, shrink, float(spec["join"]))
    margin = float(spec.get("margin", 0.1))
    height, width = shape
    boxes, lines = [], []
    for x0, y0, x1, y1, total, area in cores:
        score = total / area
        if score < float(spec["min_score"]):
            continue
        gx0, gy0, gx1, gy1 = unclip_box(
            (x0 * stride, y0 * stride, x1 * stride, y1 * stride), shrink, margin
        )
        bx0, by0 = max(0, int(np.floor(gx0))), max(0, int(np.floor(gy0)))
        bx1, by1 = min(width, int(np.ceil(gx1))), min(height, int(np.ceil(gy1)))
        if bx1 > bx0 and by1 > by0:
            boxes.append((bx0, by0, bx1, by1, round(score, 4)))
            lines.append(((y0 + y1) * stride / 2.0, line_height((y1 - y0) * stride, shrink)))
    if text is not None and float(spec.get("text_threshold", 0.5)) > 0:
        boxes = _fit_to_text(boxes, text, spec, shape, fit, lines)
    return boxes
