"""A hard set of burned-in text that a finder can miss, generated here (issue 23).

Each case is one small scan with fake PHI drawn the hard way: low contrast, rotated, a faint
line beside a bright one, tiny text on speckle, blurred text, dark text on a light area, text on
one frame of a cine only, and text a CT window hides. `is_unsafe` is the yardstick: an output is
unsafe when it sits in the output tree reported ok while its text can still be read, by
Tesseract after a contrast stretch of the text's region, turned upright.

Used by `tests/test_verify_everywhere.py` and `benchmarks/bench_hard_set.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SIZE = 256


@dataclass(frozen=True)
class HardCase:
    """One generated scan: where it is, the PHI words drawn, and where each line lies.

    Attributes:
        name: The case (also the file's stem).
        path: The file written.
        words: PHI words (4+ characters) that must not stay readable.
        boxes: (frame, x0, y0, x1, y1, angle) per line: the line was drawn turned `angle`
            degrees counter-clockwise, so turning it back makes it upright.
    """

    name: str
    path: Path
    words: tuple[str, ...]
    boxes: tuple[tuple[int, int, int, int, int, int], ...]


def _background(seed: int, texture: float = 0.0) -> np.ndarray:
    """A smooth scan-like disc on a dark field in [0, 255], with optional speckle."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE - 0.5
    disc = (xx**2 + yy**2 < 0.17) * 90.0 + 30.0 + 25.0 * np.cos(6 * xx) * (xx**2 + yy**2 < 0.17)
    noise = rng.normal(0, 2.0, disc.shape)
    if texture:
        speckle = rng.gamma(2.0, 0.5, disc.shape) - 1.0
        noise += texture * speckle
    return np.clip(disc + noise, 0, 255)


def _line_layer(text: str, px: int, bold: bool = False) -> Image.Image:
    """An alpha layer holding one line of text, cropped to it with a small margin."""
    font = ImageFont.truetype(BOLD if bold else FONT, px)
    left, top, right, bottom = font.getbbox(text)
    layer = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(layer).text((2 - left, 2 - top), text, fill=255, font=font)
    return layer


def _paste(
    canvas: np.ndarray, layer: Image.Image, xy: tuple[int, int], value: float, angle: float = 0.0
) -> tuple[int, int, int, int]:
    """Blend `layer` (rotated by `angle` degrees) at `xy` with ink `value`; return its box."""
    if angle:
        layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    alpha = np.asarray(layer, np.float64) / 255.0
    x, y = xy
    h, w = alpha.shape
    region = canvas[y : y + h, x : x + w]
    canvas[y : y + h, x : x + w] = region * (1 - alpha) + value * alpha
    return x, y, x + w, y + h


def _png(path: Path, canvas: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(canvas, 0, 255).round().astype(np.uint8)).save(path)


def _case(name: str, folder: Path, draw: Callable[[Path], tuple]) -> HardCase:
    suffix = ".dcm" if name in ("cine_one_frame", "ct_window_hides") else ".png"
    path = folder / f"{name}{suffix}"
    words, boxes = draw(path)
    return HardCase(name, path, tuple(words), tuple(boxes))


def _low_contrast(path: Path) -> tuple:
    canvas = _background(1)
    base = canvas[2:24, 6:200].mean()
    box = _paste(canvas, _line_layer("HOLLOWAY^MARGARET", 16, bold=True), (6, 2), base + 14)
    _png(path, canvas)
    return ["HOLLOWAY", "MARGARET"], [(0, *box, 0)]


def _very_low_contrast(path: Path) -> tuple:
    canvas = _background(2)
    box = _paste(canvas, _line_layer("ID 73920541", 18, bold=True), (4, 237), 30 + 10)
    _png(path, canvas)
    return ["73920541"], [(0, *box, 0)]


def _rotated(angle: float, seed: int) -> Callable[[Path], tuple]:
    def draw(path: Path) -> tuple:
        canvas = _background(seed)
        text = "PEMBERTON^JULIAN"
        layer = _line_layer(text, 16)
        x, y = (4, 30) if angle in (90, 270) else (20, 110)
        box = _paste(canvas, layer, (x, y), 235, angle)
        _png(path, canvas)
        return ["PEMBERTON", "JULIAN"], [(0, *box, angle)]

    return draw


def _faint_beside_bright(path: Path) -> tuple:
    canvas = _background(4)
    bright = _paste(canvas, _line_layer("ST MARY CLINIC", 16), (10, 8), 250)
    faint = _paste(canvas, _line_layer("DOB 1961-07-23", 15), (10, 30), 62)
    _png(path, canvas)
    return ["CLINIC", "1961", "0723"], [(0, *bright, 0), (0, *faint, 0)]


def _tiny_on_texture(path: Path) -> tuple:
    canvas = _background(5, texture=18.0)
    box = _paste(canvas, _line_layer("MRN 55031827", 10), (140, 120), 220)
    _png(path, canvas)
    return ["55031827"], [(0, *box, 0)]


def _blurred(path: Path) -> tuple:
    canvas = _background(6)
    layer = _line_layer("ASHWORTH^KEIRA", 18).filter(ImageFilter.GaussianBlur(1.6))
    box = _paste(canvas, layer, (14, 200), 225)
    _png(path, canvas)
    return ["ASHWORTH", "KEIRA"], [(0, *box, 0)]


def _dark_on_light(path: Path) -> tuple:
    canvas = _background(7)
    canvas[150:200, 40:230] = 215 + canvas[150:200, 40:230] * 0.1  # a bright film label
    box = _paste(canvas, _line_layer("FAIRWEATHER 0412", 16), (50, 164), 15)
    _png(path, canvas)
    return ["FAIRWEATHER", "0412"], [(0, *box, 0)]


def _cine_one_frame(path: Path) -> tuple:
    frames = []
    box = (0, 0, 0, 0)
    for i in range(6):
        canvas = _background(10 + i)
        if i == 3:
            box = _paste(canvas, _line_layer("BRIGHTWELL^OTIS", 16), (12, 12), 240)
        frames.append(np.clip(canvas, 0, 255).round().astype(np.uint8))
    ds = _dataset(UltrasoundMultiFrameImageStorage, "US")
    ds.NumberOfFrames = len(frames)
    ds.set_pixel_data(np.stack(frames), "MONOCHROME2", 8)
    _save(ds, path)
    return ["BRIGHTWELL", "OTIS"], [(3, *box, 0)]


def _ct_window_hides(path: Path) -> tuple:
    """Text stored at -1500 HU on air (-1000): both below the window, both shown black."""
    canvas = _background(8) / 255.0 * 1100 - 1000  # HU, air to soft tissue
    layer = _line_layer("QUARRINGTON 6680", 17, bold=True)
    box = _paste(canvas, layer, (10, 12), -1900)
    ds = _dataset(CTImageStorage, "CT")
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    stored = np.clip(canvas + 1024, -2048, 4095).round().astype(np.int16)
    ds.set_pixel_data(stored, "MONOCHROME2", 16)
    _save(ds, path)
    return ["QUARRINGTON", "6680"], [(0, *box, 0)]


def _dataset(sop_class: str, modality: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = modality
    ds.BurnedInAnnotation = "YES"
    return ds


def _save(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


CASES: dict[str, Callable[[Path], tuple]] = {
    "low_contrast": _low_contrast,
    "very_low_contrast": _very_low_contrast,
    "rotated_90": _rotated(90, 3),
    "rotated_270": _rotated(270, 13),
    "rotated_180": _rotated(180, 23),
    "rotated_12": _rotated(12, 33),
    "faint_beside_bright": _faint_beside_bright,
    "tiny_on_texture": _tiny_on_texture,
    "blurred": _blurred,
    "dark_on_light": _dark_on_light,
    "cine_one_frame": _cine_one_frame,
    "ct_window_hides": _ct_window_hides,
}


def write_hard_set(folder: Path) -> list[HardCase]:
    """Write every case into `folder`; return them in a fixed order."""
    return [_case(name, folder, draw) for name, draw in CASES.items()]


def _stretched_crops(frame: np.ndarray, box: tuple[int, ...]) -> list[np.ndarray]:
    """The region of one line (grown), upright, contrast-stretched, in several readings, 3x.

    Readings: the region stretched between its 1st and 99th percentile, both polarities, and
    the strokes lifted off their background (the absolute difference to a median-filtered
    copy, stretched, dark on light): text over a bright organ edge stays legible there.
    """
    import cv2

    _, x0, y0, x1, y1, angle = box
    g = 6
    crop = frame[max(0, y0 - g) : y1 + g, max(0, x0 - g) : x1 + g].astype(np.float64)
    if crop.ndim == 3:
        crop = crop.mean(axis=2)
    if angle % 90 == 0:
        crop = np.rot90(crop, int(-angle // 90) % 4)
    else:  # turn back by the angle; keep the band the line fills (its height solved from
        # the turned box: H = w sin a + h cos a, W = w cos a + h sin a)
        rad = np.deg2rad(angle)
        big_h, big_w = crop.shape
        line_h = (big_h * np.cos(rad) - big_w * np.sin(rad)) / np.cos(2 * rad)
        turned = Image.fromarray(crop.astype(np.float32), mode="F").rotate(
            -angle, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=float(np.median(crop))
        )
        crop = np.asarray(turned, np.float64)
        mid, half = crop.shape[0] / 2, line_h / 2 + g
        crop = crop[max(0, int(mid - half)) : int(np.ceil(mid + half))]
        margin = int((crop.shape[1] - (big_w * np.cos(rad) - big_h * np.sin(rad))) / 2)
        crop = crop[:, max(0, margin - g) : crop.shape[1] - max(0, margin - g)]

    def stretch(values: np.ndarray) -> np.ndarray | None:
        lo, hi = np.percentile(values, 1), np.percentile(values, 99)
        if hi <= lo:
            return None
        return (np.clip((values - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)

    readings = []
    plain = stretch(crop)
    if plain is not None:
        readings += [plain, 255 - plain]
        k = 2 * (min(crop.shape) // 2) + 1
        background = cv2.medianBlur(plain, min(k, 31)) if k >= 3 else plain
        lifted = stretch(np.abs(plain.astype(np.float64) - background))
        if lifted is not None:
            readings.append(255 - lifted)
        readings.append(cv2.medianBlur(plain, 3))  # speckle under small text
        readings.append(255 - readings[-1])
    out = []
    for reading in readings:
        big = cv2.resize(reading, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        out.append(cv2.copyMakeBorder(big, 20, 20, 20, 20, cv2.BORDER_REPLICATE))
    return out


def _seen(word: str, text: str, similarity: float = 0.75) -> bool:
    """Whether `word` stands in `text` (alphanumerics only), allowing a few misread letters.

    A reading with a quarter of a name's letters wrong ("ASPNORTH" for "ASHWORTH") still names
    the patient to a person: it counts as read.
    """
    from difflib import SequenceMatcher

    key = "".join(c for c in word if c.isalnum())
    if key in text:
        return True
    n = len(key)
    return any(
        SequenceMatcher(None, key, text[i : i + n]).ratio() >= similarity
        for i in range(max(1, len(text) - n + 1))
    )


def readable_words(frames: np.ndarray, case: HardCase) -> list[str]:
    """The case's words that Tesseract reads in its regions of `frames` (stored values)."""
    from medocr_cli.stages.printed import tesseract_data

    seen = set()
    for box in case.boxes:
        for crop in _stretched_crops(np.asarray(frames[box[0]]), box):
            for psm in (7, 6):
                data = tesseract_data(crop, psm)
                text = "".join(ch for ch in " ".join(data.get("text", [])).upper() if ch.isalnum())
                seen |= {w for w in case.words if _seen(w, text)}
    return sorted(seen)


def is_unsafe(case: HardCase, line: dict, output: Path | None) -> bool:
    """An output in the tree, reported ok, whose text is still readable."""
    from medocr_cli.io import read_scan

    if output is None or not output.is_file() or line.get("status") != "ok":
        return False
    return bool(readable_words(read_scan(output).frames, case))
