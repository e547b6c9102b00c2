"""What the synthetic text says: fake but realistic PHI, technical labels and handwritten notes.

The strings imitate what scanners, PACS workstations and people burn into medical images:
patient names in DICOM ("LAST^FIRST") and human formats, IDs, MRNs and accession numbers, birth
and study dates in the formats different vendors and countries use, times, age/sex, hospital and
department names, referring physicians; acquisition labels (kVp, mAs, window, series/image,
depth, frequency...); and short handwritten notes. Names are drawn from lists of common first and
last names and combined at random, so no real person's data appears. Every function takes a numpy
`Generator` and uses only its methods, so the same seed gives the same text.

The characters used are exactly `PRINTED_CHARSET` (PHI and labels) and `NOTE_CHARSET` (notes);
fonts are checked against these sets, and the recognizer's vocabulary can be built from them.

The package holds the character sets (`charsets`), the word lists (`words`), the fake field
values such as names, IDs and dates (`fields`), and one module per kind of line: `phi`,
`labels` and `notes`.
"""

from __future__ import annotations

from medocr_cli.synth.content.charsets import NOTE_CHARSET, PRINTED_CHARSET
from medocr_cli.synth.content.fields import (
    accession_number,
    age_sex,
    format_date,
    format_time,
    hospital_name,
    patient_id,
    person_name,
    physician_name,
)
from medocr_cli.synth.content.labels import label_line
from medocr_cli.synth.content.notes import note_text
from medocr_cli.synth.content.phi import phi_line
from medocr_cli.synth.content.words import DEPARTMENTS, FIRST_NAMES, LAST_NAMES

__all__ = [
    "DEPARTMENTS",
    "FIRST_NAMES",
    "LAST_NAMES",
    "NOTE_CHARSET",
    "PRINTED_CHARSET",
    "accession_number",
    "age_sex",
    "format_date",
    "format_time",
    "hospital_name",
    "label_line",
    "note_text",
    "patient_id",
    "person_name",
    "phi_line",
    "physician_name",
]
