"""What a scrub run loads once and every file uses: `RunModels` and `load_run_models`.

The finder and inpainter named by the run's options, and the detector verify searches outputs
with (the learned finder's own, or `detector.pt` for the classical finder). `RunModels` is also
the seam through which tests and embedding callers hand a run their own models
(`run_scrub(config, models=...)`), test doubles included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medocr_cli.pipeline.find_text import make_finder
from medocr_cli.pipeline.inpaint import repaint_frame, resolve_method
from medocr_cli.pipeline.scrub.verify import VerifyResult, verify_file
from medocr_cli.stages.inpaint import LEARNED

if TYPE_CHECKING:
    from medocr_cli.models.inpainter.predictor import LearnedInpainter
    from medocr_cli.pipeline.find_text import ClassicalFinder, LearnedFinder
    from medocr_cli.pipeline.scrub.config import ScrubConfig


@dataclass
class RunModels:
    """What a run loads once and every file uses.

    Attributes:
        finder: Finds the text to remove.
        method: Inpainting method ("learned", "telea", "ns").
        inpainter: The learned inpainter, for method "learned".
        detector: The text detector verify searches outputs with (the learned finder's own).
        repaint: Repaints the masked pixels of one frame (`pipeline.inpaint.repaint_frame`,
            called with the scan, frame index, hole, method and `inpainter=`); tests give a
            double that breaks or skips it.
        search_output: Reads a staged output back and searches it in full
            (`verify.verify_file`, called with the path, the detector, the removed boxes, the
            handwriting-only frames and the frames to search, None for all); tests give a
            double that counts the searches.
    """

    finder: LearnedFinder | ClassicalFinder
    method: str
    inpainter: LearnedInpainter | None = None
    detector: Any = None
    repaint: Callable[..., None] = repaint_frame
    search_output: Callable[..., VerifyResult] = verify_file


def load_run_models(config: ScrubConfig) -> RunModels:
    """Load the finder and, for the learned method, the inpainter named by `config`.

    Raises:
        UsageError: Unknown finder, Tesseract mode or method.
        NotBuiltError: Weights the chosen finder or method needs are missing.
    """
    finder = make_finder(
        config.find,
        weights=config.weights,
        device=config.device,
        tesseract=config.tesseract,
        printed=config.printed,
        batch_size=config.batch_size,
        confirm=config.confirm,
    )
    method = resolve_method(config.method, config.weights)
    inpainter = None
    if method == LEARNED:
        from medocr_cli.models.inpainter.predictor import LearnedInpainter

        inpainter = LearnedInpainter.from_weights_dir(config.weights, config.device)
    detector = getattr(finder, "detector", None)
    if detector is None and config.verify:
        detector = _verify_detector(config)
    return RunModels(finder, method, inpainter, detector)


def _verify_detector(config: ScrubConfig) -> Any:
    """The detector verify needs when the finder has none (the classical finder).

    Raises:
        NotBuiltError: `detector.pt` is missing from the weights folder.
    """
    from medocr_cli.models.detector.predictor import Detector

    return Detector.from_weights_dir(
        config.weights,
        config.device,
        needed_by="verification",
        instead="pass --no-verify (outputs are then not marked clean)",
    )
