"""The text mask: boxes rasterised, refined by a detector map without losing coverage, dilated."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from medocr_cli.stages.mask import text_mask
from medocr_cli.types import Box

SHAPE = (64, 160)


def glyphs(shape=SHAPE):
    """A line of anti-aliased text on black, its true text pixels, and its box of solid ink."""
    img = np.zeros(shape, np.uint8)
    cv2.putText(img, "DOE 42", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2, cv2.LINE_AA)
    true = img > 0
    ys, xs = np.nonzero(img >= 128)  # what an extractor boxes: the clearly visible strokes
    box = Box(0, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return img, true, box


def test_boxes_only_is_grown_rectangle():
    box = Box(0, 20, 10, 60, 30)
    mask = text_mask(SHAPE, [box], grow=0.1, min_grow=2)
    assert mask.dtype == bool and mask.shape == SHAPE
    ys, xs = np.nonzero(mask)
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (18, 8, 61, 31)
    assert mask.sum() == (61 - 18 + 1) * (31 - 8 + 1)


def test_radius_scales_with_box_height():
    small = text_mask((200, 200), [Box(0, 50, 50, 100, 60)], grow=0.25, min_grow=1)
    large = text_mask((200, 200), [Box(0, 50, 100, 100, 180)], grow=0.25, min_grow=1)
    assert np.nonzero(small)[1].min() == 50 - 2 and np.nonzero(large)[1].min() == 50 - 20


def test_boxes_clipped_to_frame_and_empty_boxes_ignored():
    mask = text_mask(SHAPE, [Box(0, -10, -10, 5, 5), Box(0, 30, 30, 30, 40)], min_grow=1)
    assert mask[0, 0] and mask[5, 5] and not mask[7, 7]
    assert not mask[:, 20:].any()


def test_dilation_covers_anti_aliased_edge_of_drawn_glyphs():
    _, true, box = glyphs()
    tight = text_mask(SHAPE, [box], grow=0.0, min_grow=0)
    assert (tight & true).sum() < true.sum()  # the faint edge pixels stick out of the ink box
    mask = text_mask(SHAPE, [box])
    assert (mask & true).sum() == true.sum()


def test_refinement_keeps_coverage_and_is_tighter():
    img, true, box = glyphs()
    prob = cv2.GaussianBlur(img.astype(np.float32) / 255, (0, 0), 1.0)
    boxes_only = text_mask(SHAPE, [box])
    refined = text_mask(SHAPE, [box], prob_map=prob)
    assert (refined & true).sum() == true.sum()
    assert refined.sum() < 0.9 * boxes_only.sum()


def test_empty_map_falls_back_to_the_box():
    *_, box = glyphs()
    empty = np.zeros(SHAPE, np.float32)
    assert np.array_equal(text_mask(SHAPE, [box], prob_map=empty), text_mask(SHAPE, [box]))


def test_words_the_map_missed_keep_their_rectangle():
    """A box whose right half the detector did not see: that half is kept whole."""
    img, true, box = glyphs()
    prob = img.astype(np.float32) / 255
    cut = (box.x0 + box.x1) // 2
    prob[:, cut:] = 0
    refined = text_mask(SHAPE, [box], prob_map=prob)
    assert (refined & true).sum() == true.sum()
    assert refined[box.y0 : box.y1, box.x1 - 3 : box.x1].all()  # the missed part stays boxed


def test_map_outside_the_boxes_is_ignored():
    prob = np.ones(SHAPE, np.float32)
    mask = text_mask(SHAPE, [Box(0, 20, 20, 40, 30)], prob_map=prob, grow=0, min_grow=1)
    assert not mask[:, 50:].any() and not mask[:10].any()


def test_map_of_wrong_size_is_refused():
    with pytest.raises(ValueError, match="prob_map"):
        text_mask(SHAPE, [Box(0, 1, 1, 5, 5)], prob_map=np.zeros((10, 10), np.float32))


def test_accepts_colour_frame_shape_and_no_boxes():
    assert not text_mask((*SHAPE, 3), []).any()
