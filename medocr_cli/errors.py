"""The one exception tree of medocr.

Every error a user can cause or meet carries a message that names the file (when there is one) and
a hint that says what to do about it, so the CLI can print a single clear line and pick the exit
code from the class alone.
"""

from __future__ import annotations

from pathlib import Path


class MedocrError(Exception):
    """Base of every error medocr raises on purpose.

    Attributes:
        message: What went wrong, in one line.
        hint: What the user can do about it; empty when there is nothing to suggest.
        path: The file the error is about, if any.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "", path: Path | str | None = None) -> None:
        self.message = message
        self.hint = hint
        self.path = Path(path) if path is not None else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return `path: message (hint)` as one line, fit for a log or a report."""
        text = f"{self.path}: {self.message}" if self.path is not None else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return " ".join(text.split())


class InputFileError(MedocrError):
    """An input file cannot be read or decoded (empty, truncated, not an image, no pixel data)."""


class UnsupportedError(MedocrError):
    """An input is valid but uses something medocr cannot handle (a codec, a pixel layout)."""


class OutputError(MedocrError):
    """An output cannot be written (disk full, permissions, would overwrite without --overwrite)."""


class UsageError(MedocrError):
    """The command line asks for something impossible; the CLI exits with 2."""

    exit_code = 2


class NotBuiltError(UsageError):
    """The requested stage exists in the design but has not been built yet."""


class ToolMissingError(MedocrError):
    """An external tool medocr needs (Tesseract) is not installed."""

    exit_code = 2
