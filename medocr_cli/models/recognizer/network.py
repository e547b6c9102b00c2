"""The handwriting recognizer: a CRNN read with CTC (CNN -> BiLSTM -> per-column softmax).

A line crop is turned grey, resized to a height of 32 pixels and widened by the spec's
`width_scale` (1.3 for new models, 1.0 for checkpoints made before it existed), normalised per
crop (background at 0, text positive) and read left to right: the CNN brings the height down to 1
and the width down by 4, so each output column sees a 4-pixel strip of the widened line; two
bidirectional LSTM layers give every column the context of the whole line; a Linear layer scores
the vocabulary plus the CTC blank (index 0) per column. Training uses `torch.nn.CTCLoss`;
reading (`read_batch`) puts `READ_TAIL` columns of background after each line and keeps the
`BEAM_WIDTH` best prefixes of a CTC beam search without a language model (a width of 1 is greedy
decoding: merge repeats, drop blanks).

Everything here is pure: arrays and tensors in and out, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from medocr_cli.models.recognizer.spec import ARCH, DEFAULT_CHANNELS, FRAMES_PER_COLUMN, WIDTH_STEP
from medocr_cli.models.registry import register


def _block(c_in: int, c_out: int, stride: int | tuple[int, int] = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(True),
    ]


class CRNN(nn.Module):
    """CNN features -> 2-layer BiLSTM -> per-column Linear over blank + vocabulary.

    Input (N, 1, 32, W) float; output (T, N, C) raw scores with T = (W // 4) * frames_per_column
    and C = len(vocab) + 1.
    The CNN downsamples with strided 3x3 convolutions instead of max-pooling (on a CPU, pooling
    and batch norm at full resolution cost more than the convolutions they follow).
    """

    def __init__(
        self,
        n_classes: int,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.1,
        frames_per_column: int = FRAMES_PER_COLUMN,
    ) -> None:
        super().__init__()
        self.frames = int(frames_per_column)
        self.n_classes = int(n_classes)
        c = list(channels)
        if len(c) != 6:
            raise ValueError("the CRNN takes 6 channel counts")
        self.cnn = nn.Sequential(
            *_block(1, c[0], 2),  # 16 x W/2
            *_block(c[0], c[1]),
            *_block(c[1], c[2], 2),  # 8 x W/4
            *_block(c[2], c[3]),
            *_block(c[3], c[4], (2, 1)),  # 4 x W/4
            *_block(c[4], c[5]),
            *_block(c[5], c[5], (2, 1)),  # 2 x W/4
            nn.Conv2d(c[5], c[5], (2, 1), bias=False),  # 1 x W/4
            nn.BatchNorm2d(c[5]),
            nn.ReLU(True),
        )
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.LSTM(
            c[5],
            hidden,
            num_layers=layers,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        # A linear path around the LSTM: local CNN evidence reaches the head from the first step,
        # which shortens the long "all blank" plateau CTC training of LSTMs starts with.
        self.skip = nn.Linear(c[5], 2 * hidden)
        self.head = nn.Linear(2 * hidden, n_classes * self.frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return (T, N, C) scores of a (N, 1, 32, W) batch."""
        features = self.cnn(x.contiguous(memory_format=torch.channels_last))  # N, C, 1, T
        seq = self.dropout(features.squeeze(2).permute(2, 0, 1))  # T, N, C
        context, _ = self.rnn(seq)
        scores = self.head(self.dropout(context + self.skip(seq)))  # T, N, frames * C
        t, n, _ = scores.shape
        scores = scores.view(t, n, self.frames, self.n_classes).permute(0, 2, 1, 3)
        return scores.reshape(t * self.frames, n, self.n_classes)


@register(ARCH)
def build_recognizer(spec: dict[str, Any]) -> nn.Module:
    """Build the CRNN that `spec` describes."""
    model = CRNN(
        n_classes=len(spec["vocab"]) + 1,
        channels=spec.get("channels", DEFAULT_CHANNELS),
        hidden=int(spec.get("hidden", 128)),
        layers=int(spec.get("layers", 2)),
        dropout=float(spec.get("dropout", 0.1)),
        frames_per_column=int(spec.get("frames_per_column", 1)),
    )
    return model.to(memory_format=torch.channels_last)


def output_length(width: int, frames_per_column: int = FRAMES_PER_COLUMN) -> int:
    """Return the number of CTC frames read for a line `width` pixels wide.

    Whole 4-pixel strips only: when `width` is not a multiple of 4 the network emits one more
    column, over the partial strip at the right end (crop margin), which is not read.
    """
    return (width // WIDTH_STEP) * frames_per_column


# --- text <-> labels ------------------------------------------------------------------------------


# --- pixels -> network input ----------------------------------------------------------------------
