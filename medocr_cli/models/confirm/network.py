"""The text / non-text check: a small CNN that says whether a detected region holds characters.

The detector is tuned for recall, and on real scans it also marks curved structure (Doppler
flow, vessels, perfusion maps, calipers) as handwriting. This network looks at each candidate
region on its own and gives the probability that it is text, so that such regions are kept
(issue 22's confirm step, `pipeline/find_text.py`).

Input: the region grown by `MARGIN` of its height, resized to `HEIGHT` rows with its aspect kept
(width clamped to `MIN_WIDTH`..`MAX_WIDTH`), two channels: grey normalised by the crop's own
mean and spread (so contrast and polarity do not matter), and chroma (max - min of RGB), which
tells flat-coloured overlay text from multi-coloured flow. The log of the region's aspect ratio
joins the pooled features. The detector's score is left out on purpose: the check must judge
the pixels, not echo the detector that proposed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from medocr_cli.models.confirm.spec import ARCH
from medocr_cli.models.registry import register

#: Scalar features appended to the pooled image features.
N_SCALARS = 1


def _stage(c_in: int, c_out: int, pool: tuple[int, int] | None) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool is not None:
        layers.append(nn.MaxPool2d(pool))
    return nn.Sequential(*layers)


class TextConfirm(nn.Module):
    """Four conv stages, global average and max pooling, scalars, a two-layer head."""

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        w = list(widths)
        self.features = nn.Sequential(
            _stage(2, w[0], (2, 2)),
            _stage(w[0], w[1], (2, 2)),
            _stage(w[1], w[2], (2, 2)),
            _stage(w[2], w[3], None),
        )
        self.head = nn.Sequential(
            nn.Linear(2 * w[3] + N_SCALARS, 64), nn.ReLU(inplace=True), nn.Linear(64, 1)
        )

    def forward(
        self, x: torch.Tensor, scalars: torch.Tensor, widths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return one logit per region.

        Args:
            x: (N, 2, HEIGHT, W) inputs, right-padded with zeros to the widest of the batch.
            scalars: (N, N_SCALARS) log aspect.
            widths: (N,) valid input widths, so padding is left out of the pooling; None when
                nothing is padded.
        """
        f = x
        valid = widths
        keep = None
        for stage in self.features:
            f = stage(f)
            if valid is not None:
                if any(isinstance(m, nn.MaxPool2d) for m in stage):
                    valid = valid // 2
                cols = torch.arange(f.shape[3], device=f.device)
                # Zero the padding after every stage, so the next convolution sees what its own
                # zero padding would give an unpadded input: padding changes nothing.
                keep = (cols[None, :] < valid[:, None]).to(f.dtype)[:, None, None, :]
                f = f * keep
        if keep is None:
            avg, peak = f.mean(dim=(2, 3)), f.amax(dim=(2, 3))
        else:
            avg = (f * keep).sum(dim=(2, 3)) / (keep.sum(dim=(2, 3)) * f.shape[2])
            peak = (f - (1 - keep) * 1e4).amax(dim=(2, 3))
        return self.head(torch.cat([avg, peak, scalars], dim=1)).squeeze(1)


@register(ARCH)
def build_confirm(spec: dict[str, Any]) -> nn.Module:
    """Build the untrained network of `spec`."""
    return TextConfirm(spec["widths"])


def region_input(
    frame: np.ndarray, box: tuple[int, int, int, int], spec: dict[str, Any]
) -> np.ndarray:
    """Return the float32 (2, HEIGHT, W) input of one region of a uint8 display frame.

    Args:
        frame: uint8 grey (H, W) or RGB (H, W, 3).
        box: (x0, y0, x1, y1) of the region in frame pixels.
        spec: The network's spec (height, widths, margin).
    """
    import cv2

    rows, cols = frame.shape[:2]
    x0, y0, x1, y1 = box
    g = max(1, round(float(spec["margin"]) * max(1, y1 - y0)))
    x0, y0 = max(0, x0 - g), max(0, y0 - g)
    x1, y1 = min(cols, x1 + g), min(rows, y1 + g)
    crop = frame[y0:y1, x0:x1]
    height = int(spec["height"])
    if crop.size == 0:
        return np.zeros((2, height, int(spec["min_width"])), np.float32)
    if crop.ndim == 3:
        grey = cv2.cvtColor(crop[..., :3], cv2.COLOR_RGB2GRAY).astype(np.float32)
        chroma = (crop[..., :3].max(axis=2).astype(np.float32) - crop[..., :3].min(axis=2)) / 255
    else:
        grey = crop.astype(np.float32)
        chroma = np.zeros_like(grey)
    h, w = grey.shape
    width = int(np.clip(round(w * height / max(1, h)), spec["min_width"], spec["max_width"]))
    grey = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    chroma = cv2.resize(chroma, (width, height), interpolation=cv2.INTER_AREA)
    grey = (grey - grey.mean()) / max(8.0, float(grey.std()))
    return np.stack([grey, chroma]).astype(np.float32)


def region_scalars(box: tuple[int, int, int, int]) -> np.ndarray:
    """Return the (N_SCALARS,) scalar features of a region: its log aspect ratio."""
    x0, y0, x1, y1 = box
    aspect = max(1, x1 - x0) / max(1, y1 - y0)
    return np.array([float(np.log(aspect))], np.float32)


def collate(
    inputs: Sequence[np.ndarray], scalars: Sequence[np.ndarray]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad region inputs to the widest one; return (x, scalars, widths) tensors."""
    widest = max(a.shape[2] for a in inputs)
    x = np.zeros((len(inputs), 2, inputs[0].shape[1], widest), np.float32)
    for i, a in enumerate(inputs):
        x[i, :, :, : a.shape[2]] = a
    widths = torch.tensor([a.shape[2] for a in inputs])
    return torch.from_numpy(x), torch.from_numpy(np.stack(scalars)), widths
