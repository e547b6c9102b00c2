"""Technical labels: acquisition overlay text of CT, MR, ultrasound and X-ray screens.

kVp and mAs, window/level, series and image numbers, orientation markers, probe and preset
names, MR sequence parameters and the like: printed text that carries no PHI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from medocr_cli.synth.content.fields import pick, weighted


def _num(rng: np.random.Generator, lo: float, hi: float, decimals: int) -> str:
    return f"{float(rng.uniform(lo, hi)):.{decimals}f}"


def _label_ct(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"{pick(rng, ('80', '100', '110', '120', '130', '140'))} kVp",
        lambda: f"kV {pick(rng, ('80', '100', '120', '140'))}",
        lambda: f"{int(rng.integers(20, 500))} mAs",
        lambda: f"mA {int(rng.integers(50, 600))}",
        lambda: f"Thk {pick(rng, ('0.625', '1.0', '1.25', '2.5', '3.0', '5.0'))}mm",
        lambda: f"ST {pick(rng, ('1', '2', '3', '5', '10'))}mm",
        lambda: f"Slice {_num(rng, 0.5, 10, 1)} mm",
        lambda: f"Pitch {_num(rng, 0.5, 1.5, 3)}",
        lambda: f"Tilt {_num(rng, -20, 20, 1)}",
        lambda: f"DFOV {_num(rng, 15, 50, 1)}cm",
        lambda: f"Kernel {pick(rng, ('B30f', 'B70f', 'STANDARD', 'BONE', 'LUNG', 'FC13'))}",
        lambda: f"CTDIvol {_num(rng, 1, 60, 2)} mGy",
        lambda: f"DLP {_num(rng, 20, 1500, 1)} mGy*cm",
        lambda: f"Rot {_num(rng, 0.27, 1.0, 2)}s",
        lambda: f"SL {_num(rng, -300, 300, 1)}",
        lambda: f"Z {_num(rng, -900, 300, 1)} mm",
    )
    return _pick_call(rng, forms)


def _label_window(rng: np.random.Generator) -> str:
    ww = int(rng.integers(1, 40)) * 50
    wl = int(rng.integers(-120, 120)) * 5
    forms = (
        f"W:{ww} L:{wl}",
        f"W {ww} L {wl}",
        f"WW {ww} WL {wl}",
        f"WL: {wl} WW: {ww}",
        f"C {wl} W {ww}",
        f"W/L {ww}/{wl}",
    )
    return pick(rng, forms)


def _label_series(rng: np.random.Generator) -> str:
    se, im = int(rng.integers(1, 20)), int(rng.integers(1, 400))
    total = im + int(rng.integers(0, 200))
    forms = (
        f"Se {se} Im {im}",
        f"Se: {se}",
        f"Im: {im}/{total}",
        f"Se:{se} Im:{im}",
        f"Series {se}",
        f"Image {im} of {total}",
        f"IMA {im}",
        f"Frame {im}/{total}",
        f"Acq {se}",
    )
    return pick(rng, forms)


def _label_marker(rng: np.random.Generator) -> str:
    return pick(
        rng,
        (
            "R",
            "L",
            "R",
            "L",
            "A",
            "P",
            "H",
            "F",
            "AP",
            "PA",
            "LAT",
            "RT",
            "LT",
            "ERECT",
            "SUPINE",
            "PRONE",
            "PORTABLE",
            "Upright",
            "HFS",
            "FFS",
            "LAO 30",
            "RAO 30",
            "CRA 20",
            "CAU 15",
            "L LAT",
            "R OBL",
            "WB",
            "C+",
            "C-",
            "POST",
            "ANT",
        ),
    )


_PROBES = ("C5-1", "L12-5", "S5-1", "4C1", "L9", "C1-6")
_PRESETS = ("Abd", "Pelvis", "Vasc", "Card", "MSK", "OB", "Thyroid", "Renal")


def _label_us(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"Depth {int(rng.integers(2, 25))} cm",
        lambda: f"D {_num(rng, 2, 24, 1)}cm",
        lambda: f"{_num(rng, 1.5, 15, 1)} MHz",
        lambda: f"FR {int(rng.integers(8, 80))}Hz",
        lambda: f"Gain {int(rng.integers(-10, 100))}%",
        lambda: f"G {int(rng.integers(20, 80))}",
        lambda: f"DR {int(rng.integers(40, 90))}",
        lambda: f"MI {_num(rng, 0.1, 1.9, 1)}",
        lambda: f"TIs {_num(rng, 0.1, 2.0, 1)}",
        lambda: f"TIb {_num(rng, 0.1, 2.0, 1)}",
        lambda: f"PRF {_num(rng, 0.5, 12, 1)}kHz",
        lambda: f"WF {int(rng.integers(50, 400))}Hz",
        lambda: f"Angle {int(rng.integers(-70, 71))}",
        lambda: f"CF {_num(rng, 1.8, 8, 1)}MHz",
        lambda: f"HR {int(rng.integers(40, 180))} bpm",
        lambda: f"P {int(rng.integers(50, 100))}%",
        lambda: f"{pick(rng, _PROBES)} {pick(rng, _PRESETS)}",
        lambda: pick(rng, ("2D", "CF", "PW", "CW", "M-Mode", "THI", "Res", "Pen", "Gen")),
    )
    return _pick_call(rng, forms)


def _label_mr(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"TR {int(rng.integers(5, 6000))} TE {int(rng.integers(2, 120))}",
        lambda: f"TR: {_num(rng, 3, 5000, 1)}",
        lambda: f"TE: {_num(rng, 1, 120, 1)}",
        lambda: f"TI {int(rng.integers(100, 2500))}",
        lambda: f"FA {int(rng.integers(5, 180))}",
        lambda: f"NEX {pick(rng, ('1', '1.5', '2', '3', '4'))}",
        lambda: f"ETL {int(rng.integers(1, 32))}",
        lambda: f"B{pick(rng, ('0', '500', '800', '1000'))}",
        lambda: (
            f"{pick(rng, ('256', '320', '384', '512'))}x{pick(rng, ('192', '224', '256', '320'))}"
        ),
        lambda: f"FOV {int(rng.integers(10, 50))} cm",
        lambda: f"FOV {int(rng.integers(100, 500))}*{int(rng.integers(100, 500))}",
        lambda: f"BW {int(rng.integers(80, 800))}",
        lambda: pick(
            rng, ("T1", "T2", "FLAIR", "DWI", "ADC", "T1 SE", "T2 TSE", "STIR", "PD FS", "T1+C")
        ),
    )
    return _pick_call(rng, forms)


def _label_xr(rng: np.random.Generator) -> str:
    forms = (
        lambda: f"{int(rng.integers(50, 125))} kV",
        lambda: f"{_num(rng, 0.5, 40, 1)} mAs",
        lambda: f"EI {int(rng.integers(100, 2000))}",
        lambda: f"DI {_num(rng, -3, 3, 1)}",
        lambda: f"SID {int(rng.integers(100, 180))} cm",
        lambda: f"DAP {_num(rng, 0.1, 20, 2)} Gy*cm2",
        lambda: f"Grid {pick(rng, ('IN', 'OUT'))}",
        lambda: f"Zoom {int(rng.integers(50, 400))}%",
        lambda: f"Mag {_num(rng, 1, 4, 1)}x",
        lambda: f"{int(rng.integers(1, 30))} cm",
        lambda: f"Scale {pick(rng, ('1:1', '1:2', '2:1'))}",
    )
    return _pick_call(rng, forms)


def _pick_call(rng: np.random.Generator, forms: Sequence[Callable[[], str]]) -> str:
    return forms[int(rng.integers(len(forms)))]()


_LABEL_TEMPLATES: tuple[tuple[float, Callable[[np.random.Generator], str]], ...] = (
    (2.0, _label_ct),
    (1.5, _label_window),
    (1.5, _label_series),
    (1.2, _label_marker),
    (2.0, _label_us),
    (1.5, _label_mr),
    (1.2, _label_xr),
)


def label_line(rng: np.random.Generator) -> str:
    """One technical label of an acquisition overlay ("120 kVp", "W:400 L:40", "R", ...).

    Args:
        rng: The generator all randomness comes from.

    Returns:
        The label, using only characters of `PRINTED_CHARSET`.
    """
    return weighted(rng, _LABEL_TEMPLATES)
