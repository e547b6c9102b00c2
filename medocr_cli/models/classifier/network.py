"""The text classifier: a ResNet18 from torchvision deciding None / P / H / PH.

As in the paper medocr follows, the final `fc` is replaced by Dropout + a 4-way Linear layer and
every layer is trained; here from scratch (`weights=None`), since nothing can be downloaded.
Grey images are repeated to 3 channels by the preprocessing, colour images keep their colour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models import resnet18

from medocr_cli.models.classifier.spec import ARCH
from medocr_cli.models.registry import register


@register(ARCH)
def build_classifier(spec: dict[str, Any]) -> nn.Module:
    """Build the ResNet18 with its `fc` replaced by Dropout + Linear to the spec's labels."""
    model = resnet18(weights=None)
    model.fc = nn.Sequential(
        nn.Dropout(p=float(spec.get("dropout", 0.3))),
        nn.Linear(model.fc.in_features, len(spec["labels"])),
    )
    return model


def to_input(image: np.ndarray, size: int) -> np.ndarray:
    """Turn one 8-bit display frame into the classifier's uint8 (3, size, size) input.

    Grey frames are repeated to 3 channels; colour frames keep their RGB channels (the model is
    trained with random greyscale, so it also works on colour images). The resize uses area
    averaging, which keeps thin strokes of small text as faint marks instead of dropping them.
    """
    import cv2

    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype != np.uint8:
        raise ValueError("the classifier takes 8-bit display frames")
    interpolation = cv2.INTER_AREA if min(image.shape[:2]) >= size else cv2.INTER_LINEAR
    resized = cv2.resize(image, (size, size), interpolation=interpolation)
    if resized.ndim == 2:
        return np.repeat(resized[None], 3, axis=0)
    return np.ascontiguousarray(resized.transpose(2, 0, 1))


def normalise(batch: torch.Tensor, spec: dict[str, Any]) -> torch.Tensor:
    """Turn a uint8 (N, 3, S, S) batch into the float input the network expects."""
    mean = torch.tensor(spec["mean"], device=batch.device).view(1, -1, 1, 1)
    std = torch.tensor(spec["std"], device=batch.device).view(1, -1, 1, 1)
    return (batch.float() / 255.0 - mean) / std
