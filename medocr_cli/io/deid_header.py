"""DICOM header de-identification: PS3.15 Annex E Basic Application Level Confidentiality Profile.

The element-level work is done by `dicognito` (a maintained implementation of the profile):
person names, IDs, addresses, institution and equipment names are replaced by dummies, dates and
times are shifted back by one offset per salt (62 to 730 days, so intervals between studies are
kept), and every instance UID is replaced by `2.<digits of md5(salt + old UID)>`. Because the new
UID depends only on the salt and the old UID, the same salt maps a UID to the same new UID in
every file of a run and across runs, so references between objects (Study, Series, Frame of
Reference, Referenced SOP Instance UIDs) stay consistent; class and transfer syntax UIDs are kept.

On top of dicognito this step removes what the Basic Profile removes and dicognito 0.19 leaves:
private elements and the free-text and patient-characteristic attributes listed in `_REMOVED`.
It then records the profile: PatientIdentityRemoved YES (when the pixels are clean too), a
DeidentificationMethod entry, and codes 113100 (Basic Profile) and 113107 (dates shifted, not
removed) in DeidentificationMethodCodeSequence beside the pixel-cleaning code 113101.
Pixel data is never touched here. The salt is never written into the dataset.
"""

from __future__ import annotations

import secrets
from importlib.metadata import version

from dicognito.anonymizer import Anonymizer
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence

HEADER_MODES = ("keep", "basic")
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
MODIFIED_DATES_CODE = (
    "113107",
    "DCM",
    "Retain Longitudinal Temporal Information Modified Dates Option",
)
#: DeidentificationMethod is LO (at most 64 characters), hence the short name of the profile.
BASIC_METHOD = f"PS3.15 Annex E Basic Profile (dicognito {version('dicognito')})"

#: Attributes the Basic Profile removes (action X) that dicognito leaves in place: free text that
#: may name the patient, and patient characteristics (their keeping is a separate option, 113108).
_REMOVED = (
    "AcquisitionComments",
    "AdditionalPatientHistory",
    "AdmittingDiagnosesDescription",
    "Allergies",
    "DerivationDescription",
    "EthnicGroup",
    "ImageComments",
    "InterpretationText",
    "MedicalAlerts",
    "PatientAge",
    "PatientComments",
    "PatientSize",
    "PatientState",
    "PatientWeight",
    "PerformedProcedureStepDescription",
    "PregnancyStatus",
    "ProtocolName",
    "RequestedProcedureDescription",
    "SeriesDescription",
    "SmokingStatus",
    "SpecialNeeds",
    "StudyComments",
    "StudyDescription",
    "TextComments",
)


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

    def __call__(self, ds: Dataset) -> None:
        """De-identify the header of `ds` in place (file meta UIDs included); pixels untouched."""
        ds.remove_private_tags()
        _remove_nested(ds, _REMOVED)
        meta = getattr(ds, "file_meta", None)
        if meta is None:  # dicognito walks the file meta too; lend it an empty one
            ds.file_meta = FileMetaDataset()
            self._anonymizer.anonymize(ds)
            del ds.file_meta
        else:
            self._anonymizer.anonymize(ds)
            if "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        _record_profile(ds)


def deidentify_header(ds: Dataset, salt: str) -> None:
    """Apply the Basic Profile to one dataset in place with UIDs keyed by `salt`."""
    HeaderDeidentifier(salt)(ds)


def _remove_nested(ds: Dataset, keywords: tuple[str, ...]) -> None:
    """Delete `keywords` from `ds` and from every item of its sequences, at any depth."""
    for keyword in keywords:
        if keyword in ds:
            delattr(ds, keyword)
    for elem in list(ds):
        if elem.VR == "SQ" and elem.value:
            for item in elem.value:
                _remove_nested(item, keywords)


def _record_profile(ds: Dataset) -> None:
    """Mark the dataset as de-identified with the Basic Profile (method text and codes)."""
    if ds.get("BurnedInAnnotation") == "NO":
        ds.PatientIdentityRemoved = "YES"  # header and pixels are both clean
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
