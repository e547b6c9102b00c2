"""Training and evaluating the CRNN + CTC line recognizer on a generated dataset.

It trains on the printed and the handwritten lines of the train split (the printed ones are
more data for the same letters), picks the best epoch by the character error rate (CER) on the
handwritten lines of the val split, and reports CER and exact-line rate on the test split, for
handwritten and printed lines apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from medocr_cli.errors import UsageError
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.recognizer.data import (
    Augment,
    LineSet,
    eval_sample,
    load_lines,
    nominal_widths,
    train_sample,
    width_batches,
)
from medocr_cli.models.recognizer.decode import BEAM_WIDTH, encode, read_batch
from medocr_cli.models.recognizer.lines import pad_batch
from medocr_cli.models.recognizer.spec import (
    DEFAULT_CHANNELS,
    HEIGHT,
    recognizer_spec,
    spec_width_scale,
)
from medocr_cli.models.registry import build
from medocr_cli.training.loop import FitConfig, FitResult, fit
from medocr_cli.training.metrics import character_error_rate
from medocr_cli.training.trainer import StageTrainer, TrainOptions

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class RecognizerRecipe:
    """Model and data settings of a recognizer run (the loop's settings are in FitConfig).

    Attributes:
        batch_size: Lines per training step.
        channels: Output channels of the CNN's convolutions.
        hidden: LSTM units per direction.
        dropout: Dropout before and after the LSTM.
        handwritten_boost: Extra share of handwritten lines drawn again in each epoch (0.5: half
            of them twice), since handwriting is what this model is for.
        augment: The training distortions.
    """

    batch_size: int = 32
    channels: tuple[int, ...] = DEFAULT_CHANNELS
    hidden: int = 128
    dropout: float = 0.1
    handwritten_boost: float = 0.5
    augment: Augment = field(default_factory=Augment)


class RecognizerTask:
    """The recognizer as a `Task` of the fit loop."""

    name = "recognizer"

    def __init__(
        self,
        train: LineSet,
        val: LineSet,
        recipe: RecognizerRecipe,
        device: str,
        seed: int,
        model: nn.Module | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec or recognizer_spec(
            channels=recipe.channels, hidden=recipe.hidden, dropout=recipe.dropout
        )
        self.vocab: str = self.spec["vocab"]
        self.frames = int(self.spec.get("frames_per_column", 1))
        self.width_scale = spec_width_scale(self.spec)
        self.device = torch.device(device)
        self.model = (model or build(self.spec)).to(self.device)
        self.recipe, self.seed = recipe, seed
        known = set(self.vocab)
        keep = [i for i, text in enumerate(train.texts) if set(text) <= known and text.strip()]
        self.train = train if len(keep) == len(train) else train.subset(keep)
        self.labels = [
            torch.tensor(encode(t, self.vocab), dtype=torch.long) for t in self.train.texts
        ]
        self.widths = nominal_widths(self.train, self.width_scale)
        self.handwritten = np.array(
            [i for i, k in enumerate(self.train.kinds) if k == "handwritten"], dtype=np.int64
        )
        self.epoch_size = len(self.train) + int(len(self.handwritten) * recipe.handwritten_boost)
        self.val_hand = val.of_kind("handwritten")
        self.val_printed = val.of_kind("printed")
        self.criterion = nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)
        self._val_inputs: dict[int, list[np.ndarray]] = {}
        self.last_val: list[tuple[str, float]] = []

    def n_train_batches(self) -> int:
        """Return the number of full training batches per epoch."""
        return max(1, self.epoch_size // self.recipe.batch_size)

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        """Yield augmented, width-bucketed batches (x, targets, input lengths, target lengths).

        The epoch's randomness comes from (seed, epoch), so a resumed run sees the same batches.
        """
        rng = np.random.default_rng([self.seed, epoch])
        n_extra = self.epoch_size - len(self.train)
        extra = rng.choice(self.handwritten, n_extra, replace=n_extra > len(self.handwritten))
        pool = np.concatenate([np.arange(len(self.train)), extra])
        batches = width_batches(self.widths[pool], self.recipe.batch_size, rng)
        for _, chunk in zip(range(self.n_train_batches()), batches, strict=False):
            index = pool[chunk]
            lines = [
                train_sample(self.train, int(i), rng, self.recipe.augment, self.width_scale)
                for i in index
            ]
            x, lengths = pad_batch(lines, self.frames)
            labels = [self.labels[int(i)] for i in index]
            yield (
                x,
                torch.cat(labels),
                torch.tensor(lengths, dtype=torch.long),
                torch.tensor([len(t) for t in labels], dtype=torch.long),
            )

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """CTC loss of one batch (mean over lines of the loss per target character)."""
        x, targets, input_lengths, target_lengths = batch
        logits = self.model(x.to(self.device, non_blocking=True))
        log_probs = logits.float().log_softmax(2)
        loss = self.criterion(log_probs, targets.to(self.device), input_lengths, target_lengths)
        return loss, {"n": float(x.shape[0])}

    def _inputs(self, lines: LineSet) -> list[np.ndarray]:
        key = id(lines)
        if key not in self._val_inputs:
            self._val_inputs[key] = [
                eval_sample(lines, i, self.width_scale) for i in range(len(lines))
            ]
        return self._val_inputs[key]

    def predict(
        self, lines: LineSet, batch_size: int = 64
    ) -> tuple[list[tuple[str, float]], float]:
        """Return (text, score) per line and the mean CTC loss, without augmentation."""
        inputs = self._inputs(lines)
        return read_inputs(self.model, self.spec, inputs, lines.texts, self.device, batch_size)

    def validate(self) -> dict[str, float]:
        """CER on the handwritten and on the printed val lines, and the handwritten loss."""
        hand, loss = self.predict(self.val_hand)
        printed, _ = self.predict(self.val_printed)
        self.last_val = hand
        hand_texts = [t for t, _ in hand]
        return {
            "val_loss": loss,
            "val_cer": character_error_rate(self.val_hand.texts, hand_texts),
            "val_cer_printed": character_error_rate(
                self.val_printed.texts, [t for t, _ in printed]
            ),
            "val_exact": exact_rate(self.val_hand.texts, hand_texts),
        }

    def export(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Pack the current model with its spec and metrics."""
        return pack(self.model, self.spec, metrics=metrics)

    def after_epoch(self, epoch: int, out: Path) -> None:
        """Draw 24 handwritten val lines with their readings into `recognizer.samples.png`."""
        if self.last_val:
            draw_samples(self.val_hand, self.last_val, out / "recognizer.samples.png", epoch)


def read_inputs(
    model: nn.Module,
    spec: dict[str, Any],
    inputs: Sequence[np.ndarray],
    texts: Sequence[str] | None,
    device: torch.device | str,
    batch_size: int = 64,
    beam_width: int = BEAM_WIDTH,
) -> tuple[list[tuple[str, float]], float]:
    """Read normalised (32, W) inputs in width-sorted batches; also the mean CTC loss of `texts`.

    Lines are read as the recognize stage reads them (`read_batch`, `beam_width` prefixes).

    Returns:
        (text, score) per input, in input order, and the mean loss (nan without `texts`).
    """
    device = torch.device(device)
    vocab, frames = spec["vocab"], int(spec.get("frames_per_column", 1))
    criterion = nn.CTCLoss(blank=0, reduction="none", zero_infinity=True)
    widths = np.array([a.shape[1] for a in inputs])
    results: list[tuple[str, float]] = [("", 0.0)] * len(inputs)
    total, counted = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for index in width_batches(widths, batch_size, None):
            logits, lengths, readings = read_batch(
                model, [inputs[int(i)] for i in index], vocab, frames, beam_width, device
            )
            for i, reading in zip(index, readings, strict=True):
                results[int(i)] = reading
            if texts is not None:
                known = set(vocab)
                rows = [k for k, i in enumerate(index) if set(texts[int(i)]) <= known]
                if rows:
                    labels = [encode(texts[int(index[k])], vocab) for k in rows]
                    loss = criterion(
                        logits.log_softmax(2)[:, rows],
                        torch.tensor([c for lab in labels for c in lab], device=device),
                        torch.tensor([lengths[k] for k in rows], dtype=torch.long),
                        torch.tensor([len(lab) for lab in labels], dtype=torch.long),
                    )
                    per_char = loss.cpu() / torch.tensor([max(1, len(lab)) for lab in labels])
                    total += float(per_char.sum())
                    counted += len(rows)
    model.train(was_training)
    return results, (total / counted if counted else float("nan"))


def exact_rate(truths: Sequence[str], predictions: Sequence[str]) -> float:
    """Return the share of lines read exactly right."""
    if not truths:
        return 0.0
    return sum(t == p for t, p in zip(truths, predictions, strict=True)) / len(truths)


def draw_samples(
    lines: LineSet, readings: Sequence[tuple[str, float]], target: Path, epoch: int, n: int = 24
) -> None:
    """Write a picture of `n` evaluation crops with truth (green) and reading (red when wrong)."""
    import cv2

    from medocr_cli.io.atomic import atomic_path
    from medocr_cli.models.recognizer.lines import to_line

    step = max(1, len(lines) // n)
    picks = list(range(0, len(lines), step))[:n]
    rows = []
    for i in picks:
        crop = to_line(lines.eval_crop(i), max_width=400)
        row = np.full((44, 820, 3), 255, dtype=np.uint8)
        row[6:38, 4 : 4 + crop.shape[1]] = crop[:, :, None]
        ok = readings[i][0] == lines.texts[i]
        cv2.putText(row, lines.texts[i], (412, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 140, 0), 1)
        colour = (0, 140, 0) if ok else (0, 0, 220)
        cv2.putText(row, readings[i][0], (412, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
        rows.append(row)
    if not rows:
        return
    head = np.full((24, 820, 3), 255, dtype=np.uint8)
    cv2.putText(
        head, f"epoch {epoch}: truth / reading", (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0)
    )
    with atomic_path(target, durable=False) as tmp, open(tmp, "wb") as fh:
        fh.write(cv2.imencode(".png", np.concatenate([head, *rows]))[1].tobytes())


def evaluate_model(
    model: nn.Module, spec: dict[str, Any], lines: LineSet, device: str, batch_size: int = 64
) -> dict[str, Any]:
    """Return CER and exact-line rates of `model` on `lines`, by kind and overall.

    Recognised text is never put in the report, only the error figures (and CER per
    handwriting font, to see which styles fail).
    """
    scale = spec_width_scale(spec)
    inputs = [eval_sample(lines, i, scale) for i in range(len(lines))]
    started = time.perf_counter()
    readings, loss = read_inputs(model, spec, inputs, lines.texts, device, batch_size)
    seconds = time.perf_counter() - started
    predicted = [t for t, _ in readings]
    report: dict[str, Any] = {"n_lines": len(lines), "loss": loss}
    for kind in ("handwritten", "printed"):
        rows = [i for i, k in enumerate(lines.kinds) if k == kind]
        truths = [lines.texts[i] for i in rows]
        preds = [predicted[i] for i in rows]
        report[f"cer_{kind}"] = character_error_rate(truths, preds) if rows else float("nan")
        report[f"exact_{kind}"] = exact_rate(truths, preds) if rows else float("nan")
        report[f"n_{kind}"] = len(rows)
    report["cer"] = character_error_rate(lines.texts, predicted)
    report["exact"] = exact_rate(lines.texts, predicted)
    report["lines_per_s"] = len(lines) / seconds if seconds > 0 else float("nan")
    fonts = sorted({f for f, k in zip(lines.fonts, lines.kinds, strict=True) if k == "handwritten"})
    report["cer_handwritten_by_font"] = {
        font: character_error_rate(
            [lines.texts[i] for i in range(len(lines)) if lines.fonts[i] == font],
            [predicted[i] for i in range(len(lines)) if lines.fonts[i] == font],
        )
        for font in fonts
    }
    return report


def train_recognizer(
    data: Path, recipe: RecognizerRecipe, config: FitConfig, device: str
) -> tuple[FitResult, dict[str, Any]]:
    """Train on the train split, pick the best epoch on val, then report it on the test split.

    A fine-tune (`config.init`) keeps the network of the checkpoint it starts from (its
    channels, LSTM size and width scale, so a widened checkpoint trains as such), and a resumed
    run the network of its own best checkpoint; the recipe's network settings only shape a
    fresh one. The test report is stored in the best checkpoint's metrics.
    """
    from medocr_cli.models import zoo

    torch.manual_seed(config.seed)
    train = load_lines(data, "train")
    val = load_lines(data, "val")
    own_best = Path(config.out) / zoo.RECOGNIZER_FILE
    spec = None
    if config.resume and own_best.is_file():
        spec = zoo.read("recognizer", own_best)["spec"]  # the network this run has been training
    elif config.init is not None:
        spec = zoo.read("recognizer", config.init, needed_by="--init")["spec"]
    task = RecognizerTask(train, val, recipe, device, config.seed, spec=spec)
    result = fit(task, config)
    test = load_lines(data, "test")
    report = zoo.measure_best(
        "recognizer",
        result.best_path,
        device,
        lambda best: evaluate_model(best.model, best.raw_spec(), test, device),
    )
    return result, report


def evaluate_recognizer(data: Path, weights: Path, split: str, device: str) -> dict[str, Any]:
    """Load a recognizer checkpoint and return its report on one split of a dataset."""
    from medocr_cli.models import zoo

    loaded = zoo.load("recognizer", weights, device)
    return evaluate_model(loaded.model, loaded.raw_spec(), load_lines(data, split), device)


def stage_trainer() -> StageTrainer:
    """The recognizer's entry for `medocr train`, with its default recipe.

    AdamW with warm-up and cosine decay, gradient clipping (CTC gradients spike early on).
    """

    def train(opts: TrainOptions, config: FitConfig, batch: int, size: int | None):
        if size not in (None, HEIGHT):
            raise UsageError(
                f"the recognizer reads lines {HEIGHT} pixels high; --size {size} cannot be used",
                hint="leave --size out",
            )
        recipe = RecognizerRecipe(batch_size=batch)
        return train_recognizer(opts.data, recipe, config, opts.device)

    return StageTrainer(
        defaults=FitConfig(
            out=Path("runs/recognizer"),
            epochs=6,
            lr=3e-3,
            optimizer="adamw",
            weight_decay=0.01,
            patience=4,
            monitor="val_cer",
            mode="min",
            grad_clip=5.0,
        ),
        batch_size=32,
        size=None,
        train=train,
        evaluate=evaluate_recognizer,
    )
