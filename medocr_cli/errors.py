"""The one exception tree of medocr.

Every error a user can cause or meet carries a message that names the file (when there is one) and
a hint that says what to do about it, so the CLI can print a single clear line and pick the exit
code from the class alone.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

#: The package whose frames `unexpected_error_line` points at.
_PACKAGE = "medocr_cli"


def printable(text: object) -> str:
    r"""Return `text` with every control or other non-printable character escaped visibly.

    A file name may hold a terminal escape sequence or a newline; printed raw it would rewrite
    the terminal or break a one-line log. Each such character becomes its repr-style escape
    (`\x1b`, `\n`, `\u202e`, and `\udcff` for an undecodable byte of a POSIX name); spaces
    and printable non-ASCII letters stay as they are.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def error_origin(exc: BaseException) -> str:
    """Name what `exc` is and where it was raised, never what it says.

    The text of an exception from pydicom, NumPy, Pillow or `int()` can quote a header value
    or a piece of recognised text, which are patient data; its type and the module and line
    that raised it are not. Returns e.g. `ValueError in pydicom.valuerep:1367`.
    """
    where = _frames(exc.__traceback__)
    site = f" in {where[-1]}" if where else ""
    return f"{type(exc).__name__}{site}"


def unexpected_error_line(path: Path | str, exc: BaseException) -> str:
    """The one report line of an unexpected exception on `path`, without the exception's text.

    Names the exception type, the innermost frame of medocr's own code it passed through and,
    when that is not where it was raised, the module that raised it: e.g. `a.dcm: unexpected
    error ValueError at medocr_cli.io.dicom:84 (raised in pydicom.valuerep:1367)`.
    """
    where = _frames(exc.__traceback__)
    ours = [f for f in where if f.split(":")[0] == _PACKAGE or f.startswith(_PACKAGE + ".")]
    text = f"{printable(path)}: unexpected error {type(exc).__name__}"
    if ours:
        text += f" at {ours[-1]}"
    if where and (not ours or where[-1] != ours[-1]):
        text += f" (raised in {where[-1]})"
    return text


def _frames(tb: TracebackType | None) -> list[str]:
    """`module:line` of every frame of a traceback, outermost first."""
    out = []
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "?")
        out.append(f"{module}:{tb.tb_lineno}")
        tb = tb.tb_next
    return out


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
        """Return `path: message (hint)` as one line, fit for a log or a report.

        Whitespace runs in the message and hint become one space; control characters left
        (and any in the path, which is kept exactly otherwise) are escaped (see `printable`).
        """
        text = self.message + (f" (hint: {self.hint})" if self.hint else "")
        text = printable(" ".join(text.split()))
        return f"{printable(self.path)}: {text}" if self.path is not None else text


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
    """The weights a stage needs are not there (or the stage has not been built yet)."""


class WeightsError(UsageError):
    """A weights file that cannot be used: unreadable, another family's, or an invalid spec.

    A usage error (exit 2): the fix is to point `--weights` at the right file or folder.
    """


class ToolMissingError(MedocrError):
    """An external tool medocr needs (Tesseract) is not installed."""

    exit_code = 2


class ClusterError(MedocrError):
    """The Dask cluster of a `--cluster` run was lost while files were in flight."""
