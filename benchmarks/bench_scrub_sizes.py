"""Output size of real `medocr scrub` runs on compressed DICOM test files (issue 27).

Usage: python benchmarks/bench_scrub_sizes.py [NAME ...] [--json]

`bench_output_syntax.py` writes every compressed test file with no pixel changed. This one runs
the whole scrub (default options: find, confirm, remove, verify) on the named files (default:
the nine lossy inputs of pydicom's test files and pydicom-data, found in their local folders)
and prints, per file, its input and output transfer syntax, the output / input size ratio and
how many stored values the cleaning changed. A file with no value changed keeps its own encoded
frames (`io/dicom_passthrough.py`); a changed one is written losslessly, which for a lossy input
can be more than twice its size. The network is used (shipped weights).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pydicom
from bench_output_syntax import test_files
from scrub_runs import scrub_folder

from medocr_cli.io import read_scan
from medocr_cli.io.dicom_read import syntax_name

LOSSY = (
    "MR2_J2KI.dcm",
    "RG1_J2KI.dcm",
    "RG3_J2KI.dcm",
    "US1_J2KI.dcm",
    "JPEG2000.dcm",
    "JPGExtended.dcm",
    "SC_jpeg_no_color_transform_2.dcm",
    "SC_rgb_jpeg_app14_dcmd.dcm",
    "examples_ybr_color.dcm",
)


def _syntax(path: Path) -> str:
    return syntax_name(pydicom.dcmread(path, stop_before_pixels=True))


def measure(names: list[str], work: Path) -> list[dict]:
    """Scrub the named files in one run and return one row per file."""
    src = work / "in"
    src.mkdir(parents=True)
    local = {p.name: p for p in test_files()}
    for name in names:
        shutil.copy(local[name], src / name)
    figures = scrub_folder(src, work / "out")
    rows = []
    for line in figures["rows"]:
        name = line["file"]
        out = work / "out" / name
        row = {"file": name, "status": line["status"], "seconds": line["seconds"]}
        if not out.is_file():
            rows.append(row)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            before, after = read_scan(src / name), read_scan(out)
        a, b = np.asarray(before.frames), np.asarray(after.frames)
        changed = a != b
        row.update(
            syntax_in=_syntax(src / name),
            syntax_out=_syntax(out),
            ratio=round(out.stat().st_size / (src / name).stat().st_size, 2),
            changed_values=int(changed.sum()),
            changed_pct=round(100.0 * float(changed.mean()), 3),
        )
        rows.append(row)
    return rows


def main() -> int:
    """Run the benchmark and print its table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=list(LOSSY))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="medocr-bench-sizes-") as tmp:
        rows = measure(args.names, Path(tmp))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        if "ratio" not in r:
            print(f"{r['file']}: {r['status']} (no output)")
            continue
        print(
            f"{r['file']}: {r['status']}, {r['syntax_in']} -> {r['syntax_out']}, "
            f"{r['ratio']:.2f}x, {r['changed_values']} values changed ({r['changed_pct']}%), "
            f"{r['seconds']} s"
        )
    over = [r for r in rows if r.get("ratio", 0) > 2.0]
    print(f"over 2x: {len(over)} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
