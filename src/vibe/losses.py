"""Training losses of VIBE (paper eq. 2-3, 6-7) with the released code's weights and reductions.

- 2D keypoints: ``mean(conf · (pred − gt)²)`` over samples, keypoints and x/y,
  ``conf`` being the third channel of the ground truth.
- 3D keypoints: MSE on the 14 evaluation joints (``25:39`` of ``spin49``),
  both sets centred on the mid-hip (mean of local joints 2 and 3), only for
  samples with 3D ground truth.
- body parameters: MSE on rotation matrices and on the shape vector, only for
  samples with body-model ground truth.
- adversarial, least squares (LSGAN): generator ``mean((D(fake) − 1)²)``,
  discriminator ``mean((D(real) − 1)²) + mean(D(fake)²)``.
- MPoser: VAE reconstruction + KL for training it, and its prior penalty.

Weights (:class:`LossWeights`) are the released config's. The paper's text
gives the adversarial weight as 2; the released configs use 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

__all__ = [
    "LossWeights",
    "JointSubset",
    "joint_subset",
    "keypoint_2d_loss",
    "keypoint_3d_loss",
    "body_param_losses",
    "generator_adversarial_loss",
    "discriminator_loss",
    "kl_divergence",
    "mposer_vae_loss",
    "GeneratorTargets",
    "generator_losses",
]


@dataclass
class LossWeights:
    """Weights of the generator's loss terms (released ``config_wo_3dpw.yaml``).

    ``mposer`` weighs the MPoser prior when it replaces D_M; the paper does not
    publish it, 0.5 puts it on the adversarial term's scale.
    """

    kp_2d: float = 300.0
    kp_3d: float = 300.0
    pose: float = 60.0
    shape: float = 0.06
    adversarial: float = 0.5
    mposer: float = 0.5


@dataclass(frozen=True)
class JointSubset:
    """The joints the 3D loss uses: ``start:stop`` of a keypoint set, centred on the mean of
    the local joints ``left_hip``/``right_hip`` (indices inside the subset)."""

    start: int
    stop: int
    left_hip: int
    right_hip: int


# spin49: 25..38 are the 14 LSP/H36M joints (rankle, rknee, rhip, lhip, ...),
# so local 2 and 3 are the right and left hip.
_JOINT_SUBSETS = {"spin49": JointSubset(25, 39, 3, 2), "eval14": JointSubset(0, 14, 3, 2)}


def joint_subset(keypoint_set: str) -> JointSubset:
    """The 3D-loss joints of a known keypoint set (``"spin49"`` → ``25:39``, ``"eval14"`` → ``0:14``; hips local 2, 3)."""
    try:
        return _JOINT_SUBSETS[keypoint_set]
    except KeyError:
        raise KeyError(f"no 3D-loss joint subset for {keypoint_set!r}; pass a JointSubset") from None


def _zero_like(x: torch.Tensor) -> torch.Tensor:
    # Keeps the graph (and device/dtype) when there is nothing to supervise.
    return x.sum() * 0.0


def keypoint_2d_loss(pred_kp2d: torch.Tensor, gt_kp2d: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted 2D keypoint MSE (scalar).

    Args:
        pred_kp2d: ``(..., K, 2)`` predicted crop coordinates in ``[-1, 1]``.
        gt_kp2d: ``(..., K, 3)`` ground truth ``(x, y, confidence)``.
    """
    conf = gt_kp2d[..., 2:3]
    return (conf * (pred_kp2d - gt_kp2d[..., :2]).square()).mean()


def keypoint_3d_loss(
    pred_kp3d: torch.Tensor,
    gt_kp3d: torch.Tensor,
    has_3d: torch.Tensor | None = None,
    subset: JointSubset = _JOINT_SUBSETS["spin49"],
) -> torch.Tensor:
    """Mid-hip-centred 3D keypoint MSE over the samples that have 3D ground truth (scalar).

    Args:
        pred_kp3d: ``(N, K, 3)`` predicted keypoints (any leading dims are flattened).
        gt_kp3d: ``(N, K, 3)`` ground truth (a 4th confidence channel is ignored).
        has_3d: ``(N,)`` bool, which samples have 3D ground truth; ``None`` = all.
        subset: the joints used and their hips.
    """
    k = pred_kp3d.shape[-2]
    pred = pred_kp3d.reshape(-1, k, pred_kp3d.shape[-1])[:, subset.start : subset.stop, :3]
    gt = gt_kp3d.reshape(-1, k, gt_kp3d.shape[-1])[:, subset.start : subset.stop, :3]
    if has_3d is not None:
        mask = has_3d.reshape(-1).bool()
        pred, gt = pred[mask], gt[mask]
    if pred.shape[0] == 0:
        return _zero_like(pred_kp3d)
    hips = [subset.left_hip, subset.right_hip]
    pred = pred - pred[:, hips].mean(dim=1, keepdim=True)
    gt = gt - gt[:, hips].mean(dim=1, keepdim=True)
    return (pred - gt).square().mean()


def body_param_losses(
    pred_rotmat: torch.Tensor,
    gt_rotmat: torch.Tensor,
    pred_shape: torch.Tensor,
    gt_shape: torch.Tensor,
    has_body: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE on rotation matrices and on shape vectors for samples with body ground truth.

    Args:
        pred_rotmat, gt_rotmat: ``(N, J, 3, 3)`` local joint rotations (leading dims flattened).
        pred_shape, gt_shape: ``(N, S)``.
        has_body: ``(N,)`` bool; ``None`` = all.

    Returns:
        ``(pose_loss, shape_loss)``, scalars.
    """
    j, s = pred_rotmat.shape[-3], pred_shape.shape[-1]
    pred_rotmat, gt_rotmat = pred_rotmat.reshape(-1, j, 3, 3), gt_rotmat.reshape(-1, j, 3, 3)
    pred_shape, gt_shape = pred_shape.reshape(-1, s), gt_shape.reshape(-1, s)
    if has_body is not None:
        mask = has_body.reshape(-1).bool()
        pred_rotmat, gt_rotmat, pred_shape, gt_shape = pred_rotmat[mask], gt_rotmat[mask], pred_shape[mask], gt_shape[mask]
    if pred_rotmat.shape[0] == 0:
        return _zero_like(pred_rotmat), _zero_like(pred_shape)
    return (pred_rotmat - gt_rotmat).square().mean(), (pred_shape - gt_shape).square().mean()


def generator_adversarial_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN generator term ``mean((D(fake) − 1)²)`` for scores ``(B, 1)``; scalar."""
    return (d_fake - 1.0).square().mean()


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LSGAN discriminator terms for scores ``(B, 1)``.

    Returns:
        ``(real_term, fake_term, total)`` with ``real_term = mean((D(real) − 1)²)``,
        ``fake_term = mean(D(fake)²)``, ``total`` their sum.
    """
    real_term = (d_real - 1.0).square().mean()
    fake_term = d_fake.square().mean()
    return real_term, fake_term, real_term + fake_term


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) ‖ N(0, I)) summed over the latent ``(..., Z)``, averaged over the rest; scalar."""
    return (0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)).sum(-1).mean()


def mposer_vae_loss(
    recon_rotmat: torch.Tensor,
    target_rotmat: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    kl_weight: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MPoser training loss.

    Args:
        recon_rotmat, target_rotmat: ``(B, T, J', 3, 3)``.
        mu, logvar: ``(B, T, Z)`` posterior parameters.
        kl_weight: weight of the KL term (small, so the VAE does not collapse
            to the prior before it learns to reconstruct).

    Returns:
        ``(reconstruction, kl, total)``, scalars; reconstruction is the MSE of
        rotation matrices.
    """
    reconstruction = (recon_rotmat - target_rotmat).square().mean()
    kl = kl_divergence(mu, logvar)
    return reconstruction, kl, reconstruction + kl_weight * kl


class _GeneratorPrediction(Protocol):
    joints2d: torch.Tensor
    joints3d: torch.Tensor
    pose_rotmat: torch.Tensor
    shape: torch.Tensor


@dataclass
class GeneratorTargets:
    """Ground truth for ``B`` windows of ``T`` frames; ``None`` where a dataset has none.

    Attributes:
        kp_2d: ``(B, T, K, 3)`` crop-normalised 2D keypoints and confidence.
        kp_3d: ``(B, T, K3, 3)`` 3D keypoints (metres) of the 3D-loss keypoint set.
        has_3d: ``(B, T)`` bool, frames whose ``kp_3d`` is valid.
        pose_rotmat: ``(B, T, J, 3, 3)`` body-model rotations.
        shape: ``(B, T, S)`` body-model shape.
        has_body: ``(B, T)`` bool, frames whose pose/shape are valid.
    """

    kp_2d: torch.Tensor
    kp_3d: torch.Tensor | None = None
    has_3d: torch.Tensor | None = None
    pose_rotmat: torch.Tensor | None = None
    shape: torch.Tensor | None = None
    has_body: torch.Tensor | None = None


def generator_losses(
    pred: _GeneratorPrediction,
    targets: GeneratorTargets,
    weights: LossWeights,
    subset: JointSubset = _JOINT_SUBSETS["spin49"],
    pred_kp3d: torch.Tensor | None = None,
    d_fake: torch.Tensor | None = None,
    mposer_prior: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The generator's weighted loss terms (paper eq. 2) and their sum.

    Args:
        pred: the generator output (:class:`~vibe.models.vibe.VIBEOutput`):
            ``joints2d (B, T, K, 2)``, ``joints3d``, ``pose_rotmat``, ``shape``.
        targets: the ground truth.
        weights: the term weights.
        subset: joints of the 3D loss inside the 3D keypoint set.
        pred_kp3d: ``(B, T, K3, 3)`` predicted keypoints of the 3D-loss set
            when it differs from ``pred.joints3d`` (e.g. an ``extra_joints3d`` entry).
        d_fake: ``(B, 1)`` D_M scores of the predicted motion (adversarial term).
        mposer_prior: scalar MPoser prior penalty of the predicted motion.

    Returns:
        ``{"kp_2d", ["kp_3d"], ["pose", "shape"], ["adversarial"], ["mposer"], "total"}``,
        each already multiplied by its weight.
    """
    losses = {"kp_2d": weights.kp_2d * keypoint_2d_loss(pred.joints2d, targets.kp_2d)}
    if targets.kp_3d is not None:
        kp3d = pred.joints3d if pred_kp3d is None else pred_kp3d
        losses["kp_3d"] = weights.kp_3d * keypoint_3d_loss(kp3d, targets.kp_3d, targets.has_3d, subset)
    if targets.pose_rotmat is not None and targets.shape is not None:
        pose, shape = body_param_losses(
            pred.pose_rotmat, targets.pose_rotmat, pred.shape, targets.shape, targets.has_body
        )
        losses["pose"] = weights.pose * pose
        losses["shape"] = weights.shape * shape
    if d_fake is not None:
        losses["adversarial"] = weights.adversarial * generator_adversarial_loss(d_fake)
    if mposer_prior is not None:
        losses["mposer"] = weights.mposer * mposer_prior
    losses["total"] = torch.stack(list(losses.values())).sum()
    return losses
