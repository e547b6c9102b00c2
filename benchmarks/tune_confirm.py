"""Choose the text / non-text check's thresholds by what they do to whole lines, not regions.

    python benchmarks/tune_confirm.py CONFIRM.pt DATASET:SPLIT [DATASET:SPLIT ...]
        [--text-thresholds 0 0.01 ...] [--none-thresholds 0.1 0.3 ...] [--weights DIR]
        [--write OUT.pt:TEXT_T,NONE_T]

The check has two thresholds: one for frames the classifier calls text (P(None) < 0.5), one
for frames it calls None, where a proposal is much more likely to be anatomy. For every image
the detector's regions (of `--weights`) are scored once by the check and read once by Tesseract
the way the finder's rescue reads doubted regions (`read_regions`); then for each pair the
regions the finder would remove are those at or above the frame's threshold plus those
Tesseract confirms. Per pair it prints the line recall (a true line counts as found when the
removed boxes cover at least 90% of its box: the detector card's rule) next to the recall with
every region removed, and the regions removed that lie off every true line, per image. On the
real text-free scans of `bench_precision_real.TEXT_FREE` (never trained on) it counts the
regions each pair would still remove. `--write` stores a chosen pair in a copy of the
checkpoint, with this report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from medocr_cli.models.confirm.data import line_mask
from medocr_cli.models.confirm.predictor import Confirmer
from medocr_cli.models.detector.predictor import Detector
from medocr_cli.pipeline.find_text import centre_inside, read_regions
from medocr_cli.training.manifest import read_dataset_image, records_of

COVER = 0.9


def _frames_of(spec: str) -> tuple[Path, str]:
    root, _, split = spec.partition(":")
    return Path(root), split or "val"


def _frame_rows(detector, confirmer, classifier, frame):
    """(boxes, check scores, Tesseract-confirmed flags, frame called text) of one frame."""
    boxes = detector.detect([frame])[0]
    called_text = classifier.predict([frame])[0].probs.get("None", 0.0) < 0.5
    if not boxes:
        return boxes, np.zeros(0), np.zeros(0, bool), called_text
    scores = confirmer.score(frame, boxes)
    words = read_regions(frame, 0, boxes)
    rescued = np.array([any(centre_inside(w, b) for w in words) for b in boxes], bool)
    return boxes, scores, rescued, called_text


def _removed(scores, rescued, called_text, pair):
    """Which regions a (text-frame, None-frame) threshold pair removes (None: all)."""
    if pair is None:
        return np.ones(len(scores), bool)
    t = pair[0] if called_text else pair[1]
    return (scores >= t) | rescued


def sweep(detector, confirmer, classifier, root: Path, split: str, pairs) -> dict[str, object]:
    """Line recall and off-line regions per threshold pair on one split."""
    keys = [None, *pairs]
    found = np.zeros(len(keys))
    off_line = np.zeros(len(keys))
    lines = 0
    records = records_of(root, split)
    for record in records:
        image = read_dataset_image(root / record["image"])
        boxes, scores, rescued, called_text = _frame_rows(detector, confirmer, classifier, image)
        shape = image.shape[:2]
        truth = line_mask(record["items"], shape)
        for k, pair in enumerate(keys):
            keep = _removed(scores, rescued, called_text, pair)
            covered = np.zeros(shape, bool)
            for b, removed in zip(boxes, keep, strict=True):
                if removed:
                    covered[b.y0 : b.y1, b.x0 : b.x1] = True
                    share = truth[b.y0 : b.y1, b.x0 : b.x1].mean() if b.width * b.height else 0
                    off_line[k] += share < 0.25
            for item in record["items"]:
                x0, y0, x1, y1 = item["box"]
                area = max(1, (x1 - x0) * (y1 - y0))
                found[k] += covered[max(0, y0) : y1, max(0, x0) : x1].sum() / area >= COVER
        lines += len(record["items"])
    name = [str(p) for p in pairs]
    return {
        "images": len(records),
        "lines": lines,
        "recall_without_check": round(float(found[0] / max(1, lines)), 4),
        "recall": {n: round(float(found[k + 1] / max(1, lines)), 4) for k, n in enumerate(name)},
        "off_line_regions_per_image_without_check": round(float(off_line[0] / len(records)), 3),
        "off_line_regions_per_image": {
            n: round(float(off_line[k + 1] / len(records)), 3) for k, n in enumerate(name)
        },
    }


def real_scans(detector, confirmer, classifier, pairs) -> dict:
    """Regions each threshold pair still removes on the held-out text-free real scans."""
    from bench_precision_real import TEXT_FREE, source

    from medocr_cli.io import read_scan

    counts = np.zeros(len(pairs) + 1, int)
    for name in TEXT_FREE:
        scan = read_scan(source(name))
        for i in range(scan.n_frames):
            frame = scan.display(i)
            boxes, scores, rescued, called_text = _frame_rows(
                detector, confirmer, classifier, frame
            )
            counts[0] += len(boxes)
            for k, pair in enumerate(pairs):
                counts[k + 1] += int(_removed(scores, rescued, called_text, pair).sum())
    return {
        "regions_without_check": int(counts[0]),
        "regions_removed": {str(p): int(counts[k + 1]) for k, p in enumerate(pairs)},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("splits", nargs="+")
    ap.add_argument("--text-thresholds", type=float, nargs="+", default=[0.0, 0.01, 0.02, 0.05])
    ap.add_argument("--none-thresholds", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    ap.add_argument("--weights", type=Path, default=None, help="folder of detector.pt")
    ap.add_argument("--write", type=str, default=None, help="OUT.pt:TEXT_T,NONE_T")
    args = ap.parse_args()
    from medocr_cli.models.classifier.predictor import Classifier

    detector = Detector.from_weights_dir(args.weights)
    classifier = Classifier.from_weights_dir(args.weights)
    confirmer = Confirmer(args.checkpoint)
    pairs = [(a, b) for a in args.text_thresholds for b in args.none_thresholds if b >= a]
    report: dict[str, object] = {}
    for spec in args.splits:
        root, split = _frames_of(spec)
        report[spec] = sweep(detector, confirmer, classifier, root, split, pairs)
    report["real_text_free"] = real_scans(detector, confirmer, classifier, pairs)
    print(json.dumps(report, indent=2))
    if args.write is not None:
        from medocr_cli.io.checkpoints import load_checkpoint, save_checkpoint

        out, _, values = args.write.partition(":")
        text_t, none_t = (float(v) for v in values.split(","))
        checkpoint = load_checkpoint(args.checkpoint)
        checkpoint["spec"]["threshold"] = text_t
        checkpoint["spec"]["threshold_none"] = none_t
        checkpoint["metrics"]["threshold_tuning"] = report
        save_checkpoint(Path(out), checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
