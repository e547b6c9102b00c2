"""Clean backgrounds for `generate-dataset`: medical-looking images that carry no text at all.

Three sources feed the generator, so the models see both endless variety and real anatomy:

* procedural CT, MR, X-ray and ultrasound images drawn with numpy/OpenCV (fast, unlimited);
* crops of real scans from pydicom's bundled test files and the optional `pydicom-data` package,
  limited to hand-checked regions that hold no burned-in text, markers or rulers (`REAL_CROPS`),
  never from the scans held out for measuring (`MEASURE_ONLY`);
* any folder of clean PNG/DICOM scans the user has (`--backgrounds DIR`).

Every sample is augmented (crop/zoom, flips, gamma, noise, blur, sometimes X-ray style inversion)
and a minority is colour: ultrasound Doppler-like patches, real echo crops, or tinted grey.
Text is composited later by another module; nothing here draws a glyph, a ruler or a marker.

Speed comes from two process-wide caches filled on first use: the decoded real/user images (read
once per process, never per sample) and a few fixed-seed noise/speckle textures from which every
sample takes a random window. A pickled `BackgroundSource` carries only its settings, so worker
processes receive a small object; results depend only on the caller's rng.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from medocr_cli.errors import UsageError
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
#: Probability that a grey output gets a mild colour cast (monitor presets, scanned films).
TINT_PROB = 0.06

#: Probability that a real nuclear-medicine image is shown through a colour map.
NM_COLOUR_PROB = 0.3

#: Side of the fixed-seed noise and speckle textures; larger outputs tile them.
_BANK_SIDE = 1024
_BANK_SEED = 0x6D65646F  # fixed: the textures never depend on the caller's rng

#: Real images are stored with their shorter side at most this long (bounds memory and resizes).
_MAX_CACHED_SIDE = 1024
#: Frames kept per multi-frame user DICOM (evenly spaced); a sample picks one at random.
_USER_FRAMES_PER_FILE = 4
#: Entries of the ultrasound log-compression table (intensity 0-2 in these steps).
_US_LUT_STEPS = 4096
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


#: Real text-free scans held out of training and kept for measuring only: the detector's and the
#: scrubber's false alarms on real anatomy, Doppler flow and perfusion maps are counted on these,
#: so no crop of them, nor of another file showing the same picture (a recompressed or renamed
#: copy), may ever become a training background. `REAL_CROPS` must not name any of them.
MEASURE_ONLY: tuple[str, ...] = (
    "693_UNCR.dcm",
    "bad_sequence.dcm",
    "CT_small.dcm",
    "eCT_Supplemental.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "emri_small.dcm",
    "MR_small.dcm",
    "JPEG2000_UNC.dcm",
    "RG1_UNCR.dcm",
    "color-px.dcm",
    "liver.dcm",
    "US1_UNCR.dcm",
)

#: The curated real anatomy. Every box was chosen by looking at the file's display rendering:
#: files whose pixels carry text (most ultrasound screens, `GDCMJ2K_TextGBR`), test patterns
#: (`mlut_18`, `vlut_04`, `image_dfl`), segmentations (`liver*`), lossy-broken renderings
#: (`693_J2KI`) and non-medical pictures (`OT-PAL-8-face`, `SC_rgb*`) are left out; for the
#: ultrasound screens kept, the box lies inside the image area, clear of the overlay text, ROI
#: boxes, depth rulers and cursor marks.
#: The files in `MEASURE_ONLY` and every other copy of the same pictures are left out too, so
#: that measurements on them stay honest: `CT_small`, `693_UNCR`, `MR_small`, `emri_small`,
#: `MR-SIEMENS-DICOM-WithOverlays` with `examples_overlay`, `RG1_UNCR` with `RG1_J2KR`, the
#: bone scan of `JPEG2000_UNC` with `JPGExtended` and `JPEG-LL`, and the power-Doppler lymph
#: node of `US1_UNCR` with `examples_jpeg2k`.
REAL_CROPS: tuple[RealCrop, ...] = (
    # CT
    RealCrop("ct_head_base", "J2K_pixelrep_mismatch.dcm", (0,), (0, 0, 512, 512)),
    # MR
    RealCrop("mr_shoulder", "MR2_UNCR.dcm", (0,), (80, 104, 1016, 920)),
    RealCrop("mr_shoulder", "MR2_J2KR.dcm", (0,), (80, 104, 1016, 920)),
    # CR (radiographs)
    RealCrop("cr_ankle", "RG3_UNCR.dcm", (0,), (445, 0, 1110, 1760)),  # left of the "R" marker
    RealCrop("cr_ankle", "RG3_J2KR.dcm", (0,), (445, 0, 1110, 1760)),
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
        self._real: tuple[tuple[_Image, ...], ...] | None = None
        self._real_weights: np.ndarray | None = None
        self._user: tuple[_Image, ...] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle only the settings: the receiving process uses (or fills) its own caches."""
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
            image = _crop_square(picked.pixels, rng, size)
            modality, source = picked.modality, picked.source
        image = _augment(image, rng, banks, xray_style=modality in ("XR", "CR"))
        if image.ndim == 2:
            if modality == "NM" and rng.random() < NM_COLOUR_PROB:
                image = _colour_map(image, rng)
            elif rng.random() < TINT_PROB:
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
        return _shared_noise_banks()

    def _real_groups(self) -> tuple[tuple[_Image, ...], ...]:
        if self._real is None:
            groups, weights = _real_pool(tuple(real_data_folders())) if self.use_real else ((), ())
            self._real = groups
            total = sum(weights)
            self._real_weights = np.array([w / total for w in weights]) if groups else None
        return self._real

    def _user_images(self) -> tuple[_Image, ...]:
        if self._user is None:
            if self.user_dir is None:
                self._user = ()
            else:
                self._user = _user_pool(self.user_dir.resolve(), self.max_user_images)
        return self._user


# -- loading real and user images --------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _real_pool(
    folders: tuple[Path, ...],
) -> tuple[tuple[tuple[_Image, ...], ...], tuple[float, ...]]:
    """Decode the curated files present in `folders` (once per process), keeping their crops."""
    rows_by_group: dict[str, list[RealCrop]] = {}
    for row in REAL_CROPS:
        rows_by_group.setdefault(row.group, []).append(row)
    groups: list[tuple[_Image, ...]] = []
    weights: list[float] = []
    for rows in rows_by_group.values():
        images = _load_group(rows, folders)
        if images:
            groups.append(tuple(images))
            weights.append(rows[0].weight)
    return tuple(groups), tuple(weights)


def _load_group(rows: list[RealCrop], folders: tuple[Path, ...]) -> list[_Image]:
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


@functools.lru_cache(maxsize=8)
def _user_pool(root: Path, limit: int) -> tuple[_Image, ...]:
    """Read a user folder once per process; raise a usage error when nothing in it is usable.

    Up to `limit` files are read (evenly spaced over the sorted list when there are more);
    unreadable files are skipped. A failed load is not cached.
    """
    files = [f for f in walk_inputs([root]) if f.candidate]
    if len(files) > limit > 0:
        keep = np.linspace(0, len(files) - 1, limit).round().astype(int)
        files = [files[i] for i in sorted(set(keep.tolist()))]
    images: list[_Image] = []
    for item in files:
        images.extend(_user_frames(item.path, item.rel.as_posix()))
    if not images:
        raise UsageError(
            f"backgrounds folder {root} holds no readable PNG or DICOM image",
            hint="put clean scans (PNG, JPEG, TIFF or DICOM) in it, or drop --backgrounds",
        )
    return tuple(images)


def _user_frames(path: Path, rel: str) -> list[_Image]:
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


@functools.cache
def _shared_noise_banks() -> _NoiseBanks:
    """The noise textures of this process, built on first use."""
    return _NoiseBanks.build()


def _window(bank: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random `size` x `size` window of a texture (wrapping around when `size` exceeds it)."""
    side = bank.shape[0]
    if size > side:
        x, y = rng.integers(0, side, size=2)
        rows = bank.take(np.arange(y, y + size), axis=0, mode="wrap")
        return rows.take(np.arange(x, x + size), axis=1, mode="wrap")
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


def _soft(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run at a quarter of the resolution (same look, far cheaper)."""
    if sigma < 3.0:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    side = img.shape[0]
    small = cv2.resize(img, (side // 4, side // 4), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)


def _finish(lo: np.ndarray, size: int) -> np.ndarray:
    """Upscale a half-resolution drawing to the output size (linear: soft, natural edges)."""
    if lo.shape[0] == size:
        return lo
    return cv2.resize(lo, (size, size), interpolation=cv2.INTER_LINEAR)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0, 255).astype(np.uint8)


class _Tones(NamedTuple):
    """Display grey levels of tissues for one contrast (CT window, MR T1 or T2)."""

    air: float
    skin: float
    fat: float
    muscle: float
    bone: float
    marrow: float
    csf: float
    grey: float
    white: float
    liver: float
    spleen: float
    kidney: float
    vessel: float
    lung: float
    fluid: float


_CT_TONES = _Tones(-120, 100, 68, 112, 262, 185, 68, 113, 102, 138, 128, 168, 150, -40, 95)
_T1_TONES = _Tones(0, 150, 215, 80, 12, 175, 35, 100, 150, 120, 95, 110, 5, 8, 40)
_T2_TONES = _Tones(0, 130, 165, 55, 10, 125, 225, 120, 85, 60, 130, 150, 5, 8, 230)


def _fill(
    img: np.ndarray, c: tuple[float, float], ax: tuple[float, float], v: float, ang: float = 0
) -> None:
    cv2.ellipse(img, _pt(*c), _ax(*ax), ang, 0, 360, float(v), -1)


def _mask(side: int, c: tuple[float, float], ax: tuple[float, float], ang: float = 0) -> np.ndarray:
    m = np.zeros((side, side), np.float32)
    _fill(m, c, ax, 1.0, ang)
    return m


def _draw_head(img: np.ndarray, rng: np.random.Generator, t: _Tones) -> None:
    """An axial head: scalp, skull with diploe, cortex with sulci, white matter, ventricles."""
    s = img.shape[0]
    c = (s * _u(rng, 0.46, 0.54), s * _u(rng, 0.46, 0.54))
    a, b = s * _u(rng, 0.27, 0.34), s * _u(rng, 0.34, 0.41)
    ang = _u(rng, -8, 8)
    bone = s * _u(rng, 0.022, 0.035)
    _fill(img, c, (a + s * 0.018, b + s * 0.018), t.skin, ang)
    _fill(img, c, (a, b), t.bone, ang)
    _fill(img, c, (a - bone * 0.3, b - bone * 0.3), t.marrow, ang)
    _fill(img, c, (a - bone * 0.7, b - bone * 0.7), t.bone, ang)
    ai, bi = a - bone, b - bone
    _fill(img, c, (ai, bi), t.csf, ang)
    brain = _mask(s, c, (ai * 0.97, bi * 0.97), ang)
    depth = _soft(_mask(s, c, (ai * 0.8, bi * 0.85), ang), s * 0.04)
    cells = int(rng.integers(22, 32))
    folds = _smooth_field(rng, s, cells, 1.0)
    wm = depth + 0.35 * folds > 0.55  # white matter reaching into the gyri
    sulci = (np.abs(folds) < 0.08) & (depth < 0.45)  # CSF in the sulci near the surface
    tissue = np.where(wm, t.white, t.grey) + _smooth_field(rng, s, 10, 5.0)
    tissue = np.where(sulci, t.csf, tissue)
    img[:] = np.where(brain > 0, tissue, img)
    vy = c[1] - bi * _u(rng, 0.0, 0.12)
    for sgn in (-1, 1):  # lateral ventricles (frontal and occipital horns)
        vx = c[0] + sgn * ai * _u(rng, 0.08, 0.14)
        axes = (ai * _u(rng, 0.04, 0.09), bi * _u(rng, 0.16, 0.26))
        _fill(img, (vx, vy - bi * 0.12), axes, t.csf, ang + sgn * _u(rng, 10, 25))
        _fill(
            img,
            (vx + sgn * ai * 0.05, vy + bi * 0.3),
            (axes[0], axes[1] * 0.5),
            t.csf,
            ang - sgn * 20,
        )
    cv2.line(
        img,
        _pt(c[0], c[1] - bi * 0.95),
        _pt(c[0], vy - bi * 0.4),
        t.csf + 0.5 * (t.bone - t.csf),
        1,
    )
    if rng.random() < 0.4:  # a lesion, bleed or infarct
        p = (c[0] + ai * _u(rng, -0.5, 0.5), c[1] + bi * _u(rng, -0.5, 0.5))
        _fill(
            img,
            p,
            (ai * _u(rng, 0.05, 0.18), bi * _u(rng, 0.05, 0.15)),
            _u(rng, 0.6, 1.4) * t.grey,
            _u(rng, 0, 180),
        )


def _draw_trunk(img: np.ndarray, rng: np.random.Generator, t: _Tones, *, thorax: bool) -> None:
    """An axial thorax or abdomen slice: fat, muscle wall, organs, spine, table."""
    s = img.shape[0]
    cx, cy = s * _u(rng, 0.46, 0.54), s * _u(rng, 0.44, 0.52)
    a, b = s * _u(rng, 0.36, 0.46), s * _u(rng, 0.24, 0.32)
    fat = _u(rng, 0.04, 0.13)
    if t.air < 0:  # CT: the table under the patient
        cv2.ellipse(img, _pt(cx, cy + b + s * 0.65), _ax(a * 1.3, s * 0.6), 0, 200, 340, 150, 2)
    _fill(img, (cx, cy), (a + 2, b + 2), t.skin)
    _fill(img, (cx, cy), (a, b), t.fat)
    am, bm = a * (1 - fat), b * (1 - fat * 1.4)
    _fill(img, (cx, cy), (am, bm), t.muscle)
    cav = _mask(s, (cx, cy - bm * 0.05), (am * 0.9, bm * 0.8))
    if thorax:
        inside = t.muscle + 0.2 * (t.fat - t.muscle) + _smooth_field(rng, s, 8, 4.0)
    else:  # mesenteric fat between loops
        mix = _smooth_field(rng, s, int(rng.integers(18, 28)), 1.0) > 0.35
        inside = np.where(mix, t.fat, t.muscle * 1.05) + _smooth_field(rng, s, 8, 4.0)
    img[:] = np.where(cav > 0, inside, img)
    vy, vr = cy + bm * 0.55, bm * _u(rng, 0.14, 0.18)
    for sgn in (-1, 1):  # paraspinal muscles
        _fill(
            img,
            (cx + sgn * vr * 1.5, vy + vr * 1.3),
            (vr * 1.2, vr * 0.9),
            t.muscle * 0.95,
            sgn * 15,
        )
    if thorax:
        _draw_lungs(img, rng, t, cx, cy, am, bm)
    else:
        _draw_abdomen(img, rng, t, cx, cy, am, bm)
    _fill(img, (cx, vy), (vr, vr * 0.9), t.bone)  # vertebra: cortex, marrow, canal, arch
    _fill(img, (cx, vy), (vr * 0.85, vr * 0.75), t.marrow)
    _fill(img, (cx, vy + vr * 1.45), (vr * 0.45, vr * 0.4), t.csf)
    cv2.ellipse(img, _pt(cx, vy + vr * 1.5), _ax(vr * 0.9, vr * 0.8), 0, 20, 160, t.bone, 2)
    cv2.line(img, _pt(cx, vy + vr * 2.3), _pt(cx, vy + vr * 3.0), t.bone, 2)


def _draw_lungs(
    img: np.ndarray, rng: np.random.Generator, t: _Tones, cx: float, cy: float, a: float, b: float
) -> None:
    s = img.shape[0]
    lung = np.zeros_like(img)
    for sgn in (-1, 1):  # bean shapes: two overlapping ellipses per side
        _fill(
            lung,
            (cx + sgn * a * 0.5, cy - b * 0.1),
            (a * _u(rng, 0.30, 0.36), b * _u(rng, 0.5, 0.62)),
            1.0,
            sgn * 10,
        )
        _fill(lung, (cx + sgn * a * 0.42, cy + b * 0.2), (a * 0.3, b * 0.45), 1.0, sgn * -15)
    vessels = np.zeros_like(img)
    for sgn in (-1, 1):  # vessel trees branching out of the hila
        for _ in range(int(rng.integers(4, 8))):
            th = rng.uniform(-1.3, 1.3)
            start = (cx + sgn * a * 0.22, cy + b * _u(rng, -0.2, 0.2))
            _branch(
                vessels, rng, start, th if sgn > 0 else math.pi - th, a * _u(rng, 0.12, 0.25), 3
            )
    n = int(rng.integers(20, 50))
    for x, y in zip(rng.uniform(cx - a, cx + a, n), rng.uniform(cy - b, cy + b, n), strict=True):
        cv2.circle(vessels, _pt(x, y), int(rng.integers(1, 3)), 1.0, -1)
    parenchyma = t.lung + _smooth_field(rng, s, 12, 6.0)
    img[:] = np.where(lung > 0, np.where(vessels > 0, t.vessel * 0.7, parenchyma), img)
    _fill(img, (cx + a * 0.12, cy), (a * 0.28, b * 0.42), t.muscle * 1.1, 20)  # heart
    _fill(img, (cx - a * 0.05, cy - b * 0.45), (b * 0.12, b * 0.12), t.vessel)  # aorta
    for k in range(int(rng.integers(6, 12))):  # ribs cut obliquely around the rim
        th = math.radians(_u(rng, 200, 340) if k % 2 else _u(rng, 20, 160))
        p = (cx + a * 1.02 * math.cos(th), cy + b * 1.0 * math.sin(th))
        _fill(img, p, (a * 0.05, b * 0.035), t.bone, math.degrees(th) + 90)


def _branch(
    img: np.ndarray,
    rng: np.random.Generator,
    start: tuple[float, float],
    th: float,
    length: float,
    depth: int,
) -> None:
    """Draw a small branching tree (lung vessels) from `start` in direction `th`."""
    end = (start[0] + math.cos(th) * length, start[1] + math.sin(th) * length)
    cv2.line(img, _pt(*start), _pt(*end), 1.0, 1)
    if depth > 1:
        for turn in (-1, 1):
            _branch(img, rng, end, th + turn * _u(rng, 0.2, 0.6), length * 0.7, depth - 1)


def _draw_abdomen(
    img: np.ndarray, rng: np.random.Generator, t: _Tones, cx: float, cy: float, a: float, b: float
) -> None:
    _fill(img, (cx - a * 0.42, cy - b * 0.12), (a * 0.45, b * 0.62), t.liver + _u(rng, -8, 8), 15)
    _fill(img, (cx + a * 0.62, cy - b * 0.25), (a * 0.16, b * 0.3), t.spleen, -25)
    for sgn in (-1, 1):  # kidneys with their sinus
        k = (cx + sgn * a * 0.4, cy + b * 0.35)
        _fill(img, k, (a * 0.1, b * 0.2), t.kidney, sgn * 25)
        _fill(img, (k[0] - sgn * a * 0.03, k[1]), (a * 0.035, b * 0.08), t.fat, sgn * 25)
    _fill(img, (cx - a * 0.05, cy + b * 0.32), (b * 0.08, b * 0.08), t.vessel)  # aorta
    _fill(img, (cx - a * 0.2, cy + b * 0.25), (b * 0.09, b * 0.07), t.vessel * 0.9)  # cava
    for _ in range(int(rng.integers(4, 10))):  # bowel loops, some with gas
        p = (cx + a * _u(rng, -0.3, 0.6), cy + b * _u(rng, -0.4, 0.3))
        val = t.air if rng.random() < 0.35 else t.fluid + _u(rng, 0, 25)
        _fill(img, p, (a * _u(rng, 0.04, 0.1), b * _u(rng, 0.05, 0.12)), val, _u(rng, 0, 180))


def _ct(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """An axial CT slice (head, thorax or abdomen) in a soft-tissue, lung or bone window."""
    side = max(32, size // 2)
    img = np.full((side, side), _CT_TONES.air, np.float32)
    region = int(rng.choice(3, p=[0.35, 0.35, 0.30]))
    if region == 0:
        _draw_head(img, rng, _CT_TONES)
    else:
        _draw_trunk(img, rng, _CT_TONES, thorax=region == 1)
    img = _apply_layout(cv2.GaussianBlur(img, (0, 0), 0.7), _layout(rng, side), _CT_TONES.air)
    out = _finish(img, size)
    out += _window(banks.grain, rng, size) * _u(rng, 4.0, 12.0)
    u = rng.random()
    if region == 1 and u < 0.3:  # lung window
        out = (out + 70.0) * 1.5
    elif u < 0.1:  # bone window
        out = (out - 70.0) * 1.4
    return _to_u8(out)


def _mr(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """An MR slice (T1 or T2): smooth tissue contrast, flow voids, bias field, Rician noise."""
    side = max(32, size // 2)
    tones = _T2_TONES if rng.random() < 0.4 else _T1_TONES
    img = np.zeros((side, side), np.float32)
    if rng.random() < 0.55:
        _draw_head(img, rng, tones)
    else:
        _draw_trunk(img, rng, tones, thorax=rng.random() < 0.3)
    img = _apply_layout(cv2.GaussianBlur(img, (0, 0), 0.9), _layout(rng, side), 0.0)
    img *= 1.0 + _smooth_field(rng, side, 3, 0.25)  # coil bias field
    out = _finish(img, size) * _u(rng, 0.8, 1.1)
    sigma = _u(rng, 2.0, 9.0)
    re = out + _window(banks.white, rng, size) * sigma
    im = _window(banks.white, rng, size) * sigma
    return _to_u8(np.sqrt(re * re + im * im))


def _xr(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """A radiograph as displayed (bone white, air dark): chest or a limb, maybe collimated."""
    side = max(32, size // 2)
    img = np.full((side, side), _u(rng, 5, 30), np.float32)
    if rng.random() < 0.65:
        _xr_chest(img, rng)
    else:
        _xr_limb(img, rng)
    img = cv2.GaussianBlur(img, (0, 0), _u(rng, 0.6, 1.2))
    img = _apply_layout(img, _layout(rng, side), None)  # replicate: the body runs on
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


def _poly(
    img: np.ndarray, pts: list[tuple[float, float]], value: float, thickness: int = 0
) -> None:
    arr = np.round(np.array(pts, np.float32)).astype(np.int32).reshape(-1, 1, 2)
    if thickness <= 0:
        cv2.fillPoly(img, [arr], float(value))
    else:
        cv2.polylines(img, [arr], False, float(value), thickness)


def _xr_chest(img: np.ndarray, rng: np.random.Generator) -> None:
    """A PA chest: shoulders, lungs with vessels, heart and mediastinum, ribs, clavicles."""
    s = img.shape[0]
    cx, top = s * _u(rng, 0.46, 0.54), s * _u(rng, 0.0, 0.15)
    w, h = s * _u(rng, 0.34, 0.44), s * _u(rng, 0.55, 0.72)  # thorax half width, lung height
    body = np.zeros_like(img)
    nw = w * 0.3
    _poly(
        body,
        [
            (cx - nw, -s),
            (cx + nw, -s),
            (cx + nw, top - h * 0.06),
            (cx + w * 1.3, top + h * 0.05),
            (cx + w * 1.25, 2 * s),
            (cx - w * 1.25, 2 * s),
            (cx - w * 1.3, top + h * 0.05),
            (cx - nw, top - h * 0.06),
        ],
        1.0,
    )
    img += _soft(body, s * 0.02) * _u(rng, 150, 185)
    lungs = np.zeros_like(img)
    ts = np.linspace(0.0, 1.0, 10)
    for sgn in (-1, 1):
        dome = h * (0.14 if sgn < 0 else 0.1)
        lateral = [
            (cx + sgn * w * (0.3 + 0.65 * math.sin(u * math.pi / 2) ** 0.6), top + h * u)
            for u in ts
        ]
        diaphragm = [
            (cx + sgn * w * (0.95 - 0.85 * u), top + h - dome * math.sin(math.pi * (0.3 + 0.7 * u)))
            for u in ts
        ]
        medial = [(cx + sgn * w * 0.12, top + h * 0.4), (cx + sgn * w * 0.2, top + h * 0.05)]
        _poly(lungs, lateral + diaphragm + medial, 1.0)
    solid = np.zeros_like(img)
    _fill(solid, (cx + w * 0.18, top + h * 0.74), (w * 0.45, h * 0.24), 1.0, -15)  # heart
    cv2.rectangle(solid, _pt(cx - w * 0.16, 0), _pt(cx + w * 0.16, s), 1.0, -1)  # mediastinum
    air = _soft(lungs, s * 0.012) * (1 - _soft(solid, s * 0.015))
    vessels = np.zeros_like(img)
    for sgn in (-1, 1):  # vascular markings fanning out of the hila
        hx, hy = cx + sgn * w * 0.25, top + h * 0.45
        for _ in range(int(rng.integers(10, 18))):
            th = rng.uniform(-1.2, 1.2)
            ln = w * _u(rng, 0.2, 0.6)
            cv2.line(
                vessels,
                _pt(hx, hy),
                _pt(hx + sgn * math.cos(th) * ln, hy + math.sin(th) * ln * 1.3),
                1.0,
                1,
            )
    darkness = _u(rng, 95, 130) + _smooth_field(rng, s, 6, 12.0)
    img -= air * (darkness - cv2.GaussianBlur(vessels, (0, 0), 1.0) * 40)
    thorax = _soft(lungs, s * 0.04)
    ribs = np.zeros_like(img)
    step, thick = h / _u(rng, 9.0, 10.5), max(1, round(h * 0.035))
    us = np.linspace(0.0, 1.0, 12)
    for k in range(11):
        y0 = top + k * step - h * 0.04
        for sgn in (-1, 1):  # posterior ribs rise a little, then fall laterally
            pts = [
                (
                    cx + sgn * w * (0.07 + 0.95 * u),
                    y0 - h * 0.05 * math.sin(math.pi * u) + h * 0.2 * u * u,
                )
                for u in us
            ]
            _poly(ribs, pts, 1.0, thick)
            pts = [
                (cx + sgn * w * (0.95 - 0.6 * u), y0 + h * (0.08 + 0.18 * u)) for u in us
            ]  # anterior
            _poly(ribs, pts, 0.5, max(1, thick - 1))
    img += cv2.GaussianBlur(ribs, (0, 0), 0.8) * _u(rng, 18, 30) * np.clip(thorax * 1.5, 0, 1)
    for sgn in (-1, 1):  # clavicles
        pts = [
            (cx + sgn * w * (0.1 + 0.8 * u), top + h * (0.04 - 0.08 * u + 0.06 * u * u)) for u in us
        ]
        clav = np.zeros_like(img)
        _poly(clav, pts, 1.0, max(1, round(h * 0.045)))
        img += cv2.GaussianBlur(clav, (0, 0), 1.0) * 35
    img += (np.abs(np.arange(s) - cx) < w * 0.09).astype(np.float32)[None, :] * 12  # spine


def _bone_outline(
    cx: float, y0: float, y1: float, half: float, flare_top: bool, flare_bottom: bool
) -> list[tuple[float, float]]:
    """Outline of a long bone from y0 to y1: a shaft that flares into rounded ends at joints."""
    ys = np.linspace(y0, y1, 24)
    span = half * 3.0

    def width(y: float) -> float:
        grow = 0.0
        if flare_top:
            grow = max(grow, 1 - (y - y0) / span)
        if flare_bottom:
            grow = max(grow, 1 - (y1 - y) / span)
        return half * (1 + 0.9 * max(0.0, grow) ** 2)

    left = [(cx - width(y), y) for y in ys]
    right = [(cx + width(y), y) for y in ys[::-1]]
    caps_b = [
        (cx + width(y1) * math.cos(t), y1 + half * 0.5 * math.sin(t))
        for t in np.linspace(0, math.pi, 9)
    ]
    caps_t = [
        (cx - width(y0) * math.cos(t), y0 - half * 0.5 * math.sin(t))
        for t in np.linspace(0, math.pi, 9)
    ]
    return (
        left + (caps_b[::-1] if flare_bottom else []) + right + (caps_t[::-1] if flare_top else [])
    )


def _xr_limb(img: np.ndarray, rng: np.random.Generator) -> None:
    """A long-bone radiograph, maybe across a joint, drawn upright and then rotated."""
    s = img.shape[0]
    layer = np.zeros_like(img)
    cx, width = s * 0.5, s * _u(rng, 0.3, 0.5)
    cv2.rectangle(layer, _pt(cx - width / 2, -s), _pt(cx + width / 2, 2 * s), 1.0, -1)
    layer = _soft(layer, s * 0.04) * _u(rng, 70, 100)
    half = width * _u(rng, 0.13, 0.19)
    cortex, medulla = _u(rng, 190, 225), _u(rng, 135, 165)
    joint = s * _u(rng, 0.4, 0.75) if rng.random() < 0.65 else 3.0 * s
    gap = half * _u(rng, 0.5, 0.8)
    pieces = [(-s, joint - gap / 2, False, joint < s)]
    if joint < s:
        pieces.append((joint + gap / 2, 2 * s, True, False))
    bones = np.zeros_like(img)
    for i, (y0, y1, ft, fb) in enumerate(pieces):
        h = half * (1.0 if i == 0 else _u(rng, 0.8, 1.1))
        _poly(bones, _bone_outline(cx, y0, y1, h, ft, fb), cortex)
        _poly(bones, _bone_outline(cx, y0, y1, h * 0.6, ft, fb), medulla)
    if rng.random() < 0.4:  # a thin companion bone (fibula, ulna)
        ox = cx + half * _u(rng, 1.6, 2.0)
        y0 = joint + gap if joint < s else -s
        _poly(bones, _bone_outline(ox, y0, 2 * s, half * 0.3, joint < s, False), cortex * 0.95)
    trab = _smooth_field(rng, s, 48, 12.0)
    layer = np.where(bones > 0, bones + trab, layer)
    rot = cv2.getRotationMatrix2D((s / 2, s / 2), _u(rng, -25, 25), 1.0)
    img += cv2.warpAffine(
        layer, rot, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _us(rng: np.random.Generator, size: int, banks: _NoiseBanks) -> np.ndarray:
    """An ultrasound image: black field, sector/linear shape, speckle, depth attenuation.

    With probability `DOPPLER_PROB` colour flow is painted in vessels and the result is RGB.
    """
    side = max(32, size // 2)
    probe = rng.choice(3, p=[0.45, 0.35, 0.20])  # convex, phased, linear
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    top = side * _u(rng, 0.03, 0.1)
    if probe == 2:
        x0, x1 = side * _u(rng, 0.05, 0.2), side * _u(rng, 0.8, 0.95)
        depth = (ys - top) / (side * _u(rng, 0.85, 0.95))
        mask = (xs >= x0) & (xs <= x1) & (depth >= 0) & (depth <= 1)
    else:
        r0 = side * (_u(rng, 0.2, 0.45) if probe == 0 else _u(rng, 0.0, 0.03))
        r1 = r0 + side * _u(rng, 0.78, 0.9)
        half = math.radians(_u(rng, 25, 38) if probe == 0 else _u(rng, 35, 45))
        dy, dx = ys - (top - r0), xs - side * _u(rng, 0.45, 0.55)
        r = np.sqrt(dx * dx + dy * dy)
        depth = (r - r0) / (r1 - r0)
        mask = (depth >= 0) & (depth <= 1) & (np.abs(np.arctan2(dx, dy)) <= half)
    echo = 0.45 + _smooth_field(rng, side, 7, 0.22)
    echo += (
        0.25 * np.sin(depth * _u(rng, 15, 40) + _smooth_field(rng, side, 4, 2.0)) * (depth < 0.3)
    )
    anechoic = np.zeros((side, side), np.float32)
    for _ in range(int(rng.integers(0, 3))):  # cysts, chambers, bladder
        p = (side * _u(rng, 0.25, 0.75), side * _u(rng, 0.3, 0.85))
        ax = (side * _u(rng, 0.04, 0.16), side * _u(rng, 0.03, 0.12))
        ang = _u(rng, 0, 180)
        _fill(anechoic, p, ax, 1.0, ang)
        cv2.ellipse(echo, _pt(*p), _ax(ax[0] * 1.1, ax[1] * 1.15), ang, 200, 340, 1.3, 2)
    doppler = rng.random() < DOPPLER_PROB
    flow = np.zeros((side, side), np.float32)
    for _ in range(int(rng.integers(1, 4)) if doppler else int(rng.integers(0, 2))):  # vessels
        pts = _vessel_path(rng, side)
        thick = max(2, round(side * _u(rng, 0.02, 0.06)))
        _poly(anechoic, pts, 1.0, thick)
        _poly(flow, pts, 1.0 if rng.random() < 0.5 else -1.0, thick)
    echo = np.where(anechoic > 0, 0.003, echo)
    echo *= np.exp(-_u(rng, 0.3, 1.4) * depth.clip(0, 1))
    layout = _layout(rng, side)
    echo = _apply_layout(cv2.GaussianBlur(echo * mask, (0, 0), 0.8), layout, 0.0)
    out = _finish(echo, size) * _window(banks.speckle, rng, size)
    grey = _log_compress(out, _u(rng, 40.0, 60.0), _u(rng, 0.03, 0.09))
    if not doppler:
        return grey
    if rng.random() < 0.3:  # power-Doppler blush in tissue, like a lymph node or thyroid
        p = (side * _u(rng, 0.3, 0.7), side * _u(rng, 0.35, 0.75))
        blush = _mask(
            side, p, (side * _u(rng, 0.08, 0.2), side * _u(rng, 0.05, 0.12)), _u(rng, 0, 180)
        )
        flow = np.maximum(flow, blush * (_smooth_field(rng, side, 24, 1.0) > 0.25))
    flow = cv2.GaussianBlur(flow * mask, (0, 0), 1.2)  # laminar profile: fastest in the middle
    flow = _apply_layout(flow, layout, 0.0)
    return _doppler(grey, rng, _finish(flow, size), banks)


def _log_compress(intensity: np.ndarray, dynamic_range_db: float, gain: float) -> np.ndarray:
    """Log-compress echo intensity to 8 bits as a scanner does (through a lookup table)."""
    idx = np.clip(intensity * (gain * _US_LUT_STEPS / 2.0), 0, _US_LUT_STEPS - 1).astype(np.int32)
    level = np.arange(_US_LUT_STEPS, dtype=np.float32) * (2.0 / _US_LUT_STEPS)
    db = 20.0 * np.log10(np.maximum(level, 1e-6))
    lut = np.clip((db + dynamic_range_db) * (255.0 / dynamic_range_db), 0, 255).astype(np.uint8)
    return lut[idx]


def _vessel_path(rng: np.random.Generator, side: int) -> list[tuple[float, float]]:
    """A gently curving vessel course across the field."""
    x, y = side * _u(rng, 0.1, 0.9), side * _u(rng, 0.25, 0.85)
    th = rng.uniform(-math.pi, math.pi)
    pts = [(x, y)]
    for _ in range(6):
        th += rng.uniform(-0.5, 0.5)
        x, y = x + math.cos(th) * side * 0.08, y + math.sin(th) * side * 0.05
        pts.append((x, y))
    return pts


def _doppler(
    grey: np.ndarray, rng: np.random.Generator, flow: np.ndarray, banks: _NoiseBanks
) -> np.ndarray:
    """Colour the flow map over a grey image (velocity red/blue, or power orange).

    Only the few pixels near a vessel are computed, which keeps this cheap.
    """
    size = grey.shape[0]
    patchy = _window(banks.grain, rng, size)
    scale, threshold = _u(rng, 0.5, 0.95), _u(rng, 0.12, 0.25)
    power = rng.random() < 0.35
    near = np.flatnonzero(np.abs(flow) > 0.05)
    vel = flow.ravel()[near] * (1.0 + 0.2 * patchy.ravel()[near]) * scale
    keep = np.abs(vel) > threshold
    near, vel = near[keep], vel[keep]
    mag = np.clip(np.abs(vel), 0, 1)
    if power:  # power Doppler: dark orange to yellow
        colour = np.stack([190 + 65 * mag, 40 + 210 * mag * mag, 25 * mag], axis=1)
    else:  # colour Doppler: towards the probe red->yellow, away blue->cyan
        toward = vel > 0
        colour = np.stack(
            [
                np.where(toward, 140 + 115 * mag, 10),
                np.where(toward, 230 * mag**3, 40 + 215 * mag**3),
                np.where(toward, 10, 170 + 85 * mag),
            ],
            axis=1,
        )
    rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    rgb.reshape(-1, 3)[near] = colour.astype(np.uint8)
    return rgb


_PROCEDURAL = {"CT": _ct, "MR": _mr, "XR": _xr, "US": _us}


# -- augmentation ------------------------------------------------------------------------------


def _layout(rng: np.random.Generator, side: int) -> np.ndarray:
    """A random zoom (0.8-1.25), shift and left-right flip of a procedural drawing (2x3 affine).

    No upside-down flips: scans are displayed head/probe up, and the models should learn that.
    """
    zoom = math.exp(_u(rng, math.log(0.8), math.log(1.25)))
    fx = -1.0 if rng.random() < 0.5 else 1.0
    slack = abs(1 - zoom) * side / 2
    tx, ty = rng.uniform(-slack, slack, size=2)
    c = (side - 1) / 2
    return np.array(
        [[zoom * fx, 0, c - zoom * fx * c + tx], [0, zoom, c - zoom * c + ty]], np.float32
    )


def _apply_layout(img: np.ndarray, m: np.ndarray, fill: float | None) -> np.ndarray:
    """Resample a clean (noise-free) drawing; uncovered borders get `fill`, or replicate."""
    side = img.shape[0]
    if fill is None:
        return cv2.warpAffine(img, m, (side, side), borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(
        img, m, (side, side), borderMode=cv2.BORDER_CONSTANT, borderValue=float(fill)
    )


def _crop_square(pixels: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random square window (0.5-1 of the shorter side), maybe mirrored, resized to `size`."""
    h, w = pixels.shape[:2]
    side = max(8, round(min(h, w) * _u(rng, 0.5, 1.0)))
    side = min(side, h, w)
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = pixels[y : y + side, x : x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
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


def _colour_map(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Show a nuclear-medicine image through a hot or bone colour map, as viewers often do."""
    cmap = cv2.COLORMAP_HOT if rng.random() < 0.6 else cv2.COLORMAP_BONE
    return cv2.cvtColor(cv2.applyColorMap(grey, cmap), cv2.COLOR_BGR2RGB)


def _tint(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give a grey image a mild colour cast (sepia/blue monitor presets, scanned films)."""
    tint = 1.0 - rng.uniform(0.0, 0.3, size=3)
    tint[int(rng.integers(3))] = 1.0
    lut = np.stack([(np.arange(256) * t).astype(np.uint8) for t in tint], axis=1)
    return cv2.LUT(cv2.merge([grey, grey, grey]), lut.reshape(256, 1, 3))
