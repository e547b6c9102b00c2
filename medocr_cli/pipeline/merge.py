"""`run_merge`: boxes from several `extract --json` files become one merged set per image.

Entries are grouped by image path across all files, so the printed and the handwritten extractor
can each write their own JSON. When two extractors read different text for one region, the
classifier looks at that region's crop (when the image can be read and `classifier.pt` exists)
and says which reading stands; otherwise the reading with the higher score stands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.errors import InputFileError, MedocrError, UsageError
from medocr_cli.models import zoo
from medocr_cli.stages.merge import merge_boxes
from medocr_cli.types import Box, Label, Progress, notify_advance, notify_start

#: Margin around a disputed region, as a fraction of its height, when cropped for the classifier.
CROP_MARGIN = 0.25

_JSON_HINT = "pass files written by `medocr extract --json`"


@dataclass
class MergeEntry:
    """Everything the input files say about one image."""

    path: str
    boxes: list[Box] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self, boxes: list[Box]) -> dict[str, Any]:
        """Return the `extract --json` shape with `boxes` in place of the input boxes."""
        out: dict[str, Any] = {
            "path": self.path,
            "label": union_of_labels(self.labels),
            "boxes": [b.to_json() for b in boxes],
        }
        if self.errors:
            out["error"] = "; ".join(dict.fromkeys(self.errors))
        return out


@dataclass
class MergeStats:
    """Counts for the summary: how many boxes went in and out, how conflicts were decided."""

    boxes_in: int = 0
    boxes_out: int = 0
    conflicts: int = 0
    by_classifier: int = 0


def union_of_labels(labels: list[str]) -> str | None:
    """Label of an image from several extractors: P if any says P, H likewise; None if unknown."""
    known = [lab for lab in labels if lab]
    if not known:
        return None
    printed = any("P" in lab for lab in known if lab != "None")
    written = any("H" in lab for lab in known)
    return Label.of(printed, written)


def load_extract_files(files: list[Path]) -> list[MergeEntry]:
    """Read `extract --json` files and group their entries by image path (in first-seen order).

    Raises:
        UsageError: A file does not exist.
        InputFileError: A file is not valid JSON of the `extract --json` shape.
    """
    entries: dict[str, MergeEntry] = {}
    for file in files:
        for item in _read_json_array(Path(file)):
            path = str(Path(str(item["path"])))
            entry = entries.setdefault(path, MergeEntry(path))
            entry.boxes.extend(_parse_boxes(item, file))
            if item.get("label"):
                entry.labels.append(str(item["label"]))
            if item.get("error"):
                entry.errors.append(str(item["error"]))
    return list(entries.values())


def merge_entries(
    entries: list[MergeEntry],
    arbiter_for: Callable[[str], Callable[[Box], str] | None],
    stats: MergeStats | None = None,
    progress: Progress[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Merge the boxes of every entry; `arbiter_for(path)` gives the arbiter for that image."""
    stats = stats if stats is not None else MergeStats()
    notify_start(progress, len(entries))
    out = []
    for entry in entries:
        arbiter = arbiter_for(entry.path)

        def counted(region: Box, arbiter: Callable[[Box], str] | None = arbiter) -> str:
            stats.conflicts += 1
            if arbiter is None:
                return "None"
            stats.by_classifier += 1
            return arbiter(region)

        merged = merge_boxes(entry.boxes, arbiter=counted)
        stats.boxes_in += len(entry.boxes)
        stats.boxes_out += len(merged)
        out.append(entry.to_json(merged))
        notify_advance(progress, out[-1])
    return out


class ClassifierArbiters:
    """Makes per-image arbiters that run the classifier on a disputed region's crop.

    The classifier and each image are loaded only when a conflict first needs them, so a merge
    without conflicts never imports torch or reads an image.
    """

    def __init__(self, weights: Path | None, device: str) -> None:
        """Remember where the weights are; nothing is loaded yet."""
        self.weights_file = zoo.locate("classifier", weights)
        self.weights = weights
        self.device = device
        self._classifier: Any = None

    @property
    def available(self) -> bool:
        """True when `classifier.pt` exists in the weights folder."""
        return self.weights_file.is_file()

    def __call__(self, path: str) -> Callable[[Box], str] | None:
        """The arbiter for image `path`, or None when the image or the weights are missing."""
        if not self.available or not Path(path).is_file():
            return None
        frames: dict[int, np.ndarray] = {}

        def arbiter(region: Box) -> str:
            if region.frame not in frames:
                from medocr_cli.io import read_scan

                try:
                    frames[region.frame] = read_scan(Path(path)).display(region.frame)
                except (MedocrError, IndexError):
                    return "None"
            return self._classify(crop_region(frames[region.frame], region))

        return arbiter

    def _classify(self, crop: np.ndarray) -> str:
        if self._classifier is None:
            from medocr_cli.config import resolve_device
            from medocr_cli.models.classifier.predictor import Classifier

            self._classifier = Classifier(
                self.weights_file, resolve_device(self.device), needed_by="merge"
            )
        return str(self._classifier.predict([crop])[0].label)


def crop_region(frame: np.ndarray, region: Box, margin: float = CROP_MARGIN) -> np.ndarray:
    """Cut `region` out of a display frame with a margin, padded to a square.

    The classifier resizes its input to a square; padding (with the crop's median colour) keeps
    the text's aspect ratio instead of stretching a long line into tall glyphs.
    """
    rows, cols = frame.shape[:2]
    m = max(2, round(margin * region.height))
    x0, y0 = max(0, region.x0 - m), max(0, region.y0 - m)
    x1, y1 = min(cols, region.x1 + m), min(rows, region.y1 + m)
    crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
    if crop.size == 0:
        crop = np.ascontiguousarray(frame)
    h, w = crop.shape[:2]
    side = max(h, w)
    fill = np.median(crop.reshape(h * w, -1), axis=0).astype(np.uint8)
    square = np.empty((side, side, *crop.shape[2:]), np.uint8)
    square[...] = fill if crop.ndim == 3 else fill[0]
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = crop
    return square


@dataclass
class MergeConfig:
    """What `run_merge` merges and how.

    Attributes:
        files: `extract --json` files, each an array of {path, label, boxes: [...]}.
        use_classifier: Let the classifier decide conflicting readings (when it can).
        weights: Weights folder holding `classifier.pt` (None: the default folder).
        device: auto, cpu or cuda, for the classifier.
    """

    files: list[Path]
    use_classifier: bool = True
    weights: Path | None = None
    device: str = "auto"


@dataclass
class MergeOutcome:
    """The merged images (the `extract --json` shape) and the box and conflict counts."""

    results: list[dict[str, Any]]
    stats: MergeStats


def run_merge(
    config: MergeConfig,
    progress: Progress[dict[str, Any]] | None = None,
    *,
    arbiter_for: Callable[[str], Callable[[Box], str] | None] | None = None,
) -> MergeOutcome:
    """Merge the boxes of `config.files`, per image.

    Args:
        config: The files and the classifier settings.
        progress: Started with the number of images, advanced with each merged image.
        arbiter_for: Gives the arbiter of an image's conflicting readings instead of the
            classifier (`ClassifierArbiters`): the seam tests use.

    Raises:
        UsageError: A file does not exist.
        InputFileError: A file is not valid JSON of the `extract --json` shape.
    """
    entries = load_extract_files(config.files)
    if arbiter_for is None:
        if config.use_classifier:
            arbiter_for = ClassifierArbiters(config.weights, config.device)
        else:
            arbiter_for = _no_arbiter
    stats = MergeStats()
    return MergeOutcome(merge_entries(entries, arbiter_for, stats, progress), stats)


def _no_arbiter(path: str) -> None:
    """No arbiter: a conflict keeps the reading with the higher score."""
    return None


def _read_json_array(file: Path) -> list[dict[str, Any]]:
    """The entries of one `extract --json` file, checked for shape."""
    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputFileError(f"not valid JSON: {exc}", hint=_JSON_HINT, path=file) from exc
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict) or "path" not in item:
            raise InputFileError(
                "not an `extract --json` file: every entry needs a path and boxes",
                hint=_JSON_HINT,
                path=file,
            )
    return items


def _parse_boxes(item: dict[str, Any], file: Path) -> list[Box]:
    """The boxes of one entry, with the defaults `extract` would have written."""
    try:
        boxes = []
        for b in item.get("boxes") or []:
            x0, y0, x1, y1 = (round(float(v)) for v in b["box"])
            boxes.append(
                Box(
                    int(b.get("frame", 0)),
                    x0,
                    y0,
                    x1,
                    y1,
                    text=str(b.get("text") or ""),
                    kind=str(b.get("kind") or "printed"),
                    score=float(b.get("score", 1.0)),
                    source=str(b.get("source") or ""),
                )
            )
        return boxes
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputFileError(
            f"malformed box in the entry for {item.get('path')}: {exc!r}",
            hint="each box needs frame and box: [x0, y0, x1, y1]",
            path=file,
        ) from exc
