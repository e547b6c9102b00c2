"""Real anatomy: hand-checked, text-free crops of pydicom's and pydicom-data's test scans.

`REAL_CROPS` lists the regions used as backgrounds, `MEASURE_ONLY` the scans held out for
measuring (never a background), and `real_pool` decodes the crops of the files present, once
per process. Only local folders are searched; nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import NamedTuple

from medocr_cli.io import read_scan
from medocr_cli.synth.backgrounds.cache import CachedImage, grey_if_neutral, shrink_to_cache


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


@functools.lru_cache(maxsize=4)
def real_pool(
    folders: tuple[Path, ...],
) -> tuple[tuple[tuple[CachedImage, ...], ...], tuple[float, ...]]:
    """Decode the curated files present in `folders` (once per process), keeping their crops."""
    rows_by_group: dict[str, list[RealCrop]] = {}
    for row in REAL_CROPS:
        rows_by_group.setdefault(row.group, []).append(row)
    groups: list[tuple[CachedImage, ...]] = []
    weights: list[float] = []
    for rows in rows_by_group.values():
        images = _load_group(rows, folders)
        if images:
            groups.append(tuple(images))
            weights.append(rows[0].weight)
    return tuple(groups), tuple(weights)


def _load_group(rows: list[RealCrop], folders: tuple[Path, ...]) -> list[CachedImage]:
    """Crops of the first file of a group that exists and decodes (a file may have several)."""
    for filename in dict.fromkeys(row.filename for row in rows):
        path = next((f / filename for f in folders if (f / filename).is_file()), None)
        if path is None:
            continue
        images = _crops_of(path, [row for row in rows if row.filename == filename])
        if images:
            return images
    return []


def _crops_of(path: Path, rows: list[RealCrop]) -> list[CachedImage]:
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
                        pixels = shrink_to_cache(grey_if_neutral(crop))
                        images.append(CachedImage(pixels, modality, f"pydicom:{path.name}"))
    except Exception:  # any decoding failure just leaves this optional file out
        return []
    return images
