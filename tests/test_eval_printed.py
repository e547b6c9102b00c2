"""The line measures of benchmarks/eval_printed.py: polarity, cover, reading, stray words.

Pure functions on tiny arrays; Tesseract is never run here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from medocr_cli.types import Box

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_printed.py"


@pytest.fixture(scope="module")
def ev():
    """The benchmark script, imported as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("eval_printed", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _word(x0: int, y0: int, x1: int, y1: int, text: str, score: float = 0.9) -> Box:
    return Box(0, x0, y0, x1, y1, text, "printed", score, "tesseract")


def test_polarity_follows_text_against_surround(ev) -> None:
    grey = np.full((40, 60), 30, np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[12:18, 12:40] = True
    grey[mask] = 220
    assert ev.line_polarity(grey, mask, [10, 10, 42, 20]) == "light_on_dark"
    assert ev.line_polarity(255 - grey, mask, [10, 10, 42, 20]) == "dark_on_light"
    assert ev.line_polarity(grey, np.zeros_like(mask), [10, 10, 42, 20]) == "unknown"


def test_cover_is_the_union_share_of_the_line_box(ev) -> None:
    box = [0, 0, 20, 10]
    assert ev.covered_share([], box, (30, 30)) == 0.0
    half = [_word(0, 0, 10, 10, "a"), _word(5, 0, 10, 10, "b")]  # overlap counts once
    assert ev.covered_share(half, box, (30, 30)) == pytest.approx(0.5)
    assert ev.covered_share([_word(0, 0, 30, 30, "c")], box, (30, 30)) == 1.0


def test_reading_dedupes_renderings_and_orders_left_to_right(ev) -> None:
    words = [
        _word(30, 2, 50, 12, "WORLD", 0.95),
        _word(2, 2, 25, 12, "HELL0", 0.5),
        _word(3, 2, 25, 12, "HELLO", 0.9),  # the same word from another rendering, better
        _word(2, 40, 20, 50, "ELSEWHERE"),  # centre outside the line box
    ]
    assert ev.line_reading(words, [0, 0, 60, 15]) == "HELLO WORLD"
    assert ev.stray_words(words, [[0, 0, 60, 15]]) == 1
