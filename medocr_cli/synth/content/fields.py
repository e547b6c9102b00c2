"""Fake field values: random picks, dates and times, person and hospital names, IDs, age/sex.

These are the building blocks of the PHI lines (and some notes): each writes one value in one
of the many formats scanners, PACS and people use, drawing everything from the caller's rng.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Sequence

import numpy as np

from medocr_cli.synth.content.words import (
    FIRST_NAMES,
    INSTITUTION_TYPES,
    LAST_NAMES,
    MODALITIES,
    MONTHS,
    PLACES,
    SAINTS,
)


def pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    """One item of a sequence, uniformly (a plain str, never a numpy scalar)."""
    return items[int(rng.integers(len(items)))]


def chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability `p`."""
    return bool(rng.random() < p)


def digits(rng: np.random.Generator, n: int) -> str:
    """`n` random decimal digits."""
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def letters(rng: np.random.Generator, n: int) -> str:
    """`n` random capital letters."""
    return "".join(string.ascii_uppercase[int(i)] for i in rng.integers(0, 26, n))


def weighted(
    rng: np.random.Generator, choices: Sequence[tuple[float, Callable[[np.random.Generator], str]]]
) -> str:
    """Call one of the (weight, generator) `choices`, picked by weight."""
    weights = np.array([w for w, _ in choices], dtype=np.float64)
    idx = int(rng.choice(len(choices), p=weights / weights.sum()))
    return choices[idx][1](rng)


def random_date(rng: np.random.Generator, first_year: int, last_year: int) -> dt.date:
    """A uniformly random day from 1 January `first_year` to 31 December `last_year`."""
    lo = dt.date(first_year, 1, 1).toordinal()
    hi = dt.date(last_year, 12, 31).toordinal()
    return dt.date.fromordinal(int(rng.integers(lo, hi + 1)))


def format_date(rng: np.random.Generator, day: dt.date) -> str:
    """Write a date in one of the formats overlays use (ISO, European, US, dotted, DICOM...)."""
    d, m, y = day.day, day.month, day.year
    mon = MONTHS[m - 1]
    formats = (
        f"{y:04d}-{m:02d}-{d:02d}",
        f"{d:02d}/{m:02d}/{y:04d}",
        f"{m:02d}/{d:02d}/{y:04d}",
        f"{d:02d}.{m:02d}.{y:04d}",
        f"{y:04d}{m:02d}{d:02d}",
        f"{d:02d}-{mon}-{y:04d}",
        f"{d:02d}-{mon.upper()}-{y:04d}",
        f"{d} {mon} {y:04d}",
        f"{mon} {d}, {y:04d}",
        f"{m}/{d}/{y % 100:02d}",
        f"{y:04d}/{m:02d}/{d:02d}",
    )
    return pick(rng, formats)


def format_time(rng: np.random.Generator) -> str:
    """A time of day in 24 h, 12 h or DICOM (HHMMSS) form."""
    h, mi, s = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    h12 = h % 12 or 12
    ampm = "AM" if h < 12 else "PM"
    formats = (
        f"{h:02d}:{mi:02d}",
        f"{h:02d}:{mi:02d}:{s:02d}",
        f"{h12}:{mi:02d} {ampm}",
        f"{h12}:{mi:02d}:{s:02d} {ampm}",
        f"{h:02d}{mi:02d}{s:02d}",
        f"{h:02d}:{mi:02d}:{s:02d}.{int(rng.integers(0, 100)):02d}",
    )
    return pick(rng, formats)


def person_name(rng: np.random.Generator) -> str:
    """A fake person's name in one of the DICOM or human formats."""
    first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
    mid = pick(rng, string.ascii_uppercase)
    lastu, firstu = last.upper(), first.upper()
    formats = (
        f"{lastu}^{firstu}",
        f"{lastu}^{firstu}^{mid}",
        f"{last}^{first}",
        f"{last}^{first}^{mid}^^",
        f"{last}, {first} {mid}",
        f"{last}, {first}",
        f"{lastu}, {firstu}",
        f"{lastu}, {firstu} {mid}",
        f"{first} {last}",
        f"{first} {mid}. {last}",
        f"{firstu} {lastu}",
        f"{first[0]}. {last}",
        f"{lastu} {firstu}",
    )
    return pick(rng, formats)


def physician_name(rng: np.random.Generator) -> str:
    """A fake physician's name as overlays and reports write it."""
    first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
    formats = (
        f"Dr. {first[0]}. {last}",
        f"Dr {last}",
        f"Dr. {first} {last}",
        f"{last.upper()}^{first.upper()}",
        f"{last.upper()}^{first.upper()}^^^DR",
        f"{first[0]}. {last}, MD",
        f"{last}, {first} MD",
        f"DR {last.upper()}",
    )
    return pick(rng, formats)


def hospital_name(rng: np.random.Generator) -> str:
    """A made-up hospital or imaging centre name."""
    kind = pick(rng, INSTITUTION_TYPES)
    forms = (
        f"{pick(rng, PLACES)} {kind}",
        f"{pick(rng, SAINTS)} {kind}",
        f"{pick(rng, PLACES)} {pick(rng, INSTITUTION_TYPES)}",
        f"{pick(rng, LAST_NAMES)} Memorial {pick(rng, ('Hospital', 'Medical Center'))}",
        f"University of {pick(rng, PLACES)} {pick(rng, ('Hospital', 'Medical Center'))}",
        f"{pick(rng, PLACES).upper()} {kind.upper()}",
    )
    return pick(rng, forms)


def patient_id(rng: np.random.Generator) -> str:
    """A fake patient ID / MRN in one of several shapes."""
    forms = (
        digits(rng, int(rng.integers(6, 11))),
        "00" + digits(rng, int(rng.integers(5, 8))),
        letters(rng, int(rng.integers(1, 3))) + digits(rng, int(rng.integers(6, 9))),
        f"{digits(rng, 3)}-{digits(rng, 3)}-{digits(rng, 3)}",
        f"{digits(rng, 3)} {digits(rng, 3)} {digits(rng, 4)}",
        f"{digits(rng, 2)}-{digits(rng, 6)}",
        f"{letters(rng, 1)}{digits(rng, 7)}{letters(rng, 1)}",
    )
    return pick(rng, forms)


def accession_number(rng: np.random.Generator) -> str:
    """A fake accession number."""
    year = int(rng.integers(2005, 2026))
    forms = (
        "A" + digits(rng, 8),
        f"{year}{pick(rng, MODALITIES)}{digits(rng, 6)}",
        digits(rng, int(rng.integers(8, 11))),
        f"RAD-{year}-{digits(rng, 6)}",
        f"{letters(rng, 3)}{digits(rng, 7)}",
        f"{digits(rng, 4)}.{digits(rng, 4)}",
    )
    return pick(rng, forms)


def age_sex(rng: np.random.Generator) -> str:
    """Age and sex as overlays show them ("45Y F", "045Y", "M/67"...)."""
    age = int(rng.integers(0, 100))
    sex = pick(rng, ("F", "M", "F", "M", "O"))
    word = {"F": "Female", "M": "Male", "O": "Other"}[sex]
    months = int(rng.integers(1, 12))
    forms = (
        f"{age}Y {sex}",
        f"{age:03d}Y {sex}",
        f"{age:03d}Y",
        f"{sex} {age}Y",
        f"{sex}/{age}",
        f"Sex: {sex}  Age: {age}",
        f"{age} y/o {sex}",
        f"{age} yrs {word}",
        f"Age {age} Sex {sex}",
        f"{word}, {age}",
        f"{months:03d}M {sex}",
    )
    return pick(rng, forms)
