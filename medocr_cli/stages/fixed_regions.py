"""A site rule's fixed rectangles applied to one frame's boxes and mask (`--config` recipes).

A scanner model burns its header bar into the same rectangle of every image; a site recipe
(`site_config`) can name that rectangle to clear it whatever the finder says, and name
rectangles never to touch (a measurement panel the finder keeps mistaking for text).
"""

from __future__ import annotations

import numpy as np

from medocr_cli.site_config import FixedRegions
from medocr_cli.stages.mask import text_mask
from medocr_cli.types import Box

#: `Box.source` of a rectangle a site rule clears.
SITE_RULE = "site rule"


def masked_with_regions(
    shape: tuple[int, ...],
    boxes: list[Box],
    prob_map: np.ndarray | None,
    regions: FixedRegions,
    frame: int,
) -> tuple[list[Box], np.ndarray | None]:
    """The boxes to remove from one frame and their mask, with the rule's rectangles applied.

    The finder's boxes wholly inside a never-touch rectangle are dropped; the rest are masked
    as usual (`text_mask`). Every clear rectangle is then added to the mask whole (not narrowed
    to strokes: the finder may see nothing there) and to the boxes (so it is repainted,
    verified and reported like found text), and finally every pixel of a never-touch rectangle
    is taken out of the mask, so a box that straddles one is removed only outside it.

    Returns:
        The boxes (found ones kept, then the clear rectangles), and the boolean mask, or None
        when it is empty.
    """
    found = [b for b in boxes if not regions.keeps(b.x0, b.y0, b.x1, b.y1)]
    rows, cols = int(shape[0]), int(shape[1])
    mask = text_mask(shape, found, prob_map=prob_map) if found else np.zeros((rows, cols), bool)
    cleared = []
    for rect in regions.clear:
        x0, y0, x1, y1 = rect.bounds
        mask[y0:y1, x0:x1] = True
        cleared.append(Box(frame, x0, y0, x1, y1, source=SITE_RULE))
    for rect in regions.keep:
        x0, y0, x1, y1 = rect.bounds
        mask[y0:y1, x0:x1] = False
    return found + cleared, (mask if mask.any() else None)
