import re
from pathlib import Path

import cv2
import numpy as np
from conftest import gradient, listing, make_dicom, make_png

from medocr_cli.pipeline.report_html import REPORT_NAME, THUMB_DIR, write_html_report
from medocr_cli.types import FileResult, Status


def _grey(h: int = 64, w: int = 96) -> np.ndarray:
    return gradient(h, w)


def _rgb(h: int = 80, w: int = 60) -> np.ndarray:
    g = gradient(h, w)
    return np.dstack([g, 255 - g, np.full_like(g, 128)])


def _changed(
    tmp: Path, name: str, arr: np.ndarray, *, status: Status = Status.OK, **more
) -> FileResult:
    """An input PNG, its (identical) output PNG, and a result with one removed region."""
    src = make_png(tmp / "in" / name, arr)
    out = make_png(tmp / "out" / name, arr)
    more.setdefault("regions", [[0, 5, 6, 40, 30]])
    return FileResult(path=str(src), status=status, output=str(out), frames=1, boxes=1, **more)


def _srcs(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_report_lists_changed_flagged_first_failed_table_and_escapes(tmp_path):
    out = tmp_path / "out"
    odd = _changed(tmp_path, "a<&>b.png", _grey(), label="P", residual=0)
    plain = FileResult(path=str(tmp_path / "in" / "clean.png"), status=Status.OK, frames=1)
    # a flagged output moved to quarantine: output is None, the quarantined file is the "after"
    flagged_src = make_png(tmp_path / "in" / "flag.png", _rgb())
    quarantined = make_png(out / "_quarantine" / "flag.png", _rgb())
    flagged = FileResult(
        path=str(flagged_src),
        status=Status.FLAGGED,
        output=None,
        frames=1,
        boxes=2,
        regions=[[0, 1, 1, 20, 10], [0, 30, 40, 50, 70]],
        quarantined=str(quarantined),
        residual=3,
    )
    failed = FileResult(
        path=str(tmp_path / "in" / "bad<x>.dcm"), status=Status.FAILED, error="damaged <pixel> & co"
    )
    skipped = FileResult(path="notes.txt", status=Status.SKIPPED, error="not an image file")
    results = [odd, plain, failed, flagged, skipped]

    page_path = write_html_report(out, results, thumb=32)

    assert page_path == out / REPORT_NAME
    page = page_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # paths and errors are escaped, never raw
    assert "a<&>b" not in page and "a&lt;&amp;&gt;b.png" in page
    assert "damaged &lt;pixel&gt; &amp; co" in page and "bad&lt;x&gt;.dcm" in page
    assert "<script" not in page.lower()
    # summary counts per status
    assert "5 file(s): ok 2, flagged 1, failed 1, skipped 1" in page
    # two cards with two images each, flagged one first; the unchanged file has no card
    srcs = _srcs(page)
    assert len(srcs) == 4
    assert page.index("flag.png") < page.index("a&lt;&amp;&gt;b.png")
    assert "clean.png" not in page
    assert str(quarantined) in page and "residual 3" in page and "label P" in page
    # failed files only in the table, after the cards, without thumbnails
    failed_at = page.index('<table class="failed">')
    assert page.index("bad&lt;x&gt;.dcm") > failed_at > page.index(srcs[-1])
    # every image is relative, exists and opens, at most `thumb` px
    for src in srcs:
        assert src.startswith(f"{THUMB_DIR}/") and not Path(src).is_absolute()
        img = cv2.imread(str(out / src))
        assert img is not None
        assert max(img.shape[:2]) <= 32
    # aspect kept: 64x96 grey -> 21x32, 80x60 RGB -> 32x24
    shapes = sorted(cv2.imread(str(out / s)).shape[:2] for s in srcs)
    assert shapes == [(21, 32), (21, 32), (32, 24), (32, 24)]
    # atomic writes: no temporary file left behind
    assert not [p for p in listing(out) if "medocr-tmp" in p]


def test_removed_boxes_are_drawn_in_red_on_the_scaled_thumbnail(tmp_path):
    grey = np.full((400, 200), 128, np.uint8)
    r = _changed(tmp_path, "g.png", grey, regions=[[0, 40, 100, 160, 300]])
    out = tmp_path / "out"
    page = write_html_report(out, [r], thumb=100).read_text()
    before, after = (cv2.imread(str(out / s)) for s in _srcs(page))
    assert before.shape[:2] == (100, 50) and after.shape[:2] == (100, 50)
    # box scaled by 0.25: left edge at x=10, rows 25..74; BGR so red is channel 2
    for img in (before, after):
        b, g, red = (int(v) for v in img[50, 10])
        assert red > 180 and g < 110 and b < 110
        # inside the box the picture is untouched grey
        assert abs(int(img[50, 25, 1]) - 128) < 15 and abs(int(img[50, 25, 2]) - 128) < 15
    # outside the box nothing is drawn
    assert abs(int(before[5, 5, 2]) - 128) < 15


def test_multiframe_dicom_shows_the_first_frame_with_regions(tmp_path):
    rows, cols = 48, 64
    vertical = gradient(rows, cols, np.uint16, 0, 4000)  # row-major ramp: dark top, bright bottom
    horizontal = np.ascontiguousarray(np.tile(np.linspace(0, 4000, cols), (rows, 1))).astype(
        np.uint16
    )
    frames = np.stack([vertical, horizontal])
    src = tmp_path / "in" / "cine.dcm"
    dst = tmp_path / "out" / "cine.dcm"
    make_dicom(src, frames, bits_stored=12)
    make_dicom(dst, frames, bits_stored=12)
    r = FileResult(
        path=str(src),
        status=Status.OK,
        output=str(dst),
        frames=2,
        boxes=1,
        regions=[[1, 20, 20, 30, 30]],
    )
    out = tmp_path / "out"
    page = write_html_report(out, [r], thumb=256).read_text()
    assert "before (frame 1)" in page
    for src_rel in _srcs(page):
        img = cv2.imread(str(out / src_rel), cv2.IMREAD_GRAYSCALE)
        assert img.shape == (rows, cols)  # smaller than `thumb`: never enlarged
        # frame 1 is the horizontal ramp: top-right bright, top-left dark
        assert int(img[2, cols - 3]) > 200 and int(img[2, 2]) < 50


def test_unreadable_images_get_a_note_and_do_not_stop_the_report(tmp_path):
    good = _changed(tmp_path, "good.png", _grey())
    corrupt_src = tmp_path / "in" / "corrupt.png"
    corrupt_src.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    corrupt = FileResult(
        path=str(corrupt_src),
        status=Status.OK,
        output=good.output,
        frames=1,
        boxes=1,
        regions=[[0, 1, 1, 5, 5]],
    )
    missing = FileResult(
        path=good.path,
        status=Status.FLAGGED,
        output=str(tmp_path / "out" / "gone.png"),
        frames=1,
        boxes=1,
        regions=[[0, 1, 1, 5, 5]],
    )
    no_frame = FileResult(
        path=good.path,
        status=Status.OK,
        output=good.output,
        frames=1,
        boxes=1,
        regions=[[3, 1, 1, 5, 5]],
    )
    out = tmp_path / "out"
    page = write_html_report(out, [corrupt, missing, no_frame, good]).read_text()
    assert len(_srcs(page)) == 2  # only the good file has thumbnails
    assert "no thumbnails: input cannot be read" in page
    assert "no thumbnails: output file is missing" in page
    assert "no frame 3" in page
    assert page.index("gone.png") < page.index("corrupt.png")  # flagged first


def test_limit_caps_thumbnails_and_lists_the_rest(tmp_path):
    results = [_changed(tmp_path, f"f{i}.png", _grey(16, 16)) for i in range(5)]
    out = tmp_path / "out"
    page = write_html_report(out, results, limit=2).read_text()
    assert len(_srcs(page)) == 4
    assert "3 more file(s) left out of the thumbnails (limit 2)" in page
    for i in range(5):
        assert f"f{i}.png" in page
    assert len(list((out / THUMB_DIR).iterdir())) == 4


def test_rerun_replaces_the_page_and_drops_stale_thumbnails(tmp_path):
    out = tmp_path / "out"
    results = [_changed(tmp_path, f"f{i}.png", _grey(16, 16)) for i in range(3)]
    write_html_report(out, results)
    keep = out / THUMB_DIR / "notes.txt"
    keep.write_text("mine")
    page = write_html_report(out, results[:1]).read_text()
    names = sorted(p.name for p in (out / THUMB_DIR).iterdir())
    assert len(names) == 3 and "notes.txt" in names
    assert sorted(s.split("/")[-1] for s in _srcs(page)) == sorted(
        n for n in names if n != "notes.txt"
    )
    assert not [p for p in listing(out) if "medocr-tmp" in p]


def test_no_changes_gives_a_plain_page(tmp_path):
    r = FileResult(path="x.png", status=Status.OK, output=None, frames=1)
    page = write_html_report(tmp_path / "out", [r]).read_text()
    assert "No image was changed." in page and "<img" not in page
