"""Small images with fake PHI burned in, for the pipeline and CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PHI_LINES = ["DOE^JANE", "MRN 4821937", "DOB 1957-03-14"]


def text_layer(
    size: int, lines: list[str] = PHI_LINES, px: int = 18
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Return a uint8 alpha layer with `lines` drawn at the top left, and each line's box."""
    layer = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(layer)
    font = ImageFont.truetype(FONT, px)
    boxes = []
    for i, line in enumerate(lines):
        xy = (8, 6 + i * (px + 8))
        draw.text(xy, line, fill=255, font=font)
        boxes.append(tuple(int(v) for v in draw.textbbox(xy, line, font=font)))
    return np.asarray(layer), boxes


def background(size: int, seed: int = 0) -> np.ndarray:
    """A smooth CT-like disc on a dark field, values in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    disc = (xx**2 + yy**2 < 0.16).astype(float) * 0.45
    return np.clip(disc + 0.1 + rng.normal(0, 0.02, (size, size)), 0, 1)


def write_png(path: Path, size: int = 256, seed: int = 0) -> list[tuple[int, int, int, int]]:
    """Write a grey PNG with PHI in white; return the text boxes."""
    alpha, boxes = text_layer(size)
    img = background(size, seed) * (1 - alpha / 255) + alpha / 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((img * 255).round().astype(np.uint8)).save(path)
    return boxes


def write_ct(path: Path, size: int = 256, frames: int = 1) -> list[tuple[int, int, int, int]]:
    """Write a signed 16-bit CT DICOM (HU = stored - 1024) with PHI burned in at a high value."""
    alpha, boxes = text_layer(size)
    hu = background(size) * 1400 - 1000  # air to soft tissue
    stored = hu + 1024
    stored = stored * (1 - alpha / 255) + 3000 * (alpha / 255)
    arr = np.repeat(stored.round().astype(np.int16)[None], frames, axis=0)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "4821937"
    ds.Modality = "CT"
    ds.BurnedInAnnotation = "YES"
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.set_pixel_data(arr if frames > 1 else arr[0], "MONOCHROME2", 16)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return boxes


def ocr_words(image: np.ndarray) -> str:
    """All text our strongest Tesseract reading finds (every rendering, any confidence)."""
    from medocr_cli.stages.printed import PrintedConfig, read_printed

    return "\n".join(b.text for b in read_printed(image, 0, PrintedConfig(min_conf=0)))


def phi_read(text: str, lines: list[str] = PHI_LINES) -> list[str]:
    """The PHI tokens (of 3+ characters) that occur in one line of OCR output `text`.

    Each line is matched with its spaces and punctuation dropped, so "48 21937" still finds
    4821937; lines are not joined, so noise read in two places ("D>" ... "oe") is not "DOE".
    """
    flat = ["".join(ch for ch in row.upper() if ch.isalnum()) for row in text.splitlines()]
    tokens = {t for line in lines for t in line.replace("^", " ").split() if len(t) >= 3}
    keys = {t: "".join(ch for ch in t if ch.isalnum()) for t in tokens}
    return sorted(t for t in tokens if any(keys[t] in row for row in flat))


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below `folder`, keyed by its relative path."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
