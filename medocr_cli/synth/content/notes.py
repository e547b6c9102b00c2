"""Handwritten notes: short notes and labels of 1-5 words people write on films and printouts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medocr_cli.synth.content.fields import digits, format_date, letters, pick, random_date
from medocr_cli.synth.content.words import BODY_PARTS, FIRST_NAMES, LAST_NAMES


def _side(rng: np.random.Generator) -> str:
    return pick(rng, ("L", "R", "Lt", "Rt", "left", "right", "L", "R"))


def _short_date(rng: np.random.Generator) -> str:
    d, m = int(rng.integers(1, 29)), int(rng.integers(1, 13))
    y = int(rng.integers(5, 26))
    return pick(rng, (f"{d}/{m}", f"{d:02d}/{m:02d}", f"{d}/{m}/{y:02d}", f"{d}.{m}.{y:02d}"))


def _initials(rng: np.random.Generator) -> str:
    return letters(rng, int(rng.integers(2, 4)))


_NOTE_FORMS: tuple[Callable[[np.random.Generator], str], ...] = (
    lambda r: f"pt {pick(r, LAST_NAMES)} {_side(r)} {pick(r, BODY_PARTS)}",
    lambda r: f"f/u {int(r.integers(1, 13))} {pick(r, ('wks', 'weeks', 'mths', 'days', 'wk'))}",
    lambda r: f"{_side(r)} side",
    lambda r: f"see prior {_short_date(r)}",
    lambda r: f"{pick(r, FIRST_NAMES)} {pick(r, LAST_NAMES)}",
    lambda r: pick(r, LAST_NAMES),
    lambda r: f"{pick(r, LAST_NAMES)}, {pick(r, FIRST_NAMES)[0]}.",
    lambda r: format_date(r, random_date(r, 1930, 2025)).replace("^", " "),
    lambda r: _short_date(r),
    lambda r: f"ID {digits(r, int(r.integers(5, 9)))}",
    lambda r: f"MRN {digits(r, int(r.integers(6, 9)))}",
    lambda r: digits(r, int(r.integers(6, 10))),
    lambda r: pick(
        r,
        (
            "no change",
            "compare w/ prior",
            "urgent",
            "repeat AP view",
            "NBM",
            "query PE",
            "? fracture",
            "ok to discharge",
            "for review",
            "post op",
            "pre op",
            "cancelled",
            "wrong side!",
            "re-scan",
            "done",
            "reported",
            "see report",
            "discuss at MDT",
            "call ward",
            "stat",
            "ok",
            "bad image",
            "moved",
            "no contrast",
            "with contrast",
        ),
    ),
    lambda r: f"?fx {_side(r)} {pick(r, BODY_PARTS)}",
    lambda r: f"{pick(r, BODY_PARTS)} {_side(r)}",
    lambda r: f"ok {_initials(r)}",
    lambda r: f"{_initials(r)} {_short_date(r)}",
    lambda r: f"bed {int(r.integers(1, 40))}",
    lambda r: f"ward {int(r.integers(1, 20))}{pick(r, ('A', 'B', 'C', ''))}",
    lambda r: f"rm {int(r.integers(1, 30))}",
    lambda r: f"call Dr {pick(r, LAST_NAMES)}",
    lambda r: f"POD {int(r.integers(1, 15))}",
    lambda r: f"CXR {_short_date(r)}",
    lambda r: f"{pick(r, ('CT', 'MRI', 'US', 'XR'))} {_short_date(r)}",
    lambda r: f"{int(r.integers(1, 30))} mm",
    lambda r: f"{int(r.integers(1, 99))}%",
    lambda r: f"{pick(r, ('pt', 'Pt'))} {int(r.integers(18, 95))}y {pick(r, ('M', 'F'))}",
    lambda r: f"{pick(r, FIRST_NAMES)} {_short_date(r)}",
)


def note_text(rng: np.random.Generator) -> str:
    """A short handwritten-style note or label of 1-5 words ("f/u 3 wks", "R side", a name...).

    Args:
        rng: The generator all randomness comes from.

    Returns:
        The note, using only characters of `NOTE_CHARSET`.
    """
    text = _NOTE_FORMS[int(rng.integers(len(_NOTE_FORMS)))](rng)
    words = text.split()
    return " ".join(words[:5])
