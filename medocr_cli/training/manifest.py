"""Reading the manifest and the image files of a dataset made by `generate-dataset`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.errors import InputFileError, UsageError

SPLITS = ("train", "val", "test")


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """Return the records of `root/manifest.jsonl`, one dict per image.

    Raises:
        UsageError: `root` is not a dataset folder.
        InputFileError: A line of the manifest is not JSON.
    """
    root = Path(root)
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise UsageError(
            f"{root}: not a dataset folder (no manifest.jsonl)",
            hint="make one with `medocr generate-dataset DIR`",
        )
    records = []
    with manifest.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputFileError(
                    f"line {number} is not JSON: {exc.msg}", path=manifest
                ) from exc
    return records


def records_of(root: Path, split: str) -> list[dict[str, Any]]:
    """Return the records of one split (train, val or test), in manifest order.

    Raises:
        UsageError: The split is unknown or empty.
    """
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}", hint=f"use one of {', '.join(SPLITS)}")
    chosen = [r for r in read_manifest(root) if r.get("split") == split]
    if not chosen:
        raise UsageError(f"{root}: the {split} split is empty", hint="generate more images")
    return chosen


def dataset_info(root: Path) -> dict[str, Any]:
    """Return `dataset.json` (generator seed, count, size), or {} when it is missing."""
    path = Path(root) / "dataset.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}


def read_dataset_image(path: Path, flags: int = -1) -> np.ndarray:
    """Read a dataset PNG with cv2 as uint8: grey (H, W) or RGB (H, W, 3).

    Args:
        path: The image (or mask) file.
        flags: cv2.imread flags: -1 (IMREAD_UNCHANGED, the default) keeps grey files grey;
            0 (IMREAD_GRAYSCALE) reads masks.

    Raises:
        InputFileError: The file cannot be read as an image.
    """
    import cv2

    image = cv2.imread(str(path), flags)
    if image is None:
        raise InputFileError("cannot read this dataset image", path=path)
    if image.dtype != np.uint8:
        image = (image / 257).astype(np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_BGR2RGB)
    return image
