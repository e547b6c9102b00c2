"""The paper of a sticker: an adhesive label or a scrap of note paper, drawn on a scan.

A label has straight edges and rounded die-cut corners and is white, cream, pale yellow or a
pale colour; a scrap of note paper has 1-4 torn edges, is off-white or note-pad yellow, a little
translucent and sometimes ruled. Both are a slightly irregular quadrilateral turned a few
degrees, lit unevenly, with grain, faint fibres, a darker cut edge and a soft shadow. All of it
is background (the clean image); `stickers` writes on it.

The paper is laid out in its own frame (`Layout`), then turned onto the image; `Paper.matrix`
takes that frame to the turned one, so whatever is written on the paper can be turned with it.
Every point of the outline lies within `margin` of the layout's edges, so ink kept that far
inside stays on the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from medocr_cli.synth.text_layer import smooth_field

#: Label stock: white, cream, pale yellow, pale blue, pink, green.
LABEL_COLOURS = (
    (250, 250, 246),  # white
    (246, 242, 228),  # cream
    (252, 246, 196),  # pale yellow
    (226, 238, 252),  # pale blue
    (252, 230, 234),  # pale pink
    (228, 246, 226),  # pale green
)
#: Note paper: white, off-white, note-pad yellow, recycled grey.
PAPER_COLOURS = ((247, 247, 243), (240, 236, 224), (252, 242, 160), (232, 230, 222))
#: Ruling of note paper: pale blue.
RULE_COLOUR = (150, 180, 225)


@dataclass(frozen=True)
class Layout:
    """The paper to draw, in its own frame (before it is turned).

    Attributes:
        width: Width in pixels.
        height: Height in pixels.
        unit: The size of what is written on it (the largest font size, px): edge effects
            (tears, corner skew and rounding) scale with it.
        rows: (top, height) of each handwritten line, which ruling runs under.
    """

    width: int
    height: int
    unit: float
    rows: tuple[tuple[int, int], ...] = ()


@dataclass
class Paper:
    """A paper drawn on an image.

    Attributes:
        image: The image with the paper and its shadow (RGB for coloured paper).
        record: kind, box (tight box of the paper), corners (the quadrilateral's corners,
            clockwise from top-left, before tearing and rounding: the paper lies inside
            them) and angle (degrees counter-clockwise), in image pixels.
        covered: bool (H, W): the pixels wholly inside the paper's outline.
        matrix: 2x3 affine map from the layout's frame to the turned frame.
        size: (width, height) of the turned frame (the paper, turned, with room for its shadow).
        origin: Where the turned frame's top-left corner lies on the image.
    """

    image: np.ndarray
    record: dict[str, Any]
    covered: np.ndarray
    matrix: np.ndarray
    size: tuple[int, int]
    origin: tuple[int, int]


def margin(unit: float, kind: str) -> float:
    """How far inside the layout's edges ink must stay to lie on the paper, a few px clear.

    A few pixels plus the deepest tear, the largest corner skew and the inset of a rounded
    corner at 45 degrees.
    """
    return max(3.0, 0.3 * unit) + _tear(unit, kind) + _skew(unit) + 0.3 * _radius(unit, kind)


def turned_size(width: int, height: int, angle: float, scale: float) -> tuple[int, int]:
    """(width, height) a width x height paper takes turned by `angle`, shadow room included."""
    reach = _shadow_reach(scale)
    rad = math.radians(angle)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    return (
        math.ceil(width * cos + height * sin) + 2 * reach,
        math.ceil(width * sin + height * cos) + 2 * reach,
    )


def _tear(unit: float, kind: str) -> float:
    """Deepest bite of a torn edge into note paper; labels have none."""
    return 0.3 * unit if kind == "paper" else 0.0


def _skew(unit: float) -> float:
    """How far each corner of the quadrilateral may move inwards."""
    return 0.2 * unit


def _radius(unit: float, kind: str) -> float:
    """Largest corner radius: labels are die-cut with rounded corners, paper scraps are not."""
    return 0.6 * unit if kind == "label" else 0.0


def _shadow_reach(scale: float) -> int:
    """Room kept around the paper for its shadow (offset plus blur), px."""
    return math.ceil(4.0 * max(scale, 0.5)) + 4


def _outline(rng: np.random.Generator, layout: Layout, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The paper's outline and its four skewed corners, float (N, 2) / (4, 2), paper frame.

    A rectangle with rounded corners (labels) or 1-4 torn edges (paper), every point then moved
    by the bilinear map that takes the rectangle's corners to the skewed ones: all moves are
    inwards, and no point moves further than the skew, so the margin holds.
    """
    w, h, unit = float(layout.width), float(layout.height), layout.unit
    inward = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float64)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    corners += inward * rng.uniform(0.0, _skew(unit), (4, 2))
    radius = float(rng.uniform(0.15, 1.0)) * _radius(unit, kind)
    torn = rng.random(4) < 0.5 if kind == "paper" else np.zeros(4, bool)
    if kind == "paper" and not torn.any():
        torn[int(rng.integers(4))] = True
    square = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    points: list[np.ndarray] = []
    for k in range(4):
        a, b = square[k], square[(k + 1) % 4]
        if radius > 0:  # a quarter circle round corner a, from the previous edge to this one
            centre = a + inward[k] * radius
            for t in np.linspace(0.0, 0.5 * math.pi, 6) + math.pi * (1.0 + 0.5 * k):
                points.append(centre + radius * np.array([math.cos(t), math.sin(t)]))
        else:
            points.append(a)
        if torn[k]:  # a ragged line wandering into the paper, a point every 1.5 px
            length = float(np.hypot(*(b - a)))
            n = max(8, int(length / 1.5))
            walk = np.cumsum(rng.normal(0.0, 1.0, n))
            walk = (walk - walk.min()) / max(float(np.ptp(walk)), 1e-6)
            jag = np.convolve(rng.random(n + 2), (0.25, 0.5, 0.25), mode="valid")
            depth = _tear(unit, kind) * np.clip(0.8 * walk + 0.2 * jag, 0.0, 1.0)
            normal = np.array([-(b - a)[1], (b - a)[0]]) / length  # inwards (clockwise order)
            for t, d in zip(np.linspace(0.0, 1.0, n + 2)[1:-1], depth, strict=True):
                points.append(a + t * (b - a) + d * normal)
    outline = np.array(points)
    u, v = outline[:, :1] / w, outline[:, 1:] / h
    mapped = (
        (1 - u) * (1 - v) * corners[0]
        + u * (1 - v) * corners[1]
        + u * v * corners[2]
        + (1 - u) * v * corners[3]
    )
    return mapped, corners


def _texture(rng: np.random.Generator, layout: Layout, kind: str) -> np.ndarray:
    """The paper's face, float32 RGB (h, w, 3) in its own frame.

    Colour under uneven light, grain and faint fibres; on some note paper, pale blue ruling
    under the written lines.
    """
    h, w, unit = layout.height, layout.width, layout.unit
    colours = LABEL_COLOURS if kind == "label" else PAPER_COLOURS
    exposure = float(rng.uniform(0.86, 1.0))  # how bright the scanner saw it
    colour = np.array(colours[int(rng.integers(len(colours)))], np.float32) * exposure
    field_ = smooth_field(rng, (h, w), max(8.0, 0.5 * max(h, w)))
    light = 1.0 + float(rng.uniform(0.02, 0.06)) * (2.0 * field_ - 1.0)
    grain = cv2.GaussianBlur(rng.normal(0.0, 1.0, (h, w)).astype(np.float32), (0, 0), 0.7)
    grain *= float(rng.uniform(1.5, 3.5)) / max(float(grain.std()), 1e-6)
    n = int(h * w / (150 if kind == "paper" else 600))
    starts = rng.uniform(0.0, 1.0, (n, 2)) * (w, h)
    turns = rng.uniform(0.0, math.pi, n)
    lengths = rng.uniform(2.0, 3.0 + 0.4 * unit, n)
    values = rng.uniform(3.0, 9.0, n) * np.where(rng.random(n) < 0.35, 1.0, -1.0)
    fibres = np.zeros((h, w), np.float32)
    for (x, y), t, length, value in zip(starts, turns, lengths, values, strict=True):
        end = (round(x + length * math.cos(t)), round(y + length * math.sin(t)))
        cv2.line(fibres, (round(x), round(y)), end, float(value), 1)
    fibres = cv2.GaussianBlur(fibres, (0, 0), 0.5)
    paper = colour * light[..., None] + (grain + fibres)[..., None]
    if kind == "paper" and rng.random() < 0.4:  # ruled note paper, the writing on its lines
        rows = layout.rows or [(int(rng.integers(0, max(1, h))), round(1.3 * unit))]
        pitch = max(4, round(rows[1][0] - rows[0][0] if len(rows) > 1 else 1.25 * rows[0][1]))
        first = round(rows[0][0] + 0.8 * rows[0][1]) % pitch
        for y in range(first, h, pitch):
            if 1 < y < h - 2:
                paper[y] = 0.6 * paper[y] + 0.4 * np.array(RULE_COLOUR, np.float32) * exposure
    return np.clip(paper, 0.0, 255.0).astype(np.float32)


def _pos(rng: np.random.Generator, room: int) -> int:
    """Where along one axis the paper goes: mostly near an edge of the image, else anywhere."""
    if room <= 0:
        return 0
    if rng.random() < 0.6:
        near = int(rng.integers(0, max(1, room // 8) + 1))
        return near if rng.random() < 0.5 else room - near
    return int(rng.integers(0, room + 1))


def draw_paper(
    rng: np.random.Generator,
    image: np.ndarray,
    kind: str,
    angle: float,
    layout: Layout,
    scale: float,
) -> Paper:
    """Draw a `kind` paper ("label" or "paper") turned by `angle` somewhere on `image`.

    Args:
        rng: The generator all randomness comes from.
        image: uint8 grey (H, W) or RGB (H, W, 3); not changed. It must hold the turned
            paper (`turned_size`).
        kind: "label" or "paper".
        angle: Degrees counter-clockwise.
        layout: The paper in its own frame.
        scale: Image size / 512: the shadow scales with it.

    Returns:
        The image with the paper (grey paper on most grey images, else RGB) and where it is.
    """
    rows, cols = image.shape[:2]
    out_w, out_h = turned_size(layout.width, layout.height, angle, scale)
    matrix = cv2.getRotationMatrix2D((layout.width / 2.0, layout.height / 2.0), angle, 1.0)
    matrix[0, 2] += (out_w - layout.width) / 2.0
    matrix[1, 2] += (out_h - layout.height) / 2.0
    outline, corners = _outline(rng, layout, kind)

    def turn(points: np.ndarray) -> np.ndarray:
        return points @ matrix[:, :2].T + matrix[:, 2]

    alpha = np.zeros((out_h, out_w), np.uint8)
    fixed = np.rint(turn(outline) * 16).astype(np.int32)  # 4 fractional bits: smooth edges
    cv2.fillPoly(alpha, [fixed], 255, lineType=cv2.LINE_AA, shift=4)
    face = cv2.warpAffine(
        _texture(rng, layout, kind),
        matrix,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    depth = cv2.distanceTransform((alpha > 127).astype(np.uint8), cv2.DIST_L2, 3)
    rim = float(rng.uniform(6.0, 18.0) if kind == "label" else rng.uniform(3.0, 9.0))
    face -= (rim * np.exp(-depth / 1.2))[..., None]  # a cut edge catches the light darker
    step = max(1.0, 1.5 * scale)
    offset = np.float32(
        [[1, 0, rng.uniform(0.5, 2.0) * step], [0, 1, rng.uniform(0.5, 2.0) * step]]
    )
    if rng.random() < 0.3:  # light from another side
        offset[int(rng.integers(2)), 2] *= -1
    cover = alpha.astype(np.float32) / 255.0
    shadow = cv2.warpAffine(cover, offset, (out_w, out_h))
    shadow = cv2.GaussianBlur(shadow, (0, 0), float(rng.uniform(0.8, 2.0)) * step)
    shadow *= float(rng.uniform(0.15, 0.4))
    opacity = 1.0 if kind == "label" else float(rng.uniform(0.9, 1.0))  # thin paper shows through
    grey = image.ndim == 2 and rng.random() < 0.6
    x, y = _pos(rng, cols - out_w), _pos(rng, rows - out_h)

    pixels = image.astype(np.float32)
    if grey:
        face = face @ np.array([0.299, 0.587, 0.114], np.float32)
    elif pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    region = pixels[y : y + out_h, x : x + out_w]
    a = cover * opacity
    if region.ndim == 3:
        a, shadow = a[..., None], shadow[..., None]
    region[...] = region * (1.0 - shadow)
    region[...] = region * (1.0 - a) + face * a
    covered = np.zeros((rows, cols), bool)
    covered[y : y + out_h, x : x + out_w] = alpha == 255

    ys, xs = np.nonzero(alpha)
    record = {
        "kind": kind,
        "box": [x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1],
        "corners": [[round(float(u) + x, 1), round(float(v) + y, 1)] for u, v in turn(corners)],
        "angle": angle,
    }
    image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return Paper(image, record, covered, matrix, (out_w, out_h), (x, y))
