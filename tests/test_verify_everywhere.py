"""Verify looks at every frame in full, and outputs tell the truth (issue 23).

Before this change verify searched only frames that had boxes and only over the removed
regions: text the finder missed (low contrast, vertical, under a CT window, a faint line beside a
bright one) left as `ok`, and a flagged DICOM still said BurnedInAnnotation NO. The hard set is
generated in `tests/_hard_set.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _hard_set import is_unsafe, readable_words, write_hard_set
from _phi_images import write_ct, write_png
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.io import read_scan
from medocr_cli.io.walk import REPORT_NAME, InputFile
from medocr_cli.pipeline.scrub import RunModels, ScrubConfig, load_run_models, run_scrub, scrub_file
from medocr_cli.types import Status

runner = CliRunner()


@pytest.fixture(scope="module")
def models() -> RunModels:
    """The shipped finder, detector and Telea, loaded once for the module."""
    return load_run_models(ScrubConfig(inputs=[], output=Path("."), method="telea"))


class NoRepaint:
    """A learned-inpainter stand-in that repaints nothing, so the text stays (a seam, no patch)."""

    def repaint(self, frame, mask, *, value_range, palette=None):
        return frame.copy()


def report(out: Path) -> dict[str, dict]:
    lines = [json.loads(x) for x in (out / REPORT_NAME).read_text().splitlines()]
    return {Path(line["path"]).name: line for line in lines}


def test_hard_set_leaves_no_unsafe_output(tmp_path: Path) -> None:
    """Every hard case: the input is readable, the output in the tree is not (or quarantined)."""
    src, out = tmp_path / "in", tmp_path / "out"
    cases = write_hard_set(src)
    for case in cases:  # the yardstick reads every input: the cases are fair
        assert readable_words(read_scan(case.path).frames, case), case.name
    summary = run_scrub(ScrubConfig(inputs=[src], output=out))
    lines = report(out)
    unsafe = []
    for case in cases:
        line = lines[case.path.name]
        output = Path(line["output"]) if line.get("output") else None
        if is_unsafe(case, line, output):
            unsafe.append(case.name)
    assert unsafe == []
    assert summary.counts[Status.FAILED] == 0


def test_flagged_dicom_is_quarantined_without_clean_marks(tmp_path: Path, models) -> None:
    """Text that stays (nothing repaints it) flags the file: quarantined, BurnedInAnnotation YES."""
    write_ct(tmp_path / "in" / "ct.dcm", size=160)
    out = tmp_path / "out"
    stuck = RunModels(models.finder, "learned", NoRepaint(), models.detector)
    item = InputFile(tmp_path / "in" / "ct.dcm", Path("ct.dcm"), True)
    result = scrub_file(item, out / "ct.dcm", ScrubConfig(inputs=[], output=out), models=stuck)
    assert result.status == Status.FLAGGED and result.output is None
    assert result.residual >= 1 and result.residual_regions
    moved = out / "_quarantine" / "ct.dcm"
    assert result.quarantined == str(moved) and not (out / "ct.dcm").exists()
    ds = pydicom.dcmread(moved)
    assert ds.BurnedInAnnotation == "YES"
    codes = [c.CodeValue for c in ds.get("DeidentificationMethodCodeSequence", [])]
    assert "113101" not in codes


def test_verified_dicom_is_marked_clean_and_unverified_is_not(tmp_path: Path) -> None:
    write_ct(tmp_path / "in" / "ct.dcm", size=160)
    run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "a", method="telea"))
    ds = pydicom.dcmread(tmp_path / "a" / "ct.dcm")
    assert ds.BurnedInAnnotation == "NO"
    assert "113101" in [c.CodeValue for c in ds.DeidentificationMethodCodeSequence]
    run_scrub(
        ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "b", method="telea", verify=False)
    )
    ds = pydicom.dcmread(tmp_path / "b" / "ct.dcm")
    assert ds.BurnedInAnnotation == "YES"  # never checked: no claim that it is clean
    assert "113101" not in [c.CodeValue for c in ds.get("DeidentificationMethodCodeSequence", [])]


def test_text_the_finder_missed_is_found_and_removed(tmp_path: Path, models) -> None:
    """A low-contrast name (the detector does not see it as displayed) is removed by verify."""
    cases = {c.name: c for c in write_hard_set(tmp_path / "in")}
    case = cases["low_contrast"]
    out = tmp_path / "out"
    item = InputFile(case.path, Path(case.path.name), True)
    result = scrub_file(
        item, out / case.path.name, ScrubConfig(inputs=[], output=out), models=models
    )
    assert result.status == Status.OK and result.repaired >= 1
    assert readable_words(read_scan(out / case.path.name).frames, case) == []
    assert any(r[1] < 40 and r[2] < 30 for r in result.regions)  # the top-left line


def test_flagged_keep_leaves_the_file_in_the_tree(tmp_path: Path, models) -> None:
    write_png(tmp_path / "in" / "a.png", size=160)
    out = tmp_path / "out"
    stuck = RunModels(models.finder, "learned", NoRepaint(), models.detector)
    item = InputFile(tmp_path / "in" / "a.png", Path("a.png"), True)
    config = ScrubConfig(inputs=[], output=out, flagged="keep")
    result = scrub_file(item, out / "a.png", config, models=stuck)
    assert result.status == Status.FLAGGED and result.output == str(out / "a.png")
    assert (out / "a.png").exists() and not (out / "_quarantine").exists()


def test_release_moves_a_reviewed_file_into_the_tree(tmp_path: Path) -> None:
    """scrub quarantines (default), the review page shows the frame, release records it."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "sub" / "a.png", size=160)
    from medocr_cli.pipeline.scrub.journal import Journal, run_lock, write_report

    # A flagged, quarantined result as scrub writes it (the file and its journal line).
    moved = out / "_quarantine" / "sub" / "a.png"
    moved.parent.mkdir(parents=True)
    moved.write_bytes((src / "sub" / "a.png").read_bytes())
    with run_lock(out):
        journal = Journal(out)
        journal.append(
            {
                "path": str(src / "sub" / "a.png"),
                "status": "flagged",
                "output": None,
                "quarantined": str(moved),
                "residual": 1,
                "residual_regions": [[0, 5, 5, 60, 25]],
            }
        )
        journal.close()
        write_report(out)
    bad = runner.invoke(app, ["release", str(out), "nope.png"])
    assert bad.exit_code == 1 and "not released" in bad.output
    result = runner.invoke(app, ["release", str(out), "sub/a.png", "--note", "checked"])
    assert result.exit_code == 0, result.output
    assert (out / "sub" / "a.png").is_file() and not moved.exists()
    line = report(out)["a.png"]
    assert line["status"] == "ok" and line["output"] == str(out / "sub" / "a.png")
    assert line["released"]["note"] == "checked" and line["quarantined"] is None
    again = runner.invoke(app, ["release", str(out), "sub/a.png"])
    assert again.exit_code == 1  # nothing left to release


def test_review_page_shows_flagged_frames_at_full_size(tmp_path: Path, models) -> None:
    from medocr_cli.pipeline.report_html import THUMB_DIR, write_html_report

    write_png(tmp_path / "in" / "a.png", size=160)
    out = tmp_path / "out"
    stuck = RunModels(models.finder, "learned", NoRepaint(), models.detector)
    item = InputFile(tmp_path / "in" / "a.png", Path("a.png"), True)
    result = scrub_file(item, out / "a.png", ScrubConfig(inputs=[], output=out), models=stuck)
    assert result.status == Status.FLAGGED
    page = write_html_report(out, [result]).read_text()
    pngs = sorted((out / THUMB_DIR).glob("*.flagged.0.png"))
    assert len(pngs) == 1 and pngs[0].name in page
    full = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(pngs[0]))
    assert full.shape[:2] == (160, 160)  # full resolution, not a thumbnail
    assert (full == (255, 220, 0)).all(axis=2).any()  # the region found, outlined
