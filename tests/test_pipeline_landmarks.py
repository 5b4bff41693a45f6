"""BlazePose landmarks per track against pose_1.json and geometric invariances."""

from __future__ import annotations

from pathlib import Path

import mediapipe as mp
import numpy as np
import pytest

from pose_1_reference import COCO13_NAMES, load_pose_1_keypoints
from vibe.pipeline.landmarks import (
    BLAZEPOSE_LANDMARK_NAMES,
    LandmarkConfig,
    PoseEstimator,
    estimate_landmarks,
    estimate_landmarks_parallel,
    split_frames,
)
from vibe.pipeline.detector import PersonDetector
from vibe.pipeline.people import DetectionScheduleConfig, detect_and_track, smooth_square_boxes
from vibe.pipeline.tracker import TrackerConfig
from vibe.pipeline.video import VideoReader

ASSETS = Path(__file__).resolve().parents[1] / "assets"
# Indices from MediaPipe's own enum, not from our name table.
MP_INDEX = [mp.solutions.pose.PoseLandmark[n.upper()].value for n in COCO13_NAMES]


@pytest.fixture(scope="module")
def pose_1_frames():
    return [img for _, _, img in VideoReader(ASSETS / "pose_1.mp4")]


@pytest.fixture(scope="module")
def pose_1_keypoints():
    """``(120, 13, 2)`` COCO keypoints from pose_1.json, pixels."""
    return load_pose_1_keypoints()


@pytest.fixture(scope="module")
def pose_1_landmarks(pose_1_frames):
    tracks = detect_and_track(enumerate(pose_1_frames), fps=30.0)
    assert len(tracks) == 1
    boxes = smooth_square_boxes(tracks[0].frame_ids, tracks[0].bbox_xyxy, fps=30.0)
    return estimate_landmarks(enumerate(pose_1_frames), {tracks[0].track_id: boxes})[tracks[0].track_id]


def test_name_table_matches_mediapipe_enum():
    assert [lm.name.lower() for lm in mp.solutions.pose.PoseLandmark] == list(BLAZEPOSE_LANDMARK_NAMES)


def test_landmarks_match_reference_keypoints(pose_1_landmarks, pose_1_keypoints):
    lm = pose_1_landmarks
    assert lm.landmarks_img.shape == (lm.frame_ids.size, 33, 3) and lm.world.shape == (lm.frame_ids.size, 33, 3)
    assert lm.found.mean() >= 0.95
    err = np.linalg.norm(lm.landmarks_img[lm.found][:, MP_INDEX, :2] - pose_1_keypoints[lm.frame_ids[lm.found]], axis=-1)
    assert err.mean() < 25.0
    assert np.median(err) < 15.0


def test_visibility_and_world_landmarks_are_plausible(pose_1_landmarks):
    lm = pose_1_landmarks
    vis = lm.landmarks_img[lm.found, :, 2]
    assert np.all((vis >= 0) & (vis <= 1))
    assert vis[:, MP_INDEX].mean() > 0.5  # the whole body is in view
    world = lm.world[lm.found]
    hips = world[:, [23, 24]].mean(axis=1)
    assert np.abs(hips).max() < 0.1  # metric world landmarks are hip-centred
    shoulder_width = np.linalg.norm(world[:, 11] - world[:, 12], axis=-1)
    assert 0.2 < np.median(shoulder_width) < 0.6  # metres


def test_landmarks_follow_the_image_shift(pose_1_frames, pose_1_keypoints):
    # The same frame pasted into a larger canvas at an offset: landmarks move by the offset.
    frame = pose_1_frames[10]
    canvas = np.zeros((800, 1000, 3), np.uint8)
    offset = np.array([300, 150])
    canvas[offset[1] : offset[1] + frame.shape[0], offset[0] : offset[0] + frame.shape[1]] = frame
    with PersonDetector() as det:
        box = det.detect(canvas).bbox_xyxy[0]
    _, cxcys = smooth_square_boxes(np.array([0]), box[None], fps=30.0)
    with PoseEstimator(LandmarkConfig(static_image_mode=True)) as est:
        landmarks_img, _ = est.estimate(canvas, cxcys[0])
    err = np.linalg.norm(landmarks_img[MP_INDEX, :2] - offset - pose_1_keypoints[10], axis=-1)
    assert err.mean() < 25.0


def test_two_people_in_one_pass(pose_1_frames, pose_1_keypoints):
    # Two copies of the person side by side: each track's landmarks land on its own copy.
    n = 12
    width = pose_1_frames[0].shape[1]
    frames = [np.concatenate([f, f[:, ::-1]], axis=1) for f in pose_1_frames[:n]]
    tracks = detect_and_track(enumerate(frames), fps=30.0, tracker_config=TrackerConfig(min_track_s=0.1))
    tracks = [t for t in tracks if len(t.frame_ids) == n]
    assert len(tracks) == 2
    boxes = {t.track_id: smooth_square_boxes(t.frame_ids, t.bbox_xyxy, fps=30.0) for t in tracks}
    out = estimate_landmarks(enumerate(frames), boxes)
    # The mirrored copy swaps left and right: its reference is the mirrored keypoints with swapped names.
    mirror_name = lambda n: n.replace("left", "tmp").replace("right", "left").replace("tmp", "right")  # noqa: E731
    swap = [COCO13_NAMES.index(mirror_name(n)) for n in COCO13_NAMES]
    mirrored = pose_1_keypoints[:n][:, swap].copy()
    mirrored[..., 0] = 2 * width - 1 - mirrored[..., 0]
    refs = [pose_1_keypoints[:n], mirrored]
    errors = []
    for lm in out.values():
        assert lm.found.all()
        pred = lm.landmarks_img[:, MP_INDEX, :2]
        errors.append(min(np.linalg.norm(pred - ref, axis=-1).mean() for ref in refs))
        assert errors[-1] < 25.0
    left = [lm for lm in out.values() if np.nanmean(lm.landmarks_img[..., 0]) < width]
    assert len(left) == 1


def test_strided_detection_keeps_landmark_accuracy(pose_1_frames, pose_1_keypoints):
    # The demo's schedule (detector on every 3rd frame, interpolated boxes between): same bound.
    schedule = DetectionScheduleConfig(stride=3, large_side=0.45)
    tracks = detect_and_track(enumerate(pose_1_frames), fps=30.0, schedule=schedule)
    assert len(tracks) == 1
    boxes = smooth_square_boxes(tracks[0].frame_ids, tracks[0].bbox_xyxy, fps=30.0)
    lm = estimate_landmarks(enumerate(pose_1_frames), {tracks[0].track_id: boxes})[tracks[0].track_id]
    assert lm.frame_ids.size >= 0.95 * len(pose_1_frames) and lm.found.mean() >= 0.95
    err = np.linalg.norm(lm.landmarks_img[lm.found][:, MP_INDEX, :2] - pose_1_keypoints[lm.frame_ids[lm.found]], axis=-1)
    assert err.mean() < 25.0
    assert np.median(err) < 15.0


def test_split_frames_balances_person_frames():
    boxes = {
        1: (np.arange(0, 100), None),  # one person all along
        2: (np.arange(50, 100), None),  # a second one in the second half
    }
    ranges = split_frames(boxes, parts=2, min_frames=10)
    assert ranges[0][0] == 0 and ranges[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    # 150 person-frames: the first range ends at the first frame reaching 75 of them (frame 62).
    assert ranges == [(0, 63), (63, 100)]
    assert split_frames(boxes, parts=4, min_frames=40) == [(0, 63), (63, 100)]  # 100 frames hold two of 40
    assert split_frames(boxes, parts=3, min_frames=200) == [(0, 100)]


def test_parallel_ranges_match_one_pass(pose_1_frames, pose_1_keypoints, pose_1_landmarks):
    track_id = 7
    tracks = detect_and_track(enumerate(pose_1_frames), fps=30.0)
    boxes = {track_id: smooth_square_boxes(tracks[0].frame_ids, tracks[0].bbox_xyxy, fps=30.0)}
    calls = []

    def frames_between(start, stop):
        calls.append((start, stop))
        return ((k, pose_1_frames[k]) for k in range(start, stop))

    lm = estimate_landmarks_parallel(frames_between, boxes, workers=2, min_frames=30)[track_id]
    assert len(calls) == 2 and calls[0][0] == 0 and calls[0][1] == calls[1][0]
    np.testing.assert_array_equal(lm.frame_ids, pose_1_landmarks.frame_ids)
    assert lm.found.mean() >= 0.95
    err = np.linalg.norm(lm.landmarks_img[lm.found][:, MP_INDEX, :2] - pose_1_keypoints[lm.frame_ids[lm.found]], axis=-1)
    assert err.mean() < 25.0
    # Before the cut the two runs are the same computation; after it MediaPipe restarts its search.
    first = lm.frame_ids < calls[1][0]
    np.testing.assert_allclose(lm.landmarks_img[first], pose_1_landmarks.landmarks_img[first], atol=1e-3)
    both = lm.found & pose_1_landmarks.found
    diff = np.linalg.norm(lm.landmarks_img[both, :, :2] - pose_1_landmarks.landmarks_img[both, :, :2], axis=-1)
    assert diff.mean() < 3.0
