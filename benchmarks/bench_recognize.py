"""Time the recognizer: lines per second by crop width, on CPU and (when present) on GPU.

Usage: python benchmarks/bench_recognize.py [--weights DIR_OR_FILE] [--threads 2]
       [--lines 256] [--batch-size 32] [--widths 64,128,256,512] [--data DATASET --split test]

Crops are grey lines 32 px high of the given widths (random content: the network's cost does not
depend on what the line says), or, with `--data`, the real line crops of a dataset split, read
exactly as the extract stage reads them (prepare + batched, width-bucketed read). Without
`--weights` an untrained model of the default architecture is timed, which costs the same.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.recognizer.predictor import Recognizer
from medocr_cli.models.recognizer.spec import recognizer_spec
from medocr_cli.models.registry import build


def load_reader(weights: Path | None, device: str) -> Recognizer:
    if weights is None:
        folder = Path(tempfile.mkdtemp(prefix="medocr-bench-rec-"))
        spec = recognizer_spec()
        save_checkpoint(folder / "recognizer.pt", pack(build(spec), spec))
        return Recognizer(folder / "recognizer.pt", device)
    path = weights / "recognizer.pt" if weights.is_dir() else weights
    return Recognizer(path, device)


def timed(reader: Recognizer, crops: list[np.ndarray], batch: int, repeat: int) -> dict:
    reader.read(crops[: min(len(crops), batch)], batch)  # warm-up
    if reader.device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        reader.read(crops, batch)
        if reader.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return {
        "lines": len(crops),
        "seconds": round(best, 3),
        "lines_per_s": round(len(crops) / best, 1),
    }


def dataset_crops(data: Path, split: str, limit: int) -> list[np.ndarray]:
    import cv2

    from medocr_cli.training.manifest import records_of

    crops = []
    for record in records_of(data, split):
        for item in record.get("items", []):
            if item.get("kind") == "handwritten" and len(crops) < limit:
                crops.append(cv2.imread(str(data / item["crop"]), cv2.IMREAD_GRAYSCALE))
    return crops


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lines", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--widths", default="64,128,256,512")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    result: dict = {"threads": args.threads, "batch_size": args.batch_size, "devices": {}}
    for device in devices:
        reader = load_reader(args.weights, device)
        rows: dict = {}
        for width in (int(w) for w in args.widths.split(",")):
            crops = [rng.integers(0, 256, (32, width), dtype=np.uint8) for _ in range(args.lines)]
            rows[f"width_{width}"] = timed(reader, crops, args.batch_size, args.repeat)
        if args.data is not None:
            crops = dataset_crops(args.data, args.split, args.lines)
            rows["dataset_handwritten"] = timed(reader, crops, args.batch_size, args.repeat)
            start = time.perf_counter()
            for crop in crops:
                reader.prepare(crop)
            rows["prepare_ms_per_line"] = round(
                (time.perf_counter() - start) / max(1, len(crops)) * 1000, 3
            )
        result["devices"][device] = rows
    result["torch"] = torch.__version__
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
