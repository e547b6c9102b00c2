import json
import shutil
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch
from _phi_images import write_png
from PIL import Image
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.detector.spec import detector_spec
from medocr_cli.models.registry import build
from medocr_cli.pipeline.extract import ExtractConfig, Models, load_models, run_extract
from medocr_cli.types import Box

runner = CliRunner()
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")


class FakeDetector:
    """Returns fixed lines per frame: (cover, tight) pairs, tight = cover shrunk by `inset`."""

    def __init__(self, boxes, inset=0):
        self.boxes = boxes
        self.inset = inset

    def detect_pairs(self, frames, batch_size=8, frame_indices=None):
        indices = frame_indices or [0] * len(frames)
        k = self.inset
        return [
            [
                (
                    Box(i, *b, "", "text", 0.8, "detector"),
                    Box(i, b[0] + k, b[1] + k, b[2] - k, b[3] - k, "", "text", 0.8, "detector"),
                )
                for b in self.boxes
            ]
            for i in indices
        ]


class FakeRecognizer:
    def __init__(self):
        self.crops = []

    def read(self, crops, batch_size=32):
        self.crops.extend(crops)
        return [(f"line{len(self.crops)}-{i}", 0.7) for i in range(len(crops))]


@dataclass
class FakeVerdict:
    label: str

    @property
    def has_printed(self):
        return "P" in self.label and self.label != "None"

    @property
    def has_handwritten(self):
        return "H" in self.label


class FakeClassifier:
    def __init__(self, label):
        self.label = label

    def predict(self, frames, batch_size=32):
        return [FakeVerdict(self.label) for _ in frames]


def write_grey(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_handwritten_reads_each_detected_line_with_a_margin(tmp_path):
    write_grey(tmp_path / "a.png", np.full((200, 300), 40, np.uint8))
    models = Models(FakeDetector([(10, 20, 110, 50), (10, 100, 60, 130)]), FakeRecognizer())
    config = ExtractConfig(stage="handwritten", crop_margin=2)
    (result,) = run_extract(replace(config, inputs=[tmp_path / "a.png"]), models=models)
    assert result.error is None and result.label == "H"
    assert [(b.kind, b.source) for b in result.boxes] == [("handwritten", "detector+crnn")] * 2
    assert [b.text for b in result.boxes] == ["line2-0", "line2-1"]
    assert [b.score for b in result.boxes] == [0.7, 0.7]
    assert [c.shape for c in models.recognizer.crops] == [(34, 104), (34, 54)]
    assert result.to_json()["boxes"][0]["box"] == [10, 20, 110, 50]


def test_reads_the_tight_box_and_reports_the_cover_box(tmp_path):
    write_grey(tmp_path / "a.png", np.full((200, 300), 40, np.uint8))
    models = Models(FakeDetector([(10, 20, 110, 60)], inset=5), FakeRecognizer())
    config = ExtractConfig(stage="handwritten", crop_margin=2)
    (result,) = run_extract(replace(config, inputs=[tmp_path / "a.png"]), models=models)
    assert [(b.x0, b.y0, b.x1, b.y1) for b in result.boxes] == [(10, 20, 110, 60)]
    assert models.recognizer.crops[0].shape == (30 + 4, 90 + 4)


def test_a_cropped_line_is_read_whole(tmp_path):
    write_grey(tmp_path / "line.png", np.full((40, 300), 200, np.uint8))
    models = Models(FakeDetector([]), FakeRecognizer())
    (result,) = run_extract(
        ExtractConfig(stage="handwritten", inputs=[tmp_path / "line.png"]), models=models
    )
    assert [(b.x0, b.y0, b.x1, b.y1) for b in result.boxes] == [(0, 0, 300, 40)]
    assert models.recognizer.crops[0].shape == (40, 300)


def test_one_box_covering_the_frame_makes_it_one_line(tmp_path):
    write_grey(tmp_path / "big.png", np.full((120, 200), 200, np.uint8))
    models = Models(FakeDetector([(5, 5, 195, 110)]), FakeRecognizer())
    (result,) = run_extract(
        ExtractConfig(stage="handwritten", inputs=[tmp_path / "big.png"]), models=models
    )
    assert [(b.x0, b.y0, b.x1, b.y1) for b in result.boxes] == [(0, 0, 200, 120)]


def test_no_boxes_means_label_none_and_no_reading(tmp_path):
    write_grey(tmp_path / "empty.png", np.full((200, 200), 90, np.uint8))
    models = Models(FakeDetector([]), FakeRecognizer())
    (result,) = run_extract(
        ExtractConfig(stage="handwritten", inputs=[tmp_path / "empty.png"]), models=models
    )
    assert result.boxes == [] and result.label == "None" and models.recognizer.crops == []


def test_multi_frame_boxes_carry_their_frame(tmp_path):
    from _phi_images import write_ct

    write_ct(tmp_path / "cine.dcm", frames=3)
    models = Models(FakeDetector([(10, 20, 110, 50)]), FakeRecognizer())
    config = ExtractConfig(stage="handwritten", batch_size=2, inputs=[tmp_path / "cine.dcm"])
    (result,) = run_extract(config, models=models)
    assert [b.frame for b in result.boxes] == [0, 1, 2]


class PrintedCalls(list):
    """A printed-text reader stand-in: records each frame index, returns one fixed word."""

    def __call__(self, frame, index=0, config=None):
        self.append(index)
        return [Box(index, 8, 6, 100, 24, "DOE^JANE", "printed", 0.9, "tesseract")]


@pytest.fixture
def printed_calls():
    """The reader the auto-stage tests pass in through `Models.printed`."""
    return PrintedCalls()


def test_auto_does_not_run_tesseract_on_empty_none_frames(tmp_path, printed_calls):
    write_grey(tmp_path / "a.png", np.full((200, 300), 40, np.uint8))
    models = Models(FakeDetector([]), FakeRecognizer(), FakeClassifier("None"), printed_calls)
    (result,) = run_extract(ExtractConfig(stage="auto", inputs=[tmp_path / "a.png"]), models=models)
    assert printed_calls == [] and result.boxes == [] and result.label == "None"


def test_auto_reads_text_the_classifier_missed(tmp_path, printed_calls):
    """Classifier says None, detector finds two lines: Tesseract runs, the line its words cover
    is not reported twice, the other is read by the recognizer."""
    write_grey(tmp_path / "a.png", np.full((200, 300), 40, np.uint8))
    detector = FakeDetector([(6, 4, 104, 26), (20, 120, 200, 160)])
    models = Models(detector, FakeRecognizer(), FakeClassifier("None"), printed_calls)
    (result,) = run_extract(ExtractConfig(stage="auto", inputs=[tmp_path / "a.png"]), models=models)
    assert printed_calls == [0]
    assert [(b.source, b.y0) for b in result.boxes] == [("tesseract", 6), ("detector+crnn", 120)]
    assert result.label == "PH"


def test_auto_handwritten_verdict_skips_tesseract(tmp_path, printed_calls):
    write_grey(tmp_path / "a.png", np.full((200, 300), 40, np.uint8))
    models = Models(
        FakeDetector([(20, 120, 200, 160)]), FakeRecognizer(), FakeClassifier("H"), printed_calls
    )
    (result,) = run_extract(ExtractConfig(stage="auto", inputs=[tmp_path / "a.png"]), models=models)
    assert printed_calls == [] and [b.source for b in result.boxes] == ["detector+crnn"]


def test_auto_without_classifier_runs_both(tmp_path, printed_calls):
    write_grey(tmp_path / "a.png", np.full((200, 300), 40, np.uint8))
    models = Models(FakeDetector([]), FakeRecognizer(), None, printed_calls)
    (result,) = run_extract(ExtractConfig(stage="auto", inputs=[tmp_path / "a.png"]), models=models)
    assert printed_calls == [0] and result.label == "P"


# --- the command line, with tiny untrained checkpoints ----------------------------------------


def weights_folder(tmp_path, names):
    folder = tmp_path / "weights"
    folder.mkdir()
    if "detector.pt" in names:
        spec = detector_spec(widths=(4, 8, 8, 8), decoder=4)
        torch.manual_seed(0)
        save_checkpoint(folder / "detector.pt", pack(build(spec), spec))
    if "recognizer.pt" in names:
        from medocr_cli.models.recognizer.spec import recognizer_spec

        spec = recognizer_spec(channels=(4, 4, 4, 4, 4, 4), hidden=4, layers=1)
        save_checkpoint(folder / "recognizer.pt", pack(build(spec), spec))
    return folder


@pytest.mark.parametrize(
    ("stage", "present", "missing"),
    [
        ("handwritten", [], "detector.pt"),
        ("handwritten", ["detector.pt"], "recognizer.pt"),
        ("auto", ["recognizer.pt"], "detector.pt"),
    ],
)
def test_missing_weights_one_line_naming_the_file_exit_2(tmp_path, stage, present, missing):
    write_png(tmp_path / "a.png")
    folder = weights_folder(tmp_path, present)
    result = runner.invoke(
        app, ["extract", "--stage", stage, "--weights", str(folder), str(tmp_path / "a.png")]
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0] and "medocr train" in lines[0]


def test_missing_weights_found_through_medocr_weights(tmp_path, monkeypatch):
    write_png(tmp_path / "a.png")
    monkeypatch.setenv("MEDOCR_WEIGHTS", str(weights_folder(tmp_path, [])))
    result = runner.invoke(app, ["extract", "--stage", "handwritten", str(tmp_path / "a.png")])
    assert result.exit_code == 2 and "detector.pt" in result.output


def test_unknown_stage_is_a_usage_error(tmp_path):
    write_png(tmp_path / "a.png")
    result = runner.invoke(app, ["extract", "--stage", "cursive", str(tmp_path / "a.png")])
    assert result.exit_code == 2 and "cursive" in result.output


def test_cli_handwritten_json_with_real_tiny_checkpoints(tmp_path):
    pytest.importorskip("medocr_cli.models.recognizer.predictor")
    folder = weights_folder(tmp_path, ["detector.pt", "recognizer.pt"])
    write_grey(tmp_path / "in" / "line.png", np.full((32, 200), 30, np.uint8))
    write_grey(tmp_path / "in" / "scan.png", np.full((128, 128), 30, np.uint8))
    result = runner.invoke(
        app,
        [
            *("--device", "cpu", "extract", "--stage", "handwritten"),
            *("--weights", str(folder), str(tmp_path / "in"), "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["path"].rsplit("/", 1)[1] for d in data] == ["line.png", "scan.png"]
    (line_box,) = data[0]["boxes"]
    assert set(line_box) == {"frame", "box", "text", "kind", "score", "source"}
    assert line_box["box"] == [0, 0, 200, 32] and line_box["source"] == "detector+crnn"
    assert data[1]["boxes"] == [] and data[1]["label"] == "None"
    # --beam-width 1 reads the greedy best path; 0 is refused
    greedy = runner.invoke(
        app,
        [
            *("--device", "cpu", "extract", "--stage", "handwritten", "--beam-width", "1"),
            *("--weights", str(folder), str(tmp_path / "in" / "line.png"), "--json"),
        ],
    )
    assert greedy.exit_code == 0, greedy.output
    assert json.loads(greedy.stdout)[0]["boxes"][0]["box"] == [0, 0, 200, 32]
    zero = runner.invoke(app, ["extract", "--stage", "handwritten", "--beam-width", "0", "x.png"])
    assert zero.exit_code == 2
    assert load_models("handwritten", folder, "cpu", 1).recognizer.beam_width == 1
    assert load_models("handwritten", folder, "cpu").recognizer.beam_width > 1


@needs_tesseract
def test_cli_auto_table_hides_text_unless_asked(tmp_path):
    pytest.importorskip("medocr_cli.models.recognizer.predictor")
    folder = weights_folder(tmp_path, ["detector.pt", "recognizer.pt"])
    write_png(tmp_path / "a.png")
    args = ["extract", "--stage", "auto", "--weights", str(folder), str(tmp_path / "a.png")]
    hidden = runner.invoke(app, args)
    assert hidden.exit_code == 0, hidden.output
    assert "4821937" not in hidden.output and "tesseract" in hidden.output
    shown = runner.invoke(app, [*args, "--show-text"])
    assert shown.exit_code == 0 and "4821937" in shown.output
