"""VIBE generator: shapes for every feature source and two body models, camera, gradients, modes."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from toy_body import ToyBody
from vibe.models.keypoint_encoder import KeypointEncoderConfig
from vibe.models.temporal import TemporalEncoderConfig
from vibe.models.vibe import VIBE, VIBEConfig

# Two bodies: SMPL-sized (J=24, S=10) and an Anny-like other size.
BODIES = [(24, 10), (13, 6)]


def _small_config(**kw) -> VIBEConfig:
    """A narrow generator (F=64) so the tests stay fast."""
    cfg = VIBEConfig(
        feature_dim=64,
        encoder=TemporalEncoderConfig(input_size=64, hidden_size=32),
        keypoint_encoder=KeypointEncoderConfig(num_keypoints=5, hidden_dim=16, out_dim=64),
    )
    return dataclasses.replace(cfg, **kw)


def _inputs(source: str, b: int, t: int) -> torch.Tensor:
    if source == "features":
        return torch.randn(b, t, 64)
    if source == "keypoints":
        kp = torch.rand(b, t, 5, 3) * 2 - 1
        kp[..., 2] = kp[..., 2].abs()
        return kp
    return torch.randn(b, t, 3, 64, 64)


@pytest.mark.parametrize("num_joints,shape_dim", BODIES)
@pytest.mark.parametrize("source", ["features", "keypoints"])
def test_output_shapes(num_joints, shape_dim, source):
    body = ToyBody(num_joints, shape_dim)
    model = VIBE(_small_config(feature_source=source), body).eval()
    out = model(_inputs(source, 2, 5))
    j, s, k, v = num_joints, shape_dim, 49, body.num_vertices
    assert out.cam.shape == (2, 5, 3)
    assert out.pose_rot6d.shape == (2, 5, j, 6)
    assert out.pose_rotmat.shape == (2, 5, j, 3, 3)
    assert out.shape.shape == (2, 5, s)
    assert out.joints3d.shape == (2, 5, k, 3)
    assert out.joints2d.shape == (2, 5, k, 2)
    assert out.vertices.shape == (2, 5, v, 3)
    assert out.extra_joints3d == {}
    for value in vars(out).values():
        if isinstance(value, torch.Tensor):
            assert torch.isfinite(value).all()


def test_resnet_source_shapes_and_released_feature_width():
    body = ToyBody(24, 10)
    cfg = dataclasses.replace(VIBEConfig(feature_source="resnet"), encoder=TemporalEncoderConfig(hidden_size=16))
    model = VIBE(cfg, body).eval()
    with torch.no_grad():
        out = model(_inputs("resnet", 1, 2))
    assert out.pose_rotmat.shape == (1, 2, 24, 3, 3)
    with pytest.raises(ValueError):
        VIBE(dataclasses.replace(cfg, feature_dim=64, encoder=TemporalEncoderConfig(input_size=64)), body)


def test_eval_is_deterministic_and_windows_are_independent():
    model = VIBE(_small_config(), ToyBody()).eval()
    x = torch.randn(3, 4, 64)
    a, b = model(x), model(x)
    torch.testing.assert_close(a.pose_rotmat, b.pose_rotmat)
    # Batched equals one window at a time.
    one = model(x[1:2])
    torch.testing.assert_close(a.joints3d[1:2], one.joints3d, rtol=1e-5, atol=1e-6)


def test_joints_are_the_body_models_keypoints_and_project_through_the_crop_camera():
    body = ToyBody()
    model = VIBE(_small_config(), body).eval()
    out = model(torch.randn(1, 3, 64))
    posed = body(out.pose_rotmat[0], out.shape[0])
    torch.testing.assert_close(out.joints3d[0], body.keypoints(posed, "spin49"))
    torch.testing.assert_close(out.vertices[0], posed.vertices)
    # Crop camera from DESIGN §4: f = 5000, t = (tx, ty, 2f / (224 s + 1e-9)), divided by 112.
    s, tx, ty = out.cam[0].unbind(-1)
    tz = 2 * 5000.0 / (224.0 * s + 1e-9)
    p = out.joints3d[0]
    x = 5000.0 * (p[..., 0] + tx[:, None]) / (p[..., 2] + tz[:, None]) / 112.0
    y = 5000.0 * (p[..., 1] + ty[:, None]) / (p[..., 2] + tz[:, None]) / 112.0
    torch.testing.assert_close(out.joints2d[0], torch.stack((x, y), -1), rtol=1e-5, atol=1e-6)


def test_per_frame_mode_skips_the_temporal_encoder():
    model = VIBE(_small_config(temporal=False), ToyBody()).eval()
    x = torch.randn(1, 4, 64)
    y = x.clone()
    y[:, 0] += 5.0  # changing frame 0 must not change the other frames
    torch.testing.assert_close(model(x).cam[:, 1:], model(y).cam[:, 1:])
    model.train()
    model(x).joints2d.sum().backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.regressor.parameters())


def test_gradients_reach_exactly_the_learned_parameters():
    model = VIBE(_small_config(feature_source="keypoints"), ToyBody()).train()
    out = model(_inputs("keypoints", 2, 3))
    (out.joints2d.square().mean() + out.shape.square().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert not list(model.body.parameters()) or all(p.grad is None for p in model.body.parameters())


def test_frozen_backbone_gets_no_gradients_and_keeps_batchnorm_statistics():
    cfg = dataclasses.replace(VIBEConfig(feature_source="resnet"), encoder=TemporalEncoderConfig(hidden_size=16))
    model = VIBE(cfg, ToyBody()).train()
    assert not model.backbone.training  # frozen: BatchNorm stays in eval mode
    before = model.backbone.bn1.running_mean.clone()
    out = model(_inputs("resnet", 1, 2))
    out.cam.sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.encoder.gru.weight_ih_l0.grad is not None
    torch.testing.assert_close(model.backbone.bn1.running_mean, before)

    trainable = VIBE(dataclasses.replace(cfg, freeze_backbone=False), ToyBody()).train()
    assert trainable.backbone.training
    trainable(_inputs("resnet", 1, 2)).cam.sum().backward()
    assert trainable.backbone.conv1.weight.grad is not None


def test_learned_state_dict_excludes_the_body_model():
    model = VIBE(_small_config(), ToyBody())
    keys = model.learned_state_dict().keys()
    assert keys and not any(k.startswith("body.") for k in keys)
    assert {k.split(".")[0] for k in keys} == {"encoder", "regressor"}


def test_config_round_trips_through_a_plain_dict():
    cfg = _small_config(feature_source="keypoints", temporal=False)
    assert VIBEConfig.from_dict(cfg.to_dict()) == cfg


def test_extra_keypoint_sets_are_returned_in_3d():
    body = ToyBody()
    model = VIBE(_small_config(extra_keypoint_sets=("joints",)), body).eval()
    out = model(torch.randn(1, 2, 64))
    assert out.extra_joints3d["joints"].shape == (1, 2, 24, 3)
    posed = body(out.pose_rotmat[0], out.shape[0])
    torch.testing.assert_close(out.extra_joints3d["joints"][0], posed.joints)
    cfg = _small_config(extra_keypoint_sets=("joints",))
    assert VIBEConfig.from_dict({**cfg.to_dict(), "extra_keypoint_sets": ["joints"]}) == cfg


@pytest.mark.anny
@pytest.mark.slow
def test_with_anny_the_neutral_estimate_is_upright_and_faces_the_camera():
    from vibe.body.anny import Anny

    body = Anny()
    cfg = VIBEConfig(
        feature_source="keypoints",
        keypoint_set="eval14",
        keypoint_encoder=KeypointEncoderConfig(num_keypoints=33),
        encoder=TemporalEncoderConfig(hidden_size=32),
    )
    model = VIBE(cfg, body).eval()
    for head in (model.regressor.decpose, model.regressor.decshape, model.regressor.deccam):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    with torch.no_grad():
        out = model(torch.rand(1, 2, 33, 3))
    assert out.pose_rotmat.shape == (1, 2, body.num_joints, 3, 3)
    j = out.joints2d[0, 0]  # eval14: 0 right ankle, 5 left ankle, 13 head top; image y points down
    assert j[13, 1] < -0.4 and j[0, 1] > 0.4 and j[5, 1] > 0.4
    assert j[0, 0] < 0 < j[5, 0]  # facing the camera: the right side appears on the image's left
    assert j.abs().max() < 1.0  # inside the crop


@pytest.mark.anny
def test_with_anny_the_keypoint_only_path_equals_posing_the_mesh():
    from vibe.body.anny import Anny

    body = Anny()
    kwargs = dict(
        feature_source="keypoints",
        keypoint_set="blazepose33",
        extra_keypoint_sets=("eval14",),
        keypoint_encoder=KeypointEncoderConfig(num_keypoints=33, out_dim=64),
        feature_dim=64,
        encoder=TemporalEncoderConfig(input_size=64, hidden_size=32),
    )
    fast = VIBE(VIBEConfig(**kwargs, return_vertices=False), body).eval()
    full = VIBE(VIBEConfig(**kwargs, return_vertices=True), body).eval()
    assert fast.fast_keypoints is not None and full.fast_keypoints is None
    full.load_state_dict(fast.state_dict(), strict=False)
    assert fast.learned_state_dict().keys() == full.learned_state_dict().keys()
    inputs = torch.rand(2, 3, 33, 3)
    with torch.no_grad():
        a, b = fast(inputs), full(inputs)
    torch.testing.assert_close(a.joints3d, b.joints3d, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.extra_joints3d["eval14"], b.extra_joints3d["eval14"], atol=1e-5, rtol=0)
