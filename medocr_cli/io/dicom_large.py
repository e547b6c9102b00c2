"""Large DICOM pixel data, read and written without holding all of it in memory.

A multi-frame file of a gigabyte would otherwise be in memory several times over: the raw
bytes pydicom reads, the decoded array, and the bytes made again to write it. Above
`LARGE_BYTES` of decoded pixel data, `read_dicom` leaves the Pixel Data element on disk
(pydicom's `defer_size`) and the frames become a NumPy memory map:

- uncompressed little-endian data is mapped straight from the input file, copy-on-write: a
  frame is read from disk when a stage looks at it, an edited frame lives in private memory,
  and the input file is never written;
- compressed (or otherwise re-laid-out) data is decoded one frame at a time with pydicom's
  `iter_pixels` into an anonymous temporary file that is mapped.

Either way the pages of frames already processed can be dropped by the kernel, so memory stays
near a few frames plus the models. `write_dicom` then streams the frames into the output
through a buffered Pixel Data value (`ArrayReader`) instead of one `bytes` copy.

The threshold is read only here: the reader and writer ask `read_deferred`, `is_large` and
`is_streamed`.
"""

from __future__ import annotations

import io
import tempfile
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pydicom import Dataset

    from medocr_cli.io.scan import Scan

#: Decoded pixel data of at least this many bytes is mapped, not loaded (256 MiB).
LARGE_BYTES = 256 * 1024 * 1024
#: The Pixel Data tag.
PIXEL_DATA = 0x7FE00010


def read_deferred(path: Path) -> Dataset:
    """Read `path` with every value of at least `LARGE_BYTES` (a large Pixel Data) left on disk."""
    import pydicom

    return pydicom.dcmread(path, force=True, defer_size=LARGE_BYTES)


def is_large(ds: Dataset, shape: tuple[int, ...]) -> bool:
    """Whether pixel data of `shape` (frames, rows, cols[, samples]) should be mapped, not loaded.

    See the module docstring; a Pixel Data element pydicom left on disk is always large.
    """
    itemsize = max(1, int(ds.get("BitsAllocated", 8) or 8) // 8)
    return int(np.prod(shape)) * itemsize >= LARGE_BYTES or _deferred(ds)


def _deferred(ds: Dataset) -> bool:
    from pydicom.dataelem import RawDataElement

    elem = ds.get_item("PixelData", keep_deferred=True)
    return isinstance(elem, RawDataElement) and elem.value is None and elem.length > 0


def map_frames(ds: Dataset, path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """Return the frames of a large file as a memory map shaped `shape`, or None if it cannot.

    pydicom's warnings are the caller's to silence (`read_dicom` does).

    None (pixel data shorter than the header promises, damaged, or an offset table that defeats
    frame-by-frame decoding while whole-array decoding works) sends the caller to pydicom's
    usual whole-array decoding, which either succeeds or reports the damage.
    """
    try:
        if _raw_layout(ds):
            return _map_raw(ds, path, shape)
        # A deferred element is decoded from the file frame by frame; one already in memory
        # (it was small, e.g. compressed, or the file is deflated) from the dataset.
        return _decode_to_map(path if _deferred(ds) else ds, shape)
    except Exception:  # pydicom raises many types for damaged data; see above
        return None


def _raw_layout(ds: Dataset) -> bool:
    """Whether the stored bytes already are the decoded array (no decoding, no re-layout)."""
    syntax = ds.file_meta.TransferSyntaxUID
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    return (
        _deferred(ds)
        and not syntax.is_encapsulated
        and syntax.is_little_endian
        and not syntax.is_deflated
        and int(ds.get("BitsAllocated", 0) or 0) in (8, 16, 32, 64)
        # pydicom sign-extends signed samples narrower than their container; a map would not
        and (
            int(ds.get("PixelRepresentation", 0) or 0) == 0
            or ds.get("BitsStored") == ds.get("BitsAllocated")
        )
        and not photometric.startswith("YBR")
        and (
            int(ds.get("SamplesPerPixel", 1) or 1) == 1
            or int(ds.get("PlanarConfiguration", 0) or 0) == 0
        )
    )


def _map_raw(ds: Dataset, path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    from pydicom.pixels.utils import pixel_dtype

    elem = ds.get_item("PixelData", keep_deferred=True)
    dtype = pixel_dtype(ds)
    need = int(np.prod(shape)) * dtype.itemsize
    if elem.length < need or path.stat().st_size < elem.value_tell + need:
        return None  # truncated
    return np.memmap(path, dtype=dtype, mode="c", offset=elem.value_tell, shape=shape)


def _decode_to_map(source: Path | Dataset, shape: tuple[int, ...]) -> np.ndarray | None:
    from pydicom.pixels import iter_pixels

    frames = iter_pixels(source)
    first = next(frames)
    # The map keeps its own handle on the (already unlinked) file once this one closes.
    with tempfile.TemporaryFile() as backing:
        out = np.memmap(backing, dtype=first.dtype, mode="w+", shape=shape)
    count = 0
    for index, frame in enumerate(chain([first], frames)):
        if index >= shape[0]:
            break
        out[index] = frame.reshape(shape[1:])
        count += 1
    return out if count == shape[0] else None


class ArrayReader(io.BufferedIOBase):
    """A read-only, seekable byte stream over a contiguous array, padded to an even length.

    pydicom writes an element whose value is such a buffer by reading it in chunks, so a
    memory-mapped array goes to the output without a `bytes` copy of all of it.
    """

    def __init__(self, array: np.ndarray) -> None:
        """Stream the bytes of `array`, then a zero byte if their count is odd."""
        super().__init__()
        self._bytes = memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
        self._size = len(self._bytes) + len(self._bytes) % 2
        self._pos = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Always seekable."""
        return True

    def tell(self) -> int:
        """The current position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to `offset` from the start, the current position or the end."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        """Return the next `size` bytes (all that are left when negative or None)."""
        left = self._size - self._pos
        n = left if size is None or size < 0 else min(size, left)
        out = bytearray(max(0, n))
        self.readinto(out)
        return bytes(out)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Copy the next bytes into `buffer`; return how many (0 at the end)."""
        out = memoryview(buffer).cast("B")
        n = max(0, min(len(out), self._size - self._pos))
        real = max(0, min(n, len(self._bytes) - self._pos))
        out[:real] = self._bytes[self._pos : self._pos + real]
        out[real:n] = b"\x00" * (n - real)
        self._pos += n
        return n


def is_streamed(frames: np.ndarray) -> bool:
    """Whether frames are written as a stream: mapped (read from a large file), or that large."""
    return isinstance(frames, np.memmap) or frames.nbytes >= LARGE_BYTES


def stream_pixel_data(ds: Dataset, scan: Scan) -> None:
    """Set the Pixel Data of `ds` to the scan's frames as a stream, with the matching attributes.

    What `Dataset.set_pixel_data` does for arrays in memory, without its `bytes` copy: the
    frames are stored uncompressed, little endian, colour samples interleaved.
    """
    arr = scan.frames
    ds.Rows, ds.Columns = scan.height, scan.width
    ds.SamplesPerPixel = scan.samples
    ds.PhotometricInterpretation = scan.photometric
    if scan.samples > 1:
        ds.PlanarConfiguration = 0
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    if scan.n_frames > 1:
        ds.NumberOfFrames = scan.n_frames
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = scan.bits_stored
    ds.HighBit = scan.bits_stored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    if not arr.dtype.isnative or arr.dtype.byteorder == ">":
        raise ValueError("frames must be native little-endian to be streamed")
    from pydicom.dataelem import DataElement

    # A new element, not a new value for the old one: pydicom would first read a deferred
    # old value into memory (the whole pixel data) just to replace it.
    if PIXEL_DATA in ds:
        del ds[PIXEL_DATA]
    vr = "OB" if arr.dtype.itemsize == 1 else "OW"
    ds[PIXEL_DATA] = DataElement(PIXEL_DATA, vr, ArrayReader(arr))
