"""`run_extract`: text boxes for every frame of every input, from the printed-text extractor."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medocr_cli.errors import MedocrError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import walk_inputs
from medocr_cli.stages.printed import PrintedConfig, check_tesseract, read_printed
from medocr_cli.types import Box


@dataclass
class ExtractResult:
    """Boxes found in one file (or the reason it could not be read)."""

    path: Path
    boxes: list[Box] = field(default_factory=list)
    label: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the `extract --json` shape."""
        out: dict[str, Any] = {
            "path": str(self.path),
            "label": self.label,
            "boxes": [b.to_json() for b in self.boxes],
        }
        if self.error:
            out["error"] = self.error
        return out


def run_extract(inputs: list[Path], config: PrintedConfig | None = None) -> list[ExtractResult]:
    """Read printed text from every image file under `inputs` (non-images are passed over)."""
    check_tesseract()
    results = []
    for item in walk_inputs(inputs):
        if not item.candidate:
            continue
        result = ExtractResult(item.path)
        try:
            scan = read_scan(item.path)
            for index in range(scan.n_frames):
                result.boxes.extend(read_printed(scan.display(index), index, config))
            result.label = "P" if result.boxes else "None"
        except MedocrError as exc:
            result.error = exc.one_line()
        results.append(result)
    return results
