"""Hard text styles: the burned-in text a detector trained on plain overlays misses.

Real scans also carry text turned 90, 180 or 270 degrees (labels written along the film edge,
images stored upside down), text a few degrees off the horizontal (scanned film, handwriting on
a tilted page), text barely brighter or darker than the anatomy behind it, and text softened by
resampling. `generate-dataset --hard-text SHARE` draws a share of its text layers in one of
these styles so the detector can be trained on them.

A style is drawn once per rendered text layer (a printed block of 1-4 lines that a scanner
writes together, or one handwritten line), so every line of a layer shares it and a share `s`
of the layers, hence in expectation of the lines, is hard. The draws come from a generator of
their own (`hard_text_rng`): with share 0 nothing is drawn and the images are exactly those of
a generator without hard text.

Labels stay exact. A transformed layer's line box is the axis-aligned box of that line's
transformed pixels, and each word box the axis-aligned box of that word's transformed pixels
(words kept in reading order): the same transform is applied to a mask of each line and each
word, and a box is the tight box of the layer's visible pixels that this mask reaches. Because
the transforms are linear with non-negative weights, every visible pixel lies in the box of the
line (and word) it came from, so the text mask never leaves the line boxes (blur included).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from medocr_cli.synth.text_layer import Box, LineLabel, TextLayer, WordLabel, tight_box

#: Default share of text layers drawn in a hard style.
HARD_TEXT_SHARE = 0.25
#: The hard styles, each drawn with the same probability.
STYLES = ("rot90", "rot180", "rot270", "tilt", "vertical-edge", "low-contrast", "blur")
#: Smallest and largest tilt in degrees (either sign).
TILT_RANGE = (3.0, 20.0)
#: Grey levels between low-contrast text and its local background.
CONTRAST_RANGE = (10.0, 30.0)
#: Gaussian blur sigma range in pixels.
SIGMA_RANGE = (0.8, 2.0)
_STREAM = 0x68617264  # "hard": keeps these draws apart from the sample's and the negatives'

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class HardStyle:
    """How one text layer is drawn.

    Attributes:
        name: "plain" or one of `STYLES`.
        angle: Rotation of the text, degrees counter-clockwise as seen on screen (90: reads
            bottom to top); 0 for unrotated styles.
        sigma: Gaussian blur sigma in pixels ("blur" only).
        contrast: Grey levels between the text and its local background ("low-contrast").
        sign: +1 when low-contrast text is brighter than its background, -1 when darker.
        side: "l" or "r": the image edge a "vertical-edge" label runs along.
    """

    name: str = "plain"
    angle: float = 0.0
    sigma: float = 0.0
    contrast: float = 0.0
    sign: int = 1
    side: str = ""

    @property
    def anchor(self) -> str | None:
        """Where the layer must be placed ("ml" / "mr": middle of an edge), or None if free."""
        return f"m{self.side}" if self.name == "vertical-edge" else None


PLAIN = HardStyle()


def hard_text_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that draws image `index`'s hard styles, apart from the sample's own."""
    return np.random.default_rng([seed, index, _STREAM])


def choose_style(rng: np.random.Generator, share: float) -> HardStyle:
    """Draw the style of one text layer: plain, or with probability `share` a hard one.

    With `share` <= 0 nothing is drawn from `rng`, so turning hard text off changes nothing.
    """
    if share <= 0.0 or rng.random() >= share:
        return PLAIN
    name = STYLES[int(rng.integers(len(STYLES)))]
    if name.startswith("rot"):
        return HardStyle(name, angle=float(name[3:]))
    if name == "tilt":
        angle = float(rng.uniform(*TILT_RANGE)) * (1 if rng.random() < 0.5 else -1)
        return HardStyle(name, angle=round(angle, 2))
    if name == "vertical-edge":
        side = "l" if rng.random() < 0.5 else "r"
        # Mostly reading away from the image: bottom-to-top on the left, top-to-bottom on the
        # right, as scanners write their side labels; sometimes the other way round.
        up = (side == "l") == (rng.random() < 0.8)
        return HardStyle(name, angle=90.0 if up else 270.0, side=side)
    if name == "low-contrast":
        contrast = float(rng.uniform(*CONTRAST_RANGE))
        return HardStyle(name, contrast=round(contrast, 1), sign=1 if rng.random() < 0.5 else -1)
    return HardStyle(name, sigma=round(float(rng.uniform(*SIGMA_RANGE)), 2))


def shape_layer(layer: TextLayer, style: HardStyle) -> TextLayer:
    """Apply the geometric part of `style` (rotation, tilt, blur) to a rendered layer.

    Colour styles ("low-contrast") are applied once the layer has a place: see `recolour`.
    The result is cropped tight around its visible pixels, with exact labels.
    """
    if not layer.lines or style.name in ("plain", "low-contrast"):
        return layer
    if style.name == "blur":
        return _blur(layer, style.sigma)
    if style.angle % 90 == 0:
        k = int(style.angle // 90) % 4
        return _transform(layer, lambda a: np.ascontiguousarray(np.rot90(a, k)), pad=0)
    return _tilt(layer, style.angle)


def recolour(layer: TextLayer, under: np.ndarray, style: HardStyle) -> TextLayer:
    """Give a low-contrast layer one colour `style.contrast` levels off its local background.

    Args:
        layer: The layer to recolour (outline and shadow take the same colour).
        under: The canvas pixels the layer will cover, float (h, w) or (h, w, 3).
        style: The low-contrast style (contrast and preferred sign).

    The background is the mean of `under` below the layer's visible pixels; the text goes
    above it, or below it where above would leave the 0-255 range.
    """
    visible = layer.rgba[..., 3] > 0
    if not visible.any():
        return layer
    region = under[visible]
    background = region.mean(axis=0) if region.ndim == 2 else np.repeat(region.mean(), 3)
    level = float(background.mean())
    sign = style.sign
    if not 0.0 <= level + sign * style.contrast <= 255.0:
        sign = -sign
    colour = np.clip(np.rint(background + sign * style.contrast), 0, 255).astype(np.uint8)
    rgba = layer.rgba.copy()
    rgba[..., :3] = colour
    return TextLayer(rgba=rgba, lines=layer.lines)


def _tilt(layer: TextLayer, angle: float) -> TextLayer:
    """Rotate a layer by a small `angle` (bilinear), on a canvas large enough to hold it."""
    h, w = layer.rgba.shape[:2]
    rad = math.radians(angle)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    out_w, out_h = math.ceil(w * cos + h * sin) + 2, math.ceil(w * sin + h * cos) + 2
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    matrix[0, 2] += (out_w - w) / 2.0
    matrix[1, 2] += (out_h - h) / 2.0

    def warp(a: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            a, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )

    return _transform(layer, warp, pad=0)


def _blur(layer: TextLayer, sigma: float) -> TextLayer:
    """Blur a layer with a Gaussian of `sigma`, padded so nothing of the blur is cut off."""
    radius = max(1, math.ceil(3.0 * sigma))
    size = 2 * radius + 1

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(
            a, (size, size), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT
        )

    return _transform(layer, blur, pad=radius)


def warp_layer(
    layer: TextLayer, matrix: np.ndarray, size: tuple[int, int]
) -> tuple[TextLayer, tuple[int, int]]:
    """Warp a layer by a 2x3 affine `matrix` onto a `size` (w, h) canvas, labels carried exactly.

    For text that must land at a known place on something warped with it (a sticker's
    writing, rotated with the sticker): returns the layer cropped tight around its ink and the
    canvas position of the crop's top-left corner.
    """

    def warp(a: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            a, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )

    return _transform_at(layer, warp, pad=0)


def _transform(layer: TextLayer, fn: Transform, pad: int) -> TextLayer:
    """Apply a linear image transform `fn` to a layer and carry its labels through exactly.

    Colour is transformed premultiplied by alpha (no dark or light fringes); pixels left
    without alpha take the layer's plain RGB, transformed the same way. `pad` transparent
    pixels are added around the layer first (room for a blur to spread into).
    """
    return _transform_at(layer, fn, pad)[0]


def _transform_at(layer: TextLayer, fn: Transform, pad: int) -> tuple[TextLayer, tuple[int, int]]:
    """`_transform`, also returning where the result's top-left lies in `fn`'s output."""
    rgba = layer.rgba
    if pad:
        rgba = np.pad(rgba, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        rgba[:pad, :, 3] = rgba[-pad:, :, 3] = 0
        rgba[:, :pad, 3] = rgba[:, -pad:, 3] = 0
    alpha = rgba[..., 3].astype(np.float32)
    rgb = rgba[..., :3].astype(np.float32)
    alpha_out = fn(alpha)
    premult = fn(rgb * (alpha / 255.0)[..., None])
    plain = fn(rgb)
    weight = (alpha_out / 255.0)[..., None]
    colour = np.where(weight > 1e-3, premult / np.maximum(weight, 1e-3), plain)
    out = np.empty((*alpha_out.shape, 4), np.uint8)
    out[..., :3] = np.clip(np.rint(colour), 0, 255)
    out[..., 3] = np.clip(np.rint(alpha_out), 0, 255)
    ink_in = rgba[..., 3] > 0
    ink_out = out[..., 3] > 0
    crop = tight_box(ink_out)
    if crop is None:
        return layer, (0, 0)  # nothing left visible (cannot happen for real text): keep it plain

    def carry(box: Box) -> Box:
        x0, y0, x1, y1 = box[0] + pad, box[1] + pad, box[2] + pad, box[3] + pad
        source = np.zeros(alpha.shape, np.float32)
        source[y0:y1, x0:x1] = ink_in[y0:y1, x0:x1]
        reach = fn(source) > 0
        found = tight_box(reach & ink_out) or tight_box(reach) or crop
        return found[0] - crop[0], found[1] - crop[1], found[2] - crop[0], found[3] - crop[1]

    lines = [
        LineLabel(
            text=line.text,
            kind=line.kind,
            box=carry(line.box),
            words=[WordLabel(text=wd.text, box=carry(wd.box)) for wd in line.words],
            font=line.font,
        )
        for line in layer.lines
    ]
    x0, y0, x1, y1 = crop
    return TextLayer(rgba=np.ascontiguousarray(out[y0:y1, x0:x1]), lines=lines), (x0, y0)
