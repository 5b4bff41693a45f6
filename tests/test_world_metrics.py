"""World metrics (WHAM's definitions) on hand-made trajectories with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vibe.evaluation import world_metrics as wm


def _walk(n: int = 200) -> np.ndarray:
    """``(n, 4, 3)`` a rigid 4-point body walking 1.5 m/s along x at 30 fps, y up."""
    body = np.array([[0.0, 0.0, 0.0], [0.2, 0.9, 0.0], [-0.2, 0.9, 0.1], [0.0, 1.6, 0.0]])
    return body[None] + np.stack([np.arange(n) * 0.05, np.zeros(n), np.zeros(n)], 1)[:, None]


def test_rigidly_moved_prediction_scores_zero_but_camera_scale_does_not_in_w():
    gt = _walk()
    rot = Rotation.from_euler("y", 40, degrees=True).as_matrix()
    pred = gt @ rot.T + [3.0, 1.0, -2.0]
    assert wm.w_mpjpe(pred, gt) < 1e-9 and wm.wa_mpjpe(pred, gt) < 1e-9
    assert wm.root_trajectory_error(pred[:, 0], gt[:, 0]) < 1e-9
    scaled = gt * 1.2  # a 20 % depth-scale error: W counts it, WA's similarity removes it
    assert wm.w_mpjpe(scaled, gt) > 0.1
    assert wm.wa_mpjpe(scaled, gt) < 1e-9


def test_drift_and_w_mpjpe_count_a_known_drift():
    gt = _walk(100)
    pred = gt + np.linspace(0, 0.3, 100)[:, None, None] * np.array([0.0, 0.0, 1.0])  # 30 cm sideways by the end
    assert wm.root_drift(pred, gt, pred[:, 0], gt[:, 0]) == pytest.approx(0.3, abs=0.01)
    # The first two frames align the chunk: the mean joint error is the mean drift, 15 cm.
    assert wm.w_mpjpe(pred, gt) == pytest.approx(0.15, abs=0.01)
    assert wm.root_trajectory_error(gt[:, 0], gt[:, 0]) == 0.0
    assert np.isnan(wm.root_trajectory_error(gt[:10, 0] * 0, gt[:10, 0] * 0))  # no travel: undefined


def test_chunks_and_foot_sliding_and_jitter():
    assert wm.chunk_starts(250, 100) == [0, 100]
    assert wm.chunk_starts(80, 100) == [0]
    feet = np.zeros((5, 2, 3))
    feet[:, 0, 0] = [0.0, 0.01, 0.02, 0.03, 0.04]  # left foot slides 1 cm per frame
    contacts = np.array([[1, 1], [1, 1], [1, 0], [0, 0], [0, 0]], bool)
    assert wm.foot_sliding(feet, contacts) == pytest.approx((0.01 + 0.01 + 0.0) / 3)
    t = np.arange(10) / 30.0
    cubic = np.stack([t**3, 0 * t, 0 * t], 1)[:, None]  # constant jerk 6 m/s³
    assert wm.jitter(cubic, 30.0) == pytest.approx(6.0)


def test_ground_truth_contacts_need_low_and_still():
    t = np.arange(6) / 30.0
    feet = np.zeros((6, 1, 3))
    feet[3:, 0, 1] = 0.2  # lifted from frame 3
    # Frame 2 is still low, but its centred speed spans the lift.
    assert wm.ground_truth_contacts(feet, 0.0, t)[:, 0].tolist() == [True, True, False, False, False, False]
    moving = np.zeros((6, 1, 3))
    moving[:, 0, 0] = t * 1.0  # 1 m/s along the floor
    assert not wm.ground_truth_contacts(moving, 0.0, t).any()
