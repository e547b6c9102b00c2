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
