"""Plain result types shared by the stages, the pipeline and the CLI, and a rectangle helper."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of one input file in a folder run."""

    OK = "ok"
    FLAGGED = "flagged"
    FAILED = "failed"
    SKIPPED = "skipped"


class OutputSyntax(StrEnum):
    """How a DICOM output's pixel data is stored; always lossless (see `io/dicom_encode.py`).

    `keep` keeps the input's transfer syntax when it is lossless and can be encoded here, else
    writes the smallest lossless codec; `explicit` writes uncompressed; the others name a codec.
    """

    KEEP = "keep"
    EXPLICIT = "explicit"
    RLE = "rle"
    JPEG_LS = "jpeg-ls"
    JPEG2000 = "jpeg2000"


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


@dataclass(slots=True)
class FileResult:
    """What happened to one input file; one line of the scrub report.

    Attributes:
        path: Input path as given (relative to the input root in folder runs).
        status: ok, flagged, failed or skipped.
        output: Where the cleaned file was written, if it was.
        frames: Number of frames in the file.
        boxes: Number of text boxes removed.
        seconds: Wall time spent on the file.
        error: One-line reason for failed or skipped files.
    """

    path: str
    status: Status
    output: str | None = None
    frames: int = 0
    boxes: int = 0
    seconds: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the report line as a JSON-ready dict."""
        out = asdict(self)
        out["status"] = str(self.status)
        out["seconds"] = round(self.seconds, 3)
        extra = out.pop("extra")
        out.update(extra)
        return out


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
