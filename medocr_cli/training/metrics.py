"""Metrics of the learned stages: classification, character error rate, image quality."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(truth: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    """Return the n x n matrix whose [t, p] entry counts samples of class t predicted as p."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        matrix[int(t), int(p)] += 1
    return matrix


def classification_report(matrix: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall and the share of text images called None.

    The last figure is the dangerous error for de-identification: an image with text that the
    router calls None would skip the extractors. It assumes label 0 is "None".
    """
    total = int(matrix.sum())
    correct = int(np.trace(matrix))
    per_class = {}
    for i, name in enumerate(labels):
        tp = int(matrix[i, i])
        predicted = int(matrix[:, i].sum())
        actual = int(matrix[i, :].sum())
        per_class[name] = {
            "precision": tp / predicted if predicted else 0.0,
            "recall": tp / actual if actual else 0.0,
            "support": actual,
        }
    text_rows = matrix[1:, :]
    text_total = int(text_rows.sum())
    text_as_none = int(text_rows[:, 0].sum())
    return {
        "accuracy": correct / total if total else 0.0,
        "n": total,
        "per_class": per_class,
        "text_as_none": text_as_none,
        "text_as_none_rate": text_as_none / text_total if text_total else 0.0,
        "confusion": matrix.tolist(),
        "labels": list(labels),
    }


def edit_distance(a: str, b: str) -> int:
    """Return the Levenshtein distance between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def character_error_rate(truths: Sequence[str], predictions: Sequence[str]) -> float:
    """Return the summed edit distance over the summed length of the truths."""
    errors = sum(edit_distance(t, p) for t, p in zip(truths, predictions, strict=True))
    length = sum(len(t) for t in truths)
    return errors / length if length else 0.0


#: Highest PSNR an image scores (dB). With 8-bit values a flat background is often refilled
#: exactly, which would be an infinite PSNR; capped at 50 dB (an RMS error of 0.8 grey levels,
#: invisible) so that such images cannot outweigh the ones where the methods differ.
PSNR_CAP = 50.0


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR in dB of two 8-bit images over the pixels `where` (all channels), at most PSNR_CAP."""
    total, count = squared_error(a, b, where)
    return psnr_of_mse(total / max(1, count))


def squared_error(
    a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None
) -> tuple[float, int]:
    """Sum of squared differences of two images over `where`, and how many values it sums."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    if where is not None:
        diff = diff[where]
    return float(np.sum(diff**2)), int(diff.size)


def psnr_of_mse(mse: float) -> float:
    """PSNR in dB of an 8-bit mean squared error, at most PSNR_CAP."""
    if mse <= 0:
        return PSNR_CAP
    return float(min(PSNR_CAP, 10.0 * np.log10(255.0**2 / mse)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two 8-bit images (Gaussian window 11, sigma 1.5; channels averaged)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x, y = a.astype(np.float64), b.astype(np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    import cv2

    scores = []
    for c in range(x.shape[2]):
        p, q = x[..., c], y[..., c]

        def blur(v: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(v, (11, 11), 1.5)

        mp, mq = blur(p), blur(q)
        vp, vq, cov = blur(p * p) - mp**2, blur(q * q) - mq**2, blur(p * q) - mp * mq
        num = (2 * mp * mq + c1) * (2 * cov + c2)
        den = (mp**2 + mq**2 + c1) * (vp + vq + c2)
        scores.append(float(np.mean(num / den)))
    return float(np.mean(scores))
