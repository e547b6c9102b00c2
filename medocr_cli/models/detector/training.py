"""Training and evaluating the text detector on a generated dataset.

The network learns two maps from 256 px crops (see `data.py`): the shrunk line core,
whose components become line boxes, and the text pixels. It is judged the way the scrubber
needs it: a line counts as found when the predicted boxes cover at least 90% of its box. The
report splits that recall by kind (printed / handwritten) and polarity (light-on-dark /
dark-on-light), and adds box precision and false boxes on text-free images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from medocr_cli.models.checkpoint import pack
from medocr_cli.models.detector.boxes import boxes_from_map
from medocr_cli.models.detector.data import (
    DetectorSplit,
    augment,
    draw_core,
    load_split,
    sample_crop,
)
from medocr_cli.models.detector.evaluate import evaluate_model, f_beta, report_of
from medocr_cli.models.detector.network import forward_frames, normalise
from medocr_cli.models.detector.spec import detector_spec
from medocr_cli.models.registry import build
from medocr_cli.training.loop import FitConfig, FitResult, fit
from medocr_cli.training.trainer import StageTrainer, TrainOptions


@dataclass
class DetectorRecipe:
    """Model and data settings of a detector run (the loop's settings are in FitConfig)."""

    crop: int = 256
    batch_size: int = 16
    crops_per_image: float = 1.0
    text_weight: float = 0.5


class DetectorTask:
    """The detector as a `Task` of the fit loop."""

    name = "detector"

    def __init__(
        self,
        train: DetectorSplit | None,
        val: DetectorSplit,
        recipe: DetectorRecipe,
        device: str,
        seed: int,
        model: nn.Module | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec or detector_spec()
        self.model = (model or build(self.spec)).to(device)
        self.model = self.model.to(memory_format=torch.channels_last)
        self.device = torch.device(device)
        self.train, self.val, self.recipe = train, val, recipe
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.samples = _sample_indices(val)

    def n_train_batches(self) -> int:
        """Return the number of training batches per epoch."""
        assert self.train is not None
        crops = int(len(self.train) * self.recipe.crops_per_image)
        return max(1, crops // self.recipe.batch_size)

    def train_batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """Yield batches of (uint8 crops, core targets, text targets), freshly augmented.

        The random streams are seeded by (seed, epoch), so a resumed run draws the same crops
        as an uninterrupted one.
        """
        assert self.train is not None
        self.rng = np.random.default_rng([self.seed, epoch])
        self.generator.manual_seed(self.seed * 1000 + epoch)
        size = self.recipe.batch_size
        n = self.n_train_batches() * size
        order = np.concatenate(
            [self.rng.permutation(len(self.train)) for _ in range(-(-n // len(self.train)))]
        )[:n]
        for b in range(self.n_train_batches()):
            crops = [
                sample_crop(
                    self.train, int(i), self.rng, size=self.recipe.crop, shrink=self.spec["shrink"]
                )
                for i in order[b * size : (b + 1) * size]
            ]
            yield tuple(torch.from_numpy(np.stack(part)) for part in zip(*crops, strict=True))

    def _logits(self, images: torch.Tensor, training: bool) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True).float() / 255.0
        if training:
            x = augment(x, self.generator)
        x = normalise(x * 255.0, self.spec).contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def _loss(self, logits: torch.Tensor, core: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        core = core.to(self.device)
        text = text.to(self.device)
        loss = _bce_dice(logits[:, 0], core)
        return loss + self.recipe.text_weight * _bce_dice(logits[:, 1], text)

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        """BCE + Dice on the core map, plus half that on the text-pixel map."""
        images, core, text = batch
        logits = self._logits(images, training=True)
        return self._loss(logits, core, text), {"n": float(len(images))}

    def validate(self) -> dict[str, float]:
        """Loss on whole val frames, line recall, box precision and their F2 (recall first).

        One forward pass per batch serves both the loss and the boxes.
        """
        losses, predicted = 0.0, []
        for start in range(0, len(self.val), 8):
            idx = range(start, min(len(self.val), start + 8))
            images = torch.from_numpy(np.stack([self.val.frame(i) for i in idx]))
            targets = [_targets(self.val, i, self.spec) for i in idx]
            core = torch.from_numpy(np.stack([t[0] for t in targets]))
            text = torch.from_numpy(np.stack([t[1] for t in targets]))
            logits = self._logits(images, training=False)
            losses += float(self._loss(logits, core, text)) * len(idx)
            probs = torch.sigmoid(logits.float()).cpu().numpy()
            for i, p in zip(idx, probs, strict=True):
                shape = (int(self.val.shapes[i][0]), int(self.val.shapes[i][1]))
                predicted.append(boxes_from_map(p[0], self.spec, shape, p[1]))
        report = report_of(self.val, predicted)
        return {
            "val_loss": losses / len(self.val),
            "val_recall": report["line_recall"],
            "val_precision": report["box_precision"],
            "val_f2": f_beta(report["line_recall"], report["box_precision"], 2.0),
            "val_fp_per_empty": report["fp_boxes_per_empty_image"],
        }

    def export(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Pack the current model with its spec and metrics."""
        return pack(self.model, self.spec, metrics=metrics)

    def after_epoch(self, epoch: int, out: Path) -> None:
        """Write `samples/detector.epochNN.png`: frame with boxes | core map | text map."""
        self.model.eval()
        with torch.inference_mode():
            picture = sample_picture(self.model, self.spec, self.val, self.samples, self.device)
        _write_png(Path(out) / "samples" / f"detector.epoch{epoch:02d}.png", picture)


def _bce_dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    bce = functional.binary_cross_entropy_with_logits(logits.float(), target)
    prob = torch.sigmoid(logits.float())
    dice = 1.0 - (2.0 * (prob * target).sum() + 1.0) / (prob.sum() + target.sum() + 1.0)
    return bce + dice


def _targets(split: DetectorSplit, i: int, spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Core and text targets of a whole frame, at half resolution."""
    import cv2

    h, w = (int(v) for v in split.shapes[i])
    size = (-(-h // 2), -(-w // 2))
    vertical = split.vertical[i] if split.vertical is not None else None
    core = draw_core(split.lines[i], size, float(spec["shrink"]), vertical=vertical)
    text = cv2.resize(
        split.mask(i).astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA
    )
    return core, text


def _sample_indices(split: DetectorSplit, count: int = 4) -> list[int]:
    """A fixed handful of val images for the per-epoch picture: one of each label if possible."""
    chosen: list[int] = []
    for label in ("P", "H", "PH", "None"):
        for i, value in enumerate(split.labels):
            if value == label and i not in chosen:
                chosen.append(i)
                break
    return chosen[:count] or list(range(min(count, len(split))))


def sample_picture(
    model: nn.Module,
    spec: dict[str, Any],
    split: DetectorSplit,
    indices: list[int],
    device: str | torch.device,
) -> np.ndarray:
    """Return an RGB picture, one row per image: frame with boxes | core map | text map.

    True line boxes are drawn in red, predicted ones in green.
    """
    import cv2

    rows = []
    for i in indices:
        frame = split.frame(i)
        h, w = frame.shape[1:]
        maps = forward_frames(model, spec, [frame], device)[0]
        shown = cv2.cvtColor(frame[0], cv2.COLOR_GRAY2RGB)
        for x0, y0, x1, y1 in split.lines[i].astype(int):
            cv2.rectangle(shown, (x0, y0), (x1 - 1, y1 - 1), (255, 0, 0), 1)
        for x0, y0, x1, y1, _ in boxes_from_map(maps[0], spec, (h, w), maps[1]):
            cv2.rectangle(shown, (x0, y0), (x1 - 1, y1 - 1), (0, 255, 0), 1)
        panels = [shown]
        for m in maps:
            grey = (np.clip(m, 0, 1) * 255).astype(np.uint8)
            grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_NEAREST)
            panels.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB))
        rows.append(np.hstack(panels))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.vstack(rows)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    from medocr_cli.io.atomic import atomic_path

    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if ok:
        with atomic_path(path, durable=False) as tmp:
            tmp.write_bytes(data.tobytes())


def train_detector(
    data: Path, recipe: DetectorRecipe, config: FitConfig, device: str
) -> tuple[FitResult, dict[str, Any]]:
    """Train on the train split, pick the best epoch on val (F2), then report on the test split.

    The test report is stored in the best checkpoint's metrics under "test".
    """
    from medocr_cli.models import zoo

    torch.manual_seed(config.seed)
    train = load_split(data, "train")
    val = load_split(data, "val")
    task = DetectorTask(train, val, recipe, device, config.seed)
    config.trained_with.setdefault("crop", recipe.crop)
    result = fit(task, config)
    del train
    test = load_split(data, "test")
    report = zoo.measure_best(
        "detector",
        result.best_path,
        device,
        lambda best: evaluate_model(best.model, best.raw_spec(), test, device),
    )
    return result, report


def evaluate_detector(data: Path, weights: Path, split: str, device: str) -> dict[str, Any]:
    """Load a detector checkpoint and return its report on one split of a dataset."""
    from medocr_cli.models import zoo

    loaded = zoo.load("detector", weights, device)
    return evaluate_model(loaded.model, loaded.raw_spec(), load_split(data, split), device)


def stage_trainer() -> StageTrainer:
    """The detector's entry for `medocr train`, with its default recipe.

    AdamW with cosine decay on 256 px crops, 16 per step, one crop per train image per epoch;
    `--size` sets the crop size. The best epoch is picked by val F2 (line recall weighted four
    times precision).
    """

    def train(opts: TrainOptions, config: FitConfig, batch: int, size: int | None):
        recipe = DetectorRecipe(crop=size or 256, batch_size=batch)
        return train_detector(opts.data, recipe, config, opts.device)

    return StageTrainer(
        defaults=FitConfig(
            out=Path("runs/detector"),
            epochs=8,
            lr=3e-3,
            optimizer="adamw",
            weight_decay=1e-4,
            patience=3,
            monitor="val_f2",
            mode="max",
        ),
        batch_size=16,
        size=256,
        train=train,
        evaluate=evaluate_detector,
    )
