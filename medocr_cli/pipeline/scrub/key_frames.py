"""Key frames of a multi-frame scan: search a frame in full once, then only what changed.

A cine's overlay stays where it is while the anatomy moves (`stages/frame_change.py`). The
first frame is searched in full and becomes the *key frame*; every later frame is compared
with it, and one that differs in less than `MAX_CHANGED_SHARE` of its pixels is searched by
`LearnedFinder.find_partial`: the detector looks at all of it, but the classifier's verdict and
the decisions on regions whose pixels did not change are the key frame's. A frame that differs
more (a new scene, another slice of a multi-frame CT) is searched in full and becomes the next
key frame. Cost then grows with what changes, not with the frame count, for the expensive steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medocr_cli.stages.frame_change import MAX_CHANGED_SHARE, REACH, change_between


class KeyFramePlan:
    """Routes each frame of one scan to a full search or a search against its key frame.

    Attributes:
        active: Whether frames are compared with a key frame at all (a multi-frame scan and a
            finder that can search against one); otherwise every frame is searched in full.
        key_frames: Frames searched in full so far.
        keys: Indices of the frames that became key frames (the last of each full batch).
    """

    def __init__(self, finder: Any, tol: int, multi_frame: bool) -> None:
        """Use `finder`; `tol` is the change tolerance of the scan (`frame_change.change_tol`)."""
        self.finder = finder
        self.tol = tol
        self.active = multi_frame and hasattr(finder, "find_partial")
        self.key_frames = 0
        self.keys: set[int] = set()
        self._key: tuple[np.ndarray, Any] | None = None
        self._key_index = -1

    def find(
        self, frames: Sequence[np.ndarray], indices: Sequence[int], todo: Sequence[int]
    ) -> list[Any]:
        """Return the findings of `frames[n]` for each n in `todo` (in that order).

        Frames are compared with the current key frame; those that changed too much are searched
        in full together, and the last of them becomes the key frame of the next batch.
        """
        if not self.active:
            return self.finder.find([frames[n] for n in todo], [indices[n] for n in todo])
        found: dict[int, Any] = {}
        rest = list(todo)
        if self._key is None and rest:
            first = rest.pop(0)
            found[first] = self._search_full(frames, indices, [first])[0]
        full: list[int] = []
        partial: list[tuple[int, Any]] = []
        for n in rest:
            assert self._key is not None
            change = change_between(frames[n], self._key[0], self.tol)
            if change.share > MAX_CHANGED_SHARE:
                full.append(n)
            else:
                partial.append((n, change))
        if partial:
            assert self._key is not None
            key, key_index = self._key[1], self._key_index
            results = self.finder.find_partial(
                [frames[n] for n, _ in partial],
                [indices[n] for n, _ in partial],
                [change for _, change in partial],
                [key] * len(partial),
            )
            for (n, _), result in zip(partial, results, strict=True):
                result.key_index = key_index
                found[n] = result
        if full:
            found.update(zip(full, self._search_full(frames, indices, full), strict=True))
        return [found[n] for n in todo]

    def _search_full(
        self, frames: Sequence[np.ndarray], indices: Sequence[int], which: list[int]
    ) -> list[Any]:
        """Search `frames[n]` for n in `which` in full; the last becomes the key frame."""
        results = self.finder.find([frames[n] for n in which], [indices[n] for n in which])
        self.key_frames += len(which)
        self._key = (np.array(frames[which[-1]], copy=True), results[-1])
        self._key_index = indices[which[-1]]
        self.keys.add(self._key_index)
        return list(results)


class KeyFills:
    """Key frames' fills, copied into a later frame's hole wherever its pixels did not change.

    The overlay of a cine is the same text on the same ground in every frame; filling it anew
    on each frame costs an inpainter pass per frame and makes the fill flicker wherever the
    moving anatomy is in the network's context. A hole pixel of a frame searched against a key
    frame takes the key frame's repainted value when it was in the key frame's hole too and
    no stored value within `REACH` px of it changed (beyond the scan's tolerance); the rest of
    the hole is filled as usual, around the copied pixels.
    """

    def __init__(self, tol: int) -> None:
        """`tol`: stored values may differ by this much and count as unchanged."""
        self.tol = tol
        self.copied = 0
        self._keys: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def remember(self, index: int, before: np.ndarray, after: np.ndarray, hole: np.ndarray) -> None:
        """Keep key frame `index`'s stored values before and after repainting, and its hole."""
        self._keys[index] = (before, after, hole)
        while len(self._keys) > 2:  # the current key frame and the one before it
            self._keys.pop(next(iter(self._keys)))

    def copy_into(self, scan: Any, index: int, key_index: int, hole: np.ndarray) -> np.ndarray:
        """Copy the key frame's fill into frame `index`'s hole; return the hole left to fill."""
        import cv2

        if key_index not in self._keys:
            return hole
        before, after, key_hole = self._keys[key_index]
        frame = scan.frames[index]
        diff = np.abs(frame.astype(np.int64) - before.astype(np.int64))
        if diff.ndim == 3:
            diff = diff.max(axis=2)
        moved = (diff > self.tol).astype(np.uint8)
        side = 2 * REACH + 1
        moved = cv2.dilate(moved, cv2.getStructuringElement(cv2.MORPH_RECT, (side, side)))
        take = hole & key_hole & (moved == 0)
        if not take.any():
            return hole
        values = np.array(frame, copy=True)
        values[take] = after[take]
        scan.set_frame(index, values)
        self.copied += int(take.sum())
        return hole & ~take
