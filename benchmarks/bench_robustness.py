"""Run `medocr scrub` on big inputs and measure wall time, peak memory, exit code and statuses.

Usage:
    python benchmarks/bench_robustness.py [--scale small|full] [--work DIR] [--no-verify]
        [--cases multiframe,bigimage,manyfiles,ctrlc] [--max-rss-gb 12] [--timeout 3600]
        [--workers 1]

Issue 7 part 7 (robustness) asks that scrub stays correct and bounded on inputs far larger
than the tests can use. This script builds them in `--work` (default: a new temporary folder,
deleted afterwards; a given folder is kept, and inputs already built there are reused):

    multiframe  one multi-frame DICOM: 8-bit MONOCHROME2, 512 x 512 frames, Explicit VR Little
                Endian; full 4,000 frames (1.05 GB of pixel data), small 200 (52 MB). Every
                frame is different: it carries its own burned-in line ("DOE^JANE 4821937
                F0001", the frame number changes, like a cine loop's time stamp) over the same
                anatomy plus its own noise, so no frame is deduplicated and all are searched.
    bigimage    one grey 8-bit PNG with three lines of text; full 10,000 x 10,000 (100 MP),
                small 5,000 x 5,000 (25 MP).
    manyfiles   a tree of 64 x 64 grey PNGs (folders of 1,000): full 10,000, small 500. Every
                20th has a line of text, every 100th is corrupt (a truncated PNG).
    ctrlc       the manyfiles tree again, with SIGINT sent to the child's process group (what
                Ctrl-C in a terminal does) once its partial report holds 20 lines: the run
                must end with a complete report, no temporary files, and an output for
                exactly the files whose line says ok (`outputs_match_report`).

Each case runs `medocr --quiet scrub IN OUT` (the `medocr` beside `sys.executable`) as a child
process in its own session. Peak memory is the child's `ru_maxrss` from `os.wait4` (the
kernel's high-water mark of its resident set, so nothing between two samples is missed; Tesseract
children count only for their own peak). The script also samples the resident set of the
child's process tree every 0.2 s and kills the tree when it passes `--max-rss-gb`, so a case
that blows memory is reported (`"killed": "memory"`) instead of taking the machine down.

Printed on stdout: one JSON object {"scale", "verify", "machine", "cases": {name: {...}}} with,
per case, the input's size, wall seconds, peak RSS in MB (`peak_rss_mb` from wait4, and the
sampled tree peak `tree_rss_mb`, and its anonymous part `tree_anon_rss_mb`: file pages of
frames mapped from disk count in RSS but are the kernel's to drop), the exit code, the
report's status counts, a few distinct error lines of failed files (the report carries no
text from the images), and the number of temporary (`*.medocr-tmp`) or partial files left
under OUT (must be 0).

Run it niced on a shared machine, e.g.:
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_robustness.py --scale small
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
REPORT_NAME = "medocr-report.jsonl"
SCALES: dict[str, dict[str, int]] = {
    "small": {"frames": 200, "side": 5000, "files": 500},
    "medium": {"frames": 1200, "side": 7000, "files": 2000},
    "full": {"frames": 4000, "side": 10000, "files": 10000},
}
CASES = ("multiframe", "bigimage", "manyfiles", "ctrlc")
#: The `ctrlc` case presses Ctrl-C once the partial report holds this many lines.
CTRLC_AFTER_LINES = 20
FRAME = 512
SAMPLE_SECONDS = 0.2


def _anatomy(size: int, seed: int = 0) -> np.ndarray:
    """A smooth disc on a dark field (uint8), like the body outline of a CT slice."""
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    disc = (xx**2 + yy**2 < 0.16).astype(np.float32) * 110 + 25
    rng = np.random.default_rng(seed)
    return np.clip(disc + rng.normal(0, 4, (size, size)), 0, 255).astype(np.uint8)


def build_multiframe(path: Path, n_frames: int) -> None:
    """Write the multi-frame DICOM: `n_frames` distinct 512 x 512 uint8 frames with text.

    The frames are built in place in one (frames, 512, 512) array (1 GB at full scale) and
    handed to pydicom, which copies them once more into the PixelData bytes while saving.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

    base = _anatomy(FRAME)
    font = ImageFont.truetype(FONT, 18)
    rng = np.random.default_rng(1)
    frames = np.empty((n_frames, FRAME, FRAME), np.uint8)
    for i in range(n_frames):
        img = Image.fromarray(base)
        ImageDraw.Draw(img).text((12, 10), f"DOE^JANE 4821937 F{i:04d}", fill=235, font=font)
        frame = np.asarray(img).astype(np.int16)
        frame[80:] += rng.integers(-3, 4, (FRAME - 80, FRAME), dtype=np.int16)
        frames[i] = np.clip(frame, 0, 255)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "4821937"
    ds.Modality = "US"
    ds.BurnedInAnnotation = "YES"
    ds.set_pixel_data(frames, "MONOCHROME2", 8)
    del frames
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def build_bigimage(path: Path, side: int) -> None:
    """Write a `side` x `side` grey PNG with three PHI lines at the top left (text ~1% high)."""
    img = Image.fromarray(_anatomy(1024)).resize((side, side), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    px = max(18, side // 100)
    font = ImageFont.truetype(FONT, px)
    for n, line in enumerate(("DOE^JANE", "MRN 4821937", "DOB 1957-03-14")):
        draw.text((px, px + n * 2 * px), line, fill=240, font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.MAX_IMAGE_PIXELS = None  # our own image: no decompression-bomb guard while writing
    img.save(path, compress_level=1)


def build_manyfiles(folder: Path, n_files: int) -> None:
    """Write `n_files` 64 x 64 PNGs in folders of 1,000: 1 in 20 with text, 1 in 100 corrupt."""
    font = ImageFont.truetype(FONT, 11)
    rng = np.random.default_rng(2)
    base = _anatomy(64)
    for i in range(n_files):
        path = folder / f"d{i // 1000:02d}" / f"img{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        arr = np.clip(base.astype(np.int16) + rng.integers(-2, 3, base.shape), 0, 255)
        img = Image.fromarray(arr.astype(np.uint8))
        if i % 20 == 0:
            ImageDraw.Draw(img).text((2, 2), f"ID{i:05d}", fill=240, font=font)
        img.save(path)
        if i % 100 == 50:
            path.write_bytes(path.read_bytes()[:60])  # truncated: header, no image data


def build(case: str, work: Path, scale: dict[str, int]) -> tuple[Path, int]:
    """Build (or reuse) the input of `case` under `work`; return its path and size in bytes."""
    root = work / "inputs" / case
    done = root / ".built"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        if case == "multiframe":
            build_multiframe(root / "cine.dcm", scale["frames"])
        elif case == "bigimage":
            build_bigimage(root / "big.png", scale["side"])
        else:
            build_manyfiles(root, scale["files"])
        done.write_text(json.dumps(scale))
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and p != done)
    return root, size


def _tree_rss_kb(pid: int) -> tuple[int, int]:
    """Resident set and its anonymous part (kB) of `pid` and its descendants; 0 when gone.

    The anonymous part (RssAnon) is memory the processes hold themselves. The rest is file
    pages mapped into them, e.g. frames of a large DICOM mapped from disk, which the kernel
    can drop and re-read at any time, so only RssAnon says whether memory is bounded.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        p = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(p)
        rss[p] = (
            int(fields.get("VmRSS", "0 kB").split()[0]),
            int(fields.get("RssAnon", "0 kB").split()[0]),
        )
    total = anon = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, (0, 0))[0]
        anon += rss.get(p, (0, 0))[1]
        todo.extend(children.get(p, []))
    return total, anon


def _default_sigint() -> None:
    """Child setup: give Ctrl-C (SIGINT) back its default action.

    A non-interactive shell starts background jobs with SIGINT ignored, an ignored signal
    stays ignored across exec, and Python then never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(path: Path) -> int:
    """Number of complete lines in `path` (0 when it does not exist)."""
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def run_child(
    command: list[str],
    log: Path,
    max_rss_kb: int,
    timeout: float,
    interrupt_at: tuple[Path, int] | None = None,
) -> dict[str, Any]:
    """Run `command`, return its exit code, seconds, peak RSS (wait4) and sampled tree RSS.

    With `interrupt_at` (report path, n), SIGINT goes to the child's process group once that
    file holds n lines (`interrupted_at_s` in the result says when).
    """
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            command,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
    killed = None
    interrupted = None
    tree_peak = anon_peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        tree, anon = _tree_rss_kb(proc.pid)
        tree_peak, anon_peak = max(tree_peak, tree), max(anon_peak, anon)
        if killed is None and tree_peak > max_rss_kb:
            killed = "memory"
        elif killed is None and time.perf_counter() - t0 > timeout:
            killed = "timeout"
        if killed is not None:
            os.killpg(proc.pid, signal.SIGKILL)
        elif interrupt_at and interrupted is None and _lines(interrupt_at[0]) >= interrupt_at[1]:
            interrupted = round(time.perf_counter() - t0, 1)
            os.killpg(proc.pid, signal.SIGINT)
        time.sleep(SAMPLE_SECONDS)
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "tree_rss_mb": round(tree_peak / 1024),
        "tree_anon_rss_mb": round(anon_peak / 1024),
        "exit_code": proc.returncode,
        "killed": killed,
        "interrupted_at_s": interrupted,
    }


def summarise_output(out: Path) -> dict[str, Any]:
    """Status counts, a few distinct error lines and leftover temporary files of a run."""
    counts: Counter[str] = Counter()
    errors: list[str] = []
    report = out / REPORT_NAME
    lines = report.read_text().splitlines() if report.is_file() else []
    for raw in lines:
        line = json.loads(raw)
        counts[line["status"]] += 1
        error = line.get("error")
        if line["status"] == "failed" and error:
            # Keep the message without the path so equal problems collapse to one line.
            message = error.split(": ", 1)[-1]
            if message not in errors and len(errors) < 3:
                errors.append(message)
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".medocr-tmp", ".partial"))]
    written = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name != REPORT_NAME and p.name not in leftovers
    }
    ok = {
        Path(line["output"]).relative_to(out).as_posix()
        for line in map(json.loads, lines)
        if line["status"] == "ok" and line.get("output")
    }
    return {
        "report": report.is_file(),
        "statuses": dict(counts),
        "errors": errors,
        "leftovers": len(leftovers),
        "outputs_match_report": written == ok,
    }


def medocr_executable() -> Path:
    """The `medocr` console script of the running interpreter's environment."""
    return Path(sys.executable).parent / "medocr"


def run_case(case: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build one case's input, scrub it in a child process and describe the outcome."""
    t0 = time.perf_counter()
    src, size = build("manyfiles" if case == "ctrlc" else case, work, SCALES[args.scale])
    built = time.perf_counter() - t0
    out = work / "outputs" / case
    shutil.rmtree(out, ignore_errors=True)
    command = [str(medocr_executable()), "--quiet", "scrub", str(src), str(out)]
    if not args.verify:
        command.append("--no-verify")
    if args.workers > 1 and case != "ctrlc":
        command += ["--workers", str(args.workers)]
    log = work / f"{case}.log"
    result: dict[str, Any] = {"input_mb": round(size / 2**20, 1), "build_seconds": round(built, 1)}
    interrupt = (out / f".{REPORT_NAME}.partial", CTRLC_AFTER_LINES) if case == "ctrlc" else None
    limit = int(args.max_rss_gb * 2**20)
    result.update(run_child(command, log, limit, args.timeout, interrupt))
    result.update(summarise_output(out))
    if result["exit_code"] not in (0, 1):
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        result["log_tail"] = tail
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--work", type=Path, default=None, help="kept; default: a temp folder")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="kill a case above this")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per case")
    parser.add_argument("--workers", type=int, default=1, help="scrub --workers (not for ctrlc)")
    args = parser.parse_args(argv)
    unknown = set(args.cases.split(",")) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {list(CASES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the chosen cases and print the JSON summary."""
    args = parse_args(argv)
    keep = args.work is not None
    work = args.work if keep else Path(tempfile.mkdtemp(prefix="bench_robustness_"))
    work.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "scale": args.scale,
        "verify": args.verify,
        "workers": args.workers,
        "machine": {
            "cpus": os.cpu_count(),
            "omp_threads": os.environ.get("OMP_NUM_THREADS"),
            "python": platform.python_version(),
        },
        "cases": {},
    }
    try:
        for case in args.cases.split(","):
            summary["cases"][case] = run_case(case, args, work)
            print(f"{case}: {summary['cases'][case]}", file=sys.stderr, flush=True)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
