"""No PHI outside the pixels (issue 24 part 4): messages, temp files and logged file names.

1. Error messages name a bad header attribute and what was expected, never its value, and an
   unexpected exception is reported by type and place, never by its text (which can quote a
   header value). A marker name is put into the parsed header attributes of DICOMs, read
   alone and in a whole `medocr scrub` run: it appears in no message, output or report.
2. Tesseract runs without writing the frame or the words it read into the temp folder.
3. File names with control characters (a terminal escape sequence, a newline) are shown
   escaped on the terminal and in `MedocrError.one_line()`; the report stays one line a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_images import write_png
from conftest import gradient, make_dicom
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import InputFileError, MedocrError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import REPORT_NAME
from medocr_cli.pipeline.find_text import read_stacked
from medocr_cli.pipeline.scrub import RunModels, ScrubConfig, run_scrub
from medocr_cli.stages.printed import read_printed
from medocr_cli.types import Status

#: A patient name as it could sit in a header element that medocr parses.
MARKER = "ZEBULON^QUIXWORTH"

runner = CliRunner()

# --- 1. header values never in messages ----------------------------------------------------------

_GREY = {"arr": gradient(16, 16, np.uint16, 0, 4000), "bits_stored": 12}
_RGB = {"arr": np.stack([gradient(16, 16)] * 3, axis=-1), "photometric": "RGB"}
_PALETTE = {"arr": gradient(16, 16), "photometric": "PALETTE COLOR"}

#: keyword -> (VR written, image): the marker replaces the element's value as raw bytes, so a
#: US element such as Rows holds text (explicit VR: the element is read with the VR written).
_MARKED: dict[str, tuple[str, dict]] = {
    "NumberOfFrames": ("IS", _GREY),
    "Rows": ("LO", _GREY),
    "Columns": ("LO", _GREY),
    "BitsAllocated": ("LO", _GREY),
    "BitsStored": ("LO", _GREY),
    "SamplesPerPixel": ("LO", _GREY),
    "PixelRepresentation": ("LO", _GREY),
    "PhotometricInterpretation": ("CS", _GREY),
    "PlanarConfiguration": ("LO", _RGB),
    "RedPaletteColorLookupTableDescriptor": ("LO", _PALETTE),
    "WindowCenter": ("DS", _GREY),
    "WindowWidth": ("DS", _GREY),
    "RescaleSlope": ("DS", _GREY),
    "RescaleIntercept": ("DS", _GREY),
}
#: Attributes that lay out the pixel data: reading must fail, naming the attribute.
_LAYOUT = [k for k in _MARKED if not k.startswith(("Window", "Rescale"))]


def _marked_dicom(folder: Path, keyword: str) -> Path:
    """A small DICOM whose `keyword` element holds MARKER (as raw bytes of the file)."""
    vr, image = _MARKED[keyword]
    path = folder / f"case{list(_MARKED).index(keyword):02d}.dcm"  # not named by the keyword
    make_dicom(path, **image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        value = MARKER.encode() + b" "  # even length
        ds[Tag(keyword)] = RawDataElement(Tag(keyword), vr, len(value), value, 0, False, True)
        ds.save_as(path)
    assert MARKER.encode() in path.read_bytes()
    return path


@pytest.mark.parametrize("keyword", _LAYOUT)
def test_read_never_quotes_a_header_value(keyword: str, tmp_path: Path, capfd) -> None:
    path = _marked_dicom(tmp_path, keyword)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(MedocrError) as info:
        warnings.simplefilter("always")
        read_scan(path)
    line = info.value.one_line()
    assert "ZEBULON" not in line, line
    assert str(path) in line and "\n" not in line
    assert isinstance(info.value, InputFileError), line
    assert keyword in info.value.message, "the message names the bad attribute"
    assert not [w for w in caught if "ZEBULON" in str(w.message)], "a warning quotes the value"
    out, err = capfd.readouterr()
    assert "ZEBULON" not in out + err


def test_scrub_run_never_shows_a_header_value(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    paths = {_marked_dicom(src, keyword): keyword for keyword in _MARKED}
    result = runner.invoke(app, ["scrub", str(src), str(out)])
    assert result.exit_code == 1, result.output
    shown = result.stdout + result.stderr
    assert "ZEBULON" not in shown, shown
    report = (out / REPORT_NAME).read_text(encoding="utf-8")
    assert "ZEBULON" not in report
    lines = {json.loads(line)["path"]: json.loads(line) for line in report.splitlines()}
    assert len(report.splitlines()) == len(paths) == len(lines)
    for path, keyword in paths.items():
        line = lines[str(path)]
        if keyword not in _LAYOUT:  # only the rendering falls back; the header is kept
            assert line["status"] == "ok", line
            continue
        assert line["status"] == "failed", line
        assert str(path) in line["error"] and "\n" not in line["error"]
        assert keyword in line["error"], "the message names the bad attribute"
        assert not (out / path.name).exists()
        assert sum(path.name in row for row in result.stderr.splitlines()) == 1, result.stderr


class BrokenFinder:
    """A finder double that fails with a message quoting a header value."""

    def find(self, frames, indices):
        int(MARKER)  # ValueError: invalid literal for int() with base 10: 'ZEBULON^QUIXWORTH'


def test_unexpected_error_is_reported_by_type_and_place(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_png(src / "a.png", size=96)
    summary = run_scrub(
        ScrubConfig(inputs=[src], output=tmp_path / "out", verify=False),
        models=RunModels(BrokenFinder(), "telea"),
    )
    (result,) = summary.results
    assert result.status == Status.FAILED
    error = result.error or ""
    assert "ZEBULON" not in error and "invalid literal" not in error, error
    assert error.startswith(f"{src / 'a.png'}: unexpected error ValueError at ")
    # the finder is called by the key-frame plan, the last medocr frame of the traceback
    assert "medocr_cli.pipeline.scrub.key_frames:" in error and "\n" not in error
    assert "ZEBULON" not in (tmp_path / "out" / REPORT_NAME).read_text(encoding="utf-8")


# --- 2. Tesseract leaves nothing in the temp folder ----------------------------------------------


def test_tesseract_writes_nothing_to_the_temp_folder(tmp_path: Path, monkeypatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    assert tempfile.gettempdir() == str(scratch)
    write_png(tmp_path / "a.png", size=160)
    frame = read_scan(tmp_path / "a.png").display(0)

    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(os.listdir(scratch))
            done.wait(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        boxes = read_printed(frame)
        stacked = read_stacked(frame, 0, boxes)
    finally:
        done.set()
        watcher.join()
    assert boxes and stacked, "the PHI lines are read"
    assert not seen, f"written to the temp folder while reading: {sorted(seen)}"
    assert os.listdir(scratch) == []


# --- 3. control characters in file names are escaped ---------------------------------------------

_ODD = "a\x1b[2Jb\nc"


def _control_chars(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) == "Cc" and ch != "\n"]


def test_one_line_escapes_control_characters_in_the_path() -> None:
    line = InputFileError("file is\nempty", path=f"/in/{_ODD}.dcm").one_line()
    assert "\n" not in line and not _control_chars(line)
    assert line == "/in/a\\x1b[2Jb\\nc.dcm: file is empty"


def test_scrub_escapes_odd_file_names(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / f"{_ODD}.png", size=96)
    (src / f"{_ODD}-empty.png").write_bytes(b"")
    result = runner.invoke(app, ["--verbose", "scrub", str(src), str(out), "--no-verify"])
    assert result.exit_code == 1, result.output
    for stream in (result.stdout, result.stderr):
        assert not _control_chars(stream), repr(stream)
    escaped = "a\\x1b[2Jb\\nc"
    failed = [row for row in result.stderr.splitlines() if row.startswith("failed")]
    assert len(failed) == 1 and f"{escaped}-empty.png" in failed[0], result.stderr
    assert f"{escaped}.png" in result.stderr  # the --verbose line of the cleaned file
    lines = (out / REPORT_NAME).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 2 and {Path(r["path"]).name for r in rows} == {
        f"{_ODD}.png",
        f"{_ODD}-empty.png",
    }
    assert (out / f"{_ODD}.png").exists()


def test_an_unknown_transfer_syntax_is_never_quoted(tmp_path: Path) -> None:
    """pydicom names an unknown syntax by its raw UID, which a hostile header fills with text."""
    path = tmp_path / "ts.dcm"
    ds = make_dicom(path, gradient(16, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns that it is no UID
        ds.file_meta.TransferSyntaxUID = MARKER
        ds.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=True)
    with pytest.raises(MedocrError) as info:
        read_scan(path)
    assert MARKER not in info.value.one_line()
    assert "an unknown transfer syntax" in info.value.one_line()
