"""Sweep the detector's box post-processing on val splits, to choose it by measurement.

Usage: python benchmarks/tune_detector.py WEIGHTS DATA:SPLIT [DATA:SPLIT ...]

The network runs once per image; every combination of core threshold, minimum line score,
margin and text threshold is then applied to the same maps and scored like `medocr train
detector --evaluate-only` (line recall at 90% cover, box precision, false boxes per empty image,
handwritten recall, dark-on-light recall). Rows are printed best mean recall first, one group
of five figures per split. Choose on val splits, report on test.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import torch

from medocr_cli.io.checkpoints import load_checkpoint
from medocr_cli.models.checkpoint import unpack
from medocr_cli.models.detector.boxes import boxes_from_map
from medocr_cli.models.detector.data import load_split
from medocr_cli.models.detector.evaluate import report_of
from medocr_cli.models.detector.network import forward_frames

GRID = {
    "threshold": [0.2, 0.25, 0.3],
    "min_score": [0.25, 0.35, 0.5],
    "margin": [0.2, 0.25, 0.3],
    "text_threshold": [0.2, 0.3],
}


def main() -> None:
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(Path(sys.argv[1]))
    spec = checkpoint["spec"]
    model = unpack(checkpoint, source=sys.argv[1]).eval()
    rows: dict[tuple, list[tuple[float, ...]]] = {}
    for arg in sys.argv[2:]:
        data, split = arg.rsplit(":", 1)
        lines = load_split(Path(data), split)
        maps = []
        for start in range(0, len(lines), 8):
            idx = range(start, min(len(lines), start + 8))
            maps += forward_frames(model, spec, [lines.frame(i) for i in idx], "cpu")
        for values in itertools.product(*GRID.values()):
            trial = dict(spec, **dict(zip(GRID, values, strict=True)))
            predicted = [
                boxes_from_map(
                    m[0], trial, (int(lines.shapes[i][0]), int(lines.shapes[i][1])), m[1]
                )
                for i, m in enumerate(maps)
            ]
            r = report_of(lines, predicted)
            rows.setdefault(values, []).append(
                (
                    r["line_recall"],
                    r["box_precision"],
                    r["fp_boxes_per_empty_image"],
                    r["handwritten_recall"],
                    r["dark_on_light_recall"],
                )
            )
        print(f"{arg}: maps done", file=sys.stderr, flush=True)
    print("(" + ", ".join(GRID) + ")  recall precision fp/empty handwritten dark-on-light")
    for values, figures in sorted(rows.items(), key=lambda kv: -np.mean([f[0] for f in kv[1]])):
        print(values, " | ".join(" ".join(f"{x:.4f}" for x in f) for f in figures))


if __name__ == "__main__":
    main()
