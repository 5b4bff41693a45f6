"""Bodies, keypoints and crop cameras seen in the x = 0 mirror (a horizontally flipped image).

A mirror swaps left and right, so every array is permuted by
:func:`~vibe.body.joint_sets.flip_permutation` of its names and its x changes
sign; a local rotation ``R`` becomes ``M R M`` with ``M = diag(−1, 1, 1)``.
Exact for a skeleton whose rest pose is symmetric about x = 0 with
world-aligned rest axes (Anny ``cmu_mb``: bone heads mirror to within 1.5 mm).

Training mirrors its motion with these (a model that has seen both sides);
the demo can average the model's answer on a track and on its mirror image
(``DemoConfig.flip_average``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vibe.body.joint_sets import flip_permutation
from vibe.geometry.rotations import chordal_mean

__all__ = ["mirror_rotations", "mirror_rotations_torch", "mirror_points", "mirror_crop_cam", "average_with_mirror"]


def mirror_rotations(rotmat: np.ndarray, joint_names: Sequence[str]) -> np.ndarray:
    """Local rotations ``(..., J, 3, 3)`` seen in the x = 0 mirror: sides swapped, ``R → M R M`` (float32)."""
    return mirror_rotations_torch(torch.from_numpy(np.asarray(rotmat, np.float32)), joint_names).numpy()


def mirror_rotations_torch(rotmat: torch.Tensor, joint_names: Sequence[str]) -> torch.Tensor:
    """:func:`mirror_rotations` on a tensor ``(..., J, 3, 3)``, keeping its dtype and device."""
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=rotmat.dtype, device=rotmat.device))
    return mirror @ rotmat[..., flip_permutation(joint_names), :, :] @ mirror


def mirror_points(points: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Points ``(..., K, C)`` centred on the mirror (x first; box-square or metric, hip-centred)
    seen in it: sides swapped, x negated, the other channels (y, z, visibility) kept."""
    out = points[..., flip_permutation(names), :].clone()
    out[..., 0] = -out[..., 0]
    return out


def mirror_crop_cam(cam: torch.Tensor) -> torch.Tensor:
    """Weak-perspective crop cameras ``(..., 3)`` = ``(s, tx, ty)`` of the mirrored crop: ``tx`` negated."""
    return cam * torch.tensor([1.0, -1.0, 1.0], dtype=cam.dtype, device=cam.device)


def average_with_mirror(
    answer: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    mirror_answer: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    joint_names: Sequence[str],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A generator's ``(pose_rotmat (n, J, 3, 3), shape (n, S), cam (n, 3))`` on a track averaged with its answer
    on the track's mirror image, mirrored back: rotations by their chordal mean, shape and camera arithmetically."""
    (pose, shape, cam), (pose_m, shape_m, cam_m) = answer, mirror_answer
    pose_back = mirror_rotations_torch(pose_m, joint_names)
    return chordal_mean(torch.stack([pose, pose_back])), (shape + shape_m) / 2, (cam + mirror_crop_cam(cam_m)) / 2
