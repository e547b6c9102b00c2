"""The user's own clean scans (`--backgrounds DIR`), read once per process.

Every PNG/DICOM file the folder walk finds is a candidate; up to a limit of them are decoded
(a few frames each for multi-frame DICOM), and a folder with nothing usable is a usage error.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

from medocr_cli.errors import UsageError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import walk_inputs
from medocr_cli.synth.backgrounds.cache import CachedImage, grey_if_neutral, shrink_to_cache

#: Frames kept per multi-frame user DICOM (evenly spaced); a sample picks one at random.
_USER_FRAMES_PER_FILE = 4
#: Smallest side of a user image worth keeping as a background.
_MIN_USER_SIDE = 32


@functools.lru_cache(maxsize=8)
def user_pool(root: Path, limit: int) -> tuple[CachedImage, ...]:
    """Read a user folder once per process; raise a usage error when nothing in it is usable.

    Up to `limit` files are read (evenly spaced over the sorted list when there are more);
    unreadable files are skipped. A failed load is not cached.
    """
    files = [f for f in walk_inputs([root]) if f.candidate]
    if len(files) > limit > 0:
        keep = np.linspace(0, len(files) - 1, limit).round().astype(int)
        files = [files[i] for i in sorted(set(keep.tolist()))]
    images: list[CachedImage] = []
    for item in files:
        images.extend(_user_frames(item.path, item.rel.as_posix()))
    if not images:
        raise UsageError(
            f"backgrounds folder {root} holds no readable PNG or DICOM image",
            hint="put clean scans (PNG, JPEG, TIFF or DICOM) in it, or drop --backgrounds",
        )
    return tuple(images)


def _user_frames(path: Path, rel: str) -> list[CachedImage]:
    """Display renderings of up to `_USER_FRAMES_PER_FILE` frames of one user file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scan = read_scan(path)
            n = scan.n_frames
            picks = np.linspace(0, n - 1, min(n, _USER_FRAMES_PER_FILE)).round().astype(int)
            views = [scan.display(int(i)) for i in sorted(set(picks.tolist()))]
    except Exception:  # unreadable or undecodable: skip it, as a folder run does
        return []
    out = []
    for view in views:
        if min(view.shape[:2]) >= _MIN_USER_SIDE:
            out.append(CachedImage(shrink_to_cache(grey_if_neutral(view)), "user", rel))
    return out
