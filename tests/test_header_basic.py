"""`scrub --header basic --salt S`: Annex E Basic Profile on DICOM headers, UIDs keyed by salt."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_images import write_ct, write_png
from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import UsageError
from medocr_cli.io.deid_header import BASIC_METHOD, deidentify_header
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
