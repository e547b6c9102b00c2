"""`run_inpaint`: repaint given regions (boxes from `extract`/`merge` JSON, or a mask image)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medocr_cli.errors import InputFileError, UsageError
from medocr_cli.io import Scan, read_scan, write_scan
from medocr_cli.models import zoo
from medocr_cli.models.inpainter.predictor import LearnedInpainter, default_inpainter
from medocr_cli.stages.inpaint import ALL_METHODS, LEARNED, boxes_to_mask, inpaint_stored
from medocr_cli.types import Box, Progress, notify_advance, notify_start

#: The method that picks the learned inpainter when its weights are there, else Telea.
AUTO = "auto"


def repaint_frame(
    scan: Scan,
    index: int,
    mask: np.ndarray,
    method: str,
    *,
    inpainter: LearnedInpainter | None = None,
) -> None:
    """Repaint the masked pixels of frame `index` in the scan's stored values, in place.

    For method "learned", `inpainter` is the loaded model (default: the weights folder's).
    """
    repainted = inpaint_stored(
        scan.frames[index],
        mask,
        value_range=scan.value_range,
        method=method,
        palette=scan.palette,
        inpainter=inpainter,
    )
    scan.set_frame(index, repainted)


def resolve_method(method: str, weights: Path | None = None) -> str:
    """Turn "auto" into "learned" when the inpainter's weights exist, else "telea".

    Raises:
        UsageError: The method is unknown.
    """
    if method == AUTO:
        return LEARNED if zoo.locate("inpainter", weights).is_file() else "telea"
    if method not in ALL_METHODS:
        raise UsageError(
            f"unknown inpainting method {method!r}", hint="use auto, learned, telea or ns"
        )
    return method


def load_boxes(json_path: Path, image: Path) -> list[Box]:
    """Read the boxes for `image` from an `extract --json` / `merge --json` file.

    The file holds an array of {path, boxes: [...]}; the entry whose path names `image` is used,
    or the only entry when there is just one.
    """
    try:
        data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read boxes JSON: {exc}", path=json_path) from exc
    entries = data if isinstance(data, list) else [data]
    chosen = [
        e
        for e in entries
        if isinstance(e, dict) and Path(str(e.get("path", ""))).name == image.name
    ]
    if not chosen and len(entries) == 1:
        chosen = entries
    if not chosen:
        raise InputFileError(
            f"no entry for {image.name}", hint="pass the JSON extract wrote for it", path=json_path
        )
    try:
        return [
            Box(
                int(b.get("frame", 0)),
                *(round(v) for v in b["box"]),
                text="",
                source=str(b.get("source", "")),
            )
            for b in chosen[0].get("boxes", [])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"malformed box entry: {exc}", path=json_path) from exc


def load_mask(mask_path: Path, shape: tuple[int, int]) -> np.ndarray:
    """Read a mask image (non-zero = remove) and check it matches the frame size."""
    from PIL import Image

    try:
        with Image.open(mask_path) as img:
            mask = np.asarray(img.convert("L"))
    except OSError as exc:
        raise InputFileError(f"cannot read mask image: {exc}", path=mask_path) from exc
    if mask.shape != shape:
        raise UsageError(
            f"{mask_path}: mask is {mask.shape[::-1]}, the image is {shape[::-1]} (w x h)"
        )
    return np.where(mask > 0, 255, 0).astype(np.uint8)


@dataclass
class InpaintConfig:
    """What `run_inpaint` repaints and how.

    Attributes:
        image: Input file (PNG, DICOM, ...).
        output: Output file, written in the input's format.
        boxes_json: Boxes from `extract --json` / `merge --json` (or give `mask_path`).
        mask_path: A mask image of the frame size, applied to every frame.
        method: "telea", "ns", "learned" or "auto" (learned when its weights exist).
        overwrite: Replace an existing output.
        weights: Weights folder or `inpainter.pt` for the learned method (default: shipped).
        device: Torch device of the learned method.
        output_syntax: How a DICOM output stores its pixels, always losslessly (an
            `OutputSyntax` value; see `io/dicom_encode.py`).
    """

    image: Path
    output: Path
    boxes_json: Path | None = None
    mask_path: Path | None = None
    method: str = "telea"
    overwrite: bool = False
    weights: Path | None = None
    device: str = "cpu"
    output_syntax: str = "keep"


def run_inpaint(
    config: InpaintConfig,
    progress: Progress[int] | None = None,
    *,
    inpainter: LearnedInpainter | None = None,
) -> int:
    """Repaint the regions in `config.image`, write the result to `config.output`.

    Args:
        config: The image, its regions (boxes or a mask), the method and the output.
        progress: Started with the number of frames to repaint, advanced with each frame's
            index once it is repainted.
        inpainter: The learned inpainter to use instead of loading `inpainter.pt` from
            `config.weights` (the seam tests use); only used by the "learned" method.

    Returns:
        The number of frames repainted.

    Raises:
        UsageError: Bad arguments; NotBuiltError (a UsageError) when "learned" has no weights.
    """
    image, output = config.image, config.output
    if (config.boxes_json is None) == (config.mask_path is None):
        raise UsageError("give exactly one of --boxes and --mask")
    method = resolve_method(config.method, config.weights)
    if output.resolve() == image.resolve():
        raise UsageError("the output would replace the input", hint="choose another -o path")
    if output.exists() and not config.overwrite:
        raise UsageError(f"{output} exists", hint="pass --overwrite to replace it")
    if method == LEARNED and inpainter is None:
        inpainter = default_inpainter(config.weights, config.device)
    scan = read_scan(image)
    shape = (scan.height, scan.width)
    if config.mask_path is not None:
        masks = {i: load_mask(config.mask_path, shape) for i in range(scan.n_frames)}
    else:
        boxes = load_boxes(config.boxes_json, image)  # type: ignore[arg-type]
        frames = sorted({b.frame for b in boxes if 0 <= b.frame < scan.n_frames})
        masks = {f: boxes_to_mask([b for b in boxes if b.frame == f], shape) for f in frames}
    masks = {index: mask for index, mask in masks.items() if mask.any()}
    notify_start(progress, len(masks))
    for index, mask in masks.items():
        repaint_frame(scan, index, mask, method, inpainter=inpainter if method == LEARNED else None)
        notify_advance(progress, index)
    write_scan(scan, output, output_syntax=config.output_syntax)
    return len(masks)
