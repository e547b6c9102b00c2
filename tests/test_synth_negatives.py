"""Hard negatives in generate-dataset: drawers, labels untouched, determinism, the CLI option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.synth.backgrounds import BackgroundSource
from medocr_cli.synth.compose import make_sample
from medocr_cli.synth.negatives import (
    DRAWERS,
    KINDS,
    add_negatives,
    has_negatives,
    negatives_rng,
)

runner = CliRunner()


def _background(size: int, colour: bool) -> np.ndarray:
    """A mid-grey gradient with noise: room for both darker and brighter marks."""
    yy, xx = np.mgrid[0:size, 0:size]
    noise = np.random.default_rng(0).integers(-10, 11, (size, size))
    grey = (70 + 100 * (xx + yy) / (2 * size) + noise).astype(np.uint8)
    return np.stack([grey, grey, (grey * 0.9).astype(np.uint8)], axis=2) if colour else grey


@pytest.fixture(scope="module")
def source() -> BackgroundSource:
    """Procedural backgrounds only: no real files to decode, so the tests stay fast."""
    return BackgroundSource(use_real=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
def test_every_drawer_changes_the_image_and_names_its_kind(kind: str, colour: bool) -> None:
    image = _background(128, colour)
    before = image.copy()
    for seed in range(4):
        out, drawn = DRAWERS[kind](np.random.default_rng(seed), image)
        assert drawn == kind
        assert out.dtype == np.uint8 and out.shape[:2] == image.shape[:2]
        assert out.ndim == 2 or out.shape[2] == 3
        if colour:
            assert out.ndim == 3  # a colour image never loses its colour
        grey_in = np.repeat(image[..., None], 3, axis=2) if out.ndim > image.ndim else image
        assert not np.array_equal(out, grey_in), (kind, seed)
        np.testing.assert_array_equal(image, before)  # the input is never written to


def test_drawers_are_deterministic_and_cope_with_tiny_images() -> None:
    for kind, draw in DRAWERS.items():
        for size, colour in ((64, False), (96, True)):
            image = _background(size, colour)
            a, _ = draw(np.random.default_rng([7, size]), image)
            b, _ = draw(np.random.default_rng([7, size]), image)
            np.testing.assert_array_equal(a, b, err_msg=kind)


def test_add_negatives_draws_one_to_three_distinct_known_kinds() -> None:
    seen: set[str] = set()
    for seed in range(60):
        modality = ("US", "CT", "MR", "XR", "CR", "user")[seed % 6]
        _, kinds = add_negatives(np.random.default_rng(seed), _background(96, False), modality)
        assert 1 <= len(kinds) <= 3 and len(set(kinds)) == len(kinds)
        assert set(kinds) <= set(KINDS)
        assert not {"colour_doppler", "power_doppler"} <= set(kinds)  # one flow mode a screen
        seen.update(kinds)
    assert len(seen) >= 8  # every modality mixes many kinds


def test_share_of_images_with_negatives() -> None:
    assert not any(has_negatives(3, i, 0.0) for i in range(500))
    assert all(has_negatives(3, i, 1.0) for i in range(500))
    picked = [i for i in range(1000) if has_negatives(3, i, 0.35)]
    assert abs(len(picked) / 1000 - 0.35) < 0.01
    assert all(7 <= sum(has_negatives(3, i, 0.35) for i in range(k, k + 24)) <= 10 for k in (0, 99))
    assert set(picked) <= {i for i in range(1000) if has_negatives(3, i, 0.6)}  # nested shares
    assert picked != [i for i in range(1000) if has_negatives(4, i, 0.35)]  # the seed matters


def test_negatives_stay_out_of_mask_items_and_label(source: BackgroundSource) -> None:
    for index in range(8):
        sample = make_sample(index, 5, 128, source, negatives=1.0)
        plain = make_sample(index, 5, 128, source, negatives=0.0)
        assert sample.negatives and set(sample.negatives) <= set(KINDS)
        assert plain.negatives == []
        # The negatives are part of the clean picture, which is otherwise the same background.
        clean, plain_clean = sample.clean, plain.clean
        if clean.ndim != plain_clean.ndim:
            plain_clean = np.repeat(plain_clean[..., None], 3, axis=2)
        assert not np.array_equal(clean, plain_clean)
        assert sample.label == plain.label or sample.label in ("P", "H", "PH")
        mask = sample.mask > 0
        if index % 4 == 0:  # class None: nothing at all is text
            assert sample.label == "None" and not sample.items and not mask.any()
            np.testing.assert_array_equal(sample.image, sample.clean)
            continue
        assert sample.items and mask.any()
        inside = np.zeros(mask.shape, bool)
        for item in sample.items:
            x0, y0, x1, y1 = item["box"]
            inside[y0:y1, x0:x1] = True
        assert not (mask & ~inside).any()
        diff = sample.image != sample.clean
        diff = diff.any(axis=-1) if diff.ndim == 3 else diff
        assert not (diff & ~mask).any()  # outside the text, image and clean are identical


def test_same_seed_same_sample_with_negatives(source: BackgroundSource) -> None:
    for index in (1, 2):
        a = make_sample(index, 9, 96, source, negatives=1.0)
        b = make_sample(index, 9, 96, BackgroundSource(use_real=False), negatives=1.0)
        assert a.negatives == b.negatives
        for x, y in ((a.image, b.image), (a.clean, b.clean), (a.mask, b.mask)):
            np.testing.assert_array_equal(x, y)
    assert negatives_rng(9, 1).random() == negatives_rng(9, 1).random()
    assert negatives_rng(9, 1).random() != negatives_rng(9, 2).random()


def _generate(out: Path, *extra: str) -> object:
    return runner.invoke(
        app,
        ["generate-dataset", str(out), "--count", "8", "--size", "96", "--workers", "1", *extra],
    )


def test_cli_negatives_zero_draws_none_and_one_draws_everywhere(tmp_path: Path) -> None:
    result = _generate(tmp_path / "none", "--negatives", "0")
    assert result.exit_code == 0, result.output
    records = [
        json.loads(x) for x in (tmp_path / "none" / "manifest.jsonl").read_text().splitlines()
    ]
    assert len(records) == 8 and all(r["negatives"] == [] for r in records)
    summary = json.loads((tmp_path / "none" / "dataset.json").read_text())
    assert summary["negatives"] == 0.0 and summary["images_with_negatives"] == 0

    sheet = tmp_path / "sheet.png"
    result = _generate(tmp_path / "all", "--negatives", "1", "--preview", str(sheet))
    assert result.exit_code == 0, result.output
    records = [
        json.loads(x) for x in (tmp_path / "all" / "manifest.jsonl").read_text().splitlines()
    ]
    assert all(r["negatives"] and set(r["negatives"]) <= set(KINDS) for r in records)
    summary = json.loads((tmp_path / "all" / "dataset.json").read_text())
    assert summary["negatives"] == 1.0 and summary["images_with_negatives"] == 8
    assert sum(summary["negative_kinds"].values()) == sum(len(r["negatives"]) for r in records)
    assert sheet.is_file()


@pytest.mark.parametrize("share", ["1.5", "-0.1", "nan"])
def test_cli_negatives_outside_zero_one_is_a_one_line_usage_error(
    tmp_path: Path, share: str
) -> None:
    result = _generate(tmp_path / "bad", "--negatives", share)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--negatives" in lines[0] and "hint" in lines[0]
    assert not (tmp_path / "bad").exists()  # refused before anything was written
