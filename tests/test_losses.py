"""Losses against hand-computed cases and the released weights."""

from __future__ import annotations

import pytest
import torch

from vibe.losses import (
    JointSubset,
    LossWeights,
    body_param_losses,
    discriminator_loss,
    generator_adversarial_loss,
    joint_subset,
    keypoint_2d_loss,
    keypoint_3d_loss,
    kl_divergence,
    mposer_vae_loss,
)


def test_default_weights_are_the_released_config():
    w = LossWeights()
    assert (w.kp_2d, w.kp_3d, w.pose, w.shape, w.adversarial) == (300.0, 300.0, 60.0, 0.06, 0.5)


def test_keypoint_2d_loss_hand_case():
    pred = torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])
    gt = torch.tensor([[[1.0, 2.0, 0.5], [1.0, 1.0, 1.0]]])
    # conf·(dx², dy²) = 0.5·(1, 4) for point 0, 0 for point 1; mean over 2·2 values.
    assert float(keypoint_2d_loss(pred, gt)) == pytest.approx((0.5 + 2.0) / 4)
    # Zero confidence removes a point entirely.
    gt[0, 0, 2] = 0.0
    assert float(keypoint_2d_loss(pred, gt)) == 0.0


def test_keypoint_3d_loss_uses_joints_25_39_centred_on_the_mid_hip():
    pred = torch.randn(3, 49, 3)
    gt = pred.clone()
    gt[:, 25:39] += torch.tensor([1.0, -2.0, 0.5])  # a pure translation is removed by centring
    gt[:, :25] += 10.0  # joints outside 25:39 are ignored
    gt[:, 39:] -= 10.0
    assert float(keypoint_3d_loss(pred, gt)) == pytest.approx(0.0, abs=1e-10)

    gt2 = pred.clone()
    gt2[0, 25] += torch.tensor([0.3, 0.0, 0.0])  # move the right ankle of sample 0 by 0.3 in x
    # Hips (local 2, 3) unchanged, so only that joint differs: 0.09 over 3·14·3 values.
    assert float(keypoint_3d_loss(pred, gt2)) == pytest.approx(0.09 / (3 * 14 * 3))


def test_keypoint_3d_loss_masks_samples_and_handles_none():
    pred = torch.zeros(2, 49, 3, requires_grad=True)
    gt = torch.zeros(2, 49, 3)
    gt[1, 30] = 1.0
    has_3d = torch.tensor([True, False])
    assert float(keypoint_3d_loss(pred, gt, has_3d).detach()) == 0.0
    none = keypoint_3d_loss(pred, gt, torch.tensor([False, False]))
    assert float(none.detach()) == 0.0
    none.backward()  # still part of the graph
    assert torch.all(pred.grad == 0)
    # Leading (B, T) dims are flattened.
    assert float(keypoint_3d_loss(pred.detach()[None], gt[None], has_3d[None])) == 0.0


def test_joint_subset_registry_and_custom_subset():
    assert joint_subset("spin49") == JointSubset(25, 39, 3, 2)
    with pytest.raises(KeyError):
        joint_subset("nope")
    pred = torch.zeros(1, 4, 3)
    gt = torch.zeros(1, 4, 3)
    gt[0, 3, 0] = 1.0
    sub = JointSubset(start=1, stop=4, left_hip=0, right_hip=1)
    # Local joints 0 and 1 (global 1, 2) are the hips; joint 3 off by 1 in x of 9 values.
    assert float(keypoint_3d_loss(pred, gt, subset=sub)) == pytest.approx(1.0 / 9)


def test_body_param_losses_on_rotation_matrices_and_shape():
    pred_rot = torch.eye(3).expand(2, 4, 3, 3).clone()
    gt_rot = pred_rot.clone()
    gt_rot[0, 1] = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90° about z
    pred_shape, gt_shape = torch.zeros(2, 3), torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    pose, shape = body_param_losses(pred_rot, gt_rot, pred_shape, gt_shape)
    # Differences: two 1s on the diagonal and two off-diagonal 1s → 4 over 2·4·9 values.
    assert float(pose) == pytest.approx(4 / 72)
    assert float(shape) == pytest.approx(1 / 6)
    pose, shape = body_param_losses(pred_rot, gt_rot, pred_shape, gt_shape, torch.tensor([False, True]))
    assert float(pose) == 0.0 and float(shape) == 0.0


def test_lsgan_terms():
    fake = torch.tensor([[0.0], [0.5]])
    real = torch.tensor([[1.0], [0.0]])
    assert float(generator_adversarial_loss(fake)) == pytest.approx((1.0 + 0.25) / 2)
    real_term, fake_term, total = discriminator_loss(real, fake)
    assert float(real_term) == pytest.approx(0.5)
    assert float(fake_term) == pytest.approx(0.125)
    assert float(total) == pytest.approx(0.625)


def test_kl_and_mposer_loss():
    mu = torch.zeros(2, 3, 4)
    logvar = torch.zeros(2, 3, 4)
    assert float(kl_divergence(mu, logvar)) == 0.0
    mu[..., 0] = 2.0  # KL per frame: 0.5·4 = 2
    assert float(kl_divergence(mu, logvar)) == pytest.approx(2.0)
    rot = torch.eye(3).expand(2, 3, 5, 3, 3)
    recon, kl, total = mposer_vae_loss(rot, rot, mu, logvar, kl_weight=0.1)
    assert float(recon) == 0.0 and float(total) == pytest.approx(0.2)


def test_generator_losses_weights_and_sums_the_terms():
    from types import SimpleNamespace

    from vibe.losses import GeneratorTargets, generator_losses

    b, t = 2, 3
    pred = SimpleNamespace(
        joints2d=torch.zeros(b, t, 49, 2),
        joints3d=torch.zeros(b, t, 49, 3),
        pose_rotmat=torch.eye(3).expand(b, t, 24, 3, 3),
        shape=torch.zeros(b, t, 10),
    )
    kp_2d = torch.zeros(b, t, 49, 3)
    kp_2d[..., 0] = 1.0  # every x off by 1
    kp_2d[..., 2] = 1.0
    kp_3d = torch.zeros(b, t, 49, 3)
    kp_3d[..., 25, 0] = 1.4  # right ankle off by 1.4 in x, hips unchanged
    targets = GeneratorTargets(
        kp_2d=kp_2d,
        kp_3d=kp_3d,
        has_3d=torch.ones(b, t, dtype=torch.bool),
        pose_rotmat=torch.eye(3).expand(b, t, 24, 3, 3),
        shape=torch.ones(b, t, 10),
        has_body=torch.ones(b, t, dtype=torch.bool),
    )
    w = LossWeights()
    out = generator_losses(pred, targets, w, d_fake=torch.zeros(b, 1), mposer_prior=torch.tensor(2.0))
    assert float(out["kp_2d"]) == pytest.approx(300 * 0.5)
    assert float(out["kp_3d"]) == pytest.approx(300 * 1.96 / (14 * 3))
    assert float(out["pose"]) == 0.0
    assert float(out["shape"]) == pytest.approx(0.06)
    assert float(out["adversarial"]) == pytest.approx(0.5)
    assert float(out["mposer"]) == pytest.approx(1.0)
    parts = sum(float(v) for k, v in out.items() if k != "total")
    assert float(out["total"]) == pytest.approx(parts)
    # Only what the targets provide is computed.
    assert set(generator_losses(pred, GeneratorTargets(kp_2d=kp_2d), w)) == {"kp_2d", "total"}
