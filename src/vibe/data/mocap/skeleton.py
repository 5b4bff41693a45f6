"""Skeletons, motion clips and forward kinematics, shared by every mocap reader.

Convention (BVH style; every reader converts to it):

- A skeleton is a tree of ``J`` joints, root first, each parent listed before
  its children (``parents[j] < j``, ``parents[0] == -1``).
- ``offsets[j]`` is the rest-pose vector from the parent joint to joint ``j``,
  in metres, in the parent's frame, which in the rest pose is the world frame.
  ``offsets[0]`` is added to the root translation (readers keep it at zero and
  put the whole root position into ``root_transl``).
- ``local_rotmat[t, j]`` rotates joint ``j``'s frame relative to its parent's
  frame; identity local rotations everywhere give the rest pose.
- Global rotation: ``G[j] = G[parent] @ L[j]`` (``G[0] = L[0]``).
- Joint position: ``p[j] = p[parent] + G[parent] @ offsets[j]``,
  ``p[0] = root_transl + offsets[0]``.
- World frame: y up, metres, right-handed (CMU BVH and ASF/AMC are y up).
  AMASS clips are z up; the AMASS reader says so in ``Motion.meta``.

A joint is the *head* (start) of its bone: rotating joint ``j`` moves every
joint below it, never joint ``j`` itself. ``end_sites[j]`` (optional) is the
tail of a leaf bone, as an offset from joint ``j`` in its rest frame (a BVH
``End Site``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch


@dataclass
class Skeleton:
    """A joint tree with rest offsets (see the module docstring).

    Attributes:
        joint_names: ``J`` unique names, root first.
        parents: ``(J,)`` int, parent index of each joint, ``-1`` for the root.
        offsets: ``(J, 3)`` rest offset of each joint from its parent, metres.
        end_sites: joint index → ``(3,)`` rest offset of that leaf bone's tail
            from the joint, metres (BVH ``End Site``); may be empty.
    """

    joint_names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.parents = np.asarray(self.parents, dtype=np.int64)
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        num = len(self.joint_names)
        if self.parents.shape != (num,) or self.offsets.shape != (num, 3):
            raise ValueError(
                f"{num} joint names but parents {self.parents.shape}, offsets {self.offsets.shape}"
            )
        if len(set(self.joint_names)) != num:
            raise ValueError("joint names must be unique")
        if num and self.parents[0] != -1:
            raise ValueError("joint 0 must be the root (parent -1)")
        if np.any(self.parents[1:] < 0) or np.any(self.parents[1:] >= np.arange(1, num)):
            raise ValueError("every non-root joint needs a parent listed before it")
        self.end_sites = {int(j): np.asarray(v, dtype=np.float64) for j, v in self.end_sites.items()}

    @property
    def num_joints(self) -> int:
        """``J``: number of joints."""
        return len(self.joint_names)

    def index(self, name: str) -> int:
        """Index of the joint called ``name`` (``ValueError`` if absent)."""
        return self.joint_names.index(name)

    def children(self, joint: int) -> list[int]:
        """Indices of the direct children of ``joint``."""
        return [int(j) for j in np.flatnonzero(self.parents == joint)]

    def bone_lengths(self) -> np.ndarray:
        """``(J,)`` rest distance of each joint from its parent (0 for the root), metres."""
        lengths = np.linalg.norm(self.offsets, axis=-1)
        lengths[0] = 0.0
        return lengths

    def renamed(self, mapping: dict[str, str]) -> Skeleton:
        """A copy with joints renamed by ``mapping`` (names not in it are kept)."""
        return replace(self, joint_names=[mapping.get(n, n) for n in self.joint_names])


@dataclass
class Motion:
    """A clip of a skeleton's motion, in the convention of the module docstring.

    Attributes:
        skeleton: the rest skeleton (``J`` joints).
        local_rotmat: ``(T, J, 3, 3)`` float64 local rotation of every joint.
        root_transl: ``(T, 3)`` float64 root translation in the world, metres.
        fps: frames per second.
        name: clip name (e.g. ``"02_01"``).
        meta: reader-specific extras (source file, format, units, ...).
    """

    skeleton: Skeleton
    local_rotmat: np.ndarray
    root_transl: np.ndarray
    fps: float
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.local_rotmat = np.asarray(self.local_rotmat, dtype=np.float64)
        self.root_transl = np.asarray(self.root_transl, dtype=np.float64)
        num_frames = self.local_rotmat.shape[0]
        expected = (num_frames, self.skeleton.num_joints, 3, 3)
        if self.local_rotmat.shape != expected:
            raise ValueError(f"local_rotmat {self.local_rotmat.shape}, expected {expected}")
        if self.root_transl.shape != (num_frames, 3):
            raise ValueError(f"root_transl {self.root_transl.shape}, expected ({num_frames}, 3)")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        """``T``: number of frames."""
        return int(self.local_rotmat.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.num_frames - 1) / self.fps

    def joints(self) -> np.ndarray:
        """``(T, J, 3)`` world joint positions, metres (forward kinematics)."""
        return forward_kinematics(self.skeleton, self.local_rotmat, self.root_transl)[0]


def forward_kinematics(
    skeleton: Skeleton, local_rotmat: np.ndarray, root_transl: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pose a skeleton (numpy, float64).

    Args:
        skeleton: ``J`` joints.
        local_rotmat: ``(..., J, 3, 3)`` local joint rotations.
        root_transl: ``(..., 3)`` root translation, metres.

    Returns:
        joints ``(..., J, 3)`` world positions and global_rotmat
        ``(..., J, 3, 3)`` world rotation of every joint.
    """
    local_rotmat = np.asarray(local_rotmat, dtype=np.float64)
    root_transl = np.asarray(root_transl, dtype=np.float64)
    glob = np.empty_like(local_rotmat)
    joints = np.empty(local_rotmat.shape[:-1], dtype=np.float64)
    glob[..., 0, :, :] = local_rotmat[..., 0, :, :]
    joints[..., 0, :] = root_transl + skeleton.offsets[0]
    for j in range(1, skeleton.num_joints):
        p = skeleton.parents[j]
        glob[..., j, :, :] = glob[..., p, :, :] @ local_rotmat[..., j, :, :]
        joints[..., j, :] = joints[..., p, :] + glob[..., p, :, :] @ skeleton.offsets[j]
    return joints, glob


def forward_kinematics_torch(
    parents: torch.Tensor | np.ndarray,
    offsets: torch.Tensor,
    local_rotmat: torch.Tensor,
    root_transl: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable forward kinematics, same convention as `forward_kinematics`.

    Args:
        parents: ``(J,)`` parent indices (``parents[j] < j``, root ``-1``).
        offsets: ``(J, 3)`` or ``(..., J, 3)`` rest offsets, metres.
        local_rotmat: ``(..., J, 3, 3)`` local joint rotations.
        root_transl: ``(..., 3)`` root translation, metres.

    Returns:
        joints ``(..., J, 3)`` and global_rotmat ``(..., J, 3, 3)``.
    """
    parent_list = [int(p) for p in parents]
    offsets = offsets.expand(*local_rotmat.shape[:-2], 3)
    globs = [local_rotmat[..., 0, :, :]]
    points = [root_transl + offsets[..., 0, :]]
    for j in range(1, len(parent_list)):
        p = parent_list[j]
        globs.append(globs[p] @ local_rotmat[..., j, :, :])
        points.append(points[p] + (globs[p] @ offsets[..., j, :, None])[..., 0])
    return torch.stack(points, dim=-2), torch.stack(globs, dim=-3)


def end_site_positions(
    skeleton: Skeleton, joints: np.ndarray, global_rotmat: np.ndarray
) -> dict[int, np.ndarray]:
    """World positions of the skeleton's end sites.

    Args:
        skeleton: skeleton with ``end_sites``.
        joints: ``(..., J, 3)`` posed joints (from `forward_kinematics`).
        global_rotmat: ``(..., J, 3, 3)`` posed global rotations.

    Returns:
        joint index → ``(..., 3)`` world position of that joint's end site.
    """
    return {
        j: joints[..., j, :] + global_rotmat[..., j, :, :] @ offset
        for j, offset in skeleton.end_sites.items()
    }


def euler_product(axes: str, angles_rad: np.ndarray) -> np.ndarray:
    """Product of elementary rotations in the order written: ``R_a0 @ R_a1 @ ...``.

    ``axes="ZXY"`` gives ``Rz(a0) @ Rx(a1) @ Ry(a2)``: intrinsic rotations in
    that order (scipy's uppercase ``"ZXY"``), the BVH channel convention. The
    same rotation read as *fixed* (extrinsic) axes applies them right to left.

    Args:
        axes: letters from ``"XYZ"`` (any case, any length ``K``).
        angles_rad: ``(..., K)`` angles in radians.

    Returns:
        ``(..., 3, 3)`` rotation matrices.
    """
    angles_rad = np.asarray(angles_rad, dtype=np.float64)
    if angles_rad.shape[-1] != len(axes):
        raise ValueError(f"{len(axes)} axes but angles of shape {angles_rad.shape}")
    out = np.broadcast_to(np.eye(3), angles_rad.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(axes.upper()):
        out = out @ _axis_rotmat(axis, angles_rad[..., k])
    return out


def _axis_rotmat(axis: str, angle: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` right-handed rotation by ``angle`` (radians) about x, y or z."""
    i = "XYZ".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def read_text_any_encoding(path: str | Path) -> str:
    """A mocap text file's contents, whatever 8-bit encoding its comments use.

    The numbers and keywords of ASF, AMC and BVH files are ASCII; headers and
    comments come in UTF-8 or a local code page (HDM05: Latin-1). UTF-8 is
    tried first, then every byte is read as Latin-1, which never fails and
    leaves the ASCII parts unchanged.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
