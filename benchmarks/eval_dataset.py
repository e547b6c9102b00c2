"""Check a generated dataset against the generator's quality bar.

Usage: python benchmarks/eval_dataset.py DATASET [--split test] [--limit N]

Measures, on one split:
- the share of printed PHI lines Tesseract reads: character accuracy >= 0.8 (difflib ratio) on
  the line's crop (its box + 1 px), read with --psm 7 after upscaling to >= 40 px line height and
  padding with the crop's median grey, in both polarities, the better of the two;
- class balance (largest deviation from 25% per class);
- that every mask pixel lies inside some line box;
- that the clean original differs from the image only inside the mask.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytesseract
from PIL import Image

from medocr_cli.io import read_scan


def char_accuracy(truth: str, read: str) -> float:
    """1 - normalised edit distance, from difflib's matching blocks (close enough for a gate)."""
    truth, read = " ".join(truth.split()), " ".join(read.split())
    if not truth:
        return 1.0
    return difflib.SequenceMatcher(None, truth, read, autojunk=False).ratio()


def ocr_line(crop: np.ndarray) -> list[str]:
    """Tesseract (--psm 7) on one line crop in both polarities: upscaled to >= 40 px line height
    (at least 2x) and padded with the crop's median grey, as one would feed a line to it."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    scale = max(2.0, 40.0 / max(1, grey.shape[0]))
    up = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    readings = []
    for img in (up, 255 - up):
        pad = cv2.copyMakeBorder(
            img, 16, 16, 16, 16, cv2.BORDER_CONSTANT, value=int(np.median(img))
        )
        readings.append(pytesseract.image_to_string(pad, config="--psm 7").strip())
    return readings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    records = [json.loads(x) for x in (args.dataset / "manifest.jsonl").read_text().splitlines()]
    all_labels = Counter(r["label"] for r in records)
    records = [r for r in records if r["split"] == args.split]
    if args.limit:
        records = records[: args.limit]
    labels = Counter(r["label"] for r in records)
    phi_total = phi_read = 0
    mask_outside = clean_outside = 0
    for r in records:
        image = read_scan(args.dataset / r["image"]).frames[0]
        clean = np.asarray(Image.open(args.dataset / r["clean"]))
        mask = np.asarray(Image.open(args.dataset / r["mask"])) > 0
        inside = np.zeros(mask.shape, bool)
        for item in r["items"]:
            x0, y0, x1, y1 = item["box"]
            inside[y0:y1, x0:x1] = True
        mask_outside += int((mask & ~inside).sum())
        diff = image != clean
        diff = diff.any(axis=-1) if diff.ndim == 3 else diff
        clean_outside += int((diff & ~mask).sum())
        for item in r["items"]:
            if item["kind"] != "printed" or item.get("role") != "phi":
                continue
            x0, y0, x1, y1 = item["box"]
            crop = image[max(0, y0 - 1) : y1 + 1, max(0, x0 - 1) : x1 + 1]
            phi_total += 1
            if max(char_accuracy(item["text"], t) for t in ocr_line(crop)) >= 0.8:
                phi_read += 1
    n = sum(labels.values())
    print(
        json.dumps(
            {
                "split": args.split,
                "images": n,
                "labels": dict(labels),
                "max_class_deviation_pct": round(
                    max(abs(v / n - 0.25) for v in labels.values()) * 100, 2
                ),
                "all_splits_labels": dict(all_labels),
                "printed_phi_lines": phi_total,
                "printed_phi_read_pct": round(100 * phi_read / max(1, phi_total), 1),
                "mask_pixels_outside_boxes": mask_outside,
                "clean_differs_outside_mask_pixels": clean_outside,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
