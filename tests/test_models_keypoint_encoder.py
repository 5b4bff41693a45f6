"""Keypoint encoder: shapes, robustness to missing points (visibility 0, NaN), world landmarks."""

from __future__ import annotations

import pytest
import torch

from vibe.models.keypoint_encoder import KeypointEncoder, mask_missing


def _landmarks(*lead: int, k: int = 6) -> torch.Tensor:
    kp = torch.rand(*lead, k, 3)
    kp[..., :2] = kp[..., :2] * 2 - 1
    kp[..., 2] = 0.2 + 0.8 * kp[..., 2]
    return kp


def test_output_width_and_leading_dims():
    enc = KeypointEncoder(num_keypoints=6, hidden_dim=16, out_dim=40).eval()
    assert enc(_landmarks(2, 5)).shape == (2, 5, 40)
    assert enc(_landmarks(3)).shape == (3, 40)
    assert KeypointEncoder(num_keypoints=33)(_landmarks(1, k=33)).shape == (1, 2048)


def test_invisible_points_are_ignored_whatever_their_coordinates():
    enc = KeypointEncoder(num_keypoints=6, hidden_dim=16, out_dim=8).eval()
    kp = _landmarks(4)
    kp[:, 2, 2] = 0.0  # point 2 not visible
    moved = kp.clone()
    moved[:, 2, :2] = torch.tensor([50.0, -30.0])
    nan = kp.clone()
    nan[:, 2, :2] = float("nan")
    torch.testing.assert_close(enc(kp), enc(moved))
    torch.testing.assert_close(enc(kp), enc(nan))
    # A NaN position with visibility 1 is treated as missing too.
    nan_visible = nan.clone()
    nan_visible[:, 2, 2] = 1.0
    torch.testing.assert_close(enc(kp), enc(nan_visible))
    # ... but a visible point's position matters.
    visible_moved = kp.clone()
    visible_moved[:, 3, :2] += 0.5
    assert not torch.allclose(enc(kp), enc(visible_moved))


def test_mask_missing_hand_case():
    kp = torch.tensor([[0.5, -0.5, 0.9], [0.3, 0.2, 0.0], [float("nan"), 0.1, 1.0]])
    xy, vis, world = mask_missing(kp)
    torch.testing.assert_close(xy, torch.tensor([[0.5, -0.5], [0.0, 0.0], [0.0, 0.0]]))
    torch.testing.assert_close(vis, torch.tensor([0.9, 0.0, 0.0]))
    assert world is None


def test_world_landmarks_are_used_and_required():
    enc = KeypointEncoder(num_keypoints=6, use_world=True, hidden_dim=16, out_dim=8).eval()
    kp, world = _landmarks(2), torch.randn(2, 6, 3)
    assert not torch.allclose(enc(kp, world), enc(kp, world + 1.0))
    with pytest.raises(ValueError):
        enc(kp)
    with pytest.raises(ValueError):
        KeypointEncoder(num_keypoints=6)(kp, world)
    with pytest.raises(ValueError):
        KeypointEncoder(num_keypoints=7)(kp)


def test_gradients_flow_through_visible_points_only():
    enc = KeypointEncoder(num_keypoints=6, hidden_dim=16, out_dim=8)
    kp = _landmarks(3).requires_grad_(True)
    with torch.no_grad():
        kp[:, 0, 2] = 0.0
    enc(kp).sum().backward()
    assert torch.all(kp.grad[:, 0, :2] == 0)
    assert kp.grad[:, 1, :2].abs().sum() > 0
