"""Measure verify: its cost per image and how many files it flags, on generated and real scans.

Usage:
    python benchmarks/bench_verify.py DATASET [--split test] [--limit 120] [--pydicom-data]
        [--json OUT.json]

Three sets, each scrubbed once with default options (learned finder, verify on, quarantine):

    text      the first `limit` images with text of a split of a generated dataset;
    clean     the clean twins of the same images (the dataset's `clean/` folder: no text at all),
              where any flag is a false alarm (target: none);
    pydicom   with --pydicom-data, every file of the `pydicom-data` package (real CT, MR, CR, NM,
              ultrasound cines; some with burned-in text), listed file by file.

For each set it prints the files, frames, the share flagged, verify seconds per image and per
frame (summed `stage_seconds.verify` of the report lines), and the whole run's seconds per image.
Flag reasons are counted by their kind only; no recognised text is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from scrub_runs import copy_pydicom_data, scrub_folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=120)
    ap.add_argument("--pydicom-data", action="store_true", help="also every pydicom-data file")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    records = [json.loads(x) for x in (args.dataset / "manifest.jsonl").read_text().splitlines()]
    chosen = [r for r in records if r["split"] == args.split and r["items"]][: args.limit]
    work = Path(tempfile.mkdtemp(prefix="bench_verify_"))
    sets: dict[str, Path] = {"text": work / "text", "clean": work / "clean"}
    for folder in sets.values():
        folder.mkdir()
    for r in chosen:
        shutil.copy(args.dataset / r["image"], sets["text"] / Path(r["image"]).name)
        shutil.copy(args.dataset / r["clean"], sets["clean"] / Path(r["clean"]).name)
    if args.pydicom_data:
        sets["pydicom"] = copy_pydicom_data(work / "pydicom")
    report: dict = {"dataset": str(args.dataset), "split": args.split, "sets": {}}
    for name, src in sets.items():
        row = scrub_folder(src, work / f"out-{name}")
        verify = row["stage_seconds"].get("verify", 0.0)
        row["verify_s_per_image"] = round(verify / max(1, row["files"]), 3)
        row["verify_s_per_frame"] = round(verify / max(1, row["frames"]), 4)
        if name != "pydicom":
            row = {k: v for k, v in row.items() if k != "rows"} | {
                "flagged_files": [x["file"] for x in row["rows"] if x["status"] == "flagged"]
            }
        report["sets"][name] = row
        print(name, json.dumps({k: v for k, v in row.items() if k != "rows"}), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
