"""Whole-body person boxes (vibe.pipeline.person_boxes): decoding, suppression, and the vendored NanoDet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vibe.pipeline.detector import box_iou, detector_views
from vibe.pipeline.person_boxes import NANODET_INPUT, PersonBoxes, decode_nanodet, greedy_nms

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _outputs(level_cells: dict[int, int], score_at: tuple[int, int], ltrb_strides: tuple[int, ...]) -> dict:
    """Network outputs with one confident person cell (level index, cell) whose sides lie ``ltrb_strides`` away."""
    names = (("Identity:0", "Identity_3:0"), ("Identity_1:0", "Identity_4:0"), ("Identity_2:0", "Identity_5:0"))
    out = {}
    for level, (cls_name, reg_name) in enumerate(names):
        cells = level_cells[level]
        cls = torch.zeros(1, cells, 80)
        reg = torch.full((1, cells, 4, 11), -20.0)
        reg[..., 0] = 20.0  # every side at distance 0 ...
        if level == score_at[0]:
            cls[0, score_at[1], 0] = 0.9
            reg[0, score_at[1]] = -20.0
            for side, d in enumerate(ltrb_strides):  # ... but the chosen cell's, peaked at d strides
                reg[0, score_at[1], side, d] = 20.0
        out[cls_name], out[reg_name] = cls, reg.reshape(1, cells, 44)
    return out


def test_decode_puts_a_cell_box_where_its_distances_say():
    cells = {0: 52 * 52, 1: 26 * 26, 2: 13 * 13}
    row, col = 5, 7  # on the stride-16 grid
    boxes, scores = decode_nanodet(_outputs(cells, (1, row * 26 + col), (1, 2, 3, 4)))
    best = int(np.argmax(scores))
    assert scores[best] == pytest.approx(0.9)
    cx, cy = (col + 0.5) * 16, (row + 0.5) * 16
    np.testing.assert_allclose(boxes[best], [cx - 16, cy - 32, cx + 48, cy + 64], atol=1e-3)
    assert boxes.shape == (sum(cells.values()), 4)


def test_greedy_nms_keeps_the_best_of_each_overlapping_group():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 9]], np.float64)
    keep = greedy_nms(boxes, np.array([0.5, 0.9, 0.4, 0.3]), 0.5)
    assert keep.tolist() == [1, 2]


@pytest.fixture(scope="module")
def detector():
    return PersonBoxes()


def test_finds_the_person_of_the_sample_clip_and_nobody_on_a_blank_frame(detector):
    from vibe.pipeline.video import VideoReader

    _, _, image = next(iter(VideoReader(ASSETS / "pose_1.mp4").frames(0, 1)))
    h, w = image.shape[:2]
    boxes, scores = detector.detect(image, detector_views(h, w, 0))
    assert len(boxes) == 1 and scores[0] > 0.5
    # the woman stands in the middle of the room, feet at 0.77 of the frame's height, about 270 px tall
    height, centre_x = boxes[0, 3] - boxes[0, 1], (boxes[0, 0] + boxes[0, 2]) / 2
    assert 0.4 * h < height < 0.55 * h and abs(centre_x - w / 2) < 0.1 * w and 0.72 * h < boxes[0, 3] < 0.82 * h
    blank = np.full((NANODET_INPUT, NANODET_INPUT, 3), 127, np.uint8)
    assert len(detector.detect(blank, detector_views(NANODET_INPUT, NANODET_INPUT, 0))[0]) == 0


def test_boxes_map_back_from_tiles_to_the_frame(detector):
    """The same person found in a tile and in the letterboxed frame lands on the same frame pixels."""
    from vibe.pipeline.video import VideoReader

    _, _, image = next(iter(VideoReader(ASSETS / "pose_1.mp4").frames(0, 1)))
    h, w = image.shape[:2]
    wide = np.zeros((h, 2 * w, 3), np.uint8)
    wide[:, w:] = image  # the person in the right half of a 2:1 frame
    letterbox, _ = detector.detect(wide, detector_views(h, 2 * w, 0))
    tiles, _ = detector.detect(wide, [(float(w), 0.0, float(h))])  # the right square only
    assert len(letterbox) == 1 and len(tiles) == 1
    assert box_iou(letterbox, tiles)[0, 0] > 0.8
