"""Shared by the scrub benchmarks: scrub one folder with a configuration, time it, tabulate it.

Each report line of `run_scrub` carries its per-step seconds (`stage_seconds`); this sums them
per file and per run, so benchmarks report the same figures the same way. No recognised text is
kept: only counts, statuses and seconds.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub
from medocr_cli.types import Status


def copy_pydicom_data(dest: Path, only: Sequence[str] | None = None) -> Path:
    """Copy the files of the `pydicom-data` package (or those named in `only`) into `dest`."""
    import data_store

    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted((Path(data_store.__file__).parent / "data").rglob("*")):
        if path.is_file() and (not only or path.name in only):
            shutil.copy(path, dest / path.name)
    return dest


def _field(result: Any, name: str) -> Any:
    """A report-line field, from a typed line or (older checkouts, for --baseline) its `extra`."""
    extra = getattr(result, "extra", None)
    return extra.get(name) if isinstance(extra, dict) else getattr(result, name, None)


def scrub_folder(src: Path, out: Path, **options: Any) -> dict:
    """Scrub `src` into `out` with `options` (ScrubConfig fields); return figures and file rows.

    Returns:
        A dict with `files`, `frames`, `counts`, `flagged`, `flagged_pct`, `seconds`,
        `seconds_per_image`, `frames_per_s`, `stage_seconds` (summed over files) and `rows`
        (one per file: name, status, frames, boxes, repaired, residual, seconds, stage_seconds,
        error of a failed file).
    """
    t0 = time.perf_counter()
    summary = run_scrub(ScrubConfig(inputs=[src], output=out, overwrite=True, **options))
    seconds = time.perf_counter() - t0
    rows = []
    stages: dict[str, float] = {}
    images = [r for r in summary.results if r.status != Status.SKIPPED]
    for r in images:
        stage = {k: float(v) for k, v in (_field(r, "stage_seconds") or {}).items()}
        for key, value in stage.items():
            stages[key] = stages.get(key, 0.0) + value
        rows.append(
            {
                "file": Path(r.path).name,
                "status": str(r.status),
                "frames": r.frames,
                "boxes": r.boxes,
                "repaired": int(_field(r, "repaired") or 0),
                "residual": int(_field(r, "residual") or 0),
                "seconds": round(r.seconds, 2),
                "stage_seconds": {k: round(v, 3) for k, v in sorted(stage.items())},
                "error": r.error if r.status == Status.FAILED else None,
            }
        )
    frames = sum(r.frames for r in images)
    flagged = sum(1 for r in images if r.status == Status.FLAGGED)
    return {
        "files": len(images),
        "frames": frames,
        "counts": dict(summary.counts),
        "flagged": flagged,
        "flagged_pct": round(100.0 * flagged / max(1, len(images)), 2),
        "seconds": round(seconds, 1),
        "seconds_per_image": round(seconds / max(1, len(images)), 3),
        "frames_per_s": round(frames / seconds, 2) if seconds else None,
        "stage_seconds": {k: round(v, 2) for k, v in sorted(stages.items())},
        "rows": rows,
    }
