"""Fault injection: `kill -9` at random points of a scrub run, several times in a row, then resume.

    python benchmarks/bench_faults.py [--files 40] [--kills 3] [--seed 0] [--workers 1]

Builds `--files` 192 px PNGs with fake PHI (a name at the top, an ID at the bottom),
then runs `medocr scrub IN OUT` in a child process and SIGKILLs it at a random point of its
work, `--kills` times in a row. Each kill is triggered by the journal, not by the clock (model
loading takes from seconds to a minute on a loaded machine, and a kill before any file started
tests nothing): at random either once the journal holds k more finished lines (k in 1..4), or a
random 0-2 s after the run's first new `started` line. A kill that lands before any file
started makes the result `ok: false`. Every run after the first has `--resume --overwrite`, as
an operator would restart it; finally it runs `medocr scrub IN OUT --resume` to the end. The
children get a private, empty TMPDIR. It then checks, and prints as JSON:

- every input is in the report exactly once, and every line says ok;
- every file under OUT (the journal folder and the report aside) is an output the report
  names, and every output the report names exists: nothing unaccounted, no temp or staging file;
- the children's TMPDIR holds no file (no frame or recognised text left behind by Tesseract;
  torch leaves an empty cache folder there, which holds nothing);
- how many files the killed runs had finished (kept, `resumed` in the last run), and per kill
  its trigger, the journal lines it added (`started_lines_added`, `journal_lines_added`).

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


def journal_counts(out: Path) -> tuple[int, int]:
    """(started lines, lines of files cleaned to the end) in OUT's journal so far.

    Lines of resumed files (written without cleaning anything) and skipped entries are not
    counted: a kill triggered by them could land before any file started.
    """
    try:
        lines = (out / STATE / "journal.jsonl").read_text().splitlines()
    except OSError:
        return 0, 0
    started = sum('"status": "started"' in line for line in lines)
    passed = sum('"resumed": true' in line or '"status": "skipped"' in line for line in lines)
    return started, len(lines) - started - passed


def finished_lines(out: Path) -> int:
    """Finished-file lines in OUT's journal so far."""
    return journal_counts(out)[1]


def kill_when(proc: subprocess.Popen, out: Path, trigger: dict[str, float], timeout: float) -> bool:
    """SIGKILL `proc` when `trigger` fires; return False when it ended (or timed out) first.

    `trigger` is `{"finished": k}` (k more finished lines than when it started) or
    `{"after_started_s": d}` (d seconds after its first new `started` line).
    """
    started0, finished0 = journal_counts(out)
    deadline = time.monotonic() + timeout
    first_start: float | None = None
    while proc.poll() is None and time.monotonic() < deadline:
        started, finished = journal_counts(out)
        if "finished" in trigger and finished - finished0 >= trigger["finished"]:
            break
        if "after_started_s" in trigger and started > started0:
            first_start = first_start or time.monotonic()
            if time.monotonic() - first_start >= trigger["after_started_s"]:
                break
        time.sleep(0.01)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


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
        started0, finished0 = journal_counts(out)
        if rng.random() < 0.5:
            trigger = {"finished": float(rng.randint(1, 4))}
        else:
            trigger = {"after_started_s": round(rng.uniform(0.0, 2.0), 2)}
        t_run = time.perf_counter()
        proc = medocr(common + extra, env)
        killed = kill_when(proc, out, trigger, timeout=900)
        started, finished = journal_counts(out)
        kills.append(
            {
                "trigger": trigger,
                "killed": killed,
                "after_s": round(time.perf_counter() - t_run, 2),
                "returncode": proc.returncode,
                "started_lines_added": started - started0,
                "journal_lines_added": finished - finished0,
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
    early = [k for k in kills if k["killed"] and not k["started_lines_added"]]
    result["kills_before_any_file"] = len(early)
    result["ok"] = bool(result["ok"] and last.returncode == 0 and not early)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
