"""Reading the recognizer's output: CTC greedy and prefix beam search decoding, and `read_batch`.

Pure: tensors and arrays in, text and confidences out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from medocr_cli.models.recognizer.lines import pad_batch
from medocr_cli.models.recognizer.spec import BLANK, FRAMES_PER_COLUMN

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
