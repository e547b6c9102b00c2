"""Tesseract around regions the detector found: the finder's region pass and verify's reading.

Reading whole frames with Tesseract is slow and misses small overlay text; reading crops around
detected lines is what the learned finder does where Tesseract helps (`read_regions`, the
region pass and the confirm step's rescue), and what verify does over the regions the finder
removed (`read_stacked`, all of a frame's regions in one Tesseract call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from medocr_cli.stages.printed import PrintedConfig, read_printed_many
from medocr_cli.types import Box, join_overlapping

#: Context around a detected line that the region pass gives Tesseract, in line heights.
REGION_GROW_X = 2.0
REGION_GROW_Y = 0.6
#: Tesseract settings of the region pass: crops are small, so two renderings (as shown and
#: inverted, one of which is dark-on-light) and no top-hat (whose size suits whole frames).
REGION_PRINTED = PrintedConfig(variants=("grey", "inverted"), pad=8, upscale_below=400)


def region_crops(boxes: Sequence[Box], shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Return the crops the region pass reads: lines grown by their height, overlaps joined."""
    rows, cols = shape
    rects = []
    for b in boxes:
        gx, gy = round(REGION_GROW_X * b.height), round(REGION_GROW_Y * b.height)
        rects.append(
            [max(0, b.x0 - gx), max(0, b.y0 - gy), min(cols, b.x1 + gx), min(rows, b.y1 + gy)]
        )
    return [(x0, y0, x1, y1) for x0, y0, x1, y1 in join_overlapping(rects) if x1 > x0 and y1 > y0]


def read_regions(
    frame: np.ndarray, index: int, boxes: Sequence[Box], config: PrintedConfig = REGION_PRINTED
) -> list[Box]:
    """Run Tesseract on crops around `boxes` and return its word boxes in frame coordinates."""
    crops = region_crops(boxes, frame.shape[:2])
    images = [np.ascontiguousarray(frame[y0:y1, x0:x1]) for x0, y0, x1, y1 in crops]
    found: list[Box] = []
    words = read_printed_many(images, [index] * len(images), config) if images else []
    for (x0, y0, _, _), read in zip(crops, words, strict=True):
        found += [replace(w, x0=w.x0 + x0, y0=w.y0 + y0, x1=w.x1 + x0, y1=w.y1 + y0) for w in read]
    return found


def read_stacked(frame: np.ndarray, index: int, boxes: Sequence[Box]) -> list[Box]:
    """Tesseract over the regions of `boxes` in one call: every region on its own strips.

    The regions (boxes grown by a third of their height) are cut out, brought to a height of
    at least 40 px, and each is stacked twice, as shown and inverted (one of the two is dark
    text on light), every strip padded with its own border grey; the stack is read once and
    the words found are mapped back into the frame. One Tesseract call per frame, however many
    boxes: a call's start-up costs more than its pixels here, and this is what makes
    verification affordable. (Choosing one polarity per region instead fails where a line
    crosses two backgrounds, e.g. white text half over black and half over grey.)
    Only confident, word-like readings are returned (`stages.printed`'s plausibility rule).
    """
    from medocr_cli.stages.printed import tesseract_data

    page = stacked_page(frame, boxes)
    if page is None:
        return []
    return page.words(tesseract_data(page.stack, STACKED_PSM), index)


#: Tesseract's page segmentation of a stacked page: sparse text, every strip on its own.
STACKED_PSM = 11
#: Rows of border around each strip of a stacked page.
_GAP = 12


@dataclass
class StackedPage:
    """The regions of one frame cut out and stacked for one Tesseract read (`read_stacked`).

    Attributes:
        stack: The page, 8-bit grey.
        placed: Per strip: (row in the page, scale, x0, y0 of its region, strip height).
        shape: (rows, cols) of the frame.
    """

    stack: np.ndarray
    placed: list[tuple[int, float, int, int, int]]
    shape: tuple[int, int]

    def words(self, data: dict[str, list], index: int) -> list[Box]:
        """Map the words of Tesseract's table of this page back into frame `index`."""
        from medocr_cli.stages.printed import keep_plausible

        rows, cols = self.shape
        found: list[Box] = []
        for i, text in enumerate(data.get("text", [])):
            if not text.strip() or float(data["conf"][i]) < 0:
                continue
            top, h = data["top"][i], data["height"][i]
            mid = top + h / 2
            for offset, scale, x0, y0, height in self.placed:
                if offset <= mid < offset + height:
                    left = (data["left"][i] - _GAP) / scale + x0
                    upper = (top - offset) / scale + y0
                    found.append(
                        Box(
                            index,
                            max(0, int(left)),
                            max(0, int(upper)),
                            min(cols, int(np.ceil(left + data["width"][i] / scale))),
                            min(rows, int(np.ceil(upper + h / scale))),
                            text.strip(),
                            "printed",
                            float(data["conf"][i]) / 100.0,
                            "tesseract",
                        )
                    )
                    break
        return keep_plausible(found, REGION_PRINTED.min_conf / 100.0, (rows, cols))


def stacked_page(frame: np.ndarray, boxes: Sequence[Box]) -> StackedPage | None:
    """Cut the regions of `boxes` out of `frame` and stack them (see `read_stacked`)."""
    import cv2

    from medocr_cli.stages.printed import stack_strips

    if not boxes:
        return None
    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    rows, cols = grey.shape
    gap = _GAP
    strips, placed = [], []
    y = 0
    for b in boxes:
        g = max(2, round(b.height / 3))
        x0, y0 = max(0, b.x0 - g), max(0, b.y0 - g)
        x1, y1 = min(cols, b.x1 + g), min(rows, b.y1 + g)
        if x1 <= x0 or y1 <= y0:
            continue
        crop = grey[y0:y1, x0:x1]
        scale = max(1.0, 40.0 / crop.shape[0])
        if scale > 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        for shown in (crop, 255 - crop):  # both polarities, in the same stack
            border = np.concatenate([shown[0], shown[-1], shown[:, 0], shown[:, -1]])
            strip = cv2.copyMakeBorder(
                shown, gap, gap, gap, gap, cv2.BORDER_CONSTANT, value=int(np.median(border))
            )
            strips.append(strip)
            placed.append((y + gap, scale, x0, y0, strip.shape[0] - 2 * gap))
            y += strip.shape[0]
    if not strips:
        return None
    stack, _ = stack_strips(strips)
    return StackedPage(stack, placed, (rows, cols))
