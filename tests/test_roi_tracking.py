"""People followed by their landmark model's ROI, the detector on a schedule (pipeline/roi_tracking.py)."""

from __future__ import annotations

from pathlib import Path

import mediapipe as mp
import numpy as np
import pytest

from pose_1_reference import COCO13_NAMES, load_pose_1_keypoints
from vibe.pipeline.detector import Detections
from vibe.pipeline.roi_tracking import (
    RangeTracks,
    RoiFollower,
    RoiTrackingConfig,
    follow_people,
    landmark_box,
    stitch_ranges,
)
from vibe.pipeline.tracker import PersonTracker, Track, TrackerConfig
from vibe.pipeline.video import VideoReader

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MP_INDEX = [mp.solutions.pose.PoseLandmark[n.upper()].value for n in COCO13_NAMES]
FPS = 30.0


@pytest.fixture(scope="module")
def pose_1_frames():
    return [img for _, _, img in VideoReader(ASSETS / "pose_1.mp4")]


@pytest.fixture(scope="module")
def pose_1_keypoints():
    return load_pose_1_keypoints()


def _square(cx, cy, side=100.0):
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def _dets(boxes, scores) -> Detections:
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return Detections(boxes, np.asarray(scores, float), boxes.copy(), np.zeros((len(boxes), 4, 2)))


def _reference_error(poses, frame_ids, keypoints) -> np.ndarray:
    """Pixel distance of the 13 reference joints, ``(n, 13)``."""
    return np.linalg.norm(poses[:, MP_INDEX, :2] - keypoints[frame_ids], axis=-1)


def test_landmark_box_hand_computed():
    landmarks = np.zeros((33, 3))
    landmarks[:, :2] = [100.0, 200.0]
    landmarks[23, :2], landmarks[24, :2] = [90.0, 200.0], [110.0, 200.0]  # mid-hip (100, 200)
    landmarks[0, :2] = [100.0, 120.0]  # the farthest point: 80 px above the mid-hip
    np.testing.assert_allclose(landmark_box(landmarks, roi_scale=1.25), [0.0, 100.0, 200.0, 300.0])


def test_followed_tracks_keep_their_ids_and_suppress_their_detections():
    tracker = PersonTracker(FPS, TrackerConfig(min_track_s=0.0))
    assert tracker.update(0, _dets([_square(100, 100), _square(400, 100)], [0.9, 0.9])) == {0: 1, 1: 2}
    # The landmark models follow both people, who have swapped places: ids follow the followers, not
    # the boxes' overlap with the Kalman predictions; a detection on person 1 starts nothing.
    followed = {1: (_square(400, 100), 0.9), 2: (_square(100, 100), 0.9)}
    assert tracker.update(1, _dets([_square(402, 100)], [0.95]), followed) == {}
    # A detection away from everyone followed starts a track.
    assert tracker.update(2, _dets([_square(700, 100)], [0.9]), followed) == {0: 3}
    tracks = {t.track_id: t for t in tracker.tracks()}
    np.testing.assert_allclose(tracks[1].bbox_xyxy[-1], _square(400, 100))
    np.testing.assert_allclose(tracks[2].bbox_xyxy[-1], _square(100, 100))
    assert list(tracks[1].frame_ids) == [0, 1, 2] and list(tracks[3].frame_ids) == [2]


def test_a_lost_track_is_re_found_under_its_id():
    tracker = PersonTracker(FPS, TrackerConfig(min_track_s=0.0, max_lost_s=0.5))
    tracker.update(0, _dets([_square(100, 100)], [0.9]))
    tracker.update(1, Detections.empty(), {1: (_square(103, 100), 0.9)})
    tracker.update(2, Detections.empty())  # lost: not followed, nothing detected
    assert tracker.missed_ids() == [1]
    assert tracker.update(3, _dets([_square(109, 100)], [0.9])) == {0: 1}
    assert tracker.missed_ids() == [] and [t.track_id for t in tracker.tracks()] == [1]


def test_one_person_followed_with_few_detector_frames(pose_1_frames, pose_1_keypoints):
    config = RoiTrackingConfig(detect_every=15)
    frames = ((k / FPS, f) for k, f in enumerate(pose_1_frames))
    out = follow_people(frames, FPS, config, tracker_config=TrackerConfig(min_track_s=0.0))
    assert [len(t.frame_ids) for t in out.tracks] == [120]
    frame_ids, poses, _ = out.poses[out.tracks[0].track_id]
    assert frame_ids.size >= 0.95 * 120
    err = _reference_error(poses, frame_ids, pose_1_keypoints)
    assert err.mean() < 25.0 and np.median(err) < 15.0  # the bounds of the two-pass landmark test
    # The detector looks at the periodic frames (0, 15, ..., 105) and little else.
    assert 8 <= out.detector_frames <= 12


class _RecordingDetector:
    """A detector that records on which frames it ran and with which views."""

    def __init__(self, detector):
        self.detector, self.calls = detector, []

    def detect(self, image, tiles=True):
        self.calls.append(tiles)
        return self.detector.detect(image, tiles=tiles)


def test_periodic_passes_use_the_tiles_only_every_tiles_every_frames(pose_1_frames):
    from vibe.pipeline.detector import PersonDetector

    config = RoiTrackingConfig(detect_every=15, tiles_every=60, far_tiles=None)
    with PersonDetector() as real:
        recorder = _RecordingDetector(real)
        with RoiFollower(FPS, config, tracker_config=TrackerConfig(min_track_s=0.0), detector=recorder) as follower:
            ran = []
            for k, frame in enumerate(pose_1_frames[:70]):
                before = len(recorder.calls)
                assert list(follower.step(k, frame)) == [1]
                ran += [k] * (len(recorder.calls) - before)
    assert list(zip(ran, recorder.calls)) == [(0, True), (15, False), (30, False), (45, False), (60, True)]


def test_track_loss_then_re_detection(pose_1_frames):
    # The person vanishes for 6 frames (a grey image) and comes back: the detector runs on every
    # frame of the gap (from the first frame the landmarks are lost), finds them on the first frame
    # back, under the same id, and then only periodically again.
    frames = [np.full_like(f, 90) if 40 <= k < 46 else f for k, f in enumerate(pose_1_frames[:70])]
    detected = []
    config = RoiTrackingConfig(detect_every=30)
    with RoiFollower(FPS, config, tracker_config=TrackerConfig(min_track_s=0.0)) as follower:
        seen = {}
        for k, frame in enumerate(frames):
            before = follower.detector_frames
            for tid in follower.step(k, frame):
                seen.setdefault(tid, []).append(k)
            detected.append(follower.detector_frames > before)
    assert list(seen) == [1]
    assert 46 in seen[1] and not set(range(40, 46)) & set(seen[1])
    assert all(detected[40:47]) and not any(detected[47:60])  # every frame while lost, then periodic only


def test_new_person_entering_is_found_within_tiles_every(pose_1_frames):
    # A second person (the mirrored clip) appears beside the first at frame 17. The detector runs
    # every 8 frames, with its tiles every 16 (the letterboxed 2:1 frame alone misses a person
    # beside another at this size): they are found by frame 32 while the first keeps id 1.
    width = pose_1_frames[0].shape[1]
    frames = [np.concatenate([f, f[:, ::-1] if k >= 17 else np.full_like(f, 90)], axis=1)
              for k, f in enumerate(pose_1_frames[:40])]  # fmt: skip
    seen: dict[int, list[int]] = {}
    config = RoiTrackingConfig(detect_every=8, tiles_every=16)
    with RoiFollower(FPS, config, tracker_config=TrackerConfig(min_track_s=0.0)) as follower:
        for k, frame in enumerate(frames):
            for tid, pose in follower.step(k, frame).items():
                seen.setdefault(tid, []).append(k)
                assert (np.median(pose.landmarks_img[:, 0]) < width) == (tid == 1)  # each on their own copy
    # The second's id need not be 2: a far pass's candidate that shows no body (a segmentation blob
    # on the seam) takes an id before it is discarded.
    assert len(seen) == 2 and seen[1] == list(range(40))
    second = max(seen)
    assert 17 <= seen[second][0] <= 32 and seen[second][-1] == 39


def _track(tid, frames, cx):
    frames = np.asarray(frames)
    boxes = np.stack([_square(cx + f, 100) for f in frames])
    return Track(tid, frames, boxes, np.ones(len(frames)), np.zeros((len(frames), 4, 2)))


def _poses(frames):
    frames = np.asarray(frames)
    return frames, np.full((len(frames), 33, 3), frames[:, None, None] * 1.0), np.zeros((len(frames), 33, 3))


def test_stitching_continues_tracks_across_the_cut():
    # Range 0: frames 0-9 (t = 0..0.9 s); range 1 starts at 1.0 s but was decoded from 0.8 s,
    # so its frames 0-1 repeat frames 8-9. Its track 1 is range 0's track 5; its track 2 is new.
    part0 = RangeTracks(np.arange(10) / 10, [_track(5, range(10), 0)], {5: _poses(range(10))})
    t1 = [_track(1, range(12), 8), _track(2, range(6, 12), 300)]
    part1 = RangeTracks(0.8 + np.arange(12) / 10, t1, {1: _poses(range(12)), 2: _poses(range(6, 12))})
    tracks, landmarks, times = stitch_ranges([part0, part1], [None, 1.0])
    np.testing.assert_allclose(times, np.arange(20) / 10)
    assert [t.track_id for t in tracks] == [1, 2]
    first, second = tracks
    np.testing.assert_array_equal(first.frame_ids, np.arange(20))  # ids renumbered from 1
    np.testing.assert_array_equal(second.frame_ids, np.arange(14, 20))
    assert landmarks[1].found.all() and landmarks[1].landmarks_img.shape == (20, 33, 3)
    # Range 1's own frames (local 2..11) come after range 0's 10: local k is global k + 8.
    np.testing.assert_allclose(landmarks[1].landmarks_img[10:, 0, 0], np.arange(2, 12))
    np.testing.assert_allclose(landmarks[2].landmarks_img[:, 0, 0], np.arange(6, 12))


def test_parallel_ranges_give_one_track(pose_1_frames, pose_1_keypoints):
    config = RoiTrackingConfig(detect_every=15, overlap_s=0.4)
    times = np.arange(120) / FPS
    tracker_config = TrackerConfig(min_track_s=0.0)
    parts = [
        follow_people(zip(times[:60], pose_1_frames[:60]), FPS, config, tracker_config=tracker_config),
        follow_people(zip(times[48:], pose_1_frames[48:]), FPS, config, tracker_config=tracker_config),
    ]
    tracks, landmarks, out_times = stitch_ranges(parts, [None, times[60]])
    np.testing.assert_allclose(out_times, times)
    assert len(tracks) == 1
    lm = landmarks[tracks[0].track_id]
    np.testing.assert_array_equal(lm.frame_ids, np.arange(120))
    assert lm.found.mean() >= 0.95
    err = _reference_error(lm.landmarks_img[lm.found], lm.frame_ids[lm.found], pose_1_keypoints)
    assert err.mean() < 25.0


def test_demo_front_ends_agree(tmp_path, pose_1_keypoints):
    # The demo's one pass (default) and its two passes (roi_tracking=None) find the same person over
    # the same frames, with landmarks on the reference joints; each reports its own stages.
    from open_checkpoint import save_random_open_checkpoint
    from vibe.body.anny import Anny
    from vibe.pipeline.outputs import read_results
    from vibe.pipeline.run import DemoConfig, run_demo

    checkpoint = save_random_open_checkpoint(tmp_path / "random.pt", Anny(), width=64, seed=3)
    people, stages = {}, {}
    for name, roi in (("one", RoiTrackingConfig()), ("two", None)):
        config = DemoConfig(checkpoint=checkpoint, max_frames=30, render=False, progress=False, roi_tracking=roi)
        result = run_demo(ASSETS / "pose_1.mp4", tmp_path / name, config)
        people[name], stages[name] = read_results(result.results)[1], set(result.timings)
    assert "people_landmarks" in stages["one"] and not {"detect_track", "landmarks"} & stages["one"]
    assert {"detect_track", "landmarks"} <= stages["two"] and "people_landmarks" not in stages["two"]
    assert list(people["one"]) == list(people["two"]) == [1]
    one, two = people["one"][1], people["two"][1]
    np.testing.assert_array_equal(one["frame_ids"], two["frame_ids"])
    for track in (one, two):
        err = _reference_error(track["landmarks_img"], track["frame_ids"], pose_1_keypoints)
        assert np.nanmedian(err) < 15.0


class _NobodyDetector:
    """Finds no one; records what each pass looked at."""

    def __init__(self):
        self.calls = []

    def detect(self, image, tiles=True):
        self.calls.append(tiles)
        return Detections.empty()


def test_an_empty_scene_gets_the_far_tiles_less_often_while_they_find_no_one():
    # Nobody tracked: a pass on every frame at the detector's own tiles, but once every
    # tiles_every frames with the far tiles, so people too small for the others are found.
    # A far pass that finds no one multiplies the wait for the next by far_growth (2: 30 -> 60,
    # then at most 100 frames; 4: 30 -> 100 at once).
    image = np.zeros((72, 128, 3), np.uint8)
    for growth, expected in ((2, [0, 60, 160, 260, 360]), (4, [0, 100, 200, 300])):
        recorder = _NobodyDetector()
        config = RoiTrackingConfig(tiles_every=30, far_tiles=0.4, far_max_every=100, far_growth=growth)
        with RoiFollower(FPS, config, tracker_config=TrackerConfig(min_track_s=0.0), detector=recorder) as follower:
            for k in range(400):
                assert follower.step(k, image) == {}
        far = [k for k, tiles in enumerate(recorder.calls) if tiles == 0.4 and not isinstance(tiles, bool)]
        assert len(recorder.calls) == 400 and far == expected
        assert all(tiles is True for k, tiles in enumerate(recorder.calls) if k not in far)
    # Without far tiles, the schedule is the detector's own tiles throughout.
    recorder = _NobodyDetector()
    no_far = RoiTrackingConfig(tiles_every=30, far_tiles=None)
    with RoiFollower(FPS, no_far, tracker_config=TrackerConfig(min_track_s=0.0), detector=recorder) as follower:
        for k in range(31):
            follower.step(k, image)
    assert recorder.calls == [True] * 31


def test_graphs_start_ahead_only_when_the_front_end_will_run(tmp_path, monkeypatch):
    """A re-run whose one-pass cache is there starts no MediaPipe graph ahead (they would go unused)."""
    from types import SimpleNamespace

    from vibe.pipeline import roi_stage
    from vibe.pipeline.demo_config import DemoConfig

    calls = []
    monkeypatch.setattr(roi_stage, "shared_pool", lambda: SimpleNamespace(start_ahead=lambda *a: calls.append(a)))
    config = DemoConfig()
    caches = roi_stage.one_pass_caches(config, tmp_path / "people-key.npz", "key")
    assert caches is not None and roi_stage.one_pass_caches(config, None, "key") is None
    reader = VideoReader(ASSETS / "pose_1.mp4")
    roi_stage.start_graphs_ahead(reader, config, caches)  # no cache yet: graphs start
    assert len(calls) == 1
    for path in caches:
        path.write_bytes(b"")
    roi_stage.start_graphs_ahead(reader, config, caches)
    assert len(calls) == 1


def test_a_reused_front_end_cache_becomes_the_newest_landmarks_file(tmp_path):
    # The synthetic benchmark reads MediaPipe's own row from the newest landmarks cache of a result folder;
    # a run that reuses its cache must make that file the newest, even beside another key's newer file.
    from open_checkpoint import save_random_open_checkpoint
    from vibe.body.anny import Anny
    from vibe.evaluation.synthetic_bench import cached_landmarks
    from vibe.pipeline.run import DemoConfig, run_demo

    checkpoint = save_random_open_checkpoint(tmp_path / "random.pt", Anny(), width=64, seed=3)
    config = DemoConfig(checkpoint=checkpoint, max_frames=20, render=False, progress=False)
    folder = run_demo(ASSETS / "pose_1.mp4", tmp_path / "out", config).results.parent
    np.savez(folder / ".cache" / "landmarks-other.npz", track_ids=np.zeros(0, np.int64))  # another key's, newer
    assert cached_landmarks(folder, 1) is None
    run_demo(ASSETS / "pose_1.mp4", tmp_path / "out", config)  # reuses its cache
    assert cached_landmarks(folder, 1) is not None
