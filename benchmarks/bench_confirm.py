"""What the confirm step costs in recall and saves in false regions, on a generated split.

    python benchmarks/bench_confirm.py DATASET [--split test] [--limit N] [--weights DIR]

Runs the learned finder (default options: detector, classifier, Tesseract only where it helps)
over the split twice, without the text / non-text check and with it (`confirm.pt` from the
weights folder), and prints one JSON object per setting:

- line recall: true lines whose box is at least 90% covered by the boxes the finder would
  remove (the detector card's rule), overall and for printed / handwritten lines;
- false regions: removed boxes with less than 25% of their area on true lines, per image, and
  on text-free images;
- kept_non_text: regions the check left in place, and how many of them lay on true lines;
- seconds per image.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from medocr_cli.models.confirm.data import line_mask
from medocr_cli.pipeline.find_text import LearnedFinder
from medocr_cli.training.manifest import read_dataset_image, records_of

COVER = 0.9
BOX_TRUE_SHARE = 0.25


def measure(finder: LearnedFinder, root: Path, records: list[dict]) -> dict[str, object]:
    """Run `finder` over `records` and measure recall, false regions and regions kept."""
    found = {"printed": [0, 0], "handwritten": [0, 0]}
    false_boxes = false_on_empty = empty_images = kept = kept_on_text = 0
    t0 = time.perf_counter()
    for record in records:
        image = read_dataset_image(root / record["image"])
        (finding,) = finder.find([image], [0])
        shape = image.shape[:2]
        covered = np.zeros(shape, bool)
        for b in finding.boxes:
            covered[b.y0 : b.y1, b.x0 : b.x1] = True
        lines = line_mask(record["items"], shape)
        for item in record["items"]:
            x0, y0, x1, y1 = item["box"]
            area = max(1, (x1 - x0) * (y1 - y0))
            hit = covered[max(0, y0) : y1, max(0, x0) : x1].sum() / area >= COVER
            found[item["kind"]][0] += int(hit)
            found[item["kind"]][1] += 1
        bad = sum(
            1
            for b in finding.boxes
            if lines[b.y0 : b.y1, b.x0 : b.x1].sum() / max(1, b.width * b.height) < BOX_TRUE_SHARE
        )
        false_boxes += bad
        if not record["items"]:
            empty_images += 1
            false_on_empty += bad
        kept += len(finding.kept)
        kept_on_text += sum(
            1
            for b in finding.kept
            if lines[b.y0 : b.y1, b.x0 : b.x1].sum() / max(1, b.width * b.height) >= BOX_TRUE_SHARE
        )
    seconds = time.perf_counter() - t0
    hit = sum(v[0] for v in found.values())
    total = sum(v[1] for v in found.values())
    return {
        "line_recall": round(hit / max(1, total), 4),
        "lines": total,
        "printed_recall": round(found["printed"][0] / max(1, found["printed"][1]), 4),
        "handwritten_recall": round(found["handwritten"][0] / max(1, found["handwritten"][1]), 4),
        "false_regions_per_image": round(false_boxes / max(1, len(records)), 3),
        "false_regions_per_text_free_image": round(false_on_empty / max(1, empty_images), 3),
        "kept_non_text": kept,
        "kept_on_true_lines": kept_on_text,
        "seconds_per_image": round(seconds / max(1, len(records)), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--weights", type=Path, default=None)
    args = ap.parse_args()
    records = records_of(args.dataset, args.split)[: args.limit]
    report = {
        "images": len(records),
        "without_check": measure(LearnedFinder(args.weights, confirm=False), args.dataset, records),
        "with_check": measure(LearnedFinder(args.weights), args.dataset, records),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
