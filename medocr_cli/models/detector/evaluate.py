"""Judging the text detector the way the scrubber needs it.

A line counts as found when the predicted boxes cover at least `COVER` of its box. The report
splits that recall by kind (printed / handwritten) and polarity (light-on-dark / dark-on-light),
and adds box precision and false boxes on text-free images.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from medocr_cli.models.detector.data import DetectorSplit
from medocr_cli.models.detector.predictor import Detector

#: A line is found when predicted boxes cover at least this share of its box area.
COVER = 0.9
#: A predicted box is true when at least this share of its area lies on true line boxes.
BOX_TRUE_SHARE = 0.25


def f_beta(recall: float, precision: float, beta: float) -> float:
    """The F-score weighting recall `beta` times as much as precision (0 when both are 0)."""
    b2 = beta * beta
    denominator = b2 * precision + recall
    return (1 + b2) * precision * recall / denominator if denominator else 0.0


def predict_boxes(
    model: nn.Module,
    spec: dict[str, Any],
    split: DetectorSplit,
    device: str | torch.device,
    batch: int = 8,
    fits: tuple[str, ...] = ("cover",),
) -> dict[str, list[list[tuple[int, int, int, int, float]]]]:
    """Return the predicted line boxes of every image of a split, for each box fit.

    The boxes come from the same predictor `scrub` uses (`Detector`: batching, tiling of large
    frames, coarse pass, box post-processing), fed the network inputs the split caches.
    """
    detector = Detector.from_model(model, spec, device)
    boxes: dict[str, list[list[tuple[int, int, int, int, float]]]] = {f: [] for f in fits}
    for start in range(0, len(split), batch):
        inputs = [split.frame(i) for i in range(start, min(len(split), start + batch))]
        for per_fit in detector.boxes_of_inputs(inputs, batch, fits):
            for name, found in zip(fits, per_fit, strict=True):
                boxes[name].append([(b.x0, b.y0, b.x1, b.y1, b.score) for b in found])
    return boxes


def score_image(
    predicted: list[tuple[int, int, int, int, float]],
    lines: np.ndarray,
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Judge one image's predicted boxes against its true line boxes.

    Returns:
        (found: bool per line, covered >= COVER; matched: bool per line, some predicted box has
        IoU >= 0.5 with it; true_box: bool per predicted box, >= BOX_TRUE_SHARE of its area on
        true lines).
    """
    h, w = shape
    covered = np.zeros((h, w), bool)
    for x0, y0, x1, y1, _ in predicted:
        covered[y0:y1, x0:x1] = True
    truth = np.zeros((h, w), bool)
    found = np.zeros(len(lines), bool)
    matched = np.zeros(len(lines), bool)
    for k, box in enumerate(lines):
        x0, y0, x1, y1 = (round(v) for v in box)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            found[k] = matched[k] = True
            continue
        truth[y0:y1, x0:x1] = True
        found[k] = covered[y0:y1, x0:x1].mean() >= COVER
        area = (x1 - x0) * (y1 - y0)
        for px0, py0, px1, py1, _ in predicted:
            iw = min(x1, px1) - max(x0, px0)
            ih = min(y1, py1) - max(y0, py0)
            if iw > 0 and ih > 0:
                inter = iw * ih
                union = area + (px1 - px0) * (py1 - py0) - inter
                if inter / union >= 0.5:
                    matched[k] = True
                    break
    true_box = np.array(
        [truth[y0:y1, x0:x1].mean() >= BOX_TRUE_SHARE for x0, y0, x1, y1, _ in predicted], bool
    )
    return found, matched, true_box


def report_of(
    split: DetectorSplit, predicted: list[list[tuple[int, int, int, int, float]]]
) -> dict[str, Any]:
    """Line recall overall, by kind and by polarity; box precision; false boxes on empty images."""
    found_all, matched_all, kinds, light, true_boxes = [], [], [], [], []
    empty_images = empty_boxes = 0
    for i, boxes in enumerate(predicted):
        shape = (int(split.shapes[i][0]), int(split.shapes[i][1]))
        found, matched, true_box = score_image(boxes, split.lines[i], shape)
        found_all.append(found)
        matched_all.append(matched)
        kinds.extend(split.kinds[i])
        light.append(split.light[i])
        true_boxes.append(true_box)
        if split.labels[i] == "None":
            empty_images += 1
            empty_boxes += len(boxes)
    found = np.concatenate(found_all) if found_all else np.zeros(0, bool)
    matched = np.concatenate(matched_all) if matched_all else np.zeros(0, bool)
    is_light = np.concatenate(light) if light else np.zeros(0, bool)
    kind = np.array(kinds)
    boxes_ok = np.concatenate(true_boxes) if true_boxes else np.zeros(0, bool)

    def share(values: np.ndarray) -> float:
        return float(values.mean()) if values.size else 0.0

    printed, written = kind == "printed", kind == "handwritten"
    return {
        "images": len(predicted),
        "lines": int(found.size),
        "line_recall": share(found),
        "printed_recall": share(found[printed]),
        "printed_lines": int(printed.sum()),
        "handwritten_recall": share(found[written]),
        "handwritten_lines": int(written.sum()),
        "light_on_dark_recall": share(found[is_light]),
        "light_on_dark_lines": int(is_light.sum()),
        "dark_on_light_recall": share(found[~is_light]),
        "dark_on_light_lines": int((~is_light).sum()),
        "line_iou50_recall": share(matched),
        "handwritten_iou50_recall": share(matched[written]),
        "boxes": int(boxes_ok.size),
        "box_precision": share(boxes_ok),
        "empty_images": empty_images,
        "fp_boxes_per_empty_image": empty_boxes / empty_images if empty_images else 0.0,
        "cover": COVER,
        "box_true_share": BOX_TRUE_SHARE,
    }


def evaluate_model(
    model: nn.Module, spec: dict[str, Any], split: DetectorSplit, device: str, batch: int = 8
) -> dict[str, Any]:
    """Return the detection report of `model` on `split`, with the time per image.

    The report is of the "cover" boxes (what removal uses); "tight_*" keys give the recall,
    one-to-one (IoU >= 0.5) recall and precision of the "tight" boxes the recognizer reads.
    """
    model.eval()
    started = time.perf_counter()
    predicted = predict_boxes(model, spec, split, device, batch, fits=("cover", "tight"))
    seconds = time.perf_counter() - started
    report = report_of(split, predicted["cover"])
    tight = report_of(split, predicted["tight"])
    for key in ("line_recall", "line_iou50_recall", "handwritten_iou50_recall", "box_precision"):
        report[f"tight_{key}"] = tight[key]
    report["ms_per_image"] = round(1000.0 * seconds / max(1, len(split)), 1)
    report["threads"] = torch.get_num_threads()
    report["device"] = str(device)
    return report
