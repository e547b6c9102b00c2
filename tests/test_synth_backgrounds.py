"""Backgrounds for generate-dataset: shapes, determinism, variety, user folders, pickling."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import make_dicom, make_png

from medocr_cli.errors import UsageError
from medocr_cli.io import read_scan
from medocr_cli.synth.backgrounds import (
    MEASURE_ONLY,
    REAL_CROPS,
    Background,
    BackgroundSource,
    real_data_folders,
)


@pytest.fixture(scope="module")
def source() -> BackgroundSource:
    """One shared source, so the real files are decoded once for the whole module."""
    return BackgroundSource()


def _draw(source: BackgroundSource, seed: int, n: int, size: int) -> list[Background]:
    rng = np.random.default_rng(seed)
    return [source.sample(rng, size) for _ in range(n)]


@pytest.mark.parametrize("size", [16, 64, 255, 512])
def test_samples_are_square_uint8_grey_or_rgb(source: BackgroundSource, size: int) -> None:
    for bg in _draw(source, size, 24, size):
        assert bg.image.dtype == np.uint8
        assert bg.image.shape in ((size, size), (size, size, 3))
        assert bg.image.flags.c_contiguous
        assert bg.modality
        assert bg.source == "procedural" or bg.source.startswith("pydicom:")


def test_same_seed_gives_identical_samples(source: BackgroundSource) -> None:
    first = _draw(source, 7, 30, 96)
    second = _draw(BackgroundSource(), 7, 30, 96)  # a fresh source: caches play no part
    for a, b in zip(first, second, strict=True):
        assert (a.modality, a.source) == (b.modality, b.source)
        np.testing.assert_array_equal(a.image, b.image)
    other = _draw(source, 8, 30, 96)
    assert any(
        a.image.shape != b.image.shape or not np.array_equal(a.image, b.image)
        for a, b in zip(first, other, strict=True)
    )


def test_variety_of_modalities_colour_and_sources(source: BackgroundSource) -> None:
    samples = _draw(source, 3, 200, 48)
    modalities = Counter(bg.modality for bg in samples)
    assert {"CT", "MR", "XR", "US"} <= set(modalities)
    n_rgb = sum(bg.image.ndim == 3 for bg in samples)
    assert 0 < n_rgb < 200
    assert 0.04 <= n_rgb / 200 <= 0.25  # about 10-15% colour by design
    kinds = Counter("procedural" if bg.source == "procedural" else "real" for bg in samples)
    assert kinds["procedural"] > 70
    assert kinds["real"] > 40  # pydicom's bundled files are always there
    # backgrounds are not flat: every one has some structure
    assert all(int(bg.image.max()) - int(bg.image.min()) > 20 for bg in samples)


def test_use_real_false_is_all_procedural() -> None:
    samples = _draw(BackgroundSource(use_real=False), 1, 40, 32)
    assert {bg.source for bg in samples} == {"procedural"}


def test_curated_crops_lie_inside_their_files() -> None:
    folders = real_data_folders()
    checked = 0
    for row in REAL_CROPS:
        path = next((f / row.filename for f in folders if (f / row.filename).is_file()), None)
        if path is None:
            continue
        scan = read_scan(path)
        x0, y0, x1, y1 = row.box
        assert 0 <= x0 < x1 <= scan.width, row
        assert 0 <= y0 < y1 <= scan.height, row
        assert all(0 <= f < scan.n_frames for f in row.frames), row
        checked += 1
    assert checked >= 5  # at least pydicom's own files


def test_no_real_crop_comes_from_a_measure_only_scan() -> None:
    """The scans kept for measuring never feed training, nor do the copies of their pictures."""
    held_out = {name.casefold() for name in MEASURE_ONLY}
    assert not {row.filename.casefold() for row in REAL_CROPS} & held_out
    same_pictures = {"examples_overlay.dcm", "RG1_J2KR.dcm", "JPGExtended.dcm", "JPEG-LL.dcm"}
    same_pictures |= {"examples_jpeg2k.dcm"}
    assert not {row.filename for row in REAL_CROPS} & same_pictures


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    yy, xx = np.mgrid[0:80, 0:96]
    make_png(root / "a.png", ((xx * 2 + yy) % 256).astype(np.uint8))
    make_png(root / "sub" / "b.png", np.stack([xx % 256, yy * 3, xx + yy], -1).astype(np.uint8))
    frames = np.stack([((xx + yy + 40 * i) * 10).astype(np.uint16) for i in range(3)])
    make_dicom(root / "sub" / "c.dcm", frames, bits_stored=12, extra={"Modality": "CT"})
    (root / "notes.txt").write_text("not an image")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def test_user_folder_images_are_used(user_dir: Path) -> None:
    src = BackgroundSource(user_dir)
    src.validate()
    samples = _draw(src, 5, 120, 64)
    users = [bg for bg in samples if bg.modality == "user"]
    assert len(users) > 60  # mostly user images
    assert {bg.source for bg in users} == {"a.png", "sub/b.png", "sub/c.dcm"}
    assert any(bg.source == "procedural" for bg in samples)
    assert all(bg.image.shape in ((64, 64), (64, 64, 3)) for bg in samples)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_bad_user_folder_is_a_one_line_usage_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope"
    if kind == "file":
        path.write_text("x")
    with pytest.raises(UsageError) as info:
        BackgroundSource(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)
    assert info.value.hint


def test_user_folder_without_images_fails_validation(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    (tmp_path / "bad.dcm").write_bytes(b"not dicom at all")
    src = BackgroundSource(tmp_path)  # existence is checked; content only on validate()
    with pytest.raises(UsageError) as info:
        src.validate()
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError):
        src.sample(np.random.default_rng(0), 32)


def test_pickle_round_trip_is_small_and_samples_alike(user_dir: Path) -> None:
    src = BackgroundSource(user_dir)
    before = _draw(src, 11, 10, 48)  # fills the caches, which must not be pickled
    blob = pickle.dumps(src)
    assert len(blob) < 2000
    clone = pickle.loads(blob)
    assert clone.user_dir == src.user_dir
    after = _draw(clone, 11, 10, 48)
    for a, b in zip(before, after, strict=True):
        assert (a.modality, a.source) == (b.modality, b.source)
        np.testing.assert_array_equal(a.image, b.image)


def test_too_small_size_is_refused(source: BackgroundSource) -> None:
    with pytest.raises(ValueError):
        source.sample(np.random.default_rng(0), 4)


def test_works_without_pydicom_data() -> None:
    bundled = [f for f in real_data_folders() if f.name == "test_files"]
    samples = _draw(BackgroundSource(real_folders=bundled), 2, 60, 32)
    real = {bg.source for bg in samples if bg.source != "procedural"}
    assert real  # pydicom's own CT and US files still serve
    assert all((bundled[0] / name.split(":", 1)[1]).is_file() for name in real)

    no_files = BackgroundSource(real_folders=[])
    assert {bg.source for bg in _draw(no_files, 2, 30, 32)} == {"procedural"}
