"""Reading and writing checkpoint files: atomic writes, `weights_only` loads, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medocr_cli.errors import InputFileError, NotBuiltError
from medocr_cli.io.atomic import atomic_path


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write a checkpoint dict to `path` atomically (a crash never leaves half a file)."""
    import torch

    with atomic_path(Path(path)) as tmp:
        torch.save(checkpoint, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint file with `weights_only=True` (no pickled code runs).

    Raises:
        NotBuiltError: The file does not exist (weights not trained or not shipped).
        InputFileError: The file is not a readable checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise NotBuiltError(
            "no such weights file",
            hint="train it with `medocr train`, or point --weights / MEDOCR_WEIGHTS at a folder "
            "that holds it",
            path=path,
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or foreign files
        raise InputFileError(f"not a readable checkpoint: {type(exc).__name__}", path=path) from exc
    if not isinstance(data, dict) or "spec" not in data or "state_dict" not in data:
        raise InputFileError("not a medocr checkpoint (no spec/state_dict)", path=path)
    return data
