"""`medocr scrub`: the pipeline over folder trees (find -> mask -> repaint -> write -> verify).

For every input file and every frame: read, find the text (by default the learned finder of
`pipeline/find_text.py`: detector on every frame, classifier as the safety net, Tesseract around
detected lines of printed frames; or the classical whole-frame Tesseract pass), mask it (narrowed
to the strokes with the detector's text map), repaint the stored values (the learned inpainter,
or OpenCV Telea / Navier-Stokes), write the same format atomically into the mirrored output
tree, read the output back and search it again (verify), and record one report line. One bad
file never stops the run (unless asked), and a file that could not be cleaned is never written.

Frames whose display rendering is byte-identical to an earlier frame of the same file (still
ultrasound cine loops) reuse that frame's mask instead of being searched again; each frame's
own stored values are still repainted. `resume` skips inputs a previous run already finished.

Modules, each importing only those listed before it:

- `journal`: the append-only journal under OUT, the report derived from it, the run's lock;
- `verify`: the full search of a written output;
- `cluster_address`: parsing and checking `--cluster`;
- `config`: `ScrubConfig`, the option checks, the header step;
- `models`: `RunModels` (also the seam for test doubles) and `load_run_models`;
- `engine`: one file: `clean_frames`, `scrub_file`, the verify-and-repair step;
- `workers`, `cluster`: `scrub_file` in worker processes or on a Dask cluster;
- `run`: `run_scrub`: planning, dispatch, journaling, the report.

The names below are loaded on first use, so importing one module of the package (the journal,
for `release` and `serve`; `cluster`, on a Dask worker before torch) does not import the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medocr_cli.pipeline.scrub.config import (
        FLAGGED_MODES,
        HEADER_MODES,
        ScrubConfig,
        check_options,
        header_step,
        quarantine_path,
    )
    from medocr_cli.pipeline.scrub.engine import clean_frames, scrub_file
    from medocr_cli.pipeline.scrub.models import RunModels, load_run_models
    from medocr_cli.pipeline.scrub.run import (
        Job,
        ScrubOne,
        ScrubSummary,
        plan_jobs,
        resumed_result,
        run_scrub,
    )

#: Exported name -> the module of this package that defines it.
_EXPORTS = {
    "FLAGGED_MODES": "config",
    "HEADER_MODES": "config",
    "ScrubConfig": "config",
    "check_options": "config",
    "header_step": "config",
    "quarantine_path": "config",
    "RunModels": "models",
    "load_run_models": "models",
    "clean_frames": "engine",
    "scrub_file": "engine",
    "Job": "run",
    "ScrubOne": "run",
    "ScrubSummary": "run",
    "plan_jobs": "run",
    "resumed_result": "run",
    "run_scrub": "run",
}

__all__ = [
    "FLAGGED_MODES",
    "HEADER_MODES",
    "Job",
    "RunModels",
    "ScrubConfig",
    "ScrubOne",
    "ScrubSummary",
    "check_options",
    "clean_frames",
    "header_step",
    "load_run_models",
    "plan_jobs",
    "quarantine_path",
    "resumed_result",
    "run_scrub",
    "scrub_file",
]


def __getattr__(name: str) -> Any:
    """Load an exported name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
