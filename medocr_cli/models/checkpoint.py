"""Checkpoints as plain dicts: `{"spec", "state_dict", "metrics", "trained_with"}`.

Only tensors, numbers, strings, lists and dicts go in, so `torch.load(..., weights_only=True)`
can read them back without running any pickled code. Files are read and written by
`medocr_cli.io.checkpoints`; this module only packs and unpacks (models never touch files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from medocr_cli.errors import InputFileError, UsageError
from medocr_cli.models.registry import build

FORMAT_VERSION = 1


def pack(
    model: nn.Module,
    spec: dict[str, Any],
    *,
    metrics: dict[str, Any] | None = None,
    trained_with: dict[str, Any] | None = None,
    half: bool = True,
) -> dict[str, Any]:
    """Return the checkpoint dict of `model`.

    Args:
        model: The trained module.
        spec: Everything needed to rebuild it: `arch` plus sizes, labels or vocabulary and
            normalisation.
        metrics: Held-out metrics to keep beside the weights.
        trained_with: How it was made: command, data seed, epochs.
        half: Store float tensors as fp16 to halve the file; they are cast back on load.
    """
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if half and value.is_floating_point():
            value = value.half()
        state[key] = value
    return {
        "format": FORMAT_VERSION,
        "spec": dict(spec),
        "state_dict": state,
        "metrics": dict(metrics or {}),
        "trained_with": dict(trained_with or {}),
    }


def unpack(checkpoint: dict[str, Any], *, source: str = "checkpoint") -> nn.Module:
    """Rebuild the model of a checkpoint dict and load its weights with strict key checks.

    Raises:
        InputFileError: The dict is not a medocr checkpoint or its weights do not fit its spec.
    """
    if (
        not isinstance(checkpoint, dict)
        or "spec" not in checkpoint
        or "state_dict" not in checkpoint
    ):
        raise InputFileError("not a medocr checkpoint (no spec/state_dict)", path=source)
    model = build(checkpoint["spec"])
    try:
        load_weights(model, checkpoint["state_dict"])
    except ValueError as exc:
        raise InputFileError(
            f"weights do not match the architecture of their spec: {exc}",
            hint="the checkpoint was written by another version; retrain or use matching weights",
            path=source,
        ) from exc
    model.eval()
    return model


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Load a checkpoint's (possibly fp16) weights into `model` with strict key and shape checks.

    Float tensors are cast back to the model's own dtypes first.

    Raises:
        ValueError: A layer is missing, unexpected or of another shape (the first line of
            torch's message).
    """
    reference = model.state_dict()
    state = {}
    for key, value in state_dict.items():
        if key in reference and value.is_floating_point():
            value = value.to(reference[key].dtype)
        state[key] = value
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(str(exc).strip().splitlines()[0]) from exc


def average_checkpoints(checkpoints: Sequence[dict[str, Any]], sources: Sequence[str]) -> dict:
    """Return one checkpoint whose weights are the mean of several of the same network.

    Averaging the weights of fine-tunes that started from one checkpoint (a "model soup",
    Wortsman et al. 2022) often reads better than any of them, at no cost at inference. Float
    tensors are averaged in float32 and stored as the first checkpoint's dtype; integer buffers
    (batch-norm step counts) are taken from the first. Metrics are left empty: an average has
    not been measured yet.

    Args:
        checkpoints: Two or more checkpoint dicts with identical specs and layers.
        sources: Where each came from, for errors and for `trained_with`.

    Raises:
        UsageError: Fewer than two checkpoints, specs that differ, or layers that do not match.
    """
    if len(checkpoints) < 2:
        raise UsageError(
            "weight averaging needs at least two checkpoints",
            hint="pass --average once per checkpoint",
        )
    first, reference = checkpoints[0], checkpoints[0]["state_dict"]
    for other, source in zip(checkpoints[1:], sources[1:], strict=True):
        spec = other["spec"]
        differ = sorted(
            k for k in set(spec) | set(first["spec"]) if spec.get(k) != first["spec"].get(k)
        )
        if differ:
            raise UsageError(
                f"its spec differs from {sources[0]}'s in {', '.join(differ)}",
                hint="average only checkpoints of one network (fine-tunes of one checkpoint)",
                path=source,
            )
        state = other["state_dict"]
        mismatch = [k for k in reference if k not in state or state[k].shape != reference[k].shape]
        mismatch += sorted(set(state) - set(reference))
        if mismatch:
            raise UsageError(
                f"its layers do not match {sources[0]}'s (first: {mismatch[0]})",
                hint="average only checkpoints of one network",
                path=source,
            )
    averaged: dict[str, torch.Tensor] = {}
    for key, value in reference.items():
        if value.is_floating_point():
            total = sum(c["state_dict"][key].float() for c in checkpoints)
            averaged[key] = (total / len(checkpoints)).to(value.dtype)
        else:
            averaged[key] = value.clone()
    return {
        "format": FORMAT_VERSION,
        "spec": dict(first["spec"]),
        "state_dict": averaged,
        "metrics": {},
        "trained_with": {"averaged": list(sources)},
    }
