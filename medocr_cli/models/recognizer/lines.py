"""Line crops to recognizer input: grey, height 32, widened by the spec's scale, normalised, padded.

Pure: arrays in, arrays and tensors out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from medocr_cli.models.recognizer.network import output_length
from medocr_cli.models.recognizer.spec import (
    FRAMES_PER_COLUMN,
    HEIGHT,
    MAX_WIDTH,
    MIN_WIDTH,
    WIDTH_STEP,
)

#: Floor of the per-crop contrast scale (0-255 units), so blank crops are not blown up to noise.
MIN_SCALE = 12.0


def to_grey(crop: np.ndarray) -> np.ndarray:
    """Return a uint8 grey version of a grey, grey+alpha, RGB or RGBA uint8 crop."""
    if crop.dtype != np.uint8:
        raise ValueError("the recognizer takes 8-bit crops")
    if crop.ndim == 2:
        return crop
    if crop.ndim != 3:
        raise ValueError(f"a crop must be HxW or HxWxC, got shape {crop.shape}")
    if crop.shape[2] in (1, 2):
        return np.ascontiguousarray(crop[:, :, 0])
    rgb = crop[:, :, :3].astype(np.float32)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(grey + 0.5, 0, 255).astype(np.uint8)


def line_width(
    height: int, width: int, max_width: int = MAX_WIDTH, width_scale: float = 1.0
) -> int:
    """Return the network width of a crop of `height` x `width` at a height of 32.

    The aspect, times `width_scale`, is kept to the nearest multiple of 4, so that each output
    column covers a full 4-pixel strip (`output_length` counts whole strips only).
    """
    scaled = round(width * HEIGHT * width_scale / max(1, height) / WIDTH_STEP) * WIDTH_STEP
    return int(min(max_width, max(MIN_WIDTH, scaled)))


def to_line(crop: np.ndarray, max_width: int = MAX_WIDTH, width_scale: float = 1.0) -> np.ndarray:
    """Resize a crop (any size, grey or colour) to a uint8 (32, W) grey line.

    W is the crop's width at height 32 times `width_scale` (see `line_width`).
    """
    import cv2

    grey = to_grey(crop)
    h, w = grey.shape
    if h == 0 or w == 0:
        return np.zeros((HEIGHT, MIN_WIDTH), dtype=np.uint8)
    target = line_width(h, w, max_width, width_scale)
    shrinking = h > HEIGHT or w > target
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(grey, (target, HEIGHT), interpolation=interpolation)


def normalise_line(line: np.ndarray) -> np.ndarray:
    """Turn a (32, W) grey line into float32 network input: background 0, text positive.

    The background level is the median of the 2-pixel border ring (crops have a margin, so the
    ring is mostly background, also on textured scans where the text covers much of the crop);
    dividing by the standard deviation (at least `MIN_SCALE`) evens out faint and strong text;
    the sign is chosen so that the middle rows, where the text is, lie above the background,
    whatever the text's polarity (wrong for about 4% of handwritten and 2% of printed lines of a
    generated dataset, against 17% when the global median is taken as background; training
    flips some signs on purpose so that those still read). Padding a batch with zeros then looks
    like more background.
    """
    x = line.astype(np.float32)
    ring = np.concatenate([x[:2].ravel(), x[-2:].ravel(), x[:, :2].ravel(), x[:, -2:].ravel()])
    centred = x - np.median(ring)
    scale = max(float(centred.std()), MIN_SCALE)
    h = centred.shape[0]
    if float(centred[h // 4 : h - h // 4].mean()) < 0:
        centred = -centred
    return centred / scale


def pad_batch(
    lines: Sequence[np.ndarray], frames_per_column: int = FRAMES_PER_COLUMN, tail: int = 0
) -> tuple[torch.Tensor, list[int]]:
    """Stack normalised (32, W_i) lines into a zero-padded (N, 1, 32, max W + tail) batch.

    Args:
        lines: Normalised lines (background 0), so the zero padding reads as background.
        frames_per_column: CTC frames per feature column of the model.
        tail: Columns of background after the widest line (`READ_TAIL` when reading); every
            line gets at least this many after it.

    Returns:
        The batch and the valid output length (CTC frames) of each line.
    """
    width = max(line.shape[1] for line in lines) + max(0, tail)
    batch = np.zeros((len(lines), 1, HEIGHT, width), dtype=np.float32)
    for i, line in enumerate(lines):
        batch[i, 0, :, : line.shape[1]] = line
    lengths = [output_length(line.shape[1], frames_per_column) for line in lines]
    return torch.from_numpy(batch), lengths
