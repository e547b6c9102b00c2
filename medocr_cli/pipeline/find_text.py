"""Finding the text to remove in display frames: the learned finder and the classical one.

The learned finder is what `scrub` uses by default. Per frame:

1. The text detector runs on every frame. It is the primary finder (line recall ~99% on unseen
   fonts, printed and handwritten, both polarities) and it is cheap (tens of milliseconds per
   512 px frame), so no routing decision can keep it from looking.
2. The classifier labels every frame (None / P / H / PH). Its job is the safety net, not a gate:
   a frame it calls text (P(None) below `FALLBACK_BELOW`) where the detector found nothing is
   searched again with the classical full-frame Tesseract pass, and what that finds is removed.
3. With `tesseract="regions"`, frames the classifier calls P or PH get Tesseract on crops
   around the detector's lines (grown by a line height or two), so a printed word next to a
   detected line that the detector cut short is removed too, without reading whole frames.

A multi-frame scan's frames after the first are searched against a key frame
(`pipeline/scrub/key_frames.py`, `LearnedFinder.find_partial`): the detector still runs on every
frame, but the classifier's verdict and the decisions on regions whose pixels did not change
are the key frame's.

The classical finder is the first `scrub`: Tesseract on the whole frame, several renderings.
Both return `Finding`s: the boxes to remove, the detector's text-probability map (the mask stage
narrows boxes to the text pixels with it) and the classifier's label.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.errors import UsageError
from medocr_cli.models import zoo
from medocr_cli.stages.diagnostic import flow_possible, in_colour_flow
from medocr_cli.stages.frame_change import Change, overlaps_any
from medocr_cli.stages.merge import merge_boxes
from medocr_cli.stages.printed import PrintedConfig, read_printed
from medocr_cli.stages.region_reading import (
    REGION_PRINTED,
    read_regions,
    read_stacked,
    region_crops,
)
from medocr_cli.types import Box, FindMethod, TesseractMode

FINDERS = tuple(f.value for f in FindMethod)
__all__ = [
    "REGION_PRINTED",
    "ClassicalFinder",
    "Finding",
    "LearnedFinder",
    "make_finder",
    "read_regions",
    "read_stacked",
    "region_crops",
]
#: P(text) the check must give a region lying in colour flow (see `confirm_boxes`).
FLOW_STRICT = 0.9
#: A frame whose classifier P(None) is below this, with no detected line, is read by the whole-
#: frame Tesseract pass. On the 448 ds1 test images every text image had a detected line, so
#: no threshold changed what was removed; the cost is text-free images sent to Tesseract for
#: nothing: 1 of 112 at 0.3-0.7, 4 at 0.9, 106 at 0.99. 0.9 buys the widest net for 4%.
FALLBACK_BELOW = 0.9
TESSERACT_MODES = tuple(t.value for t in TesseractMode)


@dataclass
class Finding:
    """What was found in one frame.

    Attributes:
        boxes: Boxes to remove (merged, in reading order).
        prob_map: The detector's text-pixel probability map at frame size, or None.
        label: The classifier's label of the frame, or None without a classifier.
        fallback: True when the classifier's doubt sent the frame to the full Tesseract pass.
        seconds: Time per step (classify, detect, confirm, tesseract, merge), for the report.
        kept: Regions the detector proposed that the confirm step judged not text, so they
            were left as they are (`LearnedFinder.confirm_boxes`).
        proposals: The detector's regions before the confirm step (a key frame's are what a
            later frame's regions are matched against, `LearnedFinder.find_partial`).
        verdict: The classifier's verdict (label and probabilities), or None.
        reused: Regions taken unchanged from the key frame (`LearnedFinder.find_partial`).
        key_index: The key frame this frame was searched against, None for a full search.
    """

    boxes: list[Box]
    prob_map: np.ndarray | None = None
    label: str | None = None
    fallback: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    kept: list[Box] = field(default_factory=list)
    proposals: list[Box] = field(default_factory=list)
    verdict: Any = None
    reused: int = 0
    key_index: int | None = None


def _add(seconds: dict[str, float], key: str, t0: float) -> float:
    now = time.perf_counter()
    seconds[key] = seconds.get(key, 0.0) + now - t0
    return now


class ClassicalFinder:
    """Tesseract on the whole frame in several renderings (the first scrub's finder)."""

    name = "tesseract"

    def __init__(self, printed: PrintedConfig | None = None) -> None:
        """Keep the Tesseract settings."""
        self.printed = printed or PrintedConfig()

    def find(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Finding]:
        """Return one `Finding` per frame."""
        out = []
        for frame, index in zip(frames, indices, strict=True):
            t0 = time.perf_counter()
            boxes = read_printed(frame, index, self.printed)
            out.append(Finding(boxes, seconds={"tesseract": time.perf_counter() - t0}))
        return out

    def search(self, frame: np.ndarray, index: int) -> list[Box]:
        """Search a cleaned frame for text again (verify)."""
        return read_printed(frame, index, self.printed)


class LearnedFinder:
    """Detector on every frame, classifier as the safety net, Tesseract where it helps."""

    name = "learned"

    def __init__(
        self,
        weights: Path | None = None,
        device: str = "cpu",
        *,
        tesseract: str = "off",
        fallback_below: float = FALLBACK_BELOW,
        printed: PrintedConfig | None = None,
        batch_size: int = 8,
        confirm: bool = True,
        confirmer: Any = None,
    ) -> None:
        """Load the detector (required), the classifier and the text / non-text check.

        The classifier and the check are used when their weights are in the folder.

        Args:
            weights: Weights folder (None: MEDOCR_WEIGHTS or the shipped one).
            device: Torch device of both models.
            tesseract: "regions" (Tesseract around detected lines of frames called P/PH),
                "full" (the classical whole-frame pass on frames called P/PH), or "off".
            fallback_below: A frame whose P(None) is below this, with no detected line, gets
                the full Tesseract pass.
            printed: Settings of the full Tesseract pass.
            batch_size: Frames per forward pass.
            confirm: Confirm each detected region before it is removed (`confirm_boxes`);
                False removes every detected region, as before the check existed.
            confirmer: The text / non-text check to use instead of `confirm.pt` from the
                weights folder (a seam for tests: anything with `threshold` and
                `score(frame, boxes)`).

        Raises:
            UsageError: Unknown Tesseract mode.
            NotBuiltError: The detector's weights are missing.
            WeightsError: A weights file holds another model or cannot be read.
        """
        if tesseract not in TESSERACT_MODES:
            raise UsageError(
                f"unknown Tesseract mode {tesseract!r}", hint=f"use {', '.join(TESSERACT_MODES)}"
            )
        from medocr_cli.models.detector.predictor import Detector

        self.detector = Detector.from_weights_dir(
            weights, device, needed_by="the learned finder", instead="use --find tesseract"
        )
        self.classifier: Any = None
        if zoo.locate("classifier", weights).is_file():
            from medocr_cli.models.classifier.predictor import Classifier

            self.classifier = Classifier.from_weights_dir(weights, device)
        self.confirmer: Any = confirmer if confirm else None
        if confirm and confirmer is None and zoo.locate("confirm", weights).is_file():
            from medocr_cli.models.confirm.predictor import Confirmer

            self.confirmer = Confirmer.from_weights_dir(weights, device)
        self.tesseract = tesseract
        self.fallback_below = fallback_below
        self.printed = printed or PrintedConfig()
        self.batch_size = batch_size

    def find(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Finding]:
        """Return one `Finding` per frame (frames are batched through the models together)."""
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        verdicts = (
            self.classifier.predict(frames, self.batch_size)
            if self.classifier is not None
            else None
        )
        t = _add(seconds, "classify", t)
        pairs = self.detector.detect_with_maps(frames, self.batch_size, indices)
        t = _add(seconds, "detect", t)
        share = {k: v / max(1, len(frames)) for k, v in seconds.items()}
        out = []
        for n, (frame, index) in enumerate(zip(frames, indices, strict=True)):
            boxes, prob_map = pairs[n]
            verdict = verdicts[n] if verdicts is not None else None
            out.append(self._decide(frame, index, list(boxes), prob_map, verdict, dict(share)))
        return out

    def find_partial(
        self,
        frames: Sequence[np.ndarray],
        indices: Sequence[int],
        changes: Sequence[Change],
        keys: Sequence[Finding],
    ) -> list[Finding]:
        """Find the text of frames that differ from a key frame only in part (a cine's frames).

        Each frame's `changes` say where it differs from the frame its `keys` finding was made
        on (`stages/frame_change.py`). The detector looks at the whole frame; a region of the
        key frame's result whose pixels did not change is taken as it is (its box, and the
        key frame's map under it, so its mask and hence the inpainter's fill stay the same),
        and only the detector's regions near a change, or where the key frame had no
        proposal, are confirmed afresh. The key frame's classifier verdict stands for the
        frame: the classifier sees the whole frame, and the frame is the key frame's apart
        from what changed, which the detector and the confirm step judge region by region.
        """
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        pairs = self.detector.detect_with_maps(frames, self.batch_size, indices)
        _add(seconds, "detect", t)
        share = {k: v / max(1, len(frames)) for k, v in seconds.items()}
        out = []
        for n, (frame, index) in enumerate(zip(frames, indices, strict=True)):
            boxes, prob_map = pairs[n]
            change, key = changes[n], keys[n]
            kept = [b for b in key.boxes if not change.touches(b)]
            fresh = [b for b in boxes if change.touches(b) or not overlaps_any(b, key.proposals)]
            if key.prob_map is not None and prob_map is not None and kept:
                prob_map = prob_map.copy()
                for b in kept:
                    prob_map[b.y0 : b.y1, b.x0 : b.x1] = key.prob_map[b.y0 : b.y1, b.x0 : b.x1]
            kept = [replace(b, frame=index) for b in kept]
            # a key frame that needed the whole-frame Tesseract pass (its detector found
            # nothing) gets no region from the detector here either: read this frame too
            known = [] if key.fallback else kept
            finding = self._decide(frame, index, fresh, prob_map, key.verdict, dict(share), known)
            if key.fallback:
                finding.boxes = merge_boxes(kept + finding.boxes)
            finding.reused = len(kept)
            out.append(finding)
        return out

    def _decide(
        self,
        frame: np.ndarray,
        index: int,
        boxes: list[Box],
        prob_map: np.ndarray | None,
        verdict: Any,
        seconds: dict[str, float],
        known: Sequence[Box] = (),
    ) -> Finding:
        """Confirm the detector's `boxes` of one frame and add Tesseract's where it is asked.

        `known` are regions already decided as text (a key frame's, reused): they count as
        found for the fallback rule and are put before the new ones in the result.
        """
        finding = Finding(list(boxes), prob_map, seconds=seconds, proposals=list(boxes))
        finding.verdict = verdict
        t = time.perf_counter()
        if boxes and self.confirmer is not None:
            called_text = verdict is None or verdict.probs.get("None", 0.0) < 0.5
            boxes, finding.kept = self.confirm_boxes(frame, index, boxes, called_text)
            finding.boxes = list(boxes)
            t = _add(finding.seconds, "confirm", t)
        if verdict is not None:
            finding.label = verdict.label
            doubt = verdict.probs.get("None", 1.0) < self.fallback_below
            if not boxes and not known and doubt:
                finding.fallback = True
                finding.boxes = read_printed(frame, index, self.printed)
            elif boxes and verdict.has_printed and self.tesseract == "regions":
                finding.boxes += read_regions(frame, index, boxes)
            elif verdict.has_printed and self.tesseract == "full":
                finding.boxes += read_printed(frame, index, self.printed)
        elif boxes and self.tesseract == "regions":
            finding.boxes += read_regions(frame, index, boxes)
        elif self.tesseract == "full":
            finding.boxes += read_printed(frame, index, self.printed)
        t = _add(finding.seconds, "tesseract", t)
        if len(finding.boxes) > len(boxes) or finding.fallback:
            finding.boxes = merge_boxes(finding.boxes)
            _add(finding.seconds, "merge", t)
        finding.boxes = list(known) + finding.boxes
        return finding

    def confirm_boxes(
        self, frame: np.ndarray, index: int, boxes: Sequence[Box], called_text: bool = True
    ) -> tuple[list[Box], list[Box]]:
        """Split detected regions into text to remove and structure to keep.

        A region is text when the check gives it at least its threshold or, recall first, when
        Tesseract reads a confident word in it (two finders agree). The check has two
        thresholds, both chosen by measurement (`benchmarks/tune_confirm.py`): a low one for
        frames the classifier calls text (`called_text`: P(None) < 0.5, or no classifier),
        and a higher one (`threshold_none`) for frames it calls None, where a proposal is far
        more likely to be anatomy. A region in multi-hued colour (Doppler flow, a colour map:
        `stages/diagnostic.py`) needs `FLOW_STRICT` from the check, or Tesseract's word; of
        a doubted region only the words Tesseract reads in it are removed.
        Tesseract reads only the regions the check doubts, with the context of the region
        pass (`read_regions`: a detector box may cut a line, which Tesseract then cannot
        read; measured, reading the bare boxes missed whole lines). Returns (text, kept).
        """
        scores = self.confirmer.score(frame, boxes)
        possible = flow_possible(frame)
        base = self.confirmer.threshold if called_text else self.confirmer.threshold_none
        text, doubted = [], []
        for b, p in zip(boxes, scores, strict=True):
            need = base
            if p >= need and in_colour_flow(frame, (b.x0, b.y0, b.x1, b.y1), possible):
                need = max(need, FLOW_STRICT)
            (text if p >= need else doubted).append(b)
        if not doubted:
            return text, []
        words = read_regions(frame, index, doubted)
        kept, confirmed = [], {}
        for b in doubted:
            inside = [w for w in words if centre_inside(w, b)]
            # The words Tesseract confirms are removed, not the whole region: a region that
            # spans Doppler flow and a label beside it keeps its flow.
            confirmed.update({(w.x0, w.y0, w.x1, w.y1): w for w in inside})
            if not inside:
                kept.append(b)
        return text + list(confirmed.values()), kept

    def search(self, frame: np.ndarray, index: int) -> list[Box]:
        """Search a cleaned frame for text again (verify): the detector's lines."""
        return self.detector.detect([frame], 1, [index])[0]


def centre_inside(word: Box, region: Box) -> bool:
    """True when the centre of `word` lies inside `region`."""
    cx, cy = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
    return region.x0 <= cx < region.x1 and region.y0 <= cy < region.y1


def make_finder(
    name: str,
    *,
    weights: Path | None = None,
    device: str = "cpu",
    tesseract: str = "off",
    printed: PrintedConfig | None = None,
    batch_size: int = 8,
    confirm: bool = True,
) -> LearnedFinder | ClassicalFinder:
    """Return the finder called `name` ("learned" or "tesseract").

    Raises:
        UsageError: Unknown finder or Tesseract mode.
        NotBuiltError: The learned finder's detector weights are missing.
    """
    if name == "tesseract":
        return ClassicalFinder(printed)
    if name == "learned":
        return LearnedFinder(
            weights,
            device,
            tesseract=tesseract,
            printed=printed,
            batch_size=batch_size,
            confirm=confirm,
        )
    raise UsageError(f"unknown finder {name!r}", hint=f"use {' or '.join(FINDERS)}")
