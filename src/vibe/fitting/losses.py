"""Energy terms of (temporal) SMPLify, each a function of batched tensors.

Every term returns one value per window ``(B,)`` so that batched fits can
report and weight windows independently. Reprojection residuals are measured
in pixels of the network crop (``crop_size`` px, as SPIN/VIBE), which keeps
SMPLify's weights and Geman–McClure sigma meaningful.
"""

from __future__ import annotations

import roma
import torch

__all__ = [
    "geman_mcclure",
    "reprojection_energy",
    "mean_reprojection_error",
    "hinge_bend_energy",
    "temporal_smoothness",
    "rotation_smoothness",
    "aligned_world_energy",
]


def geman_mcclure(residual_sq: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman–McClure robustifier of squared residuals (any shape): ``σ² r² / (σ² + r²)``.

    Quadratic for ``r ≪ σ``, saturating at ``σ²`` for outliers, so a wrong
    detection cannot pull the fit arbitrarily far.
    """
    sigma_sq = sigma * sigma
    return sigma_sq * residual_sq / (sigma_sq + residual_sq)


def reprojection_energy(
    points_crop: torch.Tensor, keypoints_crop: torch.Tensor, sigma_px: float, crop_size: float = 224.0
) -> torch.Tensor:
    """Robust, confidence-weighted reprojection energy per window.

    Args:
        points_crop: ``(B, T, K, 2)`` projected model keypoints, crop ``[-1, 1]`` coordinates.
        keypoints_crop: ``(B, T, K, 3)`` observed ``x, y`` (crop ``[-1, 1]``) and confidence.
        sigma_px: Geman–McClure scale in crop pixels.
        crop_size: crop side in pixels (converts ``[-1, 1]`` units to pixels).

    Returns:
        ``(B,)`` sum over frames and keypoints of ``conf² · ρ(|x − x̂|²)``, pixels².
        Zero-confidence keypoints (also NaN coordinates) contribute nothing, not even gradients.
    """
    conf = keypoints_crop[..., 2]
    valid = conf > 0
    target = torch.where(valid[..., None], keypoints_crop[..., :2], points_crop.detach())
    half = crop_size / 2.0
    residual_sq = ((points_crop - target) * half).square().sum(-1)
    energy = torch.where(valid, conf.square() * geman_mcclure(residual_sq, sigma_px), torch.zeros_like(conf))
    return energy.sum(dim=(1, 2))


def mean_reprojection_error(points_crop: torch.Tensor, keypoints_crop: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted mean 2D distance per window, crop ``[-1, 1]`` units.

    Args:
        points_crop: ``(B, T, K, 2)`` projected model keypoints.
        keypoints_crop: ``(B, T, K, 3)`` observations with confidence.

    Returns:
        ``(B,)`` ``Σ conf·|x − x̂| / Σ conf`` (NaN for a window without any confident keypoint).
        Multiply by ``crop_size / 2`` for crop pixels.
    """
    conf = keypoints_crop[..., 2].clamp(min=0)
    valid = conf > 0
    target = torch.where(valid[..., None], keypoints_crop[..., :2], points_crop)
    dist = (points_crop - target).norm(dim=-1)
    dist = torch.where(valid, dist, torch.zeros_like(dist))
    return (conf * dist).sum(dim=(1, 2)) / conf.sum(dim=(1, 2))


def hinge_bend_energy(
    pose_rotmat: torch.Tensor, joint_index: torch.Tensor, bend_axis: torch.Tensor, min_angle: torch.Tensor
) -> torch.Tensor:
    """Penalty for hinge joints (knees, elbows) bending the wrong way, per window.

    For a local rotation ``R`` (about unit axis ``u`` by angle ``θ``),
    ``vee((R − Rᵀ)/2) = sin θ · u``; its component along the joint's allowed
    bend axis ``a`` is ``sin θ_a``, negative when the joint bends backwards.
    The energy is ``Σ relu(sin θ_min − sin θ_a)²``: zero for any allowed bend
    (``θ_a ≥ θ_min``, within ±90°).

    Args:
        pose_rotmat: ``(B, T, J, 3, 3)`` local joint rotations.
        joint_index: ``(L,)`` long, the limited joints.
        bend_axis: ``(L, 3)`` unit axes in each joint's local frame; a positive
            rotation about them is the natural bend.
        min_angle: ``(L,)`` radians, the most each joint may rotate against its bend.

    Returns:
        ``(B,)`` summed over frames and limited joints.
    """
    if joint_index.numel() == 0:
        return pose_rotmat.new_zeros(pose_rotmat.shape[0])
    rot = pose_rotmat[:, :, joint_index]  # (B, T, L, 3, 3)
    skew = 0.5 * (rot - rot.transpose(-1, -2))
    sin_axis = torch.stack((skew[..., 2, 1], skew[..., 0, 2], skew[..., 1, 0]), dim=-1)  # sin θ · u
    sin_bend = (sin_axis * bend_axis.to(sin_axis)).sum(-1)
    return torch.relu(torch.sin(min_angle.to(sin_bend)) - sin_bend).square().sum(dim=(1, 2))


def temporal_smoothness(points: torch.Tensor) -> torch.Tensor:
    """Squared first differences over time, per window.

    Args:
        points: ``(B, T, K, 3)`` 3D points (metres).

    Returns:
        ``(B,)`` ``Σ_t Σ_k |X[t+1] − X[t]|²`` (zero for ``T = 1``).
    """
    return (points[:, 1:] - points[:, :-1]).square().sum(dim=(1, 2, 3))


def rotation_smoothness(pose_rotmat: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius first differences of rotations over time, per window.

    Args:
        pose_rotmat: ``(B, T, J, 3, 3)``.

    Returns:
        ``(B,)`` ``Σ_t Σ_j ‖R[t+1] − R[t]‖²_F`` (= ``Σ 8 sin²(Δθ/2)``).
    """
    return (pose_rotmat[:, 1:] - pose_rotmat[:, :-1]).square().sum(dim=(1, 2, 3, 4))


def aligned_world_energy(
    keypoints3d: torch.Tensor,
    world: torch.Tensor,
    weights: torch.Tensor,
    sigma_m: float,
    centre: list[int],
    plane_weight: float = 1.0,
) -> torch.Tensor:
    """Robust distance of the body's 3D keypoints to 3D landmarks (MediaPipe's world landmarks), per window.

    Both sets are centred on the mean of ``centre`` (the hips) and the
    landmarks are rotated onto the body per frame (weighted Kabsch), so the
    term constrains the articulated pose only: the landmarks' own global
    orientation is off by ~10° per axis, and the 2D term fixes the body's.
    The rotation is held fixed while differentiating, which gives the exact
    gradient at the optimum rotation (envelope theorem).

    Args:
        keypoints3d: ``(B, T, K, 3)`` model keypoints, metres.
        world: ``(B, T, K, 3)`` landmarks, metres (anything where ``weights`` is 0).
        weights: ``(B, T, K)`` non-negative (e.g. landmark visibility).
        sigma_m: Geman–McClure scale, metres.
        centre: keypoint indices whose mean is the origin of both sets.
        plane_weight: weight of the residual's x and y components against its
            z (1: plain distance). With ``keypoints3d`` in camera axes, below 1
            leaves the image plane to the 2D term and lets the landmarks speak
            mostly for depth, which the image cannot give.

    Returns:
        ``(B,)`` sum over frames and keypoints of ``w · ρ(|X − R·W|²)``, m².
    """
    valid = weights > 0
    world = torch.where(valid[..., None], world, torch.zeros_like(world))
    world = world - world[..., centre, :].mean(-2, keepdim=True)
    body = keypoints3d - keypoints3d[..., centre, :].mean(-2, keepdim=True)
    with torch.no_grad():
        # A frame without landmarks gets a tiny uniform weight so that its rotation stays defined.
        w_fit = weights.clamp(min=0.0) + 1e-6
        rotation = roma.rigid_points_registration(world.flatten(0, 1), body.flatten(0, 1), weights=w_fit.flatten(0, 1))[0]
    world_on_body = torch.einsum("nij,nkj->nki", rotation, world.flatten(0, 1)).unflatten(0, world.shape[:2])
    residual = (body - world_on_body).square()
    residual_sq = residual[..., 2] + plane_weight * residual[..., :2].sum(-1)
    return torch.where(valid, weights * geman_mcclure(residual_sq, sigma_m), torch.zeros_like(residual_sq)).sum((1, 2))
