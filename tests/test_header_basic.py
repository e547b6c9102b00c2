"""`scrub --header basic --salt S`: Annex E Basic Profile on DICOM headers, UIDs keyed by salt."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_images import write_ct, write_png
from conftest import gradient, make_dicom
from pydicom import Dataset
from pydicom.datadict import dictionary_VR
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import OutputError, UsageError
from medocr_cli.io import deid_header, read_scan, write_scan
from medocr_cli.io.deid_header import (
    BASIC_METHOD,
    DELETED_ACTIONS,
    basic_profile_table,
    deidentify_header,
)
from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub
from medocr_cli.types import Status

STUDY, SERIES, FRAME_OF_REF = generate_uid(), generate_uid(), generate_uid()
PHI = {
    "PatientName": "DOE^JANE",
    "PatientID": "4821937",
    "PatientBirthDate": "19610412",
    "InstitutionName": "St Example Hospital",
    "ReferringPhysicianName": "HOUSE^GREGORY",
    "AccessionNumber": "ACC778899",
    "StudyDate": "20240305",
    "StudyTime": "101530",
    "StudyDescription": "CT HEAD for Jane Doe",
    "PatientAge": "063Y",
    "ImageComments": "Jane Doe, bed 4",
}


def _make_study(src: Path) -> dict[str, str]:
    """Two CT files of one study and series; b.dcm references a.dcm. Returns their old UIDs."""
    uids = {}
    for name in ("a.dcm", "b.dcm"):
        path = src / name
        write_ct(path, size=128)
        ds = pydicom.dcmread(path)
        for keyword, value in PHI.items():
            setattr(ds, keyword, value)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, SERIES
        ds.FrameOfReferenceUID = FRAME_OF_REF
        ds.add_new(0x00091010, "LO", "private note: Jane Doe")
        ds.add_new(0x00090010, "LO", "ACME")
        if name == "b.dcm":
            ref = Dataset()
            ref.ReferencedSOPClassUID = ds.SOPClassUID
            ref.ReferencedSOPInstanceUID = uids["a.dcm"]
            ds.ReferencedImageSequence = Sequence([ref])
        ds.save_as(path, enforce_file_format=True)
        uids[name] = str(ds.SOPInstanceUID)
    return uids


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("header")
    src = root / "in"
    old = _make_study(src)
    write_png(src / "p.png")
    out = {}
    for label, header, salt in [
        ("keep", "keep", None),
        ("s1", "basic", "salt-one"),
        ("s1again", "basic", "salt-one"),
        ("s2", "basic", "salt-two"),
    ]:
        summary = run_scrub(
            ScrubConfig(inputs=[src], output=root / label, header=header, salt=salt)
        )
        assert all(r.status == Status.OK for r in summary.results), summary.results
        out[label] = {n: pydicom.dcmread(root / label / n) for n in ("a.dcm", "b.dcm")}
    return src, old, out, root


def _uids(ds: Dataset) -> tuple[str, ...]:
    return (ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID)


def test_keep_leaves_identity(runs):
    _, old, out, _ = runs
    ds = out["keep"]["a.dcm"]
    assert ds.PatientName == PHI["PatientName"] and ds.PatientID == PHI["PatientID"]
    assert ds.SOPInstanceUID == old["a.dcm"] and ds.StudyInstanceUID == STUDY
    assert "PatientIdentityRemoved" not in ds
    codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    assert codes == ["113101"]


@pytest.mark.parametrize(
    "keyword",
    ["PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName"],
)
def test_identifying_attributes_replaced(runs, keyword):
    _, _, out, _ = runs
    for ds in out["s1"].values():
        assert str(ds.get(keyword, "")) != PHI[keyword]


def test_accession_number_and_dates(runs):
    _, _, out, _ = runs
    ds = out["s1"]["a.dcm"]
    assert ds.AccessionNumber != PHI["AccessionNumber"]
    # Dates are shifted back (62 to 730 days) by one offset per salt, so intervals are kept.
    assert ds.StudyDate < PHI["StudyDate"]
    shift = np.datetime64("2024-03-05") - np.datetime64(
        f"{ds.StudyDate[:4]}-{ds.StudyDate[4:6]}-{ds.StudyDate[6:]}"
    )
    assert 62 <= shift.astype(int) <= 731
    assert out["s1"]["b.dcm"].StudyDate == ds.StudyDate


def test_removed_free_text_and_private_elements(runs):
    _, _, out, _ = runs
    for ds in out["s1"].values():
        for keyword in ("StudyDescription", "PatientAge", "ImageComments"):
            assert keyword not in ds
        assert not any(elem.tag.is_private for elem in ds.iterall())


def test_uids_changed_and_consistent_within_a_run(runs):
    _, old, out, _ = runs
    a, b = out["s1"]["a.dcm"], out["s1"]["b.dcm"]
    assert a.SOPInstanceUID != old["a.dcm"] and a.SOPInstanceUID != b.SOPInstanceUID
    assert _uids(a)[1:] == _uids(b)[1:]
    assert a.StudyInstanceUID != STUDY and a.SeriesInstanceUID != SERIES
    assert a.FrameOfReferenceUID != FRAME_OF_REF
    assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert a.SOPClassUID == out["keep"]["a.dcm"].SOPClassUID  # class UIDs are not identities
    for ds in (a, b):
        assert all(len(uid) <= 64 for uid in _uids(ds))


def test_same_salt_same_uids_other_salt_other_uids(runs):
    _, _, out, _ = runs
    for name in ("a.dcm", "b.dcm"):
        assert _uids(out["s1"][name]) == _uids(out["s1again"][name])
        assert out["s1"][name].PatientID == out["s1again"][name].PatientID
        assert not set(_uids(out["s1"][name])) & set(_uids(out["s2"][name]))


def test_file_meta_and_profile_marks(runs):
    _, _, out, _ = runs
    for ds in out["s1"].values():
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PatientIdentityRemoved == "YES" and ds.BurnedInAnnotation == "NO"
        assert BASIC_METHOD in ds.DeidentificationMethod
        assert len(BASIC_METHOD) <= 64  # LO
        codes = {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}
        assert {"113100", "113101"} <= codes


def test_salt_not_recorded(runs):
    _, _, _, root = runs
    for path in (root / "s1").rglob("*"):
        if path.is_file():  # the output tree also holds folders (e.g. OUT/.medocr)
            assert b"salt-one" not in path.read_bytes()


def test_pixels_identical_to_keep(runs):
    _, _, out, _ = runs
    for name in ("a.dcm", "b.dcm"):
        assert np.array_equal(out["s1"][name].pixel_array, out["keep"][name].pixel_array)
    assert not np.array_equal(
        out["s1"]["a.dcm"].pixel_array, pydicom.dcmread(runs[0] / "a.dcm").pixel_array
    )


def test_png_under_basic_is_written(runs):
    _, _, _, root = runs
    assert (root / "s1" / "p.png").is_file()


def test_deidentify_header_function_direct():
    ds = Dataset()
    ds.PatientName, ds.SOPInstanceUID, ds.BurnedInAnnotation = "DOE^JANE", "1.2.3.4", "YES"
    deidentify_header(ds, "k")
    assert ds.PatientName != "DOE^JANE" and ds.SOPInstanceUID != "1.2.3.4"
    assert "PatientIdentityRemoved" not in ds  # pixels not known to be clean: no claim
    with pytest.raises(ValueError):
        deidentify_header(ds, "")


@pytest.mark.parametrize(("header", "salt"), [("strict", None), ("keep", "s"), ("basic", "")])
def test_bad_header_options(tmp_path, header, salt):
    (tmp_path / "in").mkdir()
    with pytest.raises(UsageError):
        run_scrub(
            ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "o", header=header, salt=salt)
        )


def test_cli_options(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["scrub", "--help"])
    assert "--header" in result.output and "--salt" in result.output
    src = tmp_path / "in"
    write_ct(src / "c.dcm", size=96)
    result = runner.invoke(
        app, ["scrub", str(src), str(tmp_path / "o"), "--header", "basic", "--salt", "x"]
    )
    assert result.exit_code == 0, result.output
    ds = pydicom.dcmread(tmp_path / "o" / "c.dcm")
    assert ds.PatientIdentityRemoved == "YES" and ds.PatientName != "DOE^JANE"
    result = runner.invoke(app, ["scrub", str(src), str(tmp_path / "o2"), "--salt", "x"])
    assert result.exit_code == 2


# --- issue 24 part 3: the whole Basic Profile, as a table --------------------------------------

MARKER = "ZEBULONQUIXWORTH"  # 16 characters: fits AE, CS and SH as well as the long text VRs
TEXT_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"}
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
#: Valid values for the VRs the marker cannot take; these must come out changed or gone.
VALID = {"DA": "20240305", "DT": "20240305101530", "TM": "101530", "AS": "063Y"}


def _table_entries():
    """(tag, VR, action) of every table attribute; one tag per mask (curves, overlays)."""
    table = basic_profile_table()
    for tag, action in table.exact.items():
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:  # newer than pydicom's dictionary: write it as LO
            vr = "LO"
        yield tag, vr, action
    for group, element, _, element_mask, action in table.masks:
        if element_mask:  # (60xx,3000) overlay data, (60xx,4000) overlay comments
            for g in (group, group + 2):
                yield (g << 16) | element, {0x3000: "OW", 0x4000: "LT"}[element], action
        else:  # (50xx,xxxx) curve data: its description and its data
            yield (group << 16) | 0x0022, "LO", action
            yield (group << 16) | 0x3000, "OB", action


def _fill(ds: Dataset) -> dict[int, str]:
    """Put the marker into every text and binary attribute of the table, valid values into
    the others; return the tags that got a non-marker value, with that value."""
    others = {}
    for tag, vr, _ in _table_entries():
        if tag >> 16 in (0x0000, 0x0002) or tag == 0xFFFCFFFC:
            continue  # command and file meta groups, and trailing padding, are not dataset body
        if vr in TEXT_VRS:
            ds.add_new(tag, vr, MARKER)
        elif vr in BINARY_VRS:
            ds.add_new(tag, vr, MARKER.encode())
        elif vr in VALID or vr == "UI":
            others[tag] = VALID[vr] if vr in VALID else generate_uid()
            ds.add_new(tag, vr, others[tag])
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091010, "LO", MARKER)
    return others


def _text_item() -> Dataset:
    """A TEXT content item (Text Value and Code Meaning are not in the table themselves)."""
    item = Dataset()
    item.ValueType, item.TextValue = "TEXT", f"report of {MARKER}"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121071", "DCM", MARKER
    item.ConceptNameCodeSequence = Sequence([code])
    return item


def _marked_dataset() -> tuple[Dataset, dict[str, dict[int, str]]]:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    others = {"": _fill(ds)}
    ds.SOPClassUID, ds.BurnedInAnnotation = CTImageStorage, "NO"
    # Items of sequences the table deletes (X), replaces (D), keeps (X/Z/U*) and does not name.
    for keyword in (
        "RequestAttributesSequence",
        "ContentSequence",
        "ReferencedImageSequence",
        "AnatomicRegionSequence",
    ):
        item = Dataset()
        others[keyword] = _fill(item)
        item.ContentSequence = Sequence([_text_item()])
        setattr(ds, keyword, Sequence([item]))
    ds.ContentSequence.append(_text_item())
    return ds, others


def test_basic_profile_table_is_complete():
    table = basic_profile_table()
    assert len(table) >= 655 and "dicom-anonymizer" in table.source
    assert {a for a in table.exact.values()} == {
        "D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"
    }  # fmt: skip
    for keyword in (
        "ReferringPhysicianAddress",
        "CommentsOnThePerformedProcedureStep",
        "CommentsOnRadiationDose",
        "RequestedProcedureComments",
        "RequestAttributesSequence",
    ):
        assert table.action(Tag(keyword)) == "X", keyword
    assert table.action(Tag("DeviceSerialNumber")) == "X/Z/D"
    assert table.action(Tag("ContentSequence")) == "D"
    assert table.action(Tag(0x50100022)) == "X"  # curve data mask
    assert table.action(Tag(0x601E4000)) == table.action(Tag(0x60023000)) == "X"  # overlays
    for keyword in ("SOPClassUID", "PixelData", "Rows", "BurnedInAnnotation"):
        assert table.action(Tag(keyword)) is None, keyword  # kept


@pytest.mark.filterwarnings("ignore::UserWarning")  # dicognito probes keywords that don't exist
def test_marker_in_every_table_attribute_leaves_no_trace(tmp_path):
    ds, others = _marked_dataset()
    n_marked = sum(1 for elem in ds.iterall() if elem.value in (MARKER, MARKER.encode()))
    assert n_marked > 4 * 400  # every text attribute of the table, at top level and in items
    deidentify_header(ds, "salt-z")
    path = tmp_path / "marked.dcm"
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    assert MARKER.encode() not in data
    assert MARKER.encode("utf-16-le") not in data
    out = pydicom.dcmread(path)
    assert out.PatientIdentityRemoved == "YES"
    assert not any(elem.tag.is_private for elem in out.iterall())
    deleted = {tag for tag, _, action in _table_entries() if action in DELETED_ACTIONS}
    assert not deleted & {int(elem.tag) for elem in out.iterall()}
    assert "RequestAttributesSequence" not in out  # X: gone with everything inside
    # Dates, times, ages and UIDs (which cannot hold the marker) are changed or gone.
    for keyword in ("", "ContentSequence", "ReferencedImageSequence", "AnatomicRegionSequence"):
        where = out if not keyword else out[keyword].value[0]
        for tag, old in others[keyword].items():
            elem = where.get(tag)
            assert elem is None or elem.value in (None, "") or str(elem.value) != old, hex(tag)
    # Kept: what a viewer needs, and the references (X/Z/U*) with their UIDs remapped.
    assert out.SOPClassUID == CTImageStorage
    ref = out.ReferencedImageSequence[0]
    assert ref.ReferencedSOPInstanceUID != others["ReferencedImageSequence"][Tag(0x00081155)]
    assert out.ContentSequence[1].ValueType == "TEXT"


def _unmarked_profile_dataset() -> Dataset:
    ds = Dataset()
    ds.PatientName, ds.SOPInstanceUID, ds.BurnedInAnnotation = "DOE^JANE", "1.2.3.4", "NO"
    ds.ImageComments = "Jane Doe, bed 4"
    return ds


def test_failed_profile_check_never_claims_identity_removed(monkeypatch):
    ds = _unmarked_profile_dataset()
    deidentify_header(ds, "k")  # the real thing holds
    assert ds.PatientIdentityRemoved == "YES" and "ImageComments" not in ds
    monkeypatch.setattr(deid_header, "_apply_table", lambda *args: None)
    ds = _unmarked_profile_dataset()
    with pytest.raises(OutputError) as caught:
        deidentify_header(ds, "k")
    assert ds.get("PatientIdentityRemoved") != "YES"  # dicognito's own claim is withdrawn
    assert "(0020,4000)" in str(caught.value)  # Image Comments, named by tag ...
    assert "Jane" not in str(caught.value) and "k" not in caught.value.message.split()


def test_failed_profile_check_fails_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(deid_header, "_apply_table", lambda *args: None)
    src = tmp_path / "in"
    write_ct(src / "c.dcm", size=64)
    ds = pydicom.dcmread(src / "c.dcm")
    ds.ImageComments = "Jane Doe, bed 4"  # an X attribute the patched step leaves in place
    ds.save_as(src / "c.dcm", enforce_file_format=True)
    summary = run_scrub(
        ScrubConfig(inputs=[src], output=tmp_path / "o", header="basic", salt="s", verify=False)
    )
    (result,) = summary.results
    assert result.status == Status.FAILED and "Basic Profile" in (result.error or "")
    assert not (tmp_path / "o" / "c.dcm").exists()


def test_cli_salt_file_and_env(tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(app, ["scrub", "--help"], terminal_width=200).output
    assert "--salt-file" in help_text and "MEDOCR_SALT" in help_text
    src = tmp_path / "in"
    write_ct(src / "c.dcm", size=64)
    salt_file = tmp_path / "salt.txt"
    salt_file.write_text("  secret-x  \nsecond line is ignored\n")
    args = ["scrub", str(src), "--header", "basic", "--no-verify"]
    uids = {}
    for label, extra, env in [
        ("flag", ["--salt", "secret-x"], {}),
        ("file", ["--salt-file", str(salt_file)], {}),
        ("env", [], {"MEDOCR_SALT": "secret-x"}),
        ("other", ["--salt", "secret-y"], {}),
    ]:
        result = runner.invoke(app, [*args[:2], str(tmp_path / label), *args[2:], *extra], env=env)
        assert result.exit_code == 0, result.output
        uids[label] = pydicom.dcmread(tmp_path / label / "c.dcm").SOPInstanceUID
    assert uids["flag"] == uids["file"] == uids["env"] != uids["other"]
    # MEDOCR_SALT is ambient: --header keep ignores it rather than refusing the run.
    keep = ["scrub", str(src), str(tmp_path / "keep"), "--no-verify"]
    result = runner.invoke(app, keep, env={"MEDOCR_SALT": "secret-x"})
    assert result.exit_code == 0, result.output
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    for n, (extra, env) in enumerate(
        [
            (["--salt", "secret-x", "--salt-file", str(salt_file)], {}),
            (["--salt-file", str(salt_file)], {"MEDOCR_SALT": "secret-x"}),
            (["--salt-file", str(empty)], {}),
            (["--salt-file", str(tmp_path / "missing.txt")], {}),
            (["--salt-file", str(tmp_path)], {}),  # a folder
        ]
    ):
        out = str(tmp_path / f"bad{n}")
        result = runner.invoke(app, [*args[:2], out, *args[2:], *extra], env=env)
        assert result.exit_code == 2, result.output
        assert "secret" not in result.output and "salt" in result.output
        if "--salt-file" in extra and "--salt" not in extra and not env:
            assert extra[-1] in result.output.replace("\n", "")  # names the file


#: A patient name hidden where the dataset itself has no place for it.
MARK = "ZEBULON^QUIXWORTH"


def _file_with_meta_text(path: Path) -> None:
    """A small DICOM with a marker in its preamble and in the file meta's text elements."""
    make_dicom(path, gradient(16, 16))
    ds = pydicom.dcmread(path)
    ds.preamble = MARK.encode().ljust(128, b"\0")
    meta = ds.file_meta
    meta.SourceApplicationEntityTitle = "ZEBULONAE"
    meta.SendingApplicationEntityTitle = "ZEBULONAE"
    meta.ReceivingApplicationEntityTitle = "ZEBULONAE"
    meta.ImplementationVersionName = "ZEBULON_SH"
    meta.PrivateInformationCreatorUID = "1.2.3.4"
    meta.PrivateInformation = MARK.encode()
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize("header", ["keep", "basic"])
def test_preamble_is_never_copied(tmp_path, header):
    _file_with_meta_text(tmp_path / "in.dcm")
    deid = deid_header.HeaderDeidentifier("s") if header == "basic" else None
    write_scan(read_scan(tmp_path / "in.dcm"), tmp_path / "out.dcm", header=deid)
    assert (tmp_path / "out.dcm").read_bytes()[:128] == b"\0" * 128


def test_basic_leaves_no_text_in_the_file_meta(tmp_path):
    _file_with_meta_text(tmp_path / "in.dcm")
    write_scan(
        read_scan(tmp_path / "in.dcm"),
        tmp_path / "out.dcm",
        header=deid_header.HeaderDeidentifier("s"),
    )
    data = (tmp_path / "out.dcm").read_bytes()
    assert b"ZEBULON" not in data
    meta = pydicom.dcmread(tmp_path / "out.dcm").file_meta
    assert {elem.keyword for elem in meta} == {
        "FileMetaInformationGroupLength",
        "FileMetaInformationVersion",
        "MediaStorageSOPClassUID",
        "MediaStorageSOPInstanceUID",
        "TransferSyntaxUID",
        "ImplementationClassUID",
        "ImplementationVersionName",
    }
    assert meta.ImplementationVersionName.startswith("PYDICOM")


def test_the_profile_check_covers_the_file_meta():
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "ZEBULONAE"
    assert deid_header.check_file_meta(meta) == ["(0002,0016)"]
