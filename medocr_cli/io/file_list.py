r"""Input files read from a list (`scrub --files LIST`), one path a line, streamed.

An archive export of millions of files is easier to hand over as a list than as a folder tree
to walk. Each listed path is a lone input, taken as named (a symbolic link is followed); its
output goes to `OUT/<its path relative to --files-root>` when a root is given, else to
`OUT/<its file name>`. The list is read line by line, never whole, and each line becomes one
`InputFile` only when the walk asks for it.

Format: UTF-8, one path a line; surrounding whitespace is stripped (a list written on
Windows has `\r` at each line end); blank lines and lines starting with `#` are skipped;
relative paths are relative to the list's folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medocr_cli.errors import UsageError, printable
from medocr_cli.io.walk import InputFile


@dataclass(frozen=True)
class FileList:
    """A list file of input paths, and the folder their output paths are taken relative to.

    Attributes:
        path: The list file.
        root: Outputs mirror each file's path below this folder; None: outputs are
            `OUT/<file name>`, so two listed files with one name clash (refused, exit 2).
    """

    path: Path
    root: Path | None = None

    def _lines(self) -> Iterator[tuple[int, Path]]:
        """(line number, path) of every entry, relative ones joined to the list's folder.

        Raises:
            UsageError: The list cannot be opened or is not UTF-8 text.
        """
        base = self.path.parent
        try:
            with self.path.open(encoding="utf-8") as fh:
                for number, raw in enumerate(fh, start=1):
                    line = raw.strip()
                    if line and not line.startswith("#"):
                        yield number, base / line
        except UnicodeDecodeError:
            raise UsageError(
                "the file list is not UTF-8 text", hint="write one path a line", path=self.path
            ) from None
        except OSError as exc:
            raise UsageError(
                f"cannot read the file list: {exc.strerror}",
                hint="give a readable file",
                path=self.path,
            ) from None

    def _rel(self, number: int, path: Path) -> Path:
        """Where the entry's output goes below OUT.

        Raises:
            UsageError: With a root, the entry does not lie below it (compared lexically,
                symbolic links not followed: the root mirrors the paths as listed).
        """
        if self.root is None:
            return Path(path.name)
        root = os.path.normpath(os.path.abspath(self.root))
        rel = os.path.relpath(os.path.normpath(os.path.abspath(path)), root)
        if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise UsageError(
                f"line {number} of the file list names a path outside --files-root "
                f"{printable(self.root)}",
                hint="list only files below --files-root, or give a root that holds them all",
                path=self.path,
            )
        return Path(rel)

    def __iter__(self) -> Iterator[InputFile]:
        """Yield one input entry per listed path, in list order.

        A path that does not exist, cannot be read or is not a regular file (a folder, a
        FIFO: never opened) comes back skipped with the reason, as the folder walk reports
        such entries, so one stale line does not stop a long list.

        Raises:
            UsageError: The list is unreadable, or an entry lies outside the root.
        """
        for number, path in self._lines():
            rel = self._rel(number, path)
            try:
                mode = path.stat().st_mode
            except FileNotFoundError:
                yield InputFile(path, rel, False, "listed file not found")
                continue
            except OSError as exc:
                yield InputFile(path, rel, False, f"cannot read this entry: {exc.strerror}")
                continue
            if stat.S_ISREG(mode):
                yield InputFile(path, rel, True)
            elif stat.S_ISDIR(mode):
                yield InputFile(path, rel, False, "a folder (a file list names files)")
            else:
                yield InputFile(path, rel, False, "not a regular file")

    def folders(self) -> list[Path]:
        """The input folders a run from this list must keep OUT apart from.

        The root (or, without one, every folder holding a listed file as listed) and every
        folder holding a listed file with links followed: a few thousand for millions of
        files, found in one pass over the list. The run's overlap checks treat them as input
        folders: OUT may not lie in one nor hold one, and no output may resolve into one, so
        a listed link that leads into OUT is refused too.

        Raises:
            UsageError: The list cannot be read.
        """
        seen: set[Path] = set() if self.root is None else {self.root}
        for _, path in self._lines():
            if self.root is None:
                seen.add(path.parent)
            seen.add(path.resolve().parent)
        return sorted(seen)
