"""Text detector throughput: images/s at 256, 512 and 1024 px, on CPU and on GPU when present.

Usage: python benchmarks/bench_detect.py [--weights FILE] [--images DIR] [--sizes 256,512,1024]
       [--count 32] [--batch-size 1] [--threads 2]

For each size it times two things: the network alone on a prepared batch (forward pass), and
the whole `Detector.detect` path from uint8 frames (input conversion, padding, forward,
thresholding, components, unclip), which is what `extract` and `scrub` pay. It also prints the
network's multiply-adds per image, so the growth with size (about 4x per doubling) can be
told apart from cache effects. Frames are --images PNGs (a generated dataset's images/, resized
to each size) or random grey frames. Without --weights an untrained detector of the default spec
is timed (same cost; the post-processing then finds no boxes, so it is a lower bound there).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.detector.network import forward_frames, to_input
from medocr_cli.models.detector.predictor import Detector
from medocr_cli.models.detector.spec import detector_spec
from medocr_cli.models.registry import build


def load_frames(folder: Path | None, count: int, size: int) -> list[np.ndarray]:
    """Return `count` uint8 frames of `size` x `size`: PNGs from `folder` or random grey."""
    import cv2

    if folder is None:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (size, size), dtype=np.uint8) for _ in range(count)]
    frames = []
    for path in sorted(folder.glob("*.png"))[:count]:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image.ndim == 3:
            image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)
        frames.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR))
    return [frames[i % len(frames)] for i in range(count)]


def macs(model: nn.Module, size: int) -> float:
    """Return the network's multiply-adds (millions) for one size x size frame."""
    total = [0]

    def hook(module: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        k = module.kernel_size[0] * module.kernel_size[1]
        total[0] += output.numel() * module.in_channels // module.groups * k

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    device = next(model.parameters()).device
    with torch.inference_mode():
        model(torch.zeros(1, 2, size, size, device=device))
    for h in hooks:
        h.remove()
    return total[0] / 1e6


def bench(detector: Detector, frames: list[np.ndarray], batch: int, repeats: int) -> dict:
    """Time forward-only and end-to-end detection of `frames` (best of `repeats`)."""
    device = str(detector.device)
    prepared = [to_input(f) for f in frames]

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    forward_frames(detector.model, detector.spec, prepared[:batch], detector.device)  # warm-up
    best_forward = best_total = float("inf")
    boxes = 0
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for i in range(0, len(prepared), batch):
            forward_frames(detector.model, detector.spec, prepared[i : i + batch], detector.device)
        sync()
        best_forward = min(best_forward, time.perf_counter() - start)
        start = time.perf_counter()
        found = detector.detect(frames, batch_size=batch)
        sync()
        best_total = min(best_total, time.perf_counter() - start)
        boxes = sum(len(b) for b in found)
    n = len(frames)
    return {
        "device": device,
        "size": frames[0].shape[0],
        "batch_size": batch,
        "images": n,
        "mmac_per_image": round(macs(detector.model, frames[0].shape[0]), 1),
        "forward_ms_per_image": round(1000 * best_forward / n, 1),
        "end_to_end_ms_per_image": round(1000 * best_total / n, 1),
        "end_to_end_images_per_s": round(n / best_total, 1),
        "boxes_found": boxes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, default=None, help="a detector.pt (default: untrained)")
    ap.add_argument("--images", type=Path, default=None)
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    weights = args.weights
    if weights is None:
        spec = detector_spec()
        weights = Path(tempfile.mkdtemp(prefix="medocr-bench-det-")) / "detector.pt"
        save_checkpoint(weights, pack(build(spec), spec))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        detector = Detector(weights, device)
        for size in (int(s) for s in args.sizes.split(",")):
            frames = load_frames(args.images, args.count, size)
            count = args.count if device == "cpu" else 4 * args.count
            frames = [frames[i % len(frames)] for i in range(count)]
            batch = args.batch_size if device == "cpu" else max(8, args.batch_size)
            row = bench(detector, frames, batch, args.repeats)
            row["threads"] = args.threads
            row["weights"] = str(args.weights) if args.weights else "untrained default spec"
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
