"""DICOM header de-identification: PS3.15 Annex E Basic Application Level Confidentiality Profile.

The profile is applied as a table: every attribute of PS3.15 Table E.1-1 with its Basic Profile
action, as shipped by the `dicom-anonymizer` package (KitwareMedical; table `dicomfields_2026c`,
655 attributes including the masks (50xx,xxxx) curve data, (60xx,3000) overlay data and
(60xx,4000) overlay comments). Attributes the table does not name (Table E.1-1's K attributes,
the pixel module, SOP Class, Transfer Syntax) are kept. The table is applied to the dataset and to
every item of every sequence, at any depth; private elements are removed everywhere.

The values come from `dicognito` (run first, keyed by the salt): person names, IDs and addresses
get dummies, dates and times are shifted back by one offset per salt (62 to 730 days, so
intervals between studies are kept: the Retain Longitudinal Temporal Information Modified Dates
Option, code 113107), and every instance UID becomes `2.<digits of md5(salt + old UID)>`. Because
the new UID depends only on the salt and the old UID, the same salt maps a UID to the same new UID
in every file of a run and across runs, so references between objects (Study, Series, Frame of
Reference, Referenced SOP Instance UIDs) stay consistent; class and transfer syntax UIDs are kept.

The table then decides, per attribute (`BasicProfileTable.action`):

- X, and the combined X/Z, X/D, X/Z/D: the attribute is deleted (the strongest choice).
- X/Z/U* (Referenced Image and Source Image Sequences): kept, so references stay usable; the
  UIDs inside are replaced as U and the other contents go through the table like any item.
- Z: emptied (a sequence loses its items), except dates and times shifted by dicognito, which
  the Modified Dates Option keeps (Patient's Birth Date is emptied all the same).
- D and Z/D: dicognito's replacement is kept (pseudonymous IDs and names, shifted dates, new
  UIDs); a value dicognito left as it was gets a dummy of its VR. A D sequence (Content Sequence,
  Graphic Annotation Sequence, ...) keeps its items, but every text, date and time value inside
  it, listed in the table or not (Text Value, Unformatted Text Value, Code Meaning, ...), is
  treated as D too; code strings (CS), numbers and class UIDs keep the structure readable.
- U: dicognito's new UID, or the same salted UID computed here when dicognito left it.

Afterwards the result is checked (`check_basic_profile`, against values noted beforehand): no
attribute the profile deletes is left at any depth, no D, Z or U attribute still holds its
original non-empty value, and no private element is left. A dataset that fails raises
`OutputError` (the file is reported failed and not written) and never carries
PatientIdentityRemoved YES. A dataset that passes is marked: PatientIdentityRemoved YES (only
when BurnedInAnnotation is NO, i.e. the pixels are clean too), a DeidentificationMethod entry,
and codes 113100 (Basic Profile) and 113107 (dates shifted, not removed) in
DeidentificationMethodCodeSequence beside the pixel-cleaning code 113101.
Pixel data is never touched here. The salt is never written into the dataset, and no header
value is ever put into an error message.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

from dicognito.anonymizer import Anonymizer
from dicognito.randomizer import Randomizer
from pydicom import DataElement, Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from medocr_cli.errors import OutputError, error_origin

BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
MODIFIED_DATES_CODE = (
    "113107",
    "DCM",
    "Retain Longitudinal Temporal Information Modified Dates Option",
)
#: DeidentificationMethod is LO (at most 64 characters), hence the short name of the profile.
BASIC_METHOD = f"PS3.15 Annex E Basic Profile (dicognito {version('dicognito')})"

#: The Table E.1-1 edition used, as named by `dicom-anonymizer`.
TABLE_EDITION = "dicomfields_2026c"
#: `dicom-anonymizer`'s action lists and the action each stands for.
_CATEGORIES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
#: Actions applied by deleting the attribute.
DELETED_ACTIONS = frozenset({"X", "X/Z", "X/D", "X/Z/D"})
#: Actions after which the attribute must no longer hold its original value.
CHANGED_ACTIONS = frozenset({"D", "Z", "Z/D", "U"})

_DATE_VRS = frozenset({"DA", "DT", "TM"})
#: VRs whose values get a dummy inside a D sequence (text that may name the patient, dates).
_CONTENT_VRS = frozenset({"AE", "AS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT", "UN"})
_CONTENT_VRS |= _DATE_VRS
#: Dates emptied (Z) even though dicognito shifted them.
_EMPTIED_DATES = frozenset({Tag("PatientBirthDate")})
_TEXT_DUMMY = "ANONYMIZED"
_DUMMIES: dict[str, object] = {
    "AS": "000Y",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "DS": "0",
    "IS": "0",
    "UR": "http://anonymized.invalid",
    **dict.fromkeys(("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"), _TEXT_DUMMY),
    **dict.fromkeys(("FD", "FL", "SL", "SS", "SV", "UL", "US", "UV"), 0),
    **dict.fromkeys(("OB", "OD", "OF", "OL", "OV", "OW", "UN"), b"\x00" * 8),
}

#: A place in a dataset: tag, item index, tag, ... (the last entry is the element's tag).
_Path = tuple[int, ...]


@dataclass(frozen=True)
class BasicProfileTable:
    """PS3.15 Table E.1-1, Basic Profile column: tag -> action ("D", "Z", "X", "U", "X/Z", ...).

    Attributes:
        exact: Action of each attribute named by its tag.
        masks: `(group, element, group mask, element mask, action)` of the repeating-group
            attributes: a tag of an even group matches when `tag.group & group mask == group`
            and `tag.element & element mask == element`.
        source: Where the table comes from (package, version and edition).
    """

    exact: dict[int, str]
    masks: tuple[tuple[int, int, int, int, str], ...]
    source: str

    def __len__(self) -> int:
        return len(self.exact) + len(self.masks)

    def action(self, tag: BaseTag) -> str | None:
        """The Basic Profile action for `tag`, or None when the table does not name it (keep)."""
        found = self.exact.get(int(tag))
        if found is not None or tag.group % 2:
            return found
        for group, element, group_mask, element_mask, action in self.masks:
            if tag.group & group_mask == group and tag.element & element_mask == element:
                return action
        return None


@lru_cache(maxsize=1)
def basic_profile_table() -> BasicProfileTable:
    """Load Table E.1-1 (edition `TABLE_EDITION`) from the `dicom-anonymizer` package."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    lists = dicom_anonymization_database_selector(TABLE_EDITION)
    exact: dict[int, str] = {}
    masks: list[tuple[int, int, int, int, str]] = []
    for category, action in _CATEGORIES.items():
        for entry in lists[category]:
            if len(entry) == 4:
                group, element, group_mask, element_mask = entry
                masks.append((group, element, group_mask, element_mask, action))
            else:
                exact[(entry[0] << 16) | entry[1]] = action
    source = f"dicom-anonymizer {version('dicom-anonymizer')} {TABLE_EDITION}"
    return BasicProfileTable(exact=exact, masks=tuple(masks), source=source)


def new_salt() -> str:
    """A random salt for a run that was given none (UIDs then differ from any other run)."""
    return secrets.token_hex(16)


class HeaderDeidentifier:
    """Applies the Basic Profile to datasets; build one per run and call it on every dataset.

    Args:
        salt: Secret that keys the UID remapping, the dummy values and the date shift. The same
            salt gives the same results in every file and every run; keep it private, since
            anyone holding it can test guesses of original UIDs.
    """

    def __init__(self, salt: str) -> None:
        if not salt:
            raise ValueError("the salt must not be empty")
        self._anonymizer = Anonymizer(seed=salt)
        self._randomizer = Randomizer(salt)  # the same keyed hash dicognito maps UIDs with
        self.table = basic_profile_table()

    def _anonymize(self, ds: Dataset) -> None:
        """Run dicognito on `ds`; a value it cannot parse fails the file in one clear line.

        A date or time element holding free text (a name typed into StudyDate) makes dicognito
        raise; the message names neither the value (patient data) nor pretends to be a defect.

        Raises:
            OutputError: A header value cannot be parsed for de-identification.
        """
        try:
            self._anonymizer.anonymize(ds)
        except (ValueError, TypeError, OverflowError) as exc:
            raise OutputError(
                "a header value cannot be parsed for de-identification (a date, time, age or "
                f"number holding something else; {error_origin(exc)})",
                hint="the file was not written; fix the header or scrub it with --header keep",
            ) from exc

    def __call__(self, ds: Dataset) -> None:
        """De-identify the header of `ds` in place (file meta UIDs included); pixels untouched.

        Raises:
            OutputError: The profile did not hold after it was applied (an attribute left that
                it deletes, or one still holding its original value); the dataset then carries
                no PatientIdentityRemoved YES and must not be written.
        """
        original = _snapshot(ds, self.table)
        ds.remove_private_tags()  # at every depth
        meta = getattr(ds, "file_meta", None)
        if meta is None:  # dicognito walks the file meta too; lend it an empty one
            ds.file_meta = FileMetaDataset()
            try:
                self._anonymize(ds)
            finally:
                del ds.file_meta
        else:
            self._anonymize(ds)
            if "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            strip_file_meta(meta)
        _apply_table(ds, self.table, original, self._new_uid)
        failures = check_basic_profile(ds, self.table, original) + check_file_meta(meta)
        if failures:
            if "PatientIdentityRemoved" in ds:  # dicognito claims it whenever the pixels are clean
                del ds.PatientIdentityRemoved
            shown = ", ".join(failures[:8]) + (", ..." if len(failures) > 8 else "")
            raise OutputError(
                f"the Basic Profile did not hold for {len(failures)} attribute(s): {shown}",
                hint="the file was not written; report the attribute tags to the maintainers",
            )
        _record_profile(ds)

    def _new_uid(self, uid: str) -> str:
        """The salted UID dicognito gives `uid` (`2.` + digits of md5(salt + uid))."""
        return "2." + str(10**39 + self._randomizer.to_int(uid))


def deidentify_header(ds: Dataset, salt: str) -> None:
    """Apply the Basic Profile to one dataset in place with UIDs keyed by `salt`."""
    HeaderDeidentifier(salt)(ds)


#: File meta elements "basic" keeps: the group length, the version, the SOP Class and Instance
#: (already remapped) and the transfer syntax. The rest (application entity titles, presentation
#: addresses, private information, the source's implementation name) can name people and
#: places; the writer fills in its own Implementation Class UID and Version Name.
FILE_META_KEPT = frozenset({0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010})


def strip_file_meta(meta: Dataset) -> None:
    """Remove every file meta element but `FILE_META_KEPT`, in place."""
    for tag in list(meta.keys()):
        if tag not in FILE_META_KEPT:
            del meta[tag]


def check_file_meta(meta: Dataset | None) -> list[str]:
    """Return the tags of file meta elements "basic" should have removed (never values)."""
    if meta is None:
        return []
    return [_tag_text(elem.tag) for elem in meta if elem.tag not in FILE_META_KEPT]


def check_basic_profile(
    ds: Dataset, table: BasicProfileTable, original: dict[_Path, object]
) -> list[str]:
    """Return the tags (as `(gggg,eeee)`, never values) where the profile does not hold.

    Args:
        ds: The de-identified dataset.
        table: The profile table.
        original: `_snapshot` of the dataset before de-identification.
    """
    failures = []
    for path, _, elem, action in _walk(ds, table):
        if elem.tag.is_private or action in DELETED_ACTIONS:
            failures.append(_tag_text(elem.tag))
        elif action == "Z" and elem.VR == "SQ" and elem.value:
            failures.append(_tag_text(elem.tag))  # a Z sequence keeps no items
        elif action in CHANGED_ACTIONS and elem.VR != "SQ":
            before = original.get(path)
            if before not in (None, "") and before == _fingerprint(elem) != _dummy_print(elem):
                failures.append(_tag_text(elem.tag))
    return failures


def _walk(
    ds: Dataset, table: BasicProfileTable, path: _Path = (), in_dummy: bool = False
) -> Iterator[tuple[_Path, Dataset, DataElement, str | None]]:
    """Yield `(path, parent, element, action)` for every element of `ds`, items included.

    Inside a D sequence every text, date and time element the table does not name has action D.
    The consumer may delete or empty the element it was given before the walk goes into it.
    """
    for elem in list(ds):
        action = table.action(elem.tag)
        vr = elem.VR.split(" or ")[0]
        if action is None and in_dummy and vr in _CONTENT_VRS:
            action = "D"
        key = (*path, int(elem.tag))
        yield key, ds, elem, action
        if vr != "SQ" or elem.tag not in ds:
            continue
        for index, item in enumerate(ds[elem.tag].value or ()):
            yield from _walk(item, table, (*key, index), in_dummy or action == "D")


def _snapshot(ds: Dataset, table: BasicProfileTable) -> dict[_Path, object]:
    """Fingerprints of the values the profile changes, by place, to check them afterwards."""
    return {
        path: _fingerprint(elem)
        for path, _, elem, action in _walk(ds, table)
        if action in CHANGED_ACTIONS and elem.VR != "SQ"
    }


def _apply_table(
    ds: Dataset,
    table: BasicProfileTable,
    original: dict[_Path, object],
    new_uid: Callable[[str], str],
) -> None:
    """Apply the table's actions after dicognito (see the module docstring for the choices)."""
    for path, parent, elem, action in _walk(ds, table):
        if action is None or (action == "X/Z/U*" and elem.VR == "SQ"):
            continue
        if action in DELETED_ACTIONS or action == "X/Z/U*":
            del parent[elem.tag]
            continue
        vr = elem.VR.split(" or ")[0]
        if vr == "SQ":
            if action == "Z":
                elem.value = Sequence()
            continue  # D, Z/D, U: the items go through the walk (D: their text gets dummies)
        before = original.get(path)
        if before in (None, ""):
            continue  # empty or added by dicognito: nothing of the patient's to replace
        changed = before != _fingerprint(elem)
        if action == "Z":
            shifted = changed and vr in _DATE_VRS and elem.tag not in _EMPTIED_DATES
            if not shifted:  # a shifted date stays: the Modified Dates Option
                elem.value = "" if isinstance(_DUMMIES.get(vr), str) else None
        elif not changed:
            elem.value = _dummy(elem, new_uid)


def _dummy(elem: DataElement, new_uid: Callable[[str], str]) -> object:
    """A dummy value of the element's VR (UIDs: the salted replacement)."""
    vr = elem.VR.split(" or ")[0]
    if vr == "UI":
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        new = [new_uid(str(v)) for v in values]
        return new if len(new) > 1 else new[0]
    return _DUMMIES.get(vr)


def _fingerprint(elem: DataElement) -> object:
    """A comparable stand-in for the element's value (binary values by their digest)."""
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest() if len(value) else ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


def _dummy_print(elem: DataElement) -> object:
    """The fingerprint of the VR's dummy: an original that equals it is not the patient's."""
    dummy = _DUMMIES.get(elem.VR.split(" or ")[0])
    return None if dummy is None else _fingerprint(DataElement(elem.tag, elem.VR, dummy))


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _record_profile(ds: Dataset) -> None:
    """Mark the dataset as de-identified with the Basic Profile (method text and codes)."""
    if ds.get("BurnedInAnnotation") == "NO":
        ds.PatientIdentityRemoved = "YES"  # header and pixels are both clean
    elif "PatientIdentityRemoved" in ds:
        del ds.PatientIdentityRemoved  # the pixels may still name the patient
    elem = ds.get("DeidentificationMethod")
    values = [] if elem is None else [elem] if isinstance(elem, str) else list(elem)
    if BASIC_METHOD not in values:
        values.append(BASIC_METHOD)
    ds.DeidentificationMethod = values if len(values) > 1 else values[0]
    codes = ds.get("DeidentificationMethodCodeSequence") or Sequence()
    for code in (BASIC_PROFILE_CODE, MODIFIED_DATES_CODE):
        if not any(getattr(item, "CodeValue", None) == code[0] for item in codes):
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
            codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
