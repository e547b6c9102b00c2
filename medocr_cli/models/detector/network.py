"""The text detector: a light U-Net predicting where text lines and text pixels are.

In the spirit of DBNet / CRAFT, but small enough for 2 CPU cores: four stride-2 encoder levels
(1/2 .. 1/16, BatchNorm + ReLU), a top-down decoder that adds each encoder level back (an FPN
with U-Net skips) and a 1x1 head at 1/2 of the input resolution. Half resolution, not the
usual quarter, because overlay text on scans can be 5-8 px high: at 1/4 a line would be one
or two map pixels and neighbouring lines would merge.

The head has two channels (logits):
  0 "core": the DBNet-style shrunk line box; thresholded and grown back ("unclipped") it gives
     one box per text line, with neighbouring lines kept apart by the shrink.
  1 "text": the text-pixel mask, for refining boxes to strokes later on.

Input: grey plus a chroma channel (max - min of R, G, B; zero for grey frames), uint8 scaled
to [0, 1] and centred. Chroma makes coloured overlay text (blue, yellow, green on a grey scan)
stand out even where its grey value matches the anatomy behind it. Fully convolutional: any
size, padded by the caller to a multiple of `STRIDE`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from medocr_cli.models.detector.spec import ARCH, CHANNELS, STRIDE
from medocr_cli.models.registry import register


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class TextDetector(nn.Module):
    """Encoder (4 stride-2 levels) + additive top-down decoder + 2-channel head at 1/2."""

    def __init__(self, widths: list[int], decoder: int, in_channels: int = 2) -> None:
        super().__init__()
        levels = []
        cin = in_channels
        for i, width in enumerate(widths):
            # The first level has a single conv: at 1/2 resolution it is the costliest one.
            blocks = [_conv(cin, width, 2)] + ([_conv(width, width)] if i > 0 else [])
            levels.append(nn.Sequential(*blocks))
            cin = width
        self.levels = nn.ModuleList(levels)
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, decoder, 1, bias=False), nn.BatchNorm2d(decoder))
            for w in widths
        )
        self.smooth = nn.ModuleList(_conv(decoder, decoder) for _ in widths[:-1])
        self.head = nn.Conv2d(decoder, len(CHANNELS), 1)
        # Text covers a few percent of a scan: start the head near that prior.
        nn.init.constant_(self.head.bias, -3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return (N, 2, H/2, W/2) logits for an (N, C, H, W) input, H and W multiples of 16."""
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
        y = functional.relu(self.lateral[-1](features[-1]))
        for i in range(len(features) - 2, -1, -1):
            y = functional.interpolate(y, size=features[i].shape[-2:], mode="nearest")
            y = self.smooth[i](y + self.lateral[i](features[i]))
        return self.head(y)


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that follows a convolution into it, for inference only.

    In eval mode a BatchNorm is a fixed per-channel scale and shift, which the convolution
    before it can apply itself: the network computes the same function (to float rounding)
    with a third fewer passes over its activations, the cost of a third of its CPU time at
    640x480. The model must be in eval mode; it is changed in place and returned.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.training:
        raise ValueError("fuse_batchnorm is for a model in eval mode")
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module)
        for i in range(len(layers) - 1):
            conv, norm = layers[i], layers[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv, norm)
                module[i + 1] = nn.Identity()
    return model


@register(ARCH)
def build_detector(spec: dict[str, Any]) -> nn.Module:
    """Build the untrained detector of a spec made by `detector_spec`."""
    return TextDetector(
        [int(w) for w in spec["widths"]], int(spec["decoder"]), int(spec.get("in_channels", 2))
    )


def to_input(image: np.ndarray) -> np.ndarray:
    """Turn one 8-bit display frame (grey or RGB[A]) into the uint8 (2, H, W) network input."""
    import cv2

    if image.dtype != np.uint8:
        raise ValueError("the detector takes 8-bit display frames")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.stack([image, np.zeros_like(image)])
    rgb = np.ascontiguousarray(image[:, :, :3])
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    r, g, b = cv2.split(rgb)  # cv2's per-pixel max/min are ~20x faster than numpy's over axis 2
    chroma = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    return np.stack([grey, chroma])


def normalise(batch: torch.Tensor, spec: dict[str, Any]) -> torch.Tensor:
    """Turn a uint8 (N, 2, H, W) batch into the network's float input."""
    return (batch.float() / 255.0 - float(spec["mean"])) / float(spec["std"])


def padded_size(height: int, width: int, multiple: int = STRIDE) -> tuple[int, int]:
    """Return `(height, width)` rounded up to a multiple of `multiple`."""
    return (-(-height // multiple) * multiple, -(-width // multiple) * multiple)


def forward_frames(
    model: nn.Module,
    spec: dict[str, Any],
    inputs: list[np.ndarray],
    device: torch.device | str,
) -> list[np.ndarray]:
    """Run the network on uint8 (2, h, w) inputs of any sizes in one batch.

    Each input is padded (edge copy) at the bottom and right to the batch's common size, a
    multiple of `pad_to`; the returned float32 (2, ceil(h/2), ceil(w/2)) probability maps
    (core, text) have that padding cut off again.
    """
    if not inputs:
        return []
    stride = int(spec.get("out_stride", 2))
    multiple = int(spec.get("pad_to", STRIDE))
    height = max(x.shape[1] for x in inputs)
    width = max(x.shape[2] for x in inputs)
    ph, pw = padded_size(height, width, multiple)
    batch = np.empty((len(inputs), inputs[0].shape[0], ph, pw), np.uint8)
    for i, x in enumerate(inputs):
        h, w = x.shape[1:]
        batch[i] = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)), mode="edge")
    tensor = torch.from_numpy(batch).to(device)
    with torch.inference_mode():
        x = normalise(tensor, spec).contiguous(memory_format=torch.channels_last)
        probs = torch.sigmoid(model(x).float()).cpu().numpy()
    return [
        np.ascontiguousarray(p[:, : -(-x.shape[1] // stride), : -(-x.shape[2] // stride)])
        for p, x in zip(probs, inputs, strict=True)
    ]
