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

The package holds one module per procedural modality (`ct`, `mr`, `xray`, `ultrasound`, and
`nm` for the colour maps of real nuclear-medicine crops), the drawing helpers and tissue tones
they share (`drawing`, `anatomy`), the noise textures (`noise`), the real-data crops (`real`),
the user's folder (`user`), the image cache both fill (`cache`), the per-sample augmentation
(`augment`) and the `BackgroundSource` that draws from all of them (`source`).
"""

from __future__ import annotations

from medocr_cli.synth.backgrounds.augment import TINT_PROB
from medocr_cli.synth.backgrounds.nm import NM_COLOUR_PROB
from medocr_cli.synth.backgrounds.real import MEASURE_ONLY, REAL_CROPS, RealCrop, real_data_folders
from medocr_cli.synth.backgrounds.source import (
    PROCEDURAL_MODALITIES,
    REAL_SHARE,
    USER_REAL_SHARE,
    USER_SHARE,
    Background,
    BackgroundSource,
)
from medocr_cli.synth.backgrounds.ultrasound import DOPPLER_PROB

__all__ = [
    "DOPPLER_PROB",
    "MEASURE_ONLY",
    "NM_COLOUR_PROB",
    "PROCEDURAL_MODALITIES",
    "REAL_CROPS",
    "REAL_SHARE",
    "TINT_PROB",
    "USER_REAL_SHARE",
    "USER_SHARE",
    "Background",
    "BackgroundSource",
    "RealCrop",
    "real_data_folders",
]
