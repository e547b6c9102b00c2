"""Walking input folders: which files to process, which to skip, where each output goes.

The walk never follows a symbolic link out of the input folder unless asked, never opens a
FIFO, socket or device (opening a FIFO blocks forever), and never loops: such entries come
back as skipped, with the reason, so the report accounts for every entry of the tree.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medocr_cli.errors import UsageError
from medocr_cli.io.formats import is_candidate

REPORT_NAME = "medocr-report.jsonl"


@dataclass(frozen=True, slots=True)
class InputFile:
    """One entry found under an input root.

    Attributes:
        path: The file itself.
        rel: Its path relative to the root it was found under (the file name for a lone file).
        candidate: True when it looks like an image; False for entries a folder run skips.
        reason: Why a non-candidate is skipped, when it is something other than "not an
            image file" (a dangling or looping link, a link out of the input, a FIFO, ...).
    """

    path: Path
    rel: Path
    candidate: bool
    reason: str | None = None

    @property
    def skip_reason(self) -> str:
        """The one-line reason a folder run skips this entry."""
        return self.reason or "not an image file"


def _special_kind(mode: int) -> str | None:
    """The name of a non-regular, non-folder file type, or None for files and folders."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return None


def _resolve_link(path: Path) -> tuple[Path | None, str | None]:
    """Where a symbolic link leads, or None and why it cannot be followed."""
    try:
        return path.resolve(strict=True), None
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return None, "symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "symbolic link loop"
        return None, "dangling symbolic link (its target does not exist)"


def _skipped(path: Path, rel: Path, reason: str) -> InputFile:
    return InputFile(path, rel, False, reason)


def _walk_folder(
    folder: Path, rel: Path, root_real: Path, chain: tuple[Path, ...], follow_links: bool
) -> Iterator[InputFile]:
    """Yield the entries under `folder` (whose real path ends `chain`), sorted by name."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield _skipped(folder, rel, f"cannot list this folder: {exc.strerror}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue  # hidden files and folders, medocr's own temporary files
        path, sub = folder / entry.name, rel / entry.name
        try:
            if entry.is_symlink():
                real, why = _resolve_link(path)
                if real is None:
                    yield _skipped(path, sub, why or "unreadable symbolic link")
                    continue
                if not follow_links and not real.is_relative_to(root_real):
                    yield _skipped(
                        path,
                        sub,
                        "symbolic link leading outside the input folder "
                        "(not followed; --follow-links follows it)",
                    )
                    continue
                mode = real.stat().st_mode
            else:
                real, mode = None, entry.stat(follow_symlinks=False).st_mode
        except OSError as exc:
            yield _skipped(path, sub, f"cannot read this entry: {exc.strerror}")
            continue
        if stat.S_ISDIR(mode):
            real_dir = real if real is not None else Path(chain[-1], entry.name)
            if real_dir in chain:
                yield _skipped(path, sub, "symbolic link loop (leads to a folder above it)")
                continue
            yield from _walk_folder(path, sub, root_real, (*chain, real_dir), follow_links)
        elif stat.S_ISREG(mode):
            yield InputFile(path, sub, is_candidate(path))
        else:
            kind = _special_kind(mode) or "not a regular file"
            yield _skipped(path, sub, f"{kind}, not a regular file")


def walk_inputs(inputs: list[Path], *, follow_links: bool = False) -> Iterator[InputFile]:
    """Yield every entry under `inputs`, recursively and in sorted order.

    Hidden files and folders (names starting with a dot, medocr's own temporary files among
    them) are passed over. Entries that cannot be processed are yielded as skipped with a
    reason: dangling links, link loops, FIFOs, sockets, devices, unlistable folders, and
    symbolic links that lead outside their input folder unless `follow_links`. A lone file
    given on the command line is taken as it is (a link there is followed: it was named).
    A path that does not exist raises a usage error before anything is processed.
    """
    for root in inputs:
        if not root.exists():
            raise UsageError(f"{root}: no such file or folder")
    for root in inputs:
        mode = root.stat().st_mode
        if stat.S_ISDIR(mode):
            real = root.resolve()
            yield from _walk_folder(root, Path(), real, (real,), follow_links)
        elif stat.S_ISREG(mode):
            yield InputFile(root, Path(root.name), True)
        else:
            kind = _special_kind(mode) or "not a regular file"
            yield _skipped(root, Path(root.name), f"{kind}, not a regular file")


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies below it (both resolved)."""
    return path == folder or folder in path.parents


def check_output_root(inputs: list[Path], out: Path) -> None:
    """Refuse an output folder that overlaps an input in either direction, or is a file.

    OUT may not be an input folder, lie inside one, or hold an input (folder or file), all
    with symbolic links followed: writing into the input tree would mix cleaned and original
    files, replace inputs with `--overwrite`, and on a rerun feed outputs back in as inputs.

    Raises:
        UsageError: The two overlap, or OUT exists and is not a folder.
    """
    out_r = out.resolve()
    for root in inputs:
        root_r = root.resolve()
        if root_r.is_dir() and _inside(out_r, root_r):
            raise UsageError(
                f"output folder {out} is inside input {root}",
                hint="choose an output folder outside the input tree",
            )
        if _inside(root_r, out_r):
            raise UsageError(
                f"input {root} is inside output folder {out}",
                hint="choose an output folder that holds none of the inputs",
            )
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a folder")


def check_targets(items: list[tuple[InputFile, list[Path]]], inputs: list[Path]) -> None:
    """Refuse a run where two inputs share an output path or an output resolves into an input.

    `items` pairs each input to be cleaned with every path the run may write for it (the
    output and its quarantine place). Paths are compared resolved, so a symbolic link inside
    OUT that leads into an input folder is caught before anything is written.

    Raises:
        UsageError: Naming the two inputs of a shared output, or the output and the input.
    """
    roots = [r.resolve() for r in inputs]
    folders = [r for r in roots if r.is_dir()]
    files = {r for r in roots if not r.is_dir()}
    owner: dict[Path, Path] = {}
    for item, targets in items:
        first = targets[0]
        if first in owner:
            raise UsageError(
                f"inputs {owner[first]} and {item.path} would both be written to {first}",
                hint="scrub them into separate output folders, or name their parent folder",
            )
        owner[first] = item.path
        for target in targets:
            real = target.resolve()
            if real in files or any(_inside(real, f) for f in folders):
                raise UsageError(
                    f"output {target} resolves into the inputs (at {real})",
                    hint="remove the symbolic link from the output folder, or choose another",
                )
