"""Files/s of `scrub` plain, on `--cluster local:1` and on `--cluster local:2`, in one run.

    python benchmarks/bench_cluster.py [--files 40] [--size 256] [--out /tmp/bench-cluster]
        [--configs plain local:1 local:2] [--no-verify]

Generates `--files` grey PNGs of `--size` px with fake PHI (three lines at the top left, as the
tests draw them), then cleans the same inputs once per configuration, each into a fresh OUT,
one after the other, each in a fresh Python process (`run_scrub`, as `medocr scrub` runs it).
For each it prints the whole run's wall time and files/s (interpreter start aside; cluster
start-up, model loading on every worker and shutdown included: what an operator waits for)
and the steady rate between the first and the last file reported (start-up excluded), and
checks that every configuration wrote byte-identical outputs. JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _phi_images import write_png

from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub
from medocr_cli.types import FileResult


class Clock:
    """A `Progress` that notes when each file is reported."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def start(self, total: int) -> None:
        """Nothing to do at the start."""

    def advance(self, result: FileResult) -> None:
        """Note the time of each result."""
        self.times.append(time.perf_counter())


def measure(src: Path, out: Path, cluster: str | None, verify: bool) -> dict:
    if out.exists():
        shutil.rmtree(out)
    clock = Clock()
    t0 = time.perf_counter()
    summary = run_scrub(
        ScrubConfig(inputs=[src], output=out, cluster=cluster, verify=verify), clock
    )
    seconds = time.perf_counter() - t0
    n = len(summary.results)
    steady = (n - 1) / (clock.times[-1] - clock.times[0]) if n > 1 else float("nan")
    return {
        "config": cluster or "plain",
        "files": n,
        "ok": summary.counts["ok"],
        "seconds": round(seconds, 2),
        "files_per_s": round(n / seconds, 3),
        "first_result_s": round(clock.times[0] - t0, 2),
        "steady_files_per_s": round(steady, 3),
    }


def measure_in_child(src: Path, out: Path, name: str, verify: bool) -> dict:
    """`measure` in a fresh interpreter (nothing loaded, no environment left by a run)."""
    command = [sys.executable, __file__, "--one", name, "--src", str(src), "--out", str(out)]
    done = subprocess.run(
        [*command, *([] if verify else ["--no-verify"])],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child: measure one configuration
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-cluster"))
    parser.add_argument("--configs", nargs="+", default=["plain", "local:1", "local:2"])
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()
    if args.one:
        cluster = None if args.one == "plain" else args.one
        print(json.dumps(measure(args.src, args.out, cluster, not args.no_verify)))
        return 0
    src = args.out / "in"
    if src.exists():
        shutil.rmtree(src)
    for i in range(args.files):
        write_png(src / f"d{i % 4}" / f"img{i:03d}.png", size=args.size, seed=i)
    rows = []
    for name in args.configs:
        out = args.out / name.replace(":", "-")
        rows.append(measure_in_child(src, out, name, not args.no_verify))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    first = args.out / args.configs[0].replace(":", "-")
    identical = all(
        (args.out / n.replace(":", "-") / p.relative_to(src)).read_bytes()
        == (first / p.relative_to(src)).read_bytes()
        for n in args.configs[1:]
        for p in src.rglob("*.png")
    )
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "images": f"{args.files} PNGs of {args.size} px",
                "verify": not args.no_verify,
                "runs": rows,
                "outputs_identical": identical,
            },
            indent=2,
        )
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
