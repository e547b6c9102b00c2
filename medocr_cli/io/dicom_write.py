"""DICOM writing: a `Scan`'s (edited) frames put back into its dataset and saved atomically.

Edited values are written back in the stored dtype with `Dataset.set_pixel_data` (32-bit
samples by hand), then, as the output syntax asks, encoded with a lossless codec
(`io/dicom_encode.py`), so nothing is ever silently made lossy. Under `keep`, a compressed
input whose frames all came through unchanged keeps its own encoded frames, syntax and pixel
attributes instead (`io/dicom_passthrough.py`): a lossy input is not inflated 2-8x by a
lossless re-encode. Large frames are streamed (`io/dicom_large.py`); the pixel-cleaning marks
come from `io/dicom_marks.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import validate_file_meta
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from medocr_cli.errors import InputFileError
from medocr_cli.io.atomic import atomic_path
from medocr_cli.io.dicom_encode import Encoded, SyntaxPlan, encode_scan, plan_syntax
from medocr_cli.io.dicom_large import is_streamed, stream_pixel_data
from medocr_cli.io.dicom_marks import mark_cleaned
from medocr_cli.io.dicom_passthrough import unchanged_pixel_data
from medocr_cli.io.dicom_quiet import quiet
from medocr_cli.types import OutputSyntax

if TYPE_CHECKING:
    from medocr_cli.io.scan import Scan


def write_dicom(
    scan: Scan,
    target: Path,
    *,
    cleaned: bool = True,
    header: Callable[[Dataset], None] | None = None,
    output_syntax: str = "explicit",
) -> None:
    """Write the scan's frames back into its dataset and save it to `target` atomically.

    The transfer syntax is chosen by `output_syntax` (see `dicom_encode.plan_syntax`; always
    lossless), YBR data is labelled RGB (YBR_RCT inside JPEG 2000), the SOP Instance UID is
    kept (unless `header` replaces it) and the file meta made consistent with it. Under
    `keep`, a compressed input none of whose frames changed is written with its own encoded
    frames (`dicom_passthrough.unchanged_pixel_data`, checked to decode to exactly the
    frames), so its syntax, Photometric Interpretation (YBR stays YBR) and size are kept. The
    dataset held by `scan` is updated in place.

    Args:
        scan: The scan, with its (edited) frames.
        target: Output file path.
        cleaned: Mark the file as pixel-cleaned (see `mark_cleaned`).
        header: Optional header de-identification step (e.g. `deid_header.HeaderDeidentifier`),
            run on the dataset after the pixel marks and before the file meta is synchronised.
        output_syntax: An `OutputSyntax` value: "keep" (an unchanged compressed input's own
            frames; else the input's syntax when lossless and writable here, else the
            smallest lossless codec, else deflated), "explicit" (uncompressed; the default
            here, so library callers get what they always got), "rle", "jpeg-ls" or
            "jpeg2000" (uncompressed when the codec cannot hold the frames).

    Raises:
        InputFileError: A header element of the input cannot be parsed to be written again
            (named by keyword, its value never quoted).
        UsageError: `output_syntax` is not one of the modes.
    """
    with quiet():
        _write_dicom(scan, target, cleaned=cleaned, header=header, output_syntax=output_syntax)


def _write_dicom(
    scan: Scan,
    target: Path,
    *,
    cleaned: bool,
    header: Callable[[Dataset], None] | None,
    output_syntax: str,
) -> None:
    ds = scan.dataset
    assert ds is not None
    big_endian_source = not ds.original_encoding[1]
    streamed = is_streamed(scan.frames)
    plan = plan_syntax(output_syntax, ds.file_meta.TransferSyntaxUID, streamed=streamed)
    kept = unchanged_pixel_data(ds, scan) if output_syntax == OutputSyntax.KEEP else None
    if kept is not None:
        syntax = _keep_pixel_data(ds, scan.path, kept)
    else:
        syntax = _store_frames(ds, scan, plan, streamed=streamed)
    if big_endian_source:
        _swap_binary_words(ds)
        ds.set_original_encoding(syntax.is_implicit_VR, True)  # the words are little endian now
    if cleaned:
        mark_cleaned(ds)
    if header is not None:
        header(ds)
    _sync_file_meta(ds)
    with atomic_path(target) as tmp:
        pydicom.dcmwrite(
            tmp,
            ds,
            implicit_vr=syntax.is_implicit_VR,
            little_endian=True,
            force_encoding=True,
        )


def _keep_pixel_data(ds: Dataset, path: Path, kept: Encoded) -> UID:
    """Write the input's own (checked) encoded frames: its syntax and pixel attributes stay.

    Nothing was decoded and encoded again, so a header saying LossyImageCompression "00" (a
    reversible JPEG 2000 or JPEG-LS NEAR=0 stored under a lossy-capable syntax) keeps it; any
    other gets "01" and the method from a lossy-capable syntax when it lacks them, as a
    re-encoded one does. No new lossy step is added.
    """
    kept.apply(ds)  # before the elements are parsed, so a deferred Pixel Data is never loaded
    _parse_all(ds, path)
    if kept.syntax in LOSSY_SYNTAXES and ds.get("LossyImageCompression") != "00":
        _record_lossy_history(ds, kept.syntax)
    return kept.syntax


def _store_frames(ds: Dataset, scan: Scan, plan: SyntaxPlan, *, streamed: bool) -> UID:
    """Put the scan's frames into `ds`, encoded as `plan` says; return the syntax written."""
    had_frames = "NumberOfFrames" in ds
    n_frames_value = ds.get("NumberOfFrames")
    arr = scan.frames if scan.n_frames > 1 else scan.frames[0]
    if streamed:  # before the elements are parsed, so a deferred Pixel Data is never loaded
        stream_pixel_data(ds, scan)
    _parse_all(ds, scan.path)  # every raw element now, so it is re-encoded, not copied as bytes
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax in LOSSY_SYNTAXES:
        _record_lossy_history(ds, syntax)
    syntax = ds.file_meta.TransferSyntaxUID = plan.fallback
    if not streamed and arr.dtype.itemsize <= 2:
        ds.set_pixel_data(
            np.ascontiguousarray(arr),
            scan.photometric,
            scan.bits_stored,
            generate_instance_uid=False,
        )
    elif not streamed:
        _set_wide_pixel_data(ds, arr, scan)
    if had_frames and "NumberOfFrames" not in ds:
        ds.NumberOfFrames = n_frames_value
    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if keyword in ds:  # only allowed with encapsulated (compressed) pixel data
            del ds[keyword]
    encoded = encode_scan(scan, plan.codecs, streamed=streamed) if plan.codecs else None
    if encoded is not None:
        encoded.apply(ds)
        syntax = encoded.syntax
    return syntax


def _parse_all(ds: Dataset, path: Path) -> None:
    """Parse every element of `ds` (nested ones too); name, never quote, one that cannot be.

    Raises:
        InputFileError: An element's bytes are not a valid value of its VR.
    """
    for tag in list(ds.keys()):
        try:
            elem = ds[tag]
        except Exception:  # pydicom's conversion errors quote the value
            keyword = keyword_for_tag(tag) or str(tag)
            raise InputFileError(
                f"damaged header: {keyword} does not hold a valid value of its type",
                hint="the file cannot be written back as it is",
                path=path,
            ) from None
        if elem.VR == "SQ":
            for item in elem.value:
                _parse_all(item, path)


def _set_wide_pixel_data(ds: Dataset, arr: np.ndarray, scan: Scan) -> None:
    """Store 32-bit samples, which `set_pixel_data` does not take, as native little-endian bytes."""
    data = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False)).tobytes()
    if len(data) % 2:
        data += b"\x00"
    ds.PixelData = data
    ds["PixelData"].VR = "OW"
    ds.PhotometricInterpretation = scan.photometric
    if scan.samples > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = scan.bits_stored
    ds.HighBit = scan.bits_stored - 1


#: Transfer syntaxes that may have lost information; decoding them must leave a trace in the header.
LOSSY_SYNTAXES = {
    JPEGBaseline8Bit: "ISO_10918_1",
    JPEGExtended12Bit: "ISO_10918_1",
    JPEGLSNearLossless: "ISO_14495_1",
    JPEG2000: "ISO_15444_1",
    HTJ2K: "ISO_15444_15",
}


def _record_lossy_history(ds: Dataset, syntax: str) -> None:
    """Keep the fact that the pixels went through lossy compression once they are stored raw."""
    if ds.get("LossyImageCompression") != "01":
        ds.LossyImageCompression = "01"
    if "LossyImageCompressionMethod" not in ds:
        ds.LossyImageCompressionMethod = LOSSY_SYNTAXES[syntax]


_WORD_SIZE = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}


def _swap_binary_words(ds: Dataset) -> None:
    """Byte-swap the binary words (LUT data and the like) of a dataset read as big endian.

    pydicom re-encodes parsed values when the endianness changes but copies OW/OL/OF/OD bytes
    as they are, which would scramble lookup tables. Pixel Data has already been replaced.
    """
    for elem in ds.iterall():
        size = _WORD_SIZE.get(str(elem.VR))
        if size is None or elem.tag == 0x7FE00010 or not isinstance(elem.value, bytes):
            continue
        if len(elem.value) % size == 0:
            elem.value = np.frombuffer(elem.value, f">u{size}").astype(f"<u{size}").tobytes()


def _sync_file_meta(ds: Dataset) -> None:
    """Make the file meta header agree with the dataset's SOP Class and Instance UIDs.

    The preamble is always written as zeros (it is no part of the dataset; it may carry text).
    """
    if "SOPClassUID" not in ds:
        ds.SOPClassUID = SecondaryCaptureImageStorage
    if "SOPInstanceUID" not in ds:
        ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    validate_file_meta(ds.file_meta, enforce_standard=True)
    ds.preamble = b"\x00" * 128  # never the input's: its 128 free bytes can hide anything
