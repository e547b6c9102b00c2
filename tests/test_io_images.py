"""PNG / JPEG / TIFF / BMP through `read_scan` and `write_scan`: values, format, rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import gradient, make_png
from PIL import Image, PngImagePlugin

from medocr_cli.io import read_scan, write_scan
from medocr_cli.io.formats import sniff


def _roundtrip(src: Path, tmp_path: Path, name: str | None = None):
    scan = read_scan(src)
    out = tmp_path / "out" / (name or src.name)
    write_scan(scan, out)
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name], "temp file left behind"
    return scan, out, read_scan(out)


def test_png_grey8(tmp_path: Path) -> None:
    arr = gradient(20, 30)
    scan, out, again = _roundtrip(make_png(tmp_path / "g8.png", arr), tmp_path)
    assert scan.format == "png" and scan.photometric == "MONOCHROME2"
    assert scan.frames.shape == (1, 20, 30) and scan.frames.dtype == np.uint8
    assert scan.bits_stored == 8 and not scan.signed and scan.dataset is None
    np.testing.assert_array_equal(scan.frames[0], arr)
    np.testing.assert_array_equal(again.frames, scan.frames)
    assert Image.open(out).mode == "L"


def test_png_grey16(tmp_path: Path) -> None:
    arr = gradient(16, 24, np.uint16, 100, 60000)
    src = tmp_path / "g16.png"
    Image.fromarray(arr).save(src)
    assert Image.open(src).mode.startswith("I")
    scan, out, again = _roundtrip(src, tmp_path)
    assert scan.frames.dtype == np.uint16 and scan.bits_stored == 16
    np.testing.assert_array_equal(scan.frames[0], arr)
    np.testing.assert_array_equal(again.frames, scan.frames)
    assert again.frames.dtype == np.uint16
    with Image.open(out) as img:
        assert img.mode.startswith("I") and np.asarray(img).max() == 60000


def test_png_grey16_display_is_minmax_scaled(tmp_path: Path) -> None:
    arr = np.array([[1000, 2000], [3000, 5000]], np.uint16)
    src = tmp_path / "s.png"
    Image.fromarray(arr).save(src)
    view = read_scan(src).display(0)
    assert view.dtype == np.uint8 and view.shape == (2, 2)
    expected = np.rint((arr.astype(float) - 1000) * 255 / 4000).astype(np.uint8)
    np.testing.assert_array_equal(view, expected)
    assert view.min() == 0 and view.max() == 255


def test_constant_16bit_display_is_black(tmp_path: Path) -> None:
    src = tmp_path / "c.png"
    Image.fromarray(np.full((4, 4), 700, np.uint16)).save(src)
    view = read_scan(src).display(0)
    assert view.dtype == np.uint8 and (view == 0).all()


@pytest.mark.parametrize("mode,samples", [("RGB", 3), ("RGBA", 4), ("LA", 2)])
def test_png_colour_and_alpha(mode: str, samples: int, tmp_path: Path, rng) -> None:
    arr = rng.integers(0, 256, size=(12, 18, samples), dtype=np.uint8)
    src = tmp_path / f"{mode}.png"
    Image.fromarray(arr, mode=mode).save(src)
    scan, out, again = _roundtrip(src, tmp_path)
    assert scan.frames.shape == (1, 12, 18, samples) and scan.samples == samples
    assert scan.photometric == ("RGB" if samples >= 3 else "MONOCHROME2")
    np.testing.assert_array_equal(scan.frames[0], arr)
    np.testing.assert_array_equal(again.frames, scan.frames)
    assert Image.open(out).mode == mode
    view = scan.display(0)
    assert view.dtype == np.uint8
    if samples >= 3:
        np.testing.assert_array_equal(view, arr[..., :3])
    else:
        np.testing.assert_array_equal(view, arr[..., 0])


def test_png_palette_read_as_rgb(tmp_path: Path) -> None:
    idx = (np.arange(8 * 10).reshape(8, 10) % 4).astype(np.uint8)
    img = Image.fromarray(idx, mode="P")
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]
    img.putpalette([c for rgb in colours for c in rgb])
    src = tmp_path / "p.png"
    img.save(src)
    assert Image.open(src).mode == "P"
    scan, out, again = _roundtrip(src, tmp_path)
    assert scan.photometric == "RGB" and scan.frames.shape == (1, 8, 10, 3)
    expected = np.array(colours, np.uint8)[idx]
    np.testing.assert_array_equal(scan.frames[0], expected)
    np.testing.assert_array_equal(again.frames, scan.frames)
    assert sniff(out) == "png"


def test_png_palette_with_transparency_read_as_rgba(tmp_path: Path) -> None:
    idx = np.array([[0, 1], [1, 0]], np.uint8)
    img = Image.fromarray(idx, mode="P")
    img.putpalette([0, 0, 0, 255, 255, 255])
    src = tmp_path / "pt.png"
    img.save(src, transparency=0)
    scan = read_scan(src)
    assert scan.frames.shape == (1, 2, 2, 4)
    assert scan.frames[0, 0, 0, 3] == 0 and scan.frames[0, 0, 1, 3] == 255


def test_png_edit_roundtrip(tmp_path: Path) -> None:
    scan = read_scan(make_png(tmp_path / "e.png", gradient(10, 10)))
    values = scan.frames[0].copy()
    values[2:5, 2:5] = 0
    scan.set_frame(0, values)
    out = tmp_path / "e_out.png"
    write_scan(scan, out)
    np.testing.assert_array_equal(read_scan(out).frames[0], values)


def test_set_frame_rejects_wrong_dtype_or_shape(tmp_path: Path) -> None:
    scan = read_scan(make_png(tmp_path / "e.png", gradient(10, 10)))
    with pytest.raises(ValueError):
        scan.set_frame(0, np.zeros((10, 10), np.uint16))
    with pytest.raises(ValueError):
        scan.set_frame(0, np.zeros((10, 11), np.uint8))


def test_png_text_chunks_are_dropped(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Patient: Doe^Jane 1970-01-01")
    src = tmp_path / "meta.png"
    Image.fromarray(gradient(8, 8)).save(src, pnginfo=info)
    assert b"Doe^Jane" in src.read_bytes()
    _, out, _ = _roundtrip(src, tmp_path)
    assert b"Doe^Jane" not in out.read_bytes()


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_jpeg_read_and_write(mode: str, tmp_path: Path) -> None:
    grey = gradient(32, 48)
    arr = grey if mode == "L" else np.stack([grey, grey[::-1], 255 - grey], axis=-1)
    src = tmp_path / "x.jpg"
    Image.fromarray(arr, mode=mode).save(src, quality=95)
    scan, out, again = _roundtrip(src, tmp_path)
    assert scan.format == "jpeg" and scan.frames.dtype == np.uint8
    assert scan.frames.shape == (1, *arr.shape)
    assert sniff(out) == "jpeg"
    with Image.open(out) as img:
        assert img.format == "JPEG" and img.mode == mode
    assert again.frames.shape == scan.frames.shape
    # Lossy, but close: no silent corruption.
    diff = np.abs(again.frames.astype(int) - scan.frames.astype(int))
    assert diff.mean() < 3
    assert scan.display(0).shape == arr.shape


def test_jpeg_named_jpeg_extension(tmp_path: Path) -> None:
    src = tmp_path / "y.jpeg"
    Image.fromarray(gradient(8, 8)).save(src, format="JPEG")
    assert read_scan(src).format == "jpeg"


def test_tiff_multipage_becomes_frames(tmp_path: Path) -> None:
    pages = [gradient(10, 12) // (i + 1) for i in range(3)]
    src = tmp_path / "m.tif"
    imgs = [Image.fromarray(p) for p in pages]
    imgs[0].save(src, save_all=True, append_images=imgs[1:])
    scan, out, again = _roundtrip(src, tmp_path)
    assert scan.format == "tiff" and scan.frames.shape == (3, 10, 12)
    np.testing.assert_array_equal(scan.frames, np.stack(pages))
    np.testing.assert_array_equal(again.frames, scan.frames)
    assert sniff(out) == "tiff"


def test_tiff_16bit(tmp_path: Path) -> None:
    arr = gradient(9, 7, np.uint16, 0, 40000)
    src = tmp_path / "s.tiff"
    Image.fromarray(arr).save(src)
    scan, _, again = _roundtrip(src, tmp_path)
    assert scan.frames.dtype == np.uint16
    np.testing.assert_array_equal(again.frames[0], arr)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_bmp_roundtrip(mode: str, tmp_path: Path, rng) -> None:
    shape = (6, 9) if mode == "L" else (6, 9, 3)
    arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
    src = tmp_path / "b.bmp"
    Image.fromarray(arr, mode=mode).save(src)
    scan, out, again = _roundtrip(src, tmp_path)
    assert scan.format == "bmp"
    # An 8-bit BMP is stored as palette "P" by Pillow; it comes back as RGB or grey values.
    flat = scan.frames[0]
    if mode == "L" and flat.ndim == 3:
        np.testing.assert_array_equal(flat[..., 0], arr)
    else:
        np.testing.assert_array_equal(flat, arr)
    np.testing.assert_array_equal(again.frames, scan.frames)
    assert sniff(out) == "bmp"


def test_format_recognised_by_content_not_name(tmp_path: Path) -> None:
    """A PNG named .jpg is read as PNG and written back as PNG."""
    src = tmp_path / "actually_png.jpg"
    Image.fromarray(gradient(5, 5)).save(src, format="PNG")
    scan, out, _ = _roundtrip(src, tmp_path)
    assert scan.format == "png"
    assert sniff(out) == "png"


def test_write_creates_parent_folders(tmp_path: Path) -> None:
    scan = read_scan(make_png(tmp_path / "a.png", gradient(4, 4)))
    out = tmp_path / "deep" / "er" / "a.png"
    write_scan(scan, out)
    assert out.is_file() and oct(out.stat().st_mode & 0o777) == "0o644"


def test_display_cache_dropped_by_set_frame(tmp_path: Path) -> None:
    scan = read_scan(make_png(tmp_path / "c.png", gradient(6, 6)))
    first = scan.display(0).copy()
    assert scan.display(0) is scan.display(0)  # cached
    scan.set_frame(0, np.zeros((6, 6), np.uint8))
    assert (scan.display(0) == 0).all() and not np.array_equal(first, scan.display(0))
