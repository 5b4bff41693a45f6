"""One BVH file per person, on the body model's own skeleton.

The file's skeleton is the body model's: joint names of the rig (Anny
``cmu_mb``: CMU BVH names, so the file drives CMU-rigged characters, e.g. in
Blender; SMPL: ``pelvis``, ``left_hip``, ...), offsets from that person's rest
joints (bone heads) for their shape, metres, y up.

Rest pose: the body model's rest pose, the pose at zero rotations. For Anny
that is its A-pose (upper arms ~48° below horizontal, elbows flexed ~43°), so
a retargeter must be told the file's rest is an A-pose, not a T-pose; SMPL's
rest is its T-pose. ``rest_pose_rotmat`` can make any other pose the file's
rest, e.g. :func:`t_pose_rotmat` (arms straight out along x): the motion is
re-expressed so the posed joints stay the same.

Body-model local rotations are in world-aligned rest axes (the BVH convention
with an identity rest), so they are written as they are, as Euler angles
(intrinsic ``ZXY`` by default). The root channel holds the root joint's world
position per frame: its rest position plus the body translation, metres.

Bodies estimated from video are in camera axes (y down, facing -z); turn them
upright with :func:`camera_to_y_up` first, or take the world stage's motion
(ground at y = 0) with :func:`world_motion`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import roma
import torch

from vibe.body.base import BodyModel
from vibe.data.mocap.bvh import write_bvh
from vibe.data.mocap.skeleton import Motion, Skeleton, forward_kinematics

__all__ = [
    "body_skeleton",
    "body_motion",
    "camera_to_y_up",
    "world_motion",
    "export_bvh",
    "rest_joints",
    "shape_row",
    "t_pose_rotmat",
]

# A half turn about x: camera axes (y down, z forward) ↔ body-model world axes (y up).
HALF_TURN_X = np.diag([1.0, -1.0, -1.0])


def shape_row(body: BodyModel, shape: torch.Tensor | np.ndarray | None) -> torch.Tensor:
    """``(1, S)`` shape tensor in the body's dtype (``None`` → mean shape)."""
    if shape is None:
        return body.mean_shape(1)
    return torch.as_tensor(np.asarray(shape), dtype=body.dtype, device=body.device).reshape(1, -1)


@torch.no_grad()
def rest_joints(body: BodyModel, shape: torch.Tensor | np.ndarray | None = None) -> np.ndarray:
    """``(J, 3)`` float64 rest-pose joint positions (bone heads) of a body of ``shape`` ``(S,)``."""
    out = body(body.rest_pose(1), shape_row(body, shape))
    return out.joints[0].double().cpu().numpy()


@torch.no_grad()
def body_skeleton(body: BodyModel, shape: torch.Tensor | np.ndarray | None = None) -> Skeleton:
    """The body model's skeleton for one person: names, parents, rest offsets ``(J, 3)`` metres.

    ``offsets[0]`` is zero (the root position goes into the motion's root
    translation). Leaf bones get an ``End Site`` at their rest tail when the
    model knows it (Anny's ``rest_bone_ends``), else none.
    """
    heads = rest_joints(body, shape)
    parents = body.parents.cpu().numpy()
    offsets = np.zeros_like(heads)
    offsets[1:] = heads[1:] - heads[parents[1:]]
    end_sites = {}
    if hasattr(body, "rest_bone_ends"):
        _, tails = body.rest_bone_ends(shape_row(body, shape))
        tails = tails[0].double().cpu().numpy()
        leaves = sorted(set(range(len(parents))) - set(parents[1:].tolist()))
        end_sites = {j: tails[j] - heads[j] for j in leaves}
    return Skeleton(joint_names=body.joint_names, parents=parents, offsets=offsets, end_sites=end_sites)


def body_motion(
    body: BodyModel,
    pose_rotmat: np.ndarray | torch.Tensor,
    transl: np.ndarray | torch.Tensor,
    fps: float,
    shape: torch.Tensor | np.ndarray | None = None,
    rest_pose_rotmat: np.ndarray | None = None,
    name: str = "",
) -> Motion:
    """A person's body-model motion as a mocap `Motion` on the model's skeleton.

    Args:
        body: the body model.
        pose_rotmat: ``(T, J, 3, 3)`` body-model local rotations, root first.
        transl: ``(T, 3)`` body translation, metres.
        fps: frames per second of the video.
        shape: ``(S,)`` the person's shape; ``None`` → the mean shape.
        rest_pose_rotmat: ``(J, 3, 3)`` local rotations of the pose the file should
            use as its rest (e.g. a T-pose); ``None`` → the model's rest pose.
        name: clip name.

    Returns:
        Motion whose forward kinematics gives the body model's joints.
    """
    skeleton = body_skeleton(body, shape)
    local = np.asarray(torch.as_tensor(pose_rotmat).detach().cpu().double())
    root = np.asarray(torch.as_tensor(transl).detach().cpu().double()) + rest_joints(body, shape)[0]
    if rest_pose_rotmat is not None:
        skeleton, local = _rebase_rest(skeleton, local, np.asarray(rest_pose_rotmat, dtype=np.float64))
    return Motion(skeleton, local, root, fps=float(fps), name=name, meta={"body_model": body.name})


def _rebase_rest(skeleton: Skeleton, local: np.ndarray, rest_local: np.ndarray) -> tuple[Skeleton, np.ndarray]:
    """Make the pose ``rest_local`` ``(J, 3, 3)`` the rest: new offsets and local rotations ``(T, J, 3, 3)``.

    With ``Q_j`` the global rotations of that pose, a bone's new rest vectors
    are ``Q_j`` times the old ones, so the globals become ``G_j Q_jᵀ``, the
    locals ``Q_p L_j Q_jᵀ`` and the offsets ``Q_p o_j``; joint positions are unchanged.
    """
    _, q = forward_kinematics(skeleton, rest_local, np.zeros(3))
    parents = skeleton.parents
    q_parent = np.concatenate([np.eye(3)[None], q[parents[1:]]], axis=0)
    new_local = q_parent @ local @ np.swapaxes(q, -1, -2)
    offsets = (q_parent @ skeleton.offsets[..., None])[..., 0]
    end_sites = {j: q[j] @ v for j, v in skeleton.end_sites.items()}
    rebased = Skeleton(skeleton.joint_names, parents, offsets, end_sites)
    return rebased, new_local


# Bones a T-pose lays along the x axis (+x: the body's left), for the rigs here.
T_POSE_TARGETS: dict[str, tuple[float, float, float]] = {
    **{name: (1.0, 0.0, 0.0) for name in ("LeftArm", "LeftForeArm", "left_shoulder", "left_elbow")},
    **{name: (-1.0, 0.0, 0.0) for name in ("RightArm", "RightForeArm", "right_shoulder", "right_elbow")},
}


def t_pose_rotmat(
    body: BodyModel,
    shape: torch.Tensor | np.ndarray | None = None,
    targets: dict[str, tuple[float, float, float]] | None = None,
) -> np.ndarray:
    """``(J, 3, 3)`` local rotations that pose the body in a T-pose (arms straight out along x).

    Each bone named in ``targets`` is turned by the smallest rotation that points
    it (head → tail, after its parent's turn) along the target direction;
    other bones follow their parent. Bone tails are Anny's ``rest_bone_ends``,
    else the first child's head. Pass the result as ``rest_pose_rotmat`` to get
    a T-pose rest in the file.
    """
    targets = T_POSE_TARGETS if targets is None else targets
    heads = rest_joints(body, shape)
    parents = body.parents.cpu().numpy()
    names = body.joint_names
    if hasattr(body, "rest_bone_ends"):
        tails = body.rest_bone_ends(shape_row(body, shape))[1][0].double().cpu().numpy()
    else:
        tails = heads.copy()
        for j in range(len(names)):
            kids = np.flatnonzero(parents == j)
            tails[j] = heads[kids[0]] if len(kids) else heads[j]
    glob = np.tile(np.eye(3), (len(names), 1, 1))
    local = glob.copy()
    for j, name in enumerate(names):
        parent_glob = glob[parents[j]] if j else np.eye(3)
        glob[j] = parent_glob
        if name in targets:
            target = np.asarray(targets[name], dtype=np.float64)
            glob[j] = _align(parent_glob @ (tails[j] - heads[j]), target) @ parent_glob
        local[j] = parent_glob.T @ glob[j]
    return local


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(3, 3)`` smallest rotation taking the direction of ``a`` ``(3,)`` to that of ``b`` ``(3,)``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(a @ b)
    if sin < 1e-12:
        if cos > 0:
            return np.eye(3)
        # Opposite directions: a half turn about any axis perpendicular to a.
        axis = np.cross(a, np.eye(3)[np.argmin(np.abs(a))])
        rotvec = axis / np.linalg.norm(axis) * np.pi
    else:
        rotvec = axis / sin * np.arctan2(sin, cos)
    return roma.rotvec_to_rotmat(torch.as_tensor(rotvec)).numpy()


def camera_to_y_up(
    pose_rotmat: np.ndarray | torch.Tensor, transl: np.ndarray | torch.Tensor, root_rest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a motion in camera axes (y down, z forward) upright (y up), a half turn about x.

    Args:
        pose_rotmat: ``(T, J, 3, 3)`` local rotations whose root maps the body into camera axes.
        transl: ``(T, 3)`` body translation in camera axes, metres.
        root_rest: ``(3,)`` the root joint's rest position (:func:`rest_joints` ``[0]``).

    Returns:
        ``(T, J, 3, 3)`` rotations and ``(T, 3)`` translation of the same motion
        turned by the half turn about the world origin; every body point ``p``
        becomes ``diag(1, -1, -1) p``.
    """
    local = np.array(torch.as_tensor(pose_rotmat).detach().cpu().double())
    transl = np.asarray(torch.as_tensor(transl).detach().cpu().double())
    local[:, 0] = HALF_TURN_X @ local[:, 0]
    # The root joint sits at root_rest + transl; after the turn it must sit at the turned point.
    new_transl = (root_rest + transl) @ HALF_TURN_X.T - root_rest
    return local, new_transl


def world_motion(
    pose_rotmat: np.ndarray, root_rotmat_world: np.ndarray, transl_world: np.ndarray, root_rest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A motion in the world frame (y up, ground at 0) from the world stage's arrays.

    Args:
        pose_rotmat: ``(T, J, 3, 3)`` local rotations (the root's is replaced).
        root_rotmat_world: ``(T, 3, 3)`` the root's orientation in the world.
        transl_world: ``(T, 3)`` the root joint's world position, metres.
        root_rest: ``(3,)`` the root joint's rest position (:func:`rest_joints` ``[0]``).

    Returns:
        ``(T, J, 3, 3)`` rotations and ``(T, 3)`` body translation (root joint = rest + translation).
    """
    local = np.array(pose_rotmat, dtype=np.float64)
    local[:, 0] = np.asarray(root_rotmat_world, dtype=np.float64)
    return local, np.asarray(transl_world, dtype=np.float64) - np.asarray(root_rest, dtype=np.float64)


def export_bvh(
    path: Path | str,
    body: BodyModel,
    pose_rotmat: np.ndarray | torch.Tensor,
    transl: np.ndarray | torch.Tensor,
    fps: float,
    shape: torch.Tensor | np.ndarray | None = None,
    rest_pose_rotmat: np.ndarray | None = None,
    rotation_order: str = "ZXY",
) -> Path:
    """Write one person's motion as BVH (metres, y up); see :func:`body_motion` for the arguments.

    Returns:
        The written path (written to a temp name, then renamed).
    """
    motion = body_motion(body, pose_rotmat, transl, fps, shape, rest_pose_rotmat, name=Path(path).stem)
    return write_bvh(path, motion, rotation_order=rotation_order)
