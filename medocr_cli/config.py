"""Settings shared across commands: device choice, weights location, Tesseract threads."""

from __future__ import annotations

import os
from pathlib import Path

from medocr_cli.errors import UsageError
from medocr_cli.types import Device

DEVICES = tuple(d.value for d in Device)


def tesseract_env() -> None:
    """Make Tesseract single-threaded unless the user chose otherwise.

    On small machines Tesseract's OpenMP threads fight each other: one thread per call is 3-4x
    faster per call than the default, and parallelism comes from running files side by side.

    Set in-process, where only the Tesseract subprocesses read it: torch's OpenMP runtime reads
    the variable once, when torch is imported, and a limit of 1 there can hang oneDNN kernels
    that were planned for more threads. So it must never be exported to the whole process from
    outside (the Makefile used to, and a detector training step hung under `make test`).
    """
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def resolve_device(name: str) -> str:
    """Turn `auto|cpu|cuda` into the torch device string to use.

    Imports torch lazily, so that commands which never touch a model stay fast.
    """
    if name not in DEVICES:
        raise UsageError(f"unknown device {name!r}", hint="use one of auto, cpu, cuda")
    if name == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if name == "cuda":
        raise UsageError(
            "--device cuda asked for, but no CUDA GPU is visible", hint="use --device cpu"
        )
    return "cpu"


def weights_dir(override: Path | None = None) -> Path:
    """Find the folder of model weights.

    Order: the explicit override (`--weights`), `MEDOCR_WEIGHTS`, the `weights/` folder of a
    checkout, then the copy packaged inside `medocr_cli/` by an install.
    """
    if override is not None:
        return override
    env = os.environ.get("MEDOCR_WEIGHTS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent / "weights"
    if checkout.is_dir():
        return checkout
    return here / "_weights"
