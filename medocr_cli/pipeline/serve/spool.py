"""The spool: received instances on disk, each durable before the sender is told it was stored.

An instance is written as received (no decoding, compressed data kept as it came) to a hidden
part file, fsynced, renamed to its spool name and the folder fsynced; only then does the C-STORE
handler answer success. A crash at any point therefore either loses an instance that was never
acknowledged (the sender still holds it and sends it again) or keeps it whole in the spool, where
the next start finds it. Part files a crash left are removed at start.

Spool names are the arrival time in nanoseconds and a random tag (`00001718000000000000-1a2b3c4d
.dcm`): sortable by arrival, unique, and free of anything from the header. Instances that cannot
be cleaned (undecodable) are moved aside into `failed/` below the spool, for an administrator.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from medocr_cli.errors import OutputError, UsageError
from medocr_cli.io.locks import LockBusyError, exclusive_lock

#: Below the spool: received instances the engine could not clean (they hold patient data).
FAILED_DIR = "failed"
LOCK_NAME = ".lock"
_NAME = re.compile(r"^[0-9]{20}-[0-9a-f]{8}\.dcm$")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_spool_name(name: str) -> bool:
    """True for the name of a spooled instance (not a part file, not a folder)."""
    return bool(_NAME.match(name))


def _hint(exc: OSError) -> str:
    return "free some disk space" if exc.errno == errno.ENOSPC else "check the spool folder"


class Spool:
    """A folder of received instances waiting to be cleaned (or forwarded).

    Raises (from every method that writes):
        OutputError: The spool cannot be written (disk full, read-only, permissions).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.failed = folder / FAILED_DIR
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # it holds patient data
            self.failed.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise OutputError(
                f"cannot create the spool folder: {exc.strerror}", hint=_hint(exc), path=folder
            ) from exc

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the spool's lock: two nodes never clean the same spool.

        Raises:
            UsageError: Another node holds it.
            OutputError: The lock file cannot be created.
        """
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(exclusive_lock(self.folder / LOCK_NAME))
        except LockBusyError as exc:
            raise UsageError(
                f"another medocr node uses the spool {self.folder}",
                hint="give each node its own --spool",
            ) from exc
        except OSError as exc:
            raise OutputError(
                f"cannot lock the spool: {exc.strerror}", hint=_hint(exc), path=self.folder
            ) from exc
        with stack:
            yield

    def path(self, name: str) -> Path:
        """The spooled file called `name`."""
        return self.folder / name

    def put(self, data: bytes) -> str:
        """Write one received instance durably; return its spool name."""
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.dcm"
        part = self.folder / f".{name}.part"
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(part, self.folder / name)
            fsync_dir(self.folder)
        except OSError as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            raise OutputError(
                f"cannot spool a received instance: {exc.strerror}", hint=_hint(exc), path=part
            ) from exc
        return name

    def pending(self) -> list[str]:
        """The spooled instances, oldest first."""
        try:
            return sorted(n for n in os.listdir(self.folder) if is_spool_name(n))
        except OSError:
            return []

    def remove(self, name: str) -> None:
        """Drop an instance that has been filed, quarantined or forwarded."""
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()

    def move_aside(self, name: str) -> Path:
        """Move an instance that cannot be cleaned to `failed/`; return where it went."""
        target = self.failed / name
        try:
            os.replace(self.path(name), target)
            fsync_dir(self.failed)
        except OSError as exc:
            raise OutputError(
                f"cannot move a failed instance aside: {exc.strerror}", hint=_hint(exc), path=target
            ) from exc
        return target

    def sweep_parts(self) -> int:
        """Remove part files a crash left (never acknowledged); return how many."""
        removed = 0
        for name in os.listdir(self.folder):
            if name.startswith(".") and name.endswith(".dcm.part"):
                with contextlib.suppress(OSError):
                    (self.folder / name).unlink()
                    removed += 1
        return removed
