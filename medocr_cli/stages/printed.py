"""Printed-text extractor: Tesseract on the display rendering, made robust for medical images.

Plain Tesseract misses most overlay text on scans: it expects dark text on a light page, loses
characters at the very edge and cannot read text a few pixels high. So every frame is read in
both polarities, padded, and upscaled when small; word boxes are mapped back to frame pixels.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from medocr_cli.config import tesseract_env
from medocr_cli.errors import ToolMissingError
from medocr_cli.types import Box


@dataclass(frozen=True, slots=True)
class PrintedConfig:
    """How Tesseract is run.

    Attributes:
        variants: Renderings handed to Tesseract, each made dark-text-on-light: "tophat_white"
            (bright text isolated from a varying background by a white top-hat),
            "tophat_black" (dark text likewise), "grey" (as shown) and "inverted".
        pad: Pixels of padding around the frame so edge text is read.
        upscale_below: Frames whose longer side is below this are upscaled.
        scale: Upscale factor for small frames.
        blur_sigma: Gaussian blur applied before upscaling; scanner noise otherwise turns
            into hundreds of false "words" and hides the real ones. 0 disables it.
        psm: Tesseract page segmentation mode (11: sparse text, fits overlays).
        min_conf: Words at or above this Tesseract confidence (0-100) are always kept.
        weak_conf_floor: Words below `min_conf` but at or above this floor are kept only when
            the frame also has confident words and their height matches those (Tesseract
            gives 0 to real words with odd glyphs such as "DOE^JANE"; noise words on anatomy
            are usually lone and of another size).
    """

    variants: tuple[str, ...] = ("tophat_white", "inverted", "grey")
    tophat_size: int = 15
    pad: int = 16
    upscale_below: int = 1100
    scale: float = 2.0
    blur_sigma: float = 1.0
    psm: int = 11
    min_conf: float = 80.0
    weak_conf_floor: float = 0.0


def check_tesseract() -> None:
    """Fail early, with an install hint, when the Tesseract binary is missing."""
    if shutil.which("tesseract") is None:
        raise ToolMissingError(
            "Tesseract is not installed", hint="apt-get install tesseract-ocr (or run `make setup`)"
        )


#: zlib level of the PNG handed to Tesseract: lossless at any level, and 1 is the fastest.
_PNG_LEVEL = 1


def tesseract_data(image: np.ndarray, psm: int) -> dict[str, list]:
    """Run Tesseract on one 8-bit image (grey or RGB) and return its word table.

    The table is what `pytesseract.image_to_data(image, config=f"--psm {psm}",
    output_type=Output.DICT)` returns (one list per TSV column: level, ..., left, top, width,
    height, conf, text; numbers as int, conf truncated), from the same Tesseract command. But
    nothing touches the disk: the image goes to the binary on stdin as a PNG and the TSV comes
    back on stdout. pytesseract writes both into the temp folder, where a killed run leaves the
    frame and the words read from it (patient data) behind.

    Args:
        image: uint8 pixels, (rows, cols) grey or (rows, cols, 3) RGB.
        psm: Tesseract page segmentation mode.

    Raises:
        ToolMissingError: The `tesseract` binary is not installed.
        RuntimeError: Tesseract failed on the image (a defect: the caller's file-level handler
            reports it with the file's name).
    """
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, png = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, _PNG_LEVEL])
    if not ok:
        raise ValueError("the image cannot be encoded as PNG for Tesseract")
    return _tsv_to_dict(_run_tesseract(png.tobytes(), psm))


def tesseract_pages(images: Sequence[np.ndarray], psm: int) -> list[dict[str, list]]:
    """Run Tesseract once on several 8-bit images; return one word table per image.

    The images go to one Tesseract process as the pages of a multi-page TIFF (on stdin, never
    on disk), and the TSV comes back split by its `page_num`. Each page is segmented and read
    on its own, exactly as a separate `tesseract_data` call reads it (the LSTM engine learns
    nothing from one page to the next), but the process starts and loads its model once: for
    a dozen small strips that is ten times faster. The tables have `tesseract_data`'s shape.

    Raises:
        ToolMissingError: The `tesseract` binary is not installed.
        RuntimeError: Tesseract failed on the images.
    """
    import io

    from PIL import Image

    if not images:
        return []
    pages = [Image.fromarray(np.ascontiguousarray(image)) for image in images]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", save_all=True, append_images=pages[1:])
    table = _tsv_to_dict(_run_tesseract(buffer.getvalue(), psm))
    out: list[dict[str, list]] = [{key: [] for key in table} for _ in images]
    for row, page in enumerate(table.get("page_num", [])):
        for key, column in table.items():
            out[int(page) - 1][key].append(column[row])
    return out


def stack_strips(strips: Sequence[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Stack grey strips into one page for one Tesseract read; return it and each's rows.

    Narrower strips are padded on the right with their own edge pixels, so no border reads as
    a stroke.
    """
    width = max(s.shape[1] for s in strips)
    spans, y = [], 0
    for s in strips:
        spans.append((y, y + s.shape[0]))
        y += s.shape[0]
    stack = np.concatenate(
        [cv2.copyMakeBorder(s, 0, 0, 0, width - s.shape[1], cv2.BORDER_REPLICATE) for s in strips]
    )
    return stack, spans


def _run_tesseract(image_file: bytes, psm: int) -> str:
    """Feed one image file (PNG, or a multi-page TIFF) to Tesseract; return its TSV."""
    tesseract_env()
    command = ["tesseract", "stdin", "stdout", "-c", "tessedit_create_tsv=1", "--psm", str(psm)]
    try:
        proc = subprocess.run(command, input=image_file, capture_output=True, check=False)
    except FileNotFoundError:
        check_tesseract()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"tesseract exited with status {proc.returncode}")
    return proc.stdout.decode("utf-8")


def _tsv_to_dict(tsv: str) -> dict[str, list]:
    """Parse Tesseract's TSV into columns exactly as pytesseract's `file_to_dict` does."""
    rows = [row.split("\t") for row in tsv.strip().split("\n")]
    if len(rows) < 2:
        return {}
    header = rows.pop(0)
    if len(rows[-1]) < len(header):
        rows[-1].append("")  # the last word's empty text cell is cut off by the strip
    text_column = len(header) - 1
    table: dict[str, list] = {}
    for i, head in enumerate(header):
        column: list = []
        for row in rows:
            if len(row) <= i:
                continue
            if i == text_column:
                column.append(row[i])
                continue
            try:
                column.append(int(float(row[i])))
            except ValueError:
                column.append(row[i])
        table[head] = column
    return table


def _to_grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image


def _has_text_chars(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _variant(grey: np.ndarray, name: str, tophat_size: int) -> np.ndarray:
    """Return one dark-text-on-light rendering of a (blurred, scaled) grey frame."""
    if name == "grey":
        return grey
    if name == "inverted":
        return 255 - grey
    if name in ("tophat_white", "tophat_black"):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (tophat_size, tophat_size))
        op = cv2.MORPH_TOPHAT if name == "tophat_white" else cv2.MORPH_BLACKHAT
        hat = cv2.normalize(cv2.morphologyEx(grey, op, kernel), None, 0, 255, cv2.NORM_MINMAX)
        return 255 - hat
    raise ValueError(f"unknown rendering variant {name!r}")


def read_printed(
    image: np.ndarray, frame: int = 0, config: PrintedConfig | None = None
) -> list[Box]:
    """Return word boxes of printed text in one 8-bit frame (grey or RGB).

    Args:
        image: The display rendering of the frame, uint8.
        frame: Frame index written into the boxes.
        config: Tesseract settings; defaults suit 256-1024 px scans.
    """
    return read_printed_many([image], [frame], config)[0]


def read_printed_many(
    images: Sequence[np.ndarray], frames: Sequence[int], config: PrintedConfig | None = None
) -> list[list[Box]]:
    """`read_printed` of several images (frames, or crops of one), in one Tesseract process.

    Every rendering of every image is a page of its own (`tesseract_pages`), read as a
    separate call would read it; only the process and its model are started once, which is
    most of the cost of reading a small crop.
    """
    config = config or PrintedConfig()
    prepared = [_pages(image, config) for image in images]
    pages = [page for variants, _, _ in prepared for page in variants]
    if not pages:
        return [[] for _ in images]
    tables = (
        [tesseract_data(pages[0], config.psm)]
        if len(pages) == 1
        else tesseract_pages(pages, config.psm)
    )
    out: list[list[Box]] = []
    start = 0
    for (variants, scale, shape), frame in zip(prepared, frames, strict=True):
        boxes: list[Box] = []
        for data in tables[start : start + len(variants)]:
            boxes += _words(data, frame, config, scale, shape)
        start += len(variants)
        out.append(keep_plausible(boxes, config.min_conf / 100.0, shape))
    return out


def _pages(
    image: np.ndarray, config: PrintedConfig
) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    """The padded renderings Tesseract reads of one image, their scale, and the image's shape."""
    grey = _to_grey(image)
    h, w = grey.shape
    if config.blur_sigma > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), config.blur_sigma)
    scale = config.scale if max(h, w) < config.upscale_below else 1.0
    if scale != 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    pages = []
    for name in config.variants:
        variant = _variant(grey, name, int(config.tophat_size * scale) | 1)
        pad_value = int(
            np.median(np.concatenate([variant[0], variant[-1], variant[:, 0], variant[:, -1]]))
        )
        pages.append(
            cv2.copyMakeBorder(
                variant,
                config.pad,
                config.pad,
                config.pad,
                config.pad,
                cv2.BORDER_CONSTANT,
                value=pad_value,
            )
        )
    return pages, scale, (h, w)


def _words(
    data: dict[str, list], frame: int, config: PrintedConfig, scale: float, shape: tuple[int, int]
) -> list[Box]:
    """The word boxes of one page's table, in the image's coordinates (before plausibility)."""
    h, w = shape
    boxes: list[Box] = []
    for i, text in enumerate(data.get("text", [])):
        conf = float(data["conf"][i])
        if conf < config.weak_conf_floor or not _has_text_chars(text):
            continue
        x0 = (data["left"][i] - config.pad) / scale
        y0 = (data["top"][i] - config.pad) / scale
        x1 = x0 + data["width"][i] / scale
        y1 = y0 + data["height"][i] / scale
        box = Box(
            frame=frame,
            x0=max(0, int(np.floor(x0))),
            y0=max(0, int(np.floor(y0))),
            x1=min(w, int(np.ceil(x1))),
            y1=min(h, int(np.ceil(y1))),
            text=text.strip(),
            kind="printed",
            score=conf / 100.0,
            source="tesseract",
        )
        if box.x1 > box.x0 and box.y1 > box.y0:
            boxes.append(box)
    return boxes


def keep_plausible(boxes: list[Box], min_score: float, frame_shape: tuple[int, int]) -> list[Box]:
    """Keep words that look like overlay text, drop Tesseract's readings of anatomy texture.

    Strong words: confident, word-like (see `_wordlike`), not taller than overlay text gets.
    Weak words (low confidence, e.g. "DOE^JANE" gets 0) are kept only beside a strong word and
    of its height: overlay text comes in blocks of same-sized lines, texture "words" come alone.
    """
    max_height = max(48, 0.1 * min(frame_shape))
    sized = [b for b in boxes if b.height <= max_height]
    strong, weak = [], []
    for b in sized:
        (strong if b.score >= min_score and _wordlike(b.text) else weak).append(b)
    if not strong:
        return []
    return strong + [
        b
        for b in weak
        if any(_near(b, s) and 0.6 * s.height <= b.height <= 1.6 * s.height for s in strong)
    ]


def _wordlike(text: str) -> bool:
    """Three or more letters/digits, or two that are not both lower case ("ID", "Se", "5m").

    Tesseract reads textures as short lower-case pairs ("we", "fe", "ty") with high confidence.
    """
    chars = [ch for ch in text if ch.isalnum()]
    return len(chars) >= 3 or (len(chars) == 2 and not all(ch.islower() for ch in chars))


def _near(a: Box, b: Box) -> bool:
    """Whether `a` lies within two line heights of `b` (same text block)."""
    reach = 2 * b.height
    return (
        a.x0 < b.x1 + reach and a.x1 > b.x0 - reach and a.y0 < b.y1 + reach and a.y1 > b.y0 - reach
    )
