"""The hard set (issue 23): how many outputs are unsafe, removed or flagged, and what verify costs.

    python benchmarks/bench_hard_set.py [--work DIR] [--flagged quarantine|keep] [--no-verify]

Writes the generated hard set of `tests/_hard_set.py` (low contrast, rotated, a faint line beside
a bright one, tiny text on speckle, blurred, dark on light, one frame of a cine, text a CT window
hides), scrubs it with default options, and prints one JSON object: per case the status, whether
the text is still readable in the output (Tesseract after a contrast stretch of the region, read
upright), whether it was removed (not readable in the output, wherever it is) or only flagged,
how many regions verify repaired, and the verify seconds; then the totals. An unsafe output is in
the tree, reported ok, and still readable: the target is 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _hard_set import is_unsafe, readable_words, write_hard_set

from medocr_cli.io import read_scan
from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--flagged", default="quarantine", choices=("quarantine", "keep"))
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="medocr-hard-"))
    src, out = work / "in", work / "out"
    cases = write_hard_set(src)
    t0 = time.perf_counter()
    run_scrub(
        ScrubConfig(inputs=[src], output=out, flagged=args.flagged, verify=not args.no_verify)
    )
    seconds = time.perf_counter() - t0
    lines = {
        Path(x["path"]).name: x
        for x in map(json.loads, (out / "medocr-report.jsonl").read_text().splitlines())
    }
    rows = {}
    for case in cases:
        line = lines[case.path.name]
        placed = line.get("output") or line.get("quarantined")
        left = readable_words(read_scan(Path(placed)).frames, case) if placed else []
        output = Path(line["output"]) if line.get("output") else None
        rows[case.name] = {
            "status": line["status"],
            "readable_in_input": bool(readable_words(read_scan(case.path).frames, case)),
            "readable_in_output": bool(left),
            "removed": not left,
            "unsafe": is_unsafe(case, line, output),
            "repaired_regions": line.get("repaired", 0),
            "verify_s": line.get("stage_seconds", {}).get("verify"),
        }
    result = {
        "cases": rows,
        "unsafe": sum(r["unsafe"] for r in rows.values()),
        "removed": sum(r["removed"] for r in rows.values()),
        "flagged": sum(r["status"] == "flagged" for r in rows.values()),
        "total": len(rows),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(result, indent=2))
    return 0 if result["unsafe"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
