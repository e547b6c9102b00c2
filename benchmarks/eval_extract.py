"""End-to-end handwriting reading of `medocr extract --stage handwritten` on a dataset split.

Usage: python benchmarks/eval_extract.py DATASET [--split test] [--limit 200] [--weights DIR]
       [--threads 1]

The recognizer's model card measures reading on the generator's line crops; this measures what
a user of `extract` gets: the detector finds the lines, each is read from its tight box. Every
true handwritten line of the first `--limit` images that hold handwriting is matched to the
reported box with the highest IoU that covers at least half of it; its reading is scored
against the true text (an unmatched line counts as read empty, all deleted). A detected line
that joins a true line with its neighbour (one box over "43%" and "CT 21/2/07") scores the
extra characters as errors, so this is a strict figure. Prints one JSON object with error
figures only, never the text read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import torch

from medocr_cli.models.recognizer.training import exact_rate
from medocr_cli.pipeline.extract import ExtractConfig, extract_frames, load_models
from medocr_cli.stages.merge import box_iou
from medocr_cli.training.metrics import character_error_rate
from medocr_cli.types import Box, box_coverage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--beam-width", type=int, default=None, help="recognizer beam (1: greedy; default 8)"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    records = [json.loads(line) for line in (args.dataset / "manifest.jsonl").open()]
    records = [
        r
        for r in records
        if r["split"] == args.split and any(i["kind"] == "handwritten" for i in r["items"])
    ][: args.limit]
    models = load_models("handwritten", args.weights, "cpu", args.beam_width)
    config = ExtractConfig(stage="handwritten")
    truths, reads, unmatched = [], [], 0
    started = time.perf_counter()
    for record in records:
        image = cv2.imread(str(args.dataset / record["image"]), cv2.IMREAD_COLOR)
        frame = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxes = extract_frames([frame], [0], models, config)
        for item in record["items"]:
            if item["kind"] != "handwritten":
                continue
            truth = Box(0, *item["box"])
            scored = [(box_iou(truth, b), b.text) for b in boxes if box_coverage(truth, b) >= 0.5]
            text = max(scored)[1] if scored else ""
            unmatched += not scored
            truths.append(item["text"])
            reads.append(text)
    seconds = time.perf_counter() - started
    report = {
        "dataset": str(args.dataset),
        "split": args.split,
        "images": len(records),
        "handwritten_lines": len(truths),
        "cer_handwritten": round(character_error_rate(truths, reads), 4),
        "exact_handwritten": round(exact_rate(truths, reads), 4),
        "unmatched_lines": unmatched,
        "seconds_per_image": round(seconds / max(1, len(records)), 3),
        "threads": args.threads,
        "beam_width": models.recognizer.beam_width,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
