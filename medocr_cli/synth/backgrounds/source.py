"""`BackgroundSource`: draws each background from a procedural modality, a real crop or the user.

It chooses the kind of image (the shares below), hands procedural kinds to their modality's
module, cuts real and user images to a random square, and augments every result. It owns no
pixels: the decoded images and noise textures live in process-wide caches, so the source stays
small to pickle and each worker decodes the files once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medocr_cli.errors import UsageError
from medocr_cli.synth.backgrounds.augment import (
    TINT_PROB,
    augment,
    crop_square,
    tint_grey,
)
from medocr_cli.synth.backgrounds.cache import CachedImage
from medocr_cli.synth.backgrounds.ct import draw_ct
from medocr_cli.synth.backgrounds.mr import draw_mr
from medocr_cli.synth.backgrounds.nm import NM_COLOUR_PROB, colour_map
from medocr_cli.synth.backgrounds.noise import NoiseBanks, shared_noise_banks
from medocr_cli.synth.backgrounds.real import real_data_folders, real_pool
from medocr_cli.synth.backgrounds.ultrasound import draw_us
from medocr_cli.synth.backgrounds.user import user_pool
from medocr_cli.synth.backgrounds.xray import draw_xr

#: Procedural modalities; each is drawn equally often.
PROCEDURAL_MODALITIES = ("CT", "MR", "XR", "US")

#: Share of samples drawn from real anatomy when no user folder is given (the rest procedural).
REAL_SHARE = 0.45
#: With a user folder: shares of user images and curated real crops (the rest procedural).
USER_SHARE = 0.70
USER_REAL_SHARE = 0.10

_PROCEDURAL = {"CT": draw_ct, "MR": draw_mr, "XR": draw_xr, "US": draw_us}


@dataclass(frozen=True)
class Background:
    """One clean background image.

    Attributes:
        image: uint8 pixels, (size, size) grey or (size, size, 3) RGB.
        modality: "CT", "MR", "XR", "US" for procedural images; the file's DICOM Modality
            ("CT", "MR", "CR", "NM", "US") for real crops; "user" for the user's own images.
        source: "procedural", "pydicom:<filename>" for a curated real crop, or the user file's
            path relative to the user folder.
    """

    image: np.ndarray
    modality: str
    source: str


class BackgroundSource:
    """Draws clean backgrounds: procedural, curated real crops and, optionally, user images.

    The source is cheap to construct and to pickle: it carries only its settings. The decoded
    real/user images and the noise textures are built on first use and kept in process-wide
    caches, so every copy in a worker (one per task, if it is sent that way) shares them and
    each worker decodes the files once. Call `validate()` once in the parent (the CLI does) to
    fail early when a user folder holds no usable image.

    Args:
        user_dir: A folder of clean PNG/DICOM scans (searched recursively), or None.
        use_real: Whether to use the curated crops of pydicom's and pydicom-data's real scans.
        max_user_images: At most this many user files are read (evenly spaced over the sorted
            list; 0 reads all), which bounds memory and start-up time in every worker process.
        real_folders: Folders searched for the curated real files instead of
            `real_data_folders()` (pydicom's `test_files`, pydicom-data's `data`); None searches
            those. Tests pass a subset here to see the source without pydicom-data.

    Raises:
        UsageError: `user_dir` does not exist or is not a folder.
    """

    def __init__(
        self,
        user_dir: Path | None = None,
        *,
        use_real: bool = True,
        max_user_images: int = 256,
        real_folders: Sequence[Path] | None = None,
    ) -> None:
        self.user_dir = Path(user_dir) if user_dir is not None else None
        self.use_real = use_real
        self.max_user_images = max_user_images
        self.real_folders = (
            tuple(Path(f) for f in real_folders) if real_folders is not None else None
        )
        if self.user_dir is not None:
            if not self.user_dir.exists():
                raise UsageError(
                    f"backgrounds folder {self.user_dir} does not exist",
                    hint="pass --backgrounds a folder of clean PNG or DICOM scans",
                )
            if not self.user_dir.is_dir():
                raise UsageError(
                    f"backgrounds path {self.user_dir} is not a folder",
                    hint="pass --backgrounds a folder of clean PNG or DICOM scans",
                )
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._real: tuple[tuple[CachedImage, ...], ...] | None = None
        self._real_weights: np.ndarray | None = None
        self._user: tuple[CachedImage, ...] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle only the settings: the receiving process uses (or fills) its own caches."""
        return {
            "user_dir": self.user_dir,
            "use_real": self.use_real,
            "max_user_images": self.max_user_images,
            "real_folders": self.real_folders,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the settings and start with empty caches."""
        self.user_dir = state["user_dir"]
        self.use_real = state["use_real"]
        self.max_user_images = state["max_user_images"]
        self.real_folders = state["real_folders"]
        self._reset_caches()

    def validate(self) -> None:
        """Load everything now; fail with a usage error when the user folder has no usable image.

        Call it once in the parent process before starting workers (the CLI does). It reads
        the user folder, decodes the curated real crops and builds the noise textures into
        this process's caches, so forked workers start warm (spawned ones load on their first
        sample). Without this call `sample` raises the same error on first use.

        Raises:
            UsageError: The user folder has no image that can be read.
        """
        self._user_images()
        self._real_groups()
        self._noise_banks()

    def sample(self, rng: np.random.Generator, size: int) -> Background:
        """Draw one augmented background of `size` x `size` pixels.

        The result depends only on the state of `rng` (and on which optional files exist).
        """
        if size < 8:
            raise ValueError(f"background size must be at least 8 pixels, got {size}")
        kind = self._choose_kind(rng)
        banks = self._noise_banks()
        if kind == "procedural":
            modality = PROCEDURAL_MODALITIES[int(rng.integers(len(PROCEDURAL_MODALITIES)))]
            image = _PROCEDURAL[modality](rng, size, banks)
            source = "procedural"
        else:
            picked = self._pick_image(rng, kind)
            image = crop_square(picked.pixels, rng, size)
            modality, source = picked.modality, picked.source
        image = augment(image, rng, banks, xray_style=modality in ("XR", "CR"))
        if image.ndim == 2:
            if modality == "NM" and rng.random() < NM_COLOUR_PROB:
                image = colour_map(image, rng)
            elif rng.random() < TINT_PROB:
                image = tint_grey(image, rng)
        return Background(np.ascontiguousarray(image), modality, source)

    # -- choosing ------------------------------------------------------------------------------

    def _choose_kind(self, rng: np.random.Generator) -> str:
        u = rng.random()
        if self.user_dir is not None:
            if u < USER_SHARE:
                return "user"
            if u < USER_SHARE + USER_REAL_SHARE and self._real_groups():
                return "real"
            return "procedural"
        if u < REAL_SHARE and self._real_groups():
            return "real"
        return "procedural"

    def _pick_image(self, rng: np.random.Generator, kind: str) -> CachedImage:
        if kind == "user":
            images = self._user_images()
            return images[int(rng.integers(len(images)))]
        groups = self._real_groups()
        assert self._real_weights is not None
        group = groups[int(rng.choice(len(groups), p=self._real_weights))]
        return group[int(rng.integers(len(group)))]

    # -- lazy caches ---------------------------------------------------------------------------

    def _noise_banks(self) -> NoiseBanks:
        return shared_noise_banks()

    def _real_groups(self) -> tuple[tuple[CachedImage, ...], ...]:
        if self._real is None:
            groups: tuple[tuple[CachedImage, ...], ...] = ()
            weights: tuple[float, ...] = ()
            if self.use_real:
                folders = self.real_folders
                groups, weights = real_pool(
                    folders if folders is not None else tuple(real_data_folders())
                )
            self._real = groups
            total = sum(weights)
            self._real_weights = np.array([w / total for w in weights]) if groups else None
        return self._real

    def _user_images(self) -> tuple[CachedImage, ...]:
        if self._user is None:
            if self.user_dir is None:
                self._user = ()
            else:
                self._user = user_pool(self.user_dir.resolve(), self.max_user_images)
        return self._user
