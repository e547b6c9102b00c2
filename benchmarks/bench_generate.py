"""Time `generate-dataset` and check that the same seed gives identical files.

Usage: python benchmarks/bench_generate.py [--count 4500] [--size 512] [--workers 0] [--out DIR]

Prints images/s and seconds for the full run, then regenerates the first 64 images with the same
seed into a second folder and compares every file byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

from medocr_cli.pipeline.generate_dataset import GenerateConfig, run_generate_dataset


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by path relative to it."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=4500)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="medocr-bench-gen-"))
    out = args.out or root / "full"
    t0 = time.perf_counter()
    summary = run_generate_dataset(
        GenerateConfig(
            out=out,
            count=args.count,
            seed=args.seed,
            size=args.size,
            workers=args.workers,
            overwrite=True,
        )
    )
    seconds = time.perf_counter() - t0
    a, b = root / "a", root / "b"
    for target in (a, b):
        run_generate_dataset(
            GenerateConfig(
                out=target, count=64, seed=args.seed, size=args.size, workers=args.workers
            )
        )
    identical = digest(a) == digest(b)
    print(
        json.dumps(
            {
                "count": args.count,
                "size": args.size,
                "seconds": round(seconds, 1),
                "images_per_s": round(args.count / seconds, 2),
                "labels": summary["labels"],
                "splits": summary["splits"],
                "same_seed_identical_files": identical,
                "out": str(out),
            },
            indent=2,
        )
    )
    shutil.rmtree(a)
    shutil.rmtree(b)


if __name__ == "__main__":
    main()
