"""Regions to teach the text / non-text check, mined with the detector from a generated dataset.

The check must learn what the detector gets wrong, so its examples are the detector's own
proposals, found with a lower score threshold than scrub uses (`MINE_MIN_SCORE`) to see more of
the structure that comes close to looking like text:

- **text**: proposals on an image with text that lie mostly on its true line boxes;
- **non-text**: proposals on the *clean* image of every record (the background without its
  text: real anatomy, procedural scans, and the generator's hard negatives such as Doppler
  flow, vessels and calipers), and proposals on images with text that touch no true line;
- proposals in between (partly on a line) are left out, they teach nothing clear.

Each region is kept as a uint8 crop with context (`CONTEXT` of its height on each side), so
training can jitter the box a little without reading the image again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.training.manifest import read_dataset_image, records_of
from medocr_cli.types import Box, box_coverage

#: Score threshold of the detector's proposals while mining (scrub uses the spec's, 0.5).
MINE_MIN_SCORE = 0.3
#: A proposal is text when at least this share of its area lies on true line boxes (a cover box
#: grows a line by a third of its height on every side, so a short line's box is only about
#: half text). A proposal that takes in a line but is mostly something else (a line merged with
#: the Doppler flow it was written on) is left out: labelled text, it taught the check to pass
#: flow; labelled non-text, it would teach it to keep lines.
TEXT_SHARE = 0.3
#: A proposal is non-text when less than this share of it lies on true lines and it touches
#: none of them.
NON_TEXT_SHARE = 0.05
#: Context kept around each region, in region heights.
CONTEXT = 0.4
#: Images run through the detector at a time.
BATCH = 8


@dataclass
class Region:
    """One mined region.

    Attributes:
        crop: uint8 grey or RGB pixels around the region.
        box: (x0, y0, x1, y1) of the region inside `crop`.
        label: 1 for text, 0 for non-text.
        origin: "text-image", "clean" or "none-image", for the report.
    """

    crop: np.ndarray
    box: tuple[int, int, int, int]
    label: int
    origin: str


@dataclass
class MinedSplit:
    """The regions of one dataset split."""

    regions: list[Region] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Regions per label and origin."""
        out: dict[str, int] = {}
        for r in self.regions:
            key = f"{'text' if r.label else 'non-text'}:{r.origin}"
            out[key] = out.get(key, 0) + 1
        return out


def line_mask(items: Sequence[dict[str, Any]], shape: tuple[int, int]) -> np.ndarray:
    """Return the bool (H, W) union of the manifest items' line boxes."""
    mask = np.zeros(shape, bool)
    for item in items:
        x0, y0, x1, y1 = item["box"]
        mask[max(0, y0) : y1, max(0, x0) : x1] = True
    return mask


def _cut(frame: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, tuple]:
    rows, cols = frame.shape[:2]
    x0, y0, x1, y1 = box
    g = max(2, round(CONTEXT * (y1 - y0)))
    cx0, cy0, cx1, cy1 = max(0, x0 - g), max(0, y0 - g), min(cols, x1 + g), min(rows, y1 + g)
    crop = np.ascontiguousarray(frame[cy0:cy1, cx0:cx1])
    return crop, (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)


def mining_detector(weights: Path, device: str) -> Any:
    """Load the detector that proposes regions, with the mining score threshold."""
    from medocr_cli.models.detector.predictor import Detector

    detector = Detector(weights, device)
    detector.spec = copy.deepcopy(detector.spec)
    detector.spec["min_score"] = min(float(detector.spec.get("min_score", 0.5)), MINE_MIN_SCORE)
    return detector


def mine_split(
    root: Path,
    split: str,
    detector: Any,
    *,
    limit: int | None = None,
    advance: Callable[[int], None] | None = None,
) -> MinedSplit:
    """Mine the regions of one split of the dataset at `root` with `detector`.

    Args:
        root: Dataset folder made by `medocr generate-dataset`.
        split: train, val or test.
        detector: A `models.detector.predictor.Detector` (see `mining_detector`).
        limit: Use only the first `limit` records (tests).
        advance: Called with the number of records done after each batch (progress).
    """
    records = records_of(root, split)[:limit]
    mined = MinedSplit()
    for start in range(0, len(records), BATCH):
        chunk = records[start : start + BATCH]
        frames: list[np.ndarray] = []
        meta: list[tuple[dict[str, Any], str]] = []
        for record in chunk:
            image = read_dataset_image(Path(root) / record["image"])
            frames.append(image)
            meta.append((record, "text-image" if record["items"] else "none-image"))
            if record["items"] and record.get("clean"):
                frames.append(read_dataset_image(Path(root) / record["clean"]))
                meta.append((record, "clean"))
        found = detector.detect(frames, BATCH)
        for frame, boxes, (record, origin) in zip(frames, found, meta, strict=True):
            items = record["items"] if origin == "text-image" else []
            lines = line_mask(items, frame.shape[:2])
            for b in boxes:
                area = max(1, (b.x1 - b.x0) * (b.y1 - b.y0))
                share = float(lines[b.y0 : b.y1, b.x0 : b.x1].sum()) / area
                takes = max((box_coverage(Box(0, *item["box"]), b) for item in items), default=0.0)
                if share >= TEXT_SHARE:
                    label = 1
                elif share < NON_TEXT_SHARE and takes == 0.0:
                    label = 0
                else:
                    continue
                crop, box = _cut(frame, (b.x0, b.y0, b.x1, b.y1))
                mined.regions.append(Region(crop, box, label, origin))
        if advance is not None:
            advance(len(chunk))
    return mined
