"""The recognizer's data: text lines of a generated dataset, held in memory, and their augmentation.

Each line is cut from its full image with a margin of `SOURCE_MARGIN` pixels around the tight
box of its text (not from the saved crop, which has only 4), so training can jitter the crop
the way a detector's inexact boxes will: a few pixels of extra background, or a pixel or two cut
off. Lines are kept grey at their native resolution in one flat uint8 buffer (about 100 MB for
the 14,000 lines of a default dataset) and cached under `DATA/.medocr-cache/`.

Training samples are made on the fly, one cv2 affine warp each: random crop margins, horizontal
stretch, shear (slant), slight rotation, straight to a height of 32; then an elastic warp and
thicker or thinner strokes (pen and hand vary more than the fonts training has), blur, contrast
and brightness changes, noise and inverted polarity. Evaluation crops use the generator's own
4-pixel margin, exactly like the saved `crops/*.png`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medocr_cli.io.atomic import atomic_path
from medocr_cli.models.recognizer.lines import normalise_line, to_grey, to_line
from medocr_cli.models.recognizer.spec import HEIGHT, MIN_WIDTH, WIDTH_STEP
from medocr_cli.training.manifest import read_dataset_image, records_of

#: Pixels of context kept around each line's tight box.
SOURCE_MARGIN = 10
#: The margin of the generator's saved crops (`pipeline/generate_dataset.CROP_MARGIN`).
EVAL_MARGIN = 4
CACHE_VERSION = 2
#: Hard-text styles the recognizer does not read: turned or vertical lines, whose axis-aligned
#: box is not a horizontal line (`synth/hard_text.py`); scrub removes them through the detector
#: without reading them. Tilted lines are read up to `MAX_TILT` degrees.
UNREAD_STYLES = frozenset({"rot90", "rot180", "rot270", "vertical-edge"})
MAX_TILT = 4.0


@dataclass
class LineSet:
    """The text lines of one split, grey, at native resolution with context around them.

    Attributes:
        pixels: All lines' pixels, flattened one after the other.
        offsets: Start of each line in `pixels`.
        shapes: (height, width) of each line's array.
        boxes: Tight text box (x0, y0, x1, y1) of each line inside its own array.
        texts: The true text of each line.
        kinds: "printed" or "handwritten".
        fonts: The font each line was drawn with.
    """

    pixels: np.ndarray
    offsets: np.ndarray
    shapes: np.ndarray
    boxes: np.ndarray
    texts: list[str]
    kinds: list[str]
    fonts: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def array(self, i: int) -> np.ndarray:
        """Return line `i`'s grey array (a view into `pixels`)."""
        h, w = (int(v) for v in self.shapes[i])
        start = int(self.offsets[i])
        return self.pixels[start : start + h * w].reshape(h, w)

    def subset(self, keep: Sequence[int]) -> LineSet:
        """Return the lines at the indices `keep` (their pixels copied)."""
        parts = [self.array(i).ravel() for i in keep]
        sizes = np.array([p.size for p in parts], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return LineSet(
            pixels=np.concatenate(parts) if parts else np.zeros(0, np.uint8),
            offsets=offsets,
            shapes=self.shapes[list(keep)],
            boxes=self.boxes[list(keep)],
            texts=[self.texts[i] for i in keep],
            kinds=[self.kinds[i] for i in keep],
            fonts=[self.fonts[i] for i in keep],
        )

    def of_kind(self, kind: str) -> LineSet:
        """Return only the printed or only the handwritten lines."""
        return self.subset([i for i, k in enumerate(self.kinds) if k == kind])

    def eval_crop(self, i: int) -> np.ndarray:
        """Return line `i` cut with the generator's 4-pixel margin (as in `crops/*.png`)."""
        a = self.array(i)
        x0, y0, x1, y1 = (int(v) for v in self.boxes[i])
        h, w = a.shape
        return a[
            max(0, y0 - EVAL_MARGIN) : min(h, y1 + EVAL_MARGIN),
            max(0, x0 - EVAL_MARGIN) : min(w, x1 + EVAL_MARGIN),
        ]


def _read_display(path: Path) -> np.ndarray:
    """Read a dataset image as uint8 grey or RGB (PNG with cv2, anything else with io)."""
    if path.suffix.lower() == ".png":
        return read_dataset_image(path)
    from medocr_cli.io import read_scan

    return read_scan(path).display(0)


def _cache_file(root: Path, split: str) -> Path:
    manifest = root / "manifest.jsonl"
    stat = manifest.stat()
    stamp = hashlib.sha1(
        f"{stat.st_size}:{stat.st_mtime_ns}:{split}:{SOURCE_MARGIN}:{CACHE_VERSION}".encode()
    ).hexdigest()[:12]
    return root / ".medocr-cache" / f"recognizer-{split}-{stamp}.npz"


def _readable(item: dict) -> bool:
    """Whether a manifest line is one the recognizer reads: horizontal, tilted a little at most."""
    if item.get("style") in UNREAD_STYLES:
        return False
    return item.get("style") != "tilt" or abs(float(item.get("angle") or 0.0)) <= MAX_TILT


def load_lines(root: Path, split: str, *, cache: bool = True) -> LineSet:
    """Return every text line of `split` of the dataset at `root` (cached on disk).

    Lines of the hard-text styles the recognizer does not read (`UNREAD_STYLES`, tilts over
    `MAX_TILT`) are left out of training and of the reported CER.

    Raises:
        UsageError: The split is unknown or empty.
        InputFileError: An image cannot be read.
    """
    root = Path(root)
    records = records_of(root, split)
    cache_file = _cache_file(root, split)
    if cache and cache_file.is_file():
        with np.load(cache_file) as data:
            meta = json.loads(str(data["meta"]))
            return LineSet(
                pixels=data["pixels"],
                offsets=data["offsets"],
                shapes=data["shapes"],
                boxes=data["boxes"],
                texts=meta["texts"],
                kinds=meta["kinds"],
                fonts=meta["fonts"],
            )
    parts: list[np.ndarray] = []
    shapes, boxes, texts, kinds, fonts = [], [], [], [], []
    for record in records:
        items = [
            it for it in record.get("items", []) if it.get("text", "").strip() and _readable(it)
        ]
        if not items:
            continue
        grey = to_grey(_read_display(root / record["image"]))
        h, w = grey.shape
        for item in items:
            x0, y0, x1, y1 = (int(v) for v in item["box"])
            cx0, cy0 = max(0, x0 - SOURCE_MARGIN), max(0, y0 - SOURCE_MARGIN)
            cx1, cy1 = min(w, x1 + SOURCE_MARGIN), min(h, y1 + SOURCE_MARGIN)
            if cx1 - cx0 < 2 or cy1 - cy0 < 2:
                continue
            part = np.ascontiguousarray(grey[cy0:cy1, cx0:cx1])
            parts.append(part.ravel())
            shapes.append(part.shape)
            boxes.append((x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0))
            texts.append(item["text"])
            kinds.append(item.get("kind", "printed"))
            fonts.append(item.get("font", ""))
    sizes = np.array([p.size for p in parts], dtype=np.int64)
    lines = LineSet(
        pixels=np.concatenate(parts) if parts else np.zeros(0, np.uint8),
        offsets=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
        shapes=np.array(shapes, dtype=np.int32).reshape(-1, 2),
        boxes=np.array(boxes, dtype=np.int32).reshape(-1, 4),
        texts=texts,
        kinds=kinds,
        fonts=fonts,
    )
    if cache:
        meta = json.dumps({"texts": texts, "kinds": kinds, "fonts": fonts})
        try:
            with atomic_path(cache_file, durable=False) as tmp, open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    pixels=lines.pixels,
                    offsets=lines.offsets,
                    shapes=lines.shapes,
                    boxes=lines.boxes,
                    meta=np.array(meta),
                )
        except OSError:
            pass  # a read-only dataset folder only costs the cache
    return lines


# --- augmentation ---------------------------------------------------------------------------------


@dataclass
class Augment:
    """How strongly training lines are distorted (all ranges are uniform).

    Attributes:
        margin: Extra pixels of context per side (negative cuts into the text box).
        stretch: Horizontal scale factor after the resize to height 32.
        shear: Horizontal shear (slant) per pixel of height.
        rotate: Rotation in degrees.
        max_width: Widest training line (wider ones are squeezed).
        p_blur: Chance of a Gaussian blur.
        p_invert: Chance of inverting the grey values before normalisation.
        p_flip_sign: Chance of flipping the normalised input's sign (a wrong polarity guess).
        noise: Most Gaussian noise, in 0-255 units.
        contrast: Range of the contrast factor around the mean.
        p_elastic: Chance of an elastic warp (a smooth random displacement field, Simard et
            al. 2003): letters bend and wobble the way one hand's strokes differ from a font's.
        elastic_px: Largest displacement of the elastic warp, in pixels of the 32 px line.
        p_stroke: Chance of one pixel of grey erosion or dilation (a finer or broader pen).
    """

    margin: tuple[float, float] = (-1.5, 6.0)
    stretch: tuple[float, float] = (0.8, 1.25)
    shear: tuple[float, float] = (-0.25, 0.25)
    rotate: tuple[float, float] = (-2.0, 2.0)
    max_width: int = 640
    p_blur: float = 0.25
    p_invert: float = 0.2
    p_flip_sign: float = 0.05
    noise: float = 10.0
    contrast: tuple[float, float] = (0.5, 1.2)
    p_elastic: float = 0.5
    elastic_px: float = 2.0
    p_stroke: float = 0.3


def render_train_line(
    source: np.ndarray,
    box: Sequence[int],
    rng: np.random.Generator,
    aug: Augment,
    width_scale: float = 1.0,
) -> np.ndarray:
    """Cut, distort and resize one line to a uint8 (32, W) training input.

    One affine warp does the crop (random margins), the resize to height 32, the horizontal
    stretch (the random one times the model's `width_scale`), the shear and the rotation; pixels
    outside the source repeat its border.
    """
    import cv2

    x0, y0, x1, y1 = (float(v) for v in box)
    m = rng.uniform(*aug.margin, size=4)
    m[:2] = np.maximum(m[:2], -1.0)  # cut at most a pixel off the ends, where letters start
    rx0, ry0, rx1, ry1 = x0 - m[0], y0 - m[2], x1 + m[1], y1 + m[3]
    rx1, ry1 = max(rx1, rx0 + 2.0), max(ry1, ry0 + 2.0)
    scale = HEIGHT / (ry1 - ry0)
    stretch = float(rng.uniform(*aug.stretch)) * width_scale
    width = round((rx1 - rx0) * scale * stretch / WIDTH_STEP) * WIDTH_STEP
    width = min(aug.max_width, max(MIN_WIDTH, width))
    sx, sy = width / (rx1 - rx0), scale
    src = source
    if sy < 0.7:  # shrink first with area averaging, so thin strokes survive the warp
        f = min(1.0, sy * 1.4)
        src = cv2.resize(source, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        rx0, ry0, rx1, ry1 = rx0 * f, ry0 * f, rx1 * f, ry1 * f
        sx, sy = sx / f, sy / f
    cx, cy = (rx0 + rx1) / 2, (ry0 + ry1) / 2
    theta = math.radians(float(rng.uniform(*aug.rotate)))
    shear = float(rng.uniform(*aug.shear))
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    a = np.array([[sx, 0.0], [0.0, sy]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ rot
    t = np.array([width / 2, HEIGHT / 2]) - a @ np.array([cx, cy])
    matrix = np.hstack([a, t[:, None]]).astype(np.float32)
    return cv2.warpAffine(
        src, matrix, (width, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def distort_strokes(line: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """Warp a uint8 (32, W) line elastically and thicken or thin its strokes, at random."""
    import cv2

    out = line
    if rng.random() < aug.p_elastic:
        rows, cols = out.shape
        sigma = float(rng.uniform(3.0, 6.0))
        field = rng.normal(0.0, 1.0, size=(2, rows, cols)).astype(np.float32)
        dx, dy = (cv2.GaussianBlur(f, (0, 0), sigma) for f in field)
        amplitude = float(rng.uniform(0.5, 1.0)) * aug.elastic_px
        dx *= amplitude / max(1e-6, float(np.abs(dx).max()))
        dy *= 0.6 * amplitude / max(1e-6, float(np.abs(dy).max()))
        ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
        out = cv2.remap(out, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < aug.p_stroke:
        kernel = np.ones((2, 2), np.uint8)
        out = cv2.erode(out, kernel) if rng.random() < 0.5 else cv2.dilate(out, kernel)
    return out


def photometric(line: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """Blur, contrast, brightness, noise and inversion of a uint8 line; returns float32 0-255."""
    import cv2

    x = line.astype(np.float32)
    if rng.random() < aug.p_blur:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.4, 1.1)))
    mean = float(x.mean())
    x = (x - mean) * float(rng.uniform(*aug.contrast)) + mean + float(rng.uniform(-40, 40))
    if aug.noise > 0:
        x += rng.normal(0.0, float(rng.uniform(0, aug.noise)), size=x.shape).astype(np.float32)
    if rng.random() < aug.p_invert:
        x = 255.0 - x
    return np.clip(x, 0, 255)


def train_sample(
    lines: LineSet, i: int, rng: np.random.Generator, aug: Augment, width_scale: float = 1.0
) -> np.ndarray:
    """Return the normalised float32 (32, W) input of an augmented training line `i`."""
    line = render_train_line(lines.array(i), lines.boxes[i], rng, aug, width_scale)
    line = distort_strokes(line, rng, aug)
    x = normalise_line(photometric(line, rng, aug))
    if rng.random() < aug.p_flip_sign:
        x = -x
    return x


def eval_sample(lines: LineSet, i: int, width_scale: float = 1.0) -> np.ndarray:
    """Return the normalised input of line `i` with the fixed 4-pixel margin, no augmentation."""
    return normalise_line(to_line(lines.eval_crop(i), width_scale=width_scale))


def nominal_widths(lines: LineSet, width_scale: float = 1.0) -> np.ndarray:
    """Return each line's network width with its evaluation margin (for width buckets)."""
    b = lines.boxes.astype(np.float64)
    h = b[:, 3] - b[:, 1] + 2 * EVAL_MARGIN
    w = b[:, 2] - b[:, 0] + 2 * EVAL_MARGIN
    return np.maximum(MIN_WIDTH, np.round(w * HEIGHT * width_scale / np.maximum(h, 1)))


def width_batches(
    widths: np.ndarray, batch_size: int, rng: np.random.Generator | None
) -> Iterator[np.ndarray]:
    """Yield index batches of similar widths (little padding), in random order when `rng` is set.

    With an `rng` the widths get a little noise before sorting, so batches differ per epoch, and
    the last short batch is dropped; without one every index comes once, narrowest first.
    """
    order = np.argsort(
        widths * (1.0 + 0.15 * rng.random(len(widths))) if rng is not None else widths
    )
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        chunks = [c for c in chunks if len(c) == batch_size] or chunks[:1]
        rng.shuffle(chunks)
    yield from chunks
