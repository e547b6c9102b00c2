"""Scrub every file of the `pydicom-data` package and check each output against its input.

Usage: python benchmarks/scrub_pydicom_data.py [WORKDIR]

Copies the package's files into WORKDIR/in, runs `run_scrub` into WORKDIR/out, then checks every
output: it opens in pydicom without force, has the input's rows, columns and frames,
BurnedInAnnotation NO, and every pixel that changed lies inside the mask that the printed-text
stage produces for that frame (recomputed here; Tesseract is deterministic). Prints a JSON summary.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import data_store
import pydicom

from medocr_cli.io import read_scan
from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub
from medocr_cli.stages.inpaint import boxes_to_mask
from medocr_cli.stages.printed import read_printed
from medocr_cli.types import Status


def main() -> None:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="medocr-pdd-"))
    src, out = work / "in", work / "out"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(Path(data_store.__file__).parent / "data", src)
    t0 = time.perf_counter()
    summary = run_scrub(ScrubConfig(inputs=[src], output=out, overwrite=True))
    seconds = time.perf_counter() - t0
    problems: list[str] = []
    frames_total = 0
    for r in summary.results:
        if r.status != Status.OK:
            continue
        name = Path(r.path).name
        before, after = read_scan(Path(r.path)), read_scan(Path(r.output))
        ds = pydicom.dcmread(r.output)
        frames_total += before.n_frames
        if (after.n_frames, after.height, after.width) != (
            before.n_frames,
            before.height,
            before.width,
        ):
            problems.append(f"{name}: geometry changed")
        if ds.BurnedInAnnotation != "NO":
            problems.append(f"{name}: BurnedInAnnotation not NO")
        for i in range(before.n_frames):
            changed = before.frames[i] != after.frames[i]
            if changed.ndim == 3:
                changed = changed.any(axis=2)
            if not changed.any():
                continue
            mask = boxes_to_mask(read_printed(before.display(i), i), (before.height, before.width))
            if changed[mask == 0].any():
                problems.append(f"{name}: frame {i} changed outside the mask")
    images = [r for r in summary.results if r.status != Status.SKIPPED]
    report = {
        "files": len(summary.results),
        "counts": dict(summary.counts),
        "frames_cleaned": frames_total,
        "boxes": sum(r.boxes for r in images),
        "seconds": round(seconds, 1),
        "seconds_per_image": round(seconds / max(1, len(images)), 2),
        "failed": {
            Path(r.path).name: r.error for r in summary.results if r.status == Status.FAILED
        },
        "problems": problems,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
