"""Measure `scrub`: residual text, pixels changed outside text, throughput and time per stage.

Usage:
    python benchmarks/bench_scrub.py DATASET [--split test] [--limit 120] [--configs ...]
        [--workers 1] [--device cpu|cuda|auto] [--cine-frames 48] [--json OUT.json]

Takes the first `limit` images of a split of a generated dataset (fonts of the test split are
never trained on), copies them to a temporary folder and scrubs it once per configuration:

    learned          --find learned --tesseract off (the default), learned inpainter if shipped
    learned-telea    the same with --method telea
    learned-noverify the same as learned with --no-verify
    learned-regions  --find learned --tesseract regions
    classical        --find tesseract --method telea (the first scrub)
    baseline         learned, with the weights of --baseline-weights DIR (before/after runs)

For each it reports:
- residual: Tesseract reads each true text line in the input and in the output (psm 7, both
  polarities, upscaled, as `eval_dataset.py` does; read = character accuracy >= 0.8); the share
  of lines readable in the input that are still readable in the output (target <= 1%);
- changed_outside: the share of pixels outside the text regions (line boxes grown by a quarter
  of their height, as the mask grows them) whose value changed (target <= 0.5%);
- images/s over the whole run (verify included) and the seconds per stage summed over images;
- a cine loop: one DICOM of `cine-frames` distinct 512x512 frames with text, frames/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from eval_dataset import char_accuracy, ocr_line

from medocr_cli.config import resolve_device
from medocr_cli.io import read_scan
from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub

CONFIGS = {
    "learned": {"find": "learned", "tesseract": "off"},
    "learned-telea": {"find": "learned", "tesseract": "off", "method": "telea"},
    "learned-noverify": {"find": "learned", "tesseract": "off", "verify": False},
    "learned-regions": {"find": "learned", "tesseract": "regions"},
    "classical": {"find": "tesseract", "method": "telea"},
}


def grown_regions(items: list[dict], shape: tuple[int, int]) -> np.ndarray:
    """Union of the true line boxes, each grown by a quarter of its height (>= 2 px)."""
    region = np.zeros(shape, bool)
    for item in items:
        x0, y0, x1, y1 = item["box"]
        g = max(2, round(0.25 * (y1 - y0)))
        region[max(0, y0 - g) : y1 + g, max(0, x0 - g) : x1 + g] = True
    return region


def readable(image: np.ndarray, item: dict) -> bool:
    """Whether Tesseract reads the line `item` in `image` (accuracy >= 0.8, best polarity)."""
    x0, y0, x1, y1 = item["box"]
    crop = image[max(0, y0 - 1) : y1 + 1, max(0, x0 - 1) : x1 + 1]
    return max(char_accuracy(item["text"], t) for t in ocr_line(crop)) >= 0.8


def make_cine(records: list[dict], data: Path, target: Path, frames: int) -> None:
    """Write a multi-frame 8-bit DICOM of `frames` distinct dataset images (same size)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

    images = []
    for r in records:
        image = read_scan(data / r["image"]).display(0)
        grey = image if image.ndim == 2 else image.mean(axis=2).astype(np.uint8)
        if r["label"] != "None" and grey.shape == (512, 512):
            images.append(grey)
        if len(images) == frames:
            break
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.PatientName = "BENCH^CINE"
    ds.Rows, ds.Columns = 512, 512
    ds.NumberOfFrames = len(images)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.stack(images).tobytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target, enforce_file_format=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=120)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--device", default="cpu", choices=["auto", "cpu", "cuda"], help="where the models run"
    )
    ap.add_argument("--cine-frames", type=int, default=48)
    ap.add_argument("--no-quality", action="store_true", help="skip the residual-text reading")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--baseline-weights",
        type=Path,
        help="also run 'baseline': the learned config with the weights in this folder (e.g. "
        "the previous release's), in the same run, so times compare",
    )
    args = ap.parse_args()
    if args.baseline_weights is not None:
        CONFIGS["baseline"] = {**CONFIGS["learned"], "weights": args.baseline_weights}
        args.configs = ["baseline", *args.configs]
    device = resolve_device(args.device)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    records = [json.loads(x) for x in (args.dataset / "manifest.jsonl").read_text().splitlines()]
    records = [r for r in records if r["split"] == args.split]
    chosen = records[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="bench_scrub_"))
    src = work / "in"
    src.mkdir()
    for r in chosen:
        shutil.copy(args.dataset / r["image"], src / Path(r["image"]).name)
    cine_src = work / "cine"
    make_cine(records, args.dataset, cine_src / "cine.dcm", args.cine_frames)

    inputs = {r["id"]: read_scan(src / Path(r["image"]).name).display(0) for r in chosen}
    readable_in: dict[tuple[str, int], bool] = {}
    if not args.no_quality:
        for r in chosen:
            for k, item in enumerate(r["items"]):
                readable_in[(r["id"], k)] = readable(inputs[r["id"]], item)
    report: dict = {
        "dataset": str(args.dataset),
        "split": args.split,
        "images": len(chosen),
        "lines": sum(len(r["items"]) for r in chosen),
        "lines_readable_in_input": sum(readable_in.values()),
        "workers": args.workers,
        "threads": os.cpu_count(),
        "device": device,
        "configs": {},
    }
    for name in args.configs:
        out = work / f"out-{name}"
        config = ScrubConfig(
            inputs=[src], output=out, workers=args.workers, device=device, **CONFIGS[name]
        )
        t0 = time.perf_counter()
        summary = run_scrub(config)
        seconds = time.perf_counter() - t0
        stages: dict[str, float] = {}
        for res in summary.results:
            for key, value in (res.stage_seconds or {}).items():
                stages[key] = stages.get(key, 0.0) + value
        row: dict = {
            "seconds": round(seconds, 2),
            "images_per_s": round(len(chosen) / seconds, 2),
            "stage_seconds_per_image": {
                k: round(v / len(chosen), 4) for k, v in sorted(stages.items())
            },
            "status": dict(summary.counts),
            "boxes": sum(r.boxes for r in summary.results),
            "fallback_frames": sum(int(r.fallback_frames or 0) for r in summary.results),
        }
        residual = changed = outside = 0
        for r in chosen:
            file_name = Path(r["image"]).name
            placed = out / file_name
            if not placed.exists():
                placed = out / "_quarantine" / file_name
            output = read_scan(placed).display(0)  # a flagged output is judged too
            image = inputs[r["id"]]
            region = grown_regions(r["items"], image.shape[:2])
            diff = output != image
            diff = diff.any(axis=-1) if diff.ndim == 3 else diff
            changed += int((diff & ~region).sum())
            outside += int((~region).sum())
            if not args.no_quality:
                for k, item in enumerate(r["items"]):
                    if readable_in[(r["id"], k)] and readable(output, item):
                        residual += 1
        row["changed_outside_pct"] = round(100.0 * changed / max(1, outside), 4)
        if not args.no_quality:
            row["residual_lines"] = residual
            row["residual_pct"] = round(100.0 * residual / max(1, sum(readable_in.values())), 3)
        cine_out = work / f"cine-{name}"
        t0 = time.perf_counter()
        cine = run_scrub(
            ScrubConfig(
                inputs=[cine_src], output=cine_out, workers=1, device=device, **CONFIGS[name]
            )
        )
        cine_seconds = time.perf_counter() - t0
        frames = sum(r.frames for r in cine.results)
        row["cine"] = {
            "frames": frames,
            "seconds": round(cine_seconds, 2),
            "frames_per_s": round(frames / cine_seconds, 2),
            "status": dict(cine.counts),
        }
        report["configs"][name] = row
        print(name, json.dumps(row), flush=True)
    if "classical" in report["configs"]:
        base = report["configs"]["classical"]["images_per_s"]
        for row in report["configs"].values():
            row["speed_vs_classical"] = round(row["images_per_s"] / base, 2)
    shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
