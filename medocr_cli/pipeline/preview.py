"""Contact sheets: a grid of dataset images with their text boxes drawn, for a person to judge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from medocr_cli.errors import InputFileError
from medocr_cli.io import read_scan
from medocr_cli.io.atomic import atomic_path

KIND_COLOURS = {"printed": (255, 40, 40), "handwritten": (40, 140, 255)}
#: Height of the caption band above each tile: id/label/split/modality and sticker, then hard
#: negatives.
CAPTION = 26
NEGATIVES_COLOUR = (255, 170, 60)
STICKER_COLOUR = (120, 230, 160)


def contact_sheet(
    dataset: Path, target: Path, *, count: int = 24, tile: int = 256, columns: int = 6
) -> int:
    """Draw the first `count` images of a dataset with boxes (red printed, blue handwritten).

    Each tile's caption names the image, its class, split and modality, in green the kind of
    sticker stuck on it (label or paper: background, so it has no box; the lines written on it
    have theirs) and, in orange, the kinds of hard negatives drawn on it (non-text structure,
    so they have no box).

    Returns the number of tiles drawn.
    """
    manifest = dataset / "manifest.jsonl"
    try:
        records = [
            json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()[:count]
        ]
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read manifest: {exc}", path=manifest) from exc
    rows = max(1, -(-len(records) // columns))
    sheet = Image.new("RGB", (columns * tile, rows * (tile + CAPTION)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for n, rec in enumerate(records):
        scan = read_scan(dataset / rec["image"])
        view = scan.display(0)
        img = Image.fromarray(view if view.ndim == 3 else np.repeat(view[..., None], 3, axis=2))
        scale = tile / max(img.size)
        img = img.resize(
            (round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR
        )
        x, y = (n % columns) * tile, (n // columns) * (tile + CAPTION)
        sheet.paste(img, (x, y + CAPTION))
        for item in rec["items"]:
            x0, y0, x1, y1 = (v * scale for v in item["box"])
            draw.rectangle(
                [x + x0, y + CAPTION + y0, x + x1, y + CAPTION + y1],
                outline=KIND_COLOURS.get(item["kind"]),
                width=1,
            )
        caption = f"{rec['id']} {rec['label']} {rec['split']} {rec.get('modality', '')}"
        draw.text((x + 3, y + 2), caption, fill=(230, 230, 230))
        if rec.get("sticker"):
            sticker = "sticker: " + rec["sticker"]["kind"]
            draw.text((x + 9 + draw.textlength(caption), y + 2), sticker, fill=STICKER_COLOUR)
        if rec.get("negatives"):
            draw.text((x + 3, y + 13), "neg: " + ", ".join(rec["negatives"]), fill=NEGATIVES_COLOUR)
    with atomic_path(target) as tmp:
        sheet.save(tmp, format="PNG")
    return len(records)
