"""Output size and encoding time of every compressed DICOM test file, per `--output-syntax`.

Usage: python benchmarks/bench_output_syntax.py [--modes keep,rle,jpeg-ls,jpeg2000]
       [--no-patched] [--json]

Takes every file of pydicom's bundled `test_files` and of `pydicom-data` whose transfer syntax
is compressed (encapsulated or deflated) and that medocr can decode, and writes it (through
`read_scan` -> `write_scan`, with the cleaning marks but no text removed) once per mode
into a temporary folder. For each it prints the input size, the output size and ratio, the
syntax written, the seconds `write_scan` took, and whether the output decodes to exactly the
frames read (lossless). The target is output <= 2x input for every compressed input under
`keep`; the files that miss it are listed at the end. The network is never used.

With no pixel changed, `keep` writes a compressed input's own encoded frames (no re-encoding).
The last column, "patched", writes each file once more with the first mode after a 16x16
patch of frame 0 was set to 0, as a cleaning would: the path that encodes every frame
losslessly, with its own "over 2x" list and seconds at the end (`--no-patched` skips it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data

from medocr_cli.errors import MedocrError
from medocr_cli.io import read_scan, write_scan

TARGET_RATIO = 2.0
_NOT_DICOM = {".txt", ".json", ".dump", ".gz", ".icc"}


def test_files() -> list[Path]:
    """Every DICOM file of pydicom's test files and of pydicom-data, by name, sorted."""
    folders = [Path(pydicom.data.__file__).parent / "test_files"]
    try:
        import data_store

        folders.append(Path(data_store.__file__).parent / "data")
    except ImportError:
        pass
    return sorted(
        p
        for folder in folders
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() not in _NOT_DICOM and not p.name.startswith("README")
    )


def compressed_syntax(path: Path) -> str | None:
    """The file's transfer syntax (its keyword) when it is compressed, else None."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        syntax = ds.file_meta.TransferSyntaxUID
    except Exception:
        return None
    if syntax.is_transfer_syntax and (syntax.is_encapsulated or syntax.is_deflated):
        return str(syntax.keyword)
    return None


def measure(path: Path, mode: str, out: Path, *, patched: bool = False) -> dict:
    """Write `path` with `mode`; its size, syntax, seconds and whether it is lossless.

    With `patched`, a 16x16 patch of frame 0 is set to 0 first (1 where it already is 0), so
    that a frame changed and `keep` cannot keep the input's encoded frames.
    """
    scan = read_scan(path)
    if patched:
        frame = scan.frames[0].copy()
        frame[:16, :16] = 0 if frame[:16, :16].any() else 1
        scan.set_frame(0, frame)
    frames = np.array(scan.frames, copy=True)
    t0 = time.perf_counter()
    write_scan(scan, out, output_syntax=mode)
    seconds = time.perf_counter() - t0
    ds = pydicom.dcmread(out, stop_before_pixels=True)
    lossless = bool(np.array_equal(read_scan(out).frames, frames))
    return {
        "bytes": out.stat().st_size,
        "syntax": str(ds.file_meta.TransferSyntaxUID.keyword),
        "photometric": str(ds.PhotometricInterpretation),
        "seconds": round(seconds, 3),
        "lossless": lossless,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="keep,rle,jpeg-ls,jpeg2000")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument(
        "--patched",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write each file with frame 0 patched (the re-encoding path), first mode",
    )
    args = parser.parse_args()
    modes = args.modes.split(",")
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    rows, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="medocr-syntax-") as tmp:
        for path in test_files():
            source = compressed_syntax(path)
            if source is None:
                continue
            row = {"file": path.name, "input": source, "in_bytes": path.stat().st_size}
            try:
                for mode in modes:
                    row[mode] = measure(path, mode, Path(tmp) / f"{mode}.dcm")
                if args.patched:
                    out = Path(tmp) / "patched.dcm"
                    row["patched"] = measure(path, modes[0], out, patched=True)
            except MedocrError as exc:
                skipped.append(f"{path.name}: {exc.one_line().split(': ', 1)[-1]}")
                continue
            rows.append(row)
            if not args.json:
                _print_row(row, modes)
    if args.json:
        json.dump({"rows": rows, "not_decodable": skipped}, sys.stdout, indent=1)
        return
    first = modes[0]
    misses = [r for r in rows if r[first]["bytes"] > TARGET_RATIO * r["in_bytes"]]
    columns = [*modes, "patched"] if args.patched else modes
    lossy = [f"{r['file']} ({m})" for r in rows for m in columns if not r[m]["lossless"]]
    print(f"\n{len(rows)} files; not decodable: {len(skipped)}")
    for line in skipped:
        print(f"  {line}")
    print(f"not lossless: {lossy or 'none'}")
    print(f"over {TARGET_RATIO:g}x the input with {first}: {len(misses)}")
    for r in misses:
        print(f"  {r['file']} ({r['input']}): {r[first]['bytes'] / r['in_bytes']:.2f}x")
    total = sum(r[first]["seconds"] for r in rows)
    print(f"{first}: {total:.1f} s writing in all")
    if args.patched:
        _print_patched(rows, first)


def _print_patched(rows: list[dict], first: str) -> None:
    """The summary of the "patched" column: frame 0 changed, so every frame encoded again."""
    misses = [r for r in rows if r["patched"]["bytes"] > TARGET_RATIO * r["in_bytes"]]
    print(f"over {TARGET_RATIO:g}x the input with {first}, frame 0 patched: {len(misses)}")
    for r in misses:
        print(f"  {r['file']} ({r['input']}): {r['patched']['bytes'] / r['in_bytes']:.2f}x")
    total = sum(r["patched"]["seconds"] for r in rows)
    print(f"{first}, frame 0 patched: {total:.1f} s writing in all")


def _print_row(row: dict, modes: list[str]) -> None:
    cells = [f"{row['file'][:34]:34}", f"{row['input']:30}", f"{row['in_bytes']:>9}"]
    for mode in [*modes, "patched"] if "patched" in row else modes:
        m = row[mode]
        label = f"{modes[0]}, frame 0 patched" if mode == "patched" else mode
        cells.append(
            f"{label}: {m['bytes']:>9} {m['bytes'] / row['in_bytes']:5.2f}x {m['syntax']:30} "
            f"{m['seconds']:6.2f}s{'' if m['lossless'] else ' LOSSY!'}"
        )
    print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
