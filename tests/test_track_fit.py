"""Offline track clean-up: the camera fit against hand-made projections, the smoothing's invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import BLAZEPOSE33
from vibe.pipeline.demo_config import REFERENCE_FPS, DemoConfig, at_frame_rate
from vibe.pipeline.track_fit import FIT_LANDMARKS, FIT_POINTS, fit_index, fit_track_camera, smooth_track


def test_camera_fit_recovers_the_projection_of_the_agreeing_points() -> None:
    rng = np.random.default_rng(0)
    n = 6
    body = rng.normal(scale=0.4, size=(n, 33, 3))
    cam = np.stack([rng.uniform(0.6, 1.2, n), rng.normal(scale=0.2, size=n), rng.normal(scale=0.2, size=n)], -1)
    box = np.concatenate([cam[:, None, :1] * (body[..., :2] + cam[:, None, 1:]), np.ones((n, 33, 1))], -1)
    fingers = [k for k, name in enumerate(BLAZEPOSE33) if name.endswith(("index", "pinky", "thumb"))]
    box[:, fingers, :2] += 0.3  # MediaPipe's hand points sit elsewhere: not used
    box[4, :, 2] = 0.0  # nothing visible in frame 4: its neighbours' cameras, halfway
    box[0, :, 2] = 0.0  # nor in frame 0: the first fitted frame's camera, held
    regressed = cam + 0.1
    out = fit_track_camera(body, box, regressed, np.arange(n), sigma=0.0)
    np.testing.assert_allclose(out[[1, 2, 3, 5]], cam[[1, 2, 3, 5]], atol=1e-10)
    np.testing.assert_allclose(out[4], (cam[3] + cam[5]) / 2, atol=1e-10)
    np.testing.assert_allclose(out[0], cam[1], atol=1e-10)
    box[..., 2] = 0.0  # no frame can be fitted: the regressed cameras stay
    np.testing.assert_allclose(fit_track_camera(body, box, regressed, np.arange(n), sigma=0.0), regressed)


def test_fitted_point_choices_name_blazepose_points() -> None:
    assert [BLAZEPOSE33[k] for k in fit_index()] == list(FIT_LANDMARKS)
    tips = [BLAZEPOSE33[k] for k in fit_index("tips")]
    assert set(FIT_LANDMARKS) < set(tips) and {"left_foot_index", "right_thumb", "left_heel"} <= set(tips)
    assert set(FIT_LANDMARKS) < set(BLAZEPOSE33[k] for k in fit_index("feet")) < set(tips)
    assert len(fit_index("all")) == 33 and set(FIT_POINTS) == {"core", "feet", "tips", "all"}
    with pytest.raises(ValueError, match="fitted points"):
        fit_index("hands")


def test_camera_fit_uses_the_tips_when_asked() -> None:
    rng = np.random.default_rng(1)
    body = rng.normal(scale=0.4, size=(3, 33, 3))
    cam = np.array([[0.9, 0.1, -0.1]] * 3)
    box = np.concatenate([cam[:, None, :1] * (body[..., :2] + cam[:, None, 1:]), np.ones((3, 33, 1))], -1)
    fingers = [k for k, name in enumerate(BLAZEPOSE33) if name.endswith(("index", "pinky", "thumb"))]
    box[:, fingers, :2] += 0.3
    core = fit_track_camera(body, box, cam + 0.1, np.arange(3), sigma=0.0)
    tips = fit_track_camera(body, box, cam + 0.1, np.arange(3), sigma=0.0, points="tips")
    np.testing.assert_allclose(core, cam, atol=1e-10)
    assert np.abs(tips - cam).max() > 1e-3  # the moved finger points now pull the camera


def test_camera_fit_is_smoothed_over_time() -> None:
    rng = np.random.default_rng(1)
    n = 30
    body = np.broadcast_to(rng.normal(scale=0.4, size=(1, 33, 3)), (n, 33, 3))
    cam = np.array([1.0, 0.1, -0.1]) + np.array([0.0, 0.02, 0.02]) * rng.standard_normal((n, 3))
    box = np.concatenate([cam[:, None, :1] * (body[..., :2] + cam[:, None, 1:]), np.ones((n, 33, 1))], -1)
    out = fit_track_camera(body, box, cam, np.arange(n), sigma=3.0)
    assert np.abs(np.diff(out[:, 1:], axis=0)).mean() < 0.5 * np.abs(np.diff(cam[:, 1:], axis=0)).mean()


def test_smooth_track_keeps_one_body_and_rotations() -> None:
    rng = np.random.default_rng(2)
    n, joints = 12, 4
    pose = torch.as_tensor(Rotation.random(n * joints, random_state=3).as_matrix().reshape(n, joints, 3, 3))
    shape = torch.as_tensor(rng.uniform(size=(n, 6)))
    cam = torch.as_tensor(rng.normal(size=(n, 3)))
    same_pose, same_shape, same_cam = smooth_track(pose, shape, cam, np.arange(n), sigma=0.0)
    torch.testing.assert_close(same_pose, pose)
    torch.testing.assert_close(same_cam, cam)
    torch.testing.assert_close(same_shape, shape.mean(0, keepdim=True).expand(n, -1))
    smoothed, _, _ = smooth_track(pose, shape, cam, np.arange(n), sigma=2.0)
    eye = torch.eye(3, dtype=smoothed.dtype)
    torch.testing.assert_close(smoothed @ smoothed.transpose(-1, -2), eye.expand_as(smoothed), atol=1e-10, rtol=0)


def test_clean_up_spans_the_same_time_at_any_frame_rate() -> None:
    config = DemoConfig(centred_sigma=3.0)
    assert at_frame_rate(config, REFERENCE_FPS) == config
    slow = at_frame_rate(config, 10.0)  # each frame is 3x longer: a third of the frames, a ninth of the weight
    assert slow.centred_sigma == pytest.approx(1.0)
    assert slow.smplify.joints_smooth_weight == pytest.approx(config.smplify.joints_smooth_weight / 9)
    assert slow.smplify.pose_smooth_weight == pytest.approx(config.smplify.pose_smooth_weight / 9)
    assert slow.smplify.world_weight == config.smplify.world_weight  # per-frame data terms unchanged
    assert at_frame_rate(config, 60.0).centred_sigma == pytest.approx(6.0)
    assert at_frame_rate(config, 0.0) == config  # unknown rate: as configured


def test_a_camera_that_does_not_explain_the_landmarks_is_not_used() -> None:
    rng = np.random.default_rng(2)
    n = 5
    body = rng.normal(scale=0.4, size=(n, 33, 3))
    cam = np.tile([1.0, 0.05, -0.1], (n, 1))
    box = np.concatenate([cam[:, None, :1] * (body[..., :2] + cam[:, None, 1:]), np.ones((n, 33, 1))], -1)
    box[2, :, :2] = rng.normal(scale=0.4, size=(33, 2))  # frame 2's landmarks have nothing to do with the pose
    out = fit_track_camera(body, box, cam + 5.0, np.arange(n), sigma=0.0)
    np.testing.assert_allclose(out, cam, atol=1e-10)  # frame 2 from its neighbours, not a collapsed fit
