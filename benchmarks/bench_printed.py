"""Time the printed extractor (Tesseract, `stages.printed.read_printed`) by image size.

Usage: python benchmarks/bench_printed.py DATASET [--split test] [--count 8]
       [--sizes 256,512,1024]

Takes the first `count` images with printed text of a split, resizes each to every size and
times `read_printed` with the default settings (three renderings, padding, 2x upscaling below
1100 px, OMP_THREAD_LIMIT=1). Tesseract runs one process per call, so this is single-core work:
on 2 cores two files can be read side by side (`scrub --workers 2`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2

from medocr_cli.io import read_scan
from medocr_cli.stages.printed import read_printed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--sizes", default="256,512,1024")
    args = ap.parse_args()
    records = [json.loads(x) for x in (args.dataset / "manifest.jsonl").read_text().splitlines()]
    chosen = [r for r in records if r["split"] == args.split and "P" in r["label"]][: args.count]
    frames = [read_scan(args.dataset / r["image"]).display(0) for r in chosen]
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        resized = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames]
        read_printed(resized[0])  # warm-up
        t0 = time.perf_counter()
        words = sum(len(read_printed(f)) for f in resized)
        seconds = (time.perf_counter() - t0) / len(resized)
        rows.append(
            {
                "size": size,
                "seconds_per_image": round(seconds, 3),
                "images_per_s": round(1 / seconds, 2),
                "words_per_image": round(words / len(resized), 1),
            }
        )
    print(
        json.dumps(
            {"images": len(frames), "extractor": "printed (Tesseract)", "rows": rows}, indent=2
        )
    )


if __name__ == "__main__":
    main()
