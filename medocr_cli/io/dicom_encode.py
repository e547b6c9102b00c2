"""Lossless DICOM outputs: which transfer syntax a file is written in, and its frames encoded.

A cleaned archive must not grow tenfold (a 6 MB JPEG cine decoded is 110 MB), and it must never
lose information silently. `plan_syntax` turns the `--output-syntax` mode and the input's
transfer syntax into the codecs to try; `encode_scan` encodes the frames one at a time with
pydicom's encoder plugins (the same ones `Dataset.compress` uses) and encapsulates them:

- RLE Lossless: pylibjpeg-rle (Rust; pydicom's own pure-Python encoder, 13x slower, is only
  a fallback);
- JPEG-LS Lossless: pyjpegls (CharLS), the fastest and, on grey images, nearly the smallest;
- JPEG 2000 Lossless: pylibjpeg-openjpeg. Colour is written with the reversible colour
  transform, so Photometric Interpretation YBR_RCT (PS3.5 8.2.4); decoders invert it and give
  RGB back (on the ultrasound test files, 45% of the size of RGB without the transform).

Under `keep`, an input whose syntax cannot be written here (lossy JPEG / JPEG-LS / JPEG 2000,
JPEG Lossless process 14, which no encoder writes, HTJ2K) gets the smallest of the three,
judged on the first, middle and last frames. Every codec's first trial frame
is decoded again and compared: a codec that does not give it back exactly is not used. A
layout a codec cannot hold (32-bit samples, a 3x3 image for JPEG-LS) falls back to the next;
when none can, `keep` deflates the whole dataset (Deflated Explicit VR Little Endian, which
takes any layout), and a named codec writes uncompressed.

Large files (`streamed`) never hold their frames decoded: each encoded frame goes to an
unlinked temporary file, and the Pixel Data is written from it as a stream, with an Extended
Offset Table past 4 GiB.
"""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder, get_encoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from medocr_cli.errors import UsageError
from medocr_cli.io.dicom_large import PIXEL_DATA, ArrayReader
from medocr_cli.types import OutputSyntax

if TYPE_CHECKING:
    from pydicom import Dataset

    from medocr_cli.io.scan import Scan

#: The codec each `--output-syntax` names; under `keep` their order breaks ties in size
#: (JPEG-LS first: it is the fastest).
CODECS: dict[OutputSyntax, UID] = {
    OutputSyntax.JPEG_LS: JPEGLSLossless,
    OutputSyntax.JPEG2000: JPEG2000Lossless,
    OutputSyntax.RLE: RLELossless,
}
#: Frame items at least this long need the Extended Offset Table (the basic one is 32-bit).
_BOT_LIMIT = 2**32
#: The tag that starts every item of encapsulated pixel data (little endian).
_ITEM = b"\xfe\xff\x00\xe0"


@dataclass(frozen=True)
class SyntaxPlan:
    """What to try when writing one file.

    Attributes:
        codecs: Compressed transfer syntaxes to try; with several, the smallest output wins.
        fallback: The syntax written when `codecs` is empty or none of them can hold the
            frames: uncompressed, or deflated.
    """

    codecs: tuple[UID, ...]
    fallback: UID


def plan_syntax(mode: str, source: UID, *, streamed: bool) -> SyntaxPlan:
    """The transfer syntaxes to write a file read in `source` with, under `mode`.

    `explicit` writes uncompressed: Explicit VR Little Endian, or Implicit VR Little Endian when
    the input was (every reader takes both). `keep` keeps an uncompressed or lossless syntax it
    can write and otherwise tries every codec, then deflate; deflate only below the large-file
    size (`streamed`), as pydicom deflates in memory. A named codec falls back to uncompressed.

    Raises:
        UsageError: `mode` is not one of `OutputSyntax`.
    """
    try:
        chosen = OutputSyntax(mode)
    except ValueError:
        names = ", ".join(m.value for m in OutputSyntax)
        raise UsageError(f"unknown output syntax {mode!r}", hint=f"use one of {names}") from None
    plain = ImplicitVRLittleEndian if source == ImplicitVRLittleEndian else ExplicitVRLittleEndian
    if chosen == OutputSyntax.EXPLICIT:
        return SyntaxPlan((), plain)
    if chosen != OutputSyntax.KEEP:
        return SyntaxPlan((CODECS[chosen],), plain)
    if source == DeflatedExplicitVRLittleEndian and not streamed:
        return SyntaxPlan((), source)
    if source.is_transfer_syntax and not (source.is_encapsulated or source.is_deflated):
        return SyntaxPlan((), plain)  # uncompressed (big endian becomes little endian)
    squeezed = plain if streamed else DeflatedExplicitVRLittleEndian
    if source in CODECS.values():
        return SyntaxPlan((source,), squeezed)
    return SyntaxPlan(tuple(CODECS.values()), squeezed)


@dataclass
class Encoded:
    """A file's frames, encoded and encapsulated, ready to become its Pixel Data.

    Attributes:
        syntax: The transfer syntax they are encoded in.
        photometric: The Photometric Interpretation that goes with them (YBR_RCT for JPEG 2000
            colour, else the scan's).
        value: The encapsulated Pixel Data: bytes, or a stream for a large file.
        extended: Extended Offset Table and its Lengths when the value needs them.
    """

    syntax: UID
    photometric: str
    value: bytes | ArrayReader
    extended: tuple[bytes, bytes] | None = None

    def apply(self, ds: Dataset) -> None:
        """Put the encoded Pixel Data, its photometric and transfer syntax into `ds`."""
        if PIXEL_DATA in ds:  # a new element: a streamed old value is never read
            del ds[PIXEL_DATA]
        ds[PIXEL_DATA] = DataElement(PIXEL_DATA, "OB", self.value, is_undefined_length=True)
        ds.PhotometricInterpretation = self.photometric
        for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
            if keyword in ds:
                del ds[keyword]
        if self.extended is not None:
            ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = self.extended
        ds.file_meta.TransferSyntaxUID = self.syntax


def encode_scan(scan: Scan, codecs: tuple[UID, ...], *, streamed: bool) -> Encoded | None:
    """Encode every frame of `scan` with the best of `codecs`; None when none can hold them.

    With several codecs, each encodes the first, middle and last frames and the smallest
    total wins; the winner's trial frames are kept, the rest are encoded after them. A codec
    that refuses the layout or the values, or whose first trial frame does not decode back to
    the same values, is passed over. pydicom's log and warnings are the caller's to silence.
    """
    n = scan.n_frames
    trial = sorted({0, n // 2, n - 1}) if len(codecs) > 1 else [0]
    tried: dict[UID, dict[int, bytes]] = {}
    for syntax in codecs:
        try:
            frames = {i: _encode(scan, syntax, i) for i in trial}
        except Exception:  # pydicom raises ValueError/RuntimeError for layouts it refuses
            continue
        if _decodes_back(scan, syntax, trial[0], frames[trial[0]]):
            tried[syntax] = frames
    if not tried:
        return None
    best = min(tried, key=lambda s: sum(len(b) for b in tried[s].values()))
    sink = frame_sink(n, streamed=streamed)
    try:
        for index in range(n):
            data = tried[best].pop(index, None)
            sink.add(data if data is not None else _encode(scan, best, index))
        return sink.encoded(best, _photometric(best, scan.photometric))
    except Exception:  # a later frame the codec refuses (values beyond Bits Stored)
        sink.close()
        return None


def _photometric(syntax: UID, photometric: str) -> str:
    """JPEG 2000 colour is written with the reversible colour transform, labelled YBR_RCT."""
    return "YBR_RCT" if syntax == JPEG2000Lossless and photometric == "RGB" else photometric


def _layout(scan: Scan, syntax: UID) -> dict[str, int | str]:
    """The Image Pixel values pydicom's encoder and decoder need for one frame of `scan`."""
    return {
        "rows": scan.height,
        "columns": scan.width,
        "samples_per_pixel": scan.samples,
        "bits_allocated": scan.frames.dtype.itemsize * 8,
        "bits_stored": scan.bits_stored,
        "pixel_representation": int(scan.signed),
        "photometric_interpretation": _photometric(syntax, scan.photometric),
        "planar_configuration": 0,
        "number_of_frames": 1,
    }


def _encode(scan: Scan, syntax: UID, index: int) -> bytes:
    """One frame encoded in `syntax` (pydicom validates the layout and the value range)."""
    frame = np.ascontiguousarray(scan.frames[index])
    return bytes(get_encoder(syntax).encode(frame, **_layout(scan, syntax)))


def _decodes_back(scan: Scan, syntax: UID, index: int, data: bytes) -> bool:
    """Whether `data` decodes to exactly the stored values of frame `index`."""
    try:
        arr, _ = get_decoder(syntax).as_array(encapsulate([data]), **_layout(scan, syntax))
    except Exception:
        return False
    frame = scan.frames[index]
    return arr.size == frame.size and np.array_equal(arr.reshape(frame.shape), frame)


def frame_sink(n_frames: int, *, streamed: bool) -> FrameSink:
    """Where `n_frames` encoded frames are collected: a temporary file for a large file."""
    return _SpooledFrames(n_frames) if streamed else _FramesInMemory()


class FrameSink:
    """Collects encoded frames in order and encapsulates them (`frame_sink` makes one)."""

    def add(self, data: bytes) -> None:
        """Append the next encoded frame."""
        raise NotImplementedError

    def encoded(self, syntax: UID, photometric: str) -> Encoded:
        """The encapsulated frames."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sink holds (after a failure; harmless after `encoded`)."""


class _FramesInMemory(FrameSink):
    """Encoded frames of an ordinary file, kept as bytes (they are smaller than the decoded)."""

    def __init__(self) -> None:
        self._frames: list[bytes] = []

    def add(self, data: bytes) -> None:
        """Append the next encoded frame."""
        self._frames.append(data)

    def encoded(self, syntax: UID, photometric: str) -> Encoded:
        """One item per frame, with a Basic Offset Table (pydicom's `encapsulate`)."""
        return Encoded(syntax, photometric, encapsulate(self._frames))


class _SpooledFrames(FrameSink):
    """Encoded frames of a large file, itemised into an unlinked temporary file as they come.

    The file starts with room for a Basic Offset Table item of `n_frames` offsets, filled once
    every frame is in; past 4 GiB, where 32-bit offsets cannot reach, an empty one is written at
    the end of that room and the value starts there, with an Extended Offset Table. The Pixel
    Data is then one `ArrayReader` over a map of the file: pydicom's `EncapsulatedBuffer` does
    the same, but recomputes every item's offset for each 8 KiB it reads (hours for a cine).
    """

    def __init__(self, n_frames: int, bot_limit: int = _BOT_LIMIT) -> None:
        """Spool `n_frames` frames; items reaching `bot_limit` bytes take the extended table."""
        self._bot_limit = bot_limit
        # Closed by `encoded` or `close`: it outlives this call.
        self._file: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115
        self._room = 8 + 4 * n_frames
        self._file.write(bytes(self._room))
        self._offsets: list[int] = []
        self._lengths: list[int] = []
        self._end = 0  # bytes of items written after the room

    def add(self, data: bytes) -> None:
        """Append the next encoded frame as an item (padded to an even length)."""
        padded = len(data) + len(data) % 2
        self._file.write(_ITEM + struct.pack("<I", padded) + data + bytes(padded - len(data)))
        self._offsets.append(self._end)
        self._lengths.append(padded)
        self._end += 8 + padded

    def encoded(self, syntax: UID, photometric: str) -> Encoded:
        """The encapsulated value, streamed from a map of the file."""
        n = len(self._offsets)
        extended = None
        if self._end < self._bot_limit:
            start = 0
            table = _ITEM + struct.pack(f"<I{n}I", 4 * n, *self._offsets)
        else:
            start = 4 * n
            table = _ITEM + struct.pack("<I", 0)
            extended = (
                struct.pack(f"<{n}Q", *self._offsets),
                struct.pack(f"<{n}Q", *self._lengths),
            )
        self._file.seek(start)
        self._file.write(table)
        self._file.flush()
        # The map keeps its own handle on the (already unlinked) file once this one closes.
        data = np.memmap(self._file, dtype=np.uint8, mode="r", shape=(self._room + self._end,))
        self._file.close()
        return Encoded(syntax, photometric, ArrayReader(data[start:]), extended)

    def close(self) -> None:
        """Drop the temporary file."""
        self._file.close()
