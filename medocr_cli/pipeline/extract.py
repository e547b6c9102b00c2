"""`run_extract`: text boxes for every frame of every input, from the stage the user chose.

Stages:
  printed      Tesseract on the display rendering (`stages/printed.py`), word boxes.
  handwritten  The text detector finds text lines; each line's tight box (close to the ink) is
               cut out with a small margin and read by the CRNN recognizer, and its cover box
               (recall first: what a scrub must remove) is reported. Boxes are kind
               "handwritten", source "detector+crnn", score the recognizer's confidence in its
               reading (boxes are never dropped for a low score: the text is there either
               way). An input that is itself one cropped line (short and wide, or one detected
               box covering most of it) is read whole, as that one line.
  auto         The detector runs on every frame (it is cheap, and it is the safety net). With
               `classifier.pt` in the weights folder, Tesseract runs on frames the classifier
               calls P or PH; frames it calls None are still read by both extractors when the
               detector finds text there, so a routing mistake costs time, never text. Without
               the classifier both extractors run on every frame. Detector lines whose tight
               box is mostly covered by Tesseract's words are not read again (no double
               report); the rest are read by the recognizer. The merge stage does the finer
               merging.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.errors import MedocrError, UsageError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import walk_inputs
from medocr_cli.models import zoo
from medocr_cli.stages.printed import PrintedConfig, check_tesseract, read_printed
from medocr_cli.types import Box, Label, Progress, notify_advance, notify_start

STAGES = ("printed", "handwritten", "auto")
#: An input at most this high and at least this many times wider than high is one text line.
LINE_MAX_HEIGHT = 100
LINE_MIN_ASPECT = 2.5
#: One detected box covering this share of a frame makes the frame one line.
WHOLE_LINE_COVER = 0.6
#: A detector line is left to Tesseract when its words cover this share of the line's box.
PRINTED_COVER = 0.4


@dataclass
class ExtractConfig:
    """How `run_extract` runs.

    Attributes:
        stage: printed, handwritten or auto.
        weights: Weights folder (None: `--weights` default, MEDOCR_WEIGHTS, shipped).
        device: Torch device of the models.
        batch_size: Frames per detector pass (crops per recognizer pass is 4x this).
        crop_margin: Pixels added around a detected line's tight box before it is read. 0:
            the tight box already holds the margin the recognizer was trained with; on ds1 val
            handwriting each 2 px more cost 2-3 points of CER.
        printed: Tesseract settings.
        beam_width: Prefixes kept by the recognizer's CTC beam search (1: greedy best path;
            None: the recognizer's default, `BEAM_WIDTH`).
        inputs: Image files or folders (recursed).
    """

    stage: str = "printed"
    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 8
    crop_margin: int = 0
    printed: PrintedConfig | None = None
    beam_width: int | None = None
    inputs: list[Path] = field(default_factory=list)


@dataclass
class ExtractResult:
    """Boxes found in one file (or the reason it could not be read)."""

    path: Path
    boxes: list[Box] = field(default_factory=list)
    label: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the `extract --json` shape."""
        out: dict[str, Any] = {
            "path": str(self.path),
            "label": self.label,
            "boxes": [b.to_json() for b in self.boxes],
        }
        if self.error:
            out["error"] = self.error
        return out


#: Reads printed text in one display frame: (frame, frame index, Tesseract settings) -> words.
PrintedReader = Callable[[np.ndarray, int, PrintedConfig | None], list[Box]]


@dataclass
class Models:
    """What an extract run reads with (None where the stage does not use a model).

    Attributes:
        detector: The text detector (`Detector`), for the handwritten and auto stages.
        recognizer: The line recognizer (`Recognizer`), likewise.
        classifier: The router (`Classifier`), for auto; without it both readers run.
        printed: The printed-text reader: Tesseract (`stages.printed.read_printed`) unless a
            caller passes another (the seam tests use); Tesseract is only checked for when it
            is the one used.
    """

    detector: Any = None
    recognizer: Any = None
    classifier: Any = None
    printed: PrintedReader = read_printed


def load_models(
    stage: str, weights: Path | None, device: str, beam_width: int | None = None
) -> Models:
    """Load what `stage` needs from the weights folder.

    `beam_width` sets the recognizer's beam search (None: its default).

    Raises:
        UsageError: Unknown stage.
        NotBuiltError: A weights file the stage needs is missing (named in the message).
        WeightsError: A weights file holds another model or cannot be read.
    """
    if stage not in STAGES:
        raise UsageError(f"unknown stage {stage!r}", hint=f"use one of {', '.join(STAGES)}")
    if stage == "printed":
        return Models()
    needed_by = f"--stage {stage}"
    detector_path = zoo.require("detector", weights, needed_by=needed_by)
    recognizer_path = zoo.require("recognizer", weights, needed_by=needed_by)
    from medocr_cli.models.detector.predictor import Detector
    from medocr_cli.models.recognizer.predictor import Recognizer

    models = Models(
        Detector(detector_path, device), Recognizer(recognizer_path, device, beam_width)
    )
    classifier_path = zoo.locate("classifier", weights)
    if stage == "auto" and classifier_path.is_file():
        from medocr_cli.models.classifier.predictor import Classifier

        models.classifier = Classifier(classifier_path, device)
    return models


def is_line_image(frame: np.ndarray) -> bool:
    """Whether a frame is itself one cropped text line (short and wide)."""
    h, w = frame.shape[:2]
    return h < LINE_MAX_HEIGHT and w >= LINE_MIN_ASPECT * h


def _covered_share(box: Box, others: Sequence[Box]) -> float:
    """Share of `box`'s area covered by the union of `others`."""
    if box.width <= 0 or box.height <= 0:
        return 0.0
    covered = np.zeros((box.height, box.width), bool)
    for o in others:
        x0, y0 = max(box.x0, o.x0) - box.x0, max(box.y0, o.y0) - box.y0
        x1, y1 = min(box.x1, o.x1) - box.x0, min(box.y1, o.y1) - box.y0
        if x1 > x0 and y1 > y0:
            covered[y0:y1, x0:x1] = True
    return float(covered.mean())


Line = tuple[Box, Box]
"""A detected line: the box to report (generous, for removal) and the box to read (tight)."""


def _line_boxes(frame: np.ndarray, index: int, found: list[Line]) -> list[Line]:
    """Return the lines to read in one frame: the whole frame when it is one line."""
    h, w = frame.shape[:2]
    if is_line_image(frame):
        whole = Box(index, 0, 0, w, h, "", "text", 1.0, "detector")
        return [(whole, whole)]
    if len(found) == 1:
        cover = found[0][0]
        if cover.width * cover.height >= WHOLE_LINE_COVER * h * w:
            whole = Box(index, 0, 0, w, h, "", "text", cover.score, "detector")
            return [(whole, whole)]
    return found


def _read_lines(
    frames: Sequence[np.ndarray], lines: list[list[Line]], models: Models, config: ExtractConfig
) -> list[list[Box]]:
    """Cut every line's tight box out of its frame (with the margin) and read it.

    The returned boxes are the lines' report boxes, with the text and the recognizer's
    confidence.
    """
    crops, owners = [], []
    m = config.crop_margin
    for n, (frame, pairs) in enumerate(zip(frames, lines, strict=True)):
        h, w = frame.shape[:2]
        for report, read in pairs:
            x0, y0 = max(0, read.x0 - m), max(0, read.y0 - m)
            x1, y1 = min(w, read.x1 + m), min(h, read.y1 + m)
            crops.append(np.ascontiguousarray(frame[y0:y1, x0:x1]))
            owners.append((n, report))
    readings = models.recognizer.read(crops, batch_size=4 * config.batch_size) if crops else []
    out: list[list[Box]] = [[] for _ in frames]
    for (n, box), (text, confidence) in zip(owners, readings, strict=True):
        out[n].append(
            Box(
                box.frame,
                box.x0,
                box.y0,
                box.x1,
                box.y1,
                text,
                "handwritten",
                float(confidence),
                "detector+crnn",
            )
        )
    return out


def extract_frames(
    frames: Sequence[np.ndarray],
    indices: Sequence[int],
    models: Models,
    config: ExtractConfig,
) -> list[Box]:
    """Return the boxes of a batch of display frames of one file, by `config.stage`."""
    if config.stage == "printed":
        return [
            b
            for f, i in zip(frames, indices, strict=True)
            for b in models.printed(f, i, config.printed)
        ]
    found = models.detector.detect_pairs(frames, config.batch_size, frame_indices=indices)
    lines = [_line_boxes(f, i, d) for f, i, d in zip(frames, indices, found, strict=True)]
    if config.stage == "handwritten":
        return [b for boxes in _read_lines(frames, lines, models, config) for b in boxes]
    verdicts = models.classifier.predict(frames) if models.classifier is not None else None
    printed: list[list[Box]] = []
    for n, (frame, index) in enumerate(zip(frames, indices, strict=True)):
        verdict = verdicts[n] if verdicts is not None else None
        wanted = verdict is None or verdict.has_printed or (verdict.label == "None" and found[n])
        printed.append(models.printed(frame, index, config.printed) if wanted else [])
    unread = [
        [line for line in frame_lines if _covered_share(line[1], words) < PRINTED_COVER]
        for frame_lines, words in zip(lines, printed, strict=True)
    ]
    written = _read_lines(frames, unread, models, config)
    return [b for p, w in zip(printed, written, strict=True) for b in (*p, *w)]


def _label(boxes: Sequence[Box]) -> str:
    printed = any(b.kind == "printed" for b in boxes)
    written = any(b.kind == "handwritten" for b in boxes)
    return Label.of(printed, written)


def run_extract(
    config: ExtractConfig,
    progress: Progress[ExtractResult] | None = None,
    *,
    models: Models | None = None,
) -> list[ExtractResult]:
    """Read text in every frame of every image file under `config.inputs`.

    Args:
        config: The stage, its models' weights and settings, and the inputs (files or
            folders, recursed; non-images are passed over).
        progress: Started with the number of files, advanced with each file's result as soon
            as it is complete.
        models: Already loaded models and readers (loaded from `config.weights` when not
            given): the seam tests and embedding callers use.

    A file's label is what was found in it: P for printed boxes, H for handwritten, PH, None.
    A file that cannot be read gets its one-line error and the run goes on.

    Raises:
        UsageError: Unknown stage.
        ToolMissingError: Tesseract is needed and not installed.
        NotBuiltError: A weights file the stage needs is missing.
    """
    if config.stage not in STAGES:
        raise UsageError(f"unknown stage {config.stage!r}", hint=f"use one of {', '.join(STAGES)}")
    files = [item.path for item in walk_inputs(config.inputs) if item.candidate]
    uses_tesseract = models is None or models.printed is read_printed
    if config.stage in ("printed", "auto") and uses_tesseract:
        check_tesseract()
    if models is None:
        models = load_models(config.stage, config.weights, config.device, config.beam_width)
    notify_start(progress, len(files))
    results = []
    for path in files:
        result = ExtractResult(path)
        try:
            scan = read_scan(path)
            for start in range(0, scan.n_frames, config.batch_size):
                indices = list(range(start, min(scan.n_frames, start + config.batch_size)))
                frames = [scan.display(i) for i in indices]
                result.boxes.extend(extract_frames(frames, indices, models, config))
            result.label = _label(result.boxes)
        except MedocrError as exc:
            result.error = exc.one_line()
            result.boxes.clear()
        results.append(result)
        notify_advance(progress, result)
    return results
