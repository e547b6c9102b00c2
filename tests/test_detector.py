import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models.checkpoint import pack, unpack
from medocr_cli.models.detector.boxes import boxes_from_map, shrink_box, unclip_box
from medocr_cli.models.detector.data import (
    DetectorSplit,
    augment,
    draw_core,
    line_is_light,
    load_split,
    sample_crop,
)
from medocr_cli.models.detector.evaluate import report_of, score_image
from medocr_cli.models.detector.network import build_detector, forward_frames, to_input
from medocr_cli.models.detector.predictor import Detector
from medocr_cli.models.detector.spec import detector_spec
from medocr_cli.models.registry import build

TINY = detector_spec(widths=(4, 8, 8, 8), decoder=4)


def tiny_checkpoint(path):
    torch.manual_seed(0)
    save_checkpoint(path, pack(build(TINY), TINY))
    return path


def test_any_size_gives_half_resolution_maps():
    model = build_detector(TINY).eval()
    for h, w in ((64, 64), (50, 130), (17, 33)):
        x = torch.zeros(1, 2, h, w)
        with torch.no_grad():
            y = model(x)
        assert y.shape == (1, 2, -(-h // 2), -(-w // 2))


def test_forward_frames_pads_mixed_sizes_and_cuts_padding_off():
    model = build_detector(TINY).eval()
    inputs = [np.zeros((2, 40, 70), np.uint8), np.full((2, 33, 20), 200, np.uint8)]
    maps = forward_frames(model, TINY, inputs, "cpu")
    assert [m.shape for m in maps] == [(2, 20, 35), (2, 17, 10)]
    assert all(m.dtype == np.float32 and (m >= 0).all() and (m <= 1).all() for m in maps)


def test_to_input_grey_and_colour():
    grey = np.full((5, 6), 77, np.uint8)
    x = to_input(grey)
    assert x.shape == (2, 5, 6) and (x[0] == 77).all() and (x[1] == 0).all()
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[..., 2] = 200  # blue text: dark in grey, strong in chroma
    x = to_input(rgb)
    assert x[1].max() == 200 and x[0].max() < 40
    with pytest.raises(ValueError):
        to_input(np.zeros((4, 4), np.uint16))


def test_unclip_undoes_shrink():
    box = (10.0, 20.0, 110.0, 40.0)
    core = shrink_box(box, 0.25)
    assert core == (15.0, 25.0, 105.0, 35.0)
    assert unclip_box(core, 0.25, 0.0) == box


def test_core_target_keeps_small_lines_and_separates_neighbours():
    lines = np.array([[10, 10, 100, 16], [10, 22, 100, 28]], np.float32)  # 6 px lines, 6 px gap
    core = draw_core(lines, (32, 64), 0.25)
    rows = np.flatnonzero(core.any(axis=1))
    assert len(rows) >= 2
    # two separate runs of rows: one per line
    assert (np.diff(rows) > 1).sum() == 1


def test_boxes_from_map_grow_core_back_to_the_line():
    spec = dict(TINY, margin=0.0)
    lines = np.array([[20, 30, 120, 50], [20, 60, 90, 80]], np.float32)
    core = draw_core(lines, (64, 80), spec["shrink"])
    boxes = boxes_from_map(core * 0.9, spec, (128, 160))
    assert len(boxes) == 2
    for (x0, y0, x1, y1, score), truth in zip(
        sorted(boxes, key=lambda b: b[1]), lines, strict=True
    ):
        assert score == pytest.approx(0.9)
        assert np.abs(np.array([x0, y0, x1, y1]) - truth).max() <= 3
    _, matched, true_box = score_image(boxes, lines, (128, 160))
    assert matched.all() and true_box.all()


def test_text_map_stretches_a_box_over_a_faint_line_end_but_not_a_tall_blob():
    core = np.zeros((40, 60), np.float32)
    core[10:12, 5:20] = 0.9  # a line at y 20-24 (input px), x 10-40
    text = np.zeros_like(core)
    text[9:13, 4:30] = 0.8  # its letters run on to x = 60: the core stopped short
    base = boxes_from_map(core, TINY, (80, 120))
    (stretched,) = boxes_from_map(core, TINY, (80, 120), text)
    assert stretched[2] >= 60 > base[0][2]
    text[0:40, 18:22] = 0.8  # a tall blob touching the line is not taken in
    (kept,) = boxes_from_map(core, TINY, (80, 120), text)
    assert kept[1] == base[0][1] and kept[3] == base[0][3]
    off = dict(TINY, text_threshold=0.0)
    assert boxes_from_map(core, off, (80, 120), text) == base


def test_tight_fit_hugs_the_text_pixels_and_pairs_with_cover():
    core = np.zeros((40, 60), np.float32)
    core[10:12, 5:20] = 0.9
    text = np.zeros_like(core)
    text[10:12, 6:19] = 0.8  # ink at y 20-24, x 12-38 (input px)
    (cover,) = boxes_from_map(core, TINY, (80, 120), text)
    (tight,) = boxes_from_map(core, TINY, (80, 120), text, fit="tight")
    # the ink box (12, 20, 38, 24), grown by the 1 px text pad (and the map's 2 px stride), then
    # by 5% of its height, rounded outwards
    assert tight[:4] == (10, 18, 40, 26)
    assert cover[:4] == (6, 16, 44, 28)  # core grown back, then stretched over the ink


def test_tight_fit_keeps_each_line_of_a_stack_to_its_own_letters():
    """A cover box reaches into the next line; its tight box must not take that line's ink."""
    spec = dict(TINY, margin=0.3)
    core = np.zeros((40, 60), np.float32)
    text = np.zeros_like(core)
    core[12:16, 5:30] = 0.9  # line 1: ink at y 20-36 (input px), core in its middle half
    text[10:18, 5:30] = 0.8
    core[21:25, 5:30] = 0.9  # line 2, just below: ink at y 38-54
    text[19:27, 5:30] = 0.8
    cover = boxes_from_map(core, spec, (80, 120), text)
    first, second = boxes_from_map(core, spec, (80, 120), text, fit="tight")
    assert len(cover) == 2 and cover[0][3] > 38  # the first cover box overlaps line 2's ink
    assert 13 <= first[1] <= 20 and 36 <= first[3] <= 42  # ... its tight box stops at line 1
    assert 31 <= second[1] <= 38 and 54 <= second[3] <= 60


def test_boxes_at_the_edge_are_clipped_and_low_scores_dropped():
    core = np.zeros((20, 20), np.float32)
    core[0:2, 0:10] = 0.95
    core[10:12, 5:15] = 0.45  # above threshold (0.4), below min_score (0.5)
    boxes = boxes_from_map(core, TINY, (40, 40))
    assert len(boxes) == 1 and boxes[0][:2] == (0, 0)


def test_score_image_coverage_rule():
    lines = np.array([[0, 0, 100, 10]], np.float32)
    assert score_image([(0, 0, 91, 10, 1.0)], lines, (50, 120))[0].all()  # 91% covered
    assert not score_image([(0, 0, 89, 10, 1.0)], lines, (50, 120))[0].any()  # 89%
    assert not score_image([(0, 30, 50, 45, 1.0)], lines, (50, 120))[2].any()  # a false box


def test_line_polarity():
    grey = np.full((20, 40), 30, np.uint8)
    mask = np.zeros((20, 40), bool)
    mask[8:12, 5:35] = True
    box = np.array([3, 5, 37, 15])
    light = grey.copy()
    light[mask] = 220
    assert line_is_light(light, mask, box)
    dark = np.full((20, 40), 230, np.uint8)
    dark[mask] = 10
    assert not line_is_light(dark, mask, box)


def make_dataset(root, n=6, size=64):
    """A tiny dataset: white or black bars as "lines" on grey, one text-free image."""
    import cv2

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for i in range(n):
        image = np.full((size, size), 120, np.uint8)
        mask = np.zeros((size, size), np.uint8)
        items = []
        if i:
            y = 6 + 7 * i
            image[y : y + 6, 8:50] = 250 if i % 2 else 5
            mask[y : y + 6, 8:50] = 255
            items.append({"box": [8, y, 50, y + 6], "kind": "printed" if i % 3 else "handwritten"})
        cv2.imwrite(str(root / f"images/{i}.png"), image)
        cv2.imwrite(str(root / f"masks/{i}.png"), mask)
        rows.append(
            {
                "id": str(i),
                "image": f"images/{i}.png",
                "mask": f"masks/{i}.png",
                "label": "P" if items else "None",
                "split": "test",
                "items": items,
            }
        )
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_load_split_caches_and_samples_crops(tmp_path):
    make_dataset(tmp_path)
    split = load_split(tmp_path, "test")
    assert isinstance(split, DetectorSplit) and len(split) == 6
    assert list((tmp_path / ".medocr-cache").glob("detector-test-*.npz"))
    again = load_split(tmp_path, "test")
    assert np.array_equal(again.images, split.images) and again.light[1].tolist() == [True]
    assert split.light[2].tolist() == [False]
    assert split.mask(1).sum() == 6 * 42
    rng = np.random.default_rng(0)
    image, core, text = sample_crop(split, 1, rng, size=32, scale_range=(1.0, 1.0), focus=1.0)
    assert image.shape == (2, 32, 32) and core.shape == text.shape == (16, 16)
    assert core.max() == 1.0 and 0 < text.max() <= 1.0
    batch = torch.from_numpy(np.stack([image] * 4)).float() / 255
    out = augment(batch, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.min() >= 0 and out.max() <= 1


def test_report_counts_kinds_polarity_and_false_boxes(tmp_path):
    make_dataset(tmp_path)
    split = load_split(tmp_path, "test", cache=False)
    perfect = [[(*map(int, b), 1.0) for b in lines] for lines in split.lines]
    perfect[0] = [(0, 0, 5, 5, 1.0)]  # one false box on the text-free image
    report = report_of(split, perfect)
    assert report["line_recall"] == 1.0 and report["lines"] == 5
    assert report["printed_lines"] + report["handwritten_lines"] == 5
    assert report["light_on_dark_lines"] == 3 and report["dark_on_light_lines"] == 2
    assert report["fp_boxes_per_empty_image"] == 1.0
    assert report["box_precision"] == pytest.approx(5 / 6)


def test_stage_detect_and_maps(tmp_path):
    path = tiny_checkpoint(tmp_path / "detector.pt")
    detector = Detector.from_weights_dir(tmp_path, "cpu")
    frames = [np.zeros((40, 60), np.uint8), np.zeros((30, 50, 3), np.uint8)]
    maps = detector.probability_map(frames)
    assert [m.shape for m in maps] == [(40, 60), (30, 50)] and maps[0].dtype == np.float32
    core = detector.probability_map(frames, channel="core")
    assert not np.allclose(core[0], maps[0])
    boxes = detector.detect(frames, batch_size=1, frame_indices=[3, 4])
    assert len(boxes) == 2
    # an untrained head starts near the text prior (sigmoid(-3)), far below the threshold
    assert boxes == [[], []]
    with pytest.raises(ValueError):
        detector.detect(frames, frame_indices=[0])
    assert unpack(torch.load(path, weights_only=True)).levels[0][0][0].in_channels == 2


class FixedMaps(torch.nn.Module):
    """A detector network stand-in whose core map is one bright line, at any input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full((x.shape[0], 2, x.shape[2] // 2, x.shape[3] // 2), -20.0)
        logits[:, 0, 5:7, 3:20] = float(np.log(0.9 / 0.1))  # sigmoid -> 0.9
        return logits


def test_stage_boxes_carry_frame_index_and_kind(tmp_path):
    tiny_checkpoint(tmp_path / "detector.pt")
    spec = Detector(tmp_path / "detector.pt").spec
    detector = Detector.from_model(FixedMaps(), spec)
    (boxes,) = detector.detect([np.zeros((40, 60), np.uint8)], frame_indices=[7])
    assert len(boxes) == 1
    b = boxes[0]
    assert (b.frame, b.kind, b.source) == (7, "text", "detector") and b.score == pytest.approx(0.9)
    assert b.x0 < 6 and b.x1 > 40 and b.y0 < 10 and b.y1 > 14


def test_missing_weights_is_a_usage_error(tmp_path):
    from medocr_cli.errors import NotBuiltError

    with pytest.raises(NotBuiltError):
        Detector.from_weights_dir(tmp_path)


def test_train_and_evaluate_cli_on_a_tiny_dataset(tmp_path):
    from typer.testing import CliRunner

    from medocr_cli.cli.app import app

    data = tmp_path / "ds"
    make_dataset(data, n=8)
    manifest = data / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for i, row in enumerate(rows):
        row["split"] = ("train", "train", "train", "train", "val", "val", "test", "test")[i]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["--quiet", "train", "detector", str(data), "--out", str(out), "--epochs", "1"]
    result = runner.invoke(app, [*args, "--batch-size", "2", "--size", "32", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"line_recall", "printed_recall", "box_precision"} <= set(report["test"])
    assert (out / "detector.pt").is_file() and (out / "samples" / "detector.epoch01.png").is_file()
    evaluated = runner.invoke(
        app,
        [
            *("train", "detector", str(data), "--evaluate-only"),
            *("--weights", str(out / "detector.pt"), "--split", "test", "--json"),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    again = json.loads(evaluated.stdout)
    assert again["lines"] == report["test"]["lines"]
    assert again["line_recall"] == report["test"]["line_recall"]


def test_large_frames_are_detected_in_tiles_like_one_pass():
    """Tiling (for 100-megapixel frames) gives the maps and boxes of a single pass."""
    from medocr_cli.io import read_scan
    from medocr_cli.models.detector.predictor import Tiling

    examples = Path(__file__).resolve().parent.parent / "examples"
    detector = Detector.from_weights_dir()
    frame = read_scan(examples / "us_abdomen_rgb.png").display(0)
    frame = np.concatenate([frame, frame[:, ::-1]], axis=1)  # 512 x 1024
    whole = detector._maps([frame], 1)[0]
    boxes = detector.detect([frame])[0]
    tiled_detector = Detector.from_model(
        detector.model, detector.spec, tiling=Tiling(tile=384, overlap=64)
    )
    calls = []
    hook = detector.model.register_forward_pre_hook(lambda _m, args: calls.append(args[0].shape))
    try:
        tiled = tiled_detector._maps([frame], 1)[0]
        assert tiled_detector.detect([frame])[0] == boxes
        # the training evaluation feeds network inputs: same tiles, same boxes
        (prepared,) = tiled_detector.boxes_of_inputs([to_input(frame)], 1, ("cover",))
        assert prepared[0] == boxes
    finally:
        hook.remove()
    assert len(calls) > 1 and all(max(s[2:]) <= 384 for s in calls)
    assert tiled.shape == whole.shape
    assert float(np.abs(tiled - whole).mean()) < 1e-3
