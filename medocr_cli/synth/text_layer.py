"""The text layer the renderers hand to the compositor: RGBA pixels plus exact line/word labels.

A `TextLayer` is cropped tight around its ink. Its labels are computed from the alpha the layer
really holds, never from font metrics, so the boxes every model trains on are exact: each line box
is the tight box of that line's visible pixels (outline and shadow included), its word boxes lie
inside it and together cover all of them, and no visible pixel lies outside every line box.
`check_layer` verifies these invariants; the tests run it over many fonts, sizes and seeds.
The ink operations the renderers use to look less like a font (`fade_ink`, `swell_ink`,
`drop_faint`, over a `smooth_field`) are here too, each written so the labels, measured after
it, still hold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]


@dataclass
class WordLabel:
    """One word of a line.

    Attributes:
        text: The word's characters (no spaces).
        box: x0, y0, x1, y1 (x1, y1 exclusive) in layer pixels: the tight box of the word's
            alpha > 0 pixels.
    """

    text: str
    box: Box


@dataclass
class LineLabel:
    """One line of text drawn into a layer.

    Attributes:
        text: The exact characters drawn, words separated by single or multiple spaces as given
            (what a recognizer must output for this line).
        kind: "printed" or "handwritten".
        box: Tight box of ALL alpha > 0 pixels of this line (outline and shadow included).
        words: The line's words, left to right.
        font: The FontSpec name of the face it was drawn with (for split bookkeeping).
    """

    text: str
    kind: str
    box: Box
    words: list[WordLabel]
    font: str


@dataclass
class TextLayer:
    """Rendered text ready to be composited, with its labels.

    Attributes:
        rgba: uint8 (h, w, 4), straight (not premultiplied) alpha; every pixel outside the
            glyphs, outlines and shadows has alpha 0 (its RGB is the text colour, so resampling
            the layer does not pull dark fringes in).
        lines: One label per drawn line; boxes are in this layer's pixel coordinates.
    """

    rgba: np.ndarray
    lines: list[LineLabel]


def empty_layer() -> TextLayer:
    """A 1x1 fully transparent layer with no lines (what blank text renders to)."""
    return TextLayer(rgba=np.zeros((1, 1, 4), dtype=np.uint8), lines=[])


def tight_box(mask: np.ndarray) -> Box | None:
    """Return the tight (x0, y0, x1, y1) box of the non-zero pixels of a 2-D array, or None."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def union_box(boxes: Iterable[Box]) -> Box | None:
    """Return the smallest box holding all given boxes, or None when there are none."""
    boxes = list(boxes)
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def fade_ink(alpha: np.ndarray, factor: float | np.ndarray) -> np.ndarray:
    """Scale a uint8 alpha by `factor` (a number or a per-pixel array in 0-1), keeping its ink.

    Every pixel with alpha > 0 keeps alpha >= 1, so the text mask and the tight boxes, which
    count alpha > 0, are those of the unfaded ink: fading (pen pressure, a drying pen) changes
    how the text looks, never what its labels say.
    """
    scaled = np.rint(alpha.astype(np.float32) * factor).astype(np.uint8)
    return np.where(alpha > 0, np.maximum(scaled, 1), 0).astype(np.uint8)


#: Coverage (of 255) below which `drop_faint` takes a pixel for no ink.
FAINT = 24


def drop_faint(coverage: np.ndarray, floor: int = FAINT) -> np.ndarray:
    """Zero the pixels of a uint8 coverage buffer below `floor` (in place; returned too).

    Resampling (a warp, a rotation) leaves a fringe of barely covered pixels around strokes.
    Under a tenth of a pixel covered changes a faint line (10-30 grey levels) by under 3
    levels, often by none: kept, it would put unchanged pixels into the text mask.
    """
    coverage[coverage < floor] = 0
    return coverage


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """A smooth random float32 field in [0, 1]: uniform values every `cell` px, bicubic between.

    What varies slowly along a line of ink (pen pressure, pen width) is drawn from it.
    """
    h, w = shape
    grid = rng.random((max(2, math.ceil(h / cell) + 1), max(2, math.ceil(w / cell) + 1)))
    field = cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(field, 0.0, 1.0)


def swell_ink(buffers: list[np.ndarray], radius: int, field: np.ndarray) -> list[np.ndarray]:
    """Thicken the ink of uint8 buffers by up to `radius` px, as much as `field` (0-1) says there.

    A pen width that varies along the strokes. Ink is only ever added, and the boxes are to be
    measured on the result, so the labels follow the ink actually drawn.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return [np.maximum(b, (cv2.dilate(b, kernel) * field).astype(np.uint8)) for b in buffers]


def shift_box(box: Box, dx: int, dy: int) -> Box:
    """Translate a box by (dx, dy)."""
    return box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy


def _edges_touch_ink(ink: np.ndarray, box: Box) -> bool:
    x0, y0, x1, y1 = box
    if not (x0 < x1 and y0 < y1):
        return False
    region = ink[y0:y1, x0:x1]
    return bool(region[0].any() and region[-1].any() and region[:, 0].any() and region[:, -1].any())


def check_layer(layer: TextLayer) -> None:
    """Verify a layer's label invariants; raise ValueError naming the first one broken.

    Checked: rgba is uint8 (h, w, 4); every alpha > 0 pixel lies in some line box; each line
    box lies in the layer and is tight (ink on all four of its edges); each word box lies in its
    line box and is tight; a line's word boxes cover every ink pixel of its box that no other
    line's box claims; the words' texts are the line's words.
    """
    rgba = layer.rgba
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"rgba must be uint8 (h, w, 4), got {rgba.dtype} {rgba.shape}")
    ink = rgba[..., 3] > 0
    h, w = ink.shape
    covered = np.zeros_like(ink)
    for line in layer.lines:
        x0, y0, x1, y1 = line.box
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise ValueError(f"line box {line.box} outside the {w}x{h} layer")
        if not _edges_touch_ink(ink, line.box):
            raise ValueError(f"line box {line.box} of {line.text!r} is not tight")
        covered[y0:y1, x0:x1] = True
        if [word.text for word in line.words] != line.text.split():
            raise ValueError(f"words {[wd.text for wd in line.words]} do not spell {line.text!r}")
        for word in line.words:
            wx0, wy0, wx1, wy1 = word.box
            if not (x0 <= wx0 < wx1 <= x1 and y0 <= wy0 < wy1 <= y1):
                raise ValueError(f"word box {word.box} outside its line box {line.box}")
            if not _edges_touch_ink(ink, word.box):
                raise ValueError(f"word box {word.box} of {word.text!r} is not tight")
    if (ink & ~covered).any():
        raise ValueError("ink outside every line box")
    for i, line in enumerate(layer.lines):
        x0, y0, x1, y1 = line.box
        own = ink[y0:y1, x0:x1].copy()
        for j, other in enumerate(layer.lines):
            if j != i:
                ox0, oy0, ox1, oy1 = other.box
                own[max(oy0 - y0, 0) : max(oy1 - y0, 0), max(ox0 - x0, 0) : max(ox1 - x0, 0)] = 0
        for word in line.words:
            wx0, wy0, wx1, wy1 = word.box
            own[wy0 - y0 : wy1 - y0, wx0 - x0 : wx1 - x0] = 0
        if own.any():
            raise ValueError(f"ink of line {line.text!r} outside all of its word boxes")
