"""The detector's data: frames, text masks and line boxes in memory, and augmented crops.

Every image of a split is kept as the network's uint8 grey + chroma input and its text mask
bit-packed (a 512 px default dataset's train split takes about 2 GB), cached under
`DATA/.medocr-cache/` and rebuilt when the manifest changes. Training draws crops (256 px by
default) at a random scale of 0.5-1.5, mostly around a text line so most steps see text, and
draws the targets for each crop from the line boxes: the DBNet-style shrunk line core and the
area-averaged pixel mask, both at half resolution like the network's output.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

from medocr_cli.errors import InputFileError
from medocr_cli.io.atomic import atomic_path
from medocr_cli.models.detector.boxes import shrink_box
from medocr_cli.models.detector.network import to_input
from medocr_cli.training.manifest import read_dataset_image, records_of


@dataclass
class DetectorSplit:
    """One split in memory.

    Attributes:
        images: uint8 (N, H, W, 2) network inputs (grey, chroma), zero-padded to the largest
            frame of the split.
        shapes: (N, 2) true height and width of each frame.
        masks: Bit-packed text masks, (N, H, ceil(W / 8)) uint8.
        lines: Per image, float32 (k, 4) line boxes x0, y0, x1, y1.
        kinds: Per image, the kind of each line ("printed" or "handwritten").
        light: Per image, bool (k,): True where the line is lighter than its surroundings.
        labels: Per image, the dataset label (None, P, H, PH).
        ids: Per image, the manifest id.
        vertical: Per image, bool (k,): True where the line is rotated 90 or 270 degrees
            (its manifest `angle`), so its height across the text is its box's width; None
            when unknown (every line is then taken as horizontal).
    """

    images: np.ndarray
    shapes: np.ndarray
    masks: np.ndarray
    lines: list[np.ndarray]
    kinds: list[list[str]]
    light: list[np.ndarray]
    labels: list[str]
    ids: list[str]
    vertical: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def frame(self, i: int) -> np.ndarray:
        """Return the (2, h, w) uint8 input of image `i`, padding cut off."""
        h, w = self.shapes[i]
        return np.ascontiguousarray(self.images[i, :h, :w].transpose(2, 0, 1))

    def mask(self, i: int) -> np.ndarray:
        """Return the bool (h, w) text mask of image `i`."""
        h, w = self.shapes[i]
        return np.unpackbits(self.masks[i, :h], axis=1)[:, :w].astype(bool)


def line_is_light(grey: np.ndarray, mask: np.ndarray, box: np.ndarray) -> bool:
    """Whether a line's text is lighter than what is around it (light-on-dark).

    Compares the mean grey of the text pixels inside the box with that of the box's other
    pixels (the mask grown by one pixel is left out, so anti-aliased edges do not count); a box
    that is all ink is compared with a ring of 3 pixels around it.
    """
    import cv2

    h, w = grey.shape
    x0, y0, x1, y1 = (round(v) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return True
    ink = mask[y0:y1, x0:x1]
    patch = grey[y0:y1, x0:x1].astype(np.float32)
    if not ink.any():
        return bool(patch.mean() > np.median(grey))
    grown = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    background = patch[~grown]
    if background.size < 8:
        rx0, ry0, rx1, ry1 = max(0, x0 - 3), max(0, y0 - 3), min(w, x1 + 3), min(h, y1 + 3)
        ring = grey[ry0:ry1, rx0:rx1].astype(np.float32)
        inner = np.zeros(ring.shape, bool)
        inner[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0] = True
        background = ring[~inner]
    if background.size == 0:
        return True
    return bool(patch[ink].mean() > background.mean())


def load_split(root: Path, split: str, *, cache: bool = True) -> DetectorSplit:
    """Return `split` of the dataset at `root` in memory (cached on disk as one .npz)."""
    root = Path(root)
    records = records_of(root, split)
    manifest = root / "manifest.jsonl"
    stamp = hashlib.sha1(
        f"{manifest.stat().st_size}:{manifest.stat().st_mtime_ns}:{split}:v1".encode()
    ).hexdigest()[:12]
    cache_file = root / ".medocr-cache" / f"detector-{split}-{stamp}.npz"
    lines = [
        np.array([it["box"] for it in r.get("items", [])], np.float32).reshape(-1, 4)
        for r in records
    ]
    kinds = [[it["kind"] for it in r.get("items", [])] for r in records]
    vertical = [
        np.array([_is_upright(it.get("angle", 0.0)) for it in r.get("items", [])], bool)
        for r in records
    ]
    if cache and cache_file.is_file():
        with np.load(cache_file) as data:
            images, shapes, masks = data["images"], data["shapes"], data["masks"]
            light_flat = data["light"]
    else:
        frames = [to_input(read_dataset_image(root / r["image"])) for r in records]
        shapes = np.array([f.shape[1:] for f in frames], np.int32).reshape(-1, 2)
        height, width = (int(v) for v in shapes.max(axis=0))
        images = np.zeros((len(records), height, width, 2), np.uint8)
        masks = np.zeros((len(records), height, (width + 7) // 8), np.uint8)
        light_flat_list: list[bool] = []
        for i, (record, frame) in enumerate(zip(records, frames, strict=True)):
            h, w = frame.shape[1:]
            images[i, :h, :w] = frame.transpose(1, 2, 0)
            mask = read_dataset_image(root / record["mask"], 0) > 127
            if mask.shape != (h, w):
                raise InputFileError("mask and image differ in size", path=root / record["mask"])
            masks[i, :h] = np.packbits(np.pad(mask, ((0, 0), (0, width - w))), axis=1)
            light_flat_list.extend(line_is_light(frame[0], mask, box) for box in lines[i])
        light_flat = np.array(light_flat_list, bool)
        if cache:
            try:
                with atomic_path(cache_file, durable=False) as tmp, open(tmp, "wb") as fh:
                    np.savez(fh, images=images, shapes=shapes, masks=masks, light=light_flat)
            except OSError:
                pass  # a read-only dataset folder only costs the cache
    offsets = np.cumsum([0] + [len(b) for b in lines])
    light = [light_flat[offsets[i] : offsets[i + 1]] for i in range(len(lines))]
    return DetectorSplit(
        images=images,
        shapes=shapes,
        masks=masks,
        lines=lines,
        kinds=kinds,
        light=light,
        labels=[r["label"] for r in records],
        ids=[r["id"] for r in records],
        vertical=vertical,
    )


def _is_upright(angle: float) -> bool:
    """Whether a line drawn at `angle` degrees runs up or down the image (90 or 270)."""
    return abs((float(angle) % 180.0) - 90.0) < 45.0


def _window(array: np.ndarray, x0: int, y0: int, size_x: int, size_y: int, replicate: bool):
    """Cut `array[y0:y0+size_y, x0:x0+size_x]`, padding outside (edge copy or zeros)."""
    import cv2

    h, w = array.shape[:2]
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(w, x0 + size_x), min(h, y0 + size_y)
    if cx1 <= cx0 or cy1 <= cy0:
        shape = (size_y, size_x, *array.shape[2:])
        return np.zeros(shape, array.dtype)
    part = array[cy0:cy1, cx0:cx1]
    pads = (cy0 - y0, y0 + size_y - cy1, cx0 - x0, x0 + size_x - cx1)
    if any(pads):
        border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
        part = cv2.copyMakeBorder(part, *pads, border, value=0)
        if array.ndim == 3 and part.ndim == 2:
            part = part[:, :, None]
    return part


def draw_core(
    lines: np.ndarray,
    out_size: tuple[int, int],
    shrink: float,
    stride: int = 2,
    vertical: np.ndarray | None = None,
) -> np.ndarray:
    """Return the float32 core target (h, w) at 1/`stride` for line boxes in input pixels.

    A map pixel is on when its centre lies inside the shrunk box; every line keeps at least
    one row and one column, so 5 px lines still have a core. A line flagged in `vertical`
    (text rotated 90 or 270 degrees: a tall, narrow box) is shrunk by its width, its height
    across the text, the way a horizontal line is shrunk by its height; the post-processing
    grows such slender cores back by their width too (`models.detector.unclip_box`).
    """
    height, width = out_size
    core = np.zeros(out_size, np.float32)
    for k, box in enumerate(lines):
        bx0, by0, bx1, by1 = (float(v) for v in box)
        if vertical is not None and vertical[k]:
            y0, x0, y1, x1 = shrink_box((by0, bx0, by1, bx1), shrink)  # shrink it turned 90
        else:
            x0, y0, x1, y1 = shrink_box((bx0, by0, bx1, by1), shrink)
        r0, r1 = round(y0 / stride), round(y1 / stride)
        c0, c1 = round(x0 / stride), round(x1 / stride)
        if r1 <= r0:
            r0 = int((y0 + y1) / 2 / stride)
            r1 = r0 + 1
        if c1 <= c0:
            c0 = int((x0 + x1) / 2 / stride)
            c1 = c0 + 1
        r0, r1 = max(0, r0), min(height, r1)
        c0, c1 = max(0, c0), min(width, c1)
        if r1 > r0 and c1 > c0:
            core[r0:r1, c0:c1] = 1.0
    return core


def sample_crop(
    split: DetectorSplit,
    i: int,
    rng: np.random.Generator,
    *,
    size: int = 256,
    scale_range: tuple[float, float] = (0.5, 1.5),
    focus: float = 0.7,
    shrink: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return one augmented training crop of image `i` and its targets.

    Returns:
        (uint8 (2, size, size) input, float32 (size/2, size/2) core, float32 text share).
    """
    import cv2

    h, w = (int(v) for v in split.shapes[i])
    scale = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
    win = max(8, round(size / scale))
    scale = size / win
    boxes = split.lines[i]
    slack = int(0.1 * win)
    if len(boxes) and rng.random() < focus:
        x0b, y0b, x1b, y1b = boxes[rng.integers(len(boxes))]
        cx, cy = rng.uniform(x0b, x1b), rng.uniform(y0b, y1b)
        x0 = int(cx - rng.uniform(0.1, 0.9) * win)
        y0 = int(cy - rng.uniform(0.1, 0.9) * win)
    else:
        x0 = int(rng.uniform(0, max(1, w - win + 1)))
        y0 = int(rng.uniform(0, max(1, h - win + 1)))
    x0 = int(np.clip(x0, -slack, max(-slack, w - win + slack)))
    y0 = int(np.clip(y0, -slack, max(-slack, h - win + slack)))
    image = _window(split.images[i, :h, :w], x0, y0, win, win, replicate=True)
    interpolation = cv2.INTER_AREA if win > size else cv2.INTER_LINEAR
    image = cv2.resize(image, (size, size), interpolation=interpolation)
    ry0, ry1 = max(0, y0), min(h, y0 + win)
    rows = np.unpackbits(split.masks[i, ry0:ry1], axis=1)[:, :w] if ry1 > ry0 else None
    if rows is None:
        text = np.zeros((size // 2, size // 2), np.float32)
    else:
        full = np.zeros((h, w), np.uint8)
        full[ry0:ry1] = rows
        mask = _window(full, x0, y0, win, win, replicate=False).astype(np.float32)
        text = cv2.resize(mask, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    moved = (boxes - np.array([x0, y0, x0, y0], np.float32)) * scale
    upright = split.vertical[i] if split.vertical is not None else None
    core = draw_core(moved, (size // 2, size // 2), shrink, vertical=upright)
    return np.ascontiguousarray(image.transpose(2, 0, 1)), core, text


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Randomly change a float [0, 1] (N, 2, S, S) batch the way scanners and viewers do.

    Inverted polarity (light text on dark and dark on light), contrast, brightness and gamma,
    sensor noise and a slight blur on the grey channel; the chroma channel is sometimes
    dropped (grey renderings of colour overlays) and otherwise rescaled.
    """
    n = batch.shape[0]
    device = batch.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return (torch.rand(n, 1, 1, 1, generator=generator) * (high - low) + low).to(device)

    def chance(p: float) -> torch.Tensor:
        return (torch.rand(n, 1, 1, 1, generator=generator) < p).to(device)

    grey, chroma = batch[:, :1], batch[:, 1:]
    grey = torch.where(chance(0.4), 1.0 - grey, grey)
    mean = grey.mean(dim=(2, 3), keepdim=True)
    grey = ((grey - mean) * uniform(0.5, 1.4) + mean + uniform(-0.15, 0.15)).clamp(0.0, 1.0)
    grey = grey.clamp_min(1e-4) ** uniform(0.7, 1.4)
    kernel = torch.tensor([0.25, 0.5, 0.25], device=device)
    kernel = (kernel[:, None] * kernel[None, :]).view(1, 1, 3, 3)
    blurred = functional.conv2d(functional.pad(grey, (1, 1, 1, 1), mode="replicate"), kernel)
    grey = torch.where(chance(0.2), blurred, grey)
    noise = torch.randn(grey.shape, generator=generator).to(device)
    grey = grey + noise * uniform(0.0, 0.05) * chance(0.5)
    chroma = torch.where(chance(0.25), torch.zeros_like(chroma), chroma * uniform(0.5, 1.5))
    return torch.cat([grey, chroma], dim=1).clamp(0.0, 1.0)
