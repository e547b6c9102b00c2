"""Tesseract's part of verify: candidate lines and removed regions read, many frames at once.

The detector's weak lines (candidates) are confirmed or dismissed by what Tesseract reads in
them (`read_strips`, `confirmed_in`), and the regions the finder removed are read again
(`stages.region_reading.stacked_page`). A Tesseract process costs more to start than to read
a few strips, so `PageBatch` collects the pages of many frames and reads them in one process
per page segmentation mode; a page already read in this output (the same pixels, as in a
cine's static parts) is not read again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from medocr_cli.stages.region_reading import STACKED_PSM, StackedPage, stacked_page
from medocr_cli.types import Box

#: Tesseract's page segmentation of a candidate's page: one uniform block of text.
CANDIDATE_PSM = 6

#: Height in pixels a candidate's line is brought to before Tesseract reads it.
READ_HEIGHT = 48
#: A Tesseract word confirms a candidate at this confidence (0-100) or more, when it looks
#: like overlay text (`_overlay_like`)...
CONFIRM_CONF = 60
#: ... or at any confidence, when it holds this many capitals or digits in a row: Tesseract
#: gives 0 to real names with odd glyphs ("DOE^JANE", "TON^JULIAN"), while what it reads into
#: texture is short, mostly lower case ("its", "ean", "Se").
CONFIRM_RUN = 5


def _overlay_like(text: str) -> bool:
    """Four or more letters/digits, or three that are not all lower case."""
    chars = [ch for ch in text if ch.isalnum()]
    return len(chars) >= 4 or (len(chars) == 3 and not all(ch.islower() for ch in chars))


def _confirms(text: str, conf: float) -> bool:
    """Whether one Tesseract word confirms that a candidate is text (see the constants)."""
    if conf >= CONFIRM_CONF and _overlay_like(text):
        return True
    return re.search(rf"[A-Z0-9]{{{CONFIRM_RUN},}}", re.sub(r"[^A-Za-z0-9]", "", text)) is not None


def _stretch(values: np.ndarray) -> np.ndarray | None:
    """Stretch to 0-255 between the 1st and 99th percentile; None for a flat region."""
    lo, hi = np.percentile(values, 1), np.percentile(values, 99)
    if hi <= lo:
        return None
    return (np.clip((values - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def _dark_on_light(grey: np.ndarray) -> np.ndarray:
    """Tesseract reads dark text on a light ground: invert a mostly dark crop."""
    return 255 - grey if np.median(grey) < 128 else grey


def read_strips(contrast: np.ndarray, plain: np.ndarray, box: Box, turns: int) -> list[np.ndarray]:
    """Two readings of one candidate line, turned `turns` quarters, for Tesseract.

    The locally contrast-stretched rendering as it is, and the plain rendering with the strokes
    lifted off their background (the absolute difference to a median-filtered copy, stretched):
    the first serves text a few grey levels above a smooth ground, the second text on a ground
    that varies (an organ edge, speckle). Both dark on light, `READ_HEIGHT` high, padded.
    """
    import cv2

    height = box.height if turns % 2 == 0 else box.width
    g = max(2, round(height / 4))
    rows, cols = plain.shape[:2]
    y0, y1 = max(0, box.y0 - g), min(rows, box.y1 + g)
    x0, x1 = max(0, box.x0 - g), min(cols, box.x1 + g)
    first = np.rot90(contrast[y0:y1, x0:x1], turns)
    crop = plain[y0:y1, x0:x1].astype(np.float32)
    if crop.ndim == 3:
        crop = crop.mean(axis=2)
    second = None
    flat = _stretch(np.rot90(crop, turns))
    if flat is not None:
        k = min(31, 2 * (min(flat.shape) // 2) + 1)
        if k >= 3:
            lifted = _stretch(np.abs(flat.astype(np.float32) - cv2.medianBlur(flat, k)))
            second = None if lifted is None else 255 - lifted
    strips = []
    for reading in (_dark_on_light(np.ascontiguousarray(first)), second):
        if reading is None or min(reading.shape) < 2:
            continue
        scale = READ_HEIGHT / reading.shape[0]
        big = cv2.resize(reading, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        strips.append(cv2.copyMakeBorder(big, 16, 16, 16, 16, cv2.BORDER_REPLICATE))
    return strips


def confirmed_in(data: dict[str, list], spans: list[tuple[int, int]]) -> set[int]:
    """The indices of the stacked strips (`spans`) that a word of Tesseract's table confirms."""
    hits: set[int] = set()
    for i, text in enumerate(data.get("text", [])):
        if not _confirms(text, float(data["conf"][i])):
            continue
        mid = data["top"][i] + data["height"][i] / 2
        hits |= {n for n, (a, b) in enumerate(spans) if a <= mid < b}
    return hits


#: Pages already read in this output: (shape, bytes) of a page -> whether it confirms text.
ReadCache = dict[tuple[tuple[int, ...], bytes], bool]


PageKey = tuple[tuple[int, ...], bytes]


class PageBatch:
    """Pages of many frames waiting to be read, and what was read so far in this output.

    Candidates are added with `candidate` (both directions of the candidate's turn, each its
    own page) and removed regions with `regions`; `read` reads all pages added since the last
    call, one Tesseract process per page segmentation mode; then `confirms` and `words` give
    the answers.
    """

    def __init__(self) -> None:
        """Start with nothing read."""
        self.cache: dict[PageKey, bool] = {}
        self.reads = 0
        self._todo: dict[PageKey, tuple[np.ndarray, list[tuple[int, int]]]] = {}
        self._stacked: list[StackedPage] = []
        self._tables: list[dict[str, list]] = []

    def candidate(
        self, renders: dict[str, np.ndarray], name: str, turns: int, box: Box
    ) -> list[PageKey]:
        """Add the pages of one candidate line; return their keys (for `confirms`)."""
        from medocr_cli.stages.printed import stack_strips

        wide = name.startswith("wide")
        contrast = renders["wide_contrast" if wide else "contrast"]
        plain = renders["wide" if wide else "display"]
        keys = []
        for side in (0, 1):
            strips = read_strips(contrast, plain, box, (turns + 2 * side) % 4)
            if not strips:
                continue
            stack, spans = stack_strips(strips)
            key = (stack.shape, stack.tobytes())
            if key not in self.cache:
                self._todo[key] = (stack, spans)
            keys.append(key)
        return keys

    def regions(self, frame: np.ndarray, boxes: Sequence[Box]) -> int | None:
        """Add the stacked page of a frame's removed regions; return its handle (for `words`)."""
        page = stacked_page(frame, boxes)
        if page is None:
            return None
        self._stacked.append(page)
        return len(self._stacked) - 1

    def read(self) -> None:
        """Read every page added since the last call (one Tesseract process per mode)."""
        from medocr_cli.stages.printed import tesseract_pages

        if self._todo:
            tables = tesseract_pages([stack for stack, _ in self._todo.values()], CANDIDATE_PSM)
            for (key, (_, spans)), table in zip(self._todo.items(), tables, strict=True):
                self.cache[key] = bool(confirmed_in(table, spans))
            self.reads += len(self._todo)
            self._todo = {}
        todo = self._stacked[len(self._tables) :]
        if todo:
            self._tables += tesseract_pages([page.stack for page in todo], STACKED_PSM)
            self.reads += len(todo)

    def confirms(self, keys: Sequence[PageKey]) -> bool:
        """Whether a candidate's pages (read) confirm it as text."""
        return any(self.cache[key] for key in keys)

    def words(self, handle: int, index: int) -> list[Box]:
        """The words read on a stacked page of regions (read), in frame `index`'s coordinates."""
        page = self._stacked[handle]
        return page.words(self._tables[handle], index)
