"""Box merging: regions, lines, frames, conflicting readings, determinism, and `medocr merge`."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.models.zoo import CLASSIFIER_FILE as CLASSIFIER_WEIGHTS
from medocr_cli.pipeline.merge import (
    ClassifierArbiters,
    MergeStats,
    crop_region,
    load_extract_files,
    merge_entries,
    union_of_labels,
)
from medocr_cli.stages.merge import (
    merge_boxes,
    reading_order,
    same_line,
    same_region,
)
from medocr_cli.types import Box, box_coverage

runner = CliRunner()


def tess(x0, y0, x1, y1, text="", score=0.9, frame=0):
    return Box(frame, x0, y0, x1, y1, text=text, kind="printed", score=score, source="tesseract")


def det(x0, y0, x1, y1, text="", score=0.8, frame=0):
    return Box(frame, x0, y0, x1, y1, text=text, kind="handwritten", score=score, source="detector")


def rect(b):
    return (b.frame, b.x0, b.y0, b.x1, b.y1)


# --- regions ---------------------------------------------------------------------------------


def test_box_coverage_is_the_share_of_the_first_box_inside_the_second():
    line, half = Box(0, 0, 0, 100, 20), Box(0, 50, -5, 300, 40)
    assert box_coverage(line, half) == 0.5
    assert box_coverage(half, line) == pytest.approx(1000 / (250 * 45))
    assert box_coverage(line, Box(0, 200, 0, 300, 20)) == 0.0
    assert box_coverage(Box(0, 5, 5, 5, 5), line) == 0.0  # an empty box covers nothing


def test_duplicates_from_two_extractors_become_one_union_box():
    out = merge_boxes([tess(10, 10, 60, 30, "NAME", 0.9), det(12, 11, 62, 31, "NAME", 0.7)])
    assert len(out) == 1
    (b,) = out
    assert rect(b) == (0, 10, 10, 62, 31)
    assert b.text == "NAME"
    assert b.source == "detector+tesseract"
    assert b.kind == "handwritten+printed"
    assert b.score == 0.9


def test_nested_box_is_absorbed_and_text_not_doubled():
    line = det(5, 5, 200, 40, "DOE JANE", 0.6)
    word = tess(10, 10, 60, 35, "DOE", 0.9)
    word2 = tess(70, 10, 150, 35, "JANE", 0.9)
    (b,) = merge_boxes([line, word, word2])
    assert rect(b) == (0, 5, 5, 200, 40)
    assert b.text == "DOE JANE"


def test_low_overlap_across_lines_is_not_a_region():
    a, b = tess(0, 0, 100, 20), tess(0, 15, 100, 35)
    assert not same_region(a, b)
    assert len(merge_boxes([a, b])) == 2


# --- lines -----------------------------------------------------------------------------------


def test_adjacent_words_on_one_line_join_in_reading_order():
    words = [
        tess(120, 11, 170, 30, "12/03/1961"),
        tess(10, 10, 50, 30, "DOE"),
        tess(58, 12, 110, 30, "JANE"),
    ]
    (b,) = merge_boxes(words)
    assert rect(b) == (0, 10, 10, 170, 30)
    assert b.text == "DOE JANE 12/03/1961"


def test_lower_case_word_beside_capitals_joins():
    # "on" is about half the height of "Study": still the same line.
    assert same_line(tess(0, 10, 60, 33), tess(70, 19, 90, 30))


def test_stacked_lines_do_not_merge():
    lines = [tess(10, 10, 120, 30, "Line one"), tess(10, 34, 120, 54, "Line two")]
    out = merge_boxes(lines)
    assert [b.text for b in out] == ["Line one", "Line two"]


def test_far_apart_on_one_row_stays_apart():
    out = merge_boxes([tess(10, 10, 60, 30, "L"), tess(300, 10, 360, 30, "R")])
    assert len(out) == 2


def test_small_label_beside_big_title_stays_apart():
    out = merge_boxes([tess(10, 10, 200, 70, "TITLE"), tess(205, 40, 230, 50, "x")])
    assert len(out) == 2


def test_frames_are_never_merged():
    out = merge_boxes([tess(10, 10, 60, 30, "A", frame=0), tess(10, 10, 60, 30, "A", frame=1)])
    assert [b.frame for b in out] == [0, 1]


def test_reading_order_lines_then_left_to_right():
    boxes = [tess(100, 40, 150, 60, "d"), tess(0, 0, 40, 20, "a"), tess(10, 42, 50, 60, "c")]
    boxes.append(tess(60, 2, 90, 20, "b"))
    assert [b.text for b in reading_order(boxes)] == ["a", "b", "c", "d"]


# --- conflicting readings --------------------------------------------------------------------


def conflict():
    return [tess(10, 10, 100, 30, "J0HN", 0.6), det(11, 10, 101, 31, "John", 0.9)]


def test_conflict_arbiter_h_keeps_handwritten_reading():
    asked = []

    def arbiter(region):
        asked.append(region)
        return "H"

    (b,) = merge_boxes(
        [tess(10, 10, 100, 30, "J0HN", 0.95), det(11, 10, 101, 31, "John", 0.5)], arbiter=arbiter
    )
    assert b.text == "John" and b.kind == "handwritten"
    assert len(asked) == 1 and rect(asked[0]) == (0, 10, 10, 101, 31) and asked[0].text == ""
    assert b.source == "detector+tesseract" and rect(b) == (0, 10, 10, 101, 31)


def test_conflict_arbiter_p_keeps_printed_reading():
    (b,) = merge_boxes(conflict(), arbiter=lambda _: "P")
    assert b.text == "J0HN" and b.kind == "printed"
    assert b.score == 0.9  # the box's score is still the best of the region


def test_conflict_without_arbiter_keeps_higher_score():
    (b,) = merge_boxes(conflict())
    assert b.text == "John"
    (b,) = merge_boxes([tess(10, 10, 100, 30, "J0HN", 0.95), det(11, 10, 101, 31, "John", 0.5)])
    assert b.text == "J0HN"


@pytest.mark.parametrize("verdict", ["PH", "None", "garbage"])
def test_conflict_undecided_verdict_keeps_higher_score(verdict):
    (b,) = merge_boxes(conflict(), arbiter=lambda _: verdict)
    assert b.text == "John"


def test_agreeing_readings_do_not_ask_the_arbiter():
    def arbiter(_):
        raise AssertionError("no conflict here")

    boxes = [
        tess(10, 10, 100, 30, "John  Smith"),
        det(10, 10, 100, 30, "JOHN SMITH"),
        det(10, 10, 100, 30),
    ]
    (b,) = merge_boxes(boxes, arbiter=arbiter)
    assert b.text in ("John  Smith", "JOHN SMITH")


def test_empty_reading_never_wins_over_text():
    (b,) = merge_boxes([tess(10, 10, 100, 30, "", 0.99), det(10, 10, 100, 30, "note", 0.1)])
    assert b.text == "note"


# --- invariants ------------------------------------------------------------------------------


def random_boxes(seed, n=40):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y = rng.randrange(0, 300), rng.randrange(0, 300)
        w, h = rng.randrange(5, 80), rng.randrange(5, 30)
        kind, source = rng.choice([("printed", "tesseract"), ("handwritten", "detector")])
        text = rng.choice(["", "A", "B", "AB", "note"])
        out.append(Box(rng.randrange(2), x, y, x + w, y + h, text, kind, rng.random(), source))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_order_independent(seed):
    boxes = random_boxes(seed)
    expected = merge_boxes(boxes, arbiter=lambda r: "HP"[(r.x0 + r.y0) % 2])
    for k in range(5):
        shuffled = boxes[:]
        random.Random(k).shuffle(shuffled)
        assert merge_boxes(shuffled, arbiter=lambda r: "HP"[(r.x0 + r.y0) % 2]) == expected


@pytest.mark.parametrize("seed", range(5))
def test_every_input_box_lies_inside_an_output_box(seed):
    boxes = random_boxes(seed)
    out = merge_boxes(boxes)
    assert out == sorted(out, key=lambda b: (b.frame, b.y0, b.x0))
    for b in boxes:
        assert any(
            o.frame == b.frame and o.x0 <= b.x0 and o.y0 <= b.y0 and o.x1 >= b.x1 and o.y1 >= b.y1
            for o in out
        )
    assert merge_boxes(out) == out  # merging is idempotent


def test_empty_input():
    assert merge_boxes([]) == []


# --- pipeline --------------------------------------------------------------------------------


def extract_json(path, boxes, label="P"):
    return {"path": str(path), "label": label, "boxes": [b.to_json() for b in boxes]}


def write(tmp_path, name, data):
    f = tmp_path / name
    f.write_text(json.dumps(data))
    return f


def test_union_of_labels():
    assert union_of_labels(["P", "H"]) == "PH"
    assert union_of_labels(["None", "P"]) == "P"
    assert union_of_labels(["None"]) == "None"
    assert union_of_labels([]) is None


def test_pipeline_groups_by_path_and_asks_the_arbiter_of_that_image(tmp_path):
    a = write(
        tmp_path, "a.json", [extract_json("img/x.png", [conflict()[0]]), extract_json("y.png", [])]
    )
    b = write(tmp_path, "b.json", [extract_json("./img/x.png", [conflict()[1]], "H")])
    entries = load_extract_files([a, b])
    assert [e.path for e in entries] == ["img/x.png", "y.png"]
    asked = []

    def arbiter_for(path):
        asked.append(path)
        return (lambda _: "P") if path == "img/x.png" else None

    stats = MergeStats()
    out = merge_entries(entries, arbiter_for, stats)
    assert out[0]["label"] == "PH" and out[1]["label"] == "P"
    assert [bx["text"] for bx in out[0]["boxes"]] == ["J0HN"]
    assert (stats.boxes_in, stats.boxes_out, stats.conflicts, stats.by_classifier) == (2, 1, 1, 1)
    assert asked == ["img/x.png", "y.png"]


def test_crop_region_is_square_and_keeps_the_text():
    frame = np.zeros((100, 200), np.uint8)
    frame[40:50, 20:180] = 255
    crop = crop_region(frame, tess(20, 40, 180, 50))
    assert crop.shape == (164, 164) and crop.max() == 255
    rgb = crop_region(np.dstack([frame] * 3), tess(20, 40, 180, 50))
    assert rgb.shape == (164, 164, 3)


def test_no_arbiter_without_weights_or_image(tmp_path):
    img = tmp_path / "x.png"
    img.write_bytes(b"")
    arbiters = ClassifierArbiters(tmp_path / "no-weights", "cpu")
    assert not arbiters.available
    assert arbiters(str(img)) is None


def test_classifier_decides_a_conflict_on_the_crop(tmp_path):
    """A real (untrained) classifier checkpoint runs on the crop and its label is used."""
    from PIL import Image

    from medocr_cli.io.checkpoints import save_checkpoint
    from medocr_cli.models.checkpoint import pack
    from medocr_cli.models.classifier.network import build_classifier
    from medocr_cli.models.classifier.spec import classifier_spec
    from medocr_cli.models.zoo import CLASSIFIER_FILE as WEIGHTS_NAME

    assert CLASSIFIER_WEIGHTS == WEIGHTS_NAME

    spec = classifier_spec(size=32)
    (tmp_path / "w").mkdir()
    save_checkpoint(tmp_path / "w" / "classifier.pt", pack(build_classifier(spec), spec))
    img = tmp_path / "x.png"
    Image.fromarray(np.full((64, 128), 30, np.uint8)).save(img)
    arbiters = ClassifierArbiters(tmp_path / "w", "cpu")
    arbiter = arbiters(str(img))
    assert arbiter is not None
    verdict = arbiter(tess(10, 10, 100, 30))
    assert verdict in ("None", "P", "H", "PH")
    (b,) = merge_boxes(conflict(), arbiter=arbiter)
    expected = {"H": "John", "P": "J0HN"}.get(verdict, "John")
    assert b.text == expected


# --- CLI -------------------------------------------------------------------------------------


def test_cli_round_trip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    words = [tess(10, 10, 50, 30, "DOE"), tess(58, 12, 110, 30, "JANE")]
    a = write(tmp_path, "printed.json", [extract_json("x.png", words)])
    b = write(tmp_path, "hand.json", [extract_json("x.png", [det(8, 9, 112, 31, "DOE JANE")], "H")])
    out = tmp_path / "sub" / "merged.json"
    result = runner.invoke(app, ["merge", str(a), str(b), "-o", str(out), "--no-classifier"])
    assert result.exit_code == 0, result.output
    assert "3 boxes in -> 1 out" in result.output
    assert "DOE" not in result.output  # no recognised text in the summary
    data = json.loads(out.read_text())
    assert data == [
        {
            "path": "x.png",
            "label": "PH",
            "boxes": [
                {
                    "frame": 0,
                    "box": [8, 9, 112, 31],
                    "kind": "handwritten+printed",
                    "score": 0.9,
                    "source": "detector+tesseract",
                    "text": "DOE JANE",
                }
            ],
        }
    ]
    result = runner.invoke(app, ["merge", str(out), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == data  # merging merged boxes changes nothing


def test_cli_bad_json_is_one_line_naming_the_file(tmp_path):
    good = write(tmp_path, "good.json", [extract_json("x.png", [tess(0, 0, 10, 10)])])
    bad = tmp_path / "bad.json"
    bad.write_text("[{not json")
    out = tmp_path / "merged.json"
    result = runner.invoke(app, ["merge", str(good), str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "bad.json" in result.output
    assert not out.exists()  # nothing half-merged is written


@pytest.mark.parametrize(
    "content", ['{"boxes": []}', '[{"path": "x.png", "boxes": [{"box": [1, 2]}]}]', "[3]"]
)
def test_cli_wrong_shape_is_one_line(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = runner.invoke(app, ["merge", str(bad)])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "bad.json" in result.output


def test_cli_missing_file_is_usage_error(tmp_path):
    result = runner.invoke(app, ["merge", str(tmp_path / "none.json")])
    assert result.exit_code == 2


def test_cli_failed_extraction_is_carried_and_exits_1(tmp_path):
    entry = extract_json("x.png", []) | {"error": "x.png: cannot read file"}
    f = write(tmp_path, "e.json", [entry])
    result = runner.invoke(app, ["merge", str(f), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0]["error"] == "x.png: cannot read file"


def test_cli_help():
    result = runner.invoke(app, ["merge", "--help"])
    assert result.exit_code == 0
    for word in ("--no-classifier", "--weights", "--json", "union"):
        assert word in result.output
