"""Stickers in generate-dataset: label stickers and paper scraps with writing on them.

The paper is background (in the clean image, never in the mask or the boxes), the writing on it
is text with exact labels, share 0 changes nothing, the CLI option and the preview.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.pipeline.preview import CAPTION, STICKER_COLOUR
from medocr_cli.synth.backgrounds import BackgroundSource
from medocr_cli.synth.compose import Sample, make_sample, split_of
from medocr_cli.synth.fonts import font_pools
from medocr_cli.synth.stickers import (
    KINDS,
    MAX_ANGLE,
    has_sticker,
    make_sticker,
    stickers_rng,
)
from medocr_cli.synth.text_layer import check_layer

runner = CliRunner()
SIZE = 256


@pytest.fixture(scope="module")
def source() -> BackgroundSource:
    """Procedural backgrounds only: no real files to decode, so the tests stay fast."""
    return BackgroundSource(use_real=False)


@pytest.fixture(scope="module")
def sticker_samples(source: BackgroundSource) -> list[Sample]:
    """Twelve samples (three of each class) with share 1, the other features at their defaults."""
    return [make_sample(index, 5, SIZE, source, stickers=1.0) for index in range(12)]


def _quad_band(corners: list[list[float]], shape: tuple[int, int]) -> np.ndarray:
    """The sticker's edges: its quadrilateral's outline, 3 px wide."""
    band = np.zeros(shape, np.uint8)
    cv2.polylines(band, [np.rint(np.array(corners)).astype(np.int32)], True, 255, 3)
    return band > 0


def test_share_one_puts_a_sticker_on_every_image(sticker_samples: list[Sample]) -> None:
    for sample in sticker_samples:
        sticker = sample.sticker
        assert sticker is not None and sticker["kind"] in KINDS
        x0, y0, x1, y1 = sticker["box"]
        assert 0 <= x0 < x1 <= SIZE and 0 <= y0 < y1 <= SIZE
        assert len(sticker["corners"]) == 4 and abs(sticker["angle"]) <= MAX_ANGLE
    kinds = {s.sticker["kind"] for s in sticker_samples if s.sticker}
    assert kinds == set(KINDS)


def test_the_writing_is_text_and_the_paper_is_not(sticker_samples: list[Sample]) -> None:
    written = 0
    for sample in sticker_samples:
        assert sample.sticker is not None
        mask = sample.mask > 0
        inside = np.zeros(mask.shape, bool)
        for item in sample.items:
            x0, y0, x1, y1 = item["box"]
            inside[y0:y1, x0:x1] = True
        assert not (mask & ~inside).any()  # no mask pixel outside the text boxes
        diff = sample.image != sample.clean
        diff = diff.any(axis=-1) if diff.ndim == 3 else diff
        assert not (diff & ~mask).any()  # the paper is in the clean image
        assert (sample.label == "None") == (not mask.any())  # a blank sticker is no text
        sx0, sy0, sx1, sy1 = sample.sticker["box"]
        on = [it for it in sample.items if it.get("sticker")]
        on_region = np.zeros(mask.shape, bool)
        for item in on:
            x0, y0, x1, y1 = item["box"]
            assert sx0 <= x0 < x1 <= sx1 and sy0 <= y0 < y1 <= sy1  # written on the paper
            assert item["role"] in ("phi", "note") and item["style"] == "plain"
            assert item["angle"] == sample.sticker["angle"]
            on_region[y0:y1, x0:x1] = True
        # Nothing else is written on the sticker, and its ink keeps off the paper's edges.
        box = np.zeros(mask.shape, bool)
        box[sy0:sy1, sx0:sx1] = True
        assert not (mask & box & ~on_region).any()
        assert not (mask & _quad_band(sample.sticker["corners"], mask.shape)).any()
        kinds = {it["kind"] for it in on}
        if sample.label == "None":
            assert not on
        else:  # what is written on it follows the class
            assert kinds <= {"P": {"printed"}, "H": {"handwritten"}}.get(sample.label, kinds)
            written += bool(on)
    assert written >= 6  # of the nine images with text, nearly all have it on the sticker


def test_ink_lies_on_the_paper_clear_of_its_edges(source: BackgroundSource) -> None:
    kernel = np.ones((5, 5), np.uint8)  # 2 px in from the paper's real (torn, rounded) edge
    seen = set()
    for index in range(16):
        label = ("P", "H", "PH")[index % 3]
        rng = np.random.default_rng(index)
        background = source.sample(rng, SIZE).image
        sticker = make_sticker(stickers_rng(1, index), background, label, font_pools("train"))
        assert sticker.image.shape[:2] == background.shape[:2]
        assert sticker.text is not None
        check_layer(sticker.text)  # the turned writing keeps exact labels
        h, w = sticker.text.rgba.shape[:2]
        x, y = sticker.at
        ink = np.zeros(background.shape[:2], bool)
        ink[y : y + h, x : x + w] = sticker.text.rgba[..., 3] > 0
        inner = cv2.erode(sticker.paper.astype(np.uint8), kernel) > 0
        assert ink.any() and not (ink & ~inner).any()
        seen.add((sticker.record["kind"], bool(sticker.record["angle"])))
    assert {kind for kind, _ in seen} == set(KINDS) and any(turned for _, turned in seen)


def _luminance(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image.astype(np.float32)
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_dark_ink_on_light_paper(sticker_samples: list[Sample]) -> None:
    for sample in sticker_samples:
        clean, image = _luminance(sample.clean), _luminance(sample.image)
        for item in (it for it in sample.items if it.get("sticker")):
            x0, y0, x1, y1 = item["box"]
            ink = sample.mask[y0:y1, x0:x1] > 0
            paper = float(clean[y0:y1, x0:x1][~ink].mean())
            darkest = float(image[y0:y1, x0:x1][ink].min())
            assert paper > 170 and paper - darkest > 80, (item["text"], paper, darkest)


def test_same_seed_same_sticker_and_other_seed_other(source: BackgroundSource) -> None:
    for index in (2, 3):
        a = make_sample(index, 9, 160, source, stickers=1.0)
        b = make_sample(index, 9, 160, BackgroundSource(use_real=False), stickers=1.0)
        assert a.sticker == b.sticker and a.items == b.items
        for x, y in ((a.image, b.image), (a.clean, b.clean), (a.mask, b.mask)):
            np.testing.assert_array_equal(x, y)
        c = make_sample(index, 10, 160, source, stickers=1.0)
        assert c.sticker != a.sticker


def test_share_of_images_with_stickers() -> None:
    assert not any(has_sticker(3, i, 0.0) for i in range(500))
    assert all(has_sticker(3, i, 1.0) for i in range(500))
    picked = [i for i in range(1000) if has_sticker(3, i, 0.1)]
    assert abs(len(picked) - 100) <= 2
    assert set(picked) <= {i for i in range(1000) if has_sticker(3, i, 0.3)}  # nested shares
    assert picked != [i for i in range(1000) if has_sticker(4, i, 0.1)]  # the seed matters
    for split in ("train", "test"):  # every class gets its share
        labels = [i % 4 for i in picked if split_of(i) == split]
        assert len(set(labels)) == 4


def test_share_zero_changes_nothing(source: BackgroundSource) -> None:
    # The stickers come from a stream of their own: an image without one is the image made
    # with the share at 0, pixel for pixel.
    compared = 0
    for index in range(8):
        off = make_sample(index, 11, 128, source, stickers=0.0)
        assert off.sticker is None and not any("sticker" in it for it in off.items)
        tiny = make_sample(index, 11, 128, source, stickers=1e-12)
        some = make_sample(index, 11, 128, source, stickers=0.3)
        for other in (tiny, some) if some.sticker is None else (tiny,):
            np.testing.assert_array_equal(off.image, other.image)
            np.testing.assert_array_equal(off.clean, other.clean)
            np.testing.assert_array_equal(off.mask, other.mask)
            assert off.items == other.items and other.sticker is None
        compared += some.sticker is None
    assert 0 < compared < 8


def _generate(out: Path, *extra: str):
    return runner.invoke(
        app,
        ["generate-dataset", str(out), "--count", "8", "--size", "128", "--workers", "1", *extra],
    )


def test_cli_records_stickers_and_the_preview_names_them(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    result = _generate(tmp_path / "all", "--stickers", "1", "--preview", str(sheet))
    assert result.exit_code == 0, result.output
    records = [
        json.loads(x) for x in (tmp_path / "all" / "manifest.jsonl").read_text().splitlines()
    ]
    assert all(r["sticker"] and r["sticker"]["kind"] in KINDS for r in records)
    assert all(it.get("sticker", False) in (True, False) for r in records for it in r["items"])
    summary = json.loads((tmp_path / "all" / "dataset.json").read_text())
    assert summary["stickers"] == 1.0 and summary["images_with_stickers"] == 8
    assert sum(summary["sticker_kinds"].values()) == 8
    caption = np.asarray(Image.open(sheet).convert("RGB"))[:CAPTION].astype(int)
    r, g, b = STICKER_COLOUR
    near = (np.abs(caption - (r, g, b)).sum(axis=-1) < 30).sum()
    assert near > 50  # the captions of the first row name the stickers, in their colour

    result = _generate(tmp_path / "none", "--stickers", "0")
    assert result.exit_code == 0, result.output
    records = [
        json.loads(x) for x in (tmp_path / "none" / "manifest.jsonl").read_text().splitlines()
    ]
    assert all(r["sticker"] is None for r in records)


@pytest.mark.parametrize("share", ["1.5", "-0.1", "nan"])
def test_cli_stickers_outside_zero_one_is_a_one_line_usage_error(
    tmp_path: Path, share: str
) -> None:
    result = _generate(tmp_path / "bad", "--stickers", share)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--stickers" in lines[0] and "hint" in lines[0]
    assert not (tmp_path / "bad").exists()  # refused before anything was written
