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
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Sequence

import numpy as np

#: Every character `phi_line` and `label_line` can produce.
PRINTED_CHARSET: str = string.ascii_letters + string.digits + " .,:;/-^()#'+%*=|"

#: Every character `note_text` can produce (no ^ ( ) # + *: several handwriting fonts lack them).
NOTE_CHARSET: str = string.ascii_letters + string.digits + " .,:;/-'?!%"


def _items(text: str) -> tuple[str, ...]:
    """Split a word list separated by "|" or line breaks (items may contain spaces)."""
    return tuple(
        item.strip() for line in text.splitlines() for item in line.split("|") if item.strip()
    )


FIRST_NAMES: tuple[str, ...] = _items(
    """
    James | Mary | John | Patricia | Robert | Jennifer | Michael | Linda | William | Elizabeth
    David | Barbara | Richard | Susan | Joseph | Jessica | Thomas | Sarah | Charles | Karen
    Daniel | Nancy | Matthew | Lisa | Anthony | Betty | Mark | Margaret | Donald | Sandra
    Steven | Ashley | Paul | Emily | Andrew | Donna | Joshua | Michelle | Kenneth | Carol
    Kevin | Amanda | Brian | Melissa | George | Deborah | Edward | Stephanie | Ronald | Rebecca
    Timothy | Laura | Jason | Helen | Jeffrey | Sharon | Ryan | Cynthia | Jacob | Kathleen
    Gary | Amy | Nicholas | Shirley | Eric | Angela | Jonathan | Anna | Stephen | Ruth | Larry
    Brenda | Justin | Pamela | Scott | Nicole | Frank | Katherine | Peter | Emma | Samuel
    Olivia | Henry | Sophie | Oliver | Isabel | Lucas | Chloe | Hans | Greta | Lukas | Anke
    Pieter | Sanne | Jan | Eva | Carlos | Maria | Jose | Lucia | Juan | Elena | Miguel | Carmen
    Luca | Giulia | Marco | Francesca | Pierre | Claire | Louis | Camille | Ahmed | Fatima
    Omar | Aisha | Ali | Leila | Raj | Priya | Arjun | Anita | Vikram | Deepa | Wei | Li | Jun
    Mei | Hiroshi | Yuki | Kenji | Aiko | Min | Ji-woo | Olga | Ivan | Sven | Ingrid | Lars
    Astrid | Sean | Siobhan | Kwame | Ama | Tunde | Ngozi | Mateo | Valentina | Noah | Mia
    Liam | Zoe
    """
)

LAST_NAMES: tuple[str, ...] = _items(
    """
    Smith | Johnson | Williams | Brown | Jones | Garcia | Miller | Davis | Rodriguez | Martinez
    Hernandez | Lopez | Gonzalez | Wilson | Anderson | Thomas | Taylor | Moore | Jackson
    Martin | Lee | Perez | Thompson | White | Harris | Sanchez | Clark | Ramirez | Lewis
    Robinson | Walker | Young | Allen | King | Wright | Scott | Torres | Nguyen | Hill | Flores
    Green | Adams | Nelson | Baker | Hall | Rivera | Campbell | Mitchell | Carter | Roberts
    Evans | Turner | Phillips | Parker | Collins | Edwards | Stewart | Morris | Murphy | Cook
    Rogers | Morgan | Cooper | Peterson | Reed | Bailey | Bell | Kelly | Howard | Ward | Cox
    Brooks | Wood | Watson | Gray | Hughes | Price | Bennett | Foster | Russell | Griffin
    Hayes | Fisher | Ellis | Graham | Wallace | Hamilton | Mueller | Schmidt | Schneider
    Fischer | Weber | Meyer | Wagner | Becker | Hoffmann | Koch | Janssen | de Vries | van Dijk
    Bakker | Visser | Smit | Meijer | Mulder | Rossi | Russo | Ferrari | Esposito | Bianchi
    Romano | Colombo | Martin | Bernard | Dubois | Moreau | Laurent | Lefebvre | Fernandez
    Gomez | Diaz | Moreno | Alvarez | Romero | Patel | Shah | Singh | Kumar | Sharma | Gupta
    Khan | Ahmed | Hussain | Ali | Chen | Wang | Zhang | Liu | Yang | Huang | Zhao | Wu | Zhou
    Tanaka | Suzuki | Sato | Watanabe | Kim | Park | Choi | Ivanov | Petrov | Novak | Kowalski
    Nowak | Nielsen | Hansen | Larsen | Andersson | Johansson | O'Brien | O'Connor | McCarthy
    Murray | Byrne | Okafor | Mensah | Adeyemi | Silva | Santos | Oliveira | Costa | Pereira
    Horvat | Kovacs | Nagy | Popescu | Yilmaz | Demir | Cohen | Levi
    """
)

_PLACES: tuple[str, ...] = _items(
    """
    Riverside | Lakeview | Northgate | Westfield | Hillcrest | Oakwood | Maple Grove
    Kingsbridge | Fairview | Brookside | Greenfield | Elmwood | Harbour | Stonebridge | Ashford
    Bayview | Cedar Park | Clearwater | Eastbrook | Highland | Millbrook | Newbury | Pinecrest
    Redwood | Springvale | Summit | Valley | Willowdale | Northfield | Southport | Castle Hill
    Meadowbank | Rosewood | Silverlake
    """
)

_SAINTS: tuple[str, ...] = _items(
    """
    St. Mary's | St. Luke's | St. Joseph's | St. Vincent's | St. Anne's | St. Thomas'
    St. Elizabeth's | St. Francis | St. James's | St. Catherine's | St. Michael's | Mercy
    Good Samaritan | Sacred Heart | Holy Cross | Providence
    """
)

_INSTITUTION_TYPES: tuple[str, ...] = _items(
    """
    General Hospital | Hospital | Medical Center | Medical Centre | University Hospital
    Regional Medical Center | Community Hospital | Memorial Hospital | Clinic | Imaging Center
    Diagnostic Imaging | Children's Hospital | Infirmary | Teaching Hospital | Health System
    Radiology Associates | Heart Institute | Cancer Centre | Orthopaedic Clinic
    Women's Hospital
    """
)

DEPARTMENTS: tuple[str, ...] = _items(
    """
    Radiology | Diagnostic Radiology | Interventional Radiology | Nuclear Medicine | Cardiology
    Echocardiography | Emergency Department | Emergency | Orthopaedics | Orthopedics | Neurology
    Neuroradiology | Oncology | Radiation Oncology | Obstetrics | Gynaecology | Paediatrics
    Pediatrics | Urology | Gastroenterology | Vascular Lab | Echo Lab | Cath Lab
    Breast Imaging | Women's Imaging | ICU | Intensive Care | Outpatients | Fracture Clinic
    Chest Clinic | Dental | ENT | Ophthalmology | Rheumatology | Sports Medicine | Maternity
    Trauma Unit
    """
)

_ROOMS: tuple[str, ...] = _items(
    """
    CT | CT1 | CT 2 | MR | MRI 1 | MR 3T | US | US Room 2 | XR | X-Ray 4 | DR Room 1 | Fluoro
    PET-CT | Mammo | Resus | Ward 7 | Room 12
    """
)

_MONTHS: tuple[str, ...] = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

_BODY_PARTS: tuple[str, ...] = _items(
    """
    knee | hip | ankle | wrist | shoulder | elbow | hand | foot | chest | abdo | pelvis | spine
    neck | skull | femur | tibia | rib | thumb | L4/5 | C-spine | lung | liver | kidney | heart
    """
)

_MODALITIES: tuple[str, ...] = ("CT", "MR", "US", "CR", "DX", "XA", "NM", "MG", "RF", "PT")

_STUDY_DESCRIPTIONS: tuple[str, ...] = _items(
    """
    CT CHEST W/O | CT HEAD | CT ABD/PELVIS W | MRI BRAIN | MR L-SPINE | US ABDOMEN | CXR PA/LAT
    XR KNEE 2V | ECHO TTE | CTA CHEST | MRI KNEE LT | US RENAL | NM BONE SCAN | MAMMO SCREEN
    XR HAND RT | CT SINUS
    """
)


# --- small helpers -------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    """One item of a sequence, uniformly (a plain str, never a numpy scalar)."""
    return items[int(rng.integers(len(items)))]


def _chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def _letters(rng: np.random.Generator, n: int) -> str:
    return "".join(string.ascii_uppercase[int(i)] for i in rng.integers(0, 26, n))


def _weighted(
    rng: np.random.Generator, choices: Sequence[tuple[float, Callable[[np.random.Generator], str]]]
) -> str:
    weights = np.array([w for w, _ in choices], dtype=np.float64)
    idx = int(rng.choice(len(choices), p=weights / weights.sum()))
    return choices[idx][1](rng)


def _date(rng: np.random.Generator, first_year: int, last_year: int) -> dt.date:
    lo = dt.date(first_year, 1, 1).toordinal()
    hi = dt.date(last_year, 12, 31).toordinal()
    return dt.date.fromordinal(int(rng.integers(lo, hi + 1)))


def format_date(rng: np.random.Generator, day: dt.date) -> str:
    """Write a date in one of the formats overlays use (ISO, European, US, dotted, DICOM...)."""
    d, m, y = day.day, day.month, day.year
    mon = _MONTHS[m - 1]
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
    return _pick(rng, formats)


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
    return _pick(rng, formats)


def person_name(rng: np.random.Generator) -> str:
    """A fake person's name in one of the DICOM or human formats."""
    first, last = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
    mid = _pick(rng, string.ascii_uppercase)
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
    return _pick(rng, formats)


def physician_name(rng: np.random.Generator) -> str:
    """A fake physician's name as overlays and reports write it."""
    first, last = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
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
    return _pick(rng, formats)


def hospital_name(rng: np.random.Generator) -> str:
    """A made-up hospital or imaging centre name."""
    kind = _pick(rng, _INSTITUTION_TYPES)
    forms = (
        f"{_pick(rng, _PLACES)} {kind}",
        f"{_pick(rng, _SAINTS)} {kind}",
        f"{_pick(rng, _PLACES)} {_pick(rng, _INSTITUTION_TYPES)}",
        f"{_pick(rng, LAST_NAMES)} Memorial {_pick(rng, ('Hospital', 'Medical Center'))}",
        f"University of {_pick(rng, _PLACES)} {_pick(rng, ('Hospital', 'Medical Center'))}",
        f"{_pick(rng, _PLACES).upper()} {kind.upper()}",
    )
    return _pick(rng, forms)


def patient_id(rng: np.random.Generator) -> str:
    """A fake patient ID / MRN in one of several shapes."""
    forms = (
        _digits(rng, int(rng.integers(6, 11))),
        "00" + _digits(rng, int(rng.integers(5, 8))),
        _letters(rng, int(rng.integers(1, 3))) + _digits(rng, int(rng.integers(6, 9))),
        f"{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 3)}",
        f"{_digits(rng, 3)} {_digits(rng, 3)} {_digits(rng, 4)}",
        f"{_digits(rng, 2)}-{_digits(rng, 6)}",
        f"{_letters(rng, 1)}{_digits(rng, 7)}{_letters(rng, 1)}",
    )
    return _pick(rng, forms)


def accession_number(rng: np.random.Generator) -> str:
    """A fake accession number."""
    year = int(rng.integers(2005, 2026))
    forms = (
        "A" + _digits(rng, 8),
        f"{year}{_pick(rng, _MODALITIES)}{_digits(rng, 6)}",
        _digits(rng, int(rng.integers(8, 11))),
        f"RAD-{year}-{_digits(rng, 6)}",
        f"{_letters(rng, 3)}{_digits(rng, 7)}",
        f"{_digits(rng, 4)}.{_digits(rng, 4)}",
    )
    return _pick(rng, forms)


def age_sex(rng: np.random.Generator) -> str:
    """Age and sex as overlays show them ("45Y F", "045Y", "M/67"...)."""
    age = int(rng.integers(0, 100))
    sex = _pick(rng, ("F", "M", "F", "M", "O"))
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
    return _pick(rng, forms)


# --- PHI lines -----------------------------------------------------------------------------------


def _phi_name(rng: np.random.Generator) -> str:
    prefix = _pick(rng, ("", "", "", "Name: ", "Patient: ", "Pt: ", "PATIENT: ", "Pat. Name: "))
    return prefix + person_name(rng)


def _phi_id(rng: np.random.Generator) -> str:
    prefix = _pick(
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
    day = _date(rng, 1925, 2022)
    prefix = _pick(rng, ("DOB: ", "DOB ", "D.O.B.: ", "Born: ", "Birth Date: ", "b. ", ""))
    text = prefix + format_date(rng, day)
    if _chance(rng, 0.25):
        text += f" ({int(rng.integers(1, 99))}Y)"
    return text


def _phi_study_date(rng: np.random.Generator) -> str:
    prefix = _pick(rng, ("", "", "Study Date: ", "Date: ", "Exam: ", "Acq: ", "Scan Date: "))
    text = prefix + format_date(rng, _date(rng, 2005, 2025))
    if _chance(rng, 0.6):
        text += " " + format_time(rng)
    return text


def _phi_time(rng: np.random.Generator) -> str:
    return _pick(rng, ("", "Time: ", "Acq Time: ", "Study Time ")) + format_time(rng)


def _phi_accession(rng: np.random.Generator) -> str:
    prefix = _pick(rng, ("Acc: ", "Acc# ", "ACC: ", "Accession: ", "Accession #: ", "Acc No. "))
    return prefix + accession_number(rng)


def _phi_department(rng: np.random.Generator) -> str:
    dept = _pick(rng, DEPARTMENTS)
    forms = (
        f"Dept. of {dept}",
        f"{dept} - {_pick(rng, _ROOMS)}",
        f"{dept}, {hospital_name(rng)}",
        f"{_pick(rng, _PLACES)} {dept}",
        f"{dept.upper()} {_pick(rng, _ROOMS)}",
        f"Department of {dept}",
    )
    return _pick(rng, forms)


def _phi_physician(rng: np.random.Generator) -> str:
    prefix = _pick(
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
    prefix = _pick(rng, ("Tech: ", "Op: ", "Operator: ", "Sonographer: ", "RT: "))
    if _chance(rng, 0.5):
        return prefix + _letters(rng, int(rng.integers(2, 4)))
    return prefix + f"{_pick(rng, FIRST_NAMES)[0]}. {_pick(rng, LAST_NAMES)}"


def _phi_name_age(rng: np.random.Generator) -> str:
    return person_name(rng) + _pick(rng, (" ", "  ", " / ")) + age_sex(rng)


def _phi_id_dob(rng: np.random.Generator) -> str:
    return _phi_id(rng) + _pick(rng, ("  ", " ", " | ")) + _phi_dob(rng)


def _phi_name_id(rng: np.random.Generator) -> str:
    return person_name(rng) + _pick(rng, ("  ", " ", " - ")) + _phi_id(rng)


def _phi_study(rng: np.random.Generator) -> str:
    return _pick(rng, _STUDY_DESCRIPTIONS) + " " + format_date(rng, _date(rng, 2005, 2025))


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
    return _weighted(rng, _PHI_TEMPLATES)


# --- technical labels ----------------------------------------------------------------------------


def _num(rng: np.random.Generator, lo: float, hi: float, decimals: int) -> str:
    return f"{float(rng.uniform(lo, hi)):.{decimals}f}"


def _label_ct(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"{_pick(rng, ('80', '100', '110', '120', '130', '140'))} kVp",
        lambda: f"kV {_pick(rng, ('80', '100', '120', '140'))}",
        lambda: f"{int(rng.integers(20, 500))} mAs",
        lambda: f"mA {int(rng.integers(50, 600))}",
        lambda: f"Thk {_pick(rng, ('0.625', '1.0', '1.25', '2.5', '3.0', '5.0'))}mm",
        lambda: f"ST {_pick(rng, ('1', '2', '3', '5', '10'))}mm",
        lambda: f"Slice {_num(rng, 0.5, 10, 1)} mm",
        lambda: f"Pitch {_num(rng, 0.5, 1.5, 3)}",
        lambda: f"Tilt {_num(rng, -20, 20, 1)}",
        lambda: f"DFOV {_num(rng, 15, 50, 1)}cm",
        lambda: f"Kernel {_pick(rng, ('B30f', 'B70f', 'STANDARD', 'BONE', 'LUNG', 'FC13'))}",
        lambda: f"CTDIvol {_num(rng, 1, 60, 2)} mGy",
        lambda: f"DLP {_num(rng, 20, 1500, 1)} mGy*cm",
        lambda: f"Rot {_num(rng, 0.27, 1.0, 2)}s",
        lambda: f"SL {_num(rng, -300, 300, 1)}",
        lambda: f"Z {_num(rng, -900, 300, 1)} mm",
    )
    return _pick_call(rng, forms)


def _label_window(rng: np.random.Generator) -> str:
    ww = int(rng.integers(1, 40)) * 50
    wl = int(rng.integers(-120, 120)) * 5
    forms = (
        f"W:{ww} L:{wl}",
        f"W {ww} L {wl}",
        f"WW {ww} WL {wl}",
        f"WL: {wl} WW: {ww}",
        f"C {wl} W {ww}",
        f"W/L {ww}/{wl}",
    )
    return _pick(rng, forms)


def _label_series(rng: np.random.Generator) -> str:
    se, im = int(rng.integers(1, 20)), int(rng.integers(1, 400))
    total = im + int(rng.integers(0, 200))
    forms = (
        f"Se {se} Im {im}",
        f"Se: {se}",
        f"Im: {im}/{total}",
        f"Se:{se} Im:{im}",
        f"Series {se}",
        f"Image {im} of {total}",
        f"IMA {im}",
        f"Frame {im}/{total}",
        f"Acq {se}",
    )
    return _pick(rng, forms)


def _label_marker(rng: np.random.Generator) -> str:
    return _pick(
        rng,
        (
            "R",
            "L",
            "R",
            "L",
            "A",
            "P",
            "H",
            "F",
            "AP",
            "PA",
            "LAT",
            "RT",
            "LT",
            "ERECT",
            "SUPINE",
            "PRONE",
            "PORTABLE",
            "Upright",
            "HFS",
            "FFS",
            "LAO 30",
            "RAO 30",
            "CRA 20",
            "CAU 15",
            "L LAT",
            "R OBL",
            "WB",
            "C+",
            "C-",
            "POST",
            "ANT",
        ),
    )


_PROBES = ("C5-1", "L12-5", "S5-1", "4C1", "L9", "C1-6")
_PRESETS = ("Abd", "Pelvis", "Vasc", "Card", "MSK", "OB", "Thyroid", "Renal")


def _label_us(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"Depth {int(rng.integers(2, 25))} cm",
        lambda: f"D {_num(rng, 2, 24, 1)}cm",
        lambda: f"{_num(rng, 1.5, 15, 1)} MHz",
        lambda: f"FR {int(rng.integers(8, 80))}Hz",
        lambda: f"Gain {int(rng.integers(-10, 100))}%",
        lambda: f"G {int(rng.integers(20, 80))}",
        lambda: f"DR {int(rng.integers(40, 90))}",
        lambda: f"MI {_num(rng, 0.1, 1.9, 1)}",
        lambda: f"TIs {_num(rng, 0.1, 2.0, 1)}",
        lambda: f"TIb {_num(rng, 0.1, 2.0, 1)}",
        lambda: f"PRF {_num(rng, 0.5, 12, 1)}kHz",
        lambda: f"WF {int(rng.integers(50, 400))}Hz",
        lambda: f"Angle {int(rng.integers(-70, 71))}",
        lambda: f"CF {_num(rng, 1.8, 8, 1)}MHz",
        lambda: f"HR {int(rng.integers(40, 180))} bpm",
        lambda: f"P {int(rng.integers(50, 100))}%",
        lambda: f"{_pick(rng, _PROBES)} {_pick(rng, _PRESETS)}",
        lambda: _pick(rng, ("2D", "CF", "PW", "CW", "M-Mode", "THI", "Res", "Pen", "Gen")),
    )
    return _pick_call(rng, forms)


def _label_mr(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"TR {int(rng.integers(5, 6000))} TE {int(rng.integers(2, 120))}",
        lambda: f"TR: {_num(rng, 3, 5000, 1)}",
        lambda: f"TE: {_num(rng, 1, 120, 1)}",
        lambda: f"TI {int(rng.integers(100, 2500))}",
        lambda: f"FA {int(rng.integers(5, 180))}",
        lambda: f"NEX {_pick(rng, ('1', '1.5', '2', '3', '4'))}",
        lambda: f"ETL {int(rng.integers(1, 32))}",
        lambda: f"B{_pick(rng, ('0', '500', '800', '1000'))}",
        lambda: (
            f"{_pick(rng, ('256', '320', '384', '512'))}x{_pick(rng, ('192', '224', '256', '320'))}"
        ),
        lambda: f"FOV {int(rng.integers(10, 50))} cm",
        lambda: f"FOV {int(rng.integers(100, 500))}*{int(rng.integers(100, 500))}",
        lambda: f"BW {int(rng.integers(80, 800))}",
        lambda: _pick(
            rng, ("T1", "T2", "FLAIR", "DWI", "ADC", "T1 SE", "T2 TSE", "STIR", "PD FS", "T1+C")
        ),
    )
    return _pick_call(rng, forms)


def _label_xr(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"{int(rng.integers(50, 125))} kV",
        lambda: f"{_num(rng, 0.5, 40, 1)} mAs",
        lambda: f"EI {int(rng.integers(100, 2000))}",
        lambda: f"DI {_num(rng, -3, 3, 1)}",
        lambda: f"SID {int(rng.integers(100, 180))} cm",
        lambda: f"DAP {_num(rng, 0.1, 20, 2)} Gy*cm2",
        lambda: f"Grid {_pick(rng, ('IN', 'OUT'))}",
        lambda: f"Zoom {int(rng.integers(50, 400))}%",
        lambda: f"Mag {_num(rng, 1, 4, 1)}x",
        lambda: f"{int(rng.integers(1, 30))} cm",
        lambda: f"Scale {_pick(rng, ('1:1', '1:2', '2:1'))}",
    )
    return _pick_call(rng, forms)


def _pick_call(rng: np.random.Generator, forms: Sequence[Callable[[], str]]) -> str:
    return forms[int(rng.integers(len(forms)))]()


_LABEL_TEMPLATES: tuple[tuple[float, Callable[[np.random.Generator], str]], ...] = (
    (2.0, _label_ct),
    (1.5, _label_window),
    (1.5, _label_series),
    (1.2, _label_marker),
    (2.0, _label_us),
    (1.5, _label_mr),
    (1.2, _label_xr),
)


def label_line(rng: np.random.Generator) -> str:
    """One technical label of an acquisition overlay ("120 kVp", "W:400 L:40", "R", ...).

    Args:
        rng: The generator all randomness comes from.

    Returns:
        The label, using only characters of `PRINTED_CHARSET`.
    """
    return _weighted(rng, _LABEL_TEMPLATES)


# --- handwritten notes ---------------------------------------------------------------------------


def _side(rng: np.random.Generator) -> str:
    return _pick(rng, ("L", "R", "Lt", "Rt", "left", "right", "L", "R"))


def _short_date(rng: np.random.Generator) -> str:
    d, m = int(rng.integers(1, 29)), int(rng.integers(1, 13))
    y = int(rng.integers(5, 26))
    return _pick(rng, (f"{d}/{m}", f"{d:02d}/{m:02d}", f"{d}/{m}/{y:02d}", f"{d}.{m}.{y:02d}"))


def _initials(rng: np.random.Generator) -> str:
    return _letters(rng, int(rng.integers(2, 4)))


_NOTE_FORMS: tuple[Callable[[np.random.Generator], str], ...] = (
    lambda r: f"pt {_pick(r, LAST_NAMES)} {_side(r)} {_pick(r, _BODY_PARTS)}",
    lambda r: f"f/u {int(r.integers(1, 13))} {_pick(r, ('wks', 'weeks', 'mths', 'days', 'wk'))}",
    lambda r: f"{_side(r)} side",
    lambda r: f"see prior {_short_date(r)}",
    lambda r: f"{_pick(r, FIRST_NAMES)} {_pick(r, LAST_NAMES)}",
    lambda r: _pick(r, LAST_NAMES),
    lambda r: f"{_pick(r, LAST_NAMES)}, {_pick(r, FIRST_NAMES)[0]}.",
    lambda r: format_date(r, _date(r, 1930, 2025)).replace("^", " "),
    lambda r: _short_date(r),
    lambda r: f"ID {_digits(r, int(r.integers(5, 9)))}",
    lambda r: f"MRN {_digits(r, int(r.integers(6, 9)))}",
    lambda r: _digits(r, int(r.integers(6, 10))),
    lambda r: _pick(
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
    lambda r: f"?fx {_side(r)} {_pick(r, _BODY_PARTS)}",
    lambda r: f"{_pick(r, _BODY_PARTS)} {_side(r)}",
    lambda r: f"ok {_initials(r)}",
    lambda r: f"{_initials(r)} {_short_date(r)}",
    lambda r: f"bed {int(r.integers(1, 40))}",
    lambda r: f"ward {int(r.integers(1, 20))}{_pick(r, ('A', 'B', 'C', ''))}",
    lambda r: f"rm {int(r.integers(1, 30))}",
    lambda r: f"call Dr {_pick(r, LAST_NAMES)}",
    lambda r: f"POD {int(r.integers(1, 15))}",
    lambda r: f"CXR {_short_date(r)}",
    lambda r: f"{_pick(r, ('CT', 'MRI', 'US', 'XR'))} {_short_date(r)}",
    lambda r: f"{int(r.integers(1, 30))} mm",
    lambda r: f"{int(r.integers(1, 99))}%",
    lambda r: f"{_pick(r, ('pt', 'Pt'))} {int(r.integers(18, 95))}y {_pick(r, ('M', 'F'))}",
    lambda r: f"{_pick(r, FIRST_NAMES)} {_short_date(r)}",
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
