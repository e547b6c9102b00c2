"""Printed overlay text: a block of lines drawn the way scanners and workstations burn them in.

One call renders one block (a corner block, a top or bottom band, a single marker) in one face,
size and colour, with a random look drawn from `rng`: anti-aliased or binary (hinted mono)
glyphs, an optional 1-2 px contrasting outline, an optional drop shadow, an optional bold stroke.
OpenType bitmap faces (Terminus) are drawn at their nearest strike and pixel-doubled for large
sizes, as terminal-style overlays are.

Every word is rasterised on its own, so its pixels (fill, outline and shadow) are known exactly;
the word, line and layer boxes are the tight boxes of those pixels (see `text_layer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import ImageFont

from medocr_cli.synth.fonts import FontSpec, bitmap_strikes, check_drawable, glyph, load_font
from medocr_cli.synth.text_layer import (
    Box,
    LineLabel,
    TextLayer,
    WordLabel,
    empty_layer,
    shift_box,
    tight_box,
    union_box,
)

_ALIGNS = ("left", "right", "center")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Look:
    """The random look of one block."""

    antialias: bool
    bold: int  # px the strokes are thickened by (0: none)
    outline: int  # outline radius in px (0: none)
    outline_rgb: tuple[int, int, int]
    shadow: tuple[int, int]  # shadow offset (0, 0: none)
    shadow_rgb: tuple[int, int, int]
    shadow_alpha: float
    spacing: float


@dataclass
class _Word:
    text: str
    x: int  # top-left of the word's arrays in block coordinates
    y: int
    fill: np.ndarray
    outline: np.ndarray | None
    shadow: np.ndarray | None
    box: Box  # tight box of the union, in block coordinates


def _luminance(rgb: tuple[int, int, int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _contrast_grey(rng: np.random.Generator, rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """A dark grey for light text, a light grey for dark text."""
    level = int(rng.integers(0, 60)) if _luminance(rgb) >= 110 else int(rng.integers(200, 256))
    return level, level, level


def _draw_look(
    rng: np.random.Generator, px: int, colour: tuple[int, int, int], is_bitmap: bool
) -> _Look:
    antialias = bool(rng.random() < 0.7) and not is_bitmap
    bold = 0
    if rng.random() < 0.15 and px >= 12:
        bold = 1 if px < 30 else 2
    # Outlines and shadows fill the counters of small glyphs: keep them for text that can bear
    # them, as scanners do (small overlay text is plain).
    effect = float(rng.random()) if px >= 14 else 0.0
    outline = 0
    if 0.65 <= effect < 0.82 or effect >= 0.95:
        outline = 1 if px < 20 else int(rng.integers(1, 3))
    shadow = (0, 0)
    if effect >= 0.82:
        step = 1 if px < 18 else int(rng.integers(1, 3))
        shadow = (step, step) if rng.random() < 0.8 else (step, 0)
    return _Look(
        antialias=antialias,
        bold=bold,
        outline=outline,
        outline_rgb=_contrast_grey(rng, colour),
        shadow=shadow,
        shadow_rgb=_contrast_grey(rng, colour),
        shadow_alpha=float(rng.uniform(0.5, 1.0)),
        spacing=float(rng.uniform(1.1, 1.35)),
    )


def _font_at(font: FontSpec, px: int) -> tuple[ImageFont.FreeTypeFont, int]:
    """Return (font object, integer pixel scale) to draw `font` at about `px` pixels.

    Outline fonts load at `px`, rounded to an even size above 16 px (invisible, and it halves
    the glyphs to cache). Bitmap fonts load at their nearest strike; text well above the largest
    strike is drawn at half (or a third...) size and pixel-multiplied.
    """
    assert font.path is not None
    strikes = bitmap_strikes(font.path)
    if px > 16:
        px = 2 * round(px / 2)
    if px in strikes:
        return load_font(font.path, px), 1
    scale = 1
    if px > strikes[-1] * 1.15:
        scale = int(np.ceil(px / strikes[-1]))
    target = px / scale
    size = min(strikes, key=lambda s: (abs(s - target), s))
    return load_font(font.path, size), scale


def _ellipse(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _advances(path: str, size: int, text: str, mode: str) -> list[float]:
    """Pen x of each character of `text` (and the end as the last item), from cached glyphs."""
    pens = [0.0]
    for ch in text:
        pens.append(pens[-1] + glyph(path, size, ch, mode).advance)
    return pens


def _word_mask(path: str, size: int, text: str, mode: str) -> tuple[np.ndarray, int, int]:
    """Assemble a word from cached glyphs: (mask, left, top) relative to its pen point."""
    parts = []
    pen = 0.0
    for ch in text:
        g = glyph(path, size, ch, mode)
        parts.append((round(pen) + g.left, g.top, g.mask))
        pen += g.advance
    left = min(x for x, _, _ in parts)
    top = min(y for _, y, _ in parts)
    right = max(x + m.shape[1] for x, _, m in parts)
    bottom = max(y + m.shape[0] for _, y, m in parts)
    canvas = np.zeros((max(bottom - top, 1), max(right - left, 1)), np.uint8)
    for x, y, m in parts:
        if m.size:
            _paste_max(canvas, m, x - left, y - top)
    return canvas, left, top


def _render_word(
    text: str,
    pen_x: int,
    baseline: int,
    path: str,
    size: int,
    scale: int,
    look: _Look,
) -> _Word:
    """Rasterise one word with its outline and shadow, positioned at (pen_x, baseline)."""
    mode = "L" if look.antialias else "1"
    glyphs, ox, oy = _word_mask(path, size, text, mode)
    ox, oy = ox * scale, oy * scale  # from here on, final pixels
    if scale > 1:
        glyphs = np.repeat(np.repeat(glyphs, scale, axis=0), scale, axis=1)
    if look.bold:  # faux bold: strokes smeared sideways, as terminals and overlay engines do
        b = look.bold
        kernel = np.ones((1, 1 + b), np.uint8)
        glyphs = cv2.dilate(
            cv2.copyMakeBorder(glyphs, b, b, b, b, cv2.BORDER_CONSTANT, value=0), kernel
        )
        ox, oy = ox - b, oy - b
    sx, sy = look.shadow
    pad = look.outline + max(abs(sx), abs(sy))

    fill = cv2.copyMakeBorder(glyphs, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    outline = cv2.dilate(fill, _ellipse(look.outline)) if look.outline else None
    shadow = None
    union = fill if outline is None else np.maximum(fill, outline)
    if sx or sy:
        shadow = np.zeros_like(union)
        h, w = union.shape
        src = union[max(-sy, 0) : h - max(sy, 0), max(-sx, 0) : w - max(sx, 0)]
        shadow[max(sy, 0) : h + min(sy, 0), max(sx, 0) : w + min(sx, 0)] = src
        dimmed = np.maximum(np.rint(shadow * look.shadow_alpha), 1).astype(np.uint8)
        shadow = np.where(shadow > 0, dimmed, 0).astype(np.uint8)
        union = np.maximum(union, shadow)
    x = pen_x + ox - pad
    y = baseline + oy - pad
    box = tight_box(union)
    if box is None:  # cannot happen for catalogued fonts (every glyph has ink); be explicit
        raise ValueError(f"word {text!r} rendered without any ink")
    return _Word(text, x, y, fill, outline, shadow, shift_box(box, x, y))


def _paste_max(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    h, w = src.shape
    view = dst[y : y + h, x : x + w]
    np.maximum(view, src, out=view)


def _compose(
    fill: np.ndarray,
    outline: np.ndarray | None,
    shadow: np.ndarray | None,
    colour: tuple[int, int, int],
    look: _Look,
) -> np.ndarray:
    """Composite fill over outline over shadow into straight-alpha RGBA."""
    h, w = fill.shape
    rgba = np.empty((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = colour
    if outline is None and shadow is None:
        rgba[..., 3] = fill
        return rgba
    ink = fill > 0
    for layer in (outline, shadow):
        if layer is not None:
            ink |= layer > 0
    idx = np.flatnonzero(ink)
    alpha = fill.ravel()[idx].astype(np.float32) / 255.0
    premult = alpha[:, None] * np.asarray(colour, np.float32)
    for layer, rgb in ((outline, look.outline_rgb), (shadow, look.shadow_rgb)):
        if layer is None:
            continue
        under = layer.ravel()[idx].astype(np.float32) / 255.0 * (1.0 - alpha)
        premult += under[:, None] * np.asarray(rgb, np.float32)
        alpha += under
    flat = rgba.reshape(-1, 4)
    flat[idx, :3] = np.clip(np.rint(premult / alpha[:, None]), 0, 255).astype(np.uint8)
    a8 = np.clip(np.rint(alpha * 255.0), 1, 255).astype(np.uint8)
    flat[:, 3] = 0
    flat[idx, 3] = a8
    return rgba


def render_printed(
    rng: np.random.Generator,
    lines: list[str],
    font: FontSpec,
    px: int,
    colour: tuple[int, int, int],
    *,
    align: str = "left",
) -> TextLayer:
    """Render a block of printed lines (corner block, band or single marker) into a text layer.

    The look of the block is drawn from `rng`: anti-aliased (70%) or binary glyphs, bold
    (thickened) strokes (15%), and none (50%), an outline (25%), a drop shadow (18%) or both
    (7%); outline and shadow are dark grey for light text and light grey for dark text. Lines
    are spaced 1.1-1.35 times the font size. Blank lines keep their space but get no label.

    Args:
        rng: The generator all randomness comes from (same state -> same layer).
        lines: The lines, top to bottom; leading and trailing spaces are dropped.
        font: A printed FontSpec from `font_pools`.
        px: Font size in pixels (about 8-40); bitmap faces use their nearest strike.
        colour: RGB of the glyphs.
        align: "left", "right" or "center": how lines of different widths line up.

    Returns:
        The layer, cropped tight around its ink, with one LineLabel per non-blank line.

    Raises:
        ValueError: Bad align, a non-printed font, a size below 4 px, or a character the face
            cannot draw (anything outside `PRINTED_CHARSET` may be refused).
    """
    if align not in _ALIGNS:
        raise ValueError(f"align must be one of {_ALIGNS}, got {align!r}")
    if font.kind != "printed" or font.path is None:
        raise ValueError(f"{font.name} is not a printed font")
    if px < 4:
        raise ValueError(f"font size {px} px is too small to draw")
    texts = [line.strip() for line in lines]
    for text in texts:
        check_drawable(font, text)
    colour = (int(colour[0]), int(colour[1]), int(colour[2]))
    fnt, scale = _font_at(font, int(px))
    is_bitmap = font.path.lower().endswith(".otb")
    look = _draw_look(rng, int(px), colour, is_bitmap)
    mode = "L" if look.antialias else "1"
    path, size = font.path, fnt.size
    pens = [_advances(path, size, t, mode) for t in texts]
    widths = [p[-1] * scale for p in pens]
    block_width = max(widths, default=0.0)
    pitch = look.spacing * fnt.size * scale
    ascent = fnt.getmetrics()[0] * scale

    placed: list[tuple[str, list[_Word]]] = []
    for i, (text, width, pen) in enumerate(zip(texts, widths, pens, strict=True)):
        if not text:
            continue
        offset = {"left": 0.0, "right": block_width - width, "center": (block_width - width) / 2}
        line_x = offset[align]
        baseline = round(ascent + i * pitch)
        words = []
        for match in _WORD.finditer(text):
            pen_x = round(line_x + pen[match.start()] * scale)
            words.append(_render_word(match.group(), pen_x, baseline, path, size, scale, look))
        placed.append((text, words))
    if not placed:
        return empty_layer()

    all_words = [w for _, words in placed for w in words]
    x0 = min(w.x for w in all_words)
    y0 = min(w.y for w in all_words)
    x1 = max(w.x + w.fill.shape[1] for w in all_words)
    y1 = max(w.y + w.fill.shape[0] for w in all_words)
    shape = (y1 - y0, x1 - x0)
    fill = np.zeros(shape, np.uint8)
    outline = np.zeros(shape, np.uint8) if look.outline else None
    shadow = np.zeros(shape, np.uint8) if any(look.shadow) else None
    for word in all_words:
        _paste_max(fill, word.fill, word.x - x0, word.y - y0)
        if outline is not None and word.outline is not None:
            _paste_max(outline, word.outline, word.x - x0, word.y - y0)
        if shadow is not None and word.shadow is not None:
            _paste_max(shadow, word.shadow, word.x - x0, word.y - y0)

    line_boxes = []
    for _, words in placed:
        line_box = union_box(w.box for w in words)
        assert line_box is not None
        line_boxes.append(line_box)
    crop = union_box(line_boxes)
    assert crop is not None
    cx0, cy0, cx1, cy1 = shift_box(crop, -x0, -y0)
    rgba = _compose(
        fill[cy0:cy1, cx0:cx1],
        None if outline is None else outline[cy0:cy1, cx0:cx1],
        None if shadow is None else shadow[cy0:cy1, cx0:cx1],
        colour,
        look,
    )
    dx, dy = -crop[0], -crop[1]
    labels = [
        LineLabel(
            text=text,
            kind="printed",
            box=shift_box(line_box, dx, dy),
            words=[WordLabel(w.text, shift_box(w.box, dx, dy)) for w in words],
            font=font.name,
        )
        for (text, words), line_box in zip(placed, line_boxes, strict=True)
    ]
    return TextLayer(rgba=rgba, lines=labels)
