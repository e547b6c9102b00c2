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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from medocr_cli.models.registry import register

HEIGHT = 32
#: The CNN halves the width twice: one feature column per 4 input columns.
WIDTH_STEP = 4
#: CTC frames the head emits per feature column. 2 would give narrow glyphs and repeated
#: characters ("11", which CTC must separate by a blank) more frames at no CNN cost, but in
#: short CPU budgets it trained slower than 1 (val CER 0.34 against 0.26 after 1,500 steps).
FRAMES_PER_COLUMN = 1
#: Horizontal scale of a line after its resize to height 32. One CTC column per 4 px of the
#: natural width was too coarse for narrow glyphs ("1", "i", ".", a space; they were mostly
#: dropped): widening by 1.3 gives one column per ~3 px. Chosen on val lines of train-family
#: fonts: the same weights, read at 1.0 / 1.2 / 1.3 / 1.4, gave handwritten CER 7.7 / 6.3 / 6.0 /
#: 6.3% on ds10 val and 6.9 / 5.8 / 5.3 / 5.8% on ds9 val.
WIDTH_SCALE = 1.3
#: Narrowest line fed to the network (a single character still gets 4 columns).
MIN_WIDTH = 16
#: Widest line at inference; longer crops are squeezed to this (training caps lower).
MAX_WIDTH = 1024
BLANK = 0
#: Background columns added after every line when reading (not when training). The backward LSTM
#: then starts in the state a run of background gives it instead of from zeros at the line's last
#: pixel. Chosen on ds12 val handwritten lines (shipped weights, each line read alone): right
#: padding of 0 / 16 / 32 / 64 / 128 / 256 columns gave CER 5.45 / 5.18 / 5.07 / 5.01 / 4.97 /
#: 4.91%; 128 keeps most of the gain for half the extra work of 256.
READ_TAIL = 128
#: Prefixes kept by the CTC beam search that reading uses (1 would be greedy best-path decoding).
#: Chosen on ds12 val handwritten lines (shipped weights, with `READ_TAIL`): greedy 4.96% CER,
#: beams of 2, 4, 8, 16 and 32 prefixes all 4.77%; 8 leaves room for harder lines at about
#: 0.7 ms per line in Python (the network takes about 5 ms on 1 thread).
BEAM_WIDTH = 8
#: Characters below this log-probability in a frame are not tried by the beam search (about
#: 0.03%; a frame's best class is always above it, since 1/82 is about e^-4.4).
BEAM_PRUNE = -8.0
#: Output channels of the CNN's convolutions (see `CRNN`).
DEFAULT_CHANNELS = (32, 48, 64, 64, 96, 96)
#: Floor of the per-crop contrast scale (0-255 units), so blank crops are not blown up to noise.
MIN_SCALE = 12.0


def default_vocab() -> str:
    """Return every character the dataset generator writes, sorted (index i + 1 in the output).

    Built from `synth.content`'s printed and note character sets, so each character a generated
    label can hold has a class.
    """
    from medocr_cli.synth.content import NOTE_CHARSET, PRINTED_CHARSET

    return "".join(sorted(set(PRINTED_CHARSET) | set(NOTE_CHARSET)))


#: Registry name of this network; checkpoint specs and `medocr train` refer to it.
ARCH = "crnn-ctc"


def recognizer_spec(
    vocab: str | None = None,
    channels: Sequence[int] = DEFAULT_CHANNELS,
    hidden: int = 128,
    layers: int = 2,
    dropout: float = 0.1,
    width_scale: float = WIDTH_SCALE,
) -> dict[str, Any]:
    """Return the spec of a CRNN recognizer (everything needed to rebuild and feed it)."""
    return {
        "arch": ARCH,
        "height": HEIGHT,
        "width_step": WIDTH_STEP,
        "width_scale": float(width_scale),
        "frames_per_column": FRAMES_PER_COLUMN,
        "min_width": MIN_WIDTH,
        "max_width": MAX_WIDTH,
        "vocab": vocab if vocab is not None else default_vocab(),
        "blank": BLANK,
        "channels": [int(c) for c in channels],
        "hidden": int(hidden),
        "layers": int(layers),
        "dropout": float(dropout),
        "grey": "luma (BT.601) for colour crops",
        "normalise": "per crop: (x - median of border ring) / max(std, 12), middle rows positive",
    }


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


def encode(text: str, vocab: str) -> list[int]:
    """Return the class indices of `text` (blank is 0, so `vocab[i]` is class i + 1).

    Raises:
        ValueError: `text` holds a character that is not in `vocab`.
    """
    index = {ch: i + 1 for i, ch in enumerate(vocab)}
    try:
        return [index[ch] for ch in text]
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary") from None


def decode_indices(indices: Sequence[int], vocab: str) -> str:
    """Return the text of class indices that are already collapsed (no blanks, no CTC repeats)."""
    return "".join(vocab[i - 1] for i in indices if 0 < i <= len(vocab))


def greedy_decode(
    logits: torch.Tensor, vocab: str, lengths: Sequence[int] | None = None
) -> list[tuple[str, float]]:
    """Best-path CTC decoding of (T, N, C) scores: merge repeats, then drop blanks.

    Args:
        logits: Raw scores or log-probabilities, (T, N, C), blank at index 0.
        vocab: The vocabulary the classes 1..C-1 stand for.
        lengths: Valid columns per sample (padding after them is ignored); all T when None.

    Returns:
        One (text, score) per sample. The score is the mean of the winning probabilities of the
        emitted characters (for an empty reading, the mean blank probability): a cheap
        confidence in [0, 1].
    """
    probs = logits.detach().float().softmax(-1)
    best_p, best = probs.max(-1)  # T, N
    best_p, best = best_p.cpu().numpy(), best.cpu().numpy()
    t_all, n = best.shape
    out = []
    for i in range(n):
        t_i = t_all if lengths is None else max(0, min(t_all, int(lengths[i])))
        path, conf = best[:t_i, i], best_p[:t_i, i]
        keep = np.ones(t_i, dtype=bool)
        if t_i > 1:
            keep[1:] = path[1:] != path[:-1]
        keep &= path != BLANK
        if keep.any():
            text = decode_indices(path[keep].tolist(), vocab)
            score = float(conf[keep].mean())
        else:
            text, score = "", float(conf.mean()) if t_i else 0.0
        out.append((text, score))
    return out


def _log_add(a: float, b: float) -> float:
    """log(e^a + e^b), exact for -inf."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def _beam_one(log_probs: np.ndarray, width: int) -> tuple[tuple[int, ...], float]:
    """Prefix beam search over one line's (T, C) log-probabilities; the best prefix and its log P.

    Each prefix keeps two log-probabilities, of its paths ending in a blank and of those ending
    in its last character, so that a repeated character needs a blank between its two copies.
    """
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, -math.inf]}
    for row in log_probs:
        tried = np.flatnonzero(row > BEAM_PRUNE)
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_blank, p_char) in beams.items():
            total = _log_add(p_blank, p_char)
            last = prefix[-1] if prefix else None
            for c in tried.tolist():
                p = float(row[c])
                if c == BLANK:
                    entry = grown.setdefault(prefix, [-math.inf, -math.inf])
                    entry[0] = _log_add(entry[0], total + p)
                    continue
                longer = grown.setdefault((*prefix, c), [-math.inf, -math.inf])
                if c == last:  # a repeat without a blank between merges into the same prefix
                    longer[1] = _log_add(longer[1], p_blank + p)
                    same = grown.setdefault(prefix, [-math.inf, -math.inf])
                    same[1] = _log_add(same[1], p_char + p)
                else:
                    longer[1] = _log_add(longer[1], total + p)
        ranked = sorted(grown.items(), key=lambda kv: -_log_add(*kv[1]))
        beams = dict(ranked[:width])
    best, (p_blank, p_char) = max(beams.items(), key=lambda kv: _log_add(*kv[1]))
    return best, _log_add(p_blank, p_char)


def beam_decode(
    logits: torch.Tensor,
    vocab: str,
    lengths: Sequence[int] | None = None,
    width: int = BEAM_WIDTH,
) -> list[tuple[str, float]]:
    """CTC prefix beam search (no language model) over (T, N, C) scores.

    Greedy decoding keeps the single most likely path; this keeps the `width` most likely
    prefixes, each summed over all the paths that spell it, so a reading that many weaker paths
    agree on can win. It costs a few milliseconds per line in Python.

    Returns:
        One (text, score) per sample. The score is the reading's probability per character
        (its CTC probability to the power 1 / number of characters; per frame for an empty
        reading), in [0, 1].
    """
    log_probs = logits.detach().float().log_softmax(-1).cpu().numpy()
    t_all, n, _ = log_probs.shape
    out = []
    for i in range(n):
        t_i = t_all if lengths is None else max(0, min(t_all, int(lengths[i])))
        if t_i == 0:
            out.append(("", 0.0))
            continue
        best, log_p = _beam_one(log_probs[:t_i, i], max(1, width))
        score = math.exp(log_p / (len(best) if best else t_i))
        out.append((decode_indices(list(best), vocab), min(1.0, score)))
    return out


def decode(
    logits: torch.Tensor,
    vocab: str,
    lengths: Sequence[int] | None = None,
    beam_width: int = BEAM_WIDTH,
) -> list[tuple[str, float]]:
    """Read (T, N, C) scores: greedy when `beam_width` is 1 (or less), else the beam search."""
    if beam_width <= 1:
        return greedy_decode(logits, vocab, lengths)
    return beam_decode(logits, vocab, lengths, beam_width)


def read_batch(
    model: nn.Module,
    lines: Sequence[np.ndarray],
    vocab: str,
    frames_per_column: int = FRAMES_PER_COLUMN,
    beam_width: int = BEAM_WIDTH,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, list[int], list[tuple[str, float]]]:
    """Read one batch of normalised lines the way medocr reads (the stage and evaluation alike).

    The batch gets `READ_TAIL` columns of background after its widest line, and the scores are
    decoded with `beam_width` prefixes. Call it under `torch.inference_mode()`.

    Returns:
        The (T, N, C) float scores, each line's valid length in frames, and (text, score) per
        line.
    """
    x, lengths = pad_batch(lines, frames_per_column, READ_TAIL)
    logits = model(x.to(device)).float()
    return logits, lengths, decode(logits, vocab, lengths, beam_width)


# --- pixels -> network input ----------------------------------------------------------------------


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


def spec_width_scale(spec: dict[str, Any]) -> float:
    """Return the horizontal scale a checkpoint was trained with (1.0 if its spec predates it)."""
    return float(spec.get("width_scale", 1.0))


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
