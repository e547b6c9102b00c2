"""An exclusive, process-lifetime lock on a file (flock): one holder at a time, gone on any exit."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class LockBusyError(Exception):
    """Another process holds the lock."""


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created 0600 if missing) for the block.

    The kernel drops the lock when the process ends, however it ends, so a killed holder never
    leaves a stale lock behind.

    Raises:
        OSError: The lock file cannot be created or opened.
        LockBusyError: Another process holds the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise LockBusyError(str(path)) from exc
        yield
    finally:
        os.close(fd)  # closing releases the lock
