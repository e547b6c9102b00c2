"""Walking input folders: which files to process, which to skip, where each output goes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medocr_cli.errors import UsageError
from medocr_cli.io.formats import is_candidate

REPORT_NAME = "medocr-report.jsonl"


@dataclass(frozen=True, slots=True)
class InputFile:
    """One file found under an input root.

    Attributes:
        path: The file itself.
        rel: Its path relative to the root it was found under (the file name for a lone file).
        candidate: True when it looks like an image; False for files a folder run skips.
    """

    path: Path
    rel: Path
    candidate: bool


def walk_inputs(inputs: list[Path]) -> Iterator[InputFile]:
    """Yield every file under `inputs`, recursively and in sorted order.

    Hidden files and folders (names starting with a dot) and medocr's own temporary files are
    passed over. A path that does not exist raises a usage error before anything is processed.
    """
    for root in inputs:
        if not root.exists():
            raise UsageError(f"{root}: no such file or folder")
    for root in inputs:
        if root.is_file():
            yield InputFile(root, Path(root.name), True)
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            yield InputFile(path, rel, is_candidate(path))


def check_output_root(inputs: list[Path], out: Path) -> None:
    """Refuse an output folder that is an input, lies inside one, or is a file.

    Writing into the input tree would mix cleaned and original files and, on a rerun, feed
    outputs back in as inputs.
    """
    out_r = out.resolve()
    for root in inputs:
        root_r = root.resolve()
        base = root_r if root_r.is_dir() else root_r.parent
        if root_r.is_dir() and (out_r == base or base in out_r.parents):
            raise UsageError(
                f"output folder {out} is inside input {root}",
                hint="choose an output folder outside the input tree",
            )
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a folder")
