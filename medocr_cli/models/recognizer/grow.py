"""Widening a trained recognizer: more CNN channels, the same function to start from.

Training a larger CRNN from scratch costs hours of CPU; growing the trained one keeps what it
knows and adds room. Each new channel is freshly initialised, and every weight by which an old
channel would read a new one is zero, so the widened network computes exactly what the old one
did (in eval mode) until training puts the new channels to use (the zero-init form of Net2Net,
Chen et al. 2016). The LSTM keeps its size; its input and the skip path read the new features
through zero weights as well.

Everything here is pure: checkpoint dicts in and out, no files.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from medocr_cli.models.checkpoint import pack, unpack
from medocr_cli.models.recognizer.network import build_recognizer
from medocr_cli.models.recognizer.spec import ARCH


def widen_recognizer(
    checkpoint: dict[str, Any], channels: Sequence[int], seed: int = 0
) -> dict[str, Any]:
    """Return a copy of a `crnn-ctc` checkpoint whose CNN has `channels` output channels.

    Args:
        checkpoint: A loaded recognizer checkpoint (spec, weights, metrics).
        channels: The six new channel counts, each at least the old one.
        seed: Seed of the new channels' initial weights.

    Raises:
        ValueError: The checkpoint is not a recognizer, or a channel count would shrink.
    """
    spec = checkpoint["spec"]
    if spec.get("arch") != ARCH:
        raise ValueError(f"only {ARCH} recognizers can be widened, not {spec.get('arch')!r}")
    old_channels = [int(c) for c in spec["channels"]]
    new_channels = [int(c) for c in channels]
    if len(new_channels) != len(old_channels) or any(
        n < o for n, o in zip(new_channels, old_channels, strict=True)
    ):
        raise ValueError(f"channels {new_channels} must each be at least {old_channels}")
    old_state = unpack(checkpoint, source="widen").float().state_dict()
    new_spec = copy.deepcopy(spec)
    new_spec["channels"] = new_channels
    torch.manual_seed(seed)
    model = build_recognizer(new_spec).float()
    state = model.state_dict()
    for name, new in state.items():
        old = old_state[name]
        if old.shape == new.shape:
            state[name] = old.clone()
            continue
        grown = new.clone()
        if old.dim() >= 2 and new.shape[1] > old.shape[1]:
            grown[: old.shape[0], old.shape[1] :] = 0  # old channels ignore the new ones
        grown[tuple(slice(0, s) for s in old.shape)] = old
        state[name] = grown
    model.load_state_dict(state)
    trained_with = dict(checkpoint.get("trained_with", {}))
    trained_with["widened_from"] = old_channels
    # full precision: the new channels' random weights are not rounded before training
    return pack(
        model,
        new_spec,
        metrics=dict(checkpoint.get("metrics", {})),
        trained_with=trained_with,
        half=False,
    )
