"""Bone-for-bone transfer of a mocap clip onto a target skeleton, and its inverse.

With the rest offsets ``O_j`` of :func:`~vibe.data.retarget.rest.rest_alignment`,
the posed target global rotation of bone ``j`` (source bone ``s(j)``) is

    G_t[j] = G_s[s(j)] @ O_j,   locals  L_t[j] = G_t[parent(j)]ᵀ @ G_t[j],

so every posed target bone points where its source bone points, whatever the
bone lengths; :func:`unretarget_rotations` recovers the source globals with
``G_s = G_t @ O_jᵀ``.

Root translation: the target root joint follows ``k ×`` the source root
joint, with ``k`` the ratio of standing *leg heights* (`leg_height`: root
joint down to the ball of the foot, thigh and shank counted straight, so the
CMU rest pose's splayed legs do not shorten them) target / source.
Scaling the whole source world about its origin keeps the source floor
(y = 0) at y = 0 and strides in proportion to the legs, so feet neither slide
nor float more than the two skeletons' ankle/toe heights differ.
``root_transl`` is the body model's ``transl`` argument: the root joint is at
``rest_heads[0] + root_transl``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vibe.data.mocap.skeleton import Motion, Skeleton, forward_kinematics
from vibe.data.retarget.config import RetargetConfig
from vibe.data.retarget.rest import TargetSkeleton, rest_alignment

__all__ = ["leg_height", "RetargetedMotion", "retarget_motion", "unretarget_rotations"]


def leg_height(
    parents: np.ndarray, rest_joints: np.ndarray, names: list[str], leg_bones: tuple[str, ...]
) -> float:
    """Standing height of the root joint above the lowest joint (the ball of a foot).

    Walks from the lowest rest joint up to the root; the bone from joint
    ``p`` to its child ``c`` counts its full length when ``p`` is named in ``leg_bones``
    (thigh, shank: straight and vertical when standing, whatever the rest
    pose's leg splay), else only its vertical extent (pelvis and foot bones
    keep their rest layout when standing).

    Args:
        parents: ``(J,)`` parent indices.
        rest_joints: ``(J, 3)`` rest joint positions (y up).
        names: ``J`` joint names.
        leg_bones: names of the leg bones (their head joint).

    Returns:
        Height in metres.
    """
    joint = int(np.argmin(rest_joints[:, 1]))
    height = 0.0
    while parents[joint] >= 0:
        parent = int(parents[joint])
        bone = rest_joints[joint] - rest_joints[parent]
        height += float(np.linalg.norm(bone)) if names[parent] in leg_bones else float(-bone[1])
        joint = parent
    return height


def _source_rest_joints(source: Skeleton) -> np.ndarray:
    """``(J, 3)`` rest joint positions of ``source`` with the root at its offset."""
    eye = np.broadcast_to(np.eye(3), (source.num_joints, 3, 3))
    return forward_kinematics(source, eye, np.zeros(3))[0]


@dataclass
class RetargetedMotion:
    """A clip on the target skeleton.

    Attributes:
        local_rotmat: ``(T, J, 3, 3)`` local rotations, target convention.
        root_transl: ``(T, 3)`` body-model ``transl`` (root joint at
            ``rest_heads[0] + root_transl``), metres.
        scale: ``k``, target / source `leg_height`.
        fps: frames per second.
        name: clip name.
    """

    local_rotmat: np.ndarray
    root_transl: np.ndarray
    scale: float
    fps: float
    name: str = ""


def retarget_motion(
    motion: Motion, target: TargetSkeleton, config: RetargetConfig | None = None
) -> RetargetedMotion:
    """Bone-for-bone transfer of ``motion`` onto ``target`` (module docstring).

    Args:
        motion: source clip, ``T`` frames, names corresponding to ``target``'s.
        target: target rest skeleton (e.g. ``target_skeleton(anny)``).
        config: correspondence settings.

    Returns:
        ``(T, J_t, 3, 3)`` locals and ``(T, 3)`` root translation.
    """
    align = rest_alignment(motion.skeleton, target, config)
    source_joints, source_glob = forward_kinematics(motion.skeleton, motion.local_rotmat, motion.root_transl)
    glob = source_glob[:, align.source_index] @ align.offset_rotmat
    local = _globals_to_locals(glob, target.parents)

    config = config or RetargetConfig()
    source_legs = tuple(config.name_map.get(n, n) for n in config.leg_bones)
    scale = leg_height(target.parents, target.rest_heads, target.joint_names, config.leg_bones) / leg_height(
        motion.skeleton.parents, _source_rest_joints(motion.skeleton), motion.skeleton.joint_names, source_legs
    )
    root_joint = scale * source_joints[:, align.source_index[0]]
    root_transl = root_joint - target.rest_heads[0]
    return RetargetedMotion(local, root_transl, scale, motion.fps, motion.name)


def unretarget_rotations(
    local_rotmat: np.ndarray, target: TargetSkeleton, source: Skeleton, config: RetargetConfig | None = None
) -> np.ndarray:
    """Inverse of the rotation transfer: target locals → source locals.

    Source joints without a target counterpart (none for CMU ↔ Anny) keep
    the identity local rotation.

    Args:
        local_rotmat: ``(T, J_t, 3, 3)`` target locals.
        target, source, config: as for `retarget_motion`.

    Returns:
        ``(T, J_s, 3, 3)`` source locals.
    """
    align = rest_alignment(source, target, config)
    glob_t = _locals_to_globals(local_rotmat, target.parents)
    glob_s = np.broadcast_to(np.eye(3), local_rotmat.shape[:1] + (source.num_joints, 3, 3)).copy()
    covered = np.zeros(source.num_joints, dtype=bool)
    glob_s[:, align.source_index] = glob_t @ np.swapaxes(align.offset_rotmat, -1, -2)
    covered[align.source_index] = True
    for j in range(source.num_joints):  # uncovered joints move rigidly with their parent
        if not covered[j] and source.parents[j] >= 0:
            glob_s[:, j] = glob_s[:, source.parents[j]]
    return _globals_to_locals(glob_s, source.parents)


def _globals_to_locals(glob: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``(..., J, 3, 3)`` globals → locals ``L_j = G_pᵀ G_j`` (root: ``L_0 = G_0``)."""
    local = glob.copy()
    has_parent = parents >= 0
    p = parents[has_parent]
    local[..., has_parent, :, :] = np.swapaxes(glob[..., p, :, :], -1, -2) @ glob[..., has_parent, :, :]
    return local


def _locals_to_globals(local: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``(..., J, 3, 3)`` locals → globals (parents listed before children)."""
    glob = local.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            glob[..., j, :, :] = glob[..., p, :, :] @ local[..., j, :, :]
    return glob
