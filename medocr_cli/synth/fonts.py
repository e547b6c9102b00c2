"""Font pools for the synthetic text: Debian printed and handwriting fonts plus Hershey strokes.

The generator draws printed overlays with the Debian font packages the Makefile installs and
handwriting with the Debian handwriting fonts plus the Hershey stroke fonts of the `hershey-fonts`
package. Fonts are grouped into families (a design with its weights, slants and widths, and
metric clones of one another such as Arimo and Liberation Sans), and the test split draws only on
families that the train split never sees, so every held-out metric measures generalisation to
unseen lettering, as DESIGN.md asks.

The catalogue below is the source of truth, not the folder listing: the train/test split is
computed from it alone, so a machine with extra fonts installed gets exactly the same split, and a
font the catalogue does not name is never used. Each face is checked once per process for the
characters the content generators use (a face that draws a ".notdef" box or nothing for one of
them is dropped), and the fonts reserved for independent evaluation (`fonts-sjfonts`,
`fonts-kristi`, `fonts-rufscript`, `fonts-ecolier-court`) are refused by path and by name even
though the catalogue never names them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFont

from medocr_cli.errors import ToolMissingError
from medocr_cli.synth.content import NOTE_CHARSET, PRINTED_CHARSET

#: Folders searched (recursively) for font files.
FONT_DIRS: tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts")

#: Name fragments of the fonts reserved for independent evaluation: never used, whatever the path.
RESERVED_MARKERS: tuple[str, ...] = ("sjfonts", "kristi", "rufscript", "ecolier")

#: Every character the content generators use; each face is checked against all of them once.
_ALL_CHARS = "".join(sorted(set(PRINTED_CHARSET) | set(NOTE_CHARSET)))

#: Splits `font_pools` knows; "val" draws on the train fonts.
SPLITS: tuple[str, ...] = ("train", "val", "test")

_FONT_SUFFIXES = (".ttf", ".otf", ".otb")

#: Faces left out: hairline and light weights (unlike any scanner overlay, and unreadable when
#: small), the extra weights of big families (they would dominate a uniform draw), oblique
#: bitmaps and oddities.
_EXCLUDED_FACE = re.compile(
    r"Thin|Hairline|Light|Medium|Semi[Bb]old|ExtraBold|Black|Heavy|Smallcaps|MathTeX"
    r"|^terminus-.*oblique"  # slanted bitmaps: ragged, and no overlay uses them
)

#: (file-stem pattern, family, style) for printed faces; the first matching pattern wins.
_PRINTED_CATALOGUE: tuple[tuple[str, str, str], ...] = (
    (r"^DejaVuSansMono", "DejaVuSansMono", "mono"),
    (r"^Hack-", "DejaVuSansMono", "mono"),  # Hack is derived from DejaVu Sans Mono
    (r"^DejaVuSans", "DejaVuSans", "sans"),
    (r"^DejaVuSerif", "DejaVuSerif", "serif"),
    (r"^(LiberationMono|Cousine)-", "LiberationMono", "mono"),  # metric/design clones
    (r"^(LiberationSans|LiberationSansNarrow|Arimo)-", "LiberationSans", "sans"),
    (r"^(LiberationSerif|Tinos)-", "LiberationSerif", "serif"),
    (r"^FreeMono", "FreeMono", "mono"),
    (r"^FreeSans", "FreeSans", "sans"),
    (r"^FreeSerif", "FreeSerif", "serif"),
    (r"^terminus-", "Terminus", "bitmap"),
    (r"^3270", "IBM3270", "bitmap"),
    (r"^Inconsolata", "Inconsolata", "mono"),
    (r"^OpenSans-", "OpenSans", "sans"),
    (r"^Roboto(Condensed)?-", "Roboto", "sans"),
    (r"^(Lato|Carlito)-", "Lato", "sans"),  # Carlito is built on Lato
    (r"^Caladea-", "Caladea", "serif"),
    (r"^Go-Mono", "Go", "mono"),
    (r"^Go-", "Go", "sans"),
    (r"^Noto(Sans)?Mono-", "NotoMono", "mono"),
    (r"^Cantarell-", "Cantarell", "sans"),
    (r"^JetBrainsMono-", "JetBrainsMono", "mono"),
)

#: (file-stem pattern, family) for handwriting faces, all of style "script".
_HANDWRITING_CATALOGUE: tuple[tuple[str, str], ...] = (
    (r"^BecauseWeBuild-", "BecauseWeBuild"),
    (r"^BecauseWeConnect-", "BecauseWeConnect"),
    (r"^BecauseWeCreate-", "BecauseWeCreate"),
    (r"^BecauseWeLearn-", "BecauseWeLearn"),
    (r"^BecauseWeMentor-", "BecauseWeMentor"),
    (r"^BecauseWeOrganize-", "BecauseWeOrganize"),
    (r"^Breip$", "Breip"),  # breipfont.ttf is the same design again
    (r"^ComicNeue-", "ComicNeue"),
    (r"^DancingScript-", "DancingScript"),
    (r"^dkg", "DkgHandwriting"),
    (r"^Humor-Sans$", "HumorSans"),
    (r"^KaushanScript-", "KaushanScript"),
    (r"^TomsonTalks$", "TomsonTalks"),
    # fonts-femkeklaver is left out: its capitals and digits are hollow outlines that fill in to
    # unreadable blobs at note sizes.
)

#: Handwriting families added after the held-out split was fixed: (file-stem pattern, family).
#: They only ever go to train (and val), and take no part in `_test_families`, so the test
#: families, and with them every held-out figure, stay what they were. All draw lower case and
#: carry the Latin letters beside their own script (the Thai, Korean and Japanese ones).
_HANDWRITING_TRAIN_ONLY: tuple[tuple[str, str], ...] = (
    (r"^KleeOne-", "KleeOne"),  # pencil
    (r"^LeckerliOne-", "LeckerliOne"),  # fat brush script
    (r"^NanumBrush$", "NanumBrush"),
    (r"^NanumPen$", "NanumPen"),  # felt pen, narrow
    (r"^Purisa", "Purisa"),  # felt pen, four styles
    (r"^kiloji", "Kiloji"),  # longhand, four styles
    (r"^setofont", "Seto"),
)

#: Every handwriting face pattern medocr draws with, split-deciding and train-only alike.
_ALL_HANDWRITING = _HANDWRITING_CATALOGUE + _HANDWRITING_TRAIN_ONLY

#: Handwriting families whose lower-case letters are capitals: their text is drawn upper-cased
#: so the label stays what the image shows.
_CAPS_ONLY_FAMILIES = frozenset(
    {
        "BecauseWeBuild",
        "BecauseWeConnect",
        "BecauseWeCreate",
        "BecauseWeLearn",
        "BecauseWeMentor",
        "BecauseWeOrganize",
        "HumorSans",
        "TomsonTalks",
    }
)

#: Hershey stroke fonts that pass for handwriting, with their family (simplex/complex or
#: light/medium variants of one design share a family).
HERSHEY_FONTS: dict[str, str] = {
    "cursive": "cursive",
    "futural": "futura",
    "futuram": "futura",
    "rowmans": "rowman",
    "rowmand": "rowman",
    "scripts": "script",
    "scriptc": "script",
}

#: Families whose split bucket is not the style of their faces (Go Mono goes with Go).
_SPLIT_BUCKET: dict[str, str] = {"Go": "sans"}

#: Which family in each style's sorted list goes to test: index % 4 == offset. The printed
#: offset keeps the commonest overlay designs (DejaVu, Liberation) in train.
_TEST_OFFSET: dict[str, int] = {"printed": 3, "handwritten": 1}


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


def is_reserved(text: str) -> bool:
    """Tell whether a path or font name belongs to a font reserved for independent evaluation."""
    low = text.lower()
    return any(marker in low for marker in RESERVED_MARKERS)


@functools.lru_cache(maxsize=2048)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """Load a font file at a pixel size, cached, with Pillow's basic (fast) layout engine.

    The basic engine is markedly faster per call than Raqm, and the text drawn here (Latin
    overlays and notes) needs no complex shaping.

    Raises:
        ValueError: The file is reserved for evaluation.
        OSError: FreeType cannot open the file at that size (a bitmap font without that strike).
    """
    if is_reserved(path):
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
            ch for ch in _ALL_CHARS if ch in glyphs and any(len(s) > 1 for s in glyphs[ch].strokes)
        }
    else:
        drawn = set(_ALL_CHARS) - set(missing_chars(spec.path, _ALL_CHARS))
    return frozenset(drawn | {" "})


def check_drawable(spec: FontSpec, text: str) -> None:
    """Raise ValueError if `text` holds characters `spec` cannot draw (see `drawable_chars`)."""
    bad = set(text) - drawable_chars(spec)
    if bad:
        raise ValueError(f"{spec.name} cannot draw {''.join(sorted(bad))!r} (in {text!r})")


def hershey_name(spec: FontSpec) -> str:
    """Return the Hershey font name of a stroke FontSpec ("hershey:scripts" -> "scripts")."""
    return spec.name.split(":", 1)[1]


@dataclass(frozen=True)
class _Entry:
    spec: FontSpec
    family: str
    bucket: str


def _font_files() -> list[Path]:
    files: dict[str, Path] = {}
    for folder in FONT_DIRS:
        root = Path(folder)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in _FONT_SUFFIXES and path.is_file():
                files.setdefault(path.stem, path)  # first folder wins for a repeated stem
    return [files[stem] for stem in sorted(files)]


def _classify(path: Path) -> tuple[str, str, str] | None:
    """Return (kind, family, style) for a catalogued, usable face, else None."""
    stem = path.stem
    if is_reserved(str(path)) or _EXCLUDED_FACE.search(stem):
        return None
    for pattern, family, style in _PRINTED_CATALOGUE:
        if re.search(pattern, stem):
            return "printed", family, style
    for pattern, family in _ALL_HANDWRITING:
        if re.search(pattern, stem):
            return "handwritten", family, "script"
    return None


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[_Entry, ...]:
    """Every usable face on this machine plus the Hershey fonts, sorted by name."""
    entries = []
    for path in _font_files():
        found = _classify(path)
        if found is None:
            continue
        kind, family, style = found
        needed = PRINTED_CHARSET if kind == "printed" else NOTE_CHARSET
        try:
            if set(missing_chars(str(path), _ALL_CHARS)) & set(needed):
                continue
        except OSError:
            continue
        if is_reserved(family):
            continue
        spec = FontSpec(name=path.stem, path=str(path), kind=kind, style=style)
        entries.append(_Entry(spec, family, _SPLIT_BUCKET.get(family, style)))
    for name, family in HERSHEY_FONTS.items():
        spec = FontSpec(name=f"hershey:{name}", path=None, kind="handwritten", style="stroke")
        entries.append(_Entry(spec, f"hershey:{family}", "stroke"))
    return tuple(sorted(entries, key=lambda e: e.spec.name))


def _test_families() -> frozenset[str]:
    """The families held out for test, from the catalogue tables alone (not from what is installed).

    Within each (kind, style bucket) the families are sorted by name and every 4th goes to test
    (index % 4 == the kind's offset); a bucket with fewer members than that gives its last family,
    and a one-family bucket stays in train. So each bucket has members on both sides, and the
    split does not change when fonts are added to or missing from a machine.
    """
    buckets: dict[tuple[str, str], set[str]] = {}
    for _, family, style in _PRINTED_CATALOGUE:
        buckets.setdefault(("printed", _SPLIT_BUCKET.get(family, style)), set()).add(family)
    for _, family in _HANDWRITING_CATALOGUE:
        buckets.setdefault(("handwritten", "script"), set()).add(family)
    for family in HERSHEY_FONTS.values():
        buckets.setdefault(("handwritten", "stroke"), set()).add(f"hershey:{family}")
    test: set[str] = set()
    for (kind, _), families in buckets.items():
        ordered = sorted(families)
        if len(ordered) < 2:
            continue
        chosen = [f for i, f in enumerate(ordered) if i % 4 == _TEST_OFFSET[kind]]
        test.update(chosen or ordered[-1:])
    return frozenset(test)


def font_family(spec: FontSpec) -> str:
    """Return the family a face belongs to (the unit the train/test split is made of).

    Raises:
        KeyError: The face is not one of the catalogued fonts available here.
    """
    family = _families().get(spec)
    if family is None:
        raise KeyError(f"{spec.name} is not a catalogued font")
    return family


@functools.lru_cache(maxsize=1)
def _families() -> dict[FontSpec, str]:
    return {entry.spec: entry.family for entry in _catalogue()}


def caps_only(spec: FontSpec) -> bool:
    """Tell whether a handwriting face draws lower-case letters as capitals."""
    if spec.path is None:
        return False
    found = _classify(Path(spec.path))
    return found is not None and found[1] in _CAPS_ONLY_FAMILIES


@functools.lru_cache(maxsize=len(SPLITS))
def font_pools(split: str) -> tuple[list[FontSpec], list[FontSpec]]:
    """Return the (printed, handwritten) faces a split may draw with, sorted by name.

    "train" and "val" share the train families; "test" gets the held-out families, disjoint
    from train by family, with every style represented on both sides (sans, serif, mono and
    bitmap printed faces; handwriting font files and Hershey strokes). Cached per split; callers
    must not mutate the returned lists.

    Args:
        split: "train", "val" or "test".

    Raises:
        ValueError: Unknown split.
        ToolMissingError: A pool is empty because the Debian font packages are not installed.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    held_out = _test_families()
    want_test = split == "test"
    printed: list[FontSpec] = []
    handwritten: list[FontSpec] = []
    for entry in _catalogue():
        if (entry.family in held_out) != want_test:
            continue
        (printed if entry.spec.kind == "printed" else handwritten).append(entry.spec)
    if not printed or not any(s.path for s in handwritten):
        raise ToolMissingError(
            f"no usable printed or handwriting fonts for the {split!r} split",
            hint="install the font packages listed in the Makefile (make system-deps)",
        )
    return printed, handwritten


def choose_font(rng: np.random.Generator, pool: list[FontSpec]) -> FontSpec:
    """Pick a face from a pool, uniformly over families and then over that family's faces.

    A uniform draw over faces would let a family with many faces (four DkgHandwriting weights,
    eight Roboto faces) dominate a split; this keeps every design equally represented.

    Raises:
        ValueError: The pool is empty.
    """
    if not pool:
        raise ValueError("cannot choose a font from an empty pool")
    families: dict[str, list[FontSpec]] = {}
    for spec in pool:
        families.setdefault(_family_of(spec), []).append(spec)
    names = sorted(families)
    faces = families[names[int(rng.integers(len(names)))]]
    return faces[int(rng.integers(len(faces)))]


def _family_of(spec: FontSpec) -> str:
    """Family of a face, falling back to the face name for a font outside the catalogue."""
    try:
        return font_family(spec)
    except KeyError:
        return spec.name
