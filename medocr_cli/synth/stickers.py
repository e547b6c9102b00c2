"""Label stickers and paper scraps: writing on paper stuck onto a scan before it was digitised.

Hospitals stick patient labels and handwritten paper notes onto films and printouts, so the scan
shows a pale piece of paper with text on it. `generate-dataset --stickers SHARE` draws one on a
share of the images: an adhesive label (straight edges, rounded corners; white, pale yellow or a
pale colour) or a scrap of note paper (torn edges, off-white or note-pad yellow, sometimes
ruled), a slightly irregular quadrilateral turned a few degrees, with a soft shadow, uneven
lighting, grain and faint fibres. What is written on it follows the image's class, so a sticker
never gives the class away: handwriting for H and PH, printed patient-label lines for P (and
often PH), nothing on the stickers of None images (a blank label is paper, not text).

The paper is background: it is drawn before any text, so it is in the clean image and never in
the text mask, the boxes or the label; only the ink written on it is. The writing is laid out
inside the paper, clear of every edge (torn, rounded or skewed), in dark ink, and turned with
the paper, its labels carried through exactly (`hard_text.warp_layer`). It is never drawn in a
hard style (a sticker is written to be read): its items have style "plain", the paper's angle
and "sticker": True. The paper itself is drawn by `paper`.

Which images get a sticker is decided by `has_sticker` from (seed, index, share) alone, and it is
drawn with its own generator (`stickers_rng`): with share 0 nothing is drawn and the images are
exactly those made before stickers existed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medocr_cli.synth.content import age_sex, format_date, note_text, patient_id, person_name
from medocr_cli.synth.content.fields import random_date
from medocr_cli.synth.fonts import FontSpec, choose_font
from medocr_cli.synth.handwriting import DARK_PENS, render_handwritten
from medocr_cli.synth.hard_text import warp_layer
from medocr_cli.synth.paper import Layout, draw_paper, margin, turned_size
from medocr_cli.synth.printed import render_printed
from medocr_cli.synth.text_layer import LineLabel, TextLayer, WordLabel, shift_box

#: Default share of images that get a sticker.
STICKERS_SHARE = 0.1
#: The kinds of sticker: an adhesive label, a scrap of note paper.
KINDS = ("label", "paper")
#: Largest turn of a sticker, degrees either way: stuck on by hand, nearly straight (the
#: recognizer reads lines tilted this much).
MAX_ANGLE = 4.0
#: Largest share of the image's width and height a sticker (with its shadow) may take.
FIT = (0.9, 0.6)

#: Label printer inks: black, dark grey, dark blue.
PRINT_INKS = ((15, 15, 15), (45, 45, 45), (25, 30, 80))

_STREAM = 0x73746B  # "stk": keeps these draws apart from the sample's and the other features'
#: Spacing of the low-discrepancy sequence that picks the images; not the negatives' golden
#: ratio, so which images get stickers and which get negatives stay unrelated.
_SPACING = math.sqrt(2.0) - 1.0


@dataclass
class Sticker:
    """A sticker drawn on a background, and the writing to composite on it.

    Attributes:
        image: The background with the sticker and its shadow: what the clean image shows
            (RGB if the paper is coloured, else as the background was).
        record: What the manifest says of it: kind, box (tight box of the paper), corners (the
            quadrilateral's corners clockwise from top-left, before tearing and rounding, so
            the paper lies inside them) and angle (degrees counter-clockwise).
        paper: bool (H, W): the pixels wholly inside the paper's outline.
        text: The writing, turned with the paper and cropped tight; None on a blank sticker.
        at: Where `text`'s top-left corner goes on the image.
        roles: What each line says: "phi" (printed label lines) or "note" (handwriting).
    """

    image: np.ndarray
    record: dict[str, Any]
    paper: np.ndarray
    text: TextLayer | None = None
    at: tuple[int, int] = (0, 0)
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def angle(self) -> float:
        """How far the sticker, and what is written on it, is turned (degrees anticlockwise)."""
        return float(self.record["angle"])


@dataclass
class _Writing:
    """What goes on the paper, laid out in the paper's own frame (before it is turned)."""

    layer: TextLayer | None
    layout: Layout
    roles: dict[str, str]


def has_sticker(seed: int, index: int, share: float) -> bool:
    """Whether image `index` of the dataset made with `seed` gets a sticker.

    A low-discrepancy sequence (offset by the seed) rather than a coin flip: the share is met
    almost exactly in any run of consecutive images, and an image with a sticker at some share
    has one at any larger share.
    """
    if share <= 0.0:
        return False
    offset = float(np.random.default_rng([seed, _STREAM]).random())
    return (index * _SPACING + offset) % 1.0 < share


def stickers_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that draws image `index`'s sticker, apart from the sample's own."""
    return np.random.default_rng([seed, index, _STREAM])


def make_sticker(
    rng: np.random.Generator,
    image: np.ndarray,
    label: str,
    pools: tuple[list[FontSpec], list[FontSpec]],
) -> Sticker:
    """Stick a label or a paper scrap somewhere on `image` and write on it for class `label`.

    Args:
        rng: The generator all randomness comes from (see `stickers_rng`).
        image: The background, uint8 grey (H, W) or RGB (H, W, 3); not changed.
        label: The image's class (None / P / H / PH): what is written on the sticker.
        pools: The (printed, handwritten) faces of the image's split.

    Returns:
        The background with the sticker, its record and the writing to composite on it. The
        writing's ink lies on the paper, clear of its edges; writing too large for the image
        is drawn smaller, and after three tries left off (the caller writes elsewhere).
    """
    rows, cols = image.shape[:2]
    scale = min(rows, cols) / 512.0
    kind = "label" if label == "P" or rng.random() < 0.5 else "paper"
    angle = 0.0 if rng.random() < 0.25 else round(float(rng.uniform(-MAX_ANGLE, MAX_ANGLE)), 2)
    shrink = 1.0
    for attempt in range(4):
        blank = label == "None" or attempt == 3
        writing = (
            _blank(rng, scale, min(rows, cols))
            if blank
            else _write(rng, label, kind, pools, scale * shrink)
        )
        out_w, out_h = turned_size(writing.layout.width, writing.layout.height, angle, scale)
        if out_w <= FIT[0] * cols and out_h <= FIT[1] * rows:
            break
        shrink *= 0.75
    paper = draw_paper(rng, image, kind, angle, writing.layout, scale)
    sticker = Sticker(paper.image, paper.record, paper.covered)
    if writing.layer is not None:
        text, (x, y) = warp_layer(writing.layer, paper.matrix, paper.size)
        sticker.text, sticker.roles = text, writing.roles
        sticker.at = (paper.origin[0] + x, paper.origin[1] + y)
    return sticker


def _label_lines(rng: np.random.Generator) -> list[str]:
    """1-3 lines of a printed patient label: the name, then some of birth date, ID, age/sex."""
    name = person_name(rng).replace("^^", "").replace("^", ", ", 1).replace("^", " ")
    extra = [
        f"DOB {format_date(rng, random_date(rng, 1930, 2022))}",
        f"MRN {patient_id(rng)}",
        age_sex(rng),
    ]
    picked = sorted(int(i) for i in rng.permutation(3)[: int(rng.integers(0, 3))])
    return [name, *(extra[i] for i in picked)]


def _write(
    rng: np.random.Generator,
    label: str,
    kind: str,
    pools: tuple[list[FontSpec], list[FontSpec]],
    scale: float,
) -> _Writing:
    """Render the writing of a class-`label` sticker and lay it out on a paper around it."""
    printed_pool, hand_pool = pools
    layers: list[tuple[TextLayer, bool]] = []  # (layer, handwritten)
    roles: dict[str, str] = {}
    unit = 0.0
    if "P" in label and kind == "label" and (label == "P" or rng.random() < 0.6):
        lines = _label_lines(rng)
        px = max(8, round(float(rng.uniform(10, 15)) * scale))
        ink = PRINT_INKS[int(rng.integers(len(PRINT_INKS)))]
        font = choose_font(rng, printed_pool)
        layers.append((_pressed(render_printed(rng, lines, font, px, ink), rng), False))
        roles.update(dict.fromkeys(lines, "phi"))
        unit = px
    if "H" in label:
        font = choose_font(rng, hand_pool)
        px = max(10, round(float(rng.uniform(16, 30)) * scale))
        pen = DARK_PENS[int(rng.integers(len(DARK_PENS)))]
        for _ in range(int(rng.choice([1, 1, 2]))):
            text = note_text(rng)
            layers.append((_pressed(render_handwritten(rng, text, font, px, pen), rng), True))
            roles.setdefault(text, "note")
        unit = max(unit, px)
    return _stack(rng, kind, layers, roles, unit)


def _pressed(layer: TextLayer, rng: np.random.Generator) -> TextLayer:
    """Darken a layer's ink 1.3-1.7 times (in place; returned too).

    A pen pressed on paper leaves more ink than one on film, a label printer burns its text
    solid, and a sticker is written to be read. No pixel gains or loses ink, so the labels hold.
    """
    alpha = layer.rgba[..., 3].astype(np.float32) * float(rng.uniform(1.3, 1.7))
    layer.rgba[..., 3] = np.where(layer.rgba[..., 3] > 0, np.minimum(np.rint(alpha), 255), 0)
    return layer


def _blank(rng: np.random.Generator, scale: float, side: int) -> _Writing:
    """A paper with nothing written on it, 16-36% of the image's side wide."""
    width = round(float(rng.uniform(0.16, 0.36)) * side)
    height = round(width * float(rng.uniform(0.35, 0.75)))
    return _Writing(None, Layout(width, height, 14.0 * scale), {})


def _stack(
    rng: np.random.Generator,
    kind: str,
    layers: list[tuple[TextLayer, bool]],
    roles: dict[str, str],
    unit: float,
) -> _Writing:
    """Stack the layers top to bottom inside a margin, as one layer the size of the paper.

    The margin (`paper.margin`) keeps the ink on the paper, clear of its edges, whatever their
    shape.
    """
    clear = margin(unit, kind)
    gap = max(1, round(0.25 * unit))
    x0 = y = math.ceil(clear + float(rng.uniform(0.0, 0.5)) * unit)
    placed: list[tuple[TextLayer, int, int]] = []
    hand_rows: list[tuple[int, int]] = []
    for layer, handwritten in layers:
        h, w = layer.rgba.shape[:2]
        x = x0 + (int(rng.integers(0, max(1, round(0.6 * unit)))) if handwritten else 0)
        placed.append((layer, x, y))
        if handwritten:
            hand_rows.append((y, h))
        y += h + gap
    content_w = max(x + layer.rgba.shape[1] for layer, x, _ in placed)
    width = math.ceil(content_w + clear + float(rng.uniform(0.0, 0.35)) * (content_w - x0))
    height = math.ceil(y - gap + clear + float(rng.uniform(0.0, 0.5)) * unit)
    rgba = np.zeros((height, width, 4), np.uint8)
    lines: list[LineLabel] = []
    for layer, x, top in placed:
        h, w = layer.rgba.shape[:2]
        rgba[top : top + h, x : x + w] = layer.rgba  # the rows never overlap
        lines += [
            LineLabel(
                text=ln.text,
                kind=ln.kind,
                box=shift_box(ln.box, x, top),
                words=[WordLabel(wd.text, shift_box(wd.box, x, top)) for wd in ln.words],
                font=ln.font,
            )
            for ln in layer.lines
        ]
    layout = Layout(width, height, unit, tuple(hand_rows))
    return _Writing(TextLayer(rgba, lines), layout, roles)
