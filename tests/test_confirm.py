"""The confirm step (issue 22): the text / non-text check, colour flow, the finder's use."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from _phi_images import background, ocr_words, phi_read, text_layer

from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.confirm.data import MinedSplit, Region
from medocr_cli.models.confirm.network import collate, region_input, region_scalars
from medocr_cli.models.confirm.predictor import Confirmer
from medocr_cli.models.confirm.spec import confirm_spec
from medocr_cli.models.confirm.training import measure, threshold_for
from medocr_cli.models.registry import build
from medocr_cli.pipeline.find_text import LearnedFinder
from medocr_cli.stages.diagnostic import hue_spread, in_colour_flow
from medocr_cli.types import Box


class ScoreAll:
    """A check stand-in that gives every region the same P(text)."""

    def __init__(self, p: float, threshold: float = 0.5, threshold_none: float = 0.5) -> None:
        self.p, self.threshold, self.threshold_none, self.calls = p, threshold, threshold_none, 0

    def score(self, frame, boxes):
        self.calls += 1
        return np.full(len(boxes), self.p, np.float32)


def flow_blob(frame: np.ndarray, x: int, y: int) -> None:
    """Draw orange-to-yellow power-Doppler-like curved blobs into an RGB frame."""
    rng = np.random.default_rng(1)
    for _ in range(40):
        cx, cy = x + int(rng.integers(0, 90)), y + int(rng.integers(0, 40))
        colour = (255, int(rng.integers(40, 230)), 0)
        cv2.ellipse(
            frame,
            (cx, cy),
            (int(rng.integers(3, 10)), 2),
            float(rng.integers(0, 180)),
            0,
            360,
            colour,
            -1,
        )


def text_and_flow_frame() -> np.ndarray:
    """A 256 px RGB ultrasound-like frame: white PHI at the top, power Doppler lower down."""
    grey = background(256) * 255
    alpha, _ = text_layer(256)
    grey = grey * (1 - alpha / 255) + 255 * alpha / 255
    frame = np.repeat(grey.round().astype(np.uint8)[..., None], 3, axis=2)
    flow_blob(frame, 100, 170)
    return frame


def test_region_input_is_polarity_and_contrast_free():
    frame = text_and_flow_frame()
    spec = confirm_spec()
    a = region_input(frame, (8, 6, 120, 26), spec)
    b = region_input(255 - frame, (8, 6, 120, 26), spec)
    assert a.shape[0] == 2 and a.shape[1] == spec["height"]
    assert spec["min_width"] <= a.shape[2] <= spec["max_width"]
    assert np.allclose(a[0], -b[0], atol=1e-4)  # grey: the same up to its sign
    empty = region_input(frame, (300, 300, 310, 310), spec)  # outside the frame
    assert empty.shape == (2, spec["height"], spec["min_width"]) and not empty.any()


def test_network_ignores_padding():
    spec = confirm_spec()
    model = build(spec).eval()
    short = np.random.default_rng(0).normal(size=(2, 32, 40)).astype(np.float32)
    long = np.random.default_rng(1).normal(size=(2, 32, 200)).astype(np.float32)
    s = region_scalars((0, 0, 40, 32))
    with torch.inference_mode():
        alone = model(*collate([short], [s]))
        padded = model(*collate([short, long], [s, s]))
    assert torch.allclose(alone[0], padded[0], atol=1e-5)


def test_colour_flow_told_from_coloured_text():
    frame = text_and_flow_frame()
    assert in_colour_flow(frame, (100, 165, 200, 215))
    assert not in_colour_flow(frame, (8, 6, 120, 26))  # white text
    yellow = np.zeros((40, 160, 3), np.uint8)
    cv2.putText(yellow, "DOE JANE", (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 230, 40), 2)
    assert not in_colour_flow(yellow, (0, 0, 160, 40))  # one hue, however coloured
    assert hue_spread(np.array([[255, 0, 0], [255, 0, 0]])) == pytest.approx(0.0, abs=1e-3)
    assert not in_colour_flow(frame[..., 0], (100, 165, 200, 215))  # grey frames have no flow


def test_finder_keeps_what_the_check_rejects_but_tesseract_rescues_text():
    frame = text_and_flow_frame()
    doubting = ScoreAll(0.0)
    finder = LearnedFinder(confirmer=doubting)
    (finding,) = finder.find([frame], [0])
    assert doubting.calls == 1
    # The check doubts everything; Tesseract still reads the printed PHI, so it is removed.
    removed_top = [b for b in finding.boxes if b.y1 <= 90]
    assert removed_top, "printed text must be removed on Tesseract's word"
    assert all(b.y0 >= 90 for b in finding.kept)


def test_finder_without_check_removes_every_detection():
    frame = text_and_flow_frame()
    trusting = LearnedFinder(confirmer=ScoreAll(1.0))
    plain = LearnedFinder(confirm=False)
    assert plain.confirmer is None
    (a,) = trusting.find([frame], [0])
    (b,) = plain.find([frame], [0])
    assert not a.kept
    # Regions in colour flow need FLOW_STRICT; 1.0 passes it, so both remove the same.
    assert [(x.x0, x.y0, x.x1, x.y1) for x in a.boxes] == [
        (x.x0, x.y0, x.x1, x.y1) for x in b.boxes
    ]


def test_frames_called_none_need_the_higher_threshold():
    frame = text_and_flow_frame()
    finder = LearnedFinder(confirmer=ScoreAll(0.2, threshold=0.1, threshold_none=0.3))
    region = Box(0, 150, 100, 200, 120, "", "text", 0.7, "detector")  # grey anatomy, no words
    assert finder.confirm_boxes(frame, 0, [region], called_text=True) == ([region], [])
    assert finder.confirm_boxes(frame, 0, [region], called_text=False) == ([], [region])


def test_flow_region_needs_the_strict_score():
    frame = text_and_flow_frame()
    finder = LearnedFinder(confirmer=ScoreAll(0.6, threshold=0.5))
    flow = Box(0, 100, 165, 200, 215, "", "text", 0.7, "detector")
    text, kept = finder.confirm_boxes(frame, 0, [flow])
    assert text == [] and kept == [flow]


def test_threshold_keeps_the_asked_share_of_text():
    scores = np.array([0.1, 0.2, 0.9, 0.95, 0.99, 0.3])
    labels = np.array([0, 0, 1, 1, 1, 0])
    t = threshold_for(scores, labels, keep=1.0)
    assert t <= 0.9 and (scores[labels == 1] >= t).all()
    split = MinedSplit(
        [Region(np.zeros((4, 4), np.uint8), (0, 0, 4, 4), int(y), "clean") for y in labels]
    )
    report = measure(scores, split, t)
    assert report["text_kept"] == 1.0 and report["non_text_rejected"] == 1.0


def test_confirmer_loads_a_checkpoint_and_scores(tmp_path):
    spec = confirm_spec(threshold=0.25)
    path = tmp_path / "confirm.pt"
    save_checkpoint(path, pack(build(spec), spec))
    confirmer = Confirmer(path)
    assert confirmer.threshold == 0.25
    frame = text_and_flow_frame()
    boxes = [Box(0, 8, 6, 120, 26), Box(0, 100, 165, 200, 215)]
    scores = confirmer.score(frame, boxes)
    assert scores.shape == (2,) and ((scores >= 0) & (scores <= 1)).all()
    assert confirmer.score(frame, []).shape == (0,)


def test_scrub_report_counts_regions_kept_as_non_text(tmp_path):
    from PIL import Image

    from medocr_cli.pipeline.scrub import RunModels, ScrubConfig, load_run_models, run_scrub

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(text_and_flow_frame()).save(src / "us.png")
    config = ScrubConfig(inputs=[src], output=tmp_path / "out")
    loaded = load_run_models(config)
    models = RunModels(
        LearnedFinder(confirmer=ScoreAll(0.0)), loaded.method, loaded.inpainter, loaded.detector
    )
    summary = run_scrub(config, models=models)
    (result,) = summary.results
    line = json.loads((tmp_path / "out" / "medocr-report.jsonl").read_text().splitlines()[0])
    assert line["kept_non_text"] == result.kept_non_text
    assert result.boxes >= 1
    assert phi_read(ocr_words(frame_of(result.output))) == []


def frame_of(path: str) -> np.ndarray:
    """The display frame of an output."""
    from pathlib import Path

    from medocr_cli.io import read_scan

    return read_scan(Path(path)).display(0)


def test_train_and_evaluate_confirm_on_a_tiny_generated_dataset(tmp_path):
    from typer.testing import CliRunner

    from medocr_cli.cli.app import app

    runner = CliRunner()
    data = tmp_path / "ds"
    made = runner.invoke(
        app,
        [
            *("--quiet", "generate-dataset", str(data), "--count", "40", "--size", "256"),
            *("--seed", "3", "--workers", "1", "--negatives", "1"),
        ],
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "run"
    trained = runner.invoke(
        app,
        [
            *("--quiet", "train", "confirm", str(data), "--out", str(out)),
            *("--epochs", "1", "--batch-size", "8", "--json"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["test"]["text_regions"] > 0 and report["test"]["non_text_regions"] > 0
    assert 0.0 <= report["test"]["threshold"] <= 1.0
    confirmer = Confirmer(out / "confirm.pt")
    assert confirmer.threshold == pytest.approx(report["test"]["threshold"], abs=1e-4)
    evaluated = runner.invoke(
        app,
        [
            *("--quiet", "train", "confirm", str(data), "--evaluate-only"),
            *("--weights", str(out / "confirm.pt"), "--split", "test", "--json"),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["text_regions"] == report["test"]["text_regions"]


def test_a_tinted_frame_has_no_colour_flow():
    from medocr_cli.stages.diagnostic import flow_possible

    frame = text_and_flow_frame()
    tinted = frame.copy()
    tinted[..., 0] = np.clip(tinted[..., 0].astype(int) + 80, 0, 255).astype(np.uint8)
    tinted[..., 2] = (tinted[..., 2] * 0.4).astype(np.uint8)
    assert flow_possible(frame) and not flow_possible(tinted)
    assert in_colour_flow(frame, (100, 165, 200, 215))
    assert not in_colour_flow(tinted, (100, 165, 200, 215))  # handwriting on colour maps
