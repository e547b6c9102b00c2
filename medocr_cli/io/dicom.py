"""DICOM read, render and write-back, following the pixel rules of DESIGN.md (PS3.15 Annex E).

Pixels are decoded with pydicom and the pylibjpeg plugins; the layout comes from Samples per
Pixel and Number of Frames, never from the array's ndim. Edited values are written back in the
stored dtype with `Dataset.set_pixel_data`, then, as the output syntax asks, encoded with a
lossless codec (`io/dicom_encode.py`), so nothing is ever silently made lossy.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import FileMetaDataset, validate_file_meta
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.pixels.common import PhotometricInterpretation
from pydicom.sequence import Sequence
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
    SecondaryCaptureImageStorage,
    UID_dictionary,
    generate_uid,
)

from medocr_cli import __version__
from medocr_cli.errors import InputFileError, UnsupportedError, error_origin
from medocr_cli.io.atomic import atomic_path
from medocr_cli.io.dicom_encode import encode_scan, plan_syntax
from medocr_cli.io.dicom_large import LARGE_BYTES, is_large, map_frames, stream_pixel_data
from medocr_cli.io.render import to_uint8
from medocr_cli.io.scan import Scan

CLEAN_PIXEL_CODE = ("113101", "DCM", "Clean Pixel Data Option")
DEID_METHOD = f"medocr {__version__}: burned-in text removed"
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: Elements any real DICOM object has; a forced read of random bytes finds none of them.
_IDENTIFYING = ("SOPClassUID", "SOPInstanceUID", "Modality", "Rows", "StudyInstanceUID")


def read_dicom(path: Path) -> Scan:
    """Read and decode a DICOM file into a `Scan`.

    No message quotes a header value or the text of a pydicom/NumPy exception (either can hold
    patient data): a bad attribute is named by its keyword with what was expected, a decoder
    failure by its type and module. pydicom's warnings (which quote values) are silenced.

    Raises:
        InputFileError: Not DICOM, truncated, without pixel data, or with a pixel-describing
            attribute (Rows, BitsStored, PhotometricInterpretation...) that cannot be used.
        UnsupportedError: Pixel data in a transfer syntax or layout that cannot be decoded.
    """
    with _quiet():
        return _read_dicom(path)


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence pydicom's warnings and log records: they quote invalid header values."""
    logger, drop = logging.getLogger("pydicom"), _Drop()
    logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.removeFilter(drop)


def _read_dicom(path: Path) -> Scan:
    try:
        ds = pydicom.dcmread(path, force=True, defer_size=LARGE_BYTES)
        meta = getattr(ds, "file_meta", None)
        syntax = UID(str(meta.get("TransferSyntaxUID", ""))) if meta is not None else UID("")
        if syntax.is_transfer_syntax and syntax.is_deflated:
            ds = pydicom.dcmread(path, force=True)  # a deferred read cannot re-inflate
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(
            f"not a readable DICOM file, truncated or damaged ({error_origin(exc)})", path=path
        ) from None
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        if len(ds) == 0 or (ds.preamble is None and not any(k in ds for k in _IDENTIFYING)):
            raise InputFileError(
                "not DICOM, or damaged: no DICOM elements could be read", path=path
            )
        raise InputFileError(
            "DICOM file has no pixel data", hint="it holds no image, nothing to clean", path=path
        )
    if "PixelData" not in ds:
        raise UnsupportedError("float pixel data is not supported", path=path)
    _ensure_file_meta(ds)
    pixel = _pixel_attributes(ds, path)
    samples = pixel["SamplesPerPixel"]
    shape = (pixel["NumberOfFrames"], pixel["Rows"], pixel["Columns"])
    shape += (samples,) if samples > 1 else ()
    photometric = _photometric(ds, path)
    try:
        arr = map_frames(ds, path, shape) if is_large(ds, shape) else None
        if arr is None:
            arr = ds.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        raise UnsupportedError(
            f"cannot decode pixel data ({syntax_name(ds)}; {error_origin(exc)})",
            hint="the data may be damaged, or use a codec pydicom's plugins do not decode",
            path=path,
        ) from None
    except Exception as exc:  # pydicom raises many types for damaged data
        raise InputFileError(
            f"damaged pixel data: it does not decode as the header describes ({error_origin(exc)})",
            path=path,
        ) from None

    if arr.size != int(np.prod(shape)):
        raise InputFileError(
            f"pixel data holds {arr.size} samples, the header promises {shape}", path=path
        )
    frames = arr.reshape(shape)
    if not frames.dtype.isnative:
        frames = frames.astype(frames.dtype.newbyteorder("="))
    if photometric.startswith("YBR") and samples == 3:
        photometric = "RGB"  # pydicom converts YCbCr to RGB on decode
    palette = None
    if photometric == "PALETTE COLOR":
        palette = _palette_rgb(ds, path)
    bits_stored = pixel["BitsStored"] or arr.dtype.itemsize * 8
    return Scan(
        path=path,
        format="dicom",
        frames=frames,
        photometric=photometric,
        bits_stored=bits_stored,
        signed=pixel["PixelRepresentation"] == 1,
        dataset=ds,
        palette=palette,
    )


#: Pixel-describing attributes read as integers: (default when absent or empty, allowed values;
#: None allows any integer from 0). A BitsStored of 0 means "absent": the decoded dtype decides.
_PIXEL_INTS: dict[str, tuple[int, tuple[int, ...] | None]] = {
    "Rows": (0, None),
    "Columns": (0, None),
    "NumberOfFrames": (1, None),
    "SamplesPerPixel": (1, None),
    "BitsAllocated": (0, None),
    "BitsStored": (0, None),
    "PixelRepresentation": (0, (0, 1)),
    "PlanarConfiguration": (0, (0, 1)),
}


def _pixel_attributes(ds: Dataset, path: Path) -> dict[str, int]:
    """Read the integers that lay out the pixel data, naming (never quoting) a bad one.

    Raises:
        InputFileError: An attribute is missing where required, not one integer, or out of range.
    """
    values: dict[str, int] = {}
    for keyword, (default, allowed) in _PIXEL_INTS.items():
        expected = "0 or 1" if allowed else "a positive integer"
        try:
            value = ds.get(keyword)
            if not isinstance(value, str) and hasattr(value, "__len__"):
                raise TypeError  # several values, or bytes pydicom could not read as a number
            number = default if value is None or str(value).strip() == "" else int(value)
        except (ValueError, TypeError, OverflowError, KeyError, AttributeError):
            raise InputFileError(
                f"damaged image header: {keyword} is not {expected}", path=path
            ) from None
        if keyword in ("NumberOfFrames", "SamplesPerPixel") and number == 0:
            number = 1  # some writers put 0 in single-frame or grey files
        if (allowed is not None and number not in allowed) or (allowed is None and number < 0):
            raise InputFileError(f"damaged image header: {keyword} is not {expected}", path=path)
        values[keyword] = number
    for keyword in ("Rows", "Columns"):
        if values[keyword] < 1:
            raise InputFileError(
                f"damaged image header: {keyword} is missing or not a positive integer", path=path
            )
    return values


_PHOTOMETRICS = frozenset(str(p.value) for p in PhotometricInterpretation)


def _photometric(ds: Dataset, path: Path) -> str:
    """The Photometric Interpretation, upper case; MONOCHROME2 when absent.

    Raises:
        InputFileError: It is not one of the values DICOM defines (the value is not quoted).
    """
    try:
        value = ds.get("PhotometricInterpretation")
    except (ValueError, TypeError, KeyError):
        value = b""  # present but unreadable
    if value is None or (isinstance(value, str) and not value.strip()):
        return "MONOCHROME2"
    text = value.strip().upper() if isinstance(value, str) else ""
    if text not in _PHOTOMETRICS:
        raise InputFileError(
            "damaged image header: PhotometricInterpretation is not a defined term "
            "(MONOCHROME1, MONOCHROME2, PALETTE COLOR, RGB, YBR_FULL, ...)",
            path=path,
        )
    return text


def _ensure_file_meta(ds: Dataset) -> None:
    """Give a dataset read without a file meta header the elements decoding and writing need."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        ds.file_meta = meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding
        from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

        if implicit:
            meta.TransferSyntaxUID = ImplicitVRLittleEndian
        else:
            meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _palette_rgb(ds: Dataset, path: Path) -> np.ndarray:
    """Return the uint8 RGB colour of every palette index (index -> row)."""
    bits = int(ds.get("BitsStored", 8) or 8)  # checked by `_pixel_attributes`
    for colour in ("Red", "Green", "Blue"):
        keyword = f"{colour}PaletteColorLookupTableDescriptor"
        try:
            descriptor = [int(v) for v in ds[keyword].value]
        except Exception:  # absent is reported by the LUT step below
            if keyword in ds:
                raise InputFileError(
                    f"damaged image header: {keyword} is not three integers", path=path
                ) from None
            continue
        if len(descriptor) != 3:
            raise InputFileError(
                f"damaged image header: {keyword} is not three integers", path=path
            )
    try:
        indices = np.arange(1 << min(bits, 16), dtype=np.uint16 if bits > 8 else np.uint8)
        rgb = apply_color_lut(indices, ds)
    except Exception as exc:
        raise UnsupportedError(
            f"unusable palette colour lookup table ({error_origin(exc)})", path=path
        ) from None
    if rgb.dtype != np.uint8:
        rgb = (
            (rgb.astype(np.uint32) >> 8).astype(np.uint8)
            if rgb.max() > 255
            else rgb.astype(np.uint8)
        )
    return np.ascontiguousarray(rgb)


def render_grey(ds: Dataset, frame: np.ndarray, index: int, photometric: str) -> np.ndarray:
    """Render one grey frame: modality LUT, VOI LUT or window, MONOCHROME1 inverted, 8-bit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = apply_modality_lut(frame, ds)
            if any(k in ds for k in ("WindowCenter", "VOILUTSequence")):
                values = apply_voi_lut(values, ds, index=0)
        except Exception:
            values = frame  # a broken LUT must not stop detection: fall back to min-max
    out = to_uint8(values)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out


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
    kept (unless `header` replaces it) and the file meta made consistent with it. The dataset
    held by `scan` is updated in place.

    Args:
        scan: The scan, with its (edited) frames.
        target: Output file path.
        cleaned: Mark the file as pixel-cleaned (see `mark_cleaned`).
        header: Optional header de-identification step (e.g. `deid_header.HeaderDeidentifier`),
            run on the dataset after the pixel marks and before the file meta is synchronised.
        output_syntax: An `OutputSyntax` value: "keep" (the input's syntax when lossless and
            writable here, else the smallest lossless codec, else deflated), "explicit"
            (uncompressed; the default here, so library callers get what they always got),
            "rle", "jpeg-ls" or "jpeg2000" (uncompressed when the codec cannot hold the
            frames).

    Raises:
        InputFileError: A header element of the input cannot be parsed to be written again
            (named by keyword, its value never quoted).
        UsageError: `output_syntax` is not one of the modes.
    """
    with _quiet():
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
    had_frames = "NumberOfFrames" in ds
    n_frames_value = ds.get("NumberOfFrames")
    arr = scan.frames if scan.n_frames > 1 else scan.frames[0]
    big_endian_source = not ds.original_encoding[1]
    streamed = isinstance(scan.frames, np.memmap) or scan.frames.nbytes >= LARGE_BYTES
    plan = plan_syntax(output_syntax, ds.file_meta.TransferSyntaxUID, streamed=streamed)
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


def mark_cleaned(ds: Dataset) -> None:
    """Record pixel cleaning in the header and drop the other places pixels can hide text.

    Sets BurnedInAnnotation NO, appends to DeidentificationMethod and its code sequence (113101,
    Clean Pixel Data Option), removes overlay groups (60xx) and the Icon Image Sequence.
    """
    ds.BurnedInAnnotation = "NO"
    elem = ds.get("DeidentificationMethod")
    values = [] if elem is None else [elem] if isinstance(elem, str) else list(elem)
    if DEID_METHOD not in values:
        values.append(DEID_METHOD)
    ds.DeidentificationMethod = values if len(values) > 1 else values[0]
    codes = ds.get("DeidentificationMethodCodeSequence") or Sequence()
    if not any(getattr(item, "CodeValue", None) == CLEAN_PIXEL_CODE[0] for item in codes):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = CLEAN_PIXEL_CODE
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    _drop_overlays_and_icons(ds)


def _drop_overlays_and_icons(ds: Dataset) -> None:
    """Remove overlay groups (60xx) and Icon Image Sequences, in `ds` and every sequence item.

    Overlays and icons are pixels too (an overlay's label or description can name the
    patient), and a sequence item can carry them as well as the top level.
    """
    for tag in [e.tag for e in ds if 0x6000 <= e.tag.group <= 0x601E and e.tag.group % 2 == 0]:
        del ds[tag]
    if "IconImageSequence" in ds:
        del ds.IconImageSequence
    for elem in ds:
        if elem.VR == "SQ" and elem.value:
            for item in elem.value:
                _drop_overlays_and_icons(item)


def syntax_name(ds: Dataset) -> str:
    """The name of the dataset's transfer syntax, or "an unknown transfer syntax".

    Never the UID itself when it is not a known syntax: pydicom's `UID.name` returns the raw
    value then, and a damaged or hostile header can put any text there.
    """
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    entry = UID_dictionary.get(str(uid)) if uid is not None else None
    if entry is None or entry[1] != "Transfer Syntax":
        return "an unknown transfer syntax"
    return str(entry[0])


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
