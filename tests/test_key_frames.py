"""Key frames of a cine: a frame is searched against the last frame searched in full.

The finder and verify take a key frame's decisions only where a frame's pixels did not change;
text that appears later, anywhere, is still found and removed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _phi_images import text_layer
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

from medocr_cli.io import read_scan
from medocr_cli.pipeline.scrub import ScrubConfig, load_run_models, run_scrub
from medocr_cli.pipeline.scrub.key_frames import KeyFills
from medocr_cli.pipeline.scrub.verify import verify_scan
from medocr_cli.stages.frame_change import REACH, change_between
from medocr_cli.types import Box, Status

SIZE = 256
LATE = ["ACC 99812"]


def cine_frames(n: int = 6, late_from: int | None = None) -> np.ndarray:
    """Grey frames: static PHI lines top left, a bright disc moving across the middle, and
    from frame `late_from` on a further line at the bottom left (a static area until then)."""
    alpha, _ = text_layer(SIZE)
    late, _ = text_layer(SIZE, LATE)
    late = np.roll(late, 200, axis=0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    rng = np.random.default_rng(0)
    ground = 0.12 + rng.normal(0, 0.01, (SIZE, SIZE))
    frames = []
    for i in range(n):
        cx = 90 + 12 * i
        disc = ((xx - cx) ** 2 + (yy - 140) ** 2 < 30**2) * (0.5 + 0.04 * i)
        img = np.clip(ground + disc, 0, 1)
        img = img * (1 - alpha / 255) + alpha / 255
        if late_from is not None and i >= late_from:
            img = img * (1 - late / 255) + late / 255
        frames.append((img * 255).round().astype(np.uint8))
    return np.stack(frames)


def write_cine(path: Path, frames: np.ndarray) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.NumberOfFrames = len(frames)
    ds.set_pixel_data(frames, "MONOCHROME2", 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="module")
def models():
    return load_run_models(ScrubConfig(inputs=[], output=Path()))


def test_cine_is_searched_against_one_key_frame(tmp_path, models):
    src = tmp_path / "in"
    frames = cine_frames()
    write_cine(src / "cine.dcm", frames)
    summary = run_scrub(ScrubConfig(inputs=[src], output=tmp_path / "out"), models=models)
    (result,) = summary.results
    assert result.status == Status.OK and result.frames == 6
    assert result.key_frames == 1  # the moving disc is far below the share that forces more
    assert result.regions_reused and result.regions_reused >= 5  # the lines, in frames 1-5
    assert result.pixels_copied and result.pixels_copied > 0
    out = read_scan(tmp_path / "out" / "cine.dcm").frames
    _, boxes = text_layer(SIZE)
    for i in range(6):  # every frame's overlay is repainted
        for x0, y0, x1, y1 in boxes:
            assert not np.array_equal(out[i, y0:y1, x0:x1], frames[i, y0:y1, x0:x1])
    # the static overlay's fill is the key frame's in every frame (no flicker), as far as
    # the moving disc is not within reach
    x0, y0, x1, y1 = boxes[0]
    assert all(np.array_equal(out[i, y0:y1, x0:x1], out[0, y0:y1, x0:x1]) for i in range(6))
    # the moving anatomy is untouched
    assert np.array_equal(out[:, 110:170, 60:220], frames[:, 110:170, 60:220])


def test_text_appearing_later_is_found_and_removed(tmp_path, models):
    src = tmp_path / "in"
    frames = cine_frames(late_from=3)
    write_cine(src / "cine.dcm", frames)
    summary = run_scrub(ScrubConfig(inputs=[src], output=tmp_path / "out"), models=models)
    (result,) = summary.results
    assert result.status == Status.OK
    assert not result.repaired  # removed by the finder itself, not by verify's safety net
    assert {r[0] for r in result.regions or [] if r[2] > 190} == {3, 4, 5}
    out = read_scan(tmp_path / "out" / "cine.dcm").frames
    _, late_boxes = text_layer(SIZE, LATE)
    x0, y0, x1, y1 = late_boxes[0]
    y0, y1 = y0 + 200, y1 + 200
    for i in range(3):  # nothing there to remove yet
        assert np.array_equal(out[i, y0:y1, x0:x1], frames[i, y0:y1, x0:x1])
    for i in range(3, 6):
        changed = out[i, y0:y1, x0:x1] != frames[i, y0:y1, x0:x1]
        assert changed.mean() > 0.1
        assert (out[i, y0:y1, x0:x1] > 200).sum() < 5  # the white strokes are gone


def test_verify_finds_text_that_appears_in_a_later_frame(tmp_path, models):
    path = tmp_path / "cine.dcm"
    frames = cine_frames(late_from=4)
    _, boxes = text_layer(SIZE)
    # the first lines "cleaned" by hand (flat ground), the late line left in
    for x0, y0, x1, y1 in boxes:
        frames[:, y0 - 3 : y1 + 3, x0 - 3 : x1 + 3] = 31
    write_cine(path, frames)
    found = verify_scan(read_scan(path), models.detector, {})
    assert {b.frame for b in found.regions} == {4, 5}
    assert found.frames_against_key >= 3  # the frames after the first were searched against it


def test_verify_key_frame_finds_stand_where_nothing_changed(tmp_path, models):
    path = tmp_path / "cine.dcm"
    write_cine(path, cine_frames())  # the PHI lines in every frame, never removed
    found = verify_scan(read_scan(path), models.detector, {})
    assert {b.frame for b in found.regions} == set(range(6))
    assert found.frames_against_key == 5


def test_change_between_tolerance_and_reach():
    key = np.zeros((64, 64), np.uint8)
    frame = key.copy()
    frame[30, 30] = 5
    assert change_between(frame, key, 0).share > 0
    assert change_between(frame, key, 8).share == 0
    change = change_between(frame, key, 0)
    assert change.touches(Box(0, 30 + REACH, 30, 40 + REACH, 35))
    assert not change.touches(Box(0, 31 + REACH, 30, 40 + REACH, 35))


class FakeScan:
    def __init__(self, frames: np.ndarray) -> None:
        self.frames = frames

    def set_frame(self, index: int, values: np.ndarray) -> None:
        self.frames[index] = values


def test_key_fills_copy_only_where_nothing_changed_nearby():
    frames = np.full((2, 80, 80), 50, np.uint8)
    frames[1, 10:14, 60:64] = 200  # a change near the second hole only
    hole = np.zeros((80, 80), bool)
    hole[20:25, 10:30] = True  # far from the change
    hole[20:25, 55:70] = True  # within reach of it
    before = frames[0].copy()
    after = before.copy()
    after[hole] = 77
    fills = KeyFills(tol=0)
    fills.remember(0, before, after, hole)
    scan = FakeScan(frames)
    left = fills.copy_into(scan, 1, 0, hole)
    assert (scan.frames[1][20:25, 10:30] == 77).all()  # copied
    assert (scan.frames[1][20:25, 55:70] == 50).all()  # left to the inpainter
    assert left[20:25, 55:70].all() and not left[20:25, 10:30].any()
    assert fills.copied == 5 * 20
    assert fills.copy_into(scan, 1, 7, hole) is hole  # an unknown key frame copies nothing


def test_verify_reads_a_window_hidden_name_on_a_large_radiograph(tmp_path, models):
    """A name below the window of a large frame, invisible on the display rendering, is found
    in the whole-range renderings."""
    from PIL import Image, ImageDraw, ImageFont
    from pydicom.uid import CTImageStorage

    rows, cols = 1600, 2048
    layer = Image.new("L", (cols, rows), 0)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 40)
    ImageDraw.Draw(layer).text((60, 60), "QUARRINGTON 6680", fill=255, font=font)
    alpha = np.asarray(layer) / 255.0
    rng = np.random.default_rng(1)
    hu = -1000 + 1100 * (np.mgrid[:rows, :cols][1] / cols) + rng.normal(0, 15, (rows, cols))
    hu = hu * (1 - alpha) + -1900 * alpha  # below the window, like the air around it
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.set_pixel_data(np.clip(hu + 1024, -2048, 4095).round().astype(np.int16), "MONOCHROME2", 16)
    path = tmp_path / "big.dcm"
    ds.save_as(path, enforce_file_format=True)
    found = verify_scan(read_scan(path), models.detector, {})
    assert any(b.x0 < 200 and b.y0 < 140 and b.x1 > 300 for b in found.regions)


def _ct_cine(names: list[str]) -> Dataset:
    """A 16-bit CT cine (window 40/400): frame i holds `names[i]` at -1900 HU on air, below
    the window, so the display renderings differ only where a disc moves."""
    from PIL import Image, ImageDraw, ImageFont
    from pydicom.uid import CTImageStorage

    rows, cols = 256, 320
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 24)
    yy, xx = np.mgrid[:rows, :cols]
    frames = []
    for i, name in enumerate(names):
        layer = Image.new("L", (cols, rows), 0)
        ImageDraw.Draw(layer).text((10, 8), name, fill=255, font=font)
        a = np.asarray(layer) / 255.0
        hu = np.full((rows, cols), -1000.0) + np.random.default_rng(1).normal(0, 3, (rows, cols))
        hu[((xx - 160) ** 2 / 110**2 + (yy - 150) ** 2 / 80**2) < 1] = 40
        hu[(xx - 120 - 8 * i) ** 2 + (yy - 150) ** 2 < 400] = 300
        frames.append(np.clip(hu * (1 - a) - 1900 * a + 1024, -2048, 4095).round())
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.NumberOfFrames = len(frames)
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.set_pixel_data(np.stack(frames).astype(np.int16), "MONOCHROME2", 16)
    return ds


def test_verify_sees_hidden_text_change_between_frames(tmp_path, models):
    """A name below the window that changes between frames looks the same on screen: the
    stored values tell verify that those pixels changed, so they are read again (found by a
    tester: with the display rendering alone, frames 2-5 took key frame 0's empty answer)."""
    path = tmp_path / "ct.dcm"
    _ct_cine(["ZZ 1", "ZZ 1"] + ["QUARRINGTON 6680"] * 4).save_as(path, enforce_file_format=True)
    found = verify_scan(read_scan(path), models.detector, {})
    assert {b.frame for b in found.regions if b.y0 < 40} >= {2, 3, 4, 5}


def test_a_frame_reads_whole_like_its_key_frame_when_the_detector_sees_nothing(models):
    """A key frame whose text only the whole-frame Tesseract pass found (the detector saw
    nothing) does not lend its regions in place of that pass: a changed line is read too."""
    finder = load_run_models(ScrubConfig(inputs=[], output=Path())).finder
    real = finder.detector.detect_with_maps
    finder.detector.detect_with_maps = lambda f, b, i: [([], m) for _, m in real(f, b, i)]
    frames = []
    for clock in ("12:03:10", "12:03:47"):
        alpha, _ = text_layer(SIZE, ["DOE^JANE 4821937", "", "", "", "", "", "", clock])
        frames.append((0.1 + 0.8 * alpha / 255 * 255).round().astype(np.uint8))
    (key,) = finder.find([frames[0]], [0])
    assert key.fallback and len(key.boxes) >= 2
    change = change_between(frames[1], frames[0])
    (part,) = finder.find_partial([frames[1]], [1], [change], [key])
    (full,) = finder.find([frames[1]], [1])
    clock = [b for b in full.boxes if b.y0 > 150]
    assert clock and any(b.y0 > 150 and b.text == clock[0].text for b in part.boxes)
