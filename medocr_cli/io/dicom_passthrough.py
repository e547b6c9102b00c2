"""Unchanged compressed frames written as they came: no decoding, no re-encoding, nothing lost.

A lossy input (JPEG baseline, JPEG 2000 irreversible) re-encoded losslessly grows 2-8x, and
even a lossless one costs an encode per frame. When the cleaning changed no pixel, the input's
own encoded frames are the exact, smallest and fastest output: under `--output-syntax keep`,
`unchanged_pixel_data` gives them back, and `write_dicom` writes them in the input's transfer
syntax with its Photometric Interpretation and pixel layout, changing only the header.

What is written is checked on the very bytes that go out:

- every frame decodes (pydicom, as any reader will) to exactly the scan's frame (shape, dtype,
  values), under the header as read; the scan must also still describe that header (the
  Photometric Interpretation the reader gave, bits stored, sign). The first difference ends the
  check, and the caller encodes every frame as before: one syntax per file, never a mix.
  Decoding again costs as much as reading (3 s for a 120-frame JPEG cine, half of it
  pydicom's YBR to RGB conversion), so `read_dicom` keeps a `SourceFrames`: a digest of each
  frame as decoded, with the Pixel Data and pixel attributes it came from. While the dataset
  still holds that same Pixel Data (the same value; or, left on disk, the same element of an
  unmodified file) and attributes, a frame whose bytes are written as they came and whose
  digest is unchanged decodes as it did when read, and is not decoded again; a changed digest
  ends the check at once;
- text the codestream itself can carry goes: JPEG and JPEG-LS comment (COM) and application
  (APPn) segments (an EXIF thumbnail is the image with its burned-in text), save a JFIF header
  without thumbnail and the Adobe segment (rewritten from its transform byte), and JPEG 2000
  main-header comments. A frame with anything else a decoder does not read (a JP2 wrapper, a
  marker segment of a kind not listed here, bytes after the end marker that are not padding,
  RLE bytes outside its segments) is not kept. Bytes hidden inside the entropy-coded data
  itself cannot be told from it without decoding it fully: that one channel remains.

The kept frames are encapsulated again (one fragment per frame, a Basic Offset Table), so the
Pixel Data holds nothing but the checked frames: none of the input's other fragments or
trailing bytes. A large file goes frame by frame: a Pixel Data that pydicom left on disk (one of
at least `LARGE_BYTES`) is read from the input file one frame at a time, and the kept frames
are spooled to a temporary file as `encode_scan` does (`dicom_encode.frame_sink`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import get_decoder
from pydicom.pixels.utils import as_pixel_options
from pydicom.uid import (
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLETransferSyntaxes,
)

from medocr_cli.io.dicom_encode import Encoded, frame_sink
from medocr_cli.io.dicom_large import PIXEL_DATA, is_streamed
from medocr_cli.io.scan import SourceFrames

if TYPE_CHECKING:
    from pydicom import Dataset

    from medocr_cli.io.scan import Scan


class _NotKeptError(Exception):
    """A frame's codestream cannot be walked safely: the frames are encoded again instead."""


def source_frames(ds: Dataset, frames: np.ndarray, path: Path) -> SourceFrames | None:
    """Record the frames just decoded from `ds`, read from `path` (see `SourceFrames`).

    None for a syntax that is never kept, or a dataset whose pixel attributes pydicom cannot
    list (such a file is checked by decoding).
    """
    held = _held(ds)
    if _stripper(ds) is None or held is None:
        return None
    try:
        options = as_pixel_options(ds)
        stamp = _stamp(path) if held is ds.get_item(PIXEL_DATA, keep_deferred=True) else None
    except Exception:  # pydicom's conversion errors, or the file gone
        return None
    keys = tuple(frame_digest(frame) for frame in frames)
    return SourceFrames(held, options, keys, stamp)


def frame_digest(frame: np.ndarray) -> bytes:
    """SHA-256 of a frame's dtype, shape and bytes (about 0.7 GB/s with SHA CPU extensions)."""
    digest = hashlib.sha256(f"{frame.dtype.str}{frame.shape}".encode())
    digest.update(memoryview(np.ascontiguousarray(frame)).cast("B"))
    return digest.digest()


def unchanged_pixel_data(ds: Dataset, scan: Scan) -> Encoded | None:
    """The input's encapsulated frames, metadata segments removed, if they are the scan's frames.

    Returns the Pixel Data (encapsulated, with a Basic Offset Table, or an Extended one past
    4 GiB) to put into `ds` with `Encoded.apply`: the dataset's own transfer syntax and
    Photometric Interpretation. None when that would not give back exactly the scan's frames:
    the syntax is not one walked here (RLE, JPEG, JPEG-LS, JPEG 2000, HTJ2K), the scan no
    longer matches the header, a frame changed, or a codestream cannot be walked or decoded.
    pydicom's log and warnings are the caller's to silence.
    """
    syntax = ds.file_meta.TransferSyntaxUID
    strip = _stripper(ds)
    held = _held(ds)
    if strip is None or held is None or not _layout_as_read(ds, scan):
        return None
    n = scan.n_frames
    sink = frame_sink(n, streamed=is_streamed(scan.frames))
    result = None
    try:
        keys = _keys_as_read(ds, scan, held)
        options = as_pixel_options(ds, number_of_frames=1)
        extended = options.pop("extended_offsets", None)
        decoder = get_decoder(syntax)
        with _opened(held, scan.path) as buffer:
            frames = generate_frames(buffer, number_of_frames=n, extended_offsets=extended)
            count = 0
            for index, raw in zip(range(n), frames, strict=False):
                data = strip(raw)
                if keys is not None and frame_digest(scan.frames[index]) != keys[index]:
                    return None  # changed since read: it no longer is what these bytes decode to
                if keys is None or data != raw:
                    arr, _ = decoder.as_array(encapsulate([data]), **options)
                    if not _same(arr, scan.frames[index]):
                        return None
                sink.add(data)
                count += 1
        if count == n:
            photometric = str(ds.get("PhotometricInterpretation") or "MONOCHROME2")
            result = sink.encoded(syntax, photometric)
    except Exception:  # _NotKeptError, or pydicom's many errors for data it cannot split/decode
        return None
    finally:
        if result is None:
            sink.close()
    return result


def _held(ds: Dataset) -> object | None:
    """What `ds` holds as Pixel Data: its value, or its element when pydicom left it on disk."""
    elem = ds.get_item(PIXEL_DATA, keep_deferred=True)
    deferred = isinstance(elem, RawDataElement) and elem.value is None
    return None if elem is None else elem if deferred else elem.value


def _stamp(path: Path) -> tuple[int, int]:
    """The input file's modification time and size: a deferred Pixel Data is read from it."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@contextmanager
def _opened(held: object, path: Path) -> Iterator[bytes | BinaryIO]:
    """The encapsulated Pixel Data to split into frames: the value, or the file at the value."""
    if not isinstance(held, RawDataElement):
        yield cast(bytes, held)
        return
    with path.open("rb") as file:
        file.seek(held.value_tell)
        yield file


def _keys_as_read(ds: Dataset, scan: Scan, held: object) -> tuple[bytes, ...] | None:
    """The digests of the scan's frames as read, while `ds` holds what they were read from.

    None when there are none, or when the Pixel Data or pixel attributes are no longer those
    the frames came from (another write, a changed file): every frame is then decoded.
    """
    source = scan.source
    if (
        source is None
        or source.pixel_data is not held
        or source.options != as_pixel_options(ds)
        or len(source.keys) != scan.n_frames
        or (source.stamp is not None and source.stamp != _stamp(scan.path))
    ):
        return None
    return source.keys


def _stripper(ds: Dataset) -> Callable[[bytes], bytes] | None:
    """How metadata is taken out of one frame of `ds`; None for a syntax or layout not kept."""
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax in JPEGTransferSyntaxes:
        return lambda data: _strip_jpeg(data, jpeg_ls=False)
    if syntax in JPEGLSTransferSyntaxes:
        return lambda data: _strip_jpeg(data, jpeg_ls=True)
    if syntax in JPEG2000TransferSyntaxes:
        return _strip_j2k
    if syntax in RLETransferSyntaxes:
        try:
            size = int(ds.Rows) * int(ds.Columns)
            bits = int(ds.BitsAllocated)
            segments = int(ds.get("SamplesPerPixel") or 1) * bits // 8
        except Exception:  # a value pydicom cannot convert: such a header is not trusted here
            return None
        if bits % 8 or not 0 < segments <= 15 or size < 1:
            return None
        return lambda data: _check_rle(data, segments, size)
    return None


def _layout_as_read(ds: Dataset, scan: Scan) -> bool:
    """Whether the scan still has the photometric, bits and sign `read_dicom` gave from `ds`."""
    try:
        photometric = str(ds.get("PhotometricInterpretation") or "MONOCHROME2").strip().upper()
        samples = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.get("BitsStored") or 0) or scan.frames.dtype.itemsize * 8
        signed = int(ds.get("PixelRepresentation") or 0) == 1
    except Exception:  # a value pydicom cannot convert: such a header is not trusted here
        return False
    if photometric.startswith("YBR") and samples == 3:
        photometric = "RGB"  # the reader's frames are RGB; the header describes the bytes
    return (
        scan.photometric == photometric
        and scan.samples == samples
        and scan.bits_stored == bits
        and scan.signed == signed
    )


def _same(decoded: np.ndarray, frame: np.ndarray) -> bool:
    """Whether a decoded frame is exactly `frame`: same kind and size of sample, same values."""
    return (
        decoded.dtype.kind == frame.dtype.kind
        and decoded.dtype.itemsize == frame.dtype.itemsize
        and decoded.size == frame.size
        and np.array_equal(decoded.reshape(frame.shape), frame)
    )


#: JPEG marker segments that decoding reads: SOFn, DHT, DAC, SOS, DQT, DNL, DRI, DHP, EXP; and
#: for JPEG-LS (True) its SOF55 and LSE too.
_JPEG_SEGMENTS = frozenset(range(0xC0, 0xD0)) - {0xC8} | frozenset(range(0xDA, 0xE0))
_DECODING_SEGMENTS = {False: _JPEG_SEGMENTS, True: _JPEG_SEGMENTS | {0xF7, 0xF8}}


def _strip_jpeg(data: bytes, *, jpeg_ls: bool) -> bytes:
    """A JPEG or JPEG-LS codestream without its COM and text-bearing APPn segments.

    Walks the marker segments (each with its length) and skips the entropy-coded data after
    every SOS to the next marker: in JPEG a 0xFF followed by anything but 0x00, a fill 0xFF or
    a restart; in JPEG-LS a 0xFF followed by a byte with its high bit set (not a restart).
    Bytes after EOI are kept only when they are padding. Only the segments decoding needs
    (`_DECODING_SEGMENTS`) are walked past: any other kind (JPGn, reserved) could hold text.

    Raises:
        _NotKeptError: It does not start with SOI, a segment runs past the end or is of a kind
            not known here, or there is no EOI.
    """
    if data[:2] != b"\xff\xd8":
        raise _NotKeptError
    out = [data[:2]]
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF or pos + 1 >= size:
            raise _NotKeptError
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI
            out.append(data[pos : pos + 2] + _padding(data[pos + 2 :]))
            break
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD7:  # fill, TEM, RSTn
            out.append(data[pos : pos + 1 + (marker != 0xFF)])
            pos += 1 + (marker != 0xFF)
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > size:
            raise _NotKeptError
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE or marker in _DECODING_SEGMENTS[jpeg_ls]):
            raise _NotKeptError  # JPGn or reserved: no decoder needs it, anything can be in it
        kept = _kept_segment(marker, data[pos + 4 : end])
        if kept is not None:
            out.append(data[pos : pos + 4] + kept)
        pos = end
        if marker == 0xDA:  # SOS: the entropy-coded data follows
            after = _next_marker(data, pos, jpeg_ls=jpeg_ls)
            out.append(data[pos:after])
            pos = after
    else:
        raise _NotKeptError  # no EOI: where the image data ends is not known
    return b"".join(out)


def _kept_segment(marker: int, body: bytes) -> bytes | None:
    """The body a JPEG marker segment is written with (None: it goes; see the module doc).

    Adobe's segment is written anew from the one byte decoders read, its colour transform.
    """
    if marker == 0xFE:
        return None
    if marker == 0xE0:  # JFIF: 14 bytes of numbers when there is no thumbnail
        return body if body[:5] == b"JFIF\x00" and body[12:] == bytes(2) else None
    if marker == 0xEE:  # Adobe: version 100, no flags, the colour transform (0, 1 or 2)
        if body[:5] == b"Adobe" and len(body) == 12 and body[11] in (0, 1, 2):
            return b"Adobe\x00\x64\x00\x00\x00\x00" + body[11:12]
        return None
    return None if 0xE1 <= marker <= 0xEF else body


def _next_marker(data: bytes, pos: int, *, jpeg_ls: bool) -> int:
    """Where the marker that ends the entropy-coded data from `pos` starts (or the end)."""
    size = len(data)
    while True:
        at = data.find(b"\xff", pos)
        if at < 0 or at + 1 >= size:
            return size
        code = data[at + 1]
        restart = 0xD0 <= code <= 0xD7
        if jpeg_ls:
            if code >= 0x80 and not restart:
                return at
        elif code not in (0x00, 0xFF) and not restart:
            return at
        pos = at + 1


#: JPEG 2000 main-header marker segments decoding reads (ISO 15444-1, and CAP / CPF of HTJ2K,
#: 15444-15): SIZ, CAP, COD, COC, TLM, PLM, PLT, CPF, QCD, QCC, RGN, POC, PPM, PPT, CRG. COM
#: (0xFF64) is stripped; any other kind (Part 2 extensions, unknown) stops the frame being kept.
_J2K_MAIN = frozenset({0x50, 0x51, 0x52, 0x53, 0x55, 0x57, 0x58, 0x59, *range(0x5C, 0x62), 0x63})
#: Those a tile-part header may hold (COD, COC, QCD, QCC, RGN, POC, PPT, PLT).
_J2K_TILE = frozenset({0x52, 0x53, 0x5C, 0x5D, 0x5E, 0x5F, 0x61, 0x58})


def _strip_j2k(data: bytes) -> bytes:
    """A JPEG 2000 (or HTJ2K) codestream without the comments (COM) of its main header.

    The main header's marker segments run from SIZ to the first SOT; nothing points into them,
    so a removed comment moves no offset (tile-part lengths count from each SOT). Tile-parts
    are followed by their lengths to EOC and their headers must hold no comment.

    Raises:
        _NotKeptError: Not a bare codestream (e.g. a JP2 file), a main-header segment of a kind
            not in `_J2K_MAIN` (COM aside), a comment in a tile-part header,
            a segment or tile-part running past the end, or bytes after EOC that are not
            padding where the last tile-part's length is not given.
    """
    if data[:4] != b"\xff\x4f\xff\x51":  # SOC, then SIZ
        raise _NotKeptError
    out = [data[:2]]
    pos = 2
    while data[pos : pos + 2] != b"\xff\x90":  # to the first SOT
        end = _segment_end(data, pos)
        if data[pos + 1] in _J2K_MAIN:
            out.append(data[pos:end])
        elif data[pos + 1] != 0x64:  # not COM either: a kind no decoder here needs
            raise _NotKeptError
        pos = end
    start = pos
    while data[pos : pos + 2] == b"\xff\x90":
        length = int.from_bytes(data[pos + 6 : pos + 10], "big")  # Psot
        _check_tile_header(data, pos)
        if length == 0:  # the last tile-part runs to EOC, the end of the codestream
            if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
                raise _NotKeptError  # bytes after EOC that are not padding: EOC is not found
            return b"".join([*out, data[start:]])
        if length < 14:
            raise _NotKeptError
        pos += length
    if data[pos : pos + 2] != b"\xff\xd9":  # EOC
        raise _NotKeptError
    out.append(data[start : pos + 2] + _padding(data[pos + 2 :]))
    return b"".join(out)


def _padding(tail: bytes) -> bytes:
    """What follows the end-of-image marker, kept only when it is padding (a byte, or zeros)."""
    return tail if len(tail) <= 1 or not tail.strip(b"\x00") else b""


def _segment_end(data: bytes, pos: int) -> int:
    """The end of the JPEG 2000 marker segment at `pos` (marker, length, body).

    Raises:
        _NotKeptError: No marker there, or the segment runs past the end.
    """
    if pos + 4 > len(data) or data[pos] != 0xFF:
        raise _NotKeptError
    end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    if end > len(data) or end < pos + 4:
        raise _NotKeptError
    return end


def _check_tile_header(data: bytes, pos: int) -> None:
    """Walk the tile-part header from its SOT at `pos` to SOD.

    Raises:
        _NotKeptError: It holds a comment or a segment of a kind not in `_J2K_TILE`, or runs
            past the end.
    """
    pos = _segment_end(data, pos)
    while data[pos : pos + 2] != b"\xff\x93":  # SOD
        if pos + 1 >= len(data) or data[pos + 1] not in _J2K_TILE:
            raise _NotKeptError  # a comment, or a kind no decoder here needs
        pos = _segment_end(data, pos)


def _check_rle(data: bytes, segments: int, size: int) -> bytes:
    """An RLE frame as it is, once every byte of it is known to be read by a decoder.

    The header must list exactly `segments` segments (the rest of its offsets zero), the first
    right after it, in order; each segment's PackBits codes must give exactly `size` bytes and
    end at the next segment (or the end), give or take one byte of padding: anything else is
    room for bytes no decoder reads.

    Raises:
        _NotKeptError: The header or a segment is not so.
    """
    if len(data) < 64:
        raise _NotKeptError
    count, *offsets = struct.unpack_from("<16I", data)
    if count != segments or offsets[0] != 64 or any(offsets[count:]):
        raise _NotKeptError
    ends = [*offsets[1:count], len(data)]
    for start, end in zip(offsets[:count], ends, strict=True):
        if start >= end or end > len(data) or end - _packbits_end(data, start, end, size) > 1:
            raise _NotKeptError
    return data


def _packbits_end(data: bytes, pos: int, end: int, size: int) -> int:
    """Where the PackBits codes from `pos` have given exactly `size` bytes.

    Raises:
        _NotKeptError: They run past `end` first, or overshoot `size`.
    """
    done = 0
    while done < size:
        if pos >= end:
            raise _NotKeptError
        code = data[pos]
        if code < 128:  # a literal run of code + 1 bytes
            done += code + 1
            pos += code + 2
        elif code > 128:  # the next byte, 257 - code times
            done += 257 - code
            pos += 2
        else:  # 128: no operation
            pos += 1
    if done != size or pos > end:
        raise _NotKeptError
    return pos
