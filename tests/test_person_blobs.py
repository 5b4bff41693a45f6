"""Person proposals from segmentation blobs (pipeline/person_blobs.py) and their use on far passes (roi_tracking)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vibe.pipeline.detector import Detections
from vibe.pipeline.person_blobs import (
    PersonSegmenter,
    blob_boxes,
    blob_detections,
    cut_by_view,
    merge_blobs,
    unclaimed_blobs,
)
from vibe.pipeline.roi_tracking import RoiFollower, RoiTrackingConfig
from vibe.pipeline.tracker import TrackerConfig
from vibe.pipeline.video import VideoReader

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_blob_boxes_are_the_connected_blobs_above_the_threshold_and_tall_enough():
    mask = np.zeros((100, 200), np.float32)
    mask[10:60, 20:40] = 0.9  # 50 tall
    mask[70:75, 100:180] = 0.9  # 5 tall: left out
    mask[20:90, 150:170] = 0.4  # under the threshold
    np.testing.assert_array_equal(blob_boxes(mask, 0.5, min_height=8), [[20, 10, 40, 60]])


def test_a_blob_cut_at_a_tile_edge_is_merged_into_the_whole_one_and_neighbours_stay():
    whole, cut, neighbour = [100, 50, 130, 150], [100, 50, 130, 90], [135, 55, 165, 150]
    np.testing.assert_array_equal(merge_blobs(np.array([cut, whole, neighbour])), [whole, neighbour])
    assert merge_blobs(np.zeros((0, 4))).shape == (0, 4)


def test_a_blob_touching_a_view_edge_inside_the_image_is_cut_but_one_on_the_image_edge_is_not():
    view, image = (100, 0, 388, 288), (1280, 720)  # a tile at the image's top, 100 px from its left
    boxes = np.array([
        [150, 50, 200, 200],  # inside: whole
        [100, 50, 150, 200],  # on the tile's left edge, inside the image: cut
        [150, 200, 200, 288],  # on the tile's bottom edge: cut
        [150, 0, 200, 100],  # on the tile's top edge, which is the image's: whole
    ])  # fmt: skip
    assert cut_by_view(boxes, view, image).tolist() == [False, True, True, False]


def test_blob_detections_use_the_detectors_box_definition():
    found = blob_detections(np.array([[100.0, 50.0, 140.0, 150.0]]), score=0.3)
    # A 100 px tall blob centred at (120, 100): a square of 1.25 x 100, the face on its top.
    np.testing.assert_allclose(found.bbox_xyxy, [[57.5, 37.5, 182.5, 162.5]])
    np.testing.assert_allclose(found.face_xyxy, [[113.75, 50.0, 126.25, 62.5]])
    np.testing.assert_allclose(found.keypoints_img[0, 0], [120, 100])  # mid-hip at the centre
    assert found.score.tolist() == [0.3] and len(found) == 1


def test_blobs_of_someone_found_looked_for_or_too_large_are_not_proposed():
    blobs = np.array([
        [100, 100, 130, 180],  # a free small person
        [310, 200, 330, 260],  # a limb inside the followed person's landmark extent
        [500, 100, 530, 180],  # where a lost track is predicted
        [700, 100, 800, 400],  # 300 px tall: its square is wider than a far tile
    ], float)  # fmt: skip
    squares = blob_detections(blobs, 0.3).bbox_xyxy
    people = np.array([[280.0, 100.0, 380.0, 400.0]])
    taken = np.array([[490.0, 90.0, 545.0, 190.0]])
    assert unclaimed_blobs(blobs, squares, people, taken, max_side=288.0).tolist() == [0]
    assert unclaimed_blobs(blobs, squares, np.zeros((0, 4)), np.zeros((0, 4)), 288.0).tolist() == [0, 1, 2]


def _small_person_frame() -> np.ndarray:
    """``(720, 1280, 3)``: ``pose_1``'s first frame scaled to 200 px, pasted on a grey frame at (600, 400)."""
    _, _, image = next(iter(VideoReader(ASSETS / "pose_1.mp4").frames(0, 1)))
    frame = np.full((720, 1280, 3), 128, np.uint8)
    frame[400:600, 600:800] = cv2.resize(image, (200, 200), interpolation=cv2.INTER_AREA)
    return frame


class _NobodyDetector:
    def detect(self, image, tiles=True):
        return Detections.empty()


def test_the_segmenter_finds_a_small_person_and_a_far_pass_starts_their_track_without_any_detection():
    frame = _small_person_frame()
    segmenter = PersonSegmenter()
    try:
        blobs = segmenter.blobs(frame, [(512.0, 352.0, 288.0)], min_height=40.0)
    finally:
        segmenter.close()
    assert len(blobs) >= 1
    centre = (blobs[:, :2] + blobs[:, 2:]) / 2
    assert np.any((np.abs(centre[:, 0] - 700) < 60) & (np.abs(centre[:, 1] - 500) < 80))
    # The detector finds no one; the far pass's blob starts a landmark model that sees the body.
    tracker = TrackerConfig(min_track_s=0.0)
    # Blobs alone, the person detector's boxes alone (vibe.pipeline.person_boxes), both: the same person.
    for blobs_on, boxes in ((True, None), (False, 0), (True, 0)):
        config = RoiTrackingConfig(far_tiles=0.4, blob_proposals=blobs_on, box_proposals=boxes)
        with RoiFollower(30.0, config, tracker_config=tracker, detector=_NobodyDetector()) as follower:
            found = follower.step(0, frame)
        assert len(found) == 1
        box = next(iter(found.values())).bbox_xyxy
        assert 600 < (box[0] + box[2]) / 2 < 800 and 400 < (box[1] + box[3]) / 2 < 600
    # Without either, no one.
    off = RoiTrackingConfig(far_tiles=0.4, blob_proposals=False, box_proposals=None)
    with RoiFollower(30.0, off, tracker_config=tracker, detector=_NobodyDetector()) as follower:
        assert follower.step(0, frame) == {}


def test_blobs_on_an_empty_frame_start_no_one():
    frame = np.full((720, 1280, 3), 128, np.uint8)
    segmenter = PersonSegmenter()
    try:
        assert segmenter.blobs(frame, [(0.0, 0.0, 288.0), (512.0, 352.0, 288.0)], min_height=40.0).shape == (0, 4)
    finally:
        segmenter.close()
    with RoiFollower(30.0, RoiTrackingConfig(far_tiles=0.4), detector=_NobodyDetector()) as follower:
        assert follower.step(0, frame) == {}


def test_a_person_box_inside_a_much_taller_followed_extent_is_someone_else():
    """A reading that took two people in as one body does not claim the second one's whole-body box."""
    box = np.array([[570.0, 170.0, 612.0, 286.0]])  # 116 px tall
    squares = blob_detections(box, 0.3).bbox_xyxy
    merged = np.array([[490.0, 100.0, 615.0, 440.0]])  # 340 px: the box lies inside it
    same = np.array([[566.0, 168.0, 616.0, 290.0]])  # that person's own reading
    nothing = np.zeros((0, 4))
    assert unclaimed_blobs(box, squares, merged, nothing, np.inf).tolist() == []  # by default: claimed
    assert unclaimed_blobs(box, squares, merged, nothing, np.inf, max_extent=1.5).tolist() == [0]
    assert unclaimed_blobs(box, squares, same, nothing, np.inf, max_extent=1.5).tolist() == []


def test_a_followed_reading_claims_one_person_box_and_the_one_behind_is_proposed():
    front = np.array([100.0, 100.0, 160.0, 300.0])  # the nearer person's box
    behind = np.array([125.0, 110.0, 180.0, 290.0])  # someone half behind them: more than half inside the reading
    boxes = np.stack([behind, front])
    squares = blob_detections(boxes, 0.3).bbox_xyxy
    reading = np.array([[102.0, 104.0, 162.0, 298.0]])  # the nearer person's landmark extent
    nothing = np.zeros((0, 4))
    assert unclaimed_blobs(boxes, squares, reading, nothing, np.inf, max_extent=1.5).tolist() == []
    assert unclaimed_blobs(boxes, squares, reading, nothing, np.inf, max_extent=1.5, one_each=True).tolist() == [0]
    two = np.stack([reading[0], behind + [1.0, 0.0, 1.0, 0.0]])  # both followed: both boxes claimed
    assert unclaimed_blobs(boxes, squares, two, nothing, np.inf, max_extent=1.5, one_each=True).tolist() == []
