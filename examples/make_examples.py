"""Generate the shipped example images with fake, synthetic PHI burned into the pixels.

Every name, identifier, date and institution in these files is invented. The backgrounds are
procedural (no real patient data is used). The script is deterministic: running it twice gives
byte-identical files.

Usage (from the repository root)::

    python examples/make_examples.py            # (re)write the examples next to this script
    python examples/make_examples.py --check    # also OCR every file and report the PHI read

Files written (see README.md in this folder):

* ``ct_head.png``            grey 8-bit PNG, head CT in a brain window, white overlay text
* ``us_abdomen_rgb.png``     RGB PNG, ultrasound fan on black with coloured overlay text
* ``ct_chest_int16.dcm``     CT, signed int16, MONOCHROME2, RescaleIntercept -1024, padding -2000
* ``us_cine_multiframe.dcm`` Ultrasound multi-frame, 8 frames, 8-bit, changing frame counter
* ``mr_knee_rle.dcm``        MR, uint16 (12 bits stored), RLE Lossless transfer syntax
* ``cr_chest_mono1.dcm``     CR, MONOCHROME1, uint16 (12 bits stored), JPEG 2000 Lossless,
  dark text on a light ID label
* ``phi.json``               the exact PHI strings burned into each file, one per text line
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    MRImageStorage,
    RLELossless,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

HERE = Path(__file__).resolve().parent
SEED = 20240517
UID_SALT = "medocr-examples-v1"

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LIBERATION = Path("/usr/share/fonts/truetype/liberation")
FONT_FILES: dict[str, Path] = {
    "sans": DEJAVU / "DejaVuSans.ttf",
    "sans-bold": DEJAVU / "DejaVuSans-Bold.ttf",
    "mono": DEJAVU / "DejaVuSansMono.ttf",
    "mono-bold": DEJAVU / "DejaVuSansMono-Bold.ttf",
    "lib-sans": LIBERATION / "LiberationSans-Regular.ttf",
    "lib-sans-bold": LIBERATION / "LiberationSans-Bold.ttf",
    "lib-mono": LIBERATION / "LiberationMono-Regular.ttf",
    "lib-mono-bold": LIBERATION / "LiberationMono-Bold.ttf",
}

Corner = str  # "tl" | "tr" | "bl" | "br"


@dataclass(frozen=True)
class TextLine:
    """One line of burned-in overlay text.

    Attributes:
        text: The exact string drawn.
        phi: Whether the line is protected health information (listed in ``phi.json``).
    """

    text: str
    phi: bool = True


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """Load one of the known TrueType fonts.

    Args:
        name: A key of ``FONT_FILES``.
        size: Font size in pixels.

    Returns:
        The loaded font.
    """
    return ImageFont.truetype(str(FONT_FILES[name]), size)


def text_mask(
    shape: tuple[int, int],
    blocks: Sequence[tuple[Corner, Sequence[TextLine]]],
    fnt: ImageFont.FreeTypeFont,
    margin: int = 10,
    spacing: int = 6,
) -> np.ndarray:
    """Render blocks of text lines into the corners of an anti-aliased coverage mask.

    Args:
        shape: ``(rows, cols)`` of the mask.
        blocks: ``(corner, lines)`` pairs; lines are stacked from the corner inwards.
        fnt: Font to draw with.
        margin: Distance in pixels from the image edge.
        spacing: Extra pixels between lines.

    Returns:
        A float32 array in ``[0, 1]``: 1 where the glyphs are fully drawn.
    """
    rows, cols = shape
    img = Image.new("L", (cols, rows), 0)
    draw = ImageDraw.Draw(img)
    ascent, descent = fnt.getmetrics()
    line_h = ascent + descent + spacing
    for corner, lines in blocks:
        n = len(lines)
        for i, line in enumerate(lines):
            width = draw.textlength(line.text, font=fnt)
            x = margin if corner[1] == "l" else cols - margin - width
            y = margin + i * line_h if corner[0] == "t" else rows - margin - (n - i) * line_h
            draw.text((x, y), line.text, font=fnt, fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def burn(base: np.ndarray, mask: np.ndarray, value: float | Sequence[float]) -> np.ndarray:
    """Blend a constant value into an image through a coverage mask.

    Args:
        base: Image as float array, ``(rows, cols)`` or ``(rows, cols, channels)``.
        mask: Coverage in ``[0, 1]``, ``(rows, cols)``.
        value: Value (or per-channel values) of the text.

    Returns:
        The blended float array.
    """
    m = mask[..., None] if base.ndim == 3 else mask
    return base * (1.0 - m) + np.asarray(value, dtype=np.float64) * m


def phi_of(blocks: Sequence[tuple[Corner, Sequence[TextLine]]]) -> list[str]:
    """List the PHI strings of some text blocks, in drawing order.

    Args:
        blocks: ``(corner, lines)`` pairs.

    Returns:
        The text of each line flagged as PHI.
    """
    return [line.text for _, lines in blocks for line in lines if line.phi]


# --------------------------------------------------------------------------- backgrounds


def gaussian_blur(arr: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected borders (numpy only).

    Args:
        arr: 2-D float array.
        sigma: Standard deviation in pixels.

    Returns:
        The blurred array.
    """
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    out = np.pad(arr.astype(np.float64), radius, mode="reflect")
    out = np.apply_along_axis(lambda r: np.convolve(r, k, mode="valid"), 1, out)
    out = np.apply_along_axis(lambda c: np.convolve(c, k, mode="valid"), 0, out)
    return out


def grid(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate grids centred on the image, in pixels.

    Args:
        rows: Image height.
        cols: Image width.

    Returns:
        ``(y, x)`` float arrays of shape ``(rows, cols)``.
    """
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    return y - (rows - 1) / 2, x - (cols - 1) / 2


def ellipse(
    y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float, angle: float = 0.0
) -> np.ndarray:
    """Boolean mask of a (rotated) ellipse.

    Args:
        y: Row coordinate grid.
        x: Column coordinate grid.
        cy: Centre row.
        cx: Centre column.
        ry: Semi-axis along rows.
        rx: Semi-axis along columns.
        angle: Rotation in radians.

    Returns:
        Mask of the pixels inside the ellipse.
    """
    c, s = np.cos(angle), np.sin(angle)
    dy, dx = y - cy, x - cx
    u = dx * c + dy * s
    v = -dx * s + dy * c
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def head_ct_hu(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Axial head CT in Hounsfield units: skull ring, brain, ventricles, noise.

    Args:
        rng: Random generator.
        size: Image side in pixels.

    Returns:
        Float HU array ``(size, size)``.
    """
    y, x = grid(size, size)
    s = size / 512
    hu = np.full((size, size), -1000.0)
    outer = ellipse(y, x, 0, 0, 200 * s, 165 * s)
    inner = ellipse(y, x, 4 * s, 0, 184 * s, 150 * s)
    hu[outer] = 60.0  # scalp
    hu[ellipse(y, x, 0, 0, 192 * s, 157 * s)] = 1100.0  # skull
    brain = gaussian_blur(rng.normal(0, 1, (size, size)), 6) * 60
    hu[inner] = 35.0 + brain[inner]
    grey = ellipse(y, x, 4 * s, 0, 175 * s, 141 * s) & ~ellipse(y, x, 6 * s, 0, 150 * s, 118 * s)
    hu[grey] += 8.0
    for cx, ang in ((-22 * s, 0.25), (22 * s, -0.25)):
        hu[ellipse(y, x, -10 * s, cx, 45 * s, 10 * s, ang)] = 8.0  # lateral ventricles
    hu[ellipse(y, x, 30 * s, 0, 9 * s, 5 * s)] = 8.0  # third ventricle
    hu[ellipse(y, x, -150 * s, 0, 25 * s, 40 * s) & outer & ~inner] = -700.0  # frontal sinus
    hu += rng.normal(0, 4, hu.shape)
    return hu


def chest_ct_hu(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Axial chest CT in HU inside a circular field of view; -2000 (padding) outside it.

    Args:
        rng: Random generator.
        size: Image side in pixels.

    Returns:
        Float HU array ``(size, size)``.
    """
    y, x = grid(size, size)
    s = size / 512
    hu = np.full((size, size), -1000.0)
    body = ellipse(y, x, 10 * s, 0, 150 * s, 215 * s)
    hu[body] = -100.0  # subcutaneous fat
    hu[ellipse(y, x, 10 * s, 0, 138 * s, 200 * s)] = 45.0  # muscle / mediastinum
    texture = gaussian_blur(rng.normal(0, 1, (size, size)), 3) * 40
    for cx in (-95 * s, 95 * s):
        lung = ellipse(y, x, 0, cx, 110 * s, 75 * s)
        hu[lung] = -850.0 + texture[lung]
    hu[ellipse(y, x, -10 * s, -20 * s, 55 * s, 60 * s, 0.4)] = 40.0  # heart
    hu[ellipse(y, x, -55 * s, 30 * s, 16 * s, 16 * s)] = 180.0  # aorta (contrast)
    hu[ellipse(y, x, 95 * s, 0, 22 * s, 24 * s)] = 650.0  # vertebral body
    hu[ellipse(y, x, 128 * s, 0, 14 * s, 9 * s)] = 600.0  # spinous process
    for k in range(-3, 4):  # rib cross-sections
        a = np.pi / 2 + k * 0.38
        hu[ellipse(y, x, 10 * s + 130 * s * np.sin(a), 195 * s * np.cos(a), 7 * s, 9 * s)] = 700.0
        hu[ellipse(y, x, 10 * s - 130 * s * np.sin(a), 195 * s * np.cos(a), 7 * s, 9 * s)] = 700.0
    hu[(y > 166 * s) & (y < 173 * s) & (np.abs(x) < 150 * s)] = 250.0  # table
    hu += rng.normal(0, 12, hu.shape)
    hu[y**2 + x**2 > (size / 2 - 2) ** 2] = -3024.0  # outside the reconstruction circle
    return hu


def ultrasound_fan(
    rng: np.random.Generator, rows: int, cols: int, phase: float = 0.0
) -> np.ndarray:
    """B-mode ultrasound sector on black: speckle, attenuation, a cyst and an organ edge.

    Args:
        rng: Random generator.
        rows: Image height.
        cols: Image width.
        phase: Slow motion parameter (cine frames shift the structures slightly).

    Returns:
        Float array in ``[0, 255]`` of shape ``(rows, cols)``.
    """
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    apex_y, apex_x = -0.08 * rows, cols / 2
    r = np.hypot(yy - apex_y, xx - apex_x)
    theta = np.arctan2(xx - apex_x, yy - apex_y)
    r0, r1 = 0.22 * rows, 0.98 * rows
    fan = (np.abs(theta) < np.deg2rad(36)) & (r > r0) & (r < r1)
    depth = np.clip((r - r0) / (r1 - r0), 0, 1)
    echo = 0.55 + 0.25 * gaussian_blur(rng.normal(0, 1, (rows, cols)), rows / 40)
    organ = ellipse(yy, xx, 0.62 * rows, 0.42 * cols + 6 * np.sin(phase), 0.3 * rows, 0.4 * cols)
    echo[organ] += 0.25
    cyst = ellipse(yy, xx, 0.55 * rows + 4 * np.cos(phase), 0.58 * cols, 0.07 * rows, 0.09 * cols)
    echo[cyst] = 0.04
    speckle = rng.rayleigh(1.0, (rows, cols))
    img = 255 * np.clip(echo, 0, 1.2) * speckle * 0.55 * (1.0 - 0.55 * depth)
    img = 0.6 * img + 0.4 * gaussian_blur(img, 1.0)
    img[~fan] = 0.0
    return np.clip(img, 0, 255)


def knee_mr(rng: np.random.Generator, size: int) -> np.ndarray:
    """Sagittal knee MR-like image (T1-ish intensities, Rician noise), values ~0-3000.

    Args:
        rng: Random generator.
        size: Image side in pixels.

    Returns:
        Float array ``(size, size)``.
    """
    y, x = grid(size, size)
    s = size / 384
    img = np.zeros((size, size))
    leg = ellipse(y, x, 10 * s, 0, 160 * s, 95 * s)
    img[leg] = 900.0  # muscle
    img[leg & ~ellipse(y, x, 10 * s, 0, 153 * s, 85 * s)] = 2400.0  # subcutaneous fat
    femur = ellipse(y, x, -80 * s, -5 * s, 90 * s, 38 * s)
    tibia = ellipse(y, x, 100 * s, 0, 80 * s, 40 * s)
    img[femur | tibia] = 2000.0  # marrow (fatty)
    img[femur & ~ellipse(y, x, -80 * s, -5 * s, 84 * s, 32 * s)] = 60.0  # cortex
    img[tibia & ~ellipse(y, x, 100 * s, 0, 74 * s, 34 * s)] = 60.0
    img[ellipse(y, x, -10 * s, 62 * s, 32 * s, 9 * s, 0.3)] = 150.0  # patellar tendon
    img[ellipse(y, x, 12 * s, -10 * s, 6 * s, 32 * s)] = 1300.0  # joint fluid / cartilage
    img *= 1.0 + 0.08 * gaussian_blur(rng.normal(0, 1, (size, size)), 8)
    img = gaussian_blur(img, 1.2)
    noise_r = rng.normal(0, 40, img.shape)
    noise_i = rng.normal(0, 40, img.shape)
    return np.hypot(img + noise_r, noise_i)


def chest_xray_display(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """PA chest radiograph as display intensity (bright = dense), in ``[0, 1]``.

    Args:
        rng: Random generator.
        rows: Image height.
        cols: Image width.

    Returns:
        Float array ``(rows, cols)``.
    """
    y, x = grid(rows, cols)
    s = rows / 512
    img = 0.25 + 0.25 * (y / rows + 0.5)  # soft-tissue gradient, brighter at the bottom
    body = ellipse(y, x, 30 * s, 0, 300 * s, 185 * s)
    img = np.where(body, img + 0.25, img * 0.5)
    for cx in (-95 * s, 95 * s):
        img[ellipse(y, x, 0, cx, 150 * s, 75 * s)] -= 0.3  # lungs
    img[ellipse(y, x, 60 * s, -25 * s, 85 * s, 80 * s, 0.3)] += 0.2  # heart shadow
    img[np.abs(x) < 18 * s] += 0.15  # spine / mediastinum
    for k in range(8):  # posterior ribs as arcs
        yc = -150 * s + k * 38 * s
        for side in (-1, 1):
            xs = side * np.abs(x)
            arc = np.abs(y - (yc + 0.0035 * (xs - side * 40 * s) ** 2 / s)) < 5 * s
            img[arc & (side * x > 15 * s) & (np.abs(x) < 185 * s)] += 0.12
    for side in (-1, 1):  # clavicles
        clav = np.abs(y + 175 * s - 0.25 * side * x) < 6 * s
        img[clav & (side * x > 10 * s) & (side * x < 150 * s)] += 0.2
    img = gaussian_blur(img, 2.5) + rng.normal(0, 0.015, img.shape)
    return np.clip(img, 0, 1)


# --------------------------------------------------------------------------- DICOM helpers


def uid(name: str, kind: str) -> str:
    """Deterministic UID for one example file.

    Args:
        name: Example name.
        kind: ``study``, ``series``, ``instance`` or ``for``.

    Returns:
        A UID under pydicom's root.
    """
    return generate_uid(entropy_srcs=[UID_SALT, name, kind])


def base_dataset(
    name: str,
    sop_class: str,
    modality: str,
    patient: dict[str, str],
    study: dict[str, str],
) -> Dataset:
    """Create a dataset with file meta, patient, study, series and instance attributes.

    Args:
        name: Example name (seeds the UIDs).
        sop_class: SOP Class UID.
        modality: Modality code (CT, MR, US, CR).
        patient: ``name``, ``id``, ``birth``, ``sex``.
        study: ``date``, ``time``, ``accession``, ``institution``, ``description``.

    Returns:
        The dataset, without pixel data.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = uid(name, "instance")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(name, "instance")
    ds.StudyDate = study["date"]
    ds.SeriesDate = study["date"]
    ds.ContentDate = study["date"]
    ds.StudyTime = study["time"]
    ds.SeriesTime = study["time"]
    ds.ContentTime = study["time"]
    ds.AccessionNumber = study["accession"]
    ds.Modality = modality
    ds.Manufacturer = "MEDOCR SYNTHETIC"
    ds.InstitutionName = study["institution"]
    ds.ReferringPhysicianName = "HOUSE^GREGORY"
    ds.StudyDescription = study["description"]
    ds.SeriesDescription = study["description"]
    ds.ManufacturerModelName = "Phantom 3000"
    ds.PatientName = patient["name"]
    ds.PatientID = patient["id"]
    ds.PatientBirthDate = patient["birth"]
    ds.PatientSex = patient["sex"]
    ds.StudyInstanceUID = uid(name, "study")
    ds.SeriesInstanceUID = uid(name, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.BurnedInAnnotation = "YES"
    ds.PatientIdentityRemoved = "NO"
    return ds


def save(ds: Dataset, path: Path) -> None:
    """Write a dataset as a DICOM file with a conformant preamble and file meta.

    Args:
        ds: Dataset with pixel data.
        path: Output path.
    """
    ds.save_as(path, enforce_file_format=True)


# --------------------------------------------------------------------------- examples


def make_ct_head_png(out: Path) -> list[str]:
    """Grey 8-bit PNG: head CT in a brain window with white overlay text in the corners.

    Args:
        out: Output folder.

    Returns:
        The PHI strings burned in.
    """
    rng = np.random.default_rng([SEED, 1])
    hu = head_ct_hu(rng)
    img = np.clip(hu / 80.0, 0, 1) * 255  # window W 80 L 40: HU 0..80
    blocks = [
        ("tl", [TextLine("DOE^JANE"), TextLine("MRN 4821937"), TextLine("DOB 1957-03-14")]),
        ("tr", [TextLine("St. Elsewhere General"), TextLine("ACC A20240517-0042")]),
        ("bl", [TextLine("2024-05-17 14:32:07"), TextLine("W 80 L 40", phi=False)]),
        ("br", [TextLine("Dr. M. Hargreaves"), TextLine("Slice 18/36", phi=False)]),
    ]
    mask = text_mask(img.shape, blocks, font("sans", 19))
    img = burn(img, mask, 245.0)
    Image.fromarray(np.round(img).astype(np.uint8), mode="L").save(out / "ct_head.png")
    return phi_of(blocks)


def make_us_rgb_png(out: Path) -> list[str]:
    """RGB PNG: ultrasound fan on black with yellow, cyan, white and green overlay text.

    Args:
        out: Output folder.

    Returns:
        The PHI strings burned in.
    """
    rng = np.random.default_rng([SEED, 2])
    grey = ultrasound_fan(rng, 512, 512)
    tint = np.array([1.0, 0.97, 0.9])  # slightly warm B-mode tint, like many scanners
    img = grey[..., None] * tint
    fnt = font("lib-sans-bold", 18)
    yellow = [("tl", [TextLine("SMITH, ROBERT J"), TextLine("ID 7730214")])]
    cyan = [("tr", [TextLine("Mercy Valley Clinic"), TextLine("11/23/2022")])]
    white = [("bl", [TextLine("DOB 11/02/1968"), TextLine("C5-1 ABD 14cm", phi=False)])]
    green = [("br", [TextLine("ACC 88213457"), TextLine("09:41:55")])]
    for blocks, colour in (
        (yellow, (255, 230, 0)),
        (cyan, (0, 230, 255)),
        (white, (235, 235, 235)),
        (green, (80, 255, 80)),
    ):
        img = burn(img, text_mask((512, 512), blocks, fnt), colour)
    Image.fromarray(np.round(img).astype(np.uint8), mode="RGB").save(out / "us_abdomen_rgb.png")
    return phi_of(yellow + cyan + white + green)


def make_ct_dicom(out: Path) -> list[str]:
    """CT DICOM: signed int16, RescaleIntercept -1024, text burned in at a high stored value.

    Args:
        out: Output folder.

    Returns:
        The PHI strings burned in.
    """
    rng = np.random.default_rng([SEED, 3])
    hu = chest_ct_hu(rng)
    stored = hu + 1024.0  # RescaleIntercept -1024, slope 1; padding -3024 HU -> stored -2000
    blocks = [
        (
            "tl",
            [TextLine("GARCIA^MARIA^L"), TextLine("PID 55-019-2846"), TextLine("DOB 1949-08-02")],
        ),
        ("tr", [TextLine("Northbrook Memorial"), TextLine("ACC CT230308113")]),
        ("bl", [TextLine("20230308 10:15:42"), TextLine("120 kV 180 mA", phi=False)]),
        ("br", [TextLine("W 400 L 40", phi=False), TextLine("Thk 1.25 mm", phi=False)]),
    ]
    mask = text_mask(hu.shape, blocks, font("lib-mono-bold", 18))
    stored = burn(stored, mask, 3071.0 + 1024.0)  # HU 3071: white in any window
    arr = np.round(stored).astype(np.int16)

    name = "ct_chest_int16"
    ds = base_dataset(
        name,
        CTImageStorage,
        "CT",
        {"name": "GARCIA^MARIA^L", "id": "55-019-2846", "birth": "19490802", "sex": "F"},
        {
            "date": "20230308",
            "time": "101542",
            "accession": "CT230308113",
            "institution": "Northbrook Memorial",
            "description": "CT CHEST W CONTRAST",
        },
    )
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.FrameOfReferenceUID = uid(name, "for")
    ds.BodyPartExamined = "CHEST"
    ds.KVP = 120
    ds.SliceThickness = 1.25
    ds.PixelSpacing = [0.7, 0.7]
    ds.ImagePositionPatient = [-179.0, -179.0, -120.0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceLocation = -120.0
    ds.set_pixel_data(arr, "MONOCHROME2", 16, generate_instance_uid=False)
    ds.PixelPaddingValue = -2000
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    save(ds, out / f"{name}.dcm")
    return phi_of(blocks)


def make_us_multiframe_dicom(out: Path, frames: int = 8, size: int = 320) -> list[str]:
    """Ultrasound cine DICOM: 8-bit multi-frame, same PHI on every frame, changing counter.

    Args:
        out: Output folder.
        frames: Number of frames.
        size: Frame side in pixels.

    Returns:
        The PHI strings burned in (identical on all frames).
    """
    rng = np.random.default_rng([SEED, 4])
    fnt = font("sans", 15)
    top = [
        ("tl", [TextLine("NGUYEN^THANH"), TextLine("MRN 3090571")]),
        ("tr", [TextLine("Lakeside OB/GYN"), TextLine("2021-09-30")]),
    ]
    bottom_left = [TextLine("DOB 1991-12-05")]
    static = text_mask((size, size), top, fnt)
    data = np.empty((frames, size, size), dtype=np.uint8)
    for f in range(frames):
        bg = ultrasound_fan(rng, size, size, phase=2 * np.pi * f / frames)
        counter = [("bl", bottom_left), ("br", [TextLine(f"Frame {f + 1}/{frames}", phi=False)])]
        mask = np.maximum(static, text_mask((size, size), counter, fnt))
        data[f] = np.round(burn(bg, mask, 240.0)).astype(np.uint8)

    name = "us_cine_multiframe"
    ds = base_dataset(
        name,
        UltrasoundMultiFrameImageStorage,
        "US",
        {"name": "NGUYEN^THANH", "id": "3090571", "birth": "19911205", "sex": "F"},
        {
            "date": "20210930",
            "time": "153010",
            "accession": "US21093077",
            "institution": "Lakeside OB/GYN",
            "description": "US OB 2ND TRIMESTER",
        },
    )
    ds.set_pixel_data(data, "MONOCHROME2", 8, generate_instance_uid=False)
    ds.FrameTime = 33.3
    ds.CineRate = 30
    ds.FrameIncrementPointer = pydicom.tag.Tag("FrameTime")
    save(ds, out / f"{name}.dcm")
    return phi_of([*top, ("bl", bottom_left)])


def make_mr_rle_dicom(out: Path, size: int = 384) -> list[str]:
    """MR DICOM: uint16 with 12 bits stored, RLE Lossless compressed.

    Args:
        out: Output folder.
        size: Image side in pixels.

    Returns:
        The PHI strings burned in.
    """
    rng = np.random.default_rng([SEED, 5])
    img = knee_mr(rng, size)
    blocks = [
        ("tl", [TextLine("OKAFOR^CHIDI"), TextLine("ID 6672-1180")]),
        ("tr", [TextLine("Riverside Imaging"), TextLine("2019/12/02")]),
        ("bl", [TextLine("DOB 1983-06-21"), TextLine("T1 SE TR 550", phi=False)]),
    ]
    mask = text_mask(img.shape, blocks, font("lib-sans", 17))
    img = burn(img, mask, 4095.0)
    arr = np.clip(np.round(img), 0, 4095).astype(np.uint16)

    name = "mr_knee_rle"
    ds = base_dataset(
        name,
        MRImageStorage,
        "MR",
        {"name": "OKAFOR^CHIDI", "id": "6672-1180", "birth": "19830621", "sex": "M"},
        {
            "date": "20191202",
            "time": "081203",
            "accession": "MR1912020019",
            "institution": "Riverside Imaging",
            "description": "MR KNEE LEFT WO CONTRAST",
        },
    )
    ds.FrameOfReferenceUID = uid(name, "for")
    ds.BodyPartExamined = "KNEE"
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = 550
    ds.EchoTime = 12
    ds.MagneticFieldStrength = 1.5
    ds.PixelSpacing = [0.4, 0.4]
    ds.SliceThickness = 3.0
    ds.set_pixel_data(arr, "MONOCHROME2", 12, generate_instance_uid=False)
    ds.WindowCenter = 1500
    ds.WindowWidth = 3000
    ds.compress(RLELossless, generate_instance_uid=False)
    save(ds, out / f"{name}.dcm")
    return phi_of(blocks)


def make_cr_mono1_dicom(out: Path, rows: int = 512, cols: int = 448) -> list[str]:
    """CR DICOM: MONOCHROME1 chest radiograph, JPEG 2000 Lossless, dark text on a light label.

    In MONOCHROME1 a high stored value displays dark, so the bright ID label is stored low and
    the (displayed dark) text is stored high.

    Args:
        out: Output folder.
        rows: Image height.
        cols: Image width.

    Returns:
        The PHI strings burned in.
    """
    rng = np.random.default_rng([SEED, 6])
    display = chest_xray_display(rng, rows, cols)
    fnt = font("lib-sans-bold", 17)
    label_lines = [
        TextLine("PATEL, ANIL K"),
        TextLine("MRN 9014-3372"),
        TextLine("DOB 07/30/1975"),
        TextLine("Harbor View Hospital"),
    ]
    ascent, descent = fnt.getmetrics()
    label_h = len(label_lines) * (ascent + descent + 6) + 14
    label_w = 215
    display[6 : 6 + label_h, 6 : 6 + label_w] = 0.93  # flash-card ID label
    label = text_mask((rows, cols), [("tl", label_lines)], fnt, margin=14)
    display = burn(display, label, 0.03)
    corner = [("tr", [TextLine("2020-02-27 07:58"), TextLine("PA ERECT", phi=False)])]
    display = burn(display, text_mask((rows, cols), corner, fnt), 0.97)
    stored = np.round((1.0 - display) * 4095).astype(np.uint16)

    name = "cr_chest_mono1"
    ds = base_dataset(
        name,
        ComputedRadiographyImageStorage,
        "CR",
        {"name": "PATEL^ANIL^K", "id": "9014-3372", "birth": "19750730", "sex": "M"},
        {
            "date": "20200227",
            "time": "075800",
            "accession": "CR20022700311",
            "institution": "Harbor View Hospital",
            "description": "XR CHEST PA",
        },
    )
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.ImagerPixelSpacing = [0.7, 0.7]
    ds.set_pixel_data(stored, "MONOCHROME1", 12, generate_instance_uid=False)
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    save(ds, out / f"{name}.dcm")
    return [line.text for line in label_lines] + phi_of(corner)


MAKERS = (
    ("ct_head.png", make_ct_head_png),
    ("us_abdomen_rgb.png", make_us_rgb_png),
    ("ct_chest_int16.dcm", make_ct_dicom),
    ("us_cine_multiframe.dcm", make_us_multiframe_dicom),
    ("mr_knee_rle.dcm", make_mr_rle_dicom),
    ("cr_chest_mono1.dcm", make_cr_mono1_dicom),
)


def generate(out: Path = HERE) -> dict[str, list[str]]:
    """Write every example and ``phi.json`` into a folder.

    Args:
        out: Destination folder.

    Returns:
        Mapping of file name to the PHI strings burned into it.
    """
    out.mkdir(parents=True, exist_ok=True)
    phi = {fname: maker(out) for fname, maker in MAKERS}
    (out / "phi.json").write_text(json.dumps(phi, indent=2) + "\n", encoding="utf-8")
    return phi


# --------------------------------------------------------------------------- OCR check


def render_frames(path: Path) -> list[np.ndarray]:
    """Render a PNG or DICOM file to 8-bit display frames (grey or RGB).

    DICOM: modality LUT (rescale), linear window from WindowCenter/WindowWidth (full range when
    absent), MONOCHROME1 inverted.

    Args:
        path: Image file.

    Returns:
        One uint8 array per frame.
    """
    if path.suffix.lower() != ".dcm":
        return [np.asarray(Image.open(path))]
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array.astype(np.float64)
    nframes = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.SamplesPerPixel)
    if nframes == 1:
        arr = arr[None]
    if spp == 1:
        arr = arr * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
        if "WindowCenter" in ds and "WindowWidth" in ds:
            wc, ww = float(ds.WindowCenter), float(ds.WindowWidth)
            lo, hi = wc - ww / 2, wc + ww / 2
        else:
            lo, hi = float(arr.min()), float(arr.max())
        arr = np.clip((arr - lo) / max(hi - lo, 1e-6), 0, 1) * 255
        if ds.PhotometricInterpretation == "MONOCHROME1":
            arr = 255 - arr
    return [np.round(f).astype(np.uint8) for f in arr]


def normalize(text: str) -> str:
    """Lower-case and keep only letters and digits.

    Args:
        text: Any text.

    Returns:
        The normalized text.
    """
    return re.sub(r"[^0-9a-z]", "", text.lower())


def is_read(phi: str, ocr_text: str, threshold: float = 0.8) -> bool:
    """Whether an OCR output contains a PHI string, allowing small OCR errors.

    The OCR text is normalized line by line and as one joined string; the PHI string counts as read
    when some window of similar length has a difflib ratio of at least ``threshold``.

    Args:
        phi: The burned-in string.
        ocr_text: Tesseract output.
        threshold: Minimum similarity.

    Returns:
        True when the string is found.
    """
    target = normalize(phi)
    if not target:
        return True
    lines = [normalize(line) for line in ocr_text.splitlines()]
    candidates = [line for line in lines if line] + ["".join(lines)]
    n = len(target)
    for cand in candidates:
        if target in cand:
            return True
        for width in {max(1, n - 2), n, n + 2}:
            for start in range(0, max(1, len(cand) - width + 1)):
                window = cand[start : start + width]
                if difflib.SequenceMatcher(None, target, window).ratio() >= threshold:
                    return True
    return False


def ocr_image(img: np.ndarray) -> str:
    """Run Tesseract (sparse text, 2x upscale) on both polarities of an image.

    Args:
        img: uint8 grey or RGB image.

    Returns:
        The concatenated OCR text of the normal and the inverted image.
    """
    import pytesseract

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    pil = Image.fromarray(img).convert("L")
    pil = pil.resize((pil.width * 2, pil.height * 2), Image.Resampling.LANCZOS)
    inverted = Image.fromarray(255 - np.asarray(pil))
    texts = [pytesseract.image_to_string(p, config="--psm 11") for p in (pil, inverted)]
    return "\n".join(texts)


def ocr_check(folder: Path = HERE, min_fraction: float = 0.8) -> bool:
    """OCR every example and report how many of its PHI strings Tesseract reads.

    For multi-frame files every frame is read and the worst frame is reported. As a control of the
    matcher, the ``other`` column counts PHI strings of the *other* files found in this file's OCR
    text (it should be 0).

    Args:
        folder: Folder with the examples and ``phi.json``.
        min_fraction: Fraction of PHI lines that must be read in every file (and every frame).

    Returns:
        True when every file reaches ``min_fraction``.
    """
    phi: dict[str, list[str]] = json.loads((folder / "phi.json").read_text(encoding="utf-8"))
    ok = True
    print(f"{'file':<24} {'frames':>6} {'read':>6} {'other':>5}  missed")
    for fname, strings in phi.items():
        others = [s for other, lines in phi.items() if other != fname for s in lines]
        counts: list[int] = []
        false_hits: set[str] = set()
        missed: set[str] = set()
        for frame in render_frames(folder / fname):
            text = ocr_image(frame)
            hits = [s for s in strings if is_read(s, text)]
            counts.append(len(hits))
            missed.update(s for s in strings if s not in hits)
            false_hits.update(s for s in others if is_read(s, text))
        worst = min(counts)
        ok &= worst >= min_fraction * len(strings)
        shown = ", ".join(sorted(missed)) or "-"
        read = f"{worst}/{len(strings)}"
        print(f"{fname:<24} {len(counts):>6} {read:>6} {len(false_hits):>5}  {shown}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        Process exit code (1 when ``--check`` finds too little PHI legible).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="OCR the files after writing them")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    args = parser.parse_args(argv)
    phi = generate(args.out)
    for fname in phi:
        print(f"wrote {args.out / fname} ({(args.out / fname).stat().st_size:,} bytes)")
    if args.check and not ocr_check(args.out):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
