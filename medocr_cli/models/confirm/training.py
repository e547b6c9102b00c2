"""Training and evaluating the text / non-text check on regions the detector proposes.

Regions are mined once per split (`data.py`); each epoch draws up to `TEXT_PER_EPOCH` text
regions and as many non-text ones, jitters each box by up to `JITTER` of its height and flips
the grey channel's sign half the time (polarity must not matter). The threshold stored with the
weights is the highest that still keeps `KEEP_TEXT` of the val text regions: recall comes
first, and a region the check would not remove is still removed when Tesseract reads words
there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from medocr_cli.models.checkpoint import pack
from medocr_cli.models.confirm.data import MinedSplit, Region, mine_split, mining_detector
from medocr_cli.models.confirm.network import collate, region_input, region_scalars
from medocr_cli.models.confirm.spec import confirm_spec
from medocr_cli.models.registry import build
from medocr_cli.training.loop import FitConfig, FitResult, fit
from medocr_cli.training.trainer import StageTrainer, TrainOptions

#: Share of val text regions the stored threshold keeps. A region the check rejects is still
#: read by Tesseract, and most lines are covered by more than one region.
KEEP_TEXT = 0.995
#: Share of val text regions kept at the operating point that picks the best epoch (less
#: sensitive to the few mislabelled or one-glyph regions at the very bottom of the text scores).
MONITOR_KEEP = 0.99
#: Box jitter during training, in region heights.
JITTER = 0.1
#: Text regions drawn per epoch at most (as many non-text ones join them).
TEXT_PER_EPOCH = 4000


@dataclass
class ConfirmRecipe:
    """Data settings of a run (the loop's settings are in FitConfig)."""

    batch_size: int = 64
    detector: Path | None = None
    limit: int | None = None
    quiet: bool = False


def _prepared(
    region: Region, spec: dict[str, Any], rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = region.box
    if rng is not None:
        h = max(1, y1 - y0)
        d = rng.uniform(-JITTER, JITTER, 4) * h
        rows, cols = region.crop.shape[:2]
        x0 = int(np.clip(x0 + d[0], 0, cols - 2))
        x1 = int(np.clip(x1 + d[1], x0 + 2, cols))
        y0 = int(np.clip(y0 + d[2], 0, rows - 2))
        y1 = int(np.clip(y1 + d[3], y0 + 2, rows))
    box = (x0, y0, x1, y1)
    x = region_input(region.crop, box, spec)
    if rng is not None and rng.random() < 0.5:
        x[0] = -x[0]
    return x, region_scalars(box)


def threshold_for(scores: np.ndarray, labels: np.ndarray, keep: float = KEEP_TEXT) -> float:
    """Return the highest threshold that keeps at least `keep` of the text regions."""
    text = np.sort(scores[labels == 1])
    if text.size == 0:
        return 0.5
    k = int(np.floor((1.0 - keep) * text.size))
    return float(max(0.0, min(text[k], 0.99)) - 1e-6)


def measure(scores: np.ndarray, split: MinedSplit, threshold: float) -> dict[str, Any]:
    """Return text kept and non-text rejected at `threshold`, overall and by origin."""
    labels = np.array([r.label for r in split.regions])
    origins = np.array([r.origin for r in split.regions])
    keep = scores >= threshold
    out: dict[str, Any] = {
        "threshold": round(float(threshold), 4),
        "text_regions": int((labels == 1).sum()),
        "non_text_regions": int((labels == 0).sum()),
        "text_kept": round(float(keep[labels == 1].mean()), 4) if (labels == 1).any() else None,
        "non_text_rejected": round(float((~keep[labels == 0]).mean()), 4)
        if (labels == 0).any()
        else None,
    }
    for origin in sorted(set(origins.tolist())):
        sel = (origins == origin) & (labels == 0)
        if sel.any():
            out[f"non_text_rejected_{origin}"] = round(float((~keep[sel]).mean()), 4)
    return out


class ConfirmTask:
    """The text / non-text check as a `Task` of the fit loop."""

    name = "confirm"

    def __init__(
        self, train: MinedSplit, val: MinedSplit, recipe: ConfirmRecipe, device: str, seed: int
    ) -> None:
        self.spec = confirm_spec()
        self.model = build(self.spec)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.train_split, self.val_split = train, val
        self.recipe = recipe
        self.rng = np.random.default_rng(seed)
        self.text = [r for r in train.regions if r.label == 1]
        self.non_text = [r for r in train.regions if r.label == 0]
        self.per_epoch = 2 * min(len(self.text), TEXT_PER_EPOCH)
        self.val_inputs = [_prepared(r, self.spec, None) for r in val.regions]
        self.val_labels = np.array([r.label for r in val.regions])
        self.threshold = 0.5

    def n_train_batches(self) -> int:
        """Batches per epoch: up to TEXT_PER_EPOCH text regions plus as many non-text ones."""
        return max(1, (self.per_epoch + self.recipe.batch_size - 1) // self.recipe.batch_size)

    def train_batches(self, epoch: int) -> Iterator[Any]:
        """Yield (x, scalars, widths, labels) batches of jittered, shuffled regions."""
        n = min(len(self.text), TEXT_PER_EPOCH)
        picks = [self.text[i] for i in self.rng.permutation(len(self.text))[:n]]
        if self.non_text:
            idx = self.rng.choice(len(self.non_text), n, replace=len(self.non_text) < n)
            picks += [self.non_text[i] for i in idx]
        order = self.rng.permutation(len(picks))
        size = self.recipe.batch_size
        for start in range(0, len(order), size):
            chosen = [picks[i] for i in order[start : start + size]]
            prepared = [_prepared(r, self.spec, self.rng) for r in chosen]
            x, s, w = collate([p[0] for p in prepared], [p[1] for p in prepared])
            y = torch.tensor([float(r.label) for r in chosen])
            yield x, s, w, y

    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """Binary cross-entropy of a batch, with the count of right calls at 0.5."""
        x, s, w, y = (t.to(self.device) for t in batch)
        logits = self.model(x, s, w)
        loss = functional.binary_cross_entropy_with_logits(logits, y)
        correct = float(((logits > 0).float() == y).sum())
        return loss, {"n": float(len(y)), "correct": correct}

    def scores(self, inputs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Return P(text) of prepared val inputs."""
        out = []
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(inputs), 128):
                chunk = inputs[start : start + 128]
                x, s, w = collate([p[0] for p in chunk], [p[1] for p in chunk])
                logits = self.model(x.to(self.device), s.to(self.device), w.to(self.device))
                out.append(torch.sigmoid(logits.float()).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def validate(self) -> dict[str, float]:
        """Choose the threshold that keeps KEEP_TEXT of val text; report what it rejects."""
        scores = self.scores(self.val_inputs)
        self.threshold = threshold_for(scores, self.val_labels)
        report = measure(scores, self.val_split, self.threshold)
        at_99 = measure(
            scores, self.val_split, threshold_for(scores, self.val_labels, MONITOR_KEEP)
        )
        return {
            "val_rejected_at_99": float(at_99["non_text_rejected"] or 0.0),
            "val_rejected": float(report["non_text_rejected"] or 0.0),
            "val_text_kept": float(report["text_kept"] or 0.0),
            "val_threshold": float(self.threshold),
        }

    def export(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Pack the current network with the threshold chosen on val."""
        spec = {**self.spec, "threshold": float(self.threshold)}
        return pack(self.model, spec, metrics=metrics)

    def after_epoch(self, epoch: int, out: Path) -> None:
        """Nothing to draw per epoch."""
        return None


def proposing_detector(recipe: ConfirmRecipe) -> Path:
    """The detector whose proposals are mined: the recipe's, else the weights folder's."""
    from medocr_cli.models import zoo

    return recipe.detector or zoo.locate("detector")


def _mine(data: Path, split: str, recipe: ConfirmRecipe, device: str) -> MinedSplit:
    from medocr_cli.training.loop import progress_bar
    from medocr_cli.training.manifest import records_of

    detector = mining_detector(proposing_detector(recipe), device)
    total = len(records_of(data, split)[: recipe.limit])
    with progress_bar(recipe.quiet, f"confirm: mining {split}") as progress:
        bar = progress.add_task(split, total=total, info="")
        return mine_split(
            data, split, detector, limit=recipe.limit, advance=lambda n: progress.advance(bar, n)
        )


def evaluate_split(checkpoint_path: Path, split: MinedSplit, device: str = "cpu") -> dict[str, Any]:
    """Score a mined split with a checkpoint and measure it at the checkpoint's threshold."""
    from medocr_cli.models.confirm.predictor import Confirmer

    confirmer = Confirmer(checkpoint_path, device)
    prepared = [_prepared(r, confirmer.spec, None) for r in split.regions]
    scores = confirmer.score_inputs([p[0] for p in prepared], [p[1] for p in prepared])
    return measure(scores, split, confirmer.threshold)


def train_confirm(
    data: Path, recipe: ConfirmRecipe, config: FitConfig, device: str
) -> tuple[FitResult, dict[str, Any]]:
    """Mine, train on train, pick the best epoch on val, report on test (stored in metrics)."""
    from medocr_cli.io.checkpoints import load_checkpoint, save_checkpoint

    torch.manual_seed(config.seed)
    train = _mine(data, "train", recipe, device)
    val = _mine(data, "val", recipe, device)
    config.trained_with.update(
        train_regions=train.counts,
        val_regions=val.counts,
        detector=str(proposing_detector(recipe)),
    )
    task = ConfirmTask(train, val, recipe, device, config.seed)
    result = fit(task, config)
    test = _mine(data, "test", recipe, device)
    report = evaluate_split(result.best_path, test, device)
    best = load_checkpoint(result.best_path)
    best["metrics"]["test"] = report
    save_checkpoint(result.best_path, best)
    return result, report


def evaluate_confirm(data: Path, weights: Path, split: str, device: str) -> dict[str, Any]:
    """Mine one split with the shipped detector and measure a checkpoint on it."""
    return evaluate_split(weights, _mine(data, split, ConfirmRecipe(), device), device)


def stage_trainer() -> StageTrainer:
    """The text / non-text check's entry for `medocr train`, with its default recipe.

    AdamW at 2e-3, 64 regions per step, 10 epochs of up to 4,000 text regions plus as many
    non-text ones (drawn anew each epoch); the best epoch is the one that rejects the most
    val non-text regions while keeping 99% of the text ones, and its stored threshold keeps
    99.5% of them.
    """

    def train(opts: TrainOptions, config: FitConfig, batch: int, size: int | None):
        recipe = ConfirmRecipe(
            batch_size=batch,
            detector=opts.extra.get("detector"),
            limit=opts.extra.get("limit"),
            quiet=opts.quiet,
        )
        return train_confirm(opts.data, recipe, config, opts.device)

    return StageTrainer(
        defaults=FitConfig(
            out=Path("runs/confirm"),
            epochs=10,
            lr=2e-3,
            optimizer="adamw",
            weight_decay=1e-4,
            patience=4,
            monitor="val_rejected_at_99",
            mode="max",
        ),
        batch_size=64,
        size=None,
        train=train,
        evaluate=evaluate_confirm,
    )
