"""People beside people (pipeline/neighbours.py) and their use by the one-pass front end and the tracker."""

from __future__ import annotations

import numpy as np

from vibe.pipeline.detector import Detections
from vibe.pipeline.landmarks import crop_view, paint_over
from vibe.pipeline.neighbours import (
    bodies_outside,
    detect_in_views,
    grown,
    head_box,
    heads_to_hide,
    local_views,
    rect_minus,
)
from vibe.pipeline.roi_tracking import RoiFollower, RoiTrackingConfig
from vibe.pipeline.tracker import PersonTracker, TrackerConfig

FPS = 30.0


def _landmarks(cx: float, top: float, height: float) -> np.ndarray:
    """Rough BlazePose landmarks ``(33, 3)`` of an upright person ``height`` px tall, head at ``(cx, top)``."""
    lm = np.zeros((33, 3))
    lm[:, 2] = 1.0
    lm[:11, :2] = [cx, top + 0.06 * height]
    lm[1:11, 0] += np.linspace(-0.03, 0.03, 10) * height  # eyes, ears, mouth spread across the face
    lm[11:23, :2] = [[cx - 0.1 * height, top + 0.2 * height], [cx + 0.1 * height, top + 0.2 * height]] * 6
    lm[23:, :2] = [cx, top + 0.55 * height]
    lm[27:, 1] = top + height
    return lm


def _dets(bodies, faces, scores) -> Detections:
    bodies, faces = np.asarray(bodies, float).reshape(-1, 4), np.asarray(faces, float).reshape(-1, 4)
    kps = np.zeros((len(bodies), 4, 2))
    return Detections(bodies, np.asarray(scores, float), faces, kps)


def test_head_box_is_around_the_face_landmarks():
    box = head_box(_landmarks(200.0, 100.0, 100.0))
    centre = (box[:2] + box[2:]) / 2
    np.testing.assert_allclose(centre, [200.0, 106.0])
    side = box[2] - box[0]
    assert 10.0 < side < 30.0 and np.isclose(side, box[3] - box[1])


def test_heads_to_hide_keep_the_persons_own_face():
    followed = [_landmarks(100.0, 50.0, 100.0), _landmarks(300.0, 50.0, 100.0)]
    faces = np.array([[95.0, 50.0, 105.0, 62.0], [195.0, 50.0, 205.0, 62.0], [400.0, 50.0, 410.0, 62.0]])
    hide = heads_to_hide(followed, faces, own=1)
    # Both followed heads and the third detection's face, not the starting detection's own face.
    assert len(hide) == 4
    assert not any(b[0] < 205.0 and b[2] > 195.0 for b in hide)
    # A followed head touching the person's own face is kept visible: hiding it would hide them.
    hide = heads_to_hide(followed, faces, own=0)
    assert len(hide) == 3 and not any(b[0] < 105.0 and b[2] > 95.0 for b in hide)


def test_paint_over_fills_the_boxes_in_crop_pixels_only():
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, 100:] = 200
    view = crop_view(np.array([100.0, 100.0, 100.0]), 1.0)  # pixels 50..150, at 2x in a 200 px crop
    crop = np.repeat(np.repeat(image[50:150, 50:150], 2, axis=0), 2, axis=1)
    out = paint_over(crop, view, np.array([[60.0, 60.0, 70.0, 70.0]]))
    fill = crop.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    assert (out[20:40, 20:40] == fill).all() and (out[:20] == crop[:20]).all() and (out[40:] == crop[40:]).all()
    assert (crop == np.repeat(np.repeat(image[50:150, 50:150], 2, axis=0), 2, axis=1)).all()  # input untouched


def test_local_views_are_squares_around_the_boxes_inside_the_frame():
    views = local_views([np.array([10.0, 10.0, 50.0, 50.0]), np.array([600.0, 300.0, 700.0, 400.0])], (360, 640), 2.5)
    assert views[0] == (0, 0, 100)  # 2.5 x 40 px, pushed inside the frame's corner
    x0, y0, side = views[1]
    assert side == 250 and x0 + side == 640 and y0 + side == 360
    assert local_views([np.array([0.0, 0.0, 10.0, 10.0])], (360, 640), 2.5)[0][2] == 96  # at least min_side


class _OnePersonDetector:
    """Finds one person at the centre of any image it is given; records the images' shapes and tiles."""

    def __init__(self, score: float = 0.9):
        self.calls, self.score = [], score

    def detect(self, image, tiles=True):
        self.calls.append((image.shape[:2], tiles))
        h, w = image.shape[:2]
        return _dets([[w / 2 - 10, h / 2 - 10, w / 2 + 10, h / 2 + 10]], [[w / 2 - 3, h / 2 - 13, w / 2 + 3, h / 2 - 7]],
                     [self.score])  # fmt: skip


def test_detect_in_views_moves_finds_to_the_frame_and_merges_people_seen_twice():
    detector = _OnePersonDetector()
    image = np.zeros((360, 640, 3), np.uint8)
    base = _dets([[190.0, 90.0, 210.0, 110.0]], [[197.0, 87.0, 203.0, 93.0]], [0.5])
    out = detect_in_views(detector, image, [(150, 50, 100), (400, 200, 100)], base)
    assert detector.calls == [((100, 100), False), ((100, 100), False)]
    # The first view's person is the one already found (same body and face): kept once, at the higher score.
    np.testing.assert_allclose(sorted(out.bbox_xyxy.tolist()), [[190, 90, 210, 110], [440, 240, 460, 260]])
    assert sorted(out.score.tolist()) == [0.9, 0.9]


def test_a_neighbours_detection_over_a_followed_box_starts_a_track_when_its_face_is_elsewhere():
    tracker = PersonTracker(FPS, TrackerConfig(min_track_s=0.0))
    tracker.update(0, _dets([[100, 100, 200, 200]], [[140, 100, 160, 120]], [0.9]))
    followed_box = np.array([100.0, 100.0, 200.0, 200.0])
    head = grown(np.array([140.0, 100.0, 160.0, 120.0]), 1.5)
    # Frame 1: the followed person again (face on the head) and a neighbour overlapping their box.
    dets = _dets([[102, 100, 202, 200], [140, 100, 240, 200]], [[141, 100, 161, 120], [210, 100, 230, 120]], [0.9, 0.9])
    assert tracker.unfollowed(dets, {1: (followed_box, 0.9, head)}).tolist() == [1]
    assert tracker.unfollowed(dets, {1: (followed_box, 0.9)}).tolist() == []  # box overlap alone: both are them
    assert tracker.update(1, dets, {1: (followed_box, 0.9, head)}) == {1: 2}


def test_a_weak_detection_can_be_started_by_the_caller():
    tracker = PersonTracker(FPS, TrackerConfig(min_track_s=0.0))
    dets = _dets([[0, 0, 20, 20]], [[7, 0, 13, 6]], [0.4])
    assert tracker.update(0, dets) == {}  # below new_track_score
    assert tracker.start(0, dets, 0) == 1 and tracker.live_ids() == [1]
    tracker.discard(1)
    assert tracker.live_ids() == []


def test_a_lost_small_track_is_looked_for_in_a_local_view():
    # A small person was started (a track, no landmarks since): the passes for them also look
    # at one square around their box (the detector's letterboxed view of that sub-image).
    detector = _OnePersonDetector(score=0.0)  # finds a "person" no one can start from
    image = np.zeros((360, 640, 3), np.uint8)
    config = RoiTrackingConfig(far_tiles=0.4, local_view=2.5, weak_score=None)
    with RoiFollower(FPS, config, tracker_config=TrackerConfig(min_track_s=0.0), detector=detector) as follower:
        follower.tracker.update(0, _dets([[300, 150, 340, 190]], [[317, 150, 323, 156]], [0.9]))
        follower._last_far = 1  # the far pass is not due: an ordinary pass for the lost track
        follower.step(1, image)
    assert detector.calls == [((360, 640), True), ((100, 100), False)]
    # Off, or for a big person (box wider than a far tile), no local view.
    detector = _OnePersonDetector(score=0.0)
    no_local = RoiTrackingConfig(far_tiles=0.4, local_view=None, weak_score=None)
    with RoiFollower(FPS, no_local, tracker_config=TrackerConfig(min_track_s=0.0), detector=detector) as follower:
        follower.tracker.update(0, _dets([[300, 150, 340, 190]], [[317, 150, 323, 156]], [0.9]))
        follower._last_far = 1
        follower.step(1, image)
    assert detector.calls == [((360, 640), True)]


def test_rect_minus_leaves_the_part_outside_the_kept_box():
    box = np.array([0.0, 0.0, 10.0, 10.0])
    parts = rect_minus(box, np.array([8.0, 2.0, 20.0, 6.0]))  # overlapping the right edge
    np.testing.assert_array_equal(parts, [[0, 0, 10, 2], [0, 6, 10, 10], [0, 2, 8, 6]])
    area = ((parts[:, 2:] - parts[:, :2]).prod(axis=1)).sum()
    assert area == 100 - 2 * 4  # the box less the overlap, no part counted twice
    np.testing.assert_array_equal(rect_minus(box, np.array([20.0, 0.0, 30.0, 5.0])), [box])  # apart: all of it
    assert rect_minus(box, np.array([-1.0, -1.0, 11.0, 11.0])).shape == (0, 4)  # inside: nothing


def test_bodies_outside_a_proposal_cover_the_nearer_person_but_not_the_proposal():
    nearer = np.zeros((33, 3))
    nearer[:, 0] = np.linspace(100, 160, 33)
    nearer[:, 1] = np.linspace(50, 250, 33)  # extent (100, 50, 160, 250)
    proposal = np.array([150.0, 60.0, 200.0, 200.0])  # someone half behind them, to their right
    hidden = bodies_outside([nearer], proposal)

    def inside(x, y):
        return ((hidden[:, 0] <= x) & (x < hidden[:, 2]) & (hidden[:, 1] <= y) & (y < hidden[:, 3])).any()

    assert inside(120, 100) and inside(155, 240)  # the nearer body, beside and below the proposal
    assert not inside(155, 100) and not inside(180, 100)  # nothing inside the proposal's box
    assert bodies_outside([], proposal).shape == (0, 4)
