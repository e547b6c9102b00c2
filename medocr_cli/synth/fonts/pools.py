"""Font pools per split: every usable face on this machine, by family, for train, val or test.

The test split gets the held-out families of the catalogue, the train and val splits the
others; `choose_font` picks uniformly over families, then over a family's faces. Beside the
Debian fonts and the Hershey strokes, a pool can hold the fetched handwriting families of a font
cache (`fetched`): `font_pools(split, cache)` takes the cache as an argument, and
`set_font_cache` makes a cache the default of this process, which is how generate-dataset hands
it to the image generator and its worker processes. Without a cache the pools are exactly the
Debian and Hershey ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medocr_cli.errors import ToolMissingError
from medocr_cli.synth.content.charsets import NOTE_CHARSET, PRINTED_CHARSET
from medocr_cli.synth.fonts.catalogue import (
    CAPS_ONLY_FAMILIES,
    HERSHEY_FONTS,
    SPLIT_BUCKET,
    classify_face,
    font_files,
    held_out_families,
    is_reserved,
)
from medocr_cli.synth.fonts.faces import ALL_CHARS, FontSpec, missing_chars
from medocr_cli.synth.fonts.fetched import cached_faces, fetched_family, held_out_fetched

#: Splits `font_pools` knows; "val" draws on the train fonts.
SPLITS: tuple[str, ...] = ("train", "val", "test")

#: The font cache `font_pools` uses when given none (see `set_font_cache`); None: no cache.
_process_cache: Path | None = None


@dataclass(frozen=True)
class _Entry:
    spec: FontSpec
    family: str
    bucket: str
    held_out: bool


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[_Entry, ...]:
    """Every usable Debian face on this machine plus the Hershey fonts, sorted by name."""
    held_out = held_out_families()
    entries = []
    for path in font_files():
        found = classify_face(path)
        if found is None:
            continue
        kind, family, style = found
        needed = PRINTED_CHARSET if kind == "printed" else NOTE_CHARSET
        try:
            if set(missing_chars(str(path), ALL_CHARS)) & set(needed):
                continue
        except OSError:
            continue
        if is_reserved(family):
            continue
        spec = FontSpec(name=path.stem, path=str(path), kind=kind, style=style)
        bucket = SPLIT_BUCKET.get(family, style)
        entries.append(_Entry(spec, family, bucket, family in held_out))
    for name, family in HERSHEY_FONTS.items():
        spec = FontSpec(name=f"hershey:{name}", path=None, kind="handwritten", style="stroke")
        family = f"hershey:{family}"
        entries.append(_Entry(spec, family, "stroke", family in held_out))
    return tuple(sorted(entries, key=lambda e: e.spec.name))


@functools.lru_cache(maxsize=8)
def _fetched_catalogue(cache: Path) -> tuple[_Entry, ...]:
    """The fetched handwriting faces of a font cache that draw every note character, by name.

    They are handwriting font files like the Debian ones (style "script"); their split comes
    from the fetched-family table, never from what the cache holds.
    """
    held_out = held_out_fetched()
    entries = []
    for face in cached_faces(cache):
        try:
            if set(missing_chars(str(face.path), ALL_CHARS)) & set(NOTE_CHARSET):
                continue
        except (OSError, ValueError):  # unreadable or reserved: never drawn with
            continue
        spec = FontSpec(name=face.name, path=str(face.path), kind="handwritten", style="script")
        family = face.family.family
        entries.append(_Entry(spec, family, face.family.bucket, family in held_out))
    return tuple(entries)


def set_font_cache(cache: Path | None) -> None:
    """Make `cache` the font cache of `font_pools` calls that name none, in this process.

    generate-dataset calls it before making images (and in each worker process), so the image
    generator draws with the fetched families without every caller passing the cache along.
    None goes back to the Debian and Hershey fonts alone.
    """
    global _process_cache
    _process_cache = None if cache is None else Path(cache)


def font_cache() -> Path | None:
    """The font cache `font_pools` uses when given none (set by `set_font_cache`)."""
    return _process_cache


def font_family(spec: FontSpec) -> str:
    """Return the family a face belongs to (the unit the train/test split is made of).

    Raises:
        KeyError: The face is not one of the catalogued fonts available here.
    """
    family = _families().get(spec)
    if family is None:
        fetched = fetched_family(spec.name)
        if fetched is None:
            raise KeyError(f"{spec.name} is not a catalogued font")
        family = fetched.family
    return family


@functools.lru_cache(maxsize=1)
def _families() -> dict[FontSpec, str]:
    return {entry.spec: entry.family for entry in _catalogue()}


def caps_only(spec: FontSpec) -> bool:
    """Tell whether a handwriting face draws lower-case letters as capitals."""
    if spec.path is None:
        return False
    fetched = fetched_family(spec.name)
    if fetched is not None:
        return fetched.caps_only
    found = classify_face(Path(spec.path))
    return found is not None and found[1] in CAPS_ONLY_FAMILIES


def font_pools(split: str, cache: Path | None = None) -> tuple[list[FontSpec], list[FontSpec]]:
    """Return the (printed, handwritten) faces a split may draw with, sorted by name.

    "train" and "val" share the train families; "test" gets the held-out families, disjoint
    from train by family, with every style represented on both sides (sans, serif, mono and
    bitmap printed faces; handwriting font files and Hershey strokes; and, with a font cache,
    the print, cursive, marker and scrawl buckets of the fetched families). Cached per split
    and cache; callers must not mutate the returned lists.

    Args:
        split: "train", "val" or "test".
        cache: A font cache whose fetched handwriting families join the handwriting pool;
            None: the cache set with `set_font_cache`, if any. A cache that is missing or holds
            no catalogued family adds nothing.

    Raises:
        ValueError: Unknown split.
        ToolMissingError: A pool is empty because the Debian font packages are not installed.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if cache is None:
        cache = _process_cache
    return _pools(split, None if cache is None else Path(cache))


@functools.lru_cache(maxsize=4 * len(SPLITS))
def _pools(split: str, cache: Path | None) -> tuple[list[FontSpec], list[FontSpec]]:
    want_test = split == "test"
    printed: list[FontSpec] = []
    handwritten: list[FontSpec] = []
    fetched = _fetched_catalogue(cache) if cache is not None else ()
    for entry in _catalogue() + fetched:
        if entry.held_out != want_test:
            continue
        (printed if entry.spec.kind == "printed" else handwritten).append(entry.spec)
    handwritten.sort(key=lambda spec: spec.name)
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
