"""The font catalogue: which installed faces medocr draws with, their families, and the split.

The tables name every usable face by file-stem pattern with its family and style; the
train/test split (`held_out_families`) is computed from these tables alone, never from what is
installed. Nothing here opens a font file.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

#: Folders searched (recursively) for font files.
FONT_DIRS: tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts")

#: Name fragments of the fonts reserved for independent evaluation: never used, whatever the path
#: or source (Debian's fonts-sjfonts, fonts-kristi, fonts-rufscript, fonts-ecolier-court, and
#: the same designs from npm or elsewhere: Kristi, SteveHand and Delphine of sjfonts, Rufscript,
#: Ecolier). Matched case-blind, also with spaces, dashes and underscores removed ("Steve Hand").
RESERVED_MARKERS: tuple[str, ...] = (
    "sjfonts",
    "kristi",
    "rufscript",
    "ecolier",
    "stevehand",
    "delphine",
)

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
#: They only ever go to train (and val), and take no part in `held_out_families`, so the test
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
CAPS_ONLY_FAMILIES = frozenset(
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
SPLIT_BUCKET: dict[str, str] = {"Go": "sans"}

#: Which family in each style's sorted list goes to test: index % 4 == offset. The printed
#: offset keeps the commonest overlay designs (DejaVu, Liberation) in train.
_TEST_OFFSET: dict[str, int] = {"printed": 3, "handwritten": 1}


def is_reserved(text: str) -> bool:
    """Tell whether a path or font name belongs to a font reserved for independent evaluation.

    The text is folded to ASCII first (accents and full-width letters: "Écolier", "ＫＲＩＳＴＩ"),
    then matched as it is (lower-cased) and with every character but letters, digits and "/"
    removed, so "Steve Hand", "steve-hand" and "@fontsource/kristi" are caught too.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    low = folded.lower()
    squeezed = re.sub(r"[^a-z0-9/]", "", low)
    return any(marker in low or marker in squeezed for marker in RESERVED_MARKERS)


def is_reserved_path(path: str | Path) -> bool:
    """Tell whether a font file is reserved, judged by its folder and file name.

    Only the last two parts count (`kristi/Kristi.ttf`, `caveat/caveat-400.ttf`): where the
    fonts live above them (a home folder such as /home/kristine, a cache chosen by the user) says
    nothing about the font, and must not refuse a whole cache.
    """
    return is_reserved("/".join(Path(path).parts[-2:]))


def font_files() -> list[Path]:
    """Font files under `FONT_DIRS`, one per file stem (the first folder wins), by stem."""
    files: dict[str, Path] = {}
    for folder in FONT_DIRS:
        root = Path(folder)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in _FONT_SUFFIXES and path.is_file():
                files.setdefault(path.stem, path)  # first folder wins for a repeated stem
    return [files[stem] for stem in sorted(files)]


def classify_face(path: Path) -> tuple[str, str, str] | None:
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


def held_out_families() -> frozenset[str]:
    """The families held out for test, from the catalogue tables alone (not from what is installed).

    Within each (kind, style bucket) the families are sorted by name and every 4th goes to test
    (index % 4 == the kind's offset); a bucket with fewer members than that gives its last family,
    and a one-family bucket stays in train. So each bucket has members on both sides, and the
    split does not change when fonts are added to or missing from a machine.
    """
    buckets: dict[tuple[str, str], set[str]] = {}
    for _, family, style in _PRINTED_CATALOGUE:
        buckets.setdefault(("printed", SPLIT_BUCKET.get(family, style)), set()).add(family)
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
