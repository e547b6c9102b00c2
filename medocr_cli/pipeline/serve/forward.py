"""Forwarding: cleaned instances sent by C-STORE (pynetdicom as SCU) to the destination node.

The forwarder thread takes cleaned instances from the outbox in arrival order. Each is offered in
its own transfer syntax first (a lossless output goes as it is), with uncompressed explicit and
implicit VR little endian as alternatives (the file is decompressed when the destination takes
only those). A failed try (no connection, association rejected or aborted, a failure status) is
retried after `forward_backoff` seconds, doubled each time and capped at `forward_max_delay`;
after `forward_attempts` tries the round counts as failed: the instance's report line says so,
and the next round starts after `forward_max_delay`. The instance stays in the spool (and its
cleaned copy in the outbox) until the destination answered success, so a stop or a crash only
delays it: delivery is at least once (a crash between the answer and the record sends it again).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from medocr_cli.errors import MedocrError, error_origin
from medocr_cli.pipeline.serve.ledger import RETRYING, SENT, Ledger

if TYPE_CHECKING:
    from medocr_cli.pipeline.serve.config import Destination
    from medocr_cli.pipeline.serve.spool import Spool

#: C-STORE statuses that mean stored: success and the storage warnings (coercion, elements
#: discarded, data set does not match the SOP class).
_STORED = {0x0000, 0xB000, 0xB006, 0xB007}
#: Seconds an association may take to open, and a reply to come, before the try fails.
CONNECT_TIMEOUT = 10.0
REPLY_TIMEOUT = 60.0


class ForwardError(MedocrError):
    """The destination did not store an instance (retried; the instance stays in the spool)."""


def send_file(path: Path, destination: Destination, calling_ae: str) -> None:
    """Send the DICOM file at `path` to `destination` by C-STORE and wait for its answer.

    Raises:
        ForwardError: No connection, the association was refused or aborted, no transfer
            syntax was agreed, or the destination answered a failure status.
    """
    try:
        _send(path, destination, calling_ae)
    except ForwardError:
        raise
    except Exception as exc:  # pynetdicom and pydicom raise many kinds; their text may quote values
        raise ForwardError(f"sending to {destination} failed: {error_origin(exc)}") from None


def _send(path: Path, destination: Destination, calling_ae: str) -> None:
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    syntax = ds.file_meta.TransferSyntaxUID
    offered = list(dict.fromkeys([syntax, ExplicitVRLittleEndian, ImplicitVRLittleEndian]))
    ae = AE(ae_title=calling_ae)
    ae.connection_timeout = CONNECT_TIMEOUT
    ae.acse_timeout = CONNECT_TIMEOUT
    ae.dimse_timeout = REPLY_TIMEOUT
    ae.network_timeout = REPLY_TIMEOUT
    ae.add_requested_context(ds.SOPClassUID, offered)
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        what = "refused the association" if assoc.is_rejected else "could not be reached"
        raise ForwardError(f"{destination} {what}", hint="the instance stays in the spool")
    try:
        agreed = [cx for cx in assoc.accepted_contexts if cx.abstract_syntax == ds.SOPClassUID]
        if not agreed:
            raise ForwardError(
                f"{destination} accepts neither this SOP class nor an uncompressed syntax"
            )
        if agreed[0].transfer_syntax[0] != syntax and syntax.is_compressed:
            ds.decompress()
        status = assoc.send_c_store(ds)
        code = status.get("Status") if status else None
        if code is None:
            raise ForwardError(f"{destination} did not answer the C-STORE (timeout or abort)")
        if code not in _STORED:
            raise ForwardError(f"{destination} answered C-STORE status 0x{int(code):04X}")
    finally:
        if assoc.is_established:
            assoc.release()


class Forwarder(threading.Thread):
    """Sends the outbox to the destination, oldest first, until the node stops.

    Args:
        destination: Where to send.
        calling_ae: This node's AE title.
        outbox: Folder of cleaned instances (named as in the spool).
        spool: The spool (an instance leaves it once forwarded).
        ledger: The node's journal.
        stopping: Set when the node stops; waits end at once, a send in progress finishes.
        attempts: Tries per round.
        backoff: First wait between tries, doubled each time.
        max_delay: Longest wait, and the pause between rounds.
        on_sent: Called with the spool name after each instance is stored.
        on_fatal: Called with the exception when the journal cannot be written.
        log: The node's logger.
    """

    def __init__(
        self,
        destination: Destination,
        calling_ae: str,
        outbox: Path,
        spool: Spool,
        ledger: Ledger,
        stopping: threading.Event,
        *,
        attempts: int,
        backoff: float,
        max_delay: float,
        on_sent: Callable[[str], None],
        on_fatal: Callable[[BaseException], None],
        log: logging.Logger,
    ) -> None:
        super().__init__(name="medocr-forward", daemon=True)
        self.destination = destination
        self.calling_ae = calling_ae
        self.outbox = outbox
        self._spool = spool
        self._ledger = ledger
        self._stopping = stopping
        self._attempts = attempts
        self._backoff = backoff
        self._max_delay = max_delay
        self._on_sent = on_sent
        self._on_fatal = on_fatal
        self._log = log
        self._queue: collections.deque[str] = collections.deque()
        self._ready = threading.Condition()

    def put(self, name: str) -> None:
        """Queue the cleaned instance `outbox/name` for sending."""
        with self._ready:
            self._queue.append(name)
            self._ready.notify()

    def run(self) -> None:
        """Send queued instances until `stopping` is set."""
        try:
            while not self._stopping.is_set():
                with self._ready:
                    if not self._queue:
                        self._ready.wait(0.5)
                        continue
                    name = self._queue[0]
                if self._deliver(name):
                    with self._ready:
                        self._queue.popleft()
        except Exception as exc:
            self._on_fatal(exc)

    def stop(self) -> None:
        """Wake the thread so it sees `stopping` (a send in progress finishes first)."""
        with self._ready:
            self._ready.notify_all()

    def _deliver(self, name: str) -> bool:
        """Try rounds of sends until stored (True) or the node stops (False)."""
        key = str(self._spool.path(name))
        tries = 0
        while not self._stopping.is_set():
            error: ForwardError | None = None
            for attempt in range(self._attempts):
                if attempt:
                    delay = min(self._backoff * 2 ** (attempt - 1), self._max_delay)
                    if self._stopping.wait(delay):
                        return False
                tries += 1
                try:
                    send_file(self.outbox / name, self.destination, self.calling_ae)
                except ForwardError as exc:
                    error = exc
                    self._log.warning("%s: forward try %d failed: %s", name, tries, exc.message)
                    continue
                self._done(key, name, tries)
                return True
            line = self._ledger.line(key) or {"path": key, "status": "ok"}
            why = error.one_line() if error is not None else "?"
            line.update(forward=RETRYING, forward_tries=tries, forward_error=why)
            self._ledger.record(line)
            self._log.error(
                "%s: not forwarded after %d tries; kept in the spool, next round in %.0f s",
                name,
                tries,
                self._max_delay,
            )
            if self._stopping.wait(self._max_delay):
                return False
        return False

    def _done(self, key: str, name: str, tries: int) -> None:
        line = self._ledger.line(key) or {"path": key, "status": "ok"}
        line.update(forward=SENT, forward_to=str(self.destination), forward_tries=tries)
        line.pop("forward_error", None)
        self._ledger.record(line)
        with contextlib.suppress(FileNotFoundError):
            (self.outbox / name).unlink()
        self._spool.remove(name)
        self._log.info("%s: forwarded to %s", name, self.destination)
        self._on_sent(name)
