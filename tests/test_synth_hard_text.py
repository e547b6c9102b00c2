"""Hard text in generate-dataset: styles, exact labels, faint text, share 0, the CLI option,
and the detector's targets and post-processing for vertical lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.models.detector.boxes import boxes_from_map, shrink_box
from medocr_cli.models.detector.data import draw_core
from medocr_cli.models.detector.spec import detector_spec
from medocr_cli.synth.backgrounds import BackgroundSource
from medocr_cli.synth.compose import Sample, make_sample
from medocr_cli.synth.hard_text import (
    STYLES,
    HardStyle,
    choose_style,
    hard_text_rng,
    recolour,
    shape_layer,
)
from medocr_cli.synth.text_layer import LineLabel, TextLayer, WordLabel

runner = CliRunner()
SIZE = 192


@pytest.fixture(scope="module")
def source() -> BackgroundSource:
    """Procedural backgrounds only: no real files to decode, so the tests stay fast."""
    return BackgroundSource(use_real=False)


@pytest.fixture(scope="module")
def hard_samples(source: BackgroundSource) -> list[Sample]:
    """Samples with every text layer in a hard style, until every style has been seen.

    No stickers: what is written on one is drawn plainly, to be read.
    """
    samples: list[Sample] = []
    seen: set[str] = set()
    for index in range(120):
        sample = make_sample(index, 3, SIZE, source, negatives=0.0, hard_text=1.0, stickers=0.0)
        samples.append(sample)
        seen |= {it["style"] for it in sample.items}
        if seen >= set(STYLES) and index >= 12:
            break
    return samples


def _grey(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) if image.ndim == 2 else image.astype(np.float32).mean(axis=2)


def test_every_style_appears_and_its_boxes_hold_all_its_pixels(
    hard_samples: list[Sample],
) -> None:
    styles = {it["style"] for s in hard_samples for it in s.items}
    assert styles == set(STYLES)
    for sample in hard_samples:
        covered = np.zeros(sample.mask.shape, bool)
        for item in sample.items:
            x0, y0, x1, y1 = item["box"]
            assert 0 <= x0 < x1 <= SIZE and 0 <= y0 < y1 <= SIZE
            assert (sample.mask[y0:y1, x0:x1] > 0).any()  # a box sits on its text
            covered[y0:y1, x0:x1] = True
            for word in item["words"]:
                a, b, c, d = word["box"]
                assert x0 <= a < c <= x1 and y0 <= b < d <= y1
            angle = item["angle"]
            if item["style"] in ("rot90", "rot180", "rot270", "vertical-edge"):
                assert angle in (90.0, 180.0, 270.0)
            elif item["style"] == "tilt":
                assert 3.0 <= abs(angle) <= 20.0
            else:
                assert angle == 0.0
            if item["style"] == "vertical-edge":
                assert x0 < SIZE // 10 or x1 > SIZE - SIZE // 10  # along the left or right edge
        assert not (sample.mask[~covered] > 0).any()  # no text pixel outside every line box
        changed = sample.image != sample.clean
        if changed.ndim == 3:
            changed = changed.any(axis=2)
        assert not (changed & (sample.mask == 0)).any()  # clean == image outside the mask


def test_rotated_lines_are_taller_than_wide(hard_samples: list[Sample]) -> None:
    upright = [
        it
        for s in hard_samples
        for it in s.items
        if it["angle"] in (90.0, 270.0) and len(it["text"].replace(" ", "")) >= 4
    ]
    assert upright
    for item in upright:
        x0, y0, x1, y1 = item["box"]
        assert y1 - y0 > x1 - x0, item


def test_low_contrast_lines_are_faint(hard_samples: list[Sample]) -> None:
    faint = 0
    for sample in hard_samples:
        image, clean = _grey(sample.image), _grey(sample.clean)
        for item in sample.items:
            if item["style"] != "low-contrast":
                continue
            x0, y0, x1, y1 = item["box"]
            ink = sample.mask[y0:y1, x0:x1] > 0
            delta = image[y0:y1, x0:x1][ink] - clean[y0:y1, x0:x1][ink]
            # 10-30 levels off the local mean background, softened by anti-aliased edges
            assert 3.0 <= abs(float(delta.mean())) <= 32.0, (item["text"], delta.mean())
            faint += 1
    assert faint


def test_blur_spreads_the_mask_and_keeps_labels_exact() -> None:
    rgba = np.zeros((12, 30, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[3:9, 2:12, 3] = 255
    rgba[3:9, 16:28, 3] = 255
    words = [WordLabel("ab", (2, 3, 12, 9)), WordLabel("cd", (16, 3, 28, 9))]
    layer = TextLayer(rgba, [LineLabel("ab cd", "printed", (2, 3, 28, 9), words, "x")])
    rng = np.random.default_rng(0)
    style = next(s for s in iter(lambda: choose_style(rng, 1.0), None) if s.name == "blur")
    out = shape_layer(layer, style)
    ink = out.rgba[..., 3] > 0
    assert ink.sum() > (rgba[..., 3] > 0).sum()  # the blur reaches beyond the glyphs
    x0, y0, x1, y1 = out.lines[0].box
    assert (x0, y0) == (0, 0) and (x1, y1) == ink.shape[::-1]  # cropped tight, box tight
    for word in out.lines[0].words:
        a, b, c, d = word.box
        assert x0 <= a < c <= x1 and y0 <= b < d <= y1


def test_rotation_by_quarter_turns_is_exact() -> None:
    rgba = np.zeros((10, 40, 4), np.uint8)
    rgba[2:8, 1:39, 3] = 200
    words = [WordLabel("x", (1, 2, 39, 8))]
    layer = TextLayer(rgba, [LineLabel("x", "printed", (1, 2, 39, 8), words, "f")])
    for angle in (90.0, 180.0, 270.0):
        style = HardStyle(f"rot{int(angle)}", angle)
        out = shape_layer(layer, style)
        h, w = out.rgba.shape[:2]
        assert (h, w) == ((38, 6) if angle != 180.0 else (6, 38))
        assert out.lines[0].box == (0, 0, w, h)
        assert (out.rgba[..., 3] == 200).all()


def test_recolour_puts_text_a_few_levels_off_its_background() -> None:
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[1:5, 1:5] = (255, 255, 255, 255)
    layer = TextLayer(rgba, [])
    style = HardStyle("low-contrast", contrast=12.0)
    out = recolour(layer, np.full((6, 6), 250.0, np.float32), style)
    assert (out.rgba[1:5, 1:5, :3] == 238).all()  # 250 + 12 would leave 0-255: goes darker


def test_share_zero_draws_nothing_and_plain_layers_are_unchanged(source: BackgroundSource) -> None:
    # The hard styles come from a stream of their own: an image whose layers all came out
    # plain is the image made with the share at 0, pixel for pixel.
    rng = hard_text_rng(1, 2)
    state = rng.bit_generator.state
    assert choose_style(rng, 0.0).name == "plain" and rng.bit_generator.state == state
    compared = 0
    for index in range(8):
        off = make_sample(index, 11, 128, source, negatives=0.0, hard_text=0.0, stickers=0.0)
        assert all(it["style"] == "plain" and it["angle"] == 0.0 for it in off.items)
        tiny = make_sample(index, 11, 128, source, negatives=0.0, hard_text=1e-12, stickers=0.0)
        np.testing.assert_array_equal(off.image, tiny.image)
        np.testing.assert_array_equal(off.mask, tiny.mask)
        assert off.items == tiny.items
        some = make_sample(index, 11, 128, source, negatives=0.0, hard_text=0.25, stickers=0.0)
        if all(it["style"] == "plain" for it in some.items):
            np.testing.assert_array_equal(off.image, some.image)
            compared += 1
    assert compared


def _generate(out: Path, *extra: str):
    return runner.invoke(
        app,
        ["generate-dataset", str(out), "--count", "8", "--size", "96", "--workers", "1", *extra],
    )


def test_cli_records_the_share_and_the_styles(tmp_path: Path) -> None:
    result = _generate(tmp_path / "all", "--hard-text", "1", "--stickers", "0")
    assert result.exit_code == 0, result.output
    records = [
        json.loads(x) for x in (tmp_path / "all" / "manifest.jsonl").read_text().splitlines()
    ]
    items = [it for r in records for it in r["items"]]
    assert items and all(it["style"] in STYLES and "angle" in it for it in items)
    summary = json.loads((tmp_path / "all" / "dataset.json").read_text())
    assert summary["hard_text"] == 1.0
    assert sum(summary["text_styles"].values()) == len(items)


@pytest.mark.parametrize("share", ["1.5", "-0.1", "nan"])
def test_cli_hard_text_outside_zero_one_is_a_one_line_usage_error(
    tmp_path: Path, share: str
) -> None:
    result = _generate(tmp_path / "bad", "--hard-text", share)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--hard-text" in lines[0] and "hint" in lines[0]
    assert not (tmp_path / "bad").exists()  # refused before anything was written


# The detector's targets and post-processing for vertical lines.

SPEC = dict(detector_spec(), margin=0.0, text_threshold=0.0)


def test_vertical_core_is_shrunk_across_the_text() -> None:
    box = np.array([[40, 20, 60, 220]], np.float32)  # a 20 px line written top to bottom
    core = draw_core(box, (128, 128), 0.25, vertical=np.array([True]))
    cols = np.flatnonzero(core.any(axis=0))
    rows = np.flatnonzero(core.any(axis=1))
    assert 4 <= cols.size <= 6  # 20 px - 2 x 5 px, at half resolution
    assert rows[0] <= 13 and rows[-1] >= 106  # only 5 px cut off each end
    flat = draw_core(box, (128, 128), 0.25)  # without the flag: as before
    assert np.flatnonzero(flat.any(axis=1)).size < rows.size


def test_vertical_line_is_grown_back_by_its_width() -> None:
    lines = np.array([[10, 40, 30, 240], [220, 30, 240, 200]], np.float32)  # left, right edge
    core = draw_core(lines, (128, 128), SPEC["shrink"], vertical=np.array([True, True]))
    boxes = sorted(boxes_from_map(core * 0.9, SPEC, (256, 256)))
    assert len(boxes) == 2  # the two edge labels stay apart
    for found, truth in zip(boxes, lines, strict=True):
        assert np.abs(np.array(found[:4]) - truth).max() <= 3


def test_horizontal_lines_are_read_as_before() -> None:
    lines = np.array([[20, 30, 120, 50], [20, 60, 34, 80], [130, 90, 200, 104]], np.float32)
    core = draw_core(lines, (64, 128), SPEC["shrink"])
    boxes = sorted(boxes_from_map(core * 0.9, SPEC, (128, 256)), key=lambda b: b[1])
    assert len(boxes) == 3
    for found, truth in zip(boxes, lines, strict=True):
        assert np.abs(np.array(found[:4]) - truth).max() <= 3
    assert shrink_box((20.0, 30.0, 120.0, 50.0), 0.25) == (25.0, 35.0, 115.0, 45.0)
