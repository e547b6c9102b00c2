"""The mask stage: text boxes of one frame become the boolean mask of pixels to repaint.

A box is a coarse answer: most of its pixels are background. When the text detector's probability
map is at hand, each box is narrowed to the pixels the map calls text, which leaves the inpainter
less to invent. The map is never trusted to remove coverage, though: a box where the map sees
(almost) nothing keeps its whole rectangle, and so does every stretch of a box, at least one text
height wide, where the map sees nothing (a word the detector missed inside a Tesseract line box).
The result is then grown to cover what a box or a thresholded map leaves out: anti-aliased edges,
outlines and drop shadows (rectangles by a margin, map pixels by a disc of the same radius).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from medocr_cli.types import Box

#: Margin, as a fraction of the box height, added around text (see `text_mask`). Measured on 31
#: ds0 test images against the true text masks with Tesseract boxes merged by `merge_boxes`:
#: the smallest grow at which every image had >= 99.5% of its text pixels covered (pooled
#: 99.95%, mask area 4.6x the text area; `inpaint.boxes_to_mask`'s 0.25 gives 99.97% at 5.4x;
#: with a probability map 99.93% at 3.1x).
DEFAULT_GROW = 0.15
#: With the detector's map, the margin around map pixels is at most this fraction of the
#: letters' height (besides `grow` x the box height). Measured on 120 ds1 val images with the
#: shipped detector (`text_mask` of the learned finder's boxes against the true text masks, and
#: against the true line boxes grown by a quarter of their height): 0.25 covers 98.96% of the
#: text pixels and marks 0.16% of the pixels outside the grown boxes, 0.35 99.10% / 0.41%; the
#: box-height margin alone covered 99.23% but marked 0.77% outside, mostly around large
#: handwriting whose detector box spans several lines. Most uncovered text pixels belong to
#: lines the detector missed (the worst image stays at 74% whatever the margin).
MAP_GROW = 0.25
#: Smallest margin in pixels (small text: anti-aliasing is at least a pixel wide).
DEFAULT_MIN_GROW = 2


def text_mask(
    shape: tuple[int, ...],
    boxes: Iterable[Box],
    *,
    prob_map: np.ndarray | None = None,
    threshold: float = 0.3,
    grow: float = DEFAULT_GROW,
    map_grow: float = MAP_GROW,
    min_grow: int = DEFAULT_MIN_GROW,
    min_fill: float = 0.02,
) -> np.ndarray:
    """Return the boolean mask (True = text to remove) of one frame.

    Args:
        shape: Shape of the frame; its first two entries are (rows, cols).
        boxes: Boxes of this frame (their `frame` field is not checked).
        prob_map: Optional text probability map of the frame, float in [0, 1], (rows, cols).
        threshold: Map values above this are text.
        grow: Dilation radius as a fraction of each box's height, without a map: anti-aliasing,
            outlines and shadows scale with the font size.
        map_grow: With a map, the radius around map pixels is also at most this fraction of
            the text height inside the box (`_text_height`: a detector box can hold several
            lines, and its height is then no measure of the letters).
        min_grow: Smallest dilation radius in pixels.
        min_fill: A box whose map-text pixels are fewer than this fraction of its area is kept
            whole (the detector missed it or the map is empty there).

    Raises:
        ValueError: `prob_map` is not the frame's size.
    """
    rows, cols = int(shape[0]), int(shape[1])
    if prob_map is not None and prob_map.shape[:2] != (rows, cols):
        raise ValueError(f"prob_map is {prob_map.shape[:2]}, the frame is {(rows, cols)}")
    mask = np.zeros((rows, cols), bool)
    for box in boxes:
        x0, y0 = max(0, box.x0), max(0, box.y0)
        x1, y1 = min(cols, box.x1), min(rows, box.y1)
        if x1 <= x0 or y1 <= y0:
            continue
        radius = max(min_grow, round(grow * box.height))
        if prob_map is None:
            _fill_rect(mask, x0 - radius, y0 - radius, x1 + radius, y1 + radius)
            continue
        pixels, whole = _refine(prob_map[y0:y1, x0:x1] > threshold, min_fill)
        for start, stop in _runs(whole):
            _fill_rect(mask, x0 + start - radius, y0 - radius, x0 + stop + radius, y1 + radius)
        if pixels.any():
            letters = max(min_grow, round(map_grow * _text_height(pixels, box.height)))
            _paint_dilated(mask, pixels, x0, y0, min(radius, letters))
    return mask


def _refine(text: np.ndarray, min_fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Split a box into map text pixels to keep and columns to keep whole.

    Columns without map text (fewer than a tenth of the box height in pixels, so stray pixels do
    not count) in runs at least one box height wide are a part the detector missed, e.g. a word
    of a Tesseract box: they are kept whole. Narrower empty runs are gaps between letters and
    words. A box whose map text is below `min_fill` of its area is kept whole.

    Returns:
        (pixels, whole): the box-sized boolean text pixels and the per-column "keep whole" flags.
    """
    h, w = text.shape
    if text.sum() < min_fill * text.size:
        return np.zeros_like(text), np.ones(w, bool)
    empty = text.sum(axis=0) < max(1, h // 10)
    whole = np.zeros(w, bool)
    for start, stop in _runs(empty):
        if stop - start >= h:
            whole[start:stop] = True
    return text & ~whole[None, :], whole


def _text_height(pixels: np.ndarray, box_height: int) -> int:
    """The height of the text in a box, from its map pixels (the box's height if there are none).

    A detector box can hold several lines (large handwriting whose line cores touch), and the
    margin must follow the size of the letters, not of the box: a 0.15 margin on a 190 px box
    of three lines repainted 30 px around every stroke. The letters' connected components give
    the text size: the 90th percentile of their heights (ascenders and capitals included; dots
    and specks of under 4 pixels ignored), never more than the box.
    """
    if not pixels.any():
        return box_height
    _, _, stats, _ = cv2.connectedComponentsWithStats(pixels.astype(np.uint8), connectivity=8)
    heights = [int(h) for _, _, _, h, area in stats[1:].tolist() if area >= 4]
    if not heights:
        return box_height
    return int(min(box_height, np.percentile(heights, 90)))


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _paint_dilated(mask: np.ndarray, inside: np.ndarray, x0: int, y0: int, radius: int) -> None:
    """OR `inside` (a box-sized patch at x0, y0) into `mask`, dilated by a disc of `radius`."""
    rows, cols = mask.shape
    h, w = inside.shape
    px0, py0 = max(0, x0 - radius), max(0, y0 - radius)
    px1, py1 = min(cols, x0 + w + radius), min(rows, y0 + h + radius)
    patch = np.zeros((py1 - py0, px1 - px0), np.uint8)
    patch[y0 - py0 : y0 - py0 + h, x0 - px0 : x0 - px0 + w] = inside
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grown = cv2.dilate(patch, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    mask[py0:py1, px0:px1] |= grown.astype(bool)


def _fill_rect(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    rows, cols = mask.shape
    mask[max(0, y0) : min(rows, y1), max(0, x0) : min(cols, x1)] = True
