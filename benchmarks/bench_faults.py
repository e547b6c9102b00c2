"""Fault injection: `kill -9` at random points of a scrub run, several times in a row, then resume.

    python benchmarks/bench_faults.py [--files 40] [--kills 3] [--seed 0] [--workers 1]

Builds `--files` 192 px PNGs with fake PHI (a name at the top, an ID at the bottom),
then runs `medocr scrub IN OUT` in a child process and SIGKILLs it at a random moment, `--kills`
times in a row (every run after the first with `--resume --overwrite`, as an operator would
restart it), and finally runs `medocr scrub IN OUT --resume` to the end. The children get a
private, empty TMPDIR. It then checks, and prints as JSON:

- every input is in the report exactly once, and every line says ok;
- every file under OUT (the journal folder and the report aside) is an output the report
  names, and every output the report names exists: nothing unaccounted, no temp or staging file;
- the children's TMPDIR holds no file (no frame or recognised text left behind by Tesseract;
  torch leaves an empty cache folder there, which holds nothing);
- how many files the killed runs had finished (kept, `resumed` in the last run).

Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
REPORT = "medocr-report.jsonl"
STATE = ".medocr"


def build_inputs(folder: Path, n_files: int, seed: int) -> None:
    """Write `n_files` grey PNGs with a name and an ID burned in."""
    rng = np.random.default_rng(seed)
    font = ImageFont.truetype(FONT, 14)
    yy, xx = np.mgrid[:192, :192] / 192 - 0.5
    disc = ((xx**2 + yy**2) < 0.15) * 110 + 20
    for i in range(n_files):
        arr = np.clip(disc + rng.normal(0, 4, disc.shape), 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
        draw = ImageDraw.Draw(img)
        draw.text((6, 6), f"DOE^JANE {i:03d}", fill=235, font=font)
        draw.text((6, 170), f"MRN {4821900 + i}", fill=225, font=font)
        path = folder / f"d{i % 3}" / f"img{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)


def medocr(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start `medocr --quiet scrub ARGS` in a child process."""
    code = "from medocr_cli.cli.app import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--quiet", "scrub", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finished_lines(out: Path) -> int:
    """Finished-file lines in OUT's journal so far."""
    try:
        text = (out / STATE / "journal.jsonl").read_text()
    except OSError:
        return 0
    return sum('"status": "started"' not in line for line in text.splitlines())


def check(src: Path, out: Path, tmp: Path) -> dict[str, object]:
    """The invariants after the final run, as a JSON-ready dict (`ok` says whether all hold)."""
    lines = [json.loads(x) for x in (out / REPORT).read_text().splitlines()]
    inputs = sorted(str(p) for p in src.rglob("*.png"))
    reported = sorted(x["path"] for x in lines)
    named = {Path(x[k]) for x in lines for k in ("output", "quarantined") if x.get(k)}
    files = {
        p
        for p in out.rglob("*")
        if p.is_file() and p.relative_to(out).parts[0] not in (STATE, REPORT)
    }
    # Files only: torch makes an empty `torchinductor_<user>` cache folder there on import.
    leftovers = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if not p.is_dir())
    result = {
        "inputs": len(inputs),
        "report_lines": len(lines),
        "each_input_once": reported == inputs,
        "all_ok": all(x["status"] == "ok" for x in lines),
        "resumed": sum(bool(x.get("resumed")) for x in lines),
        "unaccounted_files": sorted(str(p.relative_to(out)) for p in files - named),
        "missing_outputs": sorted(str(p) for p in named - files),
        "tmpdir_leftovers": leftovers,
    }
    result["ok"] = bool(
        result["each_input_once"]
        and result["all_ok"]
        and not result["unaccounted_files"]
        and not result["missing_outputs"]
        and not leftovers
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="medocr-faults-"))
    src, out, tmp = work / "in", work / "out", work / "tmp"
    for path in (src, out, tmp):
        shutil.rmtree(path, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    build_inputs(src, args.files, args.seed)
    env = {**os.environ, "TMPDIR": str(tmp)}
    common = [str(src), str(out), "--workers", str(args.workers)]
    rng = random.Random(args.seed)
    kills = []
    t0 = time.perf_counter()
    for n in range(args.kills):
        extra = [] if n == 0 else ["--resume", "--overwrite"]
        before = finished_lines(out)
        proc = medocr(common + extra, env)
        delay = rng.uniform(4.0, 14.0)  # model loading takes a few seconds: kill after it
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        kills.append(
            {
                "after_s": round(delay, 2),
                "returncode": proc.returncode,
                "journal_lines_added": finished_lines(out) - before,
            }
        )
    last = medocr([*common, "--resume"], env)
    _, err = last.communicate()
    result = check(src, out, tmp)
    result.update(
        kills=kills,
        final_returncode=last.returncode,
        final_stderr=err.decode(errors="replace").strip()[-500:],
        seconds=round(time.perf_counter() - t0, 1),
        work=str(work),
    )
    result["ok"] = bool(result["ok"] and last.returncode == 0)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
