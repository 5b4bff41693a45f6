"""Evaluation metrics of the paper, computed as the original release does.

Inputs are in metres, errors come out in millimetres; PCK/AUC in percent.
Per-frame functions take joints ``(..., J, 3)`` or vertices ``(..., V, 3)``
and return one value per frame ``(...,)`` (acceleration metrics:
``(..., T-2)`` per interior frame of a ``(..., T, J, 3)`` sequence).
:func:`masked_mean` and :func:`summarize` reduce them, excluding invalid
frames given by a boolean ``mask`` (True = valid).

Definitions (the original's, for the 14 evaluation joints):

- MPJPE: mean joint distance after centring both skeletons on their own
  mid-hip, the mean of joints ``pelvis_idx = (2, 3)`` (right and left hip).
- PA-MPJPE: mean joint distance after similarity Procrustes of the
  prediction onto the ground truth, per frame.
- PVE: mean vertex distance with **no** alignment. The original compares
  meshes posed without global translation ("root-free" SMPL output: pose and
  shape only, the root joint then lies near the origin for both); callers
  must pass meshes built the same way.
- ACCEL: mean over joints of ``‖X[t−1] − 2X[t] + X[t+1]‖`` of the prediction,
  per interior frame; ACCEL_ERR the same for ``pred − target``. The original
  evaluates them on the mid-hip-centred joints (:func:`summarize` does).
- PCK / AUC (MPI-INF-3DHP): percentage of joints within 150 mm after
  mid-hip centring; AUC averages PCK over thresholds 0, 5, …, 150 mm.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vibe.geometry.procrustes import similarity_procrustes

__all__ = [
    "M_TO_MM",
    "PELVIS_IDX",
    "AUC_THRESHOLDS_MM",
    "center_on_pelvis",
    "mpjpe",
    "pa_mpjpe",
    "pve",
    "accel",
    "accel_error",
    "accel_valid_mask",
    "pck",
    "auc",
    "masked_mean",
    "summarize",
]

M_TO_MM = 1000.0
PELVIS_IDX = (2, 3)  # right hip, left hip in the 14-joint evaluation set
AUC_THRESHOLDS_MM = tuple(float(t) for t in range(0, 151, 5))  # 31 steps


def center_on_pelvis(joints: torch.Tensor, pelvis_idx: Sequence[int] | None = PELVIS_IDX) -> torch.Tensor:
    """Subtract the mean of joints ``pelvis_idx`` from joints ``(..., J, 3)``; ``None`` = unchanged."""
    if pelvis_idx is None:
        return joints
    pelvis = joints[..., list(pelvis_idx), :].mean(dim=-2, keepdim=True)
    return joints - pelvis


def _mean_distance_mm(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance over the point axis: ``(..., N, 3)`` × 2 → ``(...,)`` mm."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean(dim=-1) * M_TO_MM


def mpjpe(
    pred: torch.Tensor, target: torch.Tensor, pelvis_idx: Sequence[int] | None = PELVIS_IDX
) -> torch.Tensor:
    """Mean per-joint position error ``(...,)`` mm of joints ``(..., J, 3)`` m.

    Both skeletons are first centred on their own mean of joints
    ``pelvis_idx`` (the original's mid-hip ``(2, 3)`` of the 14 joints);
    ``pelvis_idx=None`` compares them as given.
    """
    return _mean_distance_mm(center_on_pelvis(pred, pelvis_idx), center_on_pelvis(target, pelvis_idx))


def pa_mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Procrustes-aligned MPJPE ``(...,)`` mm of joints ``(..., J, 3)`` m.

    The prediction is aligned onto the target by a similarity transform
    (scale, rotation, translation) per frame, then compared.
    """
    batch_shape = pred.shape[:-2]
    pred_flat = pred.reshape(-1, *pred.shape[-2:])
    target_flat = target.reshape(-1, *target.shape[-2:])
    aligned = similarity_procrustes(pred_flat, target_flat)[0]
    return _mean_distance_mm(aligned, target_flat).reshape(batch_shape)


def pve(pred_verts: torch.Tensor, target_verts: torch.Tensor) -> torch.Tensor:
    """Per-vertex error ``(...,)`` mm of meshes ``(..., V, 3)`` m, without any alignment.

    As the original: pass meshes posed without global translation (see the
    module docstring); this function does not centre them.
    """
    return _mean_distance_mm(pred_verts, target_verts)


def _second_difference(x: torch.Tensor) -> torch.Tensor:
    """``X[t−1] − 2X[t] + X[t+1]`` along time: ``(..., T, J, 3)`` → ``(..., T−2, J, 3)``."""
    return x[..., :-2, :, :] - 2.0 * x[..., 1:-1, :, :] + x[..., 2:, :, :]


def accel(pred: torch.Tensor) -> torch.Tensor:
    """Acceleration ``(..., T−2)`` in mm/frame² of joints ``(..., T, J, 3)`` m.

    Mean over joints of the norm of the second difference along time.

    Entry ``t`` belongs to frame ``t + 1`` (the middle of the three frames).
    """
    return torch.linalg.vector_norm(_second_difference(pred), dim=-1).mean(dim=-1) * M_TO_MM


def accel_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Acceleration error ``(..., T−2)`` in mm/frame²: :func:`accel` of ``pred − target``.

    ``pred`` and ``target`` are joint sequences ``(..., T, J, 3)`` in metres.
    """
    return accel(pred - target)


def accel_valid_mask(mask: torch.Tensor) -> torch.Tensor:
    """Frame validity ``(..., T)`` bool → validity ``(..., T−2)`` of the second differences.

    A second difference is valid only when its three frames all are.
    """
    mask = mask.bool()
    return mask[..., :-2] & mask[..., 1:-1] & mask[..., 2:]


def pck(
    pred: torch.Tensor,
    target: torch.Tensor,
    threshold_mm: float = 150.0,
    pelvis_idx: Sequence[int] | None = PELVIS_IDX,
) -> torch.Tensor:
    """Percentage ``(...,)`` of joints ``(..., J, 3)`` within ``threshold_mm`` of the target.

    Both skeletons are centred on their own joints ``pelvis_idx`` first.
    """
    dist_mm = torch.linalg.vector_norm(
        center_on_pelvis(pred, pelvis_idx) - center_on_pelvis(target, pelvis_idx), dim=-1
    ) * M_TO_MM
    return (dist_mm <= threshold_mm).to(pred.dtype).mean(dim=-1) * 100.0


def auc(
    pred: torch.Tensor,
    target: torch.Tensor,
    thresholds_mm: Sequence[float] = AUC_THRESHOLDS_MM,
    pelvis_idx: Sequence[int] | None = PELVIS_IDX,
) -> torch.Tensor:
    """Area under the PCK curve ``(...,)`` in percent.

    The mean of :func:`pck` over ``thresholds_mm`` (default 0, 5, ..., 150 mm).
    """
    return torch.stack([pck(pred, target, t, pelvis_idx) for t in thresholds_mm], dim=-1).mean(dim=-1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean of per-frame values ``(...,)`` over frames where ``mask`` (same shape, bool) is True.

    ``mask=None`` averages everything; an all-False mask gives NaN.
    """
    if mask is not None:
        values = values[mask.bool()]
    if values.numel() == 0:
        return float("nan")
    return float(values.mean())


def summarize(
    pred_joints: torch.Tensor,
    target_joints: torch.Tensor,
    pred_verts: torch.Tensor | None = None,
    target_verts: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    pelvis_idx: Sequence[int] | None = PELVIS_IDX,
) -> dict[str, float]:
    """Mean metrics over valid frames of joint sequences ``(..., T, J, 3)`` m.

    Args:
        pred_joints, target_joints: ``(..., T, J, 3)``; the leading axes are
            independent sequences, ``T`` is time (needed for ACCEL).
        pred_verts, target_verts: optional ``(..., T, V, 3)`` for PVE.
        mask: optional bool ``(..., T)``, True for frames to evaluate.
        pelvis_idx: centring joints for MPJPE, ACCEL, PCK and AUC.

    Returns:
        ``{"mpjpe", "pa_mpjpe", "accel", "accel_err", "pck", "auc"}`` (+ ``"pve"``
        when vertices are given): mm, mm/frame² and percent. As the original,
        ACCEL and ACCEL_ERR use the pelvis-centred joints.
    """
    accel_mask = None if mask is None else accel_valid_mask(mask)
    pred_centred = center_on_pelvis(pred_joints, pelvis_idx)
    target_centred = center_on_pelvis(target_joints, pelvis_idx)
    out = {
        "mpjpe": masked_mean(mpjpe(pred_joints, target_joints, pelvis_idx), mask),
        "pa_mpjpe": masked_mean(pa_mpjpe(pred_joints, target_joints), mask),
        "accel": masked_mean(accel(pred_centred), accel_mask),
        "accel_err": masked_mean(accel_error(pred_centred, target_centred), accel_mask),
        "pck": masked_mean(pck(pred_joints, target_joints, pelvis_idx=pelvis_idx), mask),
        "auc": masked_mean(auc(pred_joints, target_joints, pelvis_idx=pelvis_idx), mask),
    }
    if pred_verts is not None and target_verts is not None:
        out["pve"] = masked_mean(pve(pred_verts, target_verts), mask)
    return out
