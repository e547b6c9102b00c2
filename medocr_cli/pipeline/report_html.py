"""The human-review page of `medocr scrub`: before/after thumbnails of every changed image.

`OUT/medocr-report.html` shows, for each file whose pixels were repainted, the input and the
output side by side with the removed boxes drawn, so a person can check in a browser that the
text is gone and that nothing else was damaged. Flagged files come first because they are the
ones that need a look. The page is plain HTML with inline CSS and relative image paths
(`_report/<hash>.before.jpg`), so it opens from disk and stays valid when the folder is moved.
It never contains recognised text: only paths, counts, labels and pixels.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medocr_cli.errors import error_origin
from medocr_cli.io import read_scan
from medocr_cli.io.atomic import atomic_path
from medocr_cli.types import ABSENT, FileResult, Status

REPORT_NAME = "medocr-report.html"
THUMB_DIR = "_report"

#: Outline colours (RGB): the removed boxes on the input, the repainted areas on the output.
_BEFORE_COLOUR = (255, 0, 0)
_AFTER_COLOUR = (255, 64, 64)
#: Outline of the text verify still found in a flagged output (full-resolution view).
_RESIDUAL_COLOUR = (255, 220, 0)
#: Flagged frames shown at full resolution per file at most (the first ones).
MAX_FLAGGED_FRAMES = 16
_JPEG_QUALITY = 85

_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.summary { font-size: 1.05em; margin-bottom: 1em; }
.card { background: #fff; border: 1px solid #ccc; border-radius: 4px; padding: 0.6em;
        margin: 0 0 1em 0; }
.card.flagged { border: 2px solid #d33; }
.path { font-family: monospace; word-break: break-all; font-weight: bold; }
.meta { font-size: 0.9em; color: #444; margin: 0.3em 0; }
.pair { display: flex; gap: 1em; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 0.85em; color: #555; }
img { border: 1px solid #999; image-rendering: pixelated; }
.note { color: #a40; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
td.path { font-weight: normal; }
.st-flagged { color: #c00; font-weight: bold; } .st-failed { color: #900; }
"""


@dataclass(frozen=True, slots=True)
class _Entry:
    """One file shown on the page: its result, the boxes to draw and the image to compare to."""

    index: int
    result: FileResult
    regions: tuple[tuple[int, int, int, int, int], ...]
    after: Path | None


def write_html_report(
    output: Path, results: Sequence[FileResult], *, thumb: int = 256, limit: int = 2000
) -> Path:
    """Write `OUT/medocr-report.html` and its thumbnails under `OUT/_report/`; return its path.

    Every ok or flagged file with removed regions gets a card with two thumbnails of the first
    frame that has regions: the input with the boxes outlined in red, and the output (or the
    quarantined copy of a flagged output) with the same boxes in a thin outline, so the reviewer
    sees where pixels were repainted. Flagged files are always shown (with or without regions)
    and come first; the others follow in input order. Failed files are listed in a table
    without thumbnails. A file that cannot be read gets a one-line note instead of thumbnails,
    so one bad file never stops the report.

    Args:
        output: The scrub output folder; the page and `_report/` are written inside it.
        results: One result per input file, in input order.
        thumb: Longest side of a thumbnail in pixels; larger images are shrunk (aspect kept),
            smaller ones are shown at their own size rather than enlarged.
        limit: At most this many cards get thumbnails; the rest are listed as text with a note
            saying how many were left out, so a 10,000-file run still opens in a browser.

    Returns:
        The path of the HTML page.

    Raises:
        OutputError: The page or a thumbnail cannot be written (disk full, no permission).
    """
    output = Path(output)
    thumb = max(int(thumb), 16)
    limit = max(int(limit), 0)
    thumb_dir = output / THUMB_DIR
    entries = _entries(results)
    shown, left_out = entries[:limit], entries[limit:]

    written: set[str] = set()
    cards: list[str] = []
    used: set[str] = set()
    for entry in shown:
        stem = _thumb_stem(entry.result.path, used)
        cards.append(_card(entry, thumb_dir, stem, thumb, written))
    _remove_stale_thumbs(thumb_dir, written)

    page = _page(results, entries, cards, left_out, limit)
    target = output / REPORT_NAME
    with atomic_path(target, durable=False) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def _entries(results: Sequence[FileResult]) -> list[_Entry]:
    """The files that get a card: flagged ones first, then changed ones, each in input order."""
    flagged: list[_Entry] = []
    changed: list[_Entry] = []
    for index, result in enumerate(results):
        if result.status in (Status.FAILED, Status.SKIPPED):
            continue
        regions = _regions(result.regions)
        if not regions and result.status != Status.FLAGGED:
            continue
        entry = _Entry(index, result, regions, _after_path(result))
        (flagged if result.status == Status.FLAGGED else changed).append(entry)
    return flagged + changed


def _after_path(result: FileResult) -> Path | None:
    """The cleaned file to compare with: the output, else the quarantined copy of a flagged one."""
    quarantined = result.quarantined
    if result.output and (Path(result.output).exists() or not quarantined):
        return Path(result.output)
    return Path(quarantined) if quarantined else None


def _regions(raw: Any) -> tuple[tuple[int, int, int, int, int], ...]:
    """Parse a line's `regions` ([frame, x0, y0, x1, y1] each); malformed items are dropped."""
    if not isinstance(raw, list | tuple):
        return ()
    out: list[tuple[int, int, int, int, int]] = []
    for item in raw:
        try:
            frame, x0, y0, x1, y1 = (int(v) for v in item)
        except (TypeError, ValueError):
            continue
        if x1 > x0 and y1 > y0 and frame >= 0:
            out.append((frame, x0, y0, x1, y1))
    return tuple(out)


def _thumb_stem(path: str, used: set[str]) -> str:
    """A short, filename-safe name for the thumbnails of the input at `path`, unique per run."""
    stem = hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    base, n = stem, 1
    while stem in used:
        stem, n = f"{base}-{n}", n + 1
    used.add(stem)
    return stem


def _card(entry: _Entry, thumb_dir: Path, stem: str, thumb: int, written: set[str]) -> str:
    """The HTML of one file's card; writes its two thumbnails (or explains why there are none)."""
    r = entry.result
    frame = min((reg[0] for reg in entry.regions), default=0)
    boxes = [reg[1:] for reg in entry.regions if reg[0] == frame]
    figures = ""
    note = ""
    try:
        before_img = _frame_image(Path(r.path), frame, "input")
        if entry.after is None:
            raise _UnreadableError("no output was written")
        after_img = _frame_image(entry.after, frame, "output")
    except _UnreadableError as exc:
        note = f"no thumbnails: {exc}"
    else:
        names = []
        for kind, img, width in (("before", before_img, 2), ("after", after_img, 1)):
            name = f"{stem}.{kind}.jpg"
            colour = _BEFORE_COLOUR if kind == "before" else _AFTER_COLOUR
            _write_jpeg(thumb_dir / name, _thumbnail(img, boxes, thumb, colour, width))
            written.add(name)
            names.append(name)
        figures = (
            '<div class="pair">'
            + _figure(names[0], f"before (frame {frame}), removed boxes in red")
            + _figure(names[1], "after, repainted areas outlined")
            + "</div>"
        )
        if r.status == Status.FLAGGED:
            figures += _flagged_frames(entry, thumb_dir, stem, written)
    status = str(r.status)
    meta = [
        f'status <span class="st-{_e(status)}">{_e(status)}</span>',
        f"label {_e('-' if r.label is ABSENT else str(r.label))}",
        f"frames {int(r.frames)}",
        f"boxes {int(r.boxes)}",
        f"regions {len(entry.regions)}",
        f"residual {_e('-' if r.residual is None else str(r.residual))}",
    ]
    after_line = ""
    if entry.after is not None:
        kind = "quarantined as" if r.quarantined == str(entry.after) else "output"
        after_line = (
            f'<div class="meta">{kind} <span class="path">{_e(str(entry.after))}</span></div>'
        )
    note_html = f'<div class="note">{_e(note)}</div>' if note else ""
    return (
        f'<div class="card {_e(status)}">'
        f'<div class="path">{_e(r.path)}</div>'
        f'<div class="meta">{" · ".join(meta)}</div>'
        f"{after_line}{note_html}{figures}</div>"
    )


def _flagged_frames(entry: _Entry, thumb_dir: Path, stem: str, written: set[str]) -> str:
    """Every frame of a flagged output where text was found, at full resolution (PNG).

    The regions verify still found are outlined in yellow, so the reviewer can judge them
    before releasing the file (`medocr release`). Lossless PNG: small text must stay legible.
    """
    residual = _regions(entry.result.residual_regions)
    frames = sorted({reg[0] for reg in residual})
    if entry.after is None or not frames:
        return ""
    parts = []
    for frame in frames[:MAX_FLAGGED_FRAMES]:
        try:
            img = _frame_image(entry.after, frame, "output")
        except _UnreadableError as exc:
            parts.append(f'<div class="note">frame {frame}: {_e(str(exc))}</div>')
            continue
        img = img.copy()
        for _, x0, y0, x1, y1 in (reg for reg in residual if reg[0] == frame):
            cv2.rectangle(img, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), _RESIDUAL_COLOUR, 1)
        name = f"{stem}.flagged.{frame}.png"
        ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB array
            continue
        with atomic_path(thumb_dir / name, durable=False) as tmp:
            tmp.write_bytes(buf.tobytes())
        written.add(name)
        parts.append(_figure(name, f"flagged frame {frame} at full size, text found in yellow"))
    more = len(frames) - MAX_FLAGGED_FRAMES
    if more > 0:
        parts.append(f'<div class="note">{more} more flagged frame(s) not shown</div>')
    return '<div class="flagged-frames">' + "".join(parts) + "</div>"


def _figure(name: str, caption: str) -> str:
    """An <img> with a caption; `name` is relative to the page so the folder can be moved."""
    src = _e(f"{THUMB_DIR}/{name}")
    cap = _e(caption)
    return f'<figure><img src="{src}" alt="{cap}"><figcaption>{cap}</figcaption></figure>'


class _UnreadableError(Exception):
    """An image of one card cannot be shown; the card gets a note instead of thumbnails."""


def _frame_image(path: Path, frame: int, what: str) -> np.ndarray:
    """The 8-bit RGB display rendering of `frame` of the scan at `path`.

    Raises:
        _UnreadableError: The file is missing, damaged, or has no such frame.
    """
    if not path.exists():
        raise _UnreadableError(f"{what} file is missing")
    try:
        scan = read_scan(path)
        if frame >= scan.n_frames:
            raise _UnreadableError(f"{what} has {scan.n_frames} frame(s), no frame {frame}")
        img = np.asarray(scan.display(frame))
    except _UnreadableError:
        raise
    except Exception as exc:  # any decoder failure: one bad file must not stop the page
        # Never the exception's own text: it can quote header values (patient data).
        message = getattr(exc, "message", None) or error_origin(exc)
        raise _UnreadableError(f"{what} cannot be read ({message})") from exc
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    if img.ndim == 3 and img.shape[2] == 3:
        return np.ascontiguousarray(img)
    raise _UnreadableError(f"{what} has an unexpected display shape {img.shape}")


def _thumbnail(
    img: np.ndarray,
    boxes: Sequence[tuple[int, int, int, int]],
    thumb: int,
    colour: tuple[int, int, int],
    width: int,
) -> np.ndarray:
    """Shrink RGB `img` to at most `thumb` px on its longest side and outline `boxes` on it.

    The boxes are drawn after shrinking, scaled to the thumbnail, so even a small box stays a
    visible outline instead of being averaged away by the resize.
    """
    h, w = img.shape[:2]
    scale = min(1.0, thumb / max(h, w))
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    small = img if scale == 1.0 else cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small).copy()
    sx, sy = tw / w, th / h
    for x0, y0, x1, y1 in boxes:
        a = (int(np.clip(x0 * sx, 0, tw - 1)), int(np.clip(y0 * sy, 0, th - 1)))
        b = (int(np.clip(x1 * sx - 1, 0, tw - 1)), int(np.clip(y1 * sy - 1, 0, th - 1)))
        cv2.rectangle(small, a, (max(a[0], b[0]), max(a[1], b[1])), colour, width)
    return small


def _write_jpeg(target: Path, rgb: np.ndarray) -> None:
    """Encode RGB `rgb` as JPEG and write it atomically (a reader never sees half a file)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR_444"):  # full-resolution colour: thin red lines
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB array
        raise ValueError("JPEG encoding failed")
    with atomic_path(target, durable=False) as tmp:
        tmp.write_bytes(buf.tobytes())


def _remove_stale_thumbs(thumb_dir: Path, keep: set[str]) -> None:
    """Delete thumbnails of an earlier run that this page no longer links to.

    Only files named like ours (`<hash>.before.jpg` / `<hash>.after.jpg`) are touched, so
    anything a person put in the folder stays.
    """
    if not thumb_dir.is_dir():
        return
    for path in thumb_dir.iterdir():
        name = path.name
        if name in keep or not path.is_file():
            continue
        if name.endswith((".before.jpg", ".after.jpg")) or ".flagged." in name:
            path.unlink(missing_ok=True)


def _page(
    results: Sequence[FileResult],
    entries: Sequence[_Entry],
    cards: Sequence[str],
    left_out: Sequence[_Entry],
    limit: int,
) -> str:
    """Assemble the whole HTML page."""
    counts = {status: 0 for status in Status}
    for r in results:
        counts[Status(r.status)] += 1
    summary = f"{len(results)} file(s): " + ", ".join(
        f"{status.value} {counts[status]}" for status in Status
    )
    n_changed = sum(1 for e in entries if e.regions)
    summary += f"; {n_changed} changed image(s) shown for review"

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>medocr scrub review</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>medocr scrub review</h1>",
        f'<p class="summary">{_e(summary)}</p>',
        "<p>Red boxes on the left are the regions that were removed; the thin outlines on the "
        "right show where pixels were repainted. Flagged files are listed first.</p>",
    ]
    if cards:
        parts.append("<h2>Changed images</h2>")
        parts.extend(cards)
    if left_out:
        parts.append("<h2>Not shown as thumbnails</h2>")
        parts.append(
            f'<p class="note">{len(left_out)} more file(s) left out of the thumbnails '
            f"(limit {limit}); listed here without images.</p>"
        )
        parts.append("<table><tr><th>path</th><th>status</th><th>boxes</th></tr>")
        for e in left_out:
            st = str(e.result.status)
            parts.append(
                f'<tr><td class="path">{_e(e.result.path)}</td>'
                f'<td class="st-{_e(st)}">{_e(st)}</td><td>{int(e.result.boxes)}</td></tr>'
            )
        parts.append("</table>")
    failed = [r for r in results if r.status == Status.FAILED]
    if failed:
        parts.append(f"<h2>Failed ({len(failed)})</h2>")
        parts.append('<table class="failed"><tr><th>path</th><th>error</th></tr>')
        for r in failed:
            parts.append(f'<tr><td class="path">{_e(r.path)}</td><td>{_e(r.error or "")}</td></tr>')
        parts.append("</table>")
    if not entries and not failed:
        parts.append("<p>No image was changed.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _e(text: str) -> str:
    """HTML-escape `text` for element content and quoted attributes."""
    return html.escape(text, quote=True)
