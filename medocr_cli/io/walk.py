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


def real_path(path: Path) -> Path:
    """`path` absolute with every symbolic link resolved; never raises (loops stay unresolved).

    `Path.resolve()` of Python 3.11 raises RuntimeError on a link loop; `os.path.realpath`
    stops there instead, so a loop is reported by whoever tries to open the path.
    """
    return Path(os.path.realpath(path))


def entry_key(path: Path) -> str:
    """The identity of the entry at `path`: its folder's real path joined to its own name.

    The folders' links are resolved, the last name's is not: `in/x.png` and `$PWD/in/x.png`
    are one entry (one journal and report line), while a file link beside its target is an
    entry of its own (its own output path). Two walks that reach one entry give the same key.
    """
    path = Path(os.path.abspath(path))
    return os.path.join(os.path.realpath(path.parent), path.name)


def link_trouble(path: Path) -> str | None:
    """Why the symbolic link at `path` (or one of its folders) cannot be followed, if it cannot."""
    if not os.path.lexists(path) or path.exists():
        return None
    try:
        os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
    return "a dangling symbolic link (its target does not exist)"


def _skipped(path: Path, rel: Path, reason: str) -> InputFile:
    return InputFile(path, rel, False, reason)


#: Reason given for an entry whose real path lies in the output folder.
INTO_OUTPUT = "link into the output folder (not followed: outputs are never inputs)"


def _walk_folder(
    folder: Path,
    rel: Path,
    root_real: Path,
    chain: tuple[Path, ...],
    follow_links: bool,
    out_real: Path | None,
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
                if out_real is not None and _inside(real, out_real):
                    yield _skipped(path, sub, INTO_OUTPUT)
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
            yield from _walk_folder(
                path, sub, root_real, (*chain, real_dir), follow_links, out_real
            )
        elif stat.S_ISREG(mode):
            yield InputFile(path, sub, is_candidate(path))
        else:
            kind = _special_kind(mode) or "not a regular file"
            yield _skipped(path, sub, f"{kind}, not a regular file")


def check_input_roots(inputs: list[Path]) -> None:
    """Refuse inputs that are missing, unfollowable links, given twice or inside one another.

    An input inside another (links followed) would be walked twice: its files cleaned twice
    into two output paths under one report line.

    Raises:
        UsageError: Naming the input and, for nesting, the one that holds it.
    """
    for root in inputs:
        if not root.exists():
            raise UsageError(f"{root}: {link_trouble(root) or 'no such file or folder'}")
    reals = [real_path(r) for r in inputs]
    for i, (root, real) in enumerate(zip(inputs, reals, strict=True)):
        for j, (other, other_real) in enumerate(zip(inputs, reals, strict=True)):
            if i == j or not (other_real.is_dir() and _inside(real, other_real)):
                continue
            if real == other_real and i > j:
                raise UsageError(
                    f"input {root} is given twice (also as {other})", hint="give each input once"
                )
            if real != other_real:
                raise UsageError(
                    f"input {root} lies inside input {other}",
                    hint="give only the outer folder (its files would be cleaned twice)",
                )


def check_unique(items: list[InputFile]) -> None:
    """Refuse a run that reaches one entry twice (through a folder link, or nested inputs).

    Raises:
        UsageError: Naming both paths the entry was reached by.
    """
    seen: dict[str, Path] = {}
    for item in items:
        key = entry_key(item.path)
        if key in seen:
            raise UsageError(
                f"{item.path} and {seen[key]} are the same file, reached twice",
                hint="remove the folder link that leads back into the inputs, or give the "
                "folder once",
            )
        seen[key] = item.path


def walk_inputs(
    inputs: list[Path], *, follow_links: bool = False, output: Path | None = None
) -> Iterator[InputFile]:
    """Yield every entry under `inputs`, recursively and in sorted order.

    Hidden files and folders (names starting with a dot, medocr's own temporary files among
    them) are passed over. Entries that cannot be processed are yielded as skipped with a
    reason: dangling links, link loops, FIFOs, sockets, devices, unlistable folders,
    symbolic links that lead outside their input folder unless `follow_links`, and links
    whose real path lies in `output` (followed or not: an output is never an input). A lone
    file given on the command line is taken as it is (a link there is followed: it was named).
    Missing inputs, inputs given twice or inside one another raise a usage error before
    anything is yielded.
    """
    check_input_roots(inputs)
    out_real = real_path(output) if output is not None else None
    for root in inputs:
        mode = root.stat().st_mode
        if stat.S_ISDIR(mode):
            real = real_path(root)
            yield from _walk_folder(root, Path(), real, (real,), follow_links, out_real)
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
    OUT (or a folder above it) may not be a dangling or looping symbolic link.

    Raises:
        UsageError: The two overlap, OUT exists and is not a folder, or it is a broken link.
    """
    for place in (out, *out.parents):
        if os.path.lexists(place):
            trouble = link_trouble(place)
            if trouble is not None:
                raise UsageError(
                    f"output folder {out}: {place} is {trouble}",
                    hint="remove the link or choose another output folder",
                )
            break
    out_r = real_path(out)
    for root in inputs:
        root_r = real_path(root)
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


def _blocked(target: Path, out: Path, checked: dict[Path, str]) -> str | None:
    """Why no file can be created at `target` below `out`, or None.

    A folder on the way may be a file, a dangling link or a link loop. `checked` caches each
    folder's answer: "" for a folder, "-" for one not there yet (created on the way), else
    the trouble.
    """
    try:
        rel = target.parent.relative_to(out)
    except ValueError:
        return None
    place = out
    for part in rel.parts:
        place = place / part
        if place not in checked:
            trouble = link_trouble(place)
            if not os.path.lexists(place):
                checked[place] = "-"
            elif trouble is None and not place.is_dir():
                checked[place] = f"{place} is a file, not a folder"
            else:
                checked[place] = f"{place} is {trouble}" if trouble else ""
        if checked[place] == "-":
            return None
        if checked[place]:
            return checked[place]
    return None


def check_targets(
    items: list[tuple[InputFile, list[Path]]], inputs: list[Path], output: Path | None = None
) -> None:
    """Refuse a run where two inputs share a path, or a path cannot or must not be written.

    `items` pairs each input to be cleaned with every path the run may write for it (the
    output and, under `--strict`, its quarantine place); no path may belong to two inputs
    (an input folder named `_quarantine` would otherwise share a path with a flagged file's
    quarantine place). Paths are compared resolved, so a symbolic link inside OUT that leads
    into an input folder is caught before anything is written. With `output`, a folder on
    the way to a path that is a file, a dangling link or a link loop is refused too (every
    file of that folder would fail).

    Raises:
        UsageError: Naming the two inputs of a shared path, the output and the input, or
            what stands in the way.
    """
    roots = [real_path(r) for r in inputs]
    folders = [r for r in roots if r.is_dir()]
    files = {r for r in roots if not r.is_dir()}
    owner: dict[str, Path] = {}
    checked: dict[Path, str] = {}
    for item, targets in items:
        for target in targets:
            key = entry_key(target)
            if owner.get(key, item.path) != item.path:
                raise UsageError(
                    f"inputs {owner[key]} and {item.path} would both be written to {target}",
                    hint="scrub them into separate output folders, or name their parent folder",
                )
            owner[key] = item.path
            real = real_path(target)
            if real in files or any(_inside(real, f) for f in folders):
                raise UsageError(
                    f"output {target} resolves into the inputs (at {real})",
                    hint="remove the symbolic link from the output folder, or choose another",
                )
            why = _blocked(target, output, checked) if output is not None else None
            if why is not None:
                raise UsageError(
                    f"cannot write {target}: {why}",
                    hint="move it out of the output folder, or choose another output folder",
                )
