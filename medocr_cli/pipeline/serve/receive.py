"""The receiving side: a pynetdicom SCP that answers C-ECHO and spools C-STOREs of images.

Accepted: every storage SOP class of pynetdicom whose name says it is an image (CT, MR, US, CR,
DX, XA, NM, PET, secondary capture, their multi-frame and enhanced forms, ...; 57 in all), in
every transfer syntax this installation can decode: uncompressed, deflated, JPEG baseline,
extended and lossless, JPEG-LS, JPEG 2000 (and HTJ2K), RLE. A compressed instance is stored as it
came. Objects without pixels to clean (structured reports, PDFs, presentation states, RT plans,
waveforms) are not accepted: the association refuses their presentation context, so they stay
with the sender rather than pass through uncleaned.

A C-STORE is answered success (0x0000) only after the instance is durably in the spool; when it
cannot be spooled (disk full, read-only) the answer is 0xA700 (out of resources) and the sender
keeps it. The log names the calling AE title, a counter and the spool name, never a header value.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from medocr_cli.errors import MedocrError, error_origin, printable

if TYPE_CHECKING:
    from pynetdicom import AE

    from medocr_cli.pipeline.serve.spool import Spool

SUCCESS = 0x0000
#: Storage service failure: refused, out of resources (PS3.4 B.2.3).
OUT_OF_RESOURCES = 0xA700


def image_storage_classes() -> list[str]:
    """The storage SOP classes of pynetdicom whose name says they hold an image."""
    from pydicom.uid import UID
    from pynetdicom import AllStoragePresentationContexts

    return [
        cx.abstract_syntax
        for cx in AllStoragePresentationContexts
        if cx.abstract_syntax is not None and "Image" in UID(cx.abstract_syntax).name
    ]


def decodable_syntaxes() -> list[str]:
    """Transfer syntaxes received instances may use: uncompressed, or decodable here."""
    import pydicom.uid as uids
    from pydicom.pixels.decoders.base import get_decoder

    out = []
    for syntax in uids.AllTransferSyntaxes:
        if syntax in uids.UncompressedTransferSyntaxes:
            out.append(syntax)
            continue
        try:
            if get_decoder(syntax).is_available:
                out.append(syntax)
        except NotImplementedError:
            continue  # no decoder at all (MPEG, ...)
    return out


def _calling_ae(event: Any) -> str:
    try:
        return printable(str(event.assoc.requestor.ae_title).strip())
    except AttributeError:
        return "?"


class Receiver:
    """The SCP: builds the acceptor AE and handles its events.

    Args:
        ae_title: This node's AE title.
        spool: Where received instances go.
        on_spooled: Called with the spool name after each instance is stored (wakes the worker).
        log: The node's logger.
    """

    def __init__(
        self,
        ae_title: str,
        spool: Spool,
        on_spooled: Callable[[str], None],
        log: logging.Logger,
    ) -> None:
        self.ae_title = ae_title
        self._spool = spool
        self._on_spooled = on_spooled
        self._log = log
        self._count = itertools.count(1)
        self._count_lock = threading.Lock()
        self.received = 0
        self.refused = 0

    def make_ae(self) -> AE:
        """The acceptor AE: verification plus image storage in every decodable syntax."""
        from pynetdicom import AE
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        ae = AE(ae_title=self.ae_title)
        syntaxes = decodable_syntaxes()
        for sop_class in image_storage_classes():
            ae.add_supported_context(sop_class, syntaxes)
        ae.add_supported_context(Verification)
        ae.maximum_associations = 16
        return ae

    def handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        """The event handlers to bind when the server starts."""
        from pynetdicom import evt

        return [
            (evt.EVT_C_ECHO, self.on_echo),
            (evt.EVT_C_STORE, self.on_store),
            (evt.EVT_ACCEPTED, self.on_accepted),
        ]

    def on_accepted(self, event: Any) -> None:
        """Log each association (calling AE title and address: no patient data)."""
        address = getattr(event.assoc.requestor, "address", "?")
        self._log.info("association from %s at %s", _calling_ae(event), address)

    def on_echo(self, event: Any) -> int:
        """Answer C-ECHO."""
        self._log.info("C-ECHO from %s", _calling_ae(event))
        return SUCCESS

    def on_store(self, event: Any) -> int:
        """Spool one instance durably, then answer success; answer 0xA700 when that fails."""
        with self._count_lock:
            number = next(self._count)
        calling = _calling_ae(event)
        try:
            syntax = event.context.transfer_syntax
            name = self._spool.put(event.encoded_dataset())
        except Exception as exc:  # the sender must get an answer, and the log no traceback
            why = exc.one_line() if isinstance(exc, MedocrError) else error_origin(exc)
            with self._count_lock:
                self.refused += 1
            self._log.error("#%d from %s: not stored, answered 0xA700: %s", number, calling, why)
            return OUT_OF_RESOURCES
        with self._count_lock:
            self.received += 1
        self._log.info(
            "#%d from %s: stored as %s (%s)", number, calling, name, _syntax_name(syntax)
        )
        self._on_spooled(name)
        return SUCCESS


def _syntax_name(syntax: Any) -> str:
    try:
        return str(syntax.name)
    except AttributeError:
        return "?"
