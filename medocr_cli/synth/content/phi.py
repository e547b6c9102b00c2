"""PHI lines: one line of fake protected health information as a scanner overlay shows it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medocr_cli.synth.content.fields import (
    accession_number,
    age_sex,
    chance,
    format_date,
    format_time,
    hospital_name,
    letters,
    patient_id,
    person_name,
    physician_name,
    pick,
    random_date,
    weighted,
)
from medocr_cli.synth.content.words import (
    DEPARTMENTS,
    FIRST_NAMES,
    LAST_NAMES,
    PLACES,
    ROOMS,
    STUDY_DESCRIPTIONS,
)


def _phi_name(rng: np.random.Generator) -> str:
    prefix = pick(rng, ("", "", "", "Name: ", "Patient: ", "Pt: ", "PATIENT: ", "Pat. Name: "))
    return prefix + person_name(rng)


def _phi_id(rng: np.random.Generator) -> str:
    prefix = pick(
        rng,
        (
            "ID: ",
            "ID ",
            "MRN: ",
            "MRN ",
            "PID: ",
            "Patient ID: ",
            "Pat ID: ",
            "Hosp No: ",
            "NHS No: ",
            "Chart #",
            "Record #: ",
            "UR: ",
            "",
        ),
    )
    return prefix + patient_id(rng)


def _phi_dob(rng: np.random.Generator) -> str:
    day = random_date(rng, 1925, 2022)
    prefix = pick(rng, ("DOB: ", "DOB ", "D.O.B.: ", "Born: ", "Birth Date: ", "b. ", ""))
    text = prefix + format_date(rng, day)
    if chance(rng, 0.25):
        text += f" ({int(rng.integers(1, 99))}Y)"
    return text


def _phi_study_date(rng: np.random.Generator) -> str:
    prefix = pick(rng, ("", "", "Study Date: ", "Date: ", "Exam: ", "Acq: ", "Scan Date: "))
    text = prefix + format_date(rng, random_date(rng, 2005, 2025))
    if chance(rng, 0.6):
        text += " " + format_time(rng)
    return text


def _phi_time(rng: np.random.Generator) -> str:
    return pick(rng, ("", "Time: ", "Acq Time: ", "Study Time ")) + format_time(rng)


def _phi_accession(rng: np.random.Generator) -> str:
    prefix = pick(rng, ("Acc: ", "Acc# ", "ACC: ", "Accession: ", "Accession #: ", "Acc No. "))
    return prefix + accession_number(rng)


def _phi_department(rng: np.random.Generator) -> str:
    dept = pick(rng, DEPARTMENTS)
    forms = (
        f"Dept. of {dept}",
        f"{dept} - {pick(rng, ROOMS)}",
        f"{dept}, {hospital_name(rng)}",
        f"{pick(rng, PLACES)} {dept}",
        f"{dept.upper()} {pick(rng, ROOMS)}",
        f"Department of {dept}",
    )
    return pick(rng, forms)


def _phi_physician(rng: np.random.Generator) -> str:
    prefix = pick(
        rng,
        (
            "Ref: ",
            "Ref. Phys: ",
            "Referring: ",
            "Referring Physician: ",
            "Ref Dr: ",
            "Physician: ",
            "Read by: ",
            "Attending: ",
            "Perf: ",
            "",
        ),
    )
    return prefix + physician_name(rng)


def _phi_operator(rng: np.random.Generator) -> str:
    prefix = pick(rng, ("Tech: ", "Op: ", "Operator: ", "Sonographer: ", "RT: "))
    if chance(rng, 0.5):
        return prefix + letters(rng, int(rng.integers(2, 4)))
    return prefix + f"{pick(rng, FIRST_NAMES)[0]}. {pick(rng, LAST_NAMES)}"


def _phi_name_age(rng: np.random.Generator) -> str:
    return person_name(rng) + pick(rng, (" ", "  ", " / ")) + age_sex(rng)


def _phi_id_dob(rng: np.random.Generator) -> str:
    return _phi_id(rng) + pick(rng, ("  ", " ", " | ")) + _phi_dob(rng)


def _phi_name_id(rng: np.random.Generator) -> str:
    return person_name(rng) + pick(rng, ("  ", " ", " - ")) + _phi_id(rng)


def _phi_study(rng: np.random.Generator) -> str:
    return pick(rng, STUDY_DESCRIPTIONS) + " " + format_date(rng, random_date(rng, 2005, 2025))


_PHI_TEMPLATES: tuple[tuple[float, Callable[[np.random.Generator], str]], ...] = (
    (3.0, _phi_name),
    (2.5, _phi_id),
    (2.0, _phi_dob),
    (2.0, _phi_study_date),
    (0.6, _phi_time),
    (1.2, lambda r: age_sex(r)),
    (1.5, _phi_accession),
    (1.5, lambda r: hospital_name(r)),
    (1.0, _phi_department),
    (1.2, _phi_physician),
    (0.6, _phi_operator),
    (1.2, _phi_name_age),
    (1.0, _phi_id_dob),
    (0.8, _phi_name_id),
    (0.5, _phi_study),
)


def phi_line(rng: np.random.Generator) -> str:
    """One line of fake protected health information, as a scanner overlay would show it.

    Names (DICOM "LAST^FIRST", "Last, First M", ...), patient IDs and MRNs, birth and study
    dates in several national and DICOM formats, times, age/sex, accession numbers, hospital and
    department names, referring physicians and operators, and combinations of these.

    Args:
        rng: The generator all randomness comes from (same state -> same line).

    Returns:
        The line, using only characters of `PRINTED_CHARSET`.
    """
    return weighted(rng, _PHI_TEMPLATES)
