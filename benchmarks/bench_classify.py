"""Classifier throughput: images/s at the shipped input size, on CPU and on GPU when present.

Usage: python benchmarks/bench_classify.py [--weights DIR] [--images DIR] [--batch-size 32]
       [--count 256] [--threads 2]

Times two things per device: the network alone on prepared batches (forward pass), and the whole
`Classifier.predict` path from 512x512 uint8 frames (resize + forward), which is what `classify`
and `scrub` pay. Frames come from --images (PNG files, e.g. a generated dataset's images/) or
are random 512x512 grey frames.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from medocr_cli.models.classifier.predictor import Classifier


def load_frames(folder: Path | None, count: int) -> list[np.ndarray]:
    """Return `count` display frames: PNGs from `folder` (cycled) or random grey 512x512."""
    if folder is None:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (512, 512), dtype=np.uint8) for _ in range(count)]
    import cv2

    files = sorted(folder.glob("*.png"))[:count]
    frames = []
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image)
    return [frames[i % len(frames)] for i in range(count)]


def bench(device: str, frames: list[np.ndarray], weights: Path | None, batch: int) -> dict:
    """Time forward-only and end-to-end classification on `device`."""
    classifier = Classifier.from_weights_dir(weights, device)
    prepared = [classifier.prepare(f) for f in frames]
    classifier.predict_prepared(prepared[:batch])  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(prepared), batch):
        classifier.predict_prepared(prepared[i : i + batch])
    forward = time.perf_counter() - start
    start = time.perf_counter()
    classifier.predict(frames, batch_size=batch)
    end_to_end = time.perf_counter() - start
    return {
        "device": device,
        "input_size": classifier.size,
        "batch_size": batch,
        "images": len(frames),
        "forward_images_per_s": round(len(frames) / forward, 1),
        "end_to_end_images_per_s": round(len(frames) / end_to_end, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--images", type=Path, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    frames = load_frames(args.images, args.count)
    results = [bench("cpu", frames, args.weights, args.batch_size)]
    if torch.cuda.is_available():
        results.append(bench("cuda", frames * 4, args.weights, args.batch_size))
    for row in results:
        row["threads"] = args.threads
        print(json.dumps(row))


if __name__ == "__main__":
    main()
