"""One synthetic training image: a clean background, text composited onto it, every label.

Each image is a pure function of (seed, index, size, split, and the negatives, hard-text and
sticker shares): it draws from its own random generators, so images can be made in any order, in
any process, and still come out identical. The class cycles None / P / H / PH over consecutive
indices, which balances the classes exactly. A share of the images, of every class, gets hard
negatives (Doppler flow, vessels, calipers, scales...) drawn on the background before any text:
they are part of the clean image and never of the text mask, the boxes or the label. A share of
the text layers is drawn in a hard style (rotated, tilted, along an edge, low-contrast, blurred:
see `hard_text`). A share of the images gets a label sticker or paper scrap stuck on the
background, written on for the image's class (see `stickers`): the paper is clean image, its ink
is text, and a printed label on it is no scanner overlay (those are written too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medocr_cli.synth.backgrounds import BackgroundSource
from medocr_cli.synth.content import label_line, note_text, phi_line
from medocr_cli.synth.fonts import FontSpec, choose_font, font_pools
from medocr_cli.synth.handwriting import render_handwritten
from medocr_cli.synth.hard_text import (
    HARD_TEXT_SHARE,
    PLAIN,
    HardStyle,
    choose_style,
    hard_text_rng,
    recolour,
    shape_layer,
)
from medocr_cli.synth.negatives import (
    NEGATIVES_SHARE,
    add_negatives,
    has_negatives,
    negatives_rng,
)
from medocr_cli.synth.printed import render_printed
from medocr_cli.synth.stickers import STICKERS_SHARE, has_sticker, make_sticker, stickers_rng
from medocr_cli.synth.text_layer import TextLayer
from medocr_cli.types import LABELS

#: Printed overlay colours (RGB): white, light grey, yellow, green, cyan-ish; black on bright areas.
LIGHT_COLOURS = ((255, 255, 255), (230, 230, 230), (200, 200, 200), (255, 235, 60), (90, 255, 90))
DARK_COLOURS = ((0, 0, 0), (30, 30, 30), (60, 60, 60))
#: Pen colours for handwriting: blue, black, dark red, green; light pens on dark film.
DARK_PENS = ((20, 40, 160), (15, 15, 15), (140, 20, 20), (20, 100, 40))
LIGHT_PENS = ((250, 250, 250), (255, 230, 80), (120, 200, 255))


@dataclass
class Sample:
    """A generated image with everything each stage learns from.

    Attributes:
        image: The image with text, uint8 grey (H, W) or RGB (H, W, 3).
        clean: The same image without text (the inpainter's target).
        mask: uint8, 255 where any text pixel (glyph, outline, shadow, anti-aliasing) was drawn.
        label: None / P / H / PH.
        items: One dict per text line: box, text, kind, words, font, role, style (see
            `hard_text.STYLES`; "plain" for most) and angle (degrees counter-clockwise).
        modality: Background modality.
        source: Background origin.
        negatives: Kinds of hard negatives drawn on the background (not text), in drawing
            order; empty for most images.
        sticker: The label or paper scrap stuck on the background (`stickers.Sticker.record`),
            or None; the items of the lines written on it have "sticker": True.
    """

    image: np.ndarray
    clean: np.ndarray
    mask: np.ndarray
    label: str
    items: list[dict[str, Any]] = field(default_factory=list)
    modality: str = ""
    source: str = ""
    negatives: list[str] = field(default_factory=list)
    sticker: dict[str, Any] | None = None


def split_of(index: int) -> str:
    """Assign image `index` to train (80%), val (10%) or test (10%).

    Consecutive groups of four images (one per class) share a split, so every split is balanced.
    """
    slot = (index // 4) % 10
    return "test" if slot == 9 else "val" if slot == 8 else "train"


def label_of(index: int) -> str:
    """The class of image `index`: None, P, H, PH in turn."""
    return LABELS[index % 4]


class Canvas:
    """An image being written on: composites text layers and keeps mask and labels in step."""

    def __init__(self, background: np.ndarray) -> None:
        self.pixels = background.astype(np.float32)
        self.mask = np.zeros(background.shape[:2], np.uint8)
        self.items: list[dict[str, Any]] = []
        self.taken: list[tuple[int, int, int, int]] = []

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.pixels.shape[0], self.pixels.shape[1]

    def brightness(self, x0: int, y0: int, x1: int, y1: int) -> float:
        """Mean brightness (0-255) of a region, to choose a text colour that stands out."""
        region = self.pixels[y0:y1, x0:x1]
        return float(region.mean()) if region.size else 0.0

    def free(self, box: tuple[int, int, int, int], margin: int = 4) -> bool:
        """Whether `box` stays clear of the text already placed."""
        x0, y0, x1, y1 = box
        return all(
            x0 >= b[2] + margin or x1 <= b[0] - margin or y0 >= b[3] + margin or y1 <= b[1] - margin
            for b in self.taken
        )

    def paste(
        self,
        layer: TextLayer,
        x: int,
        y: int,
        roles: dict[str, str],
        style: HardStyle = PLAIN,
    ) -> None:
        """Alpha-composite `layer` with its top-left corner at (x, y) and record its labels.

        `roles` tells what each line's text is: "phi" (patient data), "label" (technical) or
        "note" (handwriting), so evaluations can count PHI lines alone. `style` is the hard
        style the layer was drawn in; its name and angle go into every line's item.
        """
        h, w = layer.rgba.shape[:2]
        alpha = layer.rgba[..., 3:4].astype(np.float32) / 255.0
        colour = layer.rgba[..., :3].astype(np.float32)
        if self.pixels.ndim == 2 and not _is_grey(layer.rgba):
            self.pixels = np.repeat(self.pixels[..., None], 3, axis=2)
        region = self.pixels[y : y + h, x : x + w]
        if region.ndim == 2:
            region[...] = region * (1 - alpha[..., 0]) + colour[..., 0] * alpha[..., 0]
        else:
            region[...] = region * (1 - alpha) + colour * alpha
        self.mask[y : y + h, x : x + w][layer.rgba[..., 3] > 0] = 255
        self.taken.append((x, y, x + w, y + h))
        roles = {text.casefold(): role for text, role in roles.items()}
        for line in layer.lines:
            self.items.append(
                {
                    "box": _shift(line.box, x, y),
                    "text": line.text,
                    "kind": line.kind,
                    "font": line.font,
                    "role": roles.get(line.text.casefold(), "label"),
                    "words": [{"box": _shift(w_.box, x, y), "text": w_.text} for w_ in line.words],
                    "style": style.name,
                    "angle": style.angle,
                }
            )

    def contrasted(self, layer: TextLayer, x: int, y: int, min_contrast: float = 70.0) -> TextLayer:
        """Return `layer`, with its colours inverted if it would barely stand out at (x, y).

        Text the eye cannot see would teach the classifier to call plain anatomy "text"; real
        overlays and notes are written to be read. Inverting keeps outlines contrasting too.
        """
        h, w = layer.rgba.shape[:2]
        alpha = layer.rgba[..., 3] > 0
        if not alpha.any():
            return layer
        under = self.pixels[y : y + h, x : x + w][alpha]
        text = layer.rgba[..., :3][alpha].astype(np.float32)
        lum = float((text @ np.array([0.299, 0.587, 0.114], np.float32)).mean())
        bg = float(under.mean())
        if abs(lum - bg) >= min_contrast:
            return layer
        rgba = layer.rgba.copy()
        rgba[..., :3] = 255 - rgba[..., :3]
        return TextLayer(rgba=rgba, lines=layer.lines)

    def finish(
        self, layer: TextLayer, x: int, y: int, style: HardStyle, min_contrast: float
    ) -> TextLayer:
        """Colour a placed layer: low-contrast to its local background, else `contrasted`."""
        if style.name == "low-contrast":
            h, w = layer.rgba.shape[:2]
            return recolour(layer, self.pixels[y : y + h, x : x + w], style)
        return self.contrasted(layer, x, y, min_contrast=min_contrast)

    def image(self) -> np.ndarray:
        """The composited image as uint8."""
        return np.clip(np.rint(self.pixels), 0, 255).astype(np.uint8)


def _shift(box: tuple[int, int, int, int], x: int, y: int) -> list[int]:
    return [box[0] + x, box[1] + y, box[2] + x, box[3] + y]


def _is_grey(rgba: np.ndarray) -> bool:
    visible = rgba[..., 3] > 0
    rgb = rgba[..., :3][visible].astype(np.int16)
    return bool(rgb.size == 0 or (np.abs(rgb - rgb[:, :1]).max() <= 2))


def _place(
    rng: np.random.Generator, canvas: Canvas, w: int, h: int, anchor: str, *, tries: int = 1
) -> tuple[int, int] | None:
    """Find a free spot for a w x h layer near `anchor` (a corner, a band, an edge or anywhere).

    Anchors are "anywhere" or a row t/m/b (top, middle, bottom) and a column l/c/r; "ml" and
    "mr" (along the left or right edge) are for vertical labels and never leave their edge.

    With `tries` > 1, several free candidates are drawn and the one over the calmest background
    (lowest standard deviation) wins: text straddling anatomy edges is hard to read for people
    and OCR alike, and scanners put their overlays where the image is quiet.
    """
    rows, cols = canvas.size
    if w >= cols - 4 or h >= rows - 4:
        return None
    edge = int(rng.integers(2, max(3, cols // 40)))
    found: list[tuple[int, int]] = []
    for attempt in range(12 + 4 * tries):
        # An edge label stays on its edge: it is what the style is for.
        where = anchor if attempt < 4 * tries or anchor[0] == "m" else "anywhere"
        if where == "anywhere":
            x, y = int(rng.integers(0, cols - w)), int(rng.integers(0, rows - h))
        else:
            x = {"l": edge, "r": cols - w - edge, "c": (cols - w) // 2}[where[1]]
            y = {"t": edge, "b": rows - h - edge, "m": (rows - h) // 2}[where[0]]
            x += int(rng.integers(-edge, edge + 1)) if where[1] == "c" else 0
            if where[0] == "m":
                y += int(rng.integers(-(rows // 4), rows // 4 + 1))
            else:
                y += int(rng.integers(0, max(1, rows // 12))) * (1 if where[0] == "t" else -1)
            x, y = min(max(0, x), cols - w), min(max(0, y), rows - h)
        if canvas.free((x, y, x + w, y + h)):
            found.append((x, y))
            if len(found) >= tries:
                break
    if not found:
        return None

    def busy(p: tuple[int, int]) -> float:
        return float(canvas.pixels[p[1] : p[1] + h, p[0] : p[0] + w].std())

    best = min(found, key=busy)
    # All near the anchor is busy anatomy: look further afield (an edge label stays put).
    if tries > 1 and anchor[0] != "m" and busy(best) > 35:
        for _ in range(tries):
            x, y = int(rng.integers(0, cols - w)), int(rng.integers(0, rows - h))
            if canvas.free((x, y, x + w, y + h)) and busy((x, y)) < busy(best):
                best = (x, y)
    return best


def _printed_colour(rng: np.random.Generator, brightness: float) -> tuple[int, int, int]:
    palette = DARK_COLOURS if brightness > 150 else LIGHT_COLOURS
    return palette[int(rng.integers(len(palette)))]


def _printed_size(rng: np.random.Generator, size: int) -> int:
    """Font size in pixels: ~8 to ~40 at 512 px, most between 12 and 22 as on scanners."""
    px = rng.choice(
        [rng.uniform(8, 13), rng.uniform(12, 22), rng.uniform(18, 40)], p=[0.15, 0.6, 0.25]
    )
    return max(7, int(np.rint(px * size / 512)))


def _add_printed(
    rng: np.random.Generator,
    canvas: Canvas,
    pool: list[FontSpec],
    size: int,
    hard: np.random.Generator,
    hard_share: float,
) -> bool:
    """Add scanner-style overlay text: corner blocks, top/bottom bands or single markers.

    Each block gets its hard style from `hard` (plain with probability 1 - `hard_share`).
    """
    layout = rng.choice(["corners", "band", "marker"], p=[0.6, 0.25, 0.15])
    anchors = {
        "corners": list(rng.permutation(["tl", "tr", "bl", "br"])[: int(rng.integers(1, 5))]),
        "band": [str(rng.choice(["tc", "bc"]))],
        "marker": [str(rng.choice(["tl", "tr", "bl", "br", "tc"]))],
    }[str(layout)]
    placed = False
    for anchor in anchors:
        n = 1 if layout == "marker" else int(rng.integers(1, 5 if layout == "corners" else 3))
        share = 0.4 if layout == "marker" else 0.65
        roles: dict[str, str] = {}
        for _ in range(n):
            if rng.random() < share:
                roles.setdefault(phi_line(rng), "phi")
            else:
                roles.setdefault(label_line(rng), "label")
        lines = list(roles)
        font = choose_font(rng, pool)
        px = _printed_size(rng, size)
        style = choose_style(hard, hard_share)
        anchor = style.anchor or anchor
        align = "right" if anchor.endswith("r") else "center" if anchor.endswith("c") else "left"
        for _ in range(3):  # shrink until the block fits
            rows, cols = canvas.size
            probe = (
                canvas.brightness(0, 0, cols, rows // 6)
                if anchor[0] == "t"
                else canvas.brightness(0, rows - rows // 6, cols, rows)
            )
            colour = _printed_colour(rng, probe)
            layer = shape_layer(render_printed(rng, lines, font, px, colour, align=align), style)
            spot = _place(rng, canvas, layer.rgba.shape[1], layer.rgba.shape[0], anchor, tries=6)
            if spot is not None:
                # Recolour for the background under the block: overlays are made to be read.
                h, w = layer.rgba.shape[:2]
                local = canvas.brightness(spot[0], spot[1], spot[0] + w, spot[1] + h)
                if (local > 150) != (colour in DARK_COLOURS):
                    colour = _printed_colour(rng, local)
                    layer = render_printed(rng, lines, font, px, colour, align=align)
                    layer = shape_layer(layer, style)
                    h, w = layer.rgba.shape[:2]
                    if (
                        spot[0] + w > cols
                        or spot[1] + h > rows
                        or not canvas.free((*spot, spot[0] + w, spot[1] + h))
                    ):
                        spot = _place(rng, canvas, w, h, anchor, tries=6)
            if spot is not None:
                layer = canvas.finish(layer, *spot, style, min_contrast=100.0)
                canvas.paste(layer, *spot, roles, style)
                placed = True
                break
            px = max(7, int(px * 0.7))
    return placed


def _add_handwritten(
    rng: np.random.Generator,
    canvas: Canvas,
    pool: list[FontSpec],
    size: int,
    hard: np.random.Generator,
    hard_share: float,
) -> bool:
    """Add 1-3 handwritten notes (1-3 lines each) anywhere on the image.

    Each line gets its hard style from `hard` (plain with probability 1 - `hard_share`).
    """
    placed = False
    for _ in range(int(rng.integers(1, 4))):
        font = choose_font(rng, pool)
        px = max(10, int(np.rint(rng.uniform(14, 40) * size / 512)))
        n_lines = int(rng.choice([1, 1, 2, 3]))
        for _ in range(n_lines):
            layer = None
            style = choose_style(hard, hard_share)
            for _ in range(3):
                rows, cols = canvas.size
                light = canvas.brightness(0, 0, cols, rows) < 90 and rng.random() < 0.6
                pens = LIGHT_PENS if light else DARK_PENS
                text = note_text(rng)
                layer = render_handwritten(rng, text, font, px, pens[int(rng.integers(len(pens)))])
                layer = shape_layer(layer, style)
                h, w = layer.rgba.shape[:2]
                spot = _place(rng, canvas, w, h, style.anchor or "anywhere")
                if spot is not None:
                    layer = canvas.finish(layer, *spot, style, min_contrast=70.0)
                    canvas.paste(layer, *spot, {text: "note"}, style)
                    placed = True
                    break
                px = max(10, int(px * 0.7))
    return placed


def make_sample(
    index: int,
    seed: int,
    size: int,
    backgrounds: BackgroundSource,
    negatives: float = NEGATIVES_SHARE,
    hard_text: float = HARD_TEXT_SHARE,
    stickers: float = STICKERS_SHARE,
) -> Sample:
    """Generate image `index` of the dataset with `seed` (deterministic).

    Args:
        index: Position of the image in the dataset (fixes its class and split).
        seed: Dataset seed.
        size: Side of the square image in pixels.
        backgrounds: Where the clean backgrounds come from.
        negatives: Share (0-1) of images that get hard negatives. Which images do, and what
            is drawn, comes from generators of their own: the background of an image is the
            same whatever the share, and an image without negatives comes out exactly as it
            would with share 0.
        hard_text: Share (0-1) of text layers drawn in a hard style (rotated, tilted, along
            an edge, low-contrast, blurred). Styles come from a generator of their own too:
            with share 0 the images are exactly those made without hard text.
        stickers: Share (0-1) of images with a label or paper scrap stuck on, from a generator
            of its own too: with share 0 the images are exactly those made without stickers.
    """
    rng = np.random.default_rng([seed, index])
    split = split_of(index)
    label = label_of(index)
    printed_pool, hand_pool = font_pools(split)
    background = backgrounds.sample(rng, size)
    base, drawn = background.image, []
    if has_negatives(seed, index, negatives):
        base, drawn = add_negatives(negatives_rng(seed, index), base, background.modality)
    sticker = None
    if has_sticker(seed, index, stickers):
        sticker = make_sticker(stickers_rng(seed, index), base, label, (printed_pool, hand_pool))
        base = sticker.image
    canvas = Canvas(base)
    if sticker is not None:
        canvas.taken.append(tuple(sticker.record["box"]))  # nothing else is written on it
        if sticker.text is not None:
            canvas.paste(sticker.text, *sticker.at, sticker.roles, HardStyle(angle=sticker.angle))
            canvas.items = [dict(item, sticker=True) for item in canvas.items]
    hard = hard_text_rng(seed, index)
    for _ in range(4):  # a class must hold what it says; retry placement if nothing fitted
        if "P" in label and all(i["kind"] != "printed" or "sticker" in i for i in canvas.items):
            _add_printed(rng, canvas, printed_pool, size, hard, hard_text)
        if "H" in label and not any(i["kind"] == "handwritten" for i in canvas.items):
            _add_handwritten(rng, canvas, hand_pool, size, hard, hard_text)
    kinds = {i["kind"] for i in canvas.items}
    actual = ("P" if "printed" in kinds else "") + ("H" if "handwritten" in kinds else "") or "None"
    clean = base  # with the negatives: they are part of the picture the inpainter restores
    if canvas.pixels.ndim == 3 and clean.ndim == 2:
        clean = np.repeat(clean[..., None], 3, axis=2)
    return Sample(
        image=canvas.image(),
        clean=clean,
        mask=canvas.mask,
        label=actual,
        items=canvas.items,
        modality=background.modality,
        source=background.source,
        negatives=drawn,
        sticker=None if sticker is None else sticker.record,
    )
