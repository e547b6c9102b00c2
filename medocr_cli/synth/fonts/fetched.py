"""The fetched handwriting families: npm's `@fontsource/*` packages (Google Fonts, SIL OFL).

Every usable Debian handwriting font is already in training, so held-out figures measured on a
handful of unseen Debian hands say little about real notes. These families, fetched once by
`make fonts` (`medocr_cli.synth.fonts.fetch`) into a font cache, widen the set of hands the
generator draws with; only generate-dataset and training read them, never scrub, classify or
extract, and the Debian-only generator is what runs when the cache is absent.

`FETCHED_FAMILIES` is the catalogue of these families and the source of truth, as the tables of
`catalogue` are for the Debian fonts: each family is pinned to one package version (npm never
republishes a version, so a fetch is reproducible), given a style bucket and a split. The split
is written in the table, not computed from what a cache holds: a cache with more or fewer
families gives each of them the same split. A file in the cache that the table does not name is
never used.

Candidates looked at and left out (a specimen of each was rendered and read):
    condiment: the package (4.5.1, never updated) carries no licence file to keep beside it.
    covered-by-your-grace: no "%" glyph, which notes use.
    nanum-pen-script: the same design as Debian's NanumPen, already in train.
    itim: an informal typeface (Thai with Latin) rather than a hand.
    great-vibes, pinyon-script, parisienne, allura, ephesis: copperplate calligraphy, not a
        note anyone writes on a film.
    italianno, tangerine, corinthia: calligraphy with a lower case too small to read at note
        sizes.
    rochester, grand-hotel, cookie, courgette: sign-painting and typeset scripts.
The reserved fonts (Kristi, SteveHand, Delphine, Rufscript, Ecolier) are never in the table,
and `cached_faces` refuses any face whose package, file or internal family name is reserved.

Cache layout (what the fetch writes; `cached_faces` reads nothing else):
    <cache>/<npm-id>/<npm-id>-<weight>.ttf   Latin subset, normal style, converted from WOFF
    <cache>/<npm-id>/LICENSE                 the family's licence (OFL), as the package ships it
    <cache>/<npm-id>/source.json             package, version, files: what was fetched
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from medocr_cli.synth.fonts.catalogue import is_reserved, is_reserved_path

#: Environment variable naming the font cache (`--font-cache` and `--cache` override it).
CACHE_ENV = "MEDOCR_FONT_CACHE"

#: npm scope of the packages.
NPM_SCOPE = "@fontsource"

#: Prefix of the family and face names of fetched fonts (labels record the face name).
NAME_PREFIX = "fontsource:"

#: Style buckets; the held-out families span all of them.
BUCKETS: tuple[str, ...] = ("print", "cursive", "marker", "scrawl")

#: The package version every family below is pinned to unless it says otherwise (all were
#: 5.3.0, the latest, when the table was made).
FONTSOURCE_VERSION = "5.3.0"


@dataclass(frozen=True)
class FetchedFamily:
    """One fetched handwriting family.

    Attributes:
        npm: Package name under `@fontsource/` (also the cache folder and file-name stem).
        bucket: Style bucket: "print" (neat printed hands), "cursive" (joined pen or brush
            script), "marker" (thick felt pen or brush) or "scrawl" (quick, irregular hands).
        split: "train" (train and val draw on it) or "test" (held out).
        weights: CSS weights taken from the package (400, plus 700 where the family has a
            bold that differs visibly; light and in-between weights are left out).
        caps_only: Its lower-case letters are small capitals: text is drawn upper-cased so
            the label stays what the image shows.
        version: The pinned package version.
    """

    npm: str
    bucket: str
    split: str = "train"
    weights: tuple[int, ...] = (400,)
    caps_only: bool = False
    version: str = FONTSOURCE_VERSION

    @property
    def family(self) -> str:
        """The family name the split and `choose_font` use, e.g. "fontsource:caveat"."""
        return NAME_PREFIX + self.npm

    @property
    def package(self) -> str:
        """The pinned npm package spec, e.g. "@fontsource/caveat@5.3.0"."""
        return f"{NPM_SCOPE}/{self.npm}@{self.version}"

    def face_file(self, weight: int) -> str:
        """File name of one weight's TrueType file in the family's cache folder."""
        return f"{self.npm}-{weight}.ttf"

    def face_name(self, weight: int) -> str:
        """FontSpec name of one weight, e.g. "fontsource:caveat-400"."""
        return f"{NAME_PREFIX}{self.npm}-{weight}"


#: The fetched families, by bucket. About a sixth (7 of 42) are held out for test, spread over
#: the buckets in proportion (print 3 of 16, cursive 2 of 15, scrawl 1 of 6, marker 1 of 5) and
#: chosen as ordinary members of their bucket, so the test hands are unseen but not freaks.
FETCHED_FAMILIES: tuple[FetchedFamily, ...] = (
    # print: neat printed hands
    FetchedFamily("architects-daughter", "print"),
    FetchedFamily("caveat", "print", weights=(400, 700)),
    FetchedFamily("delicious-handrawn", "print"),
    FetchedFamily("gaegu", "print", "test", weights=(400, 700)),  # Korean design, Latin subset only
    FetchedFamily("gloria-hallelujah", "print"),
    FetchedFamily("handlee", "print", "test"),
    FetchedFamily("indie-flower", "print", "test"),
    FetchedFamily("kalam", "print", weights=(400, 700)),
    FetchedFamily("neucha", "print"),
    FetchedFamily("patrick-hand", "print"),
    FetchedFamily("poor-story", "print"),  # Korean design, Latin subset only
    FetchedFamily("schoolbell", "print"),
    FetchedFamily("short-stack", "print"),
    FetchedFamily("swanky-and-moo-moo", "print"),
    FetchedFamily("twinkle-star", "print"),
    FetchedFamily("yomogi", "print"),  # Japanese design, Latin subset only
    # cursive: joined pen and brush scripts
    FetchedFamily("bad-script", "cursive"),
    FetchedFamily("cedarville-cursive", "cursive", "test"),
    FetchedFamily("damion", "cursive"),
    FetchedFamily("herr-von-muellerhoff", "cursive"),
    FetchedFamily("homemade-apple", "cursive"),
    FetchedFamily("licorice", "cursive"),
    FetchedFamily("marck-script", "cursive"),
    FetchedFamily("mr-de-haviland", "cursive"),
    FetchedFamily("ms-madi", "cursive"),
    FetchedFamily("oooh-baby", "cursive"),
    FetchedFamily("sacramento", "cursive"),
    FetchedFamily("satisfy", "cursive", "test"),
    FetchedFamily("smooch", "cursive"),
    FetchedFamily("whisper", "cursive"),
    FetchedFamily("yellowtail", "cursive"),
    # marker: thick felt pens and brushes
    FetchedFamily("caveat-brush", "marker"),
    FetchedFamily("finger-paint", "marker"),
    FetchedFamily("gochi-hand", "marker", "test"),
    FetchedFamily("mansalva", "marker"),
    FetchedFamily("permanent-marker", "marker", caps_only=True),
    # scrawl: quick, irregular hands
    FetchedFamily("annie-use-your-telescope", "scrawl"),
    FetchedFamily("reenie-beanie", "scrawl", "test"),
    FetchedFamily("rock-salt", "scrawl", caps_only=True),
    FetchedFamily("shadows-into-light", "scrawl"),
    FetchedFamily("sue-ellen-francisco", "scrawl"),
    FetchedFamily("the-girl-next-door", "scrawl"),
)

_BY_FAMILY: dict[str, FetchedFamily] = {f.family: f for f in FETCHED_FAMILIES}
_BY_FACE: dict[str, FetchedFamily] = {
    f.face_name(w): f for f in FETCHED_FAMILIES for w in f.weights
}


@dataclass(frozen=True)
class CachedFace:
    """One fetched face found in a font cache.

    Attributes:
        name: FontSpec name, e.g. "fontsource:caveat-400".
        path: The TrueType file.
        family: Its catalogue entry.
    """

    name: str
    path: Path
    family: FetchedFamily


def default_cache() -> Path:
    """The font cache: `$MEDOCR_FONT_CACHE` if set, else `~/.cache/medocr/fonts`."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medocr" / "fonts"


def fetched_family(name: str) -> FetchedFamily | None:
    """The catalogue entry of a fetched family or face name, or None for any other name."""
    return _BY_FAMILY.get(name) or _BY_FACE.get(name)


def held_out_fetched() -> frozenset[str]:
    """The fetched families held out for test, from the table alone."""
    return frozenset(f.family for f in FETCHED_FAMILIES if f.split == "test")


#: The "name" table entries read by `reserved_face`: family, full name, PostScript name,
#: typographic family.
_NAME_IDS = (1, 4, 6, 16)


def reserved_face(path: Path) -> bool:
    """Tell whether a font file is reserved, judged by its folder, its file and its own names.

    Only the last two parts of the path count (`<package>/<file>`), so a cache under a home
    folder named, say, /home/kristine is not refused as a whole. The font's own names (its
    "name" table: family, full and PostScript names) are read too, with accents and
    full-width letters folded to ASCII ("Écolier" is "Ecolier"), so a reserved design renamed
    on disk is refused.
    """
    if is_reserved_path(path):
        return True
    from fontTools.ttLib import TTFont
    from PIL import ImageFont

    names = []
    try:
        names.append(" ".join(n or "" for n in ImageFont.truetype(str(path), 12).getname()))
    except OSError:
        return False  # FreeType cannot read it: the caller's font checks drop it
    try:
        with TTFont(str(path), lazy=True) as font:
            names += [
                r.toUnicode(errors="replace") for r in font["name"].names if r.nameID in _NAME_IDS
            ]
    except Exception:  # fontTools raises many types for a damaged table: FreeType's name stands
        pass
    return any(is_reserved(name) for name in names)  # is_reserved folds accents and widths


@functools.lru_cache(maxsize=8)
def cached_faces(cache: Path) -> tuple[CachedFace, ...]:
    """The catalogued fetched faces present in a font cache, by name (empty when there is none).

    Only files the table names are returned; reserved ones (`reserved_face`) never are.
    Cached per cache folder for the life of the process.
    """
    faces = []
    for entry in FETCHED_FAMILIES:
        if is_reserved(entry.npm):
            continue
        for weight in entry.weights:
            path = cache / entry.npm / entry.face_file(weight)
            if path.is_file() and not reserved_face(path):
                faces.append(CachedFace(entry.face_name(weight), path, entry))
    return tuple(sorted(faces, key=lambda face: face.name))


def cached_family_count(cache: Path) -> int:
    """How many catalogued fetched families a font cache holds (at least one face of each)."""
    return len({face.family.npm for face in cached_faces(cache)})
