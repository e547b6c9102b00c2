"""Measure the printed extractor's line recall and CER, with and without each of its measures.

Usage: python benchmarks/eval_printed.py DATASET [--split test] [--limit 120] [--json OUT]
       [--max-minutes M]

`medocr_cli.stages.printed.read_printed` adds three measures to plain Tesseract. This script
reads the first `limit` images of a split that hold printed text with five `PrintedConfig`
settings, so that the gain of each measure is visible:

- "full": the default `PrintedConfig()`.
- "no_polarity": `variants=("grey",)`. "Both polarities" in that code means Tesseract also gets
  renderings in which light-on-dark text has become dark-on-light: "inverted" (255 - grey) and
  "tophat_white" (the bright text isolated by a white top-hat, then inverted). "grey" is the
  image as shown, the only rendering plain Tesseract sees, so keeping it alone removes exactly
  the polarity measure (both light-text renderings) and nothing else: padding, upscaling, blur
  and the plausibility filter stay as in "full".
- "no_padding": `pad=0`.
- "no_upscale": `upscale_below=0` (no frame is upscaled).
- "plain": the three measures off together (`variants=("grey",)`, `pad=0`, `upscale_below=0`).
  Blur, page segmentation mode 11 and the plausibility filter stay: they are not the measures
  under test, and without the filter Tesseract's readings of anatomy would swamp the figures.

Figures, on the printed lines of the manifest (items of kind "printed"):

- line recall: a true line counts found when the union of the returned word boxes covers at
  least 50% of the line box's area (also given at 90%);
- CER: the line's reading (words whose box centre lies inside the line box, in left-to-right
  order, joined with spaces) against the true text, summed edit distance over summed length
  (a missed line reads "" and counts fully). `read_printed` returns the words of every
  rendering, so one word is often there two or three times; the pipeline's merge stage keeps
  one reading per region, and so does this script before joining (a word whose box has IoU
  above 0.5 with, or 80% of its area inside, a better-scored kept word is dropped);
- stray words per image: words whose centre lies in no true text box (printed or handwritten,
  grown by 2 px), what a measure costs in false positives;
- seconds per image of `read_printed` for the setting.

Lines are split by polarity (light-on-dark when the mean grey of the text mask inside the box
is above the mean grey of a 4 px ring around the box, mask pixels excluded), by edge (box within
8 px of the image border) and by size (small: box height below 14 px), so that each measure's
gain shows where it should: polarity on light-on-dark lines, padding on edge lines, upscaling on
small lines. Recognised text is never printed or written; the JSON holds figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from medocr_cli.io import read_scan
from medocr_cli.stages.printed import PrintedConfig, read_printed
from medocr_cli.training.manifest import records_of
from medocr_cli.training.metrics import character_error_rate
from medocr_cli.types import Box

SETTINGS: dict[str, PrintedConfig] = {
    "full": PrintedConfig(),
    "no_polarity": PrintedConfig(variants=("grey",)),
    "no_padding": PrintedConfig(pad=0),
    "no_upscale": PrintedConfig(upscale_below=0),
    "plain": PrintedConfig(variants=("grey",), pad=0, upscale_below=0),
}

#: Line groups reported, each a predicate on a line's flags.
GROUPS: dict[str, Any] = {
    "all": lambda f: True,
    "light_on_dark": lambda f: f["polarity"] == "light_on_dark",
    "dark_on_light": lambda f: f["polarity"] == "dark_on_light",
    "edge": lambda f: f["edge"],
    "not_edge": lambda f: not f["edge"],
    "small": lambda f: f["small"],
    "not_small": lambda f: not f["small"],
}

EDGE_PX = 8
SMALL_PX = 14
RING_PX = 4
COVER_LEVELS = (0.5, 0.9)


def line_polarity(grey: np.ndarray, mask: np.ndarray, box: list[int]) -> str:
    """Return "light_on_dark", "dark_on_light" or "unknown" for one line.

    Compares the mean grey of the text pixels inside the box with that of the non-text pixels
    of a ring around it; "unknown" when either is empty.
    """
    h, w = grey.shape
    x0, y0, x1, y1 = box
    text = mask[y0:y1, x0:x1]
    if not text.any():
        return "unknown"
    text_mean = float(grey[y0:y1, x0:x1][text].mean())
    ring = np.zeros((h, w), bool)
    ring[max(0, y0 - RING_PX) : y1 + RING_PX, max(0, x0 - RING_PX) : x1 + RING_PX] = True
    ring[y0:y1, x0:x1] = False
    ring &= ~mask
    if not ring.any():
        return "unknown"
    return "light_on_dark" if text_mean > float(grey[ring].mean()) else "dark_on_light"


def covered_share(words: list[Box], box: list[int], shape: tuple[int, int]) -> float:
    """Return the share of the box's area covered by the union of the word boxes."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return 0.0
    covered = np.zeros(shape, bool)
    for b in words:
        covered[b.y0 : b.y1, b.x0 : b.x1] = True
    return float(covered[y0:y1, x0:x1].mean())


def _same_region(a: Box, b: Box) -> bool:
    """Whether two boxes are one region as the merge stage sees it (IoU > 0.5 or 80% inside)."""
    iw = min(a.x1, b.x1) - max(a.x0, b.x0)
    ih = min(a.y1, b.y1) - max(a.y0, b.y0)
    if iw <= 0 or ih <= 0:
        return False
    inter = iw * ih
    area_a = (a.x1 - a.x0) * (a.y1 - a.y0)
    area_b = (b.x1 - b.x0) * (b.y1 - b.y0)
    return inter / (area_a + area_b - inter) > 0.5 or inter >= 0.8 * min(area_a, area_b)


def line_reading(words: list[Box], box: list[int]) -> str:
    """Return the words centred inside the box, de-duplicated, left to right, space-joined."""
    x0, y0, x1, y1 = box
    inside = [b for b in words if x0 <= (b.x0 + b.x1) / 2 < x1 and y0 <= (b.y0 + b.y1) / 2 < y1]
    kept: list[Box] = []
    for b in sorted(inside, key=lambda b: (-b.score, b.x0, b.y0)):
        if not any(_same_region(b, k) for k in kept):
            kept.append(b)
    return " ".join(b.text for b in sorted(kept, key=lambda b: (b.x0, b.y0)))


def stray_words(words: list[Box], boxes: list[list[int]]) -> int:
    """Count words whose centre lies in no true text box grown by 2 px."""
    n = 0
    for b in words:
        cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
        if not any(x0 - 2 <= cx <= x1 + 2 and y0 - 2 <= cy <= y1 + 2 for x0, y0, x1, y1 in boxes):
            n += 1
    return n


def _clip(box: list[int], shape: tuple[int, int]) -> list[int]:
    h, w = shape
    x0, y0, x1, y1 = (int(v) for v in box)
    return [max(0, x0), max(0, y0), min(w, x1), min(h, y1)]


def summarise(lines: list[dict[str, Any]], setting: str) -> dict[str, dict[str, Any]]:
    """Return recall at each cover level and CER per line group for one setting."""
    out: dict[str, dict[str, Any]] = {}
    for group, wanted in GROUPS.items():
        chosen = [ln for ln in lines if wanted(ln)]
        row: dict[str, Any] = {"n": len(chosen)}
        for level in COVER_LEVELS:
            found = sum(ln["cover"][setting] >= level for ln in chosen)
            row[f"recall@{int(level * 100)}"] = found / len(chosen) if chosen else None
        row["cer"] = (
            character_error_rate(
                [ln["truth"] for ln in chosen], [ln["read"][setting] for ln in chosen]
            )
            if chosen
            else None
        )
        out[group] = row
    return out


def _child_cpu() -> float:
    """CPU seconds used so far by finished child processes (the Tesseract runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def evaluate(dataset: Path, split: str, limit: int, max_minutes: float = 0.0) -> dict[str, Any]:
    """Run every setting on the first `limit` images of `split` with printed text.

    With `max_minutes`, stops after the image during which that much wall time has passed
    (the result then says so and covers the images done).
    """
    records = [
        r for r in records_of(dataset, split) if any(i["kind"] == "printed" for i in r["items"])
    ]
    if limit:
        records = records[:limit]
    lines: list[dict[str, Any]] = []
    seconds = dict.fromkeys(SETTINGS, 0.0)
    cpu = dict.fromkeys(SETTINGS, 0.0)
    done = 0
    strays = dict.fromkeys(SETTINGS, 0)
    started = time.perf_counter()
    for n, record in enumerate(records, 1):
        image = read_scan(dataset / record["image"]).display(0)
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        shape = grey.shape[:2]
        mask = np.asarray(Image.open(dataset / record["mask"]))
        mask = (mask.max(axis=-1) if mask.ndim == 3 else mask) > 127
        all_boxes = [_clip(i["box"], shape) for i in record["items"]]
        words: dict[str, list[Box]] = {}
        for name, config in SETTINGS.items():
            t0, c0 = time.perf_counter(), _child_cpu() + time.process_time()
            words[name] = read_printed(image, 0, config)
            seconds[name] += time.perf_counter() - t0
            cpu[name] += _child_cpu() + time.process_time() - c0
            strays[name] += stray_words(words[name], all_boxes)
        for item in record["items"]:
            if item["kind"] != "printed":
                continue
            box = _clip(item["box"], shape)
            h, w = shape
            lines.append(
                {
                    "id": record["id"],
                    "box": box,
                    "polarity": line_polarity(grey, mask, box),
                    "edge": box[0] < EDGE_PX
                    or box[1] < EDGE_PX
                    or box[2] > w - EDGE_PX
                    or box[3] > h - EDGE_PX,
                    "small": box[3] - box[1] < SMALL_PX,
                    "truth": " ".join(item["text"].split()),
                    "cover": {s: covered_share(words[s], box, shape) for s in SETTINGS},
                    "read": {s: line_reading(words[s], box) for s in SETTINGS},
                }
            )
        elapsed = time.perf_counter() - started
        print(
            f"[{n}/{len(records)}] {record['id']} {elapsed / n:.1f} s/image",
            file=sys.stderr,
            flush=True,
        )
        done = n
        if max_minutes and elapsed > 60 * max_minutes:
            break
    n_images = done
    result: dict[str, Any] = {
        "dataset": str(dataset),
        "split": split,
        "limit": limit,
        "n_images": n_images,
        "stopped_early": n_images < len(records),
        "n_lines": len(lines),
        "edge_px": EDGE_PX,
        "small_px": SMALL_PX,
        "settings": {},
    }
    for name, config in SETTINGS.items():
        result["settings"][name] = {
            "config": asdict(config),
            "seconds_per_image": seconds[name] / n_images if n_images else None,
            "cpu_seconds_per_image": cpu[name] / n_images if n_images else None,
            "stray_words_per_image": strays[name] / n_images if n_images else None,
            "groups": summarise(lines, name),
        }
    # Per-line figures without any text (truth or reading): patient-like text stays out.
    result["lines"] = [
        {
            "id": ln["id"],
            "box": ln["box"],
            "polarity": ln["polarity"],
            "edge": ln["edge"],
            "small": ln["small"],
            "length": len(ln["truth"]),
            "cover": {s: round(v, 4) for s, v in ln["cover"].items()},
        }
        for ln in lines
    ]
    return result


def format_table(result: dict[str, Any]) -> str:
    """Return the compact table: a column per setting, a row per line group and figure."""
    names = list(result["settings"])
    settings = result["settings"]
    rows = ["group (lines)          figure    " + "".join(f"{n:>12}" for n in names)]
    for g in GROUPS:
        n = settings[names[0]]["groups"][g]["n"]
        if not n:
            continue
        for key in ("recall@50", "recall@90", "cer"):
            label = f"{g} ({n})" if key == "recall@50" else ""
            cells = "".join(f"{settings[s]['groups'][g][key]:12.3f}" for s in names)
            rows.append(f"{label:<23}{key:<10}{cells}")
    for key, label in (
        ("seconds_per_image", "s/image"),
        ("cpu_seconds_per_image", "cpu s/img"),
        ("stray_words_per_image", "stray/image"),
    ):
        rows.append(f"{'':<23}{label:<10}" + "".join(f"{settings[s][key]:12.2f}" for s in names))
    return "\n".join(rows)


def main() -> None:
    """Parse the arguments, evaluate, print the table and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=120, help="images with printed text (0: all)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument(
        "--max-minutes", type=float, default=0.0, help="stop after this much wall time (0: never)"
    )
    args = ap.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    result = evaluate(args.dataset, args.split, args.limit, args.max_minutes)
    result["command"] = " ".join(sys.argv)
    print(f"{result['n_images']} images, {result['n_lines']} printed lines")
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
