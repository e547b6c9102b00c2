"""Plain result types shared by the stages, the pipeline and the CLI, and a rectangle helper."""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from enum import Enum, StrEnum
from typing import Any, Final, Literal, Protocol, TypeVar


class Label(StrEnum):
    """What text a frame or an image holds: none, printed (P), handwritten (H) or both (PH).

    The classifier's four classes, the dataset's labels and the routing of every stage; the
    values are the strings that reports, manifests and checkpoints have always carried.
    """

    NONE = "None"
    P = "P"
    H = "H"
    PH = "PH"

    @classmethod
    def of(cls, printed: bool, handwritten: bool) -> Label:
        """The label of a frame with (or without) printed and handwritten text."""
        return {(False, False): cls.NONE, (True, False): cls.P, (False, True): cls.H}.get(
            (printed, handwritten), cls.PH
        )


#: The four labels as plain strings, in the classifier's class order.
LABELS: tuple[str, ...] = tuple(label.value for label in Label)


class Status(StrEnum):
    """Outcome of one input file in a folder run."""

    OK = "ok"
    FLAGGED = "flagged"
    FAILED = "failed"
    SKIPPED = "skipped"


class OutputSyntax(StrEnum):
    """How a DICOM output's pixel data is stored; never adds loss (see `io/dicom_encode.py`).

    `keep` keeps a compressed input's own encoded frames when the cleaning changed no pixel
    (`io/dicom_passthrough.py`: lossy ones too, since nothing is re-encoded), else the input's
    transfer syntax when it is lossless and can be encoded here, else the smallest lossless
    codec; `explicit` writes uncompressed; the others name a codec.
    """

    KEEP = "keep"
    EXPLICIT = "explicit"
    RLE = "rle"
    JPEG_LS = "jpeg-ls"
    JPEG2000 = "jpeg2000"


class Device(StrEnum):
    """Where models run: a GPU when there is one (auto), the CPU, or CUDA (an error without)."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class FindMethod(StrEnum):
    """How `scrub` finds text: the learned detector, or whole-frame Tesseract (classical)."""

    LEARNED = "learned"
    TESSERACT = "tesseract"


class TesseractMode(StrEnum):
    """Tesseract's part in `--find learned`."""

    REGIONS = "regions"
    FULL = "full"
    OFF = "off"


class InpaintMethod(StrEnum):
    """How removed text is filled: the learned inpainter, OpenCV's Telea or Navier-Stokes."""

    AUTO = "auto"
    LEARNED = "learned"
    TELEA = "telea"
    NS = "ns"


class HeaderProfile(StrEnum):
    """What happens to a DICOM header: only the pixel-cleaning marks, or Annex E Basic."""

    KEEP = "keep"
    BASIC = "basic"


class FlaggedMode(StrEnum):
    """Where `scrub` puts an output whose verification still found text."""

    QUARANTINE = "quarantine"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class Box:
    """One region of text found in one frame.

    Attributes:
        frame: Index of the frame the box lies in (0 for single-frame images).
        x0: Left edge, inclusive, in pixels of the frame.
        y0: Top edge, inclusive.
        x1: Right edge, exclusive.
        y1: Bottom edge, exclusive.
        text: The recognised text; sensitive, never logged unless the user asks.
        kind: "printed" or "handwritten".
        score: Confidence in [0, 1].
        source: Which extractor found it ("tesseract", "detector", ...).
    """

    frame: int
    x0: int
    y0: int
    x1: int
    y1: int
    text: str = ""
    kind: str = "printed"
    score: float = 1.0
    source: str = ""

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.y1 - self.y0

    def to_json(self, *, with_text: bool = True) -> dict[str, Any]:
        """Return the JSON shape used by `extract` and `merge`: box as [x0, y0, x1, y1]."""
        out: dict[str, Any] = {
            "frame": self.frame,
            "box": [self.x0, self.y0, self.x1, self.y1],
            "kind": self.kind,
            "score": round(float(self.score), 4),
            "source": self.source,
        }
        if with_text:
            out["text"] = self.text
        return out


class Absent(Enum):
    """Marks a report field that is left out of the line where null is a value of its own."""

    ABSENT = "absent"


#: The value of `FileResult.label` and `.site_rule` while they are not recorded (left out of the
#: report line; None there is written as null).
ABSENT: Final = Absent.ABSENT

#: The fields every report line holds, null or not; the others are left out while at their default.
_ALWAYS = frozenset({"path", "status", "output", "frames", "boxes", "seconds", "error"})


@dataclass(slots=True)
class FileResult:
    """What happened to one input file; one line of the scrub report (`to_json`).

    The first seven fields are in every line. Each of the others is left out of the line
    while it holds its default (None, `ABSENT` for the two where null is a value, False for
    `resumed`); the line holds them in the order below.

    Attributes:
        path: Input path as given (relative to the input root in folder runs).
        status: ok, flagged, failed or skipped.
        output: Where the cleaned file was written, if it was.
        frames: Number of frames in the file.
        boxes: Number of text boxes removed.
        seconds: Wall time spent on the file (written rounded to ms).
        error: One-line reason for failed, flagged or skipped files.
        input_size: The input's size in bytes when it was read (`--resume` compares it).
        input_mtime_ns: The input's modification time, ns (`--resume` compares it).
        site_rule: Name of the site rule that matched the image, None (null) when none did;
            recorded only in runs with a site config.
        frames_reused: Frames byte-identical to an earlier frame, whose mask was reused.
        kept_non_text: Regions the finder proposed that the confirm step kept as non-text.
        key_frames: In a multi-frame file searched by the learned finder, the frames searched
            in full (key frames); the others took the key frame's decisions where their pixels
            had not changed (`pipeline/scrub/key_frames.py`).
        regions_reused: Regions taken unchanged from a key frame, summed over frames.
        pixels_copied: Hole pixels that took a key frame's fill instead of a new one.
        label: The classifier's label of the file (P, H, PH, None), None (null) when no
            classifier ran; recorded once every frame was searched.
        fallback_frames: Frames where the finder fell back to its other reader.
        regions: Removed regions, [frame, x0, y0, x1, y1] each (coordinates only, no text);
            verify's repaired regions are added after the finder's.
        texts: The text read, {frame, box: [x0, y0, x1, y1], text} each; only with
            `report_text` (sensitive).
        stage_seconds: Seconds per step (read, the finder's steps, mask, inpaint, write,
            verify), rounded to 0.1 ms.
        verified: Whether the output was searched again after cleaning.
        repaired: Regions verify found and repainted (the safety net), when it found any.
        residual: Regions still found after the repair: the file is flagged.
        residual_regions: Those regions, [frame, x0, y0, x1, y1] each.
        quarantined: Where a flagged output was moved instead of `output`.
        kept: Where `serve` moved the received file of a failed instance aside.
        forward: `serve`'s forwarding state of a cleaned instance (queued, ...).
        forward_to: The destination it is forwarded to.
        resumed: The file was finished by an earlier run (`--resume`); such a line carries
            only input_size, input_mtime_ns, frames_reused and verified over from it.
    """

    path: str
    status: Status
    output: str | None = None
    frames: int = 0
    boxes: int = 0
    seconds: float = 0.0
    error: str | None = None
    input_size: int | None = None
    input_mtime_ns: int | None = None
    site_rule: str | Literal[Absent.ABSENT] | None = ABSENT
    frames_reused: int | None = None
    kept_non_text: int | None = None
    key_frames: int | None = None
    regions_reused: int | None = None
    pixels_copied: int | None = None
    label: str | Literal[Absent.ABSENT] | None = ABSENT
    fallback_frames: int | None = None
    regions: list[list[int]] | None = None
    texts: list[dict[str, Any]] | None = None
    stage_seconds: dict[str, float] | None = None
    verified: bool | None = None
    repaired: int | None = None
    residual: int | None = None
    residual_regions: list[list[int]] | None = None
    quarantined: str | None = None
    kept: str | None = None
    forward: str | None = None
    forward_to: str | None = None
    resumed: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the report line as a JSON-ready dict (a copy: nothing in it is shared)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _ALWAYS or value is not f.default:
                out[f.name] = copy.deepcopy(value)
        out["status"] = str(self.status)
        out["seconds"] = round(self.seconds, 3)
        return out


def box_area(b: Box) -> int:
    """A box's area in pixels (0 for an empty or inverted box)."""
    return max(0, b.width) * max(0, b.height)


def box_intersection(a: Box, b: Box) -> int:
    """The area two boxes share, in pixels (their frames are not compared)."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0


def box_coverage(a: Box, b: Box) -> float:
    """Fraction of `a`'s area that lies inside `b` (0 for an empty `a`)."""
    area = box_area(a)
    return box_intersection(a, b) / area if area > 0 else 0.0


def join_overlapping(rects: list[list[int]]) -> list[list[int]]:
    """Merge rectangles that overlap into their union until none do; the rest keep their order.

    A rectangle is (lo0, lo1, hi0, hi1), half-open: x0, y0, x1, y1 or top, left, bottom,
    right alike. The input list is not changed.
    """
    rects = [list(r) for r in rects]
    merged = True
    while merged:
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, c = rects[i], rects[j]
                if a[0] < c[2] and c[0] < a[2] and a[1] < c[3] and c[1] < a[3]:
                    rects[i] = [min(a[0], c[0]), min(a[1], c[1]), max(a[2], c[2]), max(a[3], c[3])]
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return rects


R_contra = TypeVar("R_contra", contravariant=True)


class Progress(Protocol[R_contra]):
    """What every `run_<command>(config, progress)` reports through (the CLI draws a bar).

    `start` once with the number of items the run will go through (files, images, frames,
    epochs), then `advance` with each item's result as it completes. The CLI passes
    `cli.progress_bar.Bar`; tests and embedding callers pass a recorder or nothing.
    """

    def start(self, total: int) -> None:
        """Called once with the number of items the run will go through."""

    def advance(self, result: R_contra) -> None:
        """Called after each item, with what it produced."""


def notify_start(progress: Progress[R_contra] | None, total: int) -> None:
    """`progress.start(total)` when there is a progress."""
    if progress is not None:
        progress.start(total)


def notify_advance(progress: Progress[R_contra] | None, result: R_contra) -> None:
    """`progress.advance(result)` when there is a progress."""
    if progress is not None:
        progress.advance(result)
