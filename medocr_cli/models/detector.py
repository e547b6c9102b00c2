"""The text detector: a light U-Net predicting where text lines and text pixels are.

In the spirit of DBNet / CRAFT, but small enough for 2 CPU cores: four stride-2 encoder levels
(1/2 .. 1/16, BatchNorm + ReLU), a top-down decoder that adds each encoder level back (an FPN
with U-Net skips) and a 1x1 head at 1/2 of the input resolution. Half resolution, not the
usual quarter, because overlay text on scans can be 5-8 px high: at 1/4 a line would be one
or two map pixels and neighbouring lines would merge.

The head has two channels (logits):
  0 "core": the DBNet-style shrunk line box; thresholded and grown back ("unclipped") it gives
     one box per text line, with neighbouring lines kept apart by the shrink.
  1 "text": the text-pixel mask, for refining boxes to strokes later on.

Input: grey plus a chroma channel (max - min of R, G, B; zero for grey frames), uint8 scaled
to [0, 1] and centred. Chroma makes coloured overlay text (blue, yellow, green on a grey scan)
stand out even where its grey value matches the anatomy behind it. Fully convolutional: any
size, padded by the caller to a multiple of `STRIDE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from medocr_cli.models.registry import register

#: The input must be a multiple of this (four stride-2 levels).
STRIDE = 16
#: Output channels of the head.
CHANNELS = ("core", "text")


#: A core at least this many times taller than wide is read as a vertical line (text rotated
#: 90 or 270 degrees): its line height is its width. A horizontal line's core is never taller
#: than wide unless the line is a lone glyph narrower than its height, and only an isolated
#: hairline glyph ("I", "|") is this slender, so horizontal lines are read as before.
VERTICAL_RATIO = 4.0

#: Registry name of this network; checkpoint specs and `medocr train` refer to it.
ARCH = "text-detector"


def detector_spec(
    widths: tuple[int, ...] = (12, 24, 48, 96),
    decoder: int = 16,
    shrink: float = 0.25,
    margin: float = 0.15,
    join: float = 0.8,
    threshold: float = 0.4,
    min_score: float = 0.5,
    text_threshold: float = 0.5,
) -> dict[str, Any]:
    """Return the spec of a detector.

    Args:
        widths: Channels of the encoder levels at 1/2, 1/4, 1/8 and 1/16 of the input.
        decoder: Channels of the decoder (every level, then the head at 1/2).
        shrink: Share of the line height cut off each side of a line box for the core target;
            the post-processing grows components back by the same rule.
        margin: Extra growth of a predicted box, as a share of its line height, each side.
        join: Pieces of one line are joined across gaps up to this many line heights.
        threshold: Core probability above which a map pixel belongs to a line.
        min_score: Components whose mean core probability is below this are dropped.
        text_threshold: Boxes are stretched over text-map components above this (0: off).
    """
    return {
        "arch": ARCH,
        "widths": [int(w) for w in widths],
        "decoder": int(decoder),
        "in_channels": 2,
        "input": "grey + chroma (max-min of RGB), uint8 / 255",
        "mean": 0.25,
        "std": 0.3,
        "out_stride": 2,
        "pad_to": STRIDE,
        "channels": list(CHANNELS),
        "shrink": float(shrink),
        "margin": float(margin),
        "join": float(join),
        "threshold": float(threshold),
        "min_score": float(min_score),
        "text_threshold": float(text_threshold),
        "text_pad": 1,
    }


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class TextDetector(nn.Module):
    """Encoder (4 stride-2 levels) + additive top-down decoder + 2-channel head at 1/2."""

    def __init__(self, widths: list[int], decoder: int, in_channels: int = 2) -> None:
        super().__init__()
        levels = []
        cin = in_channels
        for i, width in enumerate(widths):
            # The first level has a single conv: at 1/2 resolution it is the costliest one.
            blocks = [_conv(cin, width, 2)] + ([_conv(width, width)] if i > 0 else [])
            levels.append(nn.Sequential(*blocks))
            cin = width
        self.levels = nn.ModuleList(levels)
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, decoder, 1, bias=False), nn.BatchNorm2d(decoder))
            for w in widths
        )
        self.smooth = nn.ModuleList(_conv(decoder, decoder) for _ in widths[:-1])
        self.head = nn.Conv2d(decoder, len(CHANNELS), 1)
        # Text covers a few percent of a scan: start the head near that prior.
        nn.init.constant_(self.head.bias, -3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return (N, 2, H/2, W/2) logits for an (N, C, H, W) input, H and W multiples of 16."""
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
        y = functional.relu(self.lateral[-1](features[-1]))
        for i in range(len(features) - 2, -1, -1):
            y = functional.interpolate(y, size=features[i].shape[-2:], mode="nearest")
            y = self.smooth[i](y + self.lateral[i](features[i]))
        return self.head(y)


@register(ARCH)
def build_detector(spec: dict[str, Any]) -> nn.Module:
    """Build the untrained detector of a spec made by `detector_spec`."""
    return TextDetector(
        [int(w) for w in spec["widths"]], int(spec["decoder"]), int(spec.get("in_channels", 2))
    )


def to_input(image: np.ndarray) -> np.ndarray:
    """Turn one 8-bit display frame (grey or RGB[A]) into the uint8 (2, H, W) network input."""
    import cv2

    if image.dtype != np.uint8:
        raise ValueError("the detector takes 8-bit display frames")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.stack([image, np.zeros_like(image)])
    rgb = np.ascontiguousarray(image[:, :, :3])
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    r, g, b = cv2.split(rgb)  # cv2's per-pixel max/min are ~20x faster than numpy's over axis 2
    chroma = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    return np.stack([grey, chroma])


def normalise(batch: torch.Tensor, spec: dict[str, Any]) -> torch.Tensor:
    """Turn a uint8 (N, 2, H, W) batch into the network's float input."""
    return (batch.float() / 255.0 - float(spec["mean"])) / float(spec["std"])


def padded_size(height: int, width: int, multiple: int = STRIDE) -> tuple[int, int]:
    """Return `(height, width)` rounded up to a multiple of `multiple`."""
    return (-(-height // multiple) * multiple, -(-width // multiple) * multiple)


def shrink_box(box: tuple[float, float, float, float], shrink: float) -> tuple[float, ...]:
    """Return the core of a line box: `shrink` x its height cut off each side.

    Horizontally the cut is also at most a quarter of the width, so a one-letter "line" keeps
    a core. The training targets are drawn from this; `unclip_box` undoes it.
    """
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    dy = shrink * h
    dx = min(shrink * h, 0.25 * w)
    return (x0 + dx, y0 + dy, x1 - dx, y1 - dy)


def line_height(core_height: float, shrink: float) -> float:
    """Return the height of the text line whose core (its middle band) is `core_height` high.

    Training shrinks each line box by `shrink` of its height at top and bottom to make the core,
    so the line is the core's height divided by (1 - 2 x shrink).
    """
    return core_height / max(1e-6, 1.0 - 2.0 * shrink)


def _touches(box: Sequence[float], comp: Sequence[float]) -> bool:
    """Whether two (x0, y0, x1, y1, ...) rectangles overlap (touching edges do not count)."""
    return comp[0] < box[2] and comp[2] > box[0] and comp[1] < box[3] and comp[3] > box[1]


def is_vertical(width: float, height: float) -> bool:
    """Whether a core of this size is a vertical line's (see `VERTICAL_RATIO`)."""
    return height > VERTICAL_RATIO * width


def unclip_box(
    core: tuple[float, float, float, float], shrink: float, margin: float
) -> tuple[float, float, float, float]:
    """Grow a predicted core back to its line box, plus `margin` x the line height each side.

    The line height is `line_height` of the core's height across the text: its height, or for
    a vertical line (`is_vertical`: text rotated 90 or 270 degrees) its width. Growing a little
    beyond the shrink is on purpose: a box slightly too large costs a few repainted pixels, one
    slightly too small leaves the edge of the letters behind.
    """
    x0, y0, x1, y1 = core
    across = x1 - x0 if is_vertical(x1 - x0, y1 - y0) else y1 - y0
    grow = (shrink + margin) * line_height(across, shrink)
    return (x0 - grow, y0 - grow, x1 + grow, y1 + grow)


def _join_lines(cores: list[list[float]], shrink: float, join: float) -> list[list[float]]:
    """Merge core boxes `[x0, y0, x1, y1, prob_sum, area]` that lie on one text line.

    Two cores join when they overlap vertically by at least half the lower one, their heights
    differ by less than 2.5x, and the horizontal gap between them is at most `join` line
    heights: the map can break a line at a wide word gap, and a line read in pieces is both
    harder to cover and harder to recognise. Two vertical cores (`is_vertical`) are joined by
    the same rule turned 90 degrees (overlap across, gap along the column), so a label along
    the left edge is never joined to one along the right edge.
    """
    n = len(cores)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    upright = [is_vertical(c[2] - c[0], c[3] - c[1]) for c in cores]
    for i in range(n):
        for j in range(i + 1, n):
            ax0, ay0, ax1, ay1 = cores[i][:4]
            bx0, by0, bx1, by1 = cores[j][:4]
            if upright[i] and upright[j]:  # turn both 90 degrees: the same rule then applies
                ax0, ay0, ax1, ay1 = ay0, ax0, ay1, ax1
                bx0, by0, bx1, by1 = by0, bx0, by1, bx1
            ha, hb = ay1 - ay0, by1 - by0
            if min(ay1, by1) - max(ay0, by0) < 0.5 * min(ha, hb):
                continue
            if max(ha, hb) > 2.5 * min(ha, hb):
                continue
            gap = max(bx0 - ax1, ax0 - bx1)
            if gap <= join * line_height(max(ha, hb), shrink):
                parent[root(j)] = root(i)
    groups: dict[int, list[float]] = {}
    for i, core in enumerate(cores):
        g = groups.get(root(i))
        if g is None:
            groups[root(i)] = list(core)
        else:
            g[0], g[1] = min(g[0], core[0]), min(g[1], core[1])
            g[2], g[3] = max(g[2], core[2]), max(g[3], core[3])
            g[4] += core[4]
            g[5] += core[5]
    return list(groups.values())


def _fit_to_text(
    boxes: list[tuple[int, int, int, int, float]],
    text: np.ndarray,
    spec: dict[str, Any],
    shape: tuple[int, int],
    fit: str,
    lines: list[tuple[float, float]] | None = None,
) -> list[tuple[int, int, int, int, float]]:
    """Adjust line boxes with the text-pixel components they touch.

    Text components are the text map above `text_threshold`, grown by `text_pad` pixels; a
    component belongs to a box when it overlaps it and is at most 1.5x as tall (a blob that
    spans several lines is no guide). With `fit="cover"` each box is stretched over its
    components: the core can stop short of a faint last letter or a tall ascender that the
    text map still sees. With `fit="tight"` the box becomes the bounding box of its
    components (each already grown by `text_pad`) plus 5% of its height: close to the ink,
    the crop a recognizer wants (it was trained on crops a few pixels beyond the ink), at the
    cost of missing a little of what the text map did not see. Boxes without
    components are kept as they are.

    A cover box reaches well beyond its line (`unclip_box`'s margin), so in a stack of lines
    it overlaps the letters of the lines above and below. For the cover fit that only makes
    the box larger; a tight box taking them in would be a crop of three lines, which the
    recognizer cannot read. So with `fit="tight"` and `lines` (each box's core centre row and
    line height) a component counts only for the box whose core centre is nearest to its own
    centre row, and only when it is at most 2 line heights tall.
    """
    import cv2

    binary = (text > float(spec.get("text_threshold", 0.5))).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return boxes
    stride = int(spec.get("out_stride", 2))
    pad = int(spec.get("text_pad", 1))
    comps = [
        (x * stride - pad, y * stride - pad, (x + w) * stride + pad, (y + h) * stride + pad)
        for x, y, w, h, _ in stats[1:].tolist()
    ]
    height, width = shape
    owner = _nearest_line(boxes, comps, lines) if fit == "tight" and lines else None
    out = []
    for k, (x0, y0, x1, y1, score) in enumerate(boxes):
        hits = [
            comp
            for j, comp in enumerate(comps)
            if _touches((x0, y0, x1, y1), comp)
            and comp[3] - comp[1] <= 1.5 * (y1 - y0)
            and (owner is None or owner[j] == k)
        ]
        if not hits:
            out.append((x0, y0, x1, y1, score))
            continue
        a, b = min(h[0] for h in hits), min(h[1] for h in hits)
        c, d = max(h[2] for h in hits), max(h[3] for h in hits)
        if fit == "tight":
            grow = 0.05 * (d - b)
            a, b = int(np.floor(a - grow)), int(np.floor(b - grow))
            c, d = int(np.ceil(c + grow)), int(np.ceil(d + grow))
        else:
            a, b, c, d = min(x0, a), min(y0, b), max(x1, c), max(y1, d)
        out.append((max(0, a), max(0, b), min(width, c), min(height, d), score))
    return out


def _nearest_line(
    boxes: list[tuple[int, int, int, int, float]],
    comps: list[tuple[int, int, int, int]],
    lines: list[tuple[float, float]],
) -> list[int]:
    """Return, per text component, the index of the box it is read with (-1: none).

    That is the box whose core centre row is nearest to the component's centre row, among the
    boxes the component overlaps and whose line height it exceeds by at most 2x.
    """
    owner = []
    for comp in comps:
        centre, best, best_k = (comp[1] + comp[3]) / 2.0, float("inf"), -1
        for k, (box, (row, height)) in enumerate(zip(boxes, lines, strict=True)):
            near = abs(centre - row) < best
            if near and _touches(box, comp) and comp[3] - comp[1] <= 2.0 * height:
                best, best_k = abs(centre - row), k
        owner.append(best_k)
    return owner


def boxes_from_map(
    core: np.ndarray,
    spec: dict[str, Any],
    shape: tuple[int, int],
    text: np.ndarray | None = None,
    fit: str = "cover",
) -> list[tuple[int, int, int, int, float]]:
    """Turn a core probability map into line boxes `(x0, y0, x1, y1, score)` in input pixels.

    The map (at 1/`out_stride` of the input) is thresholded and split into 8-connected
    components; components on one line are joined (`_join_lines`) and each line's bounding box
    is grown back by `unclip_box`. The score is the line's mean core probability; lines below
    `min_score` are dropped. With the text map, each box is then fitted to the text pixels
    it touches (`_fit_to_text`; off when the spec's `text_threshold` is 0).

    Args:
        core: Float (h, w) core probabilities for one frame (padding already cut off).
        spec: The detector spec (threshold, min_score, shrink, margin, join, out_stride,
            text_threshold, text_pad).
        shape: (height, width) of the frame, to clip the boxes.
        text: Float (h, w) text-pixel probabilities of the same frame, or None.
        fit: "cover" (the default, recall first: boxes only grow to take in text pixels) or
            "tight" (boxes shrink to the text pixels: for reading, not for removal). Both give
            the same boxes in the same order, so the two can be paired.
    """
    import cv2

    binary = (core > float(spec["threshold"])).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return []
    sums = np.bincount(labels.ravel(), weights=core.ravel().astype(np.float64), minlength=n)
    stride = float(spec.get("out_stride", 2))
    shrink = float(spec["shrink"])
    cores = [
        [float(x), float(y), float(x + w), float(y + h), float(sums[i]), float(area)]
        for i, (x, y, w, h, area) in enumerate(stats.tolist())
        if i > 0
    ]
    if float(spec.get("join", 0.0)) > 0:
        cores = _join_lines(cores, shrink, float(spec["join"]))
    margin = float(spec.get("margin", 0.1))
    height, width = shape
    boxes, lines = [], []
    for x0, y0, x1, y1, total, area in cores:
        score = total / area
        if score < float(spec["min_score"]):
            continue
        gx0, gy0, gx1, gy1 = unclip_box(
            (x0 * stride, y0 * stride, x1 * stride, y1 * stride), shrink, margin
        )
        bx0, by0 = max(0, int(np.floor(gx0))), max(0, int(np.floor(gy0)))
        bx1, by1 = min(width, int(np.ceil(gx1))), min(height, int(np.ceil(gy1)))
        if bx1 > bx0 and by1 > by0:
            boxes.append((bx0, by0, bx1, by1, round(score, 4)))
            lines.append(((y0 + y1) * stride / 2.0, line_height((y1 - y0) * stride, shrink)))
    if text is not None and float(spec.get("text_threshold", 0.5)) > 0:
        boxes = _fit_to_text(boxes, text, spec, shape, fit, lines)
    return boxes


def forward_frames(
    model: nn.Module,
    spec: dict[str, Any],
    inputs: list[np.ndarray],
    device: torch.device | str,
) -> list[np.ndarray]:
    """Run the network on uint8 (2, h, w) inputs of any sizes in one batch.

    Each input is padded (edge copy) at the bottom and right to the batch's common size, a
    multiple of `pad_to`; the returned float32 (2, ceil(h/2), ceil(w/2)) probability maps
    (core, text) have that padding cut off again.
    """
    if not inputs:
        return []
    stride = int(spec.get("out_stride", 2))
    multiple = int(spec.get("pad_to", STRIDE))
    height = max(x.shape[1] for x in inputs)
    width = max(x.shape[2] for x in inputs)
    ph, pw = padded_size(height, width, multiple)
    batch = np.empty((len(inputs), inputs[0].shape[0], ph, pw), np.uint8)
    for i, x in enumerate(inputs):
        h, w = x.shape[1:]
        batch[i] = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)), mode="edge")
    tensor = torch.from_numpy(batch).to(device)
    with torch.inference_mode():
        x = normalise(tensor, spec).contiguous(memory_format=torch.channels_last)
        probs = torch.sigmoid(model(x).float()).cpu().numpy()
    return [
        np.ascontiguousarray(p[:, : -(-x.shape[1] // stride), : -(-x.shape[2] // stride)])
        for p, x in zip(probs, inputs, strict=True)
    ]
