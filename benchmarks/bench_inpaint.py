"""Seconds per 512x512 image for each inpainting method (learned, telea, ns), CPU and GPU.

Usage:
    python benchmarks/bench_inpaint.py [--weights DIR_OR_PT] [--threads 2] [--repeat 10]
        [--size 512] [--json]

The image is a grey 512x512 8-bit frame with text-like holes (about 3% of the pixels, lines of
printed-size strokes dilated, the way scrub masks look) and a colour copy of it. Every method
runs through `stages.inpaint.inpaint_stored`, the function scrub and inpaint call. Without
weights the learned method is timed on an untrained model of the default architecture (the
time does not depend on the weights). CPU runs use `--threads` torch threads; the GPU is timed
when CUDA is present (synchronised, after a warm-up).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch

from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.inpainter.predictor import LearnedInpainter
from medocr_cli.models.inpainter.spec import inpainter_spec
from medocr_cli.models.registry import build
from medocr_cli.stages.inpaint import inpaint_stored


def test_image(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth noisy grey frame and a mask of a few dilated text lines."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = 90 + 80 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.08)
    image = np.clip(base + rng.normal(0, 6, (size, size)), 0, 255).astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    for k in range(6):
        y = int(size * (0.05 + 0.15 * k))
        cv2.putText(mask, "PATIENT 0123456 DOE^JOHN", (8, y + 14), 0, 0.5, 255, 1)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    return image, mask


def seconds(fn, repeat: int, sync: bool = False) -> float:
    """Median seconds of `fn()` over `repeat` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="inpainter.pt or a folder holding it")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    weights = args.weights
    if weights is None:
        import tempfile

        weights = Path(tempfile.mkdtemp()) / "inpainter.pt"
        spec = inpainter_spec()
        save_checkpoint(weights, pack(build(spec), spec))
    elif weights.is_dir():
        weights = weights / "inpainter.pt"
    grey, mask = test_image(args.size)
    colour = np.stack([grey, np.roll(grey, 7, 0), np.roll(grey, 7, 1)], axis=2)
    ct = (grey.astype(np.int16) * 8 - 1024).astype(np.int16)
    frames = {"grey8": (grey, (0, 255)), "rgb8": (colour, (0, 255)), "ct16": (ct, (-2048, 2047))}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        learned = LearnedInpainter(weights, device)
        for kind, (frame, value_range) in frames.items():
            for method in ("learned", "telea", "ns"):
                if method != "learned" and device != "cpu":
                    continue
                run = partial(
                    inpaint_stored,
                    frame,
                    mask,
                    value_range=value_range,
                    method=method,
                    inpainter=learned,
                )
                s = seconds(run, args.repeat, sync=device == "cuda")
                rows.append(
                    {
                        "method": method,
                        "device": device,
                        "threads": args.threads if device == "cpu" else None,
                        "frame": kind,
                        "size": args.size,
                        "hole_fraction": round(float((mask > 0).mean()), 4),
                        "seconds_per_image": round(s, 4),
                    }
                )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'method':8} {'device':6} {'frame':6} {'s/image':>8}")
    for r in rows:
        print(f"{r['method']:8} {r['device']:6} {r['frame']:6} {r['seconds_per_image']:8.4f}")
    print(f"hole: {rows[0]['hole_fraction']:.1%} of a {args.size}x{args.size} image")


if __name__ == "__main__":
    main()
