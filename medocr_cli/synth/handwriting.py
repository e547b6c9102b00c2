"""Handwritten text: one line of a note or label, drawn glyph by glyph with a human hand's wobble.

Handwriting font files are drawn one glyph at a time, each with its own jitter (position, size,
a small rotation), under a common slant (shear), along a wobbling baseline, with a random pen
width. Hershey stroke fonts are drawn as anti-aliased polylines with the same jitter. The whole
line then goes through a smooth random (elastic) displacement field and a small rotation, on a
canvas grown so that nothing is clipped.

Optional effects make a line look less like a font and more like a pen, each drawn with its
own probability (`EFFECT_ODDS`): words of one line at slightly different sizes, a baseline that
bows across the line, a pen width that swells and thins along the strokes, and ink density
(pressure) that varies along the words. They are drawn from a child of the caller's generator
(`Generator.spawn`), which leaves the caller's stream where it was: the glyph jitter and
everything the caller draws afterwards are the same with or without them.

Each word is drawn into its own buffer and every buffer goes through the same distortion, so the
word boxes (and the line box, their union) are the tight boxes of the final pixels: the labels
stay exact however much the line is bent, swollen or faded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from medocr_cli.synth.fonts import (
    FontSpec,
    caps_only,
    check_drawable,
    glyph,
    hershey_name,
    load_hershey,
)
from medocr_cli.synth.text_layer import (
    LineLabel,
    TextLayer,
    WordLabel,
    drop_faint,
    empty_layer,
    fade_ink,
    smooth_field,
    swell_ink,
    tight_box,
    union_box,
)

#: Pens people write on films, printouts and screenshots with: (dark pens, light pens).
DARK_PENS: tuple[tuple[int, int, int], ...] = (
    (20, 40, 160),  # blue ballpoint
    (10, 20, 90),  # dark blue
    (15, 15, 20),  # black
    (130, 10, 20),  # dark red
    (20, 100, 40),  # green
)
LIGHT_PENS: tuple[tuple[int, int, int], ...] = (
    (250, 250, 250),  # white marker
    (255, 240, 60),  # yellow
    (140, 200, 255),  # light blue
    (150, 240, 150),  # light green
    (255, 150, 170),  # pink
)

#: Hershey cap height relative to the font size: about that of TrueType faces for the print-like
#: fonts; taller for the scripts, whose lower case is small next to their looped capitals.
_HERSHEY_CAP = {"cursive": 0.9, "scripts": 0.9, "scriptc": 0.9}
_HERSHEY_CAP_DEFAULT = 0.68


#: Probability of each optional effect per line: words at different sizes, a bowed baseline,
#: a pen width varying along the strokes, ink density varying along the words.
EFFECT_ODDS: dict[str, float] = {"word_sizes": 0.5, "arc": 0.35, "swell": 0.4, "pressure": 0.5}


@dataclass(frozen=True)
class _Effects:
    """The optional effects of one line (each off when its value is neutral)."""

    word_scales: tuple[float, ...]  # size factor of each word (all 1.0: off)
    arc: float  # px the baseline bows by at the middle of the line (0: off)
    span: float  # px of line the bow spans
    swell: int  # px the pen swells by where the swell field is high (0: off)
    pressure: float  # lowest ink density along the words (1.0: off)
    rng: np.random.Generator  # draws the swell and pressure fields

    def lift(self, x: float) -> float:
        """Baseline offset (px, down positive) `x` px into the line."""
        return self.arc * math.sin(math.pi * min(max(x / self.span, 0.0), 1.0))


def _draw_effects(rng: np.random.Generator, px: int, words: int, chars: int) -> _Effects:
    """Draw a line's optional effects from its own generator (see `EFFECT_ODDS`)."""

    def on(name: str) -> bool:
        return bool(rng.random() < EFFECT_ODDS[name])

    scales = (1.0,) * words
    if on("word_sizes"):
        sigma = float(rng.uniform(0.03, 0.08))
        scales = tuple(float(v) for v in np.clip(rng.normal(1.0, sigma, words), 0.85, 1.15))
    arc = px * float(np.clip(rng.normal(0.0, 0.15), -0.3, 0.3)) if on("arc") else 0.0
    swell = 1 if on("swell") and px >= 16 else 0  # small text stays as thin as a nib draws it
    pressure = float(rng.uniform(0.6, 0.85)) if on("pressure") else 1.0
    return _Effects(scales, arc, max(float(px), 0.55 * px * chars), swell, pressure, rng)


def _child_rng(rng: np.random.Generator) -> np.random.Generator:
    """A child generator whose draws leave `rng`'s own stream untouched (`Generator.spawn`)."""
    try:
        return rng.spawn(1)[0]
    except (TypeError, ValueError, AttributeError):  # a generator without a seed sequence
        return np.random.default_rng(int(rng.integers(2**63)))


@dataclass(frozen=True)
class _Hand:
    """The random hand of one line."""

    slant: float  # shear: x += slant * height above the baseline
    size_jitter: float  # relative sigma of each glyph's size
    angle_jitter: float  # sigma of each glyph's rotation, radians
    pos_jitter: float  # sigma of each glyph's offset, in px
    wobble_amp: float  # baseline wobble amplitude, px
    wobble_period: float  # px
    wobble_phase: float
    drift: float  # baseline slope, px per px
    tracking: float  # extra space after each glyph, px
    space: float  # word space relative to the font's
    pen: int  # TrueType: dilation radius (0: none); Hershey: line thickness
    shake: float  # Hershey: sigma of the noise along each stroke, px


def _pen_colour(rng: np.random.Generator, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """The given colour, or (60%) a pen of the same lightness, slightly varied."""
    if rng.random() >= 0.6:
        return colour
    light = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] >= 128
    pens = LIGHT_PENS if light else DARK_PENS
    base = np.asarray(pens[int(rng.integers(len(pens)))], dtype=np.int64)
    varied = np.clip(base + rng.integers(-12, 13, 3), 0, 255)
    return int(varied[0]), int(varied[1]), int(varied[2])


def _draw_hand(rng: np.random.Generator, px: int, stroke_font: bool) -> _Hand:
    if stroke_font:
        pen = max(1, round(px * float(rng.uniform(0.03, 0.075))))
        pen = min(pen, 3 if px < 48 else 4)
    else:
        roll = float(rng.random())
        pen = 0 if roll < 0.7 or px < 16 else (1 if roll < 0.95 or px < 36 else 2)
    return _Hand(
        slant=float(np.clip(rng.normal(0.12, 0.14), -0.2, 0.45)),
        size_jitter=float(rng.uniform(0.02, 0.08)),
        angle_jitter=math.radians(float(rng.uniform(1.0, 5.0))),
        pos_jitter=px * float(rng.uniform(0.01, 0.04)),
        wobble_amp=px * float(rng.uniform(0.0, 0.06)),
        wobble_period=px * float(rng.uniform(3.0, 9.0)),
        wobble_phase=float(rng.uniform(0.0, 2 * math.pi)),
        drift=float(rng.normal(0.0, 0.015)),
        tracking=px * float(rng.normal(0.02, 0.03)),
        space=float(rng.uniform(0.9, 1.5)),
        pen=pen,
        shake=px * float(rng.uniform(0.005, 0.02)) if stroke_font else 0.0,
    )


def _glyph_matrix(
    rng: np.random.Generator, hand: _Hand, pen_x: float, baseline: float, word_scale: float = 1.0
) -> tuple[np.ndarray, float]:
    """Draw one glyph's jitter: (2x3 affine from glyph to canvas coordinates, size factor).

    Glyph coordinates have their origin at the pen point on the baseline; `word_scale` is the
    size of the glyph's word relative to the line's.
    """
    scale = word_scale * (1.0 + float(rng.normal(0.0, hand.size_jitter)))
    theta = float(rng.normal(0.0, hand.angle_jitter))
    dx, dy = (float(v) for v in rng.normal(0.0, hand.pos_jitter, 2))
    wobble = hand.wobble_amp * math.sin(
        2 * math.pi * pen_x / hand.wobble_period + hand.wobble_phase
    )
    c, s = math.cos(theta) * scale, math.sin(theta) * scale
    # shear (x -= slant * y, y grows downwards so ink above the baseline leans right) o rotation
    a = np.array([[c - hand.slant * s, -s - hand.slant * c], [s, c]], dtype=np.float64)
    t = np.array([pen_x + dx, baseline + hand.drift * pen_x + wobble + dy])
    return np.hstack([a, t[:, None]]), scale


def _stamp(canvas: np.ndarray, glyph: np.ndarray, m: np.ndarray) -> None:
    """Warp a glyph bitmap with the affine `m` (glyph pixels -> canvas) and max it in."""
    h, w = glyph.shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64) @ m.T
    x0 = max(math.floor(corners[:, 0].min()) - 1, 0)
    y0 = max(math.floor(corners[:, 1].min()) - 1, 0)
    x1 = min(math.ceil(corners[:, 0].max()) + 2, canvas.shape[1])
    y1 = min(math.ceil(corners[:, 1].max()) + 2, canvas.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    local = m.copy()
    local[:, 2] -= (x0, y0)
    patch = cv2.warpAffine(glyph, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)
    view = canvas[y0:y1, x0:x1]
    np.maximum(view, patch, out=view)


def _layout_words(text: str) -> list[str]:
    return text.split(" ")


def _draw_ttf(
    rng: np.random.Generator,
    words: list[str],
    font: FontSpec,
    px: int,
    hand: _Hand,
    effects: _Effects,
    shape: tuple[int, int],
    origin: tuple[float, float],
) -> list[np.ndarray]:
    assert font.path is not None
    space = glyph(font.path, px, " ").advance * hand.space
    pen_x, baseline = origin
    buffers = []
    for word, word_scale in zip(words, effects.word_scales, strict=True):
        canvas = np.zeros(shape, np.uint8)
        for ch in word:
            lifted = baseline + effects.lift(pen_x - origin[0])
            m, scale = _glyph_matrix(rng, hand, pen_x, lifted, word_scale)
            size = max(4, round(px * scale))
            g = glyph(font.path, size, ch)
            # glyph pixel (col, row) sits at (col + left, row + top) around the pen, at `size`:
            # rescale back to the unjittered size, since `m` already carries the jitter scale
            k = px / size
            offset = np.array([[k, 0, g.left * k], [0, k, g.top * k], [0, 0, 1]], dtype=np.float64)
            if g.mask.size:
                _stamp(canvas, g.mask, m @ offset)
            pen_x += glyph(font.path, px, ch).advance * scale + hand.tracking
        if hand.pen:
            kernel = cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (2 * hand.pen + 1, 2 * hand.pen + 1)
            )
            canvas = cv2.dilate(canvas, kernel)
        buffers.append(canvas)
        pen_x += space
    return buffers


def _draw_hershey(
    rng: np.random.Generator,
    words: list[str],
    font: FontSpec,
    px: int,
    hand: _Hand,
    effects: _Effects,
    shape: tuple[int, int],
    origin: tuple[float, float],
) -> list[np.ndarray]:
    name = hershey_name(font)
    hf = load_hershey(name)
    unit = _HERSHEY_CAP.get(name, _HERSHEY_CAP_DEFAULT) * px / (hf.base_line - hf.cap_line)
    space_glyph = hf.glyphs.get(" ")
    # a Hershey space is as wide as an "n"; hands leave less
    space = 0.7 * (space_glyph.width if space_glyph else 16.0) * unit * hand.space
    pen_x, baseline = origin
    buffers = []
    for word, word_scale in zip(words, effects.word_scales, strict=True):
        canvas = np.zeros(shape, np.uint8)
        for ch in word:
            glyph = hf.glyphs.get(ch)
            if glyph is None:
                continue
            lifted = baseline + effects.lift(pen_x - origin[0])
            m, scale = _glyph_matrix(rng, hand, pen_x, lifted, word_scale)
            for stroke in glyph.strokes:
                if len(stroke) < 2:
                    continue
                # a hand never follows the ideal path: smooth noise along each stroke
                shake = rng.normal(0.0, hand.shake / unit, stroke.shape)
                if len(stroke) > 2:
                    shake[1:-1] = (shake[:-2] + shake[1:-1] + shake[2:]) / 3.0
                u = (stroke[:, 0] + shake[:, 0] - glyph.left) * unit
                v = (stroke[:, 1] + shake[:, 1] - hf.base_line) * unit
                x = m[0, 0] * u + m[0, 1] * v + m[0, 2]
                y = m[1, 0] * u + m[1, 1] * v + m[1, 2]
                pts = np.rint(np.stack([x, y], axis=1) * 8).astype(np.int32)
                cv2.polylines(canvas, [pts], False, 255, hand.pen, cv2.LINE_AA, shift=3)
            pen_x += glyph.width * unit * scale + hand.tracking
        buffers.append(canvas)
        pen_x += space
    return buffers


def _elastic_rotation_maps(
    rng: np.random.Generator, src_shape: tuple[int, int], px: int
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Remap tables for a small rotation plus a smooth random displacement field.

    Returns (map_x, map_y, output shape): output pixel (x, y) samples the source at
    (map_x[y, x], map_y[y, x]). The output is large enough to hold the rotated source plus the
    largest displacement, so nothing is clipped.
    """
    h, w = src_shape
    angle = math.radians(float(np.clip(rng.normal(0.0, 3.5), -8.0, 8.0)))
    amp = px * float(rng.uniform(0.015, 0.05))
    c, s = math.cos(angle), math.sin(angle)
    margin = math.ceil(3 * amp) + 2
    out_w = math.ceil(abs(w * c) + abs(h * s)) + 2 * margin
    out_h = math.ceil(abs(w * s) + abs(h * c)) + 2 * margin
    # displacement: a coarse Gaussian grid, one node about every 1.5 font sizes, upsampled
    gw = max(2, round(out_w / (1.5 * px)) + 1)
    gh = max(2, round(out_h / (1.5 * px)) + 1)
    # from a child generator: how many values the grid takes (the line's size, which the
    # effects change) must not move the caller's stream
    grid = _child_rng(rng).normal(0.0, amp, (2, gh, gw)).astype(np.float32)
    field_x = cv2.resize(grid[0], (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    field_y = cv2.resize(grid[1], (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    xc, yc = xs - out_w / 2.0, ys - out_h / 2.0
    map_x = (c * xc + s * yc + w / 2.0 + field_x).astype(np.float32)
    map_y = (-s * xc + c * yc + h / 2.0 + field_y).astype(np.float32)
    return map_x, map_y, (out_h, out_w)


def render_handwritten(
    rng: np.random.Generator,
    text: str,
    font: FontSpec,
    px: int,
    colour: tuple[int, int, int],
) -> TextLayer:
    """Render one handwritten line (a note, a label, a name) into a text layer.

    Font files are drawn glyph by glyph and Hershey fonts as strokes, with per-glyph jitter,
    slant, baseline wobble and pen width drawn from `rng`, then bent by an elastic field and
    rotated by up to 8 degrees. The optional effects (`EFFECT_ODDS`: word sizes, a bowed
    baseline, a varying pen width, varying ink density) come from children of `rng`, so the
    draws `rng` itself makes, here and after, do not depend on them. The ink is the given
    colour or (60%) a pen of the same lightness (blue, black, dark red, green for dark colours;
    white, yellow, light blue... for light ones), so the caller's choice of contrast holds.

    Args:
        rng: The generator all randomness comes from (same state -> same layer).
        text: The line; runs of whitespace become single spaces. Caps-only handwriting faces
            draw it upper-cased, and the label says so.
        font: A handwritten FontSpec from `font_pools`.
        px: Font size in pixels (cap height about 0.7 px).
        colour: RGB the caller wants (its lightness is kept).

    Returns:
        The layer, cropped tight around its ink, with one LineLabel (or none for blank text).

    Raises:
        ValueError: A non-handwritten font, a size below 6 px, or a character the face cannot
            draw (`NOTE_CHARSET` is always drawable; "^ ( ) # +" are not in every face).
    """
    if font.kind != "handwritten":
        raise ValueError(f"{font.name} is not a handwriting font")
    if px < 6:
        raise ValueError(f"font size {px} px is too small to draw")
    px = int(px)
    text = " ".join(text.split())
    if caps_only(font):
        text = text.upper()
    if not text:
        return empty_layer()
    check_drawable(font, text)
    stroke_font = font.path is None
    ink = _pen_colour(rng, (int(colour[0]), int(colour[1]), int(colour[2])))
    hand = _draw_hand(rng, px, stroke_font)
    words = _layout_words(text)
    effects = _draw_effects(_child_rng(rng), px, len(words), len(text))

    # generous canvas: glyphs of handwriting faces overhang far beyond their advance
    n = len(text)
    margin = int(2.0 * px) + 4
    grow = max(effects.word_scales)
    width = int(n * px * grow * (1.0 + abs(hand.slant)) + abs(hand.tracking) * n) + 2 * margin
    height = int(px * (2.5 + abs(hand.drift) * n)) + 2 * margin
    origin = (
        float(margin),
        margin + 1.2 * px + (abs(hand.drift) * n * px if hand.drift < 0 else 0),
    )
    draw = _draw_hershey if stroke_font else _draw_ttf
    buffers = draw(rng, words, font, px, hand, effects, (height, width), origin)
    if effects.swell and hand.pen < 2:  # a pen width swelling and thinning along the strokes
        field = smooth_field(effects.rng, (height, width), 1.5 * px)
        # mostly all or nothing: a soft blend would look like a glow, not a wider nib
        buffers = swell_ink(buffers, effects.swell, np.clip((field - 0.5) * 8.0, 0.0, 1.0))

    boxes = [tight_box(b) for b in buffers]
    if any(b is None for b in boxes):
        raise ValueError(f"{font.name} drew no ink for a word of {text!r}")
    content = union_box(b for b in boxes if b is not None)
    assert content is not None
    pad = 2
    cx0, cy0 = max(content[0] - pad, 0), max(content[1] - pad, 0)
    cx1, cy1 = min(content[2] + pad, width), min(content[3] + pad, height)
    crops = [b[cy0:cy1, cx0:cx1] for b in buffers]

    map_x, map_y, _ = _elastic_rotation_maps(rng, (cy1 - cy0, cx1 - cx0), px)
    warped = [  # without the warp's faint bilinear fringe, which no eye sees as ink
        drop_faint(cv2.remap(c, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT))
        for c in crops
    ]
    if any(not w.any() for w in warped):  # a word lost to the warp (never seen): keep it straight
        warped = crops
    strength = float(rng.uniform(0.8, 1.0))

    word_boxes = [tight_box(w) for w in warped]
    line_box = union_box(b for b in word_boxes if b is not None)
    assert line_box is not None
    lx0, ly0, lx1, ly1 = line_box
    alpha = np.zeros((ly1 - ly0, lx1 - lx0), np.uint8)
    for w in warped:
        np.maximum(alpha, w[ly0:ly1, lx0:lx1], out=alpha)
    if effects.pressure < 1.0:  # ink density varying along the words, as pen pressure does,
        # in place of the even fade and about as strong on average, so faint styles stay legible
        field = smooth_field(effects.rng, alpha.shape, float(px))
        alpha = fade_ink(alpha, effects.pressure + (1.0 - effects.pressure) * field)
    else:
        alpha = fade_ink(alpha, strength)
    rgba = np.empty((*alpha.shape, 4), np.uint8)
    rgba[..., :3] = ink
    rgba[..., 3] = alpha
    labels = [
        WordLabel(word, (b[0] - lx0, b[1] - ly0, b[2] - lx0, b[3] - ly0))
        for word, b in zip(words, word_boxes, strict=True)
        if b is not None
    ]
    line = LineLabel(
        text=text,
        kind="handwritten",
        box=(0, 0, lx1 - lx0, ly1 - ly0),
        words=labels,
        font=font.name,
    )
    return TextLayer(rgba=rgba, lines=[line])
