"""Person detector (BlazePose SSD decoding), tracker and box smoothing."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_1_reference import load_pose_1_keypoints
from vibe.pipeline.detector import (
    DetectorConfig,
    Detections,
    PersonDetector,
    box_iou,
    detector_views,
    far_views,
    ssd_anchor_centers,
    weighted_nms,
)
from vibe.pipeline.people import (
    DetectionScheduleConfig,
    detect_and_track,
    detect_and_track_ranges,
    smooth_square_boxes,
)
from vibe.pipeline.tracker import PersonTracker, TrackerConfig
from vibe.pipeline.video import VideoReader

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def detector():
    with PersonDetector(DetectorConfig(min_score=0.3)) as det:
        yield det


@pytest.fixture(scope="module")
def pose_1_frames():
    return [img for _, _, img in VideoReader(ASSETS / "pose_1.mp4")]


@pytest.fixture(scope="module")
def pose_1_keypoints():
    """``(120, 13, 2)`` COCO keypoints of pose_1.json (pixels)."""
    return load_pose_1_keypoints()


def test_anchor_grid_hand_computed():
    a = ssd_anchor_centers()
    assert a.shape == (2254, 2)
    # Stride 8: 28×28 cells × 2 anchors, row-major, two anchors per cell at the cell centre.
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[2 * 28], [0.5 / 28, 1.5 / 28])
    # Stride 16 starts after 1568 anchors: 14×14 cells × 2.
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
    # The three stride-32 layers share one 7×7 map with 6 anchors per cell.
    np.testing.assert_allclose(a[1568 + 392 : 1568 + 392 + 6], [[0.5 / 7, 0.5 / 7]] * 6)
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_box_iou_hand_computed():
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]])
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 1 / 4, 0.0]])
    np.testing.assert_allclose(box_iou(a, b, over="min"), [[1 / 4, 1.0, 0.0]])


def test_weighted_nms_hand_computed():
    faces = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [5.0, 5.0, 6.0, 6.0]])
    kps = np.array([[[0.0, 0.0]], [[1.0, 2.0]], [[9.0, 9.0]]])
    score = np.array([0.6, 0.2, 0.9])
    f, k, s = weighted_nms(faces, kps, score, iou_threshold=0.3)
    np.testing.assert_allclose(s, [0.9, 0.6])
    np.testing.assert_allclose(f[0], faces[2])
    np.testing.assert_allclose(f[1], [0.025, 0.0, 1.025, 1.0])  # (0.6·0 + 0.2·0.1) / 0.8
    np.testing.assert_allclose(k[1], [[0.25, 0.5]])


def _mediapipe_pose_detections(image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: MediaPipe's own PoseDetectionCpu subgraph → scores (N,), keypoints (N, 4, 2) pixels."""
    import mediapipe as mp
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python import packet_creator, packet_getter
    from mediapipe.python._framework_bindings import calculator_graph, resource_util

    resource_util.set_resource_dir(os.path.dirname(os.path.dirname(mp.__file__)))
    config = text_format.Parse(
        'input_stream: "image" output_stream: "dets" '
        'node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:dets" }',
        calculator_pb2.CalculatorGraphConfig(),
    )
    graph = calculator_graph.CalculatorGraph(graph_config=config)
    packets = []
    graph.observe_output_stream("dets", lambda stream, packet: packets.append(packet))
    graph.start_run()
    graph.add_packet_to_input_stream(
        "image", packet_creator.create_image_frame(image_format=mp.ImageFormat.SRGB, data=image_rgb).at(0)
    )
    graph.close()
    dets = packet_getter.get_proto_list(packets[0])
    h, w = image_rgb.shape[:2]
    scores = np.array([d.score[0] for d in dets])
    kps = np.array([[(p.x * w, p.y * h) for p in d.location_data.relative_keypoints] for d in dets])
    return scores, kps


def test_decoding_agrees_with_mediapipe_subgraph(pose_1_frames):
    image = pose_1_frames[40]
    ref_score, ref_kps = _mediapipe_pose_detections(image)
    with PersonDetector(DetectorConfig(min_score=0.5, tile_levels=0)) as det:
        ours = det.detect(image)
    assert len(ours) == len(ref_score) >= 1
    order = np.argsort(-ours.score)
    # Measured on frames 0, 40, 80, 119: scores within 7e-8, keypoints within 3.4e-5 px (float32
    # rounding between the two graphs); ~10x that, so a changed anchor, offset or scale fails.
    np.testing.assert_allclose(ours.score[order], np.sort(ref_score)[::-1], rtol=0, atol=5e-7)
    np.testing.assert_allclose(ours.keypoints_img[order], ref_kps[np.argsort(-ref_score)], rtol=0, atol=3e-4)


def test_body_box_contains_the_person(detector, pose_1_frames, pose_1_keypoints):
    inside = []
    for k in range(0, len(pose_1_frames), 4):
        det = detector.detect(pose_1_frames[k])
        if not len(det):
            inside.append(False)
            continue
        x0, y0, x1, y1 = det.bbox_xyxy[np.argmax(det.score)]
        kp = pose_1_keypoints[k]
        inside.append(bool(np.all((kp[:, 0] >= x0) & (kp[:, 0] <= x1) & (kp[:, 1] >= y0) & (kp[:, 1] <= y1))))
    assert np.mean(inside) >= 0.9


def test_two_people_side_by_side(detector):
    # The bundled clip shows one person at a time: put two of its frames side by side
    # (a man near frame 200, a woman near frame 50, each cropped to 384 px around them).
    frames = {i: img for i, _, img in VideoReader(ASSETS / "people_walking.mp4") if i in (50, 200)}
    image = np.concatenate([frames[200][:, 150:534], frames[50][:, 286:670]], axis=1)
    det = detector.detect(image)
    strong = det.score >= 0.6
    hips_x = det.keypoints_img[strong, 0, 0]
    assert np.sum(hips_x < 384) == 1 and np.sum(hips_x >= 384) == 1


def _dets(boxes_xyxy, scores) -> Detections:
    boxes = np.asarray(boxes_xyxy, float).reshape(-1, 4)
    n = boxes.shape[0]
    return Detections(boxes, np.asarray(scores, float).reshape(n), boxes.copy(), np.zeros((n, 4, 2)))


def _square(cx, cy, side=100.0):
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def test_tracker_keeps_identities_through_occlusion():
    tracker = PersonTracker(fps=30, config=TrackerConfig(max_lost_s=0.5))
    for f in range(60):
        boxes, scores = [_square(300 - 3 * f, 200)], [0.9]  # walks left
        if not 20 <= f < 30:  # walks right, hidden for 10 frames (1/3 s)
            boxes.append(_square(100 + 3 * f, 220))
            scores.append(0.9)
        tracker.update(f, _dets(boxes, scores))
    tracks = tracker.tracks()
    assert len(tracks) == 2
    right = next(t for t in tracks if t.bbox_xyxy[-1, 0] > t.bbox_xyxy[0, 0])
    assert len(right.frame_ids) == 50 and right.frame_ids[0] == 0 and right.frame_ids[-1] == 59


def test_tracker_low_scores_extend_but_do_not_start_tracks():
    tracker = PersonTracker(fps=30)
    for f in range(40):
        boxes = [_square(200 + f, 200), _square(600, 200)]
        scores = [0.9 if f < 10 else 0.4, 0.4]  # track 1 fades; a weak box never starts one
        tracker.update(f, _dets(boxes, scores))
    tracks = tracker.tracks()
    assert len(tracks) == 1 and len(tracks[0].frame_ids) == 40


def test_tracker_drops_short_tracks():
    fps = 10.0  # 25/30 s → 8 frames at 10 fps
    tracker = PersonTracker(fps=fps)
    for f in range(30):
        boxes = [_square(200, 200)] + ([_square(600, 200)] if f < 7 else [])
        tracker.update(f, _dets(boxes, [0.9] * len(boxes)))
    assert [len(t.frame_ids) for t in tracker.tracks()] == [30]


def test_one_identity_for_the_single_person_of_pose_1(pose_1_frames, pose_1_keypoints):
    # The reference annotation (pose_1.json) shows the person on every frame: with the detector on
    # every frame, one track covers exactly those frames, each box around all 13 reference joints.
    tracks = detect_and_track(enumerate(pose_1_frames), fps=30.0)
    annotated = np.flatnonzero(np.isfinite(pose_1_keypoints).all(axis=(1, 2)))
    assert len(tracks) == 1
    np.testing.assert_array_equal(tracks[0].frame_ids, annotated)
    (x0, y0, x1, y1), kp = tracks[0].bbox_xyxy.T[:, :, None], pose_1_keypoints[annotated]
    assert np.all((kp[..., 0] >= x0) & (kp[..., 0] <= x1) & (kp[..., 1] >= y0) & (kp[..., 1] <= y1))


def test_smoothing_keeps_linear_motion_and_fills_gaps():
    frame_ids = np.array([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14])
    cx, cy, side = 100 + 2.0 * frame_ids, 50 + 0.5 * frame_ids, np.full(frame_ids.size, 80.0)
    # Non-square boxes: the square side is max(w, h) = 80.
    boxes = np.stack([cx - 20, cy - side / 2, cx + 20, cy + side / 2], axis=1)
    full, cxcys = smooth_square_boxes(frame_ids, boxes, fps=10)
    np.testing.assert_array_equal(full, np.arange(15))
    np.testing.assert_allclose(cxcys[:, 0], 100 + 2.0 * full, atol=1e-9)
    np.testing.assert_allclose(cxcys[:, 1], 50 + 0.5 * full, atol=1e-9)
    np.testing.assert_allclose(cxcys[:, 2], 80.0)


def test_smoothing_reduces_jitter():
    rng = np.random.default_rng(0)
    frame_ids = np.arange(90)
    truth = np.stack([200 + 30 * np.sin(frame_ids / 15), np.full(90, 150.0), np.full(90, 120.0)], axis=1)
    noisy = truth + rng.normal(0, 4, truth.shape) * [1, 1, 0]
    boxes = np.concatenate([noisy[:, :2] - 60, noisy[:, :2] + 60], axis=1)
    _, cxcys = smooth_square_boxes(frame_ids, boxes, fps=30)
    err_raw = np.abs(noisy[:, 0] - truth[:, 0]).mean()
    err_smooth = np.abs(cxcys[:, 0] - truth[:, 0]).mean()
    assert err_smooth < 0.6 * err_raw


def test_tiles_find_a_small_person(pose_1_frames, pose_1_keypoints):
    # pose_1 at 40 % (about 115 px tall) in a 1280×720 frame: too small for the letterboxed
    # frame (the detector needs about a quarter of its view), found by the level-2 tiles.
    scale, offset = 0.4, np.array([256, 245])
    found = {0: 0, 2: 0}
    for levels in found:
        with PersonDetector(DetectorConfig(tile_levels=levels)) as det:
            for k in (0, 50, 100):
                small = cv2.resize(pose_1_frames[k], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                canvas = np.full((720, 1280, 3), 90, np.uint8)
                canvas[offset[1] : offset[1] + small.shape[0], offset[0] : offset[0] + small.shape[1]] = small
                d = det.detect(canvas)
                strong = d.score >= 0.6
                if strong.sum() == 1:
                    x0, y0, x1, y1 = d.bbox_xyxy[strong][0]
                    kp = pose_1_keypoints[k] * scale + offset
                    found[levels] += bool(np.all((kp >= [x0, y0]) & (kp <= [x1, y1])))
    assert found == {0: 0, 2: 3}


# --------------------------------------------------------------------------- detector schedule
def test_tracker_follows_a_walker_seen_every_third_frame():
    # As the schedule does: every frame until confirmed (3 hits), then every 3rd. At 6 px/frame a
    # 3-frame gap moves a 60 px box by 18 px, IoU 0.54 < 0.7 without motion: the Kalman filter
    # must predict over the gap.
    frames = [0, 1, 2, *range(3, 60, 3)]
    tracker = PersonTracker(fps=30.0, config=TrackerConfig(match_iou_high=0.7))
    for f in frames:
        tracker.update(f, _dets([_square(100 + 6.0 * f, 200, side=60.0)], [0.9]))
    tracks = tracker.tracks()
    assert len(tracks) == 1  # one identity, and long enough although only 22 detections < 25 frames
    np.testing.assert_array_equal(tracks[0].frame_ids, frames)


def test_strided_short_track_is_still_dropped():
    # Covered frames, not detections, count: 3 detections 3 frames apart cover 7 frames < 25.
    tracker = PersonTracker(fps=30.0)
    for f in range(0, 90, 3):
        boxes = [_square(200, 200)] + ([_square(600, 200)] if f < 9 else [])
        tracker.update(f, _dets(boxes, [0.9] * len(boxes)))
    assert [t.frame_ids.size for t in tracker.tracks()] == [30]


def test_tracker_rejects_frames_out_of_order():
    tracker = PersonTracker(fps=30.0)
    tracker.update(5, _dets([], []))
    with pytest.raises(ValueError):
        tracker.update(5, _dets([], []))


def test_schedule_skips_frames_but_keeps_the_person(pose_1_frames, pose_1_keypoints):
    schedule = DetectionScheduleConfig(stride=3, large_side=0.45)
    tracks = detect_and_track(enumerate(pose_1_frames), fps=30.0, schedule=schedule)
    assert len(tracks) == 1
    n = len(pose_1_frames)
    t = tracks[0]
    assert t.frame_ids.size <= 0.5 * n  # the detector skipped most frames
    assert t.frame_ids[0] == 0 and t.frame_ids[-1] == n - 1  # the track spans the clip, last frame included
    full, cxcys = smooth_square_boxes(t.frame_ids, t.bbox_xyxy, fps=30.0)
    kp = pose_1_keypoints[full]
    lo, hi = cxcys[:, None, :2] - cxcys[:, None, 2:] / 2, cxcys[:, None, :2] + cxcys[:, None, 2:] / 2
    inside = np.all((kp >= lo) & (kp <= hi), axis=(1, 2))
    assert inside.mean() >= 0.9  # interpolated boxes still hold the reference joints


def test_schedule_validates_stride():
    with pytest.raises(ValueError):
        DetectionScheduleConfig(stride=0)


def test_ranges_in_parallel_give_the_tracks_of_one_pass(pose_1_frames, pose_1_keypoints):
    schedule = DetectionScheduleConfig(stride=3, large_side=0.45)
    times = np.arange(len(pose_1_frames)) / 30.0
    one_pass = detect_and_track(enumerate(pose_1_frames), fps=30.0, schedule=schedule)

    def frames(start, stop):
        return lambda: ((times[k], pose_1_frames[k]) for k in range(start, stop))

    # One range replays the same detections through one tracker: identical tracks.
    same, got_times = detect_and_track_ranges([frames(0, 120)], fps=30.0, schedule=schedule)
    np.testing.assert_array_equal(got_times, times)
    assert len(same) == len(one_pass) == 1
    np.testing.assert_array_equal(same[0].frame_ids, one_pass[0].frame_ids)
    np.testing.assert_array_equal(same[0].bbox_xyxy, one_pass[0].bbox_xyxy)
    # Cut in three: one identity across the cuts, the clip covered, boxes still on the person.
    tracks, got_times = detect_and_track_ranges([frames(0, 41), frames(41, 80), frames(80, 120)], 30.0, schedule=schedule)
    np.testing.assert_array_equal(got_times, times)
    assert len(tracks) == 1
    t = tracks[0]
    assert t.frame_ids[0] == 0 and t.frame_ids[-1] == 119
    assert {40, 41, 79, 80} <= set(t.frame_ids.tolist())  # every range looks at its own first and last frame
    full, cxcys = smooth_square_boxes(t.frame_ids, t.bbox_xyxy, fps=30.0)
    kp = pose_1_keypoints[full]
    lo, hi = cxcys[:, None, :2] - cxcys[:, None, 2:] / 2, cxcys[:, None, :2] + cxcys[:, None, 2:] / 2
    assert np.all((kp >= lo) & (kp <= hi), axis=(1, 2)).mean() >= 0.9


def test_far_views_cover_the_frame_with_tiles_of_the_asked_side():
    views = far_views(720, 1280, 0.4)
    assert views[: len(detector_views(720, 1280, 1))] == detector_views(720, 1280, 1)
    tiles = np.array(views[len(detector_views(720, 1280, 1)) :])
    np.testing.assert_allclose(tiles[:, 2], 288.0)
    assert len(views) == 21  # letterbox, 2 level-1 squares, 6 x 3 tiles of 288 px
    covered = np.zeros((720, 1280), bool)
    for x0, y0, side in tiles:
        covered[int(y0) : int(np.ceil(y0 + side)), int(x0) : int(np.ceil(x0 + side))] = True
    assert covered.all()
    steps = np.diff(np.unique(tiles[:, 0]))
    assert steps.max() <= 0.8 * 288.0 + 1e-9  # neighbours overlap by at least 20 %
