"""Anny's other rigs for the exports: the same motion on a Mixamo or game-engine skeleton.

Anny ships several skeletons over one mesh (``cmu_mb``, the model's own here,
``mixamo``, ``game_engine``, ...). Every rig skins the same rest mesh, so a
motion moves to another rig by making that rig's skinned mesh follow the
source's: for each target bone ``k`` and frame, its global rotation ``G_k`` is
the rotation that best maps the rest vertices it carries onto the source's
posed vertices, weighted by the target's skinning weights to the 4th power
(weighted Kabsch, ``roma.special_procrustes``; the power makes the vertices
a bone carries alone count most, which halves the error of plain weights);
local rotations follow as ``G_parent(k)ᵀ G_k`` (rest axes are world-aligned
in every rig). The root joint goes where that
best rigid map takes its rest head. A root that carries no vertex (the game
engine's ``Root``, at the floor between the feet) follows the pelvis: its
heading (rotation about the vertical) and its position, so it sits on the
ground while the person stands.

Rig bones are at other places than ``cmu_mb``'s (e.g. three spine bones), so
joint positions differ between rigs by those rest offsets; the skinned
meshes agree to the accuracy measured in the tests.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from vibe.body.anny import Anny
from vibe.export.bvh import shape_row

__all__ = ["rig_body", "retarget_motion"]


def rig_body(rig: str, like: Anny) -> Anny:
    """An Anny body on ``rig`` with ``like``'s other options (``like`` itself when it already is).

    The first construction of a rig builds anny's cache for it (about a minute, once).
    """
    if like.config.rig == rig:
        return like
    return Anny(dataclasses.replace(like.config, rig=rig))


def _yaw(rotmat: torch.Tensor) -> torch.Tensor:
    """``(T, 3, 3)`` rotations about the vertical (y) with the heading of ``rotmat``'s z axis."""
    forward = rotmat[:, :, 2].clone()
    forward[:, 1] = 0.0
    forward = forward / forward.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    angle = torch.atan2(forward[:, 0], forward[:, 2])
    axis = torch.zeros_like(forward)
    axis[:, 1] = angle
    return roma.rotvec_to_rotmat(axis)


@torch.no_grad()
def retarget_motion(
    source: Anny,
    target: Anny,
    pose_rotmat: np.ndarray,
    transl: np.ndarray,
    shape: np.ndarray | None = None,
    chunk: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """A motion on ``source``'s rig as local rotations and translation on ``target``'s (module doc).

    Args:
        pose_rotmat: ``(T, Js, 3, 3)`` source local rotations, root first.
        transl: ``(T, 3)`` body translation (metres, any frame with y up).
        shape: ``(S,)`` the person's shape (``None``: the mean shape).
        chunk: frames posed at a time.

    Returns:
        ``(T, Jt, 3, 3)`` target local rotations and ``(T, 3)`` target translation
        (the target's root joint is at its rest head plus this).
    """
    opts = {"dtype": torch.float64}
    s = shape_row(source, shape)
    rest_verts = target(target.rest_pose(1), shape_row(target, shape)).vertices[0].to(**opts)
    heads = target(target.rest_pose(1), shape_row(target, shape)).joints[0].to(**opts)
    weights = target.skinning_weights.to(**opts) ** 4  # (V, Jt); powered: the rigidly carried vertices count most
    mass = weights.sum(0)
    carried = mass > 1e-9
    centre_rest = (weights.T @ rest_verts) / mass.clamp_min(1e-9)[:, None]  # (Jt, 3)
    weighted_rest = weights[:, :, None] * (rest_verts[:, None] - centre_rest[None])  # (V, Jt, 3)
    parents = target.parents.cpu().numpy()
    poses, transls = [], []
    for lo in range(0, len(pose_rotmat), chunk):
        p = torch.as_tensor(np.asarray(pose_rotmat[lo : lo + chunk]), dtype=source.dtype)
        t = torch.as_tensor(np.asarray(transl[lo : lo + chunk]), dtype=source.dtype)
        posed = source(p, s.expand(len(p), -1), t).vertices.to(**opts)  # (T, V, 3)
        centre = torch.einsum("vk,tvd->tkd", weights, posed) / mass.clamp_min(1e-9)[None, :, None]
        cov = torch.einsum("vki,tvj->tkji", weighted_rest, posed)  # Σ w (y)(x − c)ᵀ
        glob = roma.special_procrustes(cov)  # (T, Jt, 3, 3)
        root_head = centre[:, 0] + (glob[:, 0] @ (heads[0] - centre_rest[0])[:, None])[..., 0]
        if not carried[0]:  # a root without vertices follows the pelvis (heading and position)
            child = int(np.flatnonzero(parents == 0)[0])
            glob[:, 0] = _yaw(glob[:, child])
            child_head = centre[:, child] + (glob[:, child] @ (heads[child] - centre_rest[child])[:, None])[..., 0]
            root_head = child_head - (glob[:, 0] @ (heads[child] - heads[0])[:, None])[..., 0]
        for k in np.flatnonzero(~carried.cpu().numpy()):
            if k:  # bones carrying nothing follow their parent (parents come first in anny's rigs)
                glob[:, k] = glob[:, parents[k]]
        local = glob.clone()
        local[:, 1:] = glob[:, parents[1:]].transpose(-1, -2) @ glob[:, 1:]
        poses.append(local.numpy())
        transls.append((root_head - heads[0]).numpy())
    return np.concatenate(poses), np.concatenate(transls)
