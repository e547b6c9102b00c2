"""The inpainter's data: (clean image, hole mask) pairs from a generated dataset.

Holes are made the ways the pipeline makes them, plus free-form ones:

- text pixels dilated like scrub grows its boxes (a margin of 25% of the line height, at
  least 2 px; see `stages.inpaint.boxes_to_mask`): what a pixel-refined mask looks like;
- the line boxes grown by that margin: exactly the mask `scrub` paints today;
- random brush strokes and rectangles (DeepFill v2's free-form masks), so that the model also
  learns to fill holes in images without text and shapes the generator never drew.

The training split is cut once into fixed crops around text and at random, kept as one uint8
array in memory (and cached under `DATA/.medocr-cache/`); each epoch takes random sub-crops,
flips and intensity changes of them, so decoding PNGs never slows the steps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medocr_cli.io.atomic import atomic_path
from medocr_cli.training.manifest import read_dataset_image, records_of

#: Margin around text, as a fraction of the line height, and its minimum in pixels: the same
#: numbers as the box mask of `scrub` (`stages.inpaint.boxes_to_mask`).
GROW = 0.25
MIN_GROW = 2
#: Bits of the packed mask array of a crop.
PIXEL_BIT, BOX_BIT = 1, 2


def read_rgb(path: Path) -> np.ndarray:
    """Read a dataset PNG as uint8 RGB (H, W, 3); grey images are replicated to 3 channels."""
    image = read_dataset_image(path)
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


def read_native(path: Path) -> np.ndarray:
    """Read a dataset PNG as uint8, grey (H, W) or RGB (H, W, 3), as the file stores it."""
    image = read_dataset_image(path)
    grey = image.ndim == 3 and (image[..., 0] == image[..., 1]).all()
    if grey and (image[..., 1] == image[..., 2]).all():
        return np.ascontiguousarray(image[..., 0])
    return image


def read_mask(path: Path) -> np.ndarray:
    """Read a dataset text mask as bool (H, W)."""
    return read_dataset_image(path, 0) > 0


def margin_of(box: list[int]) -> int:
    """Return the margin scrub puts around a line box of this height."""
    return max(MIN_GROW, round(GROW * (box[3] - box[1])))


def pixel_hole(text: np.ndarray, items: list[dict[str, Any]]) -> np.ndarray:
    """Return the text pixels of every line dilated by that line's scrub margin (bool)."""
    rows, cols = text.shape
    hole = np.zeros((rows, cols), np.uint8)
    for item in items:
        x0, y0, x1, y1 = (int(v) for v in item["box"])
        m = margin_of(item["box"])
        # the line's own pixels (its box plus a little slack for anti-aliasing)
        ax0, ay0 = max(0, x0 - 2), max(0, y0 - 2)
        ax1, ay1 = min(cols, x1 + 2), min(rows, y1 + 2)
        own = np.zeros((rows, cols), np.uint8)
        own[ay0:ay1, ax0:ax1] = text[ay0:ay1, ax0:ax1]
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * m + 1, 2 * m + 1))
        bx0, by0 = max(0, ax0 - m), max(0, ay0 - m)
        bx1, by1 = min(cols, ax1 + m), min(rows, ay1 + m)
        hole[by0:by1, bx0:bx1] |= cv2.dilate(own[by0:by1, bx0:bx1], kernel)
    return hole > 0


def box_hole(items: list[dict[str, Any]], shape: tuple[int, int]) -> np.ndarray:
    """Return the line boxes grown by their scrub margin (bool): the mask scrub paints today."""
    rows, cols = shape
    hole = np.zeros(shape, bool)
    for item in items:
        x0, y0, x1, y1 = (int(v) for v in item["box"])
        m = margin_of(item["box"])
        hole[max(0, y0 - m) : min(rows, y1 + m), max(0, x0 - m) : min(cols, x1 + m)] = True
    return hole


def random_strokes(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Return free-form brush strokes and an occasional rectangle (bool), DeepFill-style."""
    rows, cols = shape
    hole = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        x, y = int(rng.integers(0, cols)), int(rng.integers(0, rows))
        width = int(rng.integers(3, 16))
        for _ in range(int(rng.integers(2, 7))):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(8, max(10.0, 0.4 * min(rows, cols)))
            nx = int(np.clip(x + length * np.cos(angle), 0, cols - 1))
            ny = int(np.clip(y + length * np.sin(angle), 0, rows - 1))
            cv2.line(hole, (x, y), (nx, ny), 1, width)
            x, y = nx, ny
    if rng.random() < 0.4:
        h, w = int(rng.integers(8, 40)), int(rng.integers(16, 120))
        y, x = int(rng.integers(0, max(1, rows - h))), int(rng.integers(0, max(1, cols - w)))
        hole[y : y + h, x : x + w] = 1
    return hole > 0


@dataclass
class CropSet:
    """Fixed training crops: clean RGB (N, S, S, 3) uint8 and packed holes (N, S, S) uint8.

    `holes` carries PIXEL_BIT for the dilated text pixels and BOX_BIT for the grown line boxes.
    """

    clean: np.ndarray
    holes: np.ndarray


def _stamp(root: Path, *parts: object) -> str:
    manifest = root / "manifest.jsonl"
    stat = manifest.stat()
    key = ":".join(str(p) for p in (stat.st_size, stat.st_mtime_ns, GROW, MIN_GROW, *parts))
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def load_crops(
    root: Path, split: str, crop: int, per_image: int, seed: int, *, cache: bool = True
) -> CropSet:
    """Cut `per_image` crops of `crop` px from every image of `split` (cached on disk).

    The first crop of an image with text is centred on one of its lines (jittered), the
    others lie anywhere, so that text holes and plain background are both well represented.
    """
    root = Path(root)
    records = records_of(root, split)
    cache_file = (
        root / ".medocr-cache" / f"inpainter-{split}-{crop}x{per_image}-{seed}-"
        f"{_stamp(root, crop, per_image, seed)}.npz"
    )
    if cache and cache_file.is_file():
        with np.load(cache_file) as data:
            return CropSet(data["clean"], data["holes"])
    rng = np.random.default_rng(seed)
    n = len(records) * per_image
    clean = np.empty((n, crop, crop, 3), np.uint8)
    holes = np.empty((n, crop, crop), np.uint8)
    k = 0
    for record in records:
        image = read_rgb(root / record["clean"])
        items = record.get("items") or []
        rows, cols = image.shape[:2]
        packed = np.zeros((rows, cols), np.uint8)
        if items:
            text = read_mask(root / record["mask"]).astype(np.uint8)
            packed |= pixel_hole(text, items).astype(np.uint8) * PIXEL_BIT
            packed |= box_hole(items, (rows, cols)).astype(np.uint8) * BOX_BIT
        for j in range(per_image):
            if j == 0 and items:
                x0, y0, x1, y1 = items[int(rng.integers(len(items)))]["box"]
                cy = (y0 + y1) // 2 + int(rng.integers(-crop // 4, crop // 4 + 1))
                cx = (x0 + x1) // 2 + int(rng.integers(-crop // 4, crop // 4 + 1))
            else:
                cy, cx = int(rng.integers(0, rows)), int(rng.integers(0, cols))
            top = int(np.clip(cy - crop // 2, 0, max(0, rows - crop)))
            left = int(np.clip(cx - crop // 2, 0, max(0, cols - crop)))
            clean[k] = _fit(image[top : top + crop, left : left + crop], crop)
            holes[k] = _fit(packed[top : top + crop, left : left + crop], crop)
            k += 1
    if cache:
        try:
            with atomic_path(cache_file, durable=False) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, clean=clean, holes=holes)
        except OSError:
            pass  # a read-only dataset folder only costs the cache
    return CropSet(clean, holes)


def _fit(array: np.ndarray, size: int) -> np.ndarray:
    """Pad (reflect) a crop of a small image up to `size` x `size`."""
    pad_r, pad_c = size - array.shape[0], size - array.shape[1]
    if pad_r <= 0 and pad_c <= 0:
        return array
    widths = [(0, max(0, pad_r)), (0, max(0, pad_c))] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths, mode="reflect" if min(array.shape[:2]) > 1 else "edge")


def make_batch(
    crops: CropSet, index: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return a training batch: clean float32 (N, 3, S, S) in [0, 1] and holes (N, 1, S, S).

    Each sample is a random `size` sub-crop, flipped or turned, its intensity sometimes
    inverted or stretched, with a hole chosen among the text kinds and free-form strokes.
    """
    n, full = len(index), crops.clean.shape[1]
    images = np.empty((n, 3, size, size), np.float32)
    masks = np.empty((n, 1, size, size), np.float32)
    for i, k in enumerate(index):
        top, left = (int(v) for v in rng.integers(0, full - size + 1, size=2))
        image = crops.clean[k, top : top + size, left : left + size].astype(np.float32) / 255.0
        packed = crops.holes[k, top : top + size, left : left + size]
        hole = choose_hole(packed, rng)
        turn = int(rng.integers(4))
        image, hole = np.rot90(image, turn), np.rot90(hole, turn)
        if rng.random() < 0.5:
            image, hole = image[:, ::-1], hole[:, ::-1]
        if rng.random() < 0.1:
            image = 1.0 - image
        if rng.random() < 0.2:
            low = rng.uniform(0.0, 0.3)
            high = rng.uniform(low + 0.3, 1.0)
            image = np.clip((image - low) / (high - low), 0.0, 1.0)
        if rng.random() < 0.1:
            image = image[..., rng.permutation(3)]
        images[i] = image.transpose(2, 0, 1)
        masks[i, 0] = hole
    return images, masks


def choose_hole(packed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pick one hole for a crop: dilated text, grown boxes, strokes, or text plus strokes."""
    shape = packed.shape
    has_text = bool((packed & PIXEL_BIT).any())
    r = rng.random()
    if has_text and r < 0.5:
        hole = (packed & PIXEL_BIT) > 0
    elif has_text and r < 0.8:
        hole = (packed & BOX_BIT) > 0
    else:
        hole = random_strokes(shape, rng)
        if has_text and rng.random() < 0.5:
            hole |= (packed & PIXEL_BIT) > 0
    if rng.random() < 0.2:
        hole |= random_strokes(shape, rng)
    if not hole.any():
        hole = random_strokes(shape, rng)
    return hole


@dataclass
class EvalImage:
    """One full image for validation or testing, as the file stores it (grey or RGB uint8)."""

    id: str
    image: np.ndarray
    clean: np.ndarray
    pixel_hole: np.ndarray
    box_hole: np.ndarray


def load_eval_images(root: Path, split: str, limit: int | None = None) -> list[EvalImage]:
    """Return the images of `split` that have text, with both kinds of scrub-like holes.

    `limit` takes an even spread of that many images (for a quick per-epoch validation).
    """
    root = Path(root)
    records = [r for r in records_of(root, split) if r.get("items")]
    if limit is not None and limit < len(records):
        step = len(records) / limit
        records = [records[int(i * step)] for i in range(limit)]
    out = []
    for record in records:
        image = read_native(root / record["image"])
        clean = read_native(root / record["clean"])
        if image.ndim != clean.ndim:  # one of them happened to be all-grey: compare in RGB
            image, clean = read_rgb(root / record["image"]), read_rgb(root / record["clean"])
        text = read_mask(root / record["mask"]).astype(np.uint8)
        items = record["items"]
        out.append(
            EvalImage(
                record["id"],
                image,
                clean,
                pixel_hole(text, items),
                box_hole(items, text.shape),
            )
        )
    return out
