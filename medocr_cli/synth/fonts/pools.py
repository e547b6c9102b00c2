"""Font pools per split: every usable face on this machine, by family, for train, val or test.

The test split gets the held-out families of the catalogue, the train and val splits the
others; `choose_font` picks uniformly over families, then over a family's faces.
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

#: Splits `font_pools` knows; "val" draws on the train fonts.
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class _Entry:
    spec: FontSpec
    family: str
    bucket: str


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[_Entry, ...]:
    """Every usable face on this machine plus the Hershey fonts, sorted by name."""
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
        entries.append(_Entry(spec, family, SPLIT_BUCKET.get(family, style)))
    for name, family in HERSHEY_FONTS.items():
        spec = FontSpec(name=f"hershey:{name}", path=None, kind="handwritten", style="stroke")
        entries.append(_Entry(spec, f"hershey:{family}", "stroke"))
    return tuple(sorted(entries, key=lambda e: e.spec.name))


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
    found = classify_face(Path(spec.path))
    return found is not None and found[1] in CAPS_ONLY_FAMILIES


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
    held_out = held_out_families()
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
