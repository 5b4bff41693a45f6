"""Tracker boundaries: expiry at exactly N lost frames, the low-score stage, the new-track and
minimum-length thresholds, the Kalman filter against a batch least-squares solution, and
identities across the cuts of the parallel detection ranges.

Detections are made up here (no detector), so every expectation follows from the
documented rules of :class:`~vibe.pipeline.tracker.TrackerConfig`.
"""

from __future__ import annotations

import numpy as np
import pytest

import vibe.pipeline.people as people_module
from vibe.pipeline.detector import Detections
from vibe.pipeline.people import DetectionScheduleConfig, detect_and_track_ranges
from vibe.pipeline.tracker import PersonTracker, TrackerConfig, _SquareKalman


def _dets(boxes_xyxy, scores) -> Detections:
    boxes = np.asarray(boxes_xyxy, float).reshape(-1, 4)
    n = boxes.shape[0]
    kps = np.repeat(boxes[:, None, :2], 4, axis=1)  # any keypoints: carried through unchanged
    return Detections(boxes, np.asarray(scores, float).reshape(n), boxes.copy(), kps)


def _square(cx: float, cy: float, side: float = 100.0) -> list[float]:
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def _shifted_iou(dx: float, side: float = 100.0) -> float:
    """IoU of two equal squares shifted by ``dx`` along x (hand formula: overlap / union)."""
    overlap = (side - dx) * side
    return overlap / (2 * side * side - overlap)


# --------------------------------------------------------------------------- lost-track expiry
@pytest.mark.parametrize("gap, same_identity", [(5, True), (6, False)])
def test_lost_track_survives_exactly_max_lost_frames(gap, same_identity):
    """At 10 fps, max_lost_s 0.5 → N = 5: a person unseen for 5 frames keeps the id, 6 ends it."""
    tracker = PersonTracker(fps=10.0, config=TrackerConfig(max_lost_s=0.5))
    seen = [*range(0, 10), *range(10 + gap, 30)]
    for f in range(30):
        tracker.update(f, _dets([_square(200, 200)] if f in seen else [], [0.9] if f in seen else []))
    tracks = tracker.tracks()
    if same_identity:
        assert [t.track_id for t in tracks] == [1]
        np.testing.assert_array_equal(tracks[0].frame_ids, seen)
    else:
        # The first track ended; the person comes back as a new identity (both ≥ 8 frames long).
        assert [t.track_id for t in tracks] == [1, 2]
        np.testing.assert_array_equal(tracks[0].frame_ids, np.arange(10))
        np.testing.assert_array_equal(tracks[1].frame_ids, np.arange(10 + gap, 30))


def test_max_lost_rounds_seconds_to_frames():
    # 0.25 s at 30 fps = 7.5 → 8 frames (round half to even gives 8): a gap of 8 keeps the id, 9 does not.
    for gap, ids in ((8, [1]), (9, [1, 2])):
        tracker = PersonTracker(fps=30.0, config=TrackerConfig(max_lost_s=0.25, min_track_s=0.1))
        for f in range(40):
            here = f < 10 or f >= 10 + gap
            tracker.update(f, _dets([_square(300, 200)] if here else [], [0.9] if here else []))
        assert [t.track_id for t in tracker.tracks()] == ids, gap


# --------------------------------------------------------------------------- low-score stage
def _static_then(frame_score: float, dx: float, fps: float = 30.0, config: TrackerConfig | None = None):
    """A still person (score 0.9) for 10 frames, then 20 frames at ``frame_score``, shifted by ``dx`` px."""
    tracker = PersonTracker(fps=fps, config=config or TrackerConfig(min_track_s=0.1))
    for f in range(10):
        tracker.update(f, _dets([_square(200, 200)], [0.9]))
    for f in range(10, 30):
        tracker.update(f, _dets([_square(200 + dx, 200)], [frame_score]))
    return tracker.tracks()


def test_low_score_detections_extend_a_track_seen_in_the_previous_frame():
    # Score 0.4 is in [low 0.3, high 0.6): second stage only; the box overlaps the still track by IoU 0.54.
    assert _shifted_iou(30) == pytest.approx(70 / 130)
    (track,) = _static_then(0.4, dx=30.0)
    np.testing.assert_array_equal(track.frame_ids, np.arange(30))
    np.testing.assert_allclose(track.score[10:], 0.4)


def test_low_score_stage_boundaries():
    # Exactly low_score (0.3) is a candidate; just under it is not.
    assert _static_then(0.3, dx=0.0)[0].frame_ids.size == 30
    assert _static_then(0.2999, dx=0.0)[0].frame_ids.size == 10
    # The low stage needs IoU ≥ 0.5: 0.47 (dx 36) is too little for a 0.4 box ...
    assert _shifted_iou(36) < 0.5
    assert _static_then(0.4, dx=36.0)[0].frame_ids.size == 10
    # ... while a high-score box at that IoU is matched by the first stage (IoU ≥ 0.2).
    assert _static_then(0.65, dx=36.0)[0].frame_ids.size == 30


def test_iou_and_score_thresholds_are_inclusive():
    """IoU exactly 0.5 (low stage) and 0.2 (high stage), score exactly high_score: all matched."""
    still = _square(50, 50)  # [0, 0, 100, 100]; the half-height box overlaps it by exactly 1/2, a fifth-height one by 1/5

    def extended(box, score):
        tracker = PersonTracker(fps=30.0, config=TrackerConfig(min_track_s=0.1))
        for f in range(5):
            tracker.update(f, _dets([still], [0.9]))
        tracker.update(5, _dets([box], [score]))
        return tracker.tracks()[0].frame_ids.size == 6

    assert extended([0, 0, 100, 50], 0.4)  # IoU 0.5, low stage
    assert not extended([0, 0, 100, 49], 0.4)
    assert extended([0, 0, 100, 20], 0.65)  # IoU 0.2, high stage
    assert extended([0, 0, 100, 30], 0.6)  # IoU 0.3: only the high stage takes it, so 0.6 is "high"


def test_a_detection_extends_one_track_only():
    # Two overlapping people; then one detection of 0.6 on the first: the second, although recent and
    # overlapping it by IoU 0.74 (≥ 0.5), is not extended by the same detection in the low stage.
    tracker = PersonTracker(fps=30.0, config=TrackerConfig(min_track_s=0.1))
    for f in range(5):
        tracker.update(f, _dets([_square(200, 200), _square(215, 200)], [0.9, 0.9]))
    tracker.update(5, _dets([_square(200, 200)], [0.6]))
    first, second = tracker.tracks()
    assert first.frame_ids[-1] == 5 and second.frame_ids[-1] == 4


def test_kalman_prediction_carries_a_walker_over_a_gap():
    # 5 px/frame for 10 frames, then 6 frames unseen: back 30 px further, where constant velocity puts it.
    # With IoU ≥ 0.8 required, a box left where it was last seen (IoU 0.54) or predicted too far fails.
    tracker = PersonTracker(fps=30.0, config=TrackerConfig(match_iou_high=0.8, min_track_s=0.1))
    for f in [*range(10), *range(16, 20)]:
        tracker.update(f, _dets([_square(100 + 5.0 * f, 200)], [0.9]))
        if f == 9:
            for gap in range(10, 16):
                tracker.update(gap, _dets([], []))
    assert [t.track_id for t in tracker.tracks()] == [1]


def test_tracks_shorter_than_one_frame_rule():
    # min_track_s × fps rounds to 0: still at least 1 frame, so a single detection is a track.
    tracker = PersonTracker(fps=10.0, config=TrackerConfig(min_track_s=0.04))
    tracker.update(0, _dets([_square(200, 200)], [0.9]))
    assert [t.frame_ids.tolist() for t in tracker.tracks()] == [[0]]


def test_dropped_tracks_are_logged(caplog):
    tracker = PersonTracker(fps=30.0)
    for f in range(30):
        boxes = [_square(200, 200)] + ([_square(600, 200)] if f < 5 else []) + ([_square(900, 200)] if f < 3 else [])
        tracker.update(f, _dets(boxes, [0.9] * len(boxes)))
    with caplog.at_level("DEBUG", logger="vibe.pipeline.tracker"):
        tracker.tracks()
    assert caplog.messages == ["1 tracks kept, 2 shorter than 25 frames dropped"]


def test_low_score_detections_do_not_revive_a_track_missed_at_the_last_frame():
    tracker = PersonTracker(fps=30.0, config=TrackerConfig(min_track_s=0.1))
    for f in range(10):
        tracker.update(f, _dets([_square(200, 200)], [0.9]))
    tracker.update(10, _dets([], []))  # missed once
    for f in range(11, 20):
        tracker.update(f, _dets([_square(200, 200)], [0.5]))  # same place, but only weak boxes
    (track,) = tracker.tracks()
    np.testing.assert_array_equal(track.frame_ids, np.arange(10))


def test_low_score_boxes_never_start_a_track():
    tracker = PersonTracker(fps=30.0, config=TrackerConfig(min_track_s=0.1))
    for f in range(30):
        tracker.update(f, _dets([_square(500, 200)], [0.59]))
    assert tracker.tracks() == []


# --------------------------------------------------------------------------- new tracks, track length
@pytest.mark.parametrize("score, starts", [(0.7, True), (0.69, False)])
def test_new_track_score_threshold(score, starts):
    tracker = PersonTracker(fps=30.0, config=TrackerConfig(min_track_s=0.1))
    for f in range(10):
        tracker.update(f, _dets([_square(200, 200)], [score]))
    assert [t.frame_ids.size for t in tracker.tracks()] == ([10] if starts else [])


def test_a_high_but_not_new_track_score_extends_an_existing_track():
    # 0.65 is ≥ high_score (first stage) and < new_track_score: it extends, never starts.
    (track,) = _static_then(0.65, dx=0.0)
    assert track.frame_ids.size == 30 and track.track_id == 1


@pytest.mark.parametrize("fps, kept_min", [(30.0, 25), (10.0, 8), (60.0, 50)])
def test_minimum_track_length_is_inclusive(fps, kept_min):
    """min_track_s 25/30 s: 25 frames at 30 fps, round(8.33) = 8 at 10 fps, 50 at 60 fps; exactly that many is kept."""
    tracker = PersonTracker(fps=fps)
    lengths = {200.0: kept_min, 600.0: kept_min - 1}  # two people far apart, one frame shorter
    for f in range(kept_min + 5):
        here = [cx for cx, n in lengths.items() if f < n]
        tracker.update(f, _dets([_square(cx, 200) for cx in here], [0.9] * len(here)))
    kept = tracker.tracks()
    assert [t.frame_ids.size for t in kept] == [kept_min]
    assert kept[0].bbox_xyxy[0, 0] == 150.0  # the person at x = 200


def test_strided_coverage_counts_the_skipped_frames():
    # Detections on frames 0, 3, ..., 24 (9 of them) cover frames 0..24: 25 frames, kept at 30 fps.
    tracker = PersonTracker(fps=30.0)
    for f in range(0, 25, 3):
        tracker.update(f, _dets([_square(200, 200)], [0.9]))
    assert [t.frame_ids.size for t in tracker.tracks()] == [9]
    tracker = PersonTracker(fps=30.0)
    for f in range(0, 22, 3):  # 0..21: 22 frames covered < 25
        tracker.update(f, _dets([_square(200, 200)], [0.9]))
    assert tracker.tracks() == []


def test_tracks_are_returned_by_id_with_their_detections():
    tracker = PersonTracker(fps=30.0, config=TrackerConfig(min_track_s=0.1))
    for f in range(12):
        boxes = [_square(600, 300)] + ([_square(100 + f, 100)] if f >= 2 else [])
        tracker.update(f, _dets(boxes, [0.8, 0.95][: len(boxes)]))
    first, second = tracker.tracks()
    assert (first.track_id, second.track_id) == (1, 2)
    np.testing.assert_array_equal(second.frame_ids, np.arange(2, 12))
    np.testing.assert_allclose(second.bbox_xyxy[:, 0], 100 + np.arange(2, 12) - 50)
    np.testing.assert_allclose(second.score, 0.95)
    np.testing.assert_allclose(second.keypoints_img[:, :, 0], np.repeat(second.bbox_xyxy[:, :1], 4, axis=1))


def test_needs_every_frame_and_min_live_side():
    tracker = PersonTracker(fps=30.0)
    assert tracker.min_live_side() == float("inf") and not tracker.needs_every_frame(3)
    for f in range(3):
        tracker.update(f, _dets([_square(200, 200, side=80.0)], [0.9]))
        assert tracker.needs_every_frame(3) == (f < 2)  # unconfirmed until 3 detections
    assert tracker.min_live_side() == pytest.approx(80.0)
    tracker.update(3, _dets([], []))
    assert tracker.needs_every_frame(3)  # missed at the last update


def test_a_re_found_track_counts_its_missed_frames_once():
    # 10 frames, 5 missed while the detector looked, 14 more: 10 + 1 + 13 = 24 covered frames
    # (the missed ones do not count) < 25 at 30 fps: dropped; one frame more and it is kept.
    for tail, kept in ((14, False), (15, True)):
        tracker = PersonTracker(fps=30.0)
        for f in range(15 + tail):
            here = not 10 <= f < 15
            tracker.update(f, _dets([_square(200, 200)] if here else [], [0.9] if here else []))
        assert bool(tracker.tracks()) == kept, tail


def test_strided_coverage_stops_at_a_detector_frame_that_missed():
    # Detector frames 0, 3, ..., 27; the person is missed on frame 9. Covered: 0..6 (7 frames), then
    # 12 alone (frames 7..11 lie next to the miss), then 13..27 (15): 23 < 25, dropped.
    tracker = PersonTracker(fps=30.0)
    for f in range(0, 30, 3):
        here = f != 9
        tracker.update(f, _dets([_square(200, 200)] if here else [], [0.9] if here else []))
    assert tracker.tracks() == []


def test_tiny_max_lost_still_waits_one_frame_and_slow_videos_work():
    # 0.01 s at 30 fps rounds to 0 frames: at least 1, so one missed frame keeps the id, two end it.
    for gap, ids in ((1, [1]), (2, [1, 2])):
        tracker = PersonTracker(fps=30.0, config=TrackerConfig(max_lost_s=0.01, min_track_s=0.1))
        for f in range(20):
            here = not 10 <= f < 10 + gap
            tracker.update(f, _dets([_square(200, 200)] if here else [], [0.9] if here else []))
        assert [t.track_id for t in tracker.tracks()] == ids, gap
    slow = PersonTracker(fps=0.5, config=TrackerConfig(min_track_s=1.0))  # a time-lapse: 1 frame per 2 s
    slow.update(0, _dets([_square(200, 200)], [0.9]))
    assert [t.frame_ids.tolist() for t in slow.tracks()] == [[0]]


def test_tracker_validates_fps_and_frame_order():
    for fps in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="fps must be positive"):
            PersonTracker(fps=fps)
    tracker = PersonTracker(fps=30.0)
    tracker.update(4, _dets([], []))
    with pytest.raises(ValueError, match="frames must increase: 3 after 4"):
        tracker.update(3, _dets([], []))


# --------------------------------------------------------------------------- Kalman filter
def _batch_posterior(z: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the last state given measurements ``z (n, 3)``, by batch least squares.

    The model of SORT/ByteTrack's square-box filter with a constant side: state (cx, cy, s, and
    rates), constant velocity, process std side/20 (positions) and side/160 (rates) per frame,
    measurement std side/20, prior at the first measurement with std 2·side/20 and 10·side/160.
    The posterior of all states is one Gaussian; the filter's estimate must be its last block.
    """
    n, d = len(z), 6
    f = np.eye(d)
    f[:3, 3:] = np.eye(3)
    h = np.eye(3, d)
    q_inv = np.diag(1.0 / np.r_[np.full(3, side / 20), np.full(3, side / 160)] ** 2)
    r_inv = np.eye(3) / (side / 20) ** 2
    p0_inv = np.diag(1.0 / np.r_[np.full(3, 2 * side / 20), np.full(3, 10 * side / 160)] ** 2)
    info = np.zeros((n * d, n * d))  # information matrix and vector of the stacked states
    vec = np.zeros(n * d)
    info[:d, :d] += p0_inv
    vec[:d] += p0_inv @ np.r_[z[0], np.zeros(3)]
    for k in range(1, n):
        a = np.zeros((d, n * d))  # x_k − F x_{k−1}
        a[:, k * d : (k + 1) * d] = np.eye(d)
        a[:, (k - 1) * d : k * d] = -f
        info += a.T @ q_inv @ a
        sel = np.zeros((3, n * d))
        sel[:, k * d : (k + 1) * d] = h
        info += sel.T @ r_inv @ sel
        vec += sel.T @ r_inv @ z[k]
    cov = np.linalg.inv(info)
    mean = cov @ vec
    return mean[-d:], cov[-d:, -d:]


@pytest.mark.parametrize("side", [120.0, 1.5])  # 1.5 px: the noise floor of 1 px side does not apply
def test_kalman_filter_is_the_batch_posterior(side):
    rng = np.random.default_rng(4)
    t = np.arange(8)
    z = np.stack([300 + 7.0 * t + rng.normal(0, 3, 8), 200 - 2.0 * t + rng.normal(0, 3, 8), np.full(8, side)], 1)
    kf = _SquareKalman(z[0].copy())
    for k in range(1, 8):
        kf.predict()
        kf.update(z[k])
    mean, cov = _batch_posterior(z, side)
    np.testing.assert_allclose(kf.x, mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(kf.P, cov, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(kf.bbox_xyxy(), [mean[0] - side / 2, mean[1] - side / 2, mean[0] + side / 2, mean[1] + side / 2])


def test_kalman_update_is_the_textbook_gain_exactly():
    """The closed-form gain (S is diagonal) gives the very numbers of K = P Hᵀ (H P Hᵀ + R)⁻¹, over gaps and
    changing sides."""
    rng = np.random.default_rng(7)
    kf = _SquareKalman(np.array([300.0, 200.0, 80.0]))
    for gap in rng.integers(1, 4, 30):
        for _ in range(gap):
            kf.predict()
        x, p = kf.x.copy(), kf.P.copy()
        z = x[:3] + rng.normal(0, 5, 3)
        kf.update(z)
        r = np.full(3, (kf._POS_STD * max(x[2], 1.0)) ** 2)
        k = p @ kf.H.T @ np.linalg.inv(kf.H @ p @ kf.H.T + np.diag(r))
        np.testing.assert_array_equal(kf.x, x + k @ (z - kf.H @ x))
        np.testing.assert_array_equal(kf.P, (np.eye(6) - k @ kf.H) @ p)


def test_kalman_prediction_over_a_gap_adds_process_noise_per_frame():
    side = 100.0
    kf = _SquareKalman(np.array([10.0, 20.0, side]))
    p0 = kf.P.copy()
    kf.predict()
    kf.predict()
    f2 = np.eye(6)
    f2[:3, 3:] = 2 * np.eye(3)  # two frames of constant velocity
    f1 = np.eye(6)
    f1[:3, 3:] = np.eye(3)
    q = np.diag(np.r_[np.full(3, side / 20), np.full(3, side / 160)] ** 2)
    np.testing.assert_allclose(kf.P, f2 @ p0 @ f2.T + f1 @ q @ f1.T + q, rtol=1e-12)
    np.testing.assert_allclose(kf.x, [10.0, 20.0, side, 0, 0, 0])


# --------------------------------------------------------------------------- parallel ranges
class _ScriptedDetector:
    """Stands in for PersonDetector: the frame's detections are looked up by the image's first pixel value."""

    script: dict[int, Detections] = {}

    def __init__(self, config=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def detect(self, image: np.ndarray, tiles: bool = True) -> Detections:
        return self.script.get(int(image[0, 0, 0]), Detections.empty())


def _frame(k: int) -> np.ndarray:
    image = np.zeros((4, 4, 3), np.uint8)
    image[0, 0, 0] = k  # the frame's index (< 256)
    return image


def _ranges(cuts: list[int], n: int):
    bounds = [0, *cuts, n]

    def source(a: int, b: int):
        return lambda: ((k / 30.0, _frame(k)) for k in range(a, b))

    return [source(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setattr(people_module, "PersonDetector", _ScriptedDetector)
    return _ScriptedDetector


@pytest.mark.parametrize("schedule", [DetectionScheduleConfig(), DetectionScheduleConfig(stride=3)])
def test_identity_runs_across_range_cuts(scripted, schedule):
    n = 90
    # A walker over the whole clip; a second person who is missed for 4 frames across the cut at 45.
    script = {}
    for k in range(n):
        boxes, scores = [_square(100 + 2.0 * k, 200)], [0.9]
        if not 43 <= k < 47:
            boxes.append(_square(700, 300))
            scores.append(0.8)
        script[k] = _dets(boxes, scores)
    scripted.script = script
    one, times_one = detect_and_track_ranges(_ranges([], n), 30.0, schedule=schedule)
    cut, times_cut = detect_and_track_ranges(_ranges([30, 45, 60], n), 30.0, schedule=schedule)
    np.testing.assert_allclose(times_cut, np.arange(n) / 30.0)
    np.testing.assert_array_equal(times_cut, times_one)
    assert [t.track_id for t in cut] == [1, 2]
    walker, still = cut
    assert walker.frame_ids[0] == 0 and walker.frame_ids[-1] == n - 1
    # Every range looks at its own first and last frames, so each cut is seen on both sides.
    assert {29, 30, 44, 45, 59, 60} <= set(walker.frame_ids.tolist())
    np.testing.assert_allclose(walker.bbox_xyxy[:, 0], 50 + 2.0 * walker.frame_ids)
    assert still.frame_ids[0] == 0 and still.frame_ids[-1] == n - 1
    assert not set(range(43, 47)) & set(still.frame_ids.tolist())
    if schedule.stride == 1:
        # Every frame looked at in both runs: the cut changes nothing.
        for a, b in zip(one, cut):
            np.testing.assert_array_equal(a.frame_ids, b.frame_ids)
            np.testing.assert_array_equal(a.bbox_xyxy, b.bbox_xyxy)
        np.testing.assert_array_equal(walker.frame_ids, np.arange(n))


def test_a_person_lost_longer_than_max_lost_across_a_cut_gets_a_new_identity(scripted):
    # Unseen from frame 20 to 51 (32 frames > 30 = 1 s at 30 fps), with a cut at 40 in between.
    scripted.script = {k: _dets([_square(300, 300)], [0.9]) for k in range(80) if not 20 <= k < 52}
    tracks, _ = detect_and_track_ranges(_ranges([40], 80), 30.0, tracker_config=TrackerConfig(min_track_s=0.1))
    assert [(t.track_id, int(t.frame_ids[0]), int(t.frame_ids[-1])) for t in tracks] == [(1, 0, 19), (2, 52, 79)]

