"""A `medocr serve` node in its own process, with a stand-in finder, for the kill and stop tests.

    python tests/_serve_child.py OUT SECONDS

runs `run_serve` (SIGTERM and Ctrl-C handled as by `medocr serve`) on 127.0.0.1, any free port
(logged in OUT/.medocr/serve.log), with a finder that takes SECONDS per batch of frames and
finds nothing: the worker is then busy long enough for a test to kill or stop the node while
an acknowledged instance is being cleaned. No weights are loaded (Telea repaints).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from medocr_cli.pipeline.find_text import Finding
from medocr_cli.pipeline.scrub import RunModels
from medocr_cli.pipeline.serve import ServeConfig, run_serve


class SlowFinder:
    """Finds no text, slowly."""

    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def find(self, frames, indices):
        time.sleep(self.seconds)
        return [Finding(boxes=[]) for _ in frames]

    def search(self, frame, index):
        return []


class QuietDetector:
    """A detector stand-in for verify that finds no text (a seam: no model, no patching)."""

    def detect(self, frames, batch_size=8, frame_indices=None):
        return [[] for _ in frames]


def main() -> int:
    out, seconds = Path(sys.argv[1]), float(sys.argv[2])
    config = ServeConfig(output=out, port=0, host="127.0.0.1", report_every=0.0, drain_seconds=5)
    run_serve(config, models=RunModels(SlowFinder(seconds), "telea", None, QuietDetector()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
