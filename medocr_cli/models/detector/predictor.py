"""The detect stage: 8-bit display frames in, text-line boxes and text-probability maps out.

A thin predictor around the `text-detector` network: frames become grey + chroma inputs,
go through the network a batch at a time on the chosen device, and the core map's components
are grown back into line boxes (`boxes.boxes_from_map`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from medocr_cli.models import zoo
from medocr_cli.models.detector.boxes import boxes_from_map
from medocr_cli.models.detector.network import forward_frames, fuse_batchnorm, to_input
from medocr_cli.models.detector.spec import CHANNELS
from medocr_cli.types import Box

#: Frames with a side above this many pixels are run in tiles of this size.
TILE = 2048
#: Context each tile gets beyond the part of the map it keeps (a multiple of the stride 16).
TILE_OVERLAP = 128
#: Frames with a side above this are also searched shrunk to this side (`_with_coarse`).
COARSE_SIDE = 1024


@dataclass(frozen=True)
class Tiling:
    """How the predictor cuts large frames: tile size, tile context and coarse-pass side.

    The defaults are the shipped behaviour; a test or a benchmark passes smaller values to run
    the tiling and coarse code paths on small frames.
    """

    tile: int = TILE
    overlap: int = TILE_OVERLAP
    coarse_side: int = COARSE_SIDE


class Detector:
    """A loaded detector checkpoint, ready to find text lines in batches of frames.

    Frames come in as 8-bit display frames (grey or RGB); the training evaluation passes the
    network inputs its cache holds instead (`prepared=True` in the box methods), so the card's
    figures go through the same batching, tiling and box post-processing as `scrub`.
    """

    def __init__(
        self,
        weights: Path,
        device: str = "cpu",
        *,
        needed_by: str | None = None,
        instead: str | None = None,
        tiling: Tiling | None = None,
    ) -> None:
        """Load `weights` (a `detector.pt`) onto `device` through the zoo.

        Raises:
            NotBuiltError: The file is missing (`needed_by` says what needs it, `instead` how
                to do without).
            WeightsError: It does not hold a valid detector checkpoint.
        """
        loaded = zoo.load("detector", weights, device, needed_by=needed_by, instead=instead)
        self.path: Path | None = Path(weights)
        self.spec: dict[str, Any] = loaded.raw_spec()
        self.metrics: dict[str, Any] = dict(loaded.metrics)
        self.device = torch.device(device)
        # a copy: the zoo's cached network stays as trained (its state dict, its BatchNorms)
        self.model: nn.Module = fuse_batchnorm(copy.deepcopy(loaded.model).eval())
        self.tiling = tiling or Tiling()

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        spec: dict[str, Any],
        device: str | torch.device = "cpu",
        *,
        tiling: Tiling | None = None,
    ) -> Detector:
        """Wrap a network already in memory (training's evaluation, a test's stand-in)."""
        detector = cls.__new__(cls)
        detector.path = None
        detector.spec = spec
        detector.metrics = {}
        detector.device = torch.device(device)
        detector.model = model
        detector.tiling = tiling or Tiling()
        return detector

    @classmethod
    def from_weights_dir(
        cls,
        folder: Path | None = None,
        device: str = "cpu",
        *,
        needed_by: str | None = None,
        instead: str | None = None,
    ) -> Detector:
        """Load `detector.pt` from the weights folder (`--weights`, MEDOCR_WEIGHTS, shipped)."""
        return cls(zoo.locate("detector", folder), device, needed_by=needed_by, instead=instead)

    def _maps(
        self, frames: Sequence[np.ndarray], batch_size: int, prepared: bool = False
    ) -> list[np.ndarray]:
        """Return the (2, h/2, w/2) core and text maps of every frame.

        Frames larger than `tiling.tile` on a side go through the network in overlapping tiles
        (`tiled_maps`), so memory stays bounded on 100-megapixel images. With `prepared`, the
        frames are already (2, H, W) network inputs (`network.to_input`).
        """
        tile = self.tiling.tile
        maps: list[np.ndarray | None] = [
            self.tiled_maps(f, prepared) if max(_size(f, prepared)) > tile else None for f in frames
        ]
        small = [i for i, m in enumerate(maps) if m is None]
        for start in range(0, len(small), batch_size):
            chunk = small[start : start + batch_size]
            inputs = [frames[i] if prepared else to_input(frames[i]) for i in chunk]
            outputs = forward_frames(self.model, self.spec, inputs, self.device)
            for i, m in zip(chunk, outputs, strict=True):
                maps[i] = m
        return [
            self._with_coarse(f, m, prepared)
            if max(_size(f, prepared)) > self.tiling.coarse_side
            else m
            for f, m in zip(frames, maps, strict=True)
        ]

    def _with_coarse(self, frame: np.ndarray, maps: np.ndarray, prepared: bool) -> np.ndarray:
        """Add what the network sees in the frame shrunk to `tiling.coarse_side` (pixel-wise max).

        The network was trained on 512 px images whose text lines are 8-60 px high. A large
        scan (a 3000 px radiograph, a 100-megapixel image) carries its overlay text in
        proportion, 50-150 px high, which the full-resolution pass only sees in fragments; shrunk,
        that text is in the trained range again. The coarse maps are resized back and merged
        into the full-resolution ones, so small and large text are both found. A prepared input
        is shrunk channel by channel (its chroma then approximates that of a shrunk frame).
        """
        import cv2

        rows, cols = _size(frame, prepared)
        factor = self.tiling.coarse_side / max(rows, cols)
        size = (max(1, round(cols * factor)), max(1, round(rows * factor)))
        if prepared:
            small = np.stack([cv2.resize(c, size, interpolation=cv2.INTER_AREA) for c in frame])
        else:
            small = to_input(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        (coarse,) = forward_frames(self.model, self.spec, [small], self.device)
        out = maps.copy()
        size = (maps.shape[2], maps.shape[1])
        for k in range(maps.shape[0]):
            np.maximum(
                out[k], cv2.resize(coarse[k], size, interpolation=cv2.INTER_LINEAR), out=out[k]
            )
        return out

    def tiled_maps(self, frame: np.ndarray, prepared: bool = False) -> np.ndarray:
        """Return the maps of one large frame, computed in `tiling.tile` px tiles with overlap.

        Each tile keeps only its centre (the overlap halves at inner edges), so lines crossing a
        tile border see the same context as in one pass and the stitched map has no seams; the
        line boxes are then made from the whole stitched map. `network.to_input` works pixel by
        pixel, so a tile of a prepared input is the input of the same tile of the frame.
        """
        rows, cols = _size(frame, prepared)
        stride = int(self.spec.get("out_stride", 2))
        out = np.zeros((2, -(-rows // stride), -(-cols // stride)), np.float32)
        tile, overlap = self.tiling.tile, self.tiling.overlap
        step = tile - 2 * overlap
        for top in range(0, rows, step):
            for left in range(0, cols, step):
                y0, x0 = max(0, top - overlap), max(0, left - overlap)
                y1, x1 = min(rows, top + step + overlap), min(cols, left + step + overlap)
                if prepared:
                    part = np.ascontiguousarray(frame[:, y0:y1, x0:x1])
                else:
                    part = to_input(np.ascontiguousarray(frame[y0:y1, x0:x1]))
                (m,) = forward_frames(self.model, self.spec, [part], self.device)
                ky0, kx0 = (top - y0) // stride, (left - x0) // stride
                ty0, tx0 = top // stride, left // stride
                ty1 = min(out.shape[1], -(-min(rows, top + step) // stride))
                tx1 = min(out.shape[2], -(-min(cols, left + step) // stride))
                out[:, ty0:ty1, tx0:tx1] = m[:, ky0 : ky0 + ty1 - ty0, kx0 : kx0 + tx1 - tx0]
        return out

    def probability_map(
        self, frames: Sequence[np.ndarray], batch_size: int = 8, channel: str = "text"
    ) -> list[np.ndarray]:
        """Return float32 (H, W) probability maps at each frame's own resolution.

        Args:
            frames: uint8 display frames (grey or RGB), any sizes.
            batch_size: Frames per forward pass.
            channel: "text" (the default): probability that a pixel is part of a character,
                for refining boxes to strokes; "core": probability that it lies in the middle
                of a text line, which is what the boxes are made from.
        """
        import cv2

        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}")
        k = CHANNELS.index(channel)
        out = []
        for frame, maps in zip(frames, self._maps(frames, batch_size), strict=True):
            h, w = frame.shape[:2]
            out.append(cv2.resize(maps[k], (w, h), interpolation=cv2.INTER_LINEAR))
        return out

    def _boxes(
        self,
        frames: Sequence[np.ndarray],
        batch_size: int,
        frame_indices: Sequence[int] | None,
        fits: tuple[str, ...],
        prepared: bool = False,
    ) -> list[list[list[Box]]]:
        """Return, per frame, one list of boxes per entry of `fits` (same lines, same order)."""
        if frame_indices is not None and len(frame_indices) != len(frames):
            raise ValueError("frame_indices must have one entry per frame")
        results = []
        all_maps = self._maps(frames, batch_size, prepared)
        for n, (frame, maps) in enumerate(zip(frames, all_maps, strict=True)):
            index = int(frame_indices[n]) if frame_indices is not None else 0
            shape = _size(frame, prepared)
            per_fit = []
            for fit in fits:
                found = boxes_from_map(maps[0], self.spec, shape, maps[1], fit=fit)
                per_fit.append(
                    [
                        Box(index, x0, y0, x1, y1, "", "text", score, "detector")
                        for x0, y0, x1, y1, score in found
                    ]
                )
            results.append(per_fit)
        return results

    def detect(
        self,
        frames: Sequence[np.ndarray],
        batch_size: int = 8,
        frame_indices: Sequence[int] | None = None,
        fit: str = "cover",
    ) -> list[list[Box]]:
        """Return the text-line boxes of every frame.

        Args:
            frames: uint8 display frames (grey or RGB), any sizes.
            batch_size: Frames per forward pass.
            frame_indices: The frame number written into each frame's boxes (its position in
                a multi-frame scan); 0 for every frame when not given.
            fit: "cover" (recall first, for removal: the box takes in every text pixel the
                maps see, with a margin) or "tight" (close to the ink, for reading).

        Returns:
            One list of `Box` per frame, kind "text" (printed or handwritten is not told
            apart here), source "detector", score the mean core probability of the line.
        """
        if fit not in ("cover", "tight"):
            raise ValueError("fit must be cover or tight")
        return [f[0] for f in self._boxes(frames, batch_size, frame_indices, (fit,))]

    def detect_with_maps(
        self,
        frames: Sequence[np.ndarray],
        batch_size: int = 8,
        frame_indices: Sequence[int] | None = None,
    ) -> list[tuple[list[Box], np.ndarray | None]]:
        """Return every frame's cover boxes and its text-pixel map at frame size, in one pass.

        The map is None for a frame without boxes (nothing to narrow).

        The map lets the mask stage narrow the boxes to the strokes (`stages.mask.text_mask`).
        """
        import cv2

        if frame_indices is not None and len(frame_indices) != len(frames):
            raise ValueError("frame_indices must have one entry per frame")
        out = []
        for n, (frame, maps) in enumerate(zip(frames, self._maps(frames, batch_size), strict=True)):
            index = int(frame_indices[n]) if frame_indices is not None else 0
            h, w = frame.shape[:2]
            found = boxes_from_map(maps[0], self.spec, (h, w), maps[1], fit="cover")
            boxes = [
                Box(index, x0, y0, x1, y1, "", "text", score, "detector")
                for x0, y0, x1, y1, score in found
            ]
            text = cv2.resize(maps[1], (w, h), interpolation=cv2.INTER_LINEAR) if boxes else None
            out.append((boxes, text))
        return out

    def detect_pairs(
        self,
        frames: Sequence[np.ndarray],
        batch_size: int = 8,
        frame_indices: Sequence[int] | None = None,
    ) -> list[list[tuple[Box, Box]]]:
        """Return every line as a (cover box, tight box) pair, from one pass of the network.

        The extractor reports the cover box (what must be removed) and reads the tight one.
        """
        out = []
        for cover, tight in self._boxes(frames, batch_size, frame_indices, ("cover", "tight")):
            out.append(list(zip(cover, tight, strict=True)))
        return out

    def boxes_of_inputs(
        self, inputs: Sequence[np.ndarray], batch_size: int, fits: tuple[str, ...]
    ) -> list[list[list[Box]]]:
        """Return, per (2, H, W) network input, one list of line boxes per entry of `fits`.

        For the training evaluation, whose cache holds network inputs rather than frames.
        """
        return self._boxes(inputs, batch_size, None, fits, prepared=True)


def _size(frame: np.ndarray, prepared: bool) -> tuple[int, int]:
    """The (rows, cols) of a display frame, or of a prepared (2, H, W) network input."""
    rows, cols = frame.shape[1:3] if prepared else frame.shape[:2]
    return int(rows), int(cols)
