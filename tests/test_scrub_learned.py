"""`scrub` with the learned finder: routing fallback, finders, report fields, workers, HTML."""

import copy
import json
from dataclasses import replace

import numpy as np
import pytest
from _phi_images import ocr_words, phi_read, write_ct, write_png

from medocr_cli.errors import NotBuiltError, UsageError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import REPORT_NAME
from medocr_cli.models.classifier.predictor import Verdict
from medocr_cli.pipeline import find_text
from medocr_cli.pipeline.find_text import LearnedFinder, region_crops
from medocr_cli.pipeline.scrub import ScrubConfig, load_run_models, run_scrub
from medocr_cli.types import Box, Status


def test_learned_scrub_removes_text_and_reports_stages(tmp_path):
    write_png(tmp_path / "in" / "a.png")
    summary = run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "out"))
    (result,) = summary.results
    assert result.status == Status.OK and result.verified
    assert phi_read(ocr_words(read_scan(tmp_path / "out" / "a.png").display(0))) == []
    stages = result.stage_seconds
    assert {"read", "classify", "detect", "mask", "inpaint", "write", "verify"} <= set(stages)
    assert result.label in ("P", "PH")
    assert result.regions and all(len(r) == 5 for r in result.regions)


def test_report_has_no_text_unless_asked(tmp_path):
    write_png(tmp_path / "in" / "a.png")
    config = ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "quiet", tesseract="regions")
    run_scrub(config)
    quiet = (tmp_path / "quiet" / REPORT_NAME).read_text()
    assert phi_read(quiet) == [] and "texts" not in json.loads(quiet)
    config = ScrubConfig(
        inputs=[tmp_path / "in"], output=tmp_path / "loud", tesseract="regions", report_text=True
    )
    run_scrub(config)
    loud = json.loads((tmp_path / "loud" / REPORT_NAME).read_text())
    assert phi_read(" ".join(t["text"] for t in loud["texts"]))  # the reading is there


class EmptyDetector:
    """A detector double for the finder: no line in any frame."""

    def detect_with_maps(self, frames, batch_size=8, frame_indices=None):
        return [([], None) for _ in frames]


class FixedClassifier:
    """A classifier double: the same verdict for every frame."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    def predict(self, frames, batch_size=32):
        return [self.verdict for _ in frames]


def finding_nothing(config: ScrubConfig, verdict: Verdict):
    """The run's models; the finder's detector finds nothing, its classifier says `verdict`.

    Verify keeps the real detector.
    """
    models = load_run_models(config)
    finder = copy.copy(models.finder)
    finder.detector, finder.classifier = EmptyDetector(), FixedClassifier(verdict)
    return replace(models, finder=finder)


def test_classifier_doubt_sends_an_empty_detection_to_tesseract(tmp_path):
    """A frame the detector calls empty but the classifier calls text is read by Tesseract."""
    write_png(tmp_path / "in" / "a.png")
    config = ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "out", verify=False)
    doubt = Verdict("P", {"None": 0.1, "P": 0.9, "H": 0.0, "PH": 0.0})
    summary = run_scrub(config, models=finding_nothing(config, doubt))
    (result,) = summary.results
    assert result.fallback_frames == 1 and result.boxes >= 3
    assert phi_read(ocr_words(read_scan(tmp_path / "out" / "a.png").display(0))) == []


def test_confident_none_with_nothing_detected_is_left_alone(tmp_path):
    write_png(tmp_path / "in" / "a.png")
    config = ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "out")
    none = Verdict("None", {"None": 0.97, "P": 0.03, "H": 0.0, "PH": 0.0})
    summary = run_scrub(config, models=finding_nothing(config, none))
    (result,) = summary.results
    assert result.fallback_frames == 0 and result.boxes == 0


def test_classical_finder_still_works(tmp_path):
    write_ct(tmp_path / "in" / "ct.dcm")
    summary = run_scrub(
        ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "out", find="tesseract")
    )
    (result,) = summary.results
    assert result.status == Status.OK and result.boxes >= 3
    assert "classify" not in result.stage_seconds
    out = read_scan(tmp_path / "out" / "ct.dcm")
    assert out.frames[0].dtype == np.int16


def test_workers_give_the_same_outputs(tmp_path):
    for i in range(3):
        write_png(tmp_path / "in" / f"{i}.png", seed=i)
    one = run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "one"))
    two = run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "two", workers=2))
    assert [r.path for r in one.results] == [r.path for r in two.results]  # input order kept
    for i in range(3):
        a = (tmp_path / "one" / f"{i}.png").read_bytes()
        b = (tmp_path / "two" / f"{i}.png").read_bytes()
        assert a == b
    assert two.exit_code == 0


def test_html_review_page_on_request(tmp_path):
    write_png(tmp_path / "in" / "a.png")
    run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "plain"))
    assert not (tmp_path / "plain" / "medocr-report.html").exists()  # off by default
    summary = run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "o", html=True))
    assert summary.html_path == tmp_path / "o" / "medocr-report.html"
    assert "<img" in summary.html_path.read_text()


def test_missing_detector_weights_is_a_clear_error(tmp_path):
    write_png(tmp_path / "in" / "a.png")
    (tmp_path / "w").mkdir()
    with pytest.raises(NotBuiltError, match=r"detector\.pt") as err:
        run_scrub(
            ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "o", weights=tmp_path / "w")
        )
    assert "--find tesseract" in (err.value.hint or "")


@pytest.mark.parametrize(
    "change", [{"find": "magic"}, {"tesseract": "always"}, {"workers": 0}, {"method": "blur"}]
)
def test_bad_options_are_usage_errors(tmp_path, change):
    write_png(tmp_path / "in" / "a.png")
    with pytest.raises(UsageError):
        run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "o", **change))


def test_region_crops_join_overlaps():
    boxes = [Box(0, 10, 10, 50, 20), Box(0, 60, 10, 90, 20), Box(0, 10, 200, 40, 210)]
    crops = region_crops(boxes, (256, 256))
    assert len(crops) == 2  # the two neighbours on one line share a crop
    assert crops[0][0] == 0 and crops[0][2] >= 110


def test_learned_finder_refuses_unknown_tesseract_mode():
    with pytest.raises(UsageError):
        LearnedFinder(tesseract="sometimes")


def test_stacked_verify_reads_text_left_in_place(tmp_path):
    """The verify reader finds text that was not removed (and nothing once it is gone)."""
    boxes_true = write_png(tmp_path / "a.png")
    image = read_scan(tmp_path / "a.png").display(0)
    boxes = [Box(0, *b) for b in boxes_true]
    found = find_text.read_stacked(image, 0, boxes)
    assert phi_read(" ".join(b.text for b in found))
    assert all(0 <= b.x0 < b.x1 <= 256 and 0 <= b.y0 < b.y1 <= 256 for b in found)
    blank = np.full_like(image, int(np.median(image)))
    assert find_text.read_stacked(blank, 0, boxes) == []


def test_large_scan_with_proportionally_large_text(tmp_path):
    """A 3000 px scan with 90 px text (beyond the 512 px training range) is found and cleaned."""
    from _phi_images import FONT
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.normal(40, 8, (3000, 3000)).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 90)
    for n, line in enumerate(["DOE^JANE", "MRN 4821937", "DOB 1957-03-14"]):
        draw.text((90, 90 + n * 180), line, fill=240, font=font)
    (tmp_path / "in").mkdir()
    img.save(tmp_path / "in" / "big.png")
    summary = run_scrub(
        ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "out", method="telea", verify=False)
    )
    (result,) = summary.results
    assert result.status == Status.OK and result.boxes >= 3
    before = np.asarray(img)[:700, :1000]
    after = read_scan(tmp_path / "out" / "big.png").frames[0][:700, :1000]
    assert (before > 150).sum() > 10_000  # the text was there
    assert (after > 150).sum() == 0  # and every stroke is gone
