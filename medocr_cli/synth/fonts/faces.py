"""Font faces: loading, rasterising and checking printed fonts, and loading Hershey strokes.

Everything here is cached per process: FreeType faces per size, rasterised glyphs, the
characters each face really draws, and the parsed Hershey fonts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFont

from medocr_cli.synth.content.charsets import NOTE_CHARSET, PRINTED_CHARSET
from medocr_cli.synth.fonts.catalogue import HERSHEY_FONTS, is_reserved_path

#: Every character the content generators use; each face is checked against all of them once.
ALL_CHARS = "".join(sorted(set(PRINTED_CHARSET) | set(NOTE_CHARSET)))


@dataclass(frozen=True)
class FontSpec:
    """One font face the renderers can draw with.

    Attributes:
        name: Stable id of the face, e.g. "DejaVuSansMono-Bold" (the file stem) or
            "hershey:scripts"; labels record it so each sample's font is known.
        path: Font file (TrueType, OpenType or OpenType bitmap); None for Hershey stroke fonts.
        kind: "printed" or "handwritten".
        style: "sans", "serif", "mono" or "bitmap" (printed); "script" (handwriting font files)
            or "stroke" (Hershey).
    """

    name: str
    path: str | None
    kind: str
    style: str


@dataclass(frozen=True)
class HersheyGlyph:
    """One Hershey glyph in font units (y grows downwards, baseline at `HersheyFont.base_line`).

    Attributes:
        strokes: Polylines, each an (n, 2) float32 array of points.
        left: Left side bearing position (the glyph's x origin).
        width: Advance width.
    """

    strokes: tuple[np.ndarray, ...]
    left: float
    width: float


@dataclass(frozen=True)
class HersheyFont:
    """A loaded Hershey stroke font: its glyphs by character and its vertical metrics."""

    glyphs: dict[str, HersheyGlyph]
    cap_line: float
    base_line: float
    bottom_line: float


@functools.lru_cache(maxsize=2048)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """Load a font file at a pixel size, cached, with Pillow's basic (fast) layout engine.

    The basic engine is markedly faster per call than Raqm, and the text drawn here (Latin
    overlays and notes) needs no complex shaping.

    Raises:
        ValueError: The file is reserved for evaluation (by its folder or file name).
        OSError: FreeType cannot open the file at that size (a bitmap font without that strike).
    """
    if is_reserved_path(path):
        raise ValueError(f"{path} is reserved for independent evaluation and is never used")
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=64)
def bitmap_strikes(path: str) -> tuple[int, ...]:
    """Return the pixel sizes a font file can be opened at (all of 4-256 for outline fonts).

    OpenType bitmap (.otb) fonts such as Terminus only carry fixed strikes; FreeType refuses any
    other size, so the printed renderer picks the nearest strike (and doubles pixels for large
    text, as scanner overlays do).
    """
    if not path.lower().endswith(".otb"):
        return tuple(range(4, 257))
    sizes = []
    for size in range(6, 73):
        try:
            ImageFont.truetype(path, size)
        except OSError:
            continue
        sizes.append(size)
    return tuple(sizes)


def mask_to_array(core: Any) -> np.ndarray:
    """Turn the ImagingCore returned by `FreeTypeFont.getmask2` into a uint8 (h, w) array."""
    image = Image.Image()._new(core)
    if image.mode != "L":
        image = image.convert("L")
    width, height = image.size
    return np.frombuffer(image.tobytes(), np.uint8).reshape(height, width)


@dataclass(frozen=True)
class Glyph:
    """One rasterised character of a face at a size, positioned against its pen point.

    Attributes:
        mask: uint8 (h, w) coverage (read-only; 0/255 when rasterised in mode "1").
        left: x of the mask's first column relative to the pen position.
        top: y of the mask's first row relative to the baseline (negative above it).
        advance: how far the pen moves after this character, in pixels.
    """

    mask: np.ndarray
    left: int
    top: int
    advance: float


@functools.lru_cache(maxsize=65536)
def glyph(path: str, size: int, ch: str, mode: str = "L") -> Glyph:
    """Rasterise one character, cached.

    FreeType re-runs a face's hinting program every time Pillow draws a string (up to a
    millisecond per word for some faces), so words and handwritten lines are assembled from
    these cached glyphs instead; kerning is not applied (overlay text generators do not kern).

    Args:
        path: Font file.
        size: Pixel size (a strike of a bitmap font).
        ch: One character.
        mode: "L" for anti-aliased coverage, "1" for hinted binary (0/255) glyphs.
    """
    font = load_font(path, size)
    core, (left, top) = font.getmask2(ch, mode=mode, anchor="ls")
    mask = mask_to_array(core)
    if mode == "1":
        mask = np.where(mask > 0, 255, 0).astype(np.uint8)
        mask.flags.writeable = False
    return Glyph(
        mask=mask, left=int(left), top=int(top), advance=float(font.getlength(ch, mode=mode))
    )


def _glyph_bitmap(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes]:
    core, _ = font.getmask2(ch, mode="L")
    return core.size, bytes(mask_to_array(core))


@functools.lru_cache(maxsize=512)
def missing_chars(path: str, charset: str) -> str:
    """Return the characters of `charset` that a font file cannot draw (sorted; "" if none).

    A character is missing when its bitmap equals the font's ".notdef" glyph (the tofu box that
    FreeType draws for an unmapped code point) or, for a non-space character, has no ink at all.
    """
    strikes = bitmap_strikes(path)
    size = 24 if 24 in strikes else strikes[len(strikes) // 2]
    font = load_font(path, size)
    notdef = _glyph_bitmap(font, "\U0010fffd")
    missing = []
    for ch in sorted(set(charset)):
        if ch == " ":
            continue
        shape, data = _glyph_bitmap(font, ch)
        if (shape, data) == notdef or not any(data):
            missing.append(ch)
    return "".join(missing)


@functools.lru_cache(maxsize=16)
def load_hershey(name: str) -> HersheyFont:
    """Load one built-in Hershey font of the `hershey-fonts` package, cached.

    Raises:
        ValueError: `name` is not one of the handwriting-like Hershey fonts used here.
    """
    if name not in HERSHEY_FONTS:
        raise ValueError(f"unknown Hershey font {name!r}; known: {sorted(HERSHEY_FONTS)}")
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font(name)
    glyphs = {}
    for ch, g in font.all_glyphs.items():
        strokes = tuple(np.asarray(s, dtype=np.float32).reshape(-1, 2) for s in g.strokes)
        glyphs[ch] = HersheyGlyph(
            strokes=strokes, left=float(g.left_offset), width=float(g.char_width)
        )
    opts = font.render_options
    return HersheyFont(
        glyphs=glyphs,
        cap_line=float(opts["cap_line"]),
        base_line=float(opts["base_line"]),
        bottom_line=float(opts["bottom_line"]),
    )


@functools.lru_cache(maxsize=512)
def drawable_chars(spec: FontSpec) -> frozenset[str]:
    """Return the characters of the generators' charsets (and space) that a face really draws.

    The renderers refuse text with other characters rather than draw tofu boxes or skip them
    and leave a label that does not match the pixels.
    """
    if spec.path is None:
        glyphs = load_hershey(hershey_name(spec)).glyphs
        drawn = {
            ch for ch in ALL_CHARS if ch in glyphs and any(len(s) > 1 for s in glyphs[ch].strokes)
        }
    else:
        drawn = set(ALL_CHARS) - set(missing_chars(spec.path, ALL_CHARS))
    return frozenset(drawn | {" "})


def check_drawable(spec: FontSpec, text: str) -> None:
    """Raise ValueError if `text` holds characters `spec` cannot draw (see `drawable_chars`)."""
    bad = set(text) - drawable_chars(spec)
    if bad:
        raise ValueError(f"{spec.name} cannot draw {''.join(sorted(bad))!r} (in {text!r})")


def hershey_name(spec: FontSpec) -> str:
    """Return the Hershey font name of a stroke FontSpec ("hershey:scripts" -> "scripts")."""
    return spec.name.split(":", 1)[1]
