"""Similarity Procrustes alignment (Umeyama), batched, as used by PA-MPJPE."""

from __future__ import annotations

import roma
import torch

__all__ = ["similarity_procrustes"]


def similarity_procrustes(
    source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best similarity transform of ``source`` onto ``target`` (least squares).

    Minimises ``Σ_i w_i ‖s·R·x_i + t − y_i‖²`` over scale ``s > 0``, proper
    rotation ``R`` (det +1: a mirrored source is *not* reflected back) and
    translation ``t`` (Umeyama 1991, via ``roma.rigid_points_registration``).

    Args:
        source: ``(B, N, 3)`` points ``x`` (e.g. predicted joints).
        target: ``(B, N, 3)`` points ``y`` (e.g. ground truth).
        weights: optional ``(B, N)`` non-negative weights (a 0/1 visibility mask
            works); each row needs a positive sum. ``None`` = uniform.

    Returns:
        ``aligned`` ``(B, N, 3)`` = ``s·R·x + t``, ``scale`` ``(B,)``,
        ``rotation`` ``(B, 3, 3)``, ``translation`` ``(B, 3)``.
    """
    if weights is not None:
        weights = weights.to(source.dtype)
    rotation, translation, scale = roma.rigid_points_registration(
        source, target, weights=weights, compute_scaling=True
    )
    aligned = scale[..., None, None] * torch.einsum("...ij,...nj->...ni", rotation, source)
    aligned = aligned + translation[..., None, :]
    return aligned, scale, rotation, translation
