"""Atomic file writes: a reader never sees a half-written output, a crash leaves no partial file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from medocr_cli.errors import OutputError


@contextlib.contextmanager
def atomic_path(target: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds.

    The temporary file lives in the same folder so the final `os.replace` is atomic on POSIX.
    On any exception the temporary file is removed and the target is left as it was. With
    `durable` the data is flushed to disk before the rename (cleaned scans); without it the
    rename is still atomic but a power cut may lose it (generated data, cheap to remake).

    Raises:
        OutputError: The folder cannot be created or the disk is full.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".medocr-tmp", dir=target.parent
        )
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot create a file here: {exc.strerror}", path=target) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        hint = "free some disk space" if exc.errno == errno.ENOSPC else ""
        raise OutputError(
            f"cannot write output: {exc.strerror or exc}", hint=hint, path=target
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: Path, text: str) -> None:
    """Write UTF-8 `text` to `target` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))
