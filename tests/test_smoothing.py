"""One-Euro filter: hand-computed steps, SO(3) form vs the scalar filter, jitter reduction, steps kept."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.pipeline.smoothing import OneEuroConfig, one_euro_rotations, one_euro_vectors


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad) between rotation stacks ``(..., 3, 3)``, via scipy."""
    rel = np.einsum("...ji,...jk->...ik", a, b)
    return np.linalg.norm(Rotation.from_matrix(rel.reshape(-1, 3, 3)).as_rotvec(), axis=-1).reshape(a.shape[:-2])


def test_vector_filter_first_step_by_hand():
    # x = 0 then 1, unit time step: the speed estimate is alpha(d_cutoff = 1)·1,
    # the cutoff min_cutoff + beta·speed, the output alpha(cutoff)·1.
    def alpha(cutoff):
        r = 2 * math.pi * cutoff
        return r / (r + 1)

    speed = alpha(1.0) * 1.0
    expected = alpha(0.004 + 0.7 * speed)
    out = one_euro_vectors(np.array([[0.0], [1.0]]))
    assert out[0, 0] == 0.0
    assert out[1, 0] == pytest.approx(expected, rel=1e-12)


def test_rotations_about_one_axis_match_the_scalar_filter():
    # About a fixed axis, log(R̂ᵀR) is (θ − θ̂)·axis: the SO(3) filter is the scalar filter on θ.
    rng = np.random.default_rng(1)
    theta = np.cumsum(rng.normal(0.0, 0.05, size=60)) + 0.3
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    rotmat = Rotation.from_rotvec(theta[:, None] * axis).as_matrix()[:, None]  # (T, 1, 3, 3)
    filtered = one_euro_rotations(torch.as_tensor(rotmat)).numpy()
    expected = Rotation.from_rotvec(one_euro_vectors(theta[:, None]) * axis).as_matrix()
    np.testing.assert_allclose(filtered[:, 0], expected, atol=1e-9)


def test_noisy_constant_rotation_is_smoothed():
    rng = np.random.default_rng(0)
    truth = Rotation.random(4, random_state=2).as_matrix()  # 4 joints
    noise = Rotation.from_rotvec(rng.normal(0.0, 0.05, size=(200 * 4, 3))).as_matrix().reshape(200, 4, 3, 3)
    noisy = truth[None] @ noise
    filtered = one_euro_rotations(torch.as_tensor(noisy)).numpy()
    err_raw = _angle_between(noisy[50:], truth[None]).mean()
    err_filtered = _angle_between(filtered[50:], truth[None]).mean()
    assert err_filtered < 0.6 * err_raw
    # Frame-to-frame jitter drops too.
    jitter_raw = _angle_between(noisy[51:], noisy[50:-1]).mean()
    jitter_filtered = _angle_between(filtered[51:], filtered[50:-1]).mean()
    assert jitter_filtered < 0.35 * jitter_raw
    # Outputs are rotations.
    identity = np.broadcast_to(np.eye(3), filtered.shape)
    np.testing.assert_allclose(filtered @ np.swapaxes(filtered, -1, -2), identity, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(filtered), 1.0, atol=1e-9)


def test_step_level_is_kept():
    before = Rotation.from_rotvec([0.0, 0.0, 0.0]).as_matrix()
    after = Rotation.from_rotvec([0.0, 1.0, 0.0]).as_matrix()
    rotmat = np.stack([before] * 40 + [after] * 80)[:, None]
    filtered = one_euro_rotations(torch.as_tensor(rotmat)).numpy()[:, 0]
    assert _angle_between(filtered[:40], before[None]).max() < 1e-12
    # Fast motion raises the cutoff: most of the step is taken at once, the level is reached.
    assert _angle_between(filtered[40:41], after[None])[0] < 0.5
    assert _angle_between(filtered[-1:], after[None])[0] < 0.02


def test_times_in_frames_with_gaps():
    # Two samples 2 frames apart smooth less than 1 frame apart (alpha grows with Δt).
    x = np.array([[0.0], [1.0]])
    one = one_euro_vectors(x, times=np.array([0.0, 1.0]))[1, 0]
    two = one_euro_vectors(x, times=np.array([0.0, 2.0]))[1, 0]
    assert two > one
    with pytest.raises(ValueError):
        one_euro_vectors(x, times=np.array([1.0, 1.0]))


def test_config_defaults_are_the_originals():
    cfg = OneEuroConfig()
    assert (cfg.min_cutoff, cfg.beta, cfg.d_cutoff) == (0.004, 0.7, 1.0)


def test_gaussian_vectors_hand_computed_with_edges_and_gaps() -> None:
    from vibe.pipeline.smoothing import gaussian_vectors

    x = np.array([0.0, 0.0, 3.0, 0.0, 0.0, 10.0, 10.0])[:, None]
    ids = np.array([0, 1, 2, 3, 4, 9, 10])  # a gap before frame 9
    sigma = 1.0 / 3.0 + 1e-9  # taps at ±1 only, weight e^{-4.5} each
    w = np.exp(-0.5 * (1 / sigma) ** 2)
    out = gaussian_vectors(x, sigma, ids)[:, 0]
    np.testing.assert_allclose(out[2], 3.0 / (1 + 2 * w))
    np.testing.assert_allclose(out[1], 3.0 * w / (1 + 2 * w))
    np.testing.assert_allclose(out[0], 0.0)  # edge: renormalised over itself and frame 1
    np.testing.assert_allclose(out[4], 0.0)  # the gap keeps frame 9's 10 out
    np.testing.assert_allclose(out[5:], 10.0)


def test_gaussian_rotations_about_one_axis_is_the_angle_smoothed() -> None:
    """About a fixed axis, small angles: the chordal mean is the smoothed angle (to 2nd order)."""
    from vibe.pipeline.smoothing import gaussian_rotations, gaussian_vectors

    rng = np.random.default_rng(0)
    angle = 0.3 + 0.02 * rng.standard_normal(40)
    axis = np.array([0.0, 0.6, 0.8])
    rot = torch.as_tensor(Rotation.from_rotvec(angle[:, None] * axis).as_matrix())[:, None]  # (T, 1, 3, 3)
    out = gaussian_rotations(rot, 3.0).numpy()[:, 0]
    got = Rotation.from_matrix(out).as_rotvec() @ axis
    np.testing.assert_allclose(got, gaussian_vectors(angle, 3.0), atol=1e-4)
    assert np.abs(np.diff(got, 2)).mean() < 0.2 * np.abs(np.diff(angle, 2)).mean()


def test_gaussian_rotations_handle_quaternion_sign_flips() -> None:
    from vibe.pipeline.smoothing import gaussian_rotations

    rot = torch.as_tensor(Rotation.from_rotvec(np.tile([[0.0, 0.0, 3.1]], (9, 1))).as_matrix())
    rot[::2] = torch.as_tensor(Rotation.from_rotvec([0.0, 0.0, -3.12]).as_matrix())  # near π: q and −q
    out = gaussian_rotations(rot[:, None], 2.0)[:, 0].numpy()
    angles = np.abs(Rotation.from_matrix(out).magnitude())
    assert (angles > 3.05).all()  # an average across the sign flip would collapse towards identity


def test_linear_edges_follow_a_steady_motion_to_the_ends_and_keep_the_middle() -> None:
    from vibe.pipeline.smoothing import gaussian_vectors

    ids = np.array([*range(0, 12), *range(20, 30)])  # two runs: a gap cuts the smoothing
    ramp = 2.0 * ids[:, None] + np.array([[1.0, -3.0]])  # (T, 2) a steady motion
    trailing = gaussian_vectors(ramp, 3.0, ids)
    assert abs(trailing[11, 0] - ramp[11, 0]) > 2.0  # the plain mean lags at a run's end
    np.testing.assert_allclose(gaussian_vectors(ramp, 3.0, ids, linear_edges=True), ramp, atol=1e-9)
    rng = np.random.default_rng(0)
    noisy = rng.normal(size=(40, 3))
    plain, linear = gaussian_vectors(noisy, 2.0), gaussian_vectors(noisy, 2.0, linear_edges=True)
    np.testing.assert_allclose(linear[6:-6], plain[6:-6], atol=1e-12)  # symmetric neighbours: the same mean
    assert not np.allclose(linear[:6], plain[:6])


def test_linear_edges_on_rotations_follow_a_steady_turn() -> None:
    from vibe.pipeline.smoothing import gaussian_rotations

    angle = 0.05 * np.arange(15)
    rot = torch.as_tensor(Rotation.from_rotvec(angle[:, None] * [0.0, 0.0, 1.0]).as_matrix())[:, None]
    turned = Rotation.from_matrix(gaussian_rotations(rot, 3.0, linear_edges=True)[:, 0].numpy()).as_rotvec()[:, 2]
    lagging = Rotation.from_matrix(gaussian_rotations(rot, 3.0)[:, 0].numpy()).as_rotvec()[:, 2]
    np.testing.assert_allclose(turned, angle, atol=2e-3)  # chordal (quaternion) line fit: near the angle
    assert abs(lagging[-1] - angle[-1]) > 0.05


def test_a_lone_sample_keeps_its_value_with_linear_edges() -> None:
    from vibe.pipeline.smoothing import gaussian_vectors

    ids = np.array([0, 1, 2, 10])  # frame 10 is alone in its run
    x = np.array([[0.0], [1.0], [2.0], [7.0]])
    np.testing.assert_allclose(gaussian_vectors(x, 2.0, ids, linear_edges=True)[3], [7.0])
