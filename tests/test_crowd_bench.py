"""The crowd benchmark: scenes with ground-truth boxes, and detection/tracking scores (evaluation/crowd_*.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vibe.evaluation.crowd_bench import landmark_extent
from vibe.evaluation.crowd_make import _facing_deg, _floor_point_at, look_down_camera
from vibe.evaluation.crowd_scoring import CrowdScoring, match_frame, merge_counts, score_video, summarise


def _box(x, y, w=40.0, h=100.0):
    return np.array([x, y, x + w, y + h])


def _truth(num_frames=6):
    """Two people 100 px tall: A at x=100 (facing the camera), B at x=400 (back to it); B hidden on frame 5."""
    boxes = np.stack([np.stack([_box(100, 50), _box(400, 50)])] * num_frames)
    visible = np.ones((num_frames, 2))
    visible[5, 1] = 0.2
    return {"boxes_xyxy": boxes, "height_px": np.full((num_frames, 2), 100.0), "visible": visible,
            "view_deg": np.tile([10.0, 170.0], (num_frames, 1))}  # fmt: skip


def test_match_frame_is_one_to_one_above_the_iou():
    truth = np.stack([_box(0, 0), _box(200, 0)])
    found = np.stack([_box(2, 0), _box(0, 5), _box(600, 0)])
    assert match_frame(truth, found, 0.5) == [(0, 0)]  # one of the two on A; nothing near B
    assert match_frame(truth, np.zeros((0, 4)), 0.5) == []


def test_scores_count_misses_switches_ghosts_and_false_positives():
    frames = np.arange(6)
    found = {
        1: (frames, np.stack([_box(101, 50)] * 6)),  # A, every frame
        2: (frames[:3], np.stack([_box(400, 52)] * 3)),  # B, frames 0-2 ...
        3: (frames[3:], np.stack([_box(399, 50)] * 3)),  # ... then under another id: one switch
        4: (frames[:4], np.stack([_box(800, 300)] * 4)),  # nobody there: a ghost, 4 false positives
    }
    counts = score_video(_truth(), found, CrowdScoring())
    out = summarise(counts)
    # 11 scored person-frames (B's hidden frame is "don't care"), all found.
    assert out["recall_by_height"]["80-120 px"] == {"recall": 1.0, "person_frames": 11}
    assert out["recall_by_view"]["front"]["person_frames"] == 6 and out["recall_by_view"]["back"]["person_frames"] == 5
    assert out["recall_at_least_80px"] == 1.0
    # Found frames: 6 + 3 + 2 true (track 3's frame 5 is on the hidden B: ignored) and 4 false.
    assert counts["ignored_frames"] == 1
    assert out["false_positive_frames"] == 4 and out["precision"] == pytest.approx(11 / 15, abs=1e-4)
    assert out["identity_switches"] == 1 and out["ghost_tracks"] == 1 and out["tracks"] == 4
    assert out["mean_tracks_per_person"] == 1.5


def test_a_missed_small_person_lowers_only_their_bin():
    truth = _truth()
    truth["height_px"][:, 1] = 70.0  # B is small (the box is only used for matching)
    found = {1: (np.arange(6), np.stack([_box(101, 50)] * 6))}
    out = summarise(merge_counts([score_video(truth, found, CrowdScoring())] * 2))
    assert out["recall_by_height"]["60-80 px"] == {"recall": 0.0, "person_frames": 10}
    assert out["recall_by_height"]["80-120 px"] == {"recall": 1.0, "person_frames": 12}
    assert out["recall_at_least_80px"] == 1.0 and out["precision"] == 1.0 and out["ghost_tracks"] == 0


def test_landmark_extent_reaches_above_the_eyes():
    landmarks = np.zeros((1, 33, 3))
    landmarks[0, :, :2] = [50.0, 100.0]
    landmarks[0, [2, 5], 1] = 20.0  # eyes
    landmarks[0, [11, 12], 1] = 60.0  # shoulders, 40 px below the eyes
    landmarks[0, 31, :2] = [70.0, 200.0]  # a toe
    np.testing.assert_allclose(landmark_extent(landmarks, head_top=0.25), [[50.0, 10.0, 70.0, 200.0]])


def test_look_down_camera_centres_the_floor_point_it_aims_at():
    rotmat, transl = look_down_camera(6.0, 12.0)
    np.testing.assert_allclose(rotmat @ rotmat.T, np.eye(3), atol=1e-12)
    aimed = rotmat @ np.array([0.0, 0.0, 12.0]) + transl
    np.testing.assert_allclose(aimed[:2], 0.0, atol=1e-9)
    assert aimed[2] == pytest.approx(np.hypot(6.0, 12.0))
    # Image "down" is world down for points ahead; x to the right of the image is world -x.
    assert (rotmat @ np.array([0.0, -1.0, 0.0]))[1] > 0 and (rotmat @ np.array([-1.0, 0.0, 0.0]))[0] > 0
    place = _floor_point_at(rotmat, transl, u_px=900.0, depth=10.0, focal=1000.0, width=1280)
    cam = rotmat @ place + transl
    assert place[1] == pytest.approx(0.0, abs=1e-9) and cam[2] == pytest.approx(10.0)
    assert cam[0] / cam[2] * 1000.0 + 640.0 == pytest.approx(900.0)


def test_facing_angle_front_side_back():
    points = np.zeros((3, 33, 3))
    points[:, 23] = [0.1, 1.0, 0.0]  # left hip at +x: facing +z
    points[:, 24] = [-0.1, 1.0, 0.0]
    points[:, 0] = [0.0, 1.6, 0.1]  # nose ahead of the hips
    angles = [float(_facing_deg(points[:1], np.array(c))[0]) for c in ([0, 2, 5.0], [5.0, 2, 0], [0, 2, -5.0])]
    np.testing.assert_allclose(angles, [0.0, 90.0, 180.0], atol=1e-6)


def test_a_tiny_crowd_render_has_boxes_on_the_bodies(tmp_path):
    from vibe.body.anny import Anny
    from vibe.data.motion_db import MotionDB
    from vibe.evaluation.crowd_make import CrowdConfig, make_crowd_benchmark
    from vibe.evaluation.synthetic_make import select_motion
    from vibe.pipeline.video import VideoReader

    body = Anny()
    db = select_motion(MotionDB.load(_bundled()), body, ("02",))
    config = CrowdConfig(size=(320, 180), seconds=0.1, people=2, height_px=(60.0, 100.0), look_distance_m=(8.0, 8.0))
    videos = make_crowd_benchmark(tmp_path, n_videos=2, seed=3, config=config, db=db, body=body)
    assert [v.name for v in videos] == ["crowd_000.mp4", "crowd_001.mp4"]
    truth = np.load(videos[1].with_suffix(".npz"))  # camera 3.5 m up
    frames = [img for _, _, img in VideoReader(videos[1])]
    assert len(frames) == 3 and truth["boxes_xyxy"].shape == (3, 2, 4) and float(truth["camera_height_m"]) == 3.5
    assert np.all((truth["height_px"] > 40) & (truth["height_px"] < 130))
    assert np.all((truth["view_deg"] >= 0) & (truth["view_deg"] <= 180))
    # Where a body is seen, the frame differs from the bare floor around it: inside its box, not outside.
    image = frames[0].astype(float)
    for k in np.flatnonzero(truth["visible"][0] > 0.5):
        x0, y0, x1, y1 = truth["boxes_xyxy"][0, k].round().astype(int)
        inside = image[y0:y1, x0:x1].std(axis=(0, 1)).mean()
        ring = image[max(0, y0 - 30) : y0, x0:x1]
        assert inside > 1.5 * ring.std(axis=(0, 1)).mean() + 1.0


def _bundled():
    from importlib import resources

    return str(resources.files("vibe") / "resources" / "motion" / "cmu_anny.npz")


def test_cli_crowd_errors_are_one_line_with_their_exit_codes(tmp_path):
    from typer.testing import CliRunner

    from vibe.cli import app

    runner = CliRunner()
    missing = runner.invoke(app, ["eval", "crowd", "--data", str(tmp_path)])
    assert missing.exit_code == 4 and "no crowd_*.mp4" in missing.output
    mixed = runner.invoke(app, ["eval", "make-synthetic", "--crowd", "--out", str(tmp_path / "c"), "--subject", "02"])
    assert mixed.exit_code == 2 and "--crowd renders" in mixed.output and not (tmp_path / "c").exists()
