"""MediaPipe graphs reused across tracks and videos (pipeline/graph_pool.py, PoseEstimator.forget)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vibe.pipeline.detector import DetectorConfig
from vibe.pipeline.graph_pool import GraphPool
from vibe.pipeline.landmarks import LandmarkConfig, PoseEstimator
from vibe.pipeline.person_blobs import MASK_THRESHOLD
from vibe.pipeline.roi_tracking import RoiFollower, RoiTrackingConfig, follow_people
from vibe.pipeline.tracker import TrackerConfig
from vibe.pipeline.video import VideoReader

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def pose_1_frames():
    return [img for _, _, img in VideoReader(ASSETS / "pose_1.mp4").frames(0, 12)]


@pytest.fixture(scope="module")
def walking_frames():
    return [img for _, _, img in VideoReader(ASSETS / "people_walking.mp4").frames(0, 6)]


def _centre_box(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return np.array([w / 2.0, h / 2.0, 0.9 * min(w, h)])


def _landmarks(pose: PoseEstimator, frames: list[np.ndarray]) -> list[np.ndarray | None]:
    found = [pose.estimate(image, _centre_box(image)) for image in frames]
    return [None if f is None else f[0] for f in found]


def test_a_forgotten_pose_gives_a_new_ones_landmarks(pose_1_frames, walking_frames):
    with PoseEstimator() as fresh:
        expected = _landmarks(fresh, pose_1_frames[:4])
    with PoseEstimator() as reused:
        assert any(f is not None for f in _landmarks(reused, walking_frames))  # following someone else
        reused.forget()
        got = _landmarks(reused, pose_1_frames[:4])
    assert all(e is not None for e in expected)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)


def test_without_forget_the_old_region_carries_over(pose_1_frames, walking_frames):
    # What forget() is for: the graph follows its last person's region into the next crop.
    with PoseEstimator() as fresh:
        expected = _landmarks(fresh, pose_1_frames[:1])[0]
    with PoseEstimator() as reused:
        _landmarks(reused, walking_frames)
        got = _landmarks(reused, pose_1_frames[:1])[0]
    assert got is None or not np.array_equal(got, expected)


def test_pool_hands_out_idle_graphs_of_the_same_options_and_closes_extras():
    pool = GraphPool(max_idle=1)
    first = pool.detector(DetectorConfig())
    pool.give_back(first)
    assert pool.detector(DetectorConfig()) is first  # stateless: handed out as it is
    other = pool.detector(DetectorConfig(min_score=0.3))  # other options: a graph of its own
    assert other is not first
    pose = pool.pose(LandmarkConfig())
    for graph in (first, other, pose):
        pool.give_back(graph)
    assert pool.idle() == 3 and (pool.stats.started, pool.stats.reused) == (3, 1)
    extra = pool.pose(LandmarkConfig())
    assert extra is pose
    pool.give_back(PoseEstimator(LandmarkConfig()))
    pool.give_back(extra)  # a second idle Pose of these options: over max_idle, closed
    assert pool.idle() == 3 and pool.stats.closed == 1
    pool.close()
    assert pool.idle() == 0 and pool.stats.closed == 4


def test_follower_gives_its_graphs_back_once(pose_1_frames):
    pool = GraphPool()
    follower = RoiFollower(30.0, graphs=pool)
    for k, image in enumerate(pose_1_frames[:3]):
        follower.step(k, image)
    follower.close()
    follower.close()
    # The detector and the person's Pose, each once (the far passes' segmenter is off by default).
    assert pool.idle() == 2
    with pytest.raises(RuntimeError):
        with RoiFollower(30.0, graphs=pool) as broken:
            broken.step(0, pose_1_frames[0])
            raise RuntimeError("inside a run")
    assert pool.idle() == 0  # after an error the graphs held are closed, not kept
    pool.close()


def test_a_second_video_reuses_every_graph_with_the_same_result(pose_1_frames, walking_frames):
    def run(pool: GraphPool, frames):
        return follow_people(((k / 30.0, f) for k, f in enumerate(frames)), 30.0, graphs=pool)

    fresh = run(GraphPool(), pose_1_frames)
    pool = GraphPool()
    run(pool, walking_frames)
    started = pool.stats.started
    again = run(pool, pose_1_frames)
    assert pool.stats.started == started  # nothing started for the second video
    assert sorted(again.poses) == sorted(fresh.poses)
    for tid, (frame_ids, landmarks_img, world) in fresh.poses.items():
        np.testing.assert_array_equal(again.poses[tid][0], frame_ids)
        np.testing.assert_array_equal(again.poses[tid][1], landmarks_img)
        np.testing.assert_array_equal(again.poses[tid][2], world)
    pool.close()


def test_graphs_started_ahead_are_taken_and_find_the_same(pose_1_frames):
    detector = DetectorConfig(min_score=TrackerConfig().low_score)  # the follower's own default

    def run(pool: GraphPool):
        frames = ((k / 30.0, f) for k, f in enumerate(pose_1_frames))
        return follow_people(frames, 30.0, blobs, detector_config=detector, graphs=pool)

    blobs = RoiTrackingConfig(blob_proposals=True)
    fresh = run(GraphPool())
    pool = GraphPool()
    pool.start_ahead(detector, LandmarkConfig(), MASK_THRESHOLD, count=1)
    ahead = run(pool)  # takes them at once: waits for those still starting
    # The detector, the person's Pose and the far pass's segmenter (blobs on here): all started ahead, none by the run.
    assert (pool.stats.started, pool.stats.reused, pool.idle()) == (3, 3, 3)
    assert sorted(ahead.poses) == sorted(fresh.poses) and ahead.detector_frames == fresh.detector_frames
    for tid, arrays in fresh.poses.items():
        for got, expected in zip(ahead.poses[tid], arrays):
            np.testing.assert_array_equal(got, expected)
    pool.start_ahead(detector, LandmarkConfig(), None, count=1)  # idle already: nothing more
    pool.start_ahead(detector, None, None, count=2)  # one more detector
    pool.close()
    assert pool.stats.started == 4 and pool.idle() == 0
