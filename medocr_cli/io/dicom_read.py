"""DICOM reading: a file decoded into a `Scan`, following the pixel rules of DESIGN.md.

Pixels are decoded with pydicom and the pylibjpeg plugins; the layout comes from Samples per
Pixel and Number of Frames, never from the array's ndim. Large pixel data is mapped, not loaded
(`io/dicom_large.py`). No error message quotes a header value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut
from pydicom.pixels.common import PhotometricInterpretation
from pydicom.uid import UID, ExplicitVRLittleEndian, UID_dictionary

from medocr_cli.errors import InputFileError, UnsupportedError, error_origin
from medocr_cli.io.dicom_large import is_large, map_frames, read_deferred
from medocr_cli.io.dicom_passthrough import source_frames
from medocr_cli.io.dicom_quiet import quiet
from medocr_cli.io.scan import Scan

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
    with quiet():
        return _read_dicom(path)


def _read_dicom(path: Path) -> Scan:
    try:
        ds = read_deferred(path)
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
        source=source_frames(ds, frames, path),
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
