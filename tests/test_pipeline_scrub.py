import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_images import PHI_LINES, ocr_words, phi_read, tree_digest, write_ct, write_png
from PIL import Image

from medocr_cli.errors import UsageError
from medocr_cli.io import read_scan
from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub
from medocr_cli.types import Status


@pytest.fixture(scope="module")
def scrubbed(tmp_path_factory):
    root = tmp_path_factory.mktemp("scrub")
    src = root / "in"
    boxes = {
        "a.png": write_png(src / "a.png"),
        "sub/ct.dcm": write_ct(src / "sub" / "ct.dcm"),
        "sub/cine.dcm": write_ct(src / "sub" / "cine.dcm", size=160, frames=3),
    }
    (src / "notes.txt").write_text("not an image")
    (src / "sub" / "broken.png").write_text("this is text, not a PNG")
    before = tree_digest(src)
    out = root / "out"
    summary = run_scrub(ScrubConfig(inputs=[src], output=out))
    return src, out, summary, boxes, before


def test_statuses_and_exit_code(scrubbed):
    _src, _out, summary, _, _ = scrubbed
    by_name = {Path(r.path).name: r for r in summary.results}
    assert by_name["a.png"].status == Status.OK
    assert by_name["ct.dcm"].status == Status.OK
    assert by_name["cine.dcm"].status == Status.OK and by_name["cine.dcm"].frames == 3
    assert by_name["notes.txt"].status == Status.SKIPPED
    assert by_name["broken.png"].status == Status.FAILED
    assert "broken.png" in by_name["broken.png"].error and "\n" not in by_name["broken.png"].error
    assert summary.exit_code == 1


def test_output_tree_mirrors_input_and_failed_file_is_not_copied(scrubbed):
    _, out, _, _, _ = scrubbed
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        ".medocr/journal.jsonl",
        ".medocr/lock",
        "a.png",
        "medocr-report.jsonl",
        "sub/cine.dcm",
        "sub/ct.dcm",
    ]


def test_inputs_untouched(scrubbed):
    src, _, _, _, before = scrubbed
    assert tree_digest(src) == before


def test_report_lines(scrubbed):
    _, out, summary, _, _ = scrubbed
    lines = [json.loads(x) for x in (out / "medocr-report.jsonl").read_text().splitlines()]
    assert len(lines) == len(summary.results) == 5
    for line in lines:
        assert {"path", "status", "frames", "boxes", "seconds", "error"} <= set(line)
    text = (out / "medocr-report.jsonl").read_text()
    assert "4821937" not in text and "JANE" not in text  # no PHI in the report


@pytest.mark.parametrize("name", ["a.png", "sub/ct.dcm", "sub/cine.dcm"])
def test_phi_no_longer_readable(scrubbed, name):
    src, out, _, _, _ = scrubbed
    before = read_scan(src / name)
    after = read_scan(out / name)
    assert len(phi_read(ocr_words(before.display(0)))) >= 3  # the test data is legible
    for i in range(after.n_frames):
        assert phi_read(ocr_words(after.display(i))) == []


@pytest.mark.parametrize("name", ["a.png", "sub/ct.dcm"])
def test_changes_stay_near_the_text(scrubbed, name):
    src, out, _, boxes, _ = scrubbed
    a = read_scan(src / name).frames[0]
    b = read_scan(out / name).frames[0]
    assert a.dtype == b.dtype and a.shape == b.shape
    allowed = np.zeros(a.shape[:2], bool)
    for x0, y0, x1, y1 in boxes[name]:
        allowed[max(0, y0 - 12) : y1 + 12, max(0, x0 - 12) : x1 + 12] = True
    changed = a != b
    assert changed.any()
    assert not changed[~allowed].any()


def test_dicom_output_rules(scrubbed):
    _, out, _, _, _ = scrubbed
    ds = pydicom.dcmread(out / "sub" / "ct.dcm")
    assert ds.BurnedInAnnotation == "NO"
    assert any(item.CodeValue == "113101" for item in ds.DeidentificationMethodCodeSequence)
    assert ds.PixelRepresentation == 1 and ds.pixel_array.dtype == np.int16
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_existing_outputs_need_overwrite(scrubbed, tmp_path):
    src, _out, _, _, _ = scrubbed
    target = tmp_path / "out"
    target.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(target / "a.png")
    with pytest.raises(UsageError, match="--overwrite"):  # a clash: refused before anything
        run_scrub(ScrubConfig(inputs=[src / "a.png"], output=target))
    assert sorted(p.name for p in target.iterdir()) == ["a.png"]
    summary = run_scrub(ScrubConfig(inputs=[src / "a.png"], output=target, overwrite=True))
    assert summary.results[0].status == Status.OK


def test_output_inside_input_is_refused(tmp_path):
    write_png(tmp_path / "a.png")
    with pytest.raises(UsageError):
        run_scrub(ScrubConfig(inputs=[tmp_path], output=tmp_path / "cleaned"))
    with pytest.raises(UsageError):
        run_scrub(ScrubConfig(inputs=[tmp_path], output=tmp_path))


def test_stop_on_error(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a_bad.dcm").write_bytes(np.random.default_rng(0).bytes(2000))
    write_png(src / "b.png")
    summary = run_scrub(ScrubConfig(inputs=[src], output=tmp_path / "out", stop_on_error=True))
    assert [r.status for r in summary.results] == [Status.FAILED]
    assert summary.stopped_early and summary.exit_code == 1
    assert not (tmp_path / "out" / "b.png").exists()


def test_phi_lines_constant():
    assert len(PHI_LINES) == 3
