"""Time `scrub` on every file of the `pydicom-data` package, beside the classical path and,
optionally, beside another checkout of medocr (today's release) in the same call.

Usage:
    python benchmarks/bench_real_scans.py [--configs learned classical] [--baseline REPO]
        [--only NAME ...] [--json OUT.json]

Real scans are what a hospital pays for: ultrasound cines (120 frames of 640x480), 1,800-2,000
px radiographs, CT, MR, NM, with burned-in text or without. Each run scrubs a copy of all of
them, one run after the other on the same machine, each in its own process:

    learned     the defaults (learned finder with its confirm step, learned inpainter, verify)
    classical   --find tesseract --method telea: Tesseract over whole frames and OpenCV Telea,
                the plain OCR + inpainting script the issue compares against
    baseline    with --baseline REPO: `learned` with the code and weights of REPO (e.g. a
                `git worktree` of the previous release), so before/after times compare

It prints, per run, the wall time, frames/s, seconds per step summed over files (read,
classify, detect, confirm, inpaint, write, verify, ...), the statuses, and the slowest files
with their steps; then each run's wall time over `learned`'s. With --baseline it also compares
the outputs of `learned` and `baseline` file by file: pixels each changed, and pixels `learned`
changed more than 4 px away from any the baseline changed (new changes, where anatomy is at risk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIGS = {
    "learned": {},
    "classical": {"find": "tesseract", "method": "telea"},
}


def child(config: str, src: Path, out: Path, result: Path) -> None:
    """Run one configuration in this process (the code on PYTHONPATH) and write its figures."""
    sys.path.insert(0, str(Path(__file__).parent))
    from scrub_runs import scrub_folder

    row = scrub_folder(src, out, **CONFIGS[config])
    result.write_text(json.dumps(row))


def run(name: str, config: str, repo: Path, src: Path, work: Path) -> dict:
    """Scrub `src` with `config` using the code of `repo`, in a fresh process."""
    result = work / f"{name}.json"
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_THREAD_LIMIT": "1"}
    if (repo / "weights").is_dir():
        env["MEDOCR_WEIGHTS"] = str(repo / "weights")
    args = [sys.executable, __file__, "--child", config, str(src), str(work / name), str(result)]
    subprocess.run(args, env=env, check=True, cwd=repo)
    return json.loads(result.read_text())


def _output(out: Path, name: str) -> Path | None:
    for place in (out / name, out / "_quarantine" / name):
        if place.exists():
            return place
    return None


def compare(src: Path, new: Path, old: Path) -> dict:
    """Pixels changed by each run's outputs, and by `new` away from any `old` changed."""
    import cv2
    import numpy as np

    from medocr_cli.io import read_scan

    rows, total = {}, {"changed_new": 0, "changed_old": 0, "new_away_from_old": 0}
    for path in sorted(src.iterdir()):
        a, b = _output(new, path.name), _output(old, path.name)
        if a is None or b is None:
            continue
        before, after_new, after_old = read_scan(path), read_scan(a), read_scan(b)
        row = dict.fromkeys(total, 0)
        for i in range(before.n_frames):
            d_new = before.frames[i] != after_new.frames[i]
            d_old = before.frames[i] != after_old.frames[i]
            if d_new.ndim == 3:
                d_new, d_old = d_new.any(axis=2), d_old.any(axis=2)
            near_old = cv2.dilate(d_old.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
            row["changed_new"] += int(d_new.sum())
            row["changed_old"] += int(d_old.sum())
            row["new_away_from_old"] += int((d_new & ~near_old).sum())
        rows[path.name] = row
        for key in total:
            total[key] += row[key]
    return {"total": total, "files": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--baseline", type=Path, help="another checkout to run `learned` with")
    ap.add_argument("--only", nargs="+", help="scrub only these file names")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        config, src, out, result = args.child
        child(config, Path(src), Path(out), Path(result))
        return
    from scrub_runs import copy_pydicom_data

    here = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="bench_real_"))
    src = copy_pydicom_data(work / "in", args.only)
    runs = [(name, name, here) for name in args.configs]
    if args.baseline is not None:
        runs.insert(0, ("baseline", "learned", args.baseline.resolve()))
    report: dict = {"files": len(list(src.iterdir())), "threads": os.cpu_count(), "runs": {}}
    for name, config, repo in runs:
        row = run(name, config, repo, src, work)
        report["runs"][name] = row
        print(name, json.dumps({k: v for k, v in row.items() if k != "rows"}), flush=True)
        for r in sorted(row["rows"], key=lambda r: -r["seconds"])[:5]:
            print(f"  {r['file']}: {r['seconds']} s, {r['frames']} frames, {r['stage_seconds']}")
    if "learned" in report["runs"]:
        base = report["runs"]["learned"]["seconds"]
        report["wall_over_learned"] = {
            name: round(row["seconds"] / base, 2) for name, row in report["runs"].items()
        }
        print("wall time over learned:", json.dumps(report["wall_over_learned"]))
    if {"learned", "baseline"} <= set(report["runs"]):
        report["changes"] = compare(src, work / "learned", work / "baseline")
        print("changes:", json.dumps(report["changes"]["total"]))
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
