"""Evaluation metrics on cases with known answers, and PA-MPJPE against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.transform import Rotation

from vibe import metrics

F64 = torch.float64


def _skeletons(*shape: int) -> torch.Tensor:
    """Random 14-joint skeletons ``(*shape, 14, 3)`` of roughly human size (m)."""
    return torch.randn(*shape, 14, 3, dtype=F64) * 0.4


def test_mpjpe_constant_offset_before_and_after_centring() -> None:
    target = _skeletons(4)
    pred = target + torch.tensor([0.01, 0.02, 0.02], dtype=F64)  # |offset| = 0.03 m
    per_frame = metrics.mpjpe(pred, target, pelvis_idx=None)
    assert per_frame.shape == (4,)
    torch.testing.assert_close(per_frame, torch.full((4,), 30.0, dtype=F64))
    torch.testing.assert_close(metrics.mpjpe(pred, target), torch.zeros(4, dtype=F64))


def test_mpjpe_centres_on_the_mid_hip() -> None:
    target = torch.zeros(1, 14, 3, dtype=F64)
    pred = target.clone()
    # Moving one hip by 2 cm moves the mid-hip by 1 cm: that hip is then 1 cm
    # off, and every other joint 1 cm off the other way.
    pred[0, 2, 0] = 0.02
    torch.testing.assert_close(metrics.mpjpe(pred, target), torch.tensor([10.0], dtype=F64))
    # Displacing a non-hip joint by 14 cm: 140 mm / 14 joints.
    pred = target.clone()
    pred[0, 7, 1] = 0.14
    torch.testing.assert_close(metrics.mpjpe(pred, target), torch.tensor([10.0], dtype=F64))


def test_pa_mpjpe_is_zero_for_a_similar_copy() -> None:
    target = _skeletons(5)
    rotation = torch.from_numpy(Rotation.random(5, random_state=0).as_matrix())
    pred = 1.3 * target @ rotation.transpose(-1, -2) + torch.tensor([0.5, -0.2, 3.0], dtype=F64)
    assert metrics.pa_mpjpe(pred, target).abs().max() < 1e-6
    assert metrics.mpjpe(pred, target).min() > 10.0


def test_pa_mpjpe_matches_scipy_procrustes() -> None:
    target = _skeletons(2, 3)
    pred = target + torch.randn_like(target) * 0.05
    ours = metrics.pa_mpjpe(pred, target)
    assert ours.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        t, p = target[idx].numpy(), pred[idx].numpy()
        std_t, std_p, _ = scipy_procrustes(t, p)
        norm = np.linalg.norm(t - t.mean(0))
        expected_mm = np.linalg.norm((std_p - std_t) * norm, axis=-1).mean() * 1000.0
        assert ours[idx].item() == pytest.approx(expected_mm, rel=1e-9)


def test_pve_has_no_alignment() -> None:
    target = torch.randn(3, 100, 3, dtype=F64)
    pred = target + torch.tensor([0.0, 0.0, 0.05], dtype=F64)
    torch.testing.assert_close(metrics.pve(pred, target), torch.full((3,), 50.0, dtype=F64))


def test_accel_is_zero_at_constant_velocity() -> None:
    start = _skeletons()
    velocity = torch.randn(14, 3, dtype=F64) * 0.01
    t = torch.arange(10, dtype=F64)[:, None, None]
    pred = start + t * velocity
    assert metrics.accel(pred).shape == (8,)
    assert metrics.accel(pred).abs().max() < 1e-9
    target = _skeletons(10)
    assert metrics.accel_error(target + t * velocity, target).abs().max() < 1e-9


def test_accel_of_a_single_displaced_joint() -> None:
    # One of J = 4 joints displaced by d = 3 cm at frame 3 of 7: second
    # differences d, 2d, d at frames 2, 3, 4, averaged over the 4 joints.
    seq = torch.zeros(7, 4, 3, dtype=F64)
    seq[3, 1] = torch.tensor([0.0, 0.03, 0.0], dtype=F64)
    expected = torch.tensor([0.0, 7.5, 15.0, 7.5, 0.0], dtype=F64)
    torch.testing.assert_close(metrics.accel(seq), expected)
    torch.testing.assert_close(metrics.accel_error(seq, torch.zeros_like(seq)), expected)
    # A displacement the target shares gives no error.
    torch.testing.assert_close(metrics.accel_error(seq, seq.clone()), torch.zeros(5, dtype=F64))


def test_pck_and_auc_of_known_distances() -> None:
    target = _skeletons(1)
    pred = target.clone()
    # Non-hip joints moved along x by known distances (hips untouched, so the
    # centring changes nothing): 4 of 14 joints beyond 150 mm.
    distances_mm = {0: 20.0, 1: 149.0, 4: 151.0, 5: 400.0, 6: 1000.0, 7: 160.0}
    for joint, d in distances_mm.items():
        pred[0, joint, 0] += d / 1000.0
    torch.testing.assert_close(metrics.pck(pred, target), torch.tensor([10.0 / 14.0 * 100.0], dtype=F64))
    pck_10mm = metrics.pck(pred, target, threshold_mm=10.0)
    torch.testing.assert_close(pck_10mm, torch.tensor([8.0 / 14.0 * 100.0], dtype=F64))

    # All joints 72 mm off: PCK is 100 % for the 16 thresholds 75, 80, …, 150 of 31.
    offset = torch.zeros(14, 3, dtype=F64)
    offset[:, 1] = 0.072
    offset[2:4] = 0.0  # keep the hips, so the centring does not remove the offset
    pred = target + offset
    expected_auc = (2 * 100.0 + 12 * 16 / 31 * 100.0) / 14  # hips at 0 mm count at every threshold
    torch.testing.assert_close(metrics.auc(pred, target), torch.tensor([expected_auc], dtype=F64))
    torch.testing.assert_close(metrics.auc(target, target), torch.tensor([100.0], dtype=F64))


def test_accel_valid_mask() -> None:
    mask = torch.tensor([True, True, True, False, True, True, True, True])
    expected = torch.tensor([True, False, False, False, True, True])
    assert torch.equal(metrics.accel_valid_mask(mask), expected)


def test_masked_mean_excludes_frames() -> None:
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, 4.0, 5.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    assert metrics.masked_mean(values, mask) == pytest.approx(3.0)
    assert metrics.masked_mean(values) == pytest.approx(115.0 / 6.0)
    assert math.isnan(metrics.masked_mean(values, torch.zeros_like(mask)))
    per_sequence = torch.tensor([10.0, 20.0])
    assert metrics.masked_mean(per_sequence, torch.tensor([False, True])) == pytest.approx(20.0)


def test_summarize_with_mask_ignores_corrupted_frames() -> None:
    frames = 12
    target = _skeletons(2, frames)
    rotation = torch.from_numpy(Rotation.from_rotvec([0.0, 0.0, 0.3]).as_matrix())
    pred = 0.9 * target @ rotation.T + torch.tensor([0.1, 0.0, 0.0], dtype=F64)
    verts_target = torch.randn(2, frames, 30, 3, dtype=F64)
    verts_pred = verts_target + torch.tensor([0.0, 0.004, 0.003], dtype=F64)  # 5 mm
    mask = torch.ones(2, frames, dtype=torch.bool)
    mask[1, 5] = False

    clean = metrics.summarize(pred, target, verts_pred, verts_target, mask=mask)
    corrupted_pred, corrupted_verts = pred.clone(), verts_pred.clone()
    corrupted_pred[1, 5, 7] += 10.0  # one joint 10 m off (a rigid shift would be centred away)
    corrupted_verts[1, 5] += 10.0
    masked = metrics.summarize(corrupted_pred, target, corrupted_verts, verts_target, mask=mask)
    assert set(masked) == {"mpjpe", "pa_mpjpe", "pve", "accel", "accel_err", "pck", "auc"}
    for key, value in clean.items():
        assert masked[key] == pytest.approx(value, rel=1e-12), key
    assert masked["pa_mpjpe"] < 1e-6
    assert masked["pve"] == pytest.approx(5.0)
    # Without the mask the corrupted frame shows: 10 m / 14 joints / 24 frames ≈ 30 mm.
    unmasked = metrics.summarize(corrupted_pred, target, corrupted_verts, verts_target)
    assert unmasked["mpjpe"] > masked["mpjpe"] + 20.0
    assert unmasked["accel"] > masked["accel"] + 20.0
    assert unmasked["pve"] > 100.0


def test_summarize_accel_uses_centred_joints() -> None:
    # A skeleton jumping rigidly at one frame has zero acceleration once centred.
    target = _skeletons(1).expand(6, 14, 3).clone()
    pred = target.clone()
    pred[3] += 0.5
    out = metrics.summarize(pred, target)
    assert out["accel"] == pytest.approx(0.0, abs=1e-9)
    assert out["accel_err"] == pytest.approx(0.0, abs=1e-9)
    assert out["mpjpe"] == pytest.approx(0.0, abs=1e-9)
