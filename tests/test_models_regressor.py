"""IEF regressor: released key names/shapes, the iteration, initial estimates, head initialisation."""

from __future__ import annotations

import math

import pytest
import torch

from released_layout import REGRESSOR
from vibe.models.regressor import Regressor, RegressorInit


def _gram_schmidt(x6: torch.Tensor) -> torch.Tensor:
    """6D → rotation matrix written from DESIGN §4 (reshape (3, 2), columns a1, a2)."""
    m = x6.reshape(-1, 3, 2)
    a1, a2 = m[..., 0], m[..., 1]
    b1 = a1 / a1.norm(dim=-1, keepdim=True)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = b2 / b2.norm(dim=-1, keepdim=True)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def test_smpl_key_names_and_shapes():
    got = {k: tuple(v.shape) for k, v in Regressor(24, 10).state_dict().items()}
    assert got == REGRESSOR


def test_other_body_sizes():
    reg = Regressor(num_joints=7, shape_dim=4, feature_dim=32)
    assert reg.fc1.in_features == 32 + 6 * 7 + 4 + 3
    out = reg.eval()(torch.randn(5, 32))
    assert out.pose_rot6d.shape == (5, 7, 6)
    assert out.pose_rotmat.shape == (5, 7, 3, 3)
    assert out.shape.shape == (5, 4) and out.cam.shape == (5, 3)


def test_iterations_match_a_hand_written_loop_and_6d_mapping():
    torch.manual_seed(0)
    j, s, f = 3, 2, 8
    init = RegressorInit(torch.randn(6 * j), torch.randn(s), torch.tensor([0.9, 0.1, -0.2]))
    reg = Regressor(j, s, feature_dim=f, n_iter=3, init=init, hidden_dim=16).double().eval()
    x = torch.randn(4, f, dtype=torch.float64)
    pose, shape, cam = (t.double().expand(4, -1) for t in (init.pose_rot6d[None], init.shape[None], init.cam[None]))
    for _ in range(3):
        h = reg.fc2(reg.fc1(torch.cat((x, pose, shape, cam), 1)))
        pose, shape, cam = pose + reg.decpose(h), shape + reg.decshape(h), cam + reg.deccam(h)
    out = reg(x)
    torch.testing.assert_close(out.pose_rot6d.reshape(4, -1), pose)
    torch.testing.assert_close(out.shape, shape)
    torch.testing.assert_close(out.cam, cam)
    torch.testing.assert_close(out.pose_rotmat, _gram_schmidt(pose).reshape(4, j, 3, 3))


def test_zero_heads_return_the_initial_estimate():
    reg = Regressor(5, 3, feature_dim=8).eval()
    for head in (reg.decpose, reg.decshape, reg.deccam):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    out = reg(torch.randn(2, 8))
    # Neutral init: root a half turn about x (y-up body seen upright by a y-down
    # camera), other joints identity, zero shape, camera (0.9, 0, 0).
    half_turn_x = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
    torch.testing.assert_close(out.pose_rotmat[:, 0], half_turn_x.expand(2, 3, 3))
    torch.testing.assert_close(out.pose_rotmat[:, 1:], torch.eye(3).expand(2, 4, 3, 3))
    torch.testing.assert_close(out.shape, torch.zeros(2, 3))
    torch.testing.assert_close(out.cam, torch.tensor([[0.9, 0.0, 0.0]] * 2))


def test_from_mean_params_and_size_check():
    from vibe.body.smpl import SMPLMeanParams

    mean = SMPLMeanParams(pose_rot6d=torch.arange(144.0), shape=torch.ones(10), cam=torch.tensor([0.9, 0.0, 0.0]))
    reg = Regressor(24, 10, init=RegressorInit.from_mean_params(mean))
    torch.testing.assert_close(reg.init_pose, torch.arange(144.0)[None])
    torch.testing.assert_close(reg.init_shape, torch.ones(1, 10))
    torch.testing.assert_close(reg.init_cam, torch.tensor([[0.9, 0.0, 0.0]]))
    with pytest.raises(ValueError):
        Regressor(23, 10, init=RegressorInit.from_mean_params(mean))


def test_heads_use_xavier_uniform_with_gain_001():
    reg = Regressor(24, 10)
    for head in (reg.decpose, reg.decshape, reg.deccam):
        fan_out, fan_in = head.weight.shape
        bound = 0.01 * math.sqrt(6.0 / (fan_in + fan_out))
        assert head.weight.abs().max() <= bound
        assert head.weight.abs().max() > 0.5 * bound


def test_dropout_is_active_only_in_training():
    reg = Regressor(4, 2, feature_dim=8)
    x = torch.randn(3, 8)
    reg.eval()
    torch.testing.assert_close(reg(x).cam, reg(x).cam)
    reg.train()
    assert not torch.allclose(reg(x).cam, reg(x).cam)
