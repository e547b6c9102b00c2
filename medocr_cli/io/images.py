"""PNG, JPEG, TIFF and BMP through Pillow: 8/16-bit grey, grey+alpha, RGB, RGBA and palette."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from medocr_cli.errors import InputFileError, UnsupportedError, error_origin
from medocr_cli.io.atomic import atomic_path
from medocr_cli.io.scan import Scan

_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP"}


#: zlib level of PNG outputs (Pillow's default is 6).
PNG_COMPRESS_LEVEL = 3


def _to_array(img: Image.Image) -> tuple[np.ndarray, int]:
    """Convert one PIL frame to an array and its significant bits, normalising odd modes."""
    mode = img.mode
    if mode == "P":
        # Palette PNG/BMP/TIFF: edits are made in colour; written back as RGB(A).
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("L" if mode == "1" else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.uint16).copy(), 16
    elif mode == "I":
        arr = np.asarray(img)
        if arr.min() < 0 or arr.max() > 65535:
            raise UnsupportedError("32-bit integer images are not supported", path=img.filename)
        return arr.astype(np.uint16), 16
    elif mode == "F":
        raise UnsupportedError("floating-point images are not supported")
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise UnsupportedError(f"pixel type {arr.dtype} (PIL mode {img.mode}) is not supported")
    return arr.copy(), 8


def read_image(path: Path, fmt: str) -> Scan:
    """Read a non-DICOM image; multi-page TIFFs become frames.

    Raises:
        InputFileError: Pillow cannot parse or decode the file.
    """
    try:
        with Image.open(path) as img:
            arrays: list[np.ndarray] = []
            bits = 8
            for page in ImageSequence.Iterator(img):
                arr, bits = _to_array(page)
                arrays.append(arr)
                if fmt != "tiff":
                    break
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputFileError(
            f"cannot decode {fmt.upper()} data, truncated or damaged ({error_origin(exc)})",
            path=path,
        ) from None
    except UnsupportedError as exc:
        raise UnsupportedError(exc.message, hint=exc.hint, path=path) from exc
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise UnsupportedError("multi-page image whose pages differ in size or mode", path=path)
    frames = np.stack(arrays)
    samples = 1 if frames.ndim == 3 else frames.shape[3]
    photometric = "RGB" if samples >= 3 else "MONOCHROME2"
    return Scan(
        path=path,
        format=fmt,
        frames=frames,
        photometric=photometric,
        bits_stored=bits,
    )


def write_image(scan: Scan, target: Path) -> None:
    """Write a non-DICOM scan in its own format; metadata chunks (which may hold PHI) are dropped.

    JPEG is written at quality 95 without chroma subsampling: a JPEG output can never be
    bit-identical to its input, so prefer PNG when exactness matters.
    """
    fmt = _PIL_FORMAT[scan.format]
    pages = [Image.fromarray(frame) for frame in scan.frames]
    if scan.format == "jpeg":
        pages = [p.convert("RGB") if p.mode == "RGBA" else p for p in pages]
        options: dict = {"quality": 95, "subsampling": 0}
    elif scan.format == "tiff":
        options = {"compression": "tiff_lzw"}
        if len(pages) > 1:
            options.update(save_all=True, append_images=pages[1:])
    elif scan.format == "png":
        # zlib level 3: measured on 512 px scans as large as Pillow's default level 6 (within
        # 1%) in less than half the time.
        options = {"compress_level": PNG_COMPRESS_LEVEL}
    else:
        options = {}
    with atomic_path(target) as tmp:
        pages[0].save(tmp, format=fmt, **options)
