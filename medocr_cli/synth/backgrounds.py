"""Clean backgrounds for `generate-dataset`: medical-looking images that carry no text at all.

Three sources feed the generator, so the models see both endless variety and real anatomy:

* procedural CT, MR, X-ray and ultrasound images drawn with numpy/OpenCV (fast, unlimited);
* crops of real scans from pydicom's bundled test files and the optional `pydicom-data` package,
  limited to hand-checked regions that hold no burned-in text, markers or rulers (`REAL_CROPS`);
* any folder of clean PNG/DICOM scans the user has (`--backgrounds DIR`).

Every sample is augmented (crop/zoom, flips, gamma, noise, blur, sometimes X-ray style inversion)
and a minority is colour: ultrasound Doppler-like patches, real Doppler crops, or tinted grey.
Text is composited later by another module; nothing here draws a glyph, a ruler or a marker.

Speed comes from two caches built lazily inside `BackgroundSource`: the decoded real/user images
(read once, never per sample) and a few fixed-seed noise/speckle textures from which every sample
takes a random window. Both are dropped when the source is pickled, so worker processes receive a
small object and rebuild the caches on first use; results depend only on the caller's rng.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from medocr_cli.errors import MedocrError, UsageError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import walk_inputs

#: Procedural modalities; each is drawn equally often.
PROCEDURAL_MODALITIES = ("CT", "MR", "XR", "US")

#: Share of samples drawn from real anatomy when no user folder is given (the rest procedural).
REAL_SHARE = 0.45
#: With a user folder: shares of user images and curated real crops (the rest procedural).
USER_SHARE = 0.70
USER_REAL_SHARE = 0.10

#: Probability that a procedural ultrasound gets Doppler-like colour flow.
DOPPLER_PROB = 0.40
#: Probability that a grey output is tinted into RGB (monitor/printer tints, colour-mapped NM).
TINT_PROB = 0.06

#: Side of the fixed-seed noise and speckle textures; larger outputs tile them.
_BANK_SIDE = 1024
_BANK_SEED = 0x6D65646F  # fixed: the textures never depend on the caller's rng

#: Real images are stored with their shorter side at most this long (bounds memory and resizes).
_MAX_CACHED_SIDE = 1024
#: Frames kept per multi-frame user DICOM (evenly spaced); a sample picks one at random.
_USER_FRAMES_PER_FILE = 4
#: Smallest side of a user image worth keeping as a background.
_MIN_USER_SIDE = 32


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


class RealCrop(NamedTuple):
    """A hand-checked region of a real scan that holds anatomy and no text, marker or ruler.

    Attributes:
        group: Crops of the same picture share a group; the first file of a group that is
            present and decodes is used, so a bundled copy can stand in for a pydicom-data one.
        filename: File name in pydicom's `test_files` or pydicom-data's `data` folder.
        frames: Frame indices to use.
        box: (x0, y0, x1, y1) in display pixels of that file.
        weight: Relative sampling weight of the group (set on the group's first row).
    """

    group: str
    filename: str
    frames: tuple[int, ...]
    box: tuple[int, int, int, int]
    weight: float = 1.0


#: The curated real anatomy. Every box was chosen by looking at the file's display rendering:
#: files whose pixels carry text (most ultrasound screens, `GDCMJ2K_TextGBR`), test patterns
#: (`mlut_18`, `vlut_04`, `image_dfl`), segmentations (`liver*`), lossy-broken renderings
#: (`693_J2KI`, `eCT_Supplemental`) and non-medical pictures (`OT-PAL-8-face`, `SC_rgb*`) are
#: left out; for the ultrasound screens kept, the box lies inside the image area, clear of the
#: overlay text, ROI boxes, depth rulers and cursor marks.
REAL_CROPS: tuple[RealCrop, ...] = (
    # CT
    RealCrop("ct_thorax_small", "CT_small.dcm", (0,), (0, 0, 128, 128), 0.5),
    RealCrop("ct_head_bleed", "693_UNCR.dcm", (0,), (0, 0, 512, 512)),
    RealCrop("ct_head_base", "J2K_pixelrep_mismatch.dcm", (0,), (0, 0, 512, 512)),
    # MR
    RealCrop("mr_head_small", "MR_small.dcm", (0,), (0, 0, 64, 64), 0.5),
    RealCrop("mr_head_multi", "emri_small.dcm", (0, 2, 4, 6, 8), (0, 0, 64, 64), 0.5),
    RealCrop("mr_shoulder", "MR2_UNCR.dcm", (0,), (80, 100, 1024, 940)),
    RealCrop("mr_shoulder", "MR2_J2KR.dcm", (0,), (80, 100, 1024, 940)),
    RealCrop("mr_abdomen", "MR-SIEMENS-DICOM-WithOverlays.dcm", (0,), (0, 100, 484, 420)),
    RealCrop("mr_abdomen", "examples_overlay.dcm", (0,), (0, 0, 484, 300)),
    # CR (radiographs)
    RealCrop("cr_chest", "RG1_UNCR.dcm", (0,), (0, 40, 1841, 1955)),
    RealCrop("cr_chest", "RG1_J2KR.dcm", (0,), (0, 40, 1841, 1955)),
    RealCrop("cr_ankle", "RG3_UNCR.dcm", (0,), (445, 0, 1110, 1760)),  # the "R" marker is right
    RealCrop("cr_ankle", "RG3_J2KR.dcm", (0,), (445, 0, 1110, 1760)),
    # NM (whole-body bone scan)
    RealCrop("nm_bone_scan", "JPGExtended.dcm", (0,), (0, 80, 256, 900)),
    RealCrop("nm_bone_scan", "JPEG-LL.dcm", (0,), (0, 80, 256, 900)),
    RealCrop("nm_bone_scan", "JPEG2000_UNC.dcm", (0,), (0, 80, 256, 900)),
    # US: power Doppler of a lymph node, inside each ROI box (the box lines are outside)
    RealCrop("us_doppler_node", "examples_jpeg2k.dcm", (0,), (90, 152, 314, 290)),
    RealCrop("us_doppler_node", "examples_jpeg2k.dcm", (0,), (322, 152, 544, 290)),
    RealCrop("us_doppler_node", "US1_UNCR.dcm", (0,), (90, 152, 314, 290)),
    RealCrop("us_doppler_node", "US1_UNCR.dcm", (0,), (322, 152, 544, 290)),
    # US: echocardiography, inside the sector (overlay text sits in the corners)
    RealCrop("us_echo_cine", "examples_ybr_color.dcm", (0, 6, 12, 18, 24), (65, 40, 275, 200)),
    RealCrop("us_echo_aorta", "JPGLosslessP14SV1_1s_1f_8b.dcm", (0,), (240, 260, 610, 640)),
    # US: pelvis, two panes, each clear of the top text, green ticks and the grey bar
    RealCrop("us_pelvis", "gdcm-US-ALOKA-16.dcm", (0,), (50, 110, 325, 405)),
    RealCrop("us_pelvis", "gdcm-US-ALOKA-16.dcm", (0,), (345, 75, 625, 405)),
)


class _Image(NamedTuple):
    """A decoded real or user image kept in the cache."""

    pixels: np.ndarray  # uint8, (h, w) or (h, w, 3)
    modality: str
    source: str


def real_data_folders() -> list[Path]:
    """Folders that may hold the curated files: pydicom's `test_files`, pydicom-data's `data`.

    `pydicom.data.get_testdata_file(s)` is never used: it goes to the network for missing files.
    """
    folders: list[Path] = []
    try:
        import pydicom.data

        folders.append(Path(pydicom.data.__file__).parent / "test_files")
    except ImportError:  # pragma: no cover - pydicom is a dependency
        pass
    try:
        import data_store  # the optional pydicom-data package

        folders.append(Path(data_store.__file__).parent / "data")
    except ImportError:
        pass
    return [f for f in folders if f.is_dir()]


class BackgroundSource:
    """Draws clean backgrounds: procedural, curated real crops and, optionally, user images.

    The source is cheap to construct and to pickle; the decoded images and noise textures are
    built on first use in each process. Call `validate()` once (the CLI does) to fail early
    when a user folder holds no usable image.

    Args:
        user_dir: A folder of clean PNG/DICOM scans (searched recursively), or None.
        use_real: Whether to use the curated crops of pydicom's and pydicom-data's real scans.
        max_user_images: At most this many user files are read (evenly spaced over the sorted
            list), which bounds memory in every worker process.

    Raises:
        UsageError: `user_dir` does not exist or is not a folder.
    """

    def __init__(
        self, user_dir: Path | None = None, *, use_real: bool = True, max_user_images: int = 256
    ) -> None:
        self.user_dir = Path(user_dir) if user_dir is not None else None
        self.use_real = use_real
        self.max_user_images = max_user_images
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
        self._real: list[list[_Image]] | None = None
        self._real_weights: np.ndarray | None = None
        self._user: list[_Image] | None = None
        self._banks: _NoiseBanks | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle only the settings: caches are rebuilt lazily in the receiving process."""
        return {
            "user_dir": self.user_dir,
            "use_real": self.use_real,
            "max_user_images": self.max_user_images,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the settings and start with empty caches."""
        self.user_dir = state["user_dir"]
        self.use_real = state["use_real"]
        self.max_user_images = state["max_user_images"]
        self._reset_caches()

    def validate(self) -> None:
        """Load the user folder now and fail with a usage error when it holds no usable image.

        Loading reads every (capped) file once, so call this once in the parent process before
        starting workers; `sample` would otherwise raise the same error on first use.

        Raises:
            UsageError: The user folder has no image that can be read.
        """
        self._user_images()

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
            image = _warp(image, rng)
            source = "procedural"
        else:
            picked = self._pick_image(rng, kind)
            image = _crop_square(picked.pixels, rng, size)
            modality, source = picked.modality, picked.source
        image = _augment(image, rng, banks, xray_style=modality in ("XR", "CR"))
        if image.ndim == 2 and rng.random() < TINT_PROB:
            image = _tint(image, rng)
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

    def _pick_image(self, rng: np.random.Generator, kind: str) -> _Image:
        if kind == "user":
            images = self._user_images()
            return images[int(rng.integers(len(images)))]
        groups = self._real_groups()
        assert self._real_weights is not None
        group = groups[int(rng.choice(len(groups), p=self._real_weights))]
        return group[int(rng.integers(len(group)))]

    # -- lazy caches ---------------------------------------------------------------------------

    def _noise_banks(self) -> _NoiseBanks:
        if self._banks is None:
            self._banks = _NoiseBanks.build()
        return self._banks

    def _real_groups(self) -> list[list[_Image]]:
        if self._real is None:
            groups, weights = _load_real_crops() if self.use_real else ([], [])
            self._real = groups
            total = sum(weights)
            self._real_weights = np.array([w / total for w in weights]) if groups else None
        return self._real

    def _user_images(self) -> list[_Image]:
        if self._user is None:
            if self.user_dir is None:
                self._user = []
            else:
                self._user = _load_user_images(self.user_dir, self.max_user_images)
                if not self._user:
                    raise UsageError(
                        f"backgrounds folder {self.user_dir} holds no readable PNG or DICOM image",
                        hint="put clean scans (PNG, JPEG, TIFF or DICOM) in it, or drop "
                        "--backgrounds",
                    )
        return self._user


# -- loading real and user images --------------------------------------------------------------


def _load_real_crops() -> tuple[list[list[_Image]], list[float]]:
    """Decode the curated files that are present, keeping only their text-free crops."""
    folders = real_data_folders()
    rows_by_group: dict[str, list[RealCrop]] = {}
    for row in REAL_CROPS:
        rows_by_group.setdefault(row.group, []).append(row)
    groups: list[list[_Image]] = []
    weights: list[float] = []
    for rows in rows_by_group.values():
        images = _load_group(rows, folders)
        if images:
            groups.append(images)
            weights.append(rows[0].weight)
    return groups, weights


def _load_group(rows: list[RealCrop], folders: list[Path]) -> list[_Image]:
    """Crops of the first file of a group that exists and decodes (a file may have several)."""
    for filename in dict.fromkeys(row.filename for row in rows):
        path = next((f / filename for f in folders if (f / filename).is_file()), None)
        if path is None:
            continue
        images = _crops_of(path, [row for row in rows if row.filename == filename])
        if images:
            return images
    return []


def _crops_of(path: Path, rows: list[RealCrop]) -> list[_Image]:
    """Read `path` once and cut every listed (frame, box) out of its display rendering."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scan = read_scan(path)
            modality = str(getattr(scan.dataset, "Modality", "") or "OT")
            images = []
            for row in rows:
                for frame in row.frames:
                    if frame >= scan.n_frames:
                        continue
                    x0, y0, x1, y1 = row.box
                    crop = scan.display(frame)[y0:y1, x0:x1]
                    if min(crop.shape[:2]) >= 16:
                        pixels = _shrink(_grey_if_neutral(crop))
                        images.append(_Image(pixels, modality, f"pydicom:{path.name}"))
    except Exception:  # any decoding failure just leaves this optional file out
        return []
    return images


def _load_user_images(root: Path, limit: int) -> list[_Image]:
    """Read up to `limit` user files (evenly spaced when there are more), skipping bad ones."""
    files = [f for f in walk_inputs([root]) if f.candidate]
    if len(files) > limit > 0:
        keep = np.linspace(0, len(files) - 1, limit).round().astype(int)
        files = [files[i] for i in sorted(set(keep.tolist()))]
    images: list[_Image] = []
    for item in files:
        images.extend(_user_frames(item.path, item.rel.as_posix()))
    return images


def _user_frames(path: Path, rel: str) -> list[_Image]:
    """Display renderings of up to `_USER_FRAMES_PER_FILE` frames of one user file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scan = read_scan(path)
            n = scan.n_frames
            picks = np.linspace(0, n - 1, min(n, _USER_FRAMES_PER_FILE)).round().astype(int)
            views = [scan.display(int(i)) for i in sorted(set(picks.tolist()))]
    except (MedocrError, ValueError, TypeError, KeyError, AttributeError, OSError, RuntimeError):
        return []
    out = []
    for view in views:
        if min(view.shape[:2]) >= _MIN_USER_SIDE:
            out.append(_Image(_shrink(_grey_if_neutral(view)), "user", rel))
    return out


def _grey_if_neutral(view: np.ndarray) -> np.ndarray:
    """Return RGB renderings whose channels agree (grey stored as RGB) as one grey channel."""
    view = np.asarray(view, dtype=np.uint8)
    if view.ndim == 3:
        if view.shape[2] == 1:
            return np.ascontiguousarray(view[:, :, 0])
        rgb = view[:, :, :3].astype(np.int16)
        spread = np.abs(rgb[:, :, 0] - rgb[:, :, 1]) + np.abs(rgb[:, :, 1] - rgb[:, :, 2])
        if float(spread.mean()) < 3.0:
            return cv2.cvtColor(view[:, :, :3], cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(view[:, :, :3])
    return np.ascontiguousarray(view)


def _shrink(pixels: np.ndarray) -> np.ndarray:
    """Downscale so the shorter side is at most `_MAX_CACHED_SIDE` (memory, per-sample speed)."""
    h, w = pixels.shape[:2]
    scale = _MAX_CACHED_SIDE / min(h, w)
    if scale >= 1:
        return pixels
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


# -- noise textures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _NoiseBanks:
    """Fixed-seed textures; each sample reads a random window instead of drawing fresh noise.

    Attributes:
        white: Standard normal noise (float32), for MR Rician noise.
        grain: Spatially correlated normal noise with unit std (float32): CT/X-ray texture.
        speckle: Laterally elongated Rayleigh speckle with mean 1 (float32): ultrasound.
        additive: White normal noise times 16 (int16), for the cheap augmentation noise.
    """

    white: np.ndarray
    grain: np.ndarray
    speckle: np.ndarray
    additive: np.ndarray

    @classmethod
    def build(cls) -> _NoiseBanks:
        """Draw the textures from a fixed seed (tens of milliseconds, once per process)."""
        rng = np.random.default_rng(_BANK_SEED)
        side = _BANK_SIDE
        white = rng.standard_normal((side, side), dtype=np.float32)
        grain = cv2.GaussianBlur(white, (0, 0), 0.9)
        grain /= grain.std()
        pair = rng.standard_normal((2, side, side), dtype=np.float32)
        pair = [cv2.GaussianBlur(p, (0, 0), sigmaX=1.6, sigmaY=0.7) for p in pair]
        speckle = np.sqrt(pair[0] ** 2 + pair[1] ** 2)
        speckle /= speckle.mean()
        additive = np.clip(rng.standard_normal((side, side)) * 16, -127, 127).astype(np.int16)
        return cls(white, grain, speckle.astype(np.float32), additive)


def _window(bank: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random `size` x `size` window of a texture (tiled when `size` exceeds it)."""
    side = bank.shape[0]
    if size > side:
        reps = -(-size // side) + 1
        bank = np.tile(bank, (reps, reps))
        side = bank.shape[0]
    x, y = rng.integers(0, side - size + 1, size=2)
    return bank[y : y + size, x : x + size]


# -- procedural images ---------------------------------------------------------------------------


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x), round(y)


def _ax(a: float, b: float) -> tuple[int, int]:
    return max(1, round(a)), max(1, round(b))


def _smooth_field(rng: np.random.Generator, side: int, cells: int, amp: float) -> np.ndarray:
    """Low-frequency random field in [-amp, amp] (tissue texture, bias fields, echogenicity)."""
    coarse = rng.uniform(-amp, amp, size=(cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)


def _finish(lo: np.ndarray, size: int) -> np.ndarray:
    """Upscale a half-resolution drawing to the output size (linear: soft, natural edges)."""
    if lo.shape[0] == size:
        return lo
    return cv2.resize(lo, (size, size), interpolation=cv2.INTER_LINEAR)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0, 255).astype(np.uint8)


def _ct(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """An axial CT slice in a soft-tissue window: head, thorax or abdomen; air is black."""
    side = max(32, size // 2)
    img = np.full((side, side), -60.0, np.float32)
    cx, cy = side * _u(rng, 0.46, 0.54), side * _u(rng, 0.45, 0.55)
    region = rng.choice(3, p=[0.35, 0.35, 0.30])
    if region == 0:
        _ct_head(img, rng, cx, cy, side)
    else:
        _ct_body(img, rng, cx, cy, side, thorax=region == 1)
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    out = _finish(img, size)
    out += _window(banks.grain, rng, size) * _u(rng, 4.0, 12.0)
    return _to_u8(out)


def _ct_head(img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, s: int) -> None:
    a, b = s * _u(rng, 0.28, 0.34), s * _u(rng, 0.34, 0.41)
    ang = _u(rng, -8, 8)
    bone = _u(rng, 0.025, 0.04) * s
    cv2.ellipse(img, _pt(cx, cy), _ax(a + 0.02 * s, b + 0.02 * s), ang, 0, 360, 95, -1)
    cv2.ellipse(img, _pt(cx, cy), _ax(a, b), ang, 0, 360, _u(rng, 235, 275), -1)
    brain = np.zeros_like(img)
    cv2.ellipse(brain, _pt(cx, cy), _ax(a - bone, b - bone), ang, 0, 360, 1.0, -1)
    texture = _smooth_field(rng, s, 12, 9.0) + _u(rng, 100, 120)
    img[:] = np.where(brain > 0, texture, img)
    # grey/white matter: a slightly darker inner region
    cv2.ellipse(img, _pt(cx, cy), _ax(a * 0.62, b * 0.68), ang, 0, 360, _u(rng, 92, 104), -1)
    for sgn in (-1, 1):  # lateral ventricles and a little CSF
        vx = cx + sgn * a * _u(rng, 0.10, 0.16)
        axes = _ax(a * _u(rng, 0.05, 0.10), b * _u(rng, 0.20, 0.32))
        cv2.ellipse(img, _pt(vx, cy - b * 0.05), axes, ang + sgn * _u(rng, 8, 20), 0, 360, 55, -1)
    cv2.line(img, _pt(cx, cy - b * 0.9), _pt(cx, cy - b * 0.35), 135, 1)  # falx
    if rng.random() < 0.5:  # a dense focus or lesion
        p = _pt(cx + a * _u(rng, -0.5, 0.5), cy + b * _u(rng, -0.5, 0.5))
        val = _u(rng, 60, 150)
        cv2.ellipse(
            img, p, _ax(a * _u(rng, 0.05, 0.15), b * _u(rng, 0.05, 0.15)), 0, 0, 360, val, -1
        )


def _ct_body(
    img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, s: int, *, thorax: bool
) -> None:
    a, b = s * _u(rng, 0.36, 0.46), s * _u(rng, 0.25, 0.33)
    fat = _u(rng, 0.04, 0.12)
    table_y = cy + b + s * _u(rng, 0.02, 0.05)
    cv2.ellipse(img, _pt(cx, table_y + s * 0.6), _ax(a * 1.3, s * 0.6), 0, 200, 340, 150, 2)
    cv2.ellipse(img, _pt(cx, cy), _ax(a, b), 0, 0, 360, _u(rng, 60, 80), -1)  # fat
    cv2.ellipse(img, _pt(cx, cy), _ax(a * (1 - fat), b * (1 - fat * 1.3)), 0, 0, 360, 112, -1)
    inner = np.zeros_like(img)
    cv2.ellipse(inner, _pt(cx, cy), _ax(a * (1 - fat), b * (1 - fat * 1.3)), 0, 0, 360, 1, -1)
    img += inner * _smooth_field(rng, s, 10, 6.0)
    if thorax:
        _ct_thorax(img, rng, cx, cy, a, b)
    else:
        _ct_abdomen(img, rng, cx, cy, a, b)
    # spine: vertebral body, canal and posterior elements
    vy, vr = cy + b * 0.55, b * _u(rng, 0.14, 0.18)
    cv2.circle(img, _pt(cx, vy), round(vr), _u(rng, 170, 200), -1)
    cv2.circle(img, _pt(cx, vy), round(vr), 255, max(1, round(vr * 0.15)))
    cv2.circle(img, _pt(cx, vy + vr * 1.45), round(vr * 0.45), 100, -1)
    cv2.ellipse(img, _pt(cx, vy + vr * 1.5), _ax(vr * 0.9, vr * 0.8), 0, 20, 160, 240, 2)


def _ct_thorax(
    img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, a: float, b: float
) -> None:
    lung = np.zeros_like(img)
    for sgn in (-1, 1):
        center = _pt(cx + sgn * a * _u(rng, 0.42, 0.5), cy - b * _u(rng, 0.0, 0.1))
        axes = _ax(a * _u(rng, 0.30, 0.38), b * _u(rng, 0.58, 0.72))
        cv2.ellipse(lung, center, axes, sgn * _u(rng, 0, 12), 0, 360, 1, -1)
    img[:] = np.where(lung > 0, _u(rng, -40, 10), img)
    n = int(rng.integers(40, 90))  # vessels in the lungs
    xs, ys = rng.uniform(cx - a, cx + a, n), rng.uniform(cy - b, cy + b, n)
    for x, y in zip(xs, ys, strict=True):
        if lung[int(np.clip(y, 0, lung.shape[0] - 1)), int(np.clip(x, 0, lung.shape[1] - 1))]:
            cv2.circle(img, _pt(x, y), int(rng.integers(1, 3)), _u(rng, 60, 130), -1)
    cv2.ellipse(img, _pt(cx + a * 0.12, cy), _ax(a * 0.28, b * 0.42), 20, 0, 360, 125, -1)  # heart
    cv2.circle(img, _pt(cx - a * 0.05, cy - b * 0.45), round(b * 0.12), _u(rng, 125, 190), -1)
    for k in range(int(rng.integers(6, 11))):  # ribs cut obliquely around the rim
        t = math.radians(_u(rng, 200, 340) if k % 2 else _u(rng, 20, 160))
        p = _pt(cx + a * 0.93 * math.cos(t), cy + b * 0.9 * math.sin(t))
        cv2.ellipse(img, p, _ax(a * 0.05, b * 0.03), math.degrees(t) + 90, 0, 360, 230, -1)


def _ct_abdomen(
    img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, a: float, b: float
) -> None:
    liver = _u(rng, 130, 150)
    cv2.ellipse(
        img, _pt(cx - a * 0.42, cy - b * 0.15), _ax(a * 0.42, b * 0.6), 15, 0, 360, liver, -1
    )
    cv2.ellipse(
        img, _pt(cx + a * 0.62, cy - b * 0.25), _ax(a * 0.16, b * 0.3), -25, 0, 360, 128, -1
    )
    for sgn in (-1, 1):  # kidneys
        k = _pt(cx + sgn * a * 0.38, cy + b * 0.35)
        cv2.ellipse(img, k, _ax(a * 0.1, b * 0.2), sgn * 25, 0, 360, _u(rng, 150, 190), -1)
        cv2.ellipse(img, k, _ax(a * 0.04, b * 0.08), sgn * 25, 0, 360, 100, -1)
    cv2.circle(img, _pt(cx - a * 0.05, cy + b * 0.3), round(b * 0.08), _u(rng, 140, 200), -1)
    for _ in range(int(rng.integers(4, 10))):  # bowel loops, some with gas
        p = _pt(cx + a * _u(rng, -0.3, 0.6), cy + b * _u(rng, -0.4, 0.3))
        val = -60.0 if rng.random() < 0.4 else _u(rng, 95, 125)
        cv2.ellipse(
            img, p, _ax(a * _u(rng, 0.04, 0.1), b * _u(rng, 0.05, 0.12)), 0, 0, 360, val, -1
        )


def _mr(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """An MR slice: smooth tissue contrast, bright fat, flow voids, bias field, Rician noise."""
    side = max(32, size // 2)
    img = np.zeros((side, side), np.float32)
    cx, cy = side * _u(rng, 0.45, 0.55), side * _u(rng, 0.45, 0.55)
    t2 = rng.random() < 0.4
    if rng.random() < 0.55:
        _mr_head(img, rng, cx, cy, side, t2=t2)
    else:
        _mr_body(img, rng, cx, cy, side, t2=t2)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    img *= 1.0 + _smooth_field(rng, side, 3, 0.25)  # coil bias field
    out = _finish(img, size)
    sigma = _u(rng, 3.0, 10.0)
    re = out + _window(banks.white, rng, size) * sigma
    im = _window(banks.white, rng, size) * sigma
    return _to_u8(np.sqrt(re * re + im * im))


def _mr_head(
    img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, s: int, *, t2: bool
) -> None:
    a, b = s * _u(rng, 0.28, 0.34), s * _u(rng, 0.34, 0.41)
    ang = _u(rng, -6, 6)
    csf, grey, white = (200.0, 110.0, 85.0) if t2 else (40.0, 110.0, 150.0)
    cv2.ellipse(img, _pt(cx, cy), _ax(a + 0.035 * s, b + 0.035 * s), ang, 0, 360, 170, -1)  # scalp
    cv2.ellipse(img, _pt(cx, cy), _ax(a + 0.012 * s, b + 0.012 * s), ang, 0, 360, 15, -1)  # skull
    cv2.ellipse(img, _pt(cx, cy), _ax(a, b), ang, 0, 360, csf, -1)
    cv2.ellipse(img, _pt(cx, cy), _ax(a * 0.95, b * 0.96), ang, 0, 360, grey, -1)
    mask = np.zeros_like(img)
    cv2.ellipse(mask, _pt(cx, cy), _ax(a * 0.78, b * 0.82), ang, 0, 360, 1, -1)
    wm = white + _smooth_field(rng, s, 14, 25.0)  # gyri: blotchy grey/white boundary
    img[:] = np.where((mask > 0) & (_smooth_field(rng, s, 16, 1.0) > -0.35), wm, img)
    for sgn in (-1, 1):
        vx = cx + sgn * a * _u(rng, 0.10, 0.16)
        axes = _ax(a * _u(rng, 0.05, 0.10), b * _u(rng, 0.18, 0.30))
        cv2.ellipse(img, _pt(vx, cy - b * 0.05), axes, ang + sgn * _u(rng, 8, 20), 0, 360, csf, -1)
    cv2.line(img, _pt(cx, cy - b * 0.95), _pt(cx, cy - b * 0.3), csf, 1)


def _mr_body(
    img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, s: int, *, t2: bool
) -> None:
    a, b = s * _u(rng, 0.36, 0.46), s * _u(rng, 0.25, 0.33)
    fat, muscle, organ = (150.0, 55.0, 90.0) if t2 else (210.0, 80.0, 120.0)
    cv2.ellipse(img, _pt(cx, cy), _ax(a, b), 0, 0, 360, fat, -1)
    cv2.ellipse(img, _pt(cx, cy), _ax(a * 0.9, b * 0.86), 0, 0, 360, muscle, -1)
    cv2.ellipse(img, _pt(cx, cy), _ax(a * 0.82, b * 0.76), 0, 0, 360, organ * 0.8, -1)
    cv2.ellipse(
        img, _pt(cx - a * 0.4, cy - b * 0.15), _ax(a * 0.38, b * 0.5), 15, 0, 360, organ, -1
    )
    for sgn in (-1, 1):
        k = _pt(cx + sgn * a * 0.38, cy + b * 0.33)
        cv2.ellipse(img, k, _ax(a * 0.1, b * 0.19), sgn * 25, 0, 360, organ * 1.3, -1)
    for _ in range(int(rng.integers(2, 6))):  # flow voids and fluid
        p = _pt(cx + a * _u(rng, -0.4, 0.4), cy + b * _u(rng, -0.3, 0.4))
        val = 5.0 if rng.random() < 0.6 else (230.0 if t2 else 40.0)
        cv2.circle(img, p, round(b * _u(rng, 0.04, 0.1)), val, -1)
    vy, vr = cy + b * 0.58, b * 0.16
    cv2.circle(img, _pt(cx, vy), round(vr), 130 if t2 else 150, -1)
    cv2.circle(img, _pt(cx, vy), round(vr), 20, 1)


def _xr(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """A radiograph as displayed (bone white, air dark): chest or a limb, maybe collimated."""
    side = max(32, size // 2)
    img = np.full((side, side), _u(rng, 5, 30), np.float32)
    if rng.random() < 0.65:
        _xr_chest(img, rng, side)
    else:
        _xr_limb(img, rng, side)
    img = cv2.GaussianBlur(img, (0, 0), _u(rng, 1.0, 1.8))
    img *= 1.0 + _smooth_field(rng, side, 2, 0.12)  # heel effect / uneven exposure
    out = _finish(img, size)
    out += _window(banks.grain, rng, size) * _u(rng, 2.0, 6.0)
    if rng.random() < 0.3:  # collimator shutters: unexposed bands stay white
        lo, hi = rng.uniform(0.0, 0.12, size=2), 1 - rng.uniform(0.0, 0.12, size=2)
        x0, y0, x1, y1 = (int(v * size) for v in (lo[0], lo[1], hi[0], hi[1]))
        white = _u(rng, 200, 250)
        out[:, :x0] = white
        out[:, x1:] = white
        out[:y0] = white
        out[y1:] = white
    return _to_u8(out)


def _xr_chest(img: np.ndarray, rng: np.random.Generator, s: int) -> None:
    cx = s * _u(rng, 0.46, 0.54)
    top = s * _u(rng, -0.05, 0.12)
    body_w = s * _u(rng, 0.42, 0.52)
    cv2.ellipse(img, _pt(cx, top + s * 0.9), _ax(body_w, s * 0.95), 0, 0, 360, 150, -1)
    lung_top, lung_h = top + s * 0.12, s * _u(rng, 0.55, 0.7)
    lungs = np.zeros_like(img)
    for sgn in (-1, 1):
        lx = cx + sgn * body_w * 0.45
        cv2.ellipse(
            lungs,
            _pt(lx, lung_top + lung_h * 0.5),
            _ax(body_w * 0.34, lung_h * 0.5),
            sgn * -8,
            0,
            360,
            1,
            -1,
        )
    lungs = cv2.GaussianBlur(lungs, (0, 0), s * 0.02)
    img -= lungs * (_u(rng, 75, 100) + _smooth_field(rng, s, 6, 12.0))
    heart = np.zeros_like(img)
    cv2.ellipse(
        heart,
        _pt(cx + body_w * 0.12, lung_top + lung_h * 0.72),
        _ax(body_w * 0.3, lung_h * 0.26),
        -20,
        0,
        360,
        1,
        -1,
    )
    cv2.rectangle(heart, _pt(cx - body_w * 0.1, 0), _pt(cx + body_w * 0.1, s), 1, -1)
    img += cv2.GaussianBlur(heart, (0, 0), s * 0.015) * 60 * lungs.clip(0.3, 1)
    ribs = np.zeros_like(img)
    step = lung_h / _u(rng, 8, 10)
    for k in range(11):
        y = lung_top + k * step
        for sgn in (-1, 1):
            center = _pt(cx + sgn * body_w * 0.05, y - step * 0.6)
            axes = _ax(body_w * 0.85, step * 2.2)
            start, end = (0, 80) if sgn > 0 else (100, 180)
            cv2.ellipse(ribs, center, axes, sgn * 10, start, end, 1.0, max(1, round(step * 0.3)))
    img += ribs * _u(rng, 18, 35)
    for sgn in (-1, 1):  # clavicles
        p0, p1 = (
            _pt(cx + sgn * body_w * 0.08, lung_top),
            _pt(cx + sgn * body_w * 0.8, top + s * 0.05),
        )
        cv2.line(img, p0, p1, 175, max(1, round(s * 0.02)))


def _xr_limb(img: np.ndarray, rng: np.random.Generator, s: int) -> None:
    ang = _u(rng, -20, 20)
    width = s * _u(rng, 0.3, 0.5)
    soft = np.zeros_like(img)
    cv2.ellipse(soft, _pt(s / 2, s / 2), _ax(width / 2, s), ang, 0, 360, 1, -1)
    img += cv2.GaussianBlur(soft, (0, 0), s * 0.03) * _u(rng, 80, 110)
    n_bones = 1 if rng.random() < 0.6 else 2
    for i in range(n_bones):
        off = (i - (n_bones - 1) / 2) * width * 0.42
        bw = width * (_u(rng, 0.28, 0.4) if i == 0 else _u(rng, 0.12, 0.2))
        c = _pt(
            s / 2 + off * math.cos(math.radians(ang)), s / 2 + off * math.sin(math.radians(ang))
        )
        cv2.ellipse(img, c, _ax(bw / 2, s), ang, 0, 360, _u(rng, 190, 220), -1)  # cortex
        cv2.ellipse(img, c, _ax(bw * 0.28, s), ang, 0, 360, _u(rng, 140, 170), -1)  # medulla
    if rng.random() < 0.5:  # a joint end: widened epiphysis
        y = s * _u(rng, 0.65, 0.85)
        cv2.ellipse(img, _pt(s / 2, y), _ax(width * 0.3, width * 0.22), ang, 0, 360, 205, -1)


def _us(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """An ultrasound image: black field, sector/linear shape, speckle, depth attenuation.

    With probability `DOPPLER_PROB` colour-flow patches are painted and the result is RGB.
    """
    side = max(32, size // 2)
    probe = rng.choice(3, p=[0.45, 0.35, 0.20])  # convex, phased, linear
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    ax = side * _u(rng, 0.45, 0.55)
    top = side * _u(rng, 0.03, 0.1)
    if probe == 2:
        x0, x1 = side * _u(rng, 0.05, 0.2), side * _u(rng, 0.8, 0.95)
        depth = (ys - top) / (side * _u(rng, 0.85, 0.95))
        mask = (xs >= x0) & (xs <= x1) & (depth >= 0) & (depth <= 1)
    else:
        r0 = side * (_u(rng, 0.2, 0.45) if probe == 0 else _u(rng, 0.0, 0.03))
        r1 = r0 + side * _u(rng, 0.78, 0.9)
        half = math.radians(_u(rng, 25, 38) if probe == 0 else _u(rng, 35, 45))
        dy, dx = ys - (top - r0), xs - ax
        r = np.sqrt(dx * dx + dy * dy)
        depth = (r - r0) / (r1 - r0)
        mask = (depth >= 0) & (depth <= 1) & (np.abs(np.arctan2(dx, dy)) <= half)
    echo = 0.45 + _smooth_field(rng, side, 7, 0.22)
    echo += (
        0.25 * np.sin(depth * _u(rng, 15, 40) + _smooth_field(rng, side, 4, 2.0)) * (depth < 0.3)
    )
    anechoic = np.zeros((side, side), np.float32)
    for _ in range(int(rng.integers(0, 4))):  # cysts, vessels, chambers
        p = _pt(side * _u(rng, 0.25, 0.75), side * _u(rng, 0.3, 0.85))
        cv2.ellipse(
            anechoic,
            p,
            _ax(side * _u(rng, 0.04, 0.16), side * _u(rng, 0.03, 0.12)),
            _u(rng, 0, 180),
            0,
            360,
            1.0,
            -1,
        )
        cv2.ellipse(
            echo,
            p,
            _ax(side * _u(rng, 0.05, 0.18), side * _u(rng, 0.04, 0.14)),
            _u(rng, 0, 180),
            200,
            340,
            1.3,
            2,
        )
    echo = np.where(anechoic > 0, 0.04, echo)
    echo *= np.exp(-_u(rng, 0.3, 1.4) * depth.clip(0, 1))
    echo = cv2.GaussianBlur(echo * mask, (0, 0), 0.8)
    out = _finish(echo, size) * _window(banks.speckle, rng, size) * _u(rng, 150, 230)
    grey = _to_u8(out)
    if rng.random() >= DOPPLER_PROB:
        return grey
    return _doppler(grey, rng, _finish((mask & (depth > 0.1)).astype(np.float32), size), banks)


def _doppler(
    grey: np.ndarray, rng: np.random.Generator, inside: np.ndarray, banks: _NoiseBanks
) -> np.ndarray:
    """Paint fragmented colour-flow blobs (velocity red/blue or power orange) on a grey image."""
    size = grey.shape[0]
    side = max(16, size // 4)
    flow = np.zeros((side, side), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        p = _pt(side * _u(rng, 0.3, 0.7), side * _u(rng, 0.3, 0.8))
        axes = _ax(side * _u(rng, 0.05, 0.18), side * _u(rng, 0.03, 0.1))
        cv2.ellipse(flow, p, axes, _u(rng, 0, 180), 0, 360, 1.0 if rng.random() < 0.5 else -1.0, -1)
    flow = _finish(cv2.GaussianBlur(flow, (0, 0), 1.5), size) * inside
    vel = flow * (0.4 + 0.6 * _window(banks.grain, rng, size).clip(-1.5, 1.5) ** 2)
    vel *= cv2.GaussianBlur(_window(banks.white, rng, size), (0, 0), 2.0) > -0.1
    show = np.abs(vel) > 0.15
    rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    mag = np.clip(np.abs(vel), 0, 1)
    colour = np.empty(rgb.shape, np.float32)
    if rng.random() < 0.35:  # power Doppler: dark orange to yellow
        colour[..., 0] = 200 + 55 * mag
        colour[..., 1] = 60 + 190 * mag
        colour[..., 2] = 20 * mag
    else:  # colour Doppler: towards the probe red->yellow, away blue->cyan
        toward = vel > 0
        colour[..., 0] = np.where(toward, 150 + 105 * mag, 10)
        colour[..., 1] = np.where(toward, 200 * mag * mag, 60 + 190 * mag * mag)
        colour[..., 2] = np.where(toward, 10, 180 + 75 * mag)
    rgb[show] = colour[show].astype(np.uint8)
    return rgb


_PROCEDURAL = {"CT": _ct, "MR": _mr, "XR": _xr, "US": _us}


# -- augmentation ------------------------------------------------------------------------------


def _warp(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random zoom (0.8-1.25), shift and flips of a procedural image, in one affine resample."""
    size = image.shape[0]
    zoom = math.exp(_u(rng, math.log(0.8), math.log(1.25)))
    fx = -1.0 if rng.random() < 0.5 else 1.0
    fy = -1.0 if rng.random() < 0.1 else 1.0
    slack = abs(1 - zoom) * size / 2
    tx, ty = rng.uniform(-slack, slack, size=2)
    c = (size - 1) / 2
    m = np.array(
        [[zoom * fx, 0, c - zoom * fx * c + tx], [0, zoom * fy, c - zoom * fy * c + ty]],
        np.float32,
    )
    return cv2.warpAffine(
        image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _crop_square(pixels: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random square window (a zoom of 0.5-1 of the shorter side), flipped, resized to `size`."""
    h, w = pixels.shape[:2]
    side = max(8, round(min(h, w) * _u(rng, 0.5, 1.0)))
    side = min(side, h, w)
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = pixels[y : y + side, x : x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.1:
        crop = crop[::-1]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=interp)


def _augment(
    image: np.ndarray, rng: np.random.Generator, banks: _NoiseBanks, *, xray_style: bool
) -> np.ndarray:
    """Gamma 0.7-1.4, additive noise, slight blur, and for radiographs sometimes inversion."""
    gamma = math.exp(_u(rng, math.log(0.7), math.log(1.4)))
    lut = (np.linspace(0.0, 1.0, 256) ** gamma * 255.0 + 0.5).astype(np.uint8)
    image = cv2.LUT(image, lut)
    if rng.random() < 0.6:
        noise = _window(banks.additive, rng, image.shape[0])
        sigma = _u(rng, 0.5, 5.0) / 16.0
        if image.ndim == 2:
            image = cv2.addWeighted(image.astype(np.int16), 1.0, noise, sigma, 0.0, dtype=cv2.CV_8U)
        else:
            image = _to_u8(image + (noise * sigma)[..., None])
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), _u(rng, 0.4, 1.1))
    if xray_style and rng.random() < 0.12:
        image = 255 - image
    return image


def _tint(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour a grey image: a mild monitor-like tint, or a hot/bone colour map (NM, PET)."""
    if rng.random() < 0.25:
        cmap = cv2.COLORMAP_HOT if rng.random() < 0.5 else cv2.COLORMAP_BONE
        return cv2.cvtColor(cv2.applyColorMap(grey, cmap), cv2.COLOR_BGR2RGB)
    tint = 1.0 - rng.uniform(0.0, 0.3, size=3)
    tint[int(rng.integers(3))] = 1.0
    lut = np.stack([(np.arange(256) * t).astype(np.uint8) for t in tint], axis=1)
    return lut[grey]
