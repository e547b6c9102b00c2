"""The text side of generate-dataset: content, font pools, printed and handwritten text layers."""

from __future__ import annotations

import re
import string
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from medocr_cli.synth.content import (
    NOTE_CHARSET,
    PRINTED_CHARSET,
    label_line,
    note_text,
    phi_line,
)
from medocr_cli.synth.fonts import (
    RESERVED_MARKERS,
    FontSpec,
    caps_only,
    choose_font,
    font_family,
    font_pools,
    hershey_name,
    is_reserved,
    load_font,
    load_hershey,
)
from medocr_cli.synth.handwriting import render_handwritten
from medocr_cli.synth.printed import render_printed
from medocr_cli.synth.text_layer import LineLabel, TextLayer, WordLabel, check_layer, tight_box

WHITE = (255, 255, 255)


def _all_fonts() -> tuple[list[FontSpec], list[FontSpec]]:
    train_p, train_h = font_pools("train")
    test_p, test_h = font_pools("test")
    return train_p + test_p, train_h + test_h


def _printed_sample() -> list[FontSpec]:
    """Two faces of every printed style, from both splits (bitmap Terminus and 3270 included)."""
    printed, _ = _all_fonts()
    chosen: list[FontSpec] = []
    for style in ("sans", "serif", "mono", "bitmap"):
        faces = [f for f in printed if f.style == style]
        chosen += [faces[0], faces[len(faces) // 2], faces[-1]]
    return chosen


def _assert_exact_single_line(layer: TextLayer) -> None:
    """For a one-line layer: line box == tight box of all ink == union of the word boxes."""
    (line,) = layer.lines
    alpha = layer.rgba[..., 3]
    assert line.box == tight_box(alpha > 0)
    words = [w.box for w in line.words]
    union = (
        min(b[0] for b in words),
        min(b[1] for b in words),
        max(b[2] for b in words),
        max(b[3] for b in words),
    )
    assert union == line.box
    covered = np.zeros(alpha.shape, bool)
    for x0, y0, x1, y1 in words:
        covered[y0:y1, x0:x1] = True
        assert (alpha[y0:y1, x0:x1] > 0).any()
    assert not ((alpha > 0) & ~covered).any()


# --- content ----------------------------------------------------------------------------------


def test_phi_lines_are_varied_and_realistic() -> None:
    rng = np.random.default_rng(0)
    lines = [phi_line(rng) for _ in range(200)]
    assert len(set(lines)) / len(lines) > 0.9
    assert all(line and line == line.strip() for line in lines)
    many = lines + [phi_line(rng) for _ in range(3000)]
    joined = "\n".join(many)
    assert re.search(r"\b[A-Z][A-Za-z' -]+\^[A-Z][A-Za-z-]+", joined)  # DICOM LAST^FIRST
    assert re.search(r"\b[A-Z][a-z]+, [A-Z][a-z]+ [A-Z]\b", joined)  # Last, First M
    assert re.search(r"\b(19|20)\d\d-\d\d-\d\d\b", joined)  # 1957-03-14
    assert re.search(r"\b\d\d/\d\d/(19|20)\d\d\b", joined)  # 14/03/1957 or 03/14/1957
    assert re.search(r"\b\d\d\.\d\d\.(19|20)\d\d\b", joined)  # 14.03.1957
    assert re.search(r"\b(19|20)\d{6}\b", joined)  # 19570314
    assert re.search(r"\b\d\d-[A-Z][a-z]{2}-(19|20)\d\d\b", joined)  # 14-Mar-1957
    assert re.search(r"\b\d{1,3}Y [FM]\b", joined)  # 45Y F
    assert re.search(r"\b\d\d:\d\d(:\d\d)?\b", joined)  # times
    assert re.search(r"Acc", joined) and re.search(r"MRN", joined)
    assert re.search(r"Hospital|Medical Cent", joined)
    assert re.search(r"Radiology|Cardiology", joined)
    assert re.search(r"Dr\.? ", joined)
    assert set(joined) - {"\n"} <= set(PRINTED_CHARSET)


def test_label_lines_and_notes_are_varied_and_in_charset() -> None:
    rng = np.random.default_rng(1)
    labels = [label_line(rng) for _ in range(1000)]
    notes = [note_text(rng) for _ in range(1000)]
    assert len(set(labels)) > 500
    assert len(set(notes)) > 700
    joined = "\n".join(labels)
    for pattern in (r"\d+ kVp", r"\d+ mAs", r"W:-?\d+ L:-?\d+", r"Se \d+ Im \d+", r"Hz", r"cm"):
        assert re.search(pattern, joined), pattern
    assert "R" in labels and "L" in labels
    assert set(joined) - {"\n"} <= set(PRINTED_CHARSET)
    assert all(1 <= len(n.split()) <= 5 for n in notes)
    assert set("".join(notes)) <= set(NOTE_CHARSET)


def test_content_is_deterministic() -> None:
    def draw(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [f(rng) for _ in range(50) for f in (phi_line, label_line, note_text)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


# --- font pools -------------------------------------------------------------------------------


def test_test_fonts_are_disjoint_from_train_by_family() -> None:
    train_p, train_h = font_pools("train")
    val_p, val_h = font_pools("val")
    test_p, test_h = font_pools("test")
    assert (val_p, val_h) == (train_p, train_h)
    train_families = {font_family(f) for f in train_p + train_h}
    test_families = {font_family(f) for f in test_p + test_h}
    assert not train_families & test_families
    assert not {f.name for f in train_p + train_h} & {f.name for f in test_p + test_h}
    assert not {f.path for f in train_p + train_h if f.path} & {
        f.path for f in test_p + test_h if f.path
    }
    for style in ("sans", "serif", "mono", "bitmap"):
        assert any(f.style == style for f in train_p), style
        assert any(f.style == style for f in test_p), style
    for style in ("script", "stroke"):  # handwriting font files and Hershey, on both sides
        assert any(f.style == style for f in train_h), style
        assert any(f.style == style for f in test_h), style
    assert all(f.kind == "printed" and f.path for f in train_p + test_p)
    assert all(f.kind == "handwritten" for f in train_h + test_h)
    assert font_pools("test") is font_pools("test")  # cached
    with pytest.raises(ValueError):
        font_pools("holdout")


def test_held_out_families_are_fixed() -> None:
    """Fonts added to train must not move any family into or out of the test split.

    Every held-out figure in the model cards was measured on these families; a catalogue change
    that shifts them would silently make new figures incomparable with old ones.
    """
    _, test_h = font_pools("test")
    assert {font_family(f) for f in test_h} == {
        "BecauseWeConnect",
        "BecauseWeOrganize",
        "DkgHandwriting",
        "hershey:futura",
    }
    _, train_h = font_pools("train")
    train_only = {"KleeOne", "LeckerliOne", "NanumBrush", "NanumPen", "Purisa", "Kiloji", "Seto"}
    installed = {font_family(f) for f in train_h} & train_only
    assert installed == train_only  # the Makefile installs them all


def test_choose_font_is_uniform_over_families() -> None:
    _, handwritten = font_pools("test")
    rng = np.random.default_rng(0)
    picks = [font_family(choose_font(rng, handwritten)) for _ in range(2000)]
    counts = {family: picks.count(family) for family in set(picks)}
    assert set(counts) == {font_family(f) for f in handwritten}
    expected = len(picks) / len(counts)
    assert all(0.75 * expected < n < 1.25 * expected for n in counts.values()), counts
    with pytest.raises(ValueError):
        choose_font(rng, [])


def test_no_reserved_font_anywhere() -> None:
    printed, handwritten = _all_fonts()
    for spec in printed + handwritten:
        for text in (spec.name, spec.path or "", font_family(spec)):
            assert not any(marker in text.lower() for marker in RESERVED_MARKERS), text
    assert is_reserved("/usr/share/fonts/truetype/kristi/Kristi.ttf")
    assert is_reserved("SJFonts Delicious") and is_reserved("Rufscript") and is_reserved("ecolier")
    assert not is_reserved("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    with pytest.raises(ValueError):
        load_font("/usr/share/fonts/truetype/ecolier-court/ecl_cour.ttf", 20)


def test_every_pool_font_draws_the_needed_characters() -> None:
    """No tofu: every character differs from the face's .notdef box and has ink (at 30 px)."""
    printed, handwritten = _all_fonts()
    for spec in printed + handwritten:
        if spec.path is None:
            font = load_hershey(hershey_name(spec))
            for ch in NOTE_CHARSET.replace(" ", ""):
                assert any(len(s) > 1 for s in font.glyphs[ch].strokes), (spec.name, ch)
            continue
        charset = PRINTED_CHARSET if spec.kind == "printed" else NOTE_CHARSET
        size = 32 if spec.path.endswith(".otb") else 30
        font = ImageFont.truetype(spec.path, size)

        def bitmap(ch: str, font: ImageFont.FreeTypeFont = font, size: int = size) -> bytes:
            image = Image.new("L", (3 * size, 2 * size))
            ImageDraw.Draw(image).text((size // 2, size // 4), ch, font=font, fill=255)
            return image.tobytes()

        notdef = bitmap("\U000f0000")
        for ch in charset.replace(" ", ""):
            drawn = bitmap(ch)
            assert drawn != notdef and any(drawn), (spec.name, ch)


# --- printed ------------------------------------------------------------------------------------


@pytest.mark.parametrize("px", [8, 12, 19, 27, 40])
def test_printed_layer_invariants(px: int) -> None:
    rng = np.random.default_rng(px)
    for i, font in enumerate(_printed_sample()):
        n = 1 + i % 4
        lines = [phi_line(rng) if k % 2 == 0 else label_line(rng) for k in range(n)]
        colour = [WHITE, (200, 200, 200), (255, 255, 0), (0, 255, 0), (0, 0, 0)][i % 5]
        align = ("left", "right", "center")[i % 3]
        layer = render_printed(rng, lines, font, px, colour, align=align)
        check_layer(layer)
        assert layer.rgba.dtype == np.uint8 and layer.rgba.shape[2] == 4
        assert [line.text for line in layer.lines] == [t.strip() for t in lines]
        assert all(line.kind == "printed" and line.font == font.name for line in layer.lines)
        alpha = layer.rgba[..., 3]
        assert tight_box(alpha > 0) == (0, 0, alpha.shape[1], alpha.shape[0])  # cropped tight
        if n == 1:
            _assert_exact_single_line(layer)


def test_printed_looks_all_keep_labels_exact() -> None:
    """Many seeds on one face cover anti-aliased/binary, bold, outline and shadow looks."""
    printed, _ = font_pools("train")
    font = next(f for f in printed if f.name == "DejaVuSans")
    seen_alpha_levels = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        layer = render_printed(rng, [phi_line(rng)], font, 22, (255, 255, 0))
        check_layer(layer)
        _assert_exact_single_line(layer)
        seen_alpha_levels.add(len(np.unique(layer.rgba[..., 3])) > 2)
        rgb = layer.rgba[..., :3][layer.rgba[..., 3] > 0]
        seen_alpha_levels.add(("outlined", bool((rgb.max(axis=1) < 100).any())))
    assert {True, False} <= seen_alpha_levels  # anti-aliased and binary blocks both occur
    assert ("outlined", True) in seen_alpha_levels  # a dark outline/shadow around yellow text


def test_printed_blank_lines_and_bad_arguments() -> None:
    printed, handwritten = font_pools("train")
    rng = np.random.default_rng(0)
    layer = render_printed(rng, ["  ", ""], printed[0], 20, WHITE)
    assert layer.lines == [] and not layer.rgba[..., 3].any()
    layer = render_printed(rng, ["ID: 123", "", "DOB 1957-03-14"], printed[0], 20, WHITE)
    check_layer(layer)
    assert [line.text for line in layer.lines] == ["ID: 123", "DOB 1957-03-14"]
    with pytest.raises(ValueError):
        render_printed(rng, ["x"], printed[0], 20, WHITE, align="justify")
    with pytest.raises(ValueError, match="cannot draw"):
        render_printed(rng, ["Müller^Jürgen"], printed[0], 20, WHITE)
    with pytest.raises(ValueError):
        render_printed(rng, ["x"], handwritten[0], 20, WHITE)


def test_bitmap_font_uses_strikes_and_doubles_large_text() -> None:
    printed, _ = _all_fonts()
    terminus = next(f for f in printed if f.name == "terminus-normal")
    rng = np.random.default_rng(3)
    small = render_printed(rng, ["MRN 12345"], terminus, 9, WHITE)  # below the smallest strike
    big = render_printed(rng, ["MRN 12345"], terminus, 40, WHITE)  # above the largest one
    for layer in (small, big):
        check_layer(layer)
        assert [line.text for line in layer.lines] == ["MRN 12345"]
    # 9 px draws the 12 px strike; 40 px draws the 20 px strike with every pixel doubled
    assert big.rgba.shape[0] >= 2 * small.rgba.shape[0]


def test_printed_is_deterministic() -> None:
    font = _printed_sample()[1]

    def draw(seed: int) -> TextLayer:
        rng = np.random.default_rng(seed)
        return render_printed(rng, [phi_line(rng), label_line(rng)], font, 18, WHITE)

    a, b, c = draw(5), draw(5), draw(6)
    assert np.array_equal(a.rgba, b.rgba) and a.lines == b.lines
    assert not (a.rgba.shape == c.rgba.shape and np.array_equal(a.rgba, c.rgba))


# --- handwritten --------------------------------------------------------------------------------


def test_handwritten_layer_invariants_for_every_font() -> None:
    _, handwritten = _all_fonts()
    rng = np.random.default_rng(11)
    for i, font in enumerate(handwritten):
        for px in (12 + 3 * (i % 4), 34):
            text = note_text(rng)
            colour = (WHITE, (20, 20, 20), (255, 255, 0))[i % 3]
            layer = render_handwritten(rng, text, font, px, colour)
            check_layer(layer)
            _assert_exact_single_line(layer)
            (line,) = layer.lines
            expected = " ".join(text.split())
            assert line.text == (expected.upper() if caps_only(font) else expected)
            assert line.kind == "handwritten" and line.font == font.name
            assert [w.text for w in line.words] == line.text.split()


def test_handwritten_pen_keeps_the_callers_lightness() -> None:
    _, handwritten = font_pools("train")
    font = next(f for f in handwritten if f.style == "stroke")
    for seed in range(20):
        for colour in (WHITE, (10, 10, 10)):
            rng = np.random.default_rng(seed)
            layer = render_handwritten(rng, "f/u 3 wks", font, 24, colour)
            ink = layer.rgba[..., :3][layer.rgba[..., 3] > 0].astype(float)
            lum = ink @ np.array([0.299, 0.587, 0.114])
            assert (lum.mean() >= 128) == (colour == WHITE)


def test_handwritten_long_line_rotation_and_blank() -> None:
    _, handwritten = font_pools("test")
    rng = np.random.default_rng(2)
    text = "see prior 12/03/2019 compare w/ prior CT, ? fracture L knee - ok JS"
    for font in handwritten[:3] + handwritten[-1:]:
        layer = render_handwritten(rng, text, font, 40, WHITE)
        check_layer(layer)
        _assert_exact_single_line(layer)
    assert render_handwritten(rng, "   ", handwritten[0], 20, WHITE).lines == []
    printed, _ = font_pools("test")
    with pytest.raises(ValueError):
        render_handwritten(rng, "x", printed[0], 20, WHITE)
    tomson = next(f for f in _all_fonts()[1] if f.name == "TomsonTalks")
    with pytest.raises(ValueError, match="cannot draw"):
        render_handwritten(rng, "SMITH^JOHN", tomson, 20, WHITE)  # no caret in this face
    hershey = next(f for f in handwritten if f.style == "stroke")
    with pytest.raises(ValueError, match="cannot draw"):
        render_handwritten(rng, "café", hershey, 20, WHITE)


def test_handwritten_is_deterministic() -> None:
    _, handwritten = font_pools("train")
    for font in (handwritten[0], handwritten[-1]):  # a font file and a Hershey font

        def draw(seed: int, font: FontSpec = font) -> TextLayer:
            rng = np.random.default_rng(seed)
            return render_handwritten(rng, note_text(rng), font, 26, WHITE)

        a, b, c = draw(9), draw(9), draw(10)
        assert np.array_equal(a.rgba, b.rgba) and a.lines == b.lines
        assert not (a.rgba.shape == c.rgba.shape and np.array_equal(a.rgba, c.rgba))


# --- the invariant checker itself ---------------------------------------------------------------


def test_check_layer_rejects_wrong_labels() -> None:
    printed, _ = font_pools("train")
    rng = np.random.default_rng(4)
    layer = render_printed(rng, ["Smith^John", "ID 12345"], printed[0], 20, WHITE)
    check_layer(layer)
    first = layer.lines[0]
    x0, y0, x1, y1 = first.box
    broken = [
        replace(first, box=(x0, y0, x1 - 1, y1)),  # cuts ink off
        replace(first, box=(x0, y0, x1, y1 + 1)),  # not tight
        replace(first, words=[WordLabel(first.words[0].text, (x0, y0, x0 + 1, y0 + 1))]),
        replace(first, text="Smith John"),  # words do not spell the text
    ]
    for bad in broken:
        with pytest.raises(ValueError):
            check_layer(TextLayer(layer.rgba, [bad, *layer.lines[1:]]))
    with pytest.raises(ValueError):
        check_layer(TextLayer(layer.rgba, layer.lines[:1]))  # the second line's ink is unlabelled
    with pytest.raises(ValueError):
        check_layer(TextLayer(layer.rgba[..., :3], layer.lines))
    assert isinstance(first, LineLabel)


def test_charsets_are_plain_ascii() -> None:
    assert set(NOTE_CHARSET) <= set(PRINTED_CHARSET) | set("?!")
    assert set(PRINTED_CHARSET) <= set(string.printable)
