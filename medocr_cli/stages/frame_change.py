"""What changed between two frames of one scan: the seam that lets a cine reuse its key frame.

In a cine the overlay (names, dates, the scanner's labels) sits at the same place on every frame
while the anatomy moves. Both the finder (`pipeline/find_text.py`) and verify
(`pipeline/scrub/verify.py`) therefore search a frame in full once, the *key frame*, and for a
later frame whose pixels differ from the key frame's only in part, they take the key frame's
decisions for every region whose pixels are unchanged and decide afresh only where something
changed. The detector still looks at every whole frame (new text can appear anywhere); what is
reused are the per-region decisions that cost the most (the classifier, the confirm step,
Tesseract's readings) and, through an unchanged mask, the inpainter's fills.

"Unchanged" is exact for lossless inputs. For lossy ones (JPEG, JPEG 2000 irreversible) the
coder's noise moves pixels of the static overlay by a few levels from frame to frame wherever a
coding block also holds moving anatomy, so a small tolerance (`LOSSY_TOL`) applies there: text
whose pixels moved by at most that much is the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from medocr_cli.types import Box

if TYPE_CHECKING:
    from medocr_cli.io.scan import Scan

#: Grey levels (of the 8-bit display rendering, any channel) a pixel of a lossy input may move
#: by and still count as unchanged. Measured on `color3d_jpeg_baseline.dcm` (120 JPEG frames):
#: the static overlay outside the sector is byte-identical in every frame; pixels of coding
#: blocks shared with the moving sector move by up to a few levels.
LOSSY_TOL = 8
#: A changed pixel reaches this far (px) around it: a region within this distance of a changed
#: pixel is decided afresh (the confirm step's context, a mask's growth and the detector's
#: box growth all reach a little beyond a box).
REACH = 12
#: A frame with more than this share of its pixels changed is searched in full and becomes the
#: next key frame: reusing little would save little.
MAX_CHANGED_SHARE = 0.6


@dataclass
class Change:
    """Where a frame differs from its key frame.

    Attributes:
        near: Boolean (rows, cols) map of the changed pixels grown by `REACH`.
        share: Share of the frame's pixels that changed (before growing).
    """

    near: np.ndarray
    share: float

    def touches(self, box: Box) -> bool:
        """Whether any changed pixel lies within `REACH` of `box`."""
        rows, cols = self.near.shape
        x0, y0 = max(0, box.x0), max(0, box.y0)
        x1, y1 = min(cols, box.x1), min(rows, box.y1)
        if x1 <= x0 or y1 <= y0:
            return False
        return bool(self.near[y0:y1, x0:x1].any())


def change_between(
    frame: np.ndarray,
    key: np.ndarray,
    tol: int = 0,
    stored: tuple[np.ndarray, np.ndarray] | None = None,
    stored_tol: int = 0,
) -> Change:
    """Where the 8-bit display `frame` differs from `key` (same shape) by more than `tol`.

    With `stored` (the frame's and the key frame's stored values), a pixel whose stored value
    moved by more than `stored_tol` counts as changed too, whatever the display shows: text
    a window hides (below the window of a CT) is the same grey on screen in every frame, and
    only the stored values tell that it changed.
    """
    import cv2

    diff = cv2.absdiff(frame, key)
    if diff.ndim == 3:
        diff = diff.max(axis=2)
    changed = diff > tol
    if stored is not None:
        values, key_values = stored
        moved = np.abs(values.astype(np.int64) - key_values.astype(np.int64))
        if moved.ndim == 3:
            moved = moved.max(axis=2)
        changed |= moved > stored_tol
    share = float(changed.mean())
    near = changed
    if changed.any():
        side = 2 * REACH + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
        near = cv2.dilate(changed.astype(np.uint8), kernel).astype(bool)
    return Change(near, share)


def overlaps_any(box: Box, others: Sequence[Box]) -> bool:
    """Whether `box` overlaps any of `others` (same frame assumed)."""
    return any(box.x0 < o.x1 and o.x0 < box.x1 and box.y0 < o.y1 and o.y0 < box.y1 for o in others)


def stored_tol(scan: Scan) -> int:
    """The tolerance of `change_between` on `scan`'s stored values (its display one, scaled)."""
    return change_tol(scan) << max(0, scan.bits_stored - 8)


def change_tol(scan: Scan) -> int:
    """The tolerance of `change_between` for `scan`: `LOSSY_TOL` when it was stored lossily.

    Lossy: a JPEG file, a DICOM file in a lossy transfer syntax, or one whose header says its
    pixels went through lossy compression before (LossyImageCompression "01": a cleaned output
    of a JPEG input keeps the coder's noise even when written losslessly).
    """
    if scan.format == "jpeg":
        return LOSSY_TOL
    ds = scan.dataset
    if ds is None:
        return 0
    from medocr_cli.io.dicom_write import LOSSY_SYNTAXES

    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if syntax in LOSSY_SYNTAXES or ds.get("LossyImageCompression") == "01":
        return LOSSY_TOL
    return 0
