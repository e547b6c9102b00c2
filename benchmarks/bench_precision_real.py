"""Precision on real scans (issue 22): what `scrub` changes on real files that carry no text.

    python benchmarks/bench_precision_real.py [--work DIR] [--find learned|tesseract]

Scrubs, with default options (verify on, flagged files kept in place so they can be compared),
a set of real pydicom / pydicom-data scans chosen by looking at them, and prints one JSON object:

- **text-free set** (`TEXT_FREE`, 12 files, none of them used for training or tuning): per file
  the share of stored pixel values that changed, boxes removed and kept as non-text, status.
  The target: no stored value changes in at least nine.
- **US1_UNCR.dcm** (ultrasound with power-Doppler flow and burned-in text): the colour-flow
  pixels (chroma >= 40 inside the two Doppler boxes) outside the hand-drawn text boxes
  (`US1_TEXT`) that changed (target 0), the share of the whole frame that changed, and each
  burned-in line still readable by Tesseract (both polarities, upscaled; target none).
- the seconds of the run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: Real scans without burned-in text (looked at one by one; RG3 carries a lead "R" marker and
#: the mlut/vlut files are test patterns with labels, so they are not here).
TEXT_FREE = {
    "693_UNCR.dcm": "CT head",
    "bad_sequence.dcm": "CT spine",
    "CT_small.dcm": "CT (pydicom)",
    "eCT_Supplemental.dcm": "CT perfusion map, 2 frames",
    "MR2_UNCR.dcm": "MR shoulder",
    "MR-SIEMENS-DICOM-WithOverlays.dcm": "MR abdomen (overlay planes, no burned-in text)",
    "emri_small.dcm": "MR, 10 frames",
    "MR_small.dcm": "MR (pydicom)",
    "JPEG2000_UNC.dcm": "NM whole body",
    "RG1_UNCR.dcm": "CR chest",
    "color-px.dcm": "US colour Doppler, no overlay text",
    "liver.dcm": "SEG, 3 frames",
}
#: The burned-in text of US1_UNCR.dcm (x0, y0, x1, y1), drawn by hand from the image.
US1_TEXT = [
    (16, 22, 172, 106),  # BAPTIST MED CTR / 630P630 / 78F78 / 44CG43 / IM#2
    (272, 20, 366, 56),  # GE logo, +2:09:04
    (492, 20, 628, 106),  # 3cm3cm M12L / MSCSKEL / CINE 0118 / 22G22 / 78DR78
    (4, 134, 46, 156),  # PWR (left, top)
    (4, 212, 46, 234),  # PWR (left, bottom)
    (594, 134, 636, 156),  # PWR (right, top)
    (594, 212, 636, 234),  # PWR (right, bottom)
    (244, 356, 364, 380),  # LYMPH NODE
    (394, 450, 624, 476),  # TIS<0.4 MI=0.8 AO=100%
]
#: The two power-Doppler boxes of US1_UNCR.dcm (x0, y0, x1, y1).
US1_FLOW_BOXES = [(87, 148, 318, 296), (318, 148, 548, 296)]


def source(name: str) -> Path:
    """Return the path of a pydicom or pydicom-data file."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        raise SystemExit(f"{name}: not found in pydicom or pydicom-data")
    return Path(path)


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Return the pixels (rows x cols) whose stored value changed in any sample."""
    diff = before != after
    return diff.any(axis=-1) if diff.ndim == 3 else diff


def us1_check(src: Path, out: Path) -> dict[str, object]:
    """Measure the colour flow kept and the text removed on US1_UNCR.dcm."""
    import cv2

    from medocr_cli.io import read_scan
    from medocr_cli.stages.printed import tesseract_data

    before, after = read_scan(src).frames[0], read_scan(out).frames[0]
    moved = changed(before, after)
    chroma = before.max(axis=2).astype(int) - before.min(axis=2).astype(int)
    flow = np.zeros(moved.shape, bool)
    for x0, y0, x1, y1 in US1_FLOW_BOXES:
        flow[y0:y1, x0:x1] = chroma[y0:y1, x0:x1] >= 40
    text = np.zeros(moved.shape, bool)
    for x0, y0, x1, y1 in US1_TEXT:
        text[y0:y1, x0:x1] = True
    readable = 0
    grey = cv2.cvtColor(after, cv2.COLOR_RGB2GRAY)
    for x0, y0, x1, y1 in US1_TEXT:
        crop = cv2.resize(grey[y0:y1, x0:x1], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        words = set()
        for shown in (crop, 255 - crop):
            data = tesseract_data(
                cv2.copyMakeBorder(shown, 20, 20, 20, 20, cv2.BORDER_REPLICATE), 6
            )
            words |= {
                w.strip()
                for w, c in zip(data["text"], data["conf"], strict=True)
                if len(w.strip()) >= 3 and float(c) >= 60 and any(ch.isalnum() for ch in w)
            }
        readable += bool(words)
    return {
        "flow_pixels": int(flow.sum()),
        "flow_changed_outside_text": int((moved & flow & ~text).sum()),
        "changed_outside_text_pct": round(100 * float((moved & ~text).mean()), 3),
        "changed_pct": round(100 * float(moved.mean()), 3),
        "text_regions_still_readable": readable,
        "text_regions": len(US1_TEXT),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--find", default="learned", choices=("learned", "tesseract"))
    args = ap.parse_args()
    from medocr_cli.io import read_scan
    from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub

    work = args.work or Path(tempfile.mkdtemp(prefix="medocr-precision-"))
    src, out = work / "in", work / "out"
    shutil.rmtree(work / "in", ignore_errors=True)
    src.mkdir(parents=True)
    for name in [*TEXT_FREE, "US1_UNCR.dcm"]:
        shutil.copy2(source(name), src / name)
    t0 = time.perf_counter()
    run_scrub(ScrubConfig(inputs=[src], output=out, overwrite=True, flagged="keep", find=args.find))
    seconds = time.perf_counter() - t0
    lines = {
        Path(x["path"]).name: x
        for x in map(json.loads, (out / "medocr-report.jsonl").read_text().splitlines())
    }
    rows: dict[str, dict[str, object]] = {}
    for name, what in TEXT_FREE.items():
        line = lines[name]
        row: dict[str, object] = {"what": what, "status": line["status"]}
        if line.get("output"):
            before, after = read_scan(src / name).frames, read_scan(Path(line["output"])).frames
            moved = np.mean([changed(b, a).mean() for b, a in zip(before, after, strict=True)])
            row["changed_pct"] = round(100 * float(moved), 3)
        row["boxes"] = line.get("boxes")
        row["kept_as_non_text"] = line.get("kept_non_text", 0)
        rows[name] = row
    untouched = sum(1 for r in rows.values() if r.get("changed_pct") == 0)
    us1 = lines["US1_UNCR.dcm"]
    report = {
        "text_free": rows,
        "text_free_untouched": f"{untouched} of {len(rows)}",
        "US1_UNCR": {
            "status": us1["status"],
            **(us1_check(src / "US1_UNCR.dcm", Path(us1["output"])) if us1.get("output") else {}),
        },
        "seconds": round(seconds, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
