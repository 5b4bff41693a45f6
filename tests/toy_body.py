"""A tiny, fully specified :class:`~vibe.body.base.BodyModel` test double.

A kinematic chain-tree of ``J`` joints with random bone offsets (a linear
function of the shape vector), a few vertices rigidly attached to each joint,
and two keypoint sets: ``"joints"`` (the skeleton joints) and ``"spin49"``
(49 fixed convex combinations of joints, so the 3D-loss slice 25:39 exists).
Small enough that tests run in milliseconds, differentiable like a real body.
"""

from __future__ import annotations

import torch

from vibe.body.base import BodyModel, BodyOutput


class ToyBody(BodyModel):
    """``J`` joints, ``S`` shape values, ``verts_per_joint·J`` vertices."""

    name = "toy"

    def __init__(self, num_joints: int = 24, shape_dim: int = 10, verts_per_joint: int = 2, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        # Parent of joint j is (j - 1) // 2: a binary tree rooted at 0.
        parents = torch.tensor([-1] + [(j - 1) // 2 for j in range(1, num_joints)])
        self.register_buffer("_parents", parents)
        self.register_buffer("bone_offsets", 0.1 * torch.randn(num_joints, 3, generator=g))
        self.register_buffer("shape_dirs", 0.01 * torch.randn(shape_dim, num_joints, 3, generator=g))
        self.register_buffer("vertex_offsets", 0.05 * torch.randn(num_joints, verts_per_joint, 3, generator=g))
        weights = torch.rand(49, num_joints, generator=g)
        self.register_buffer("spin49_weights", weights / weights.sum(-1, keepdim=True))
        self._num_joints = num_joints
        self._shape_dim = shape_dim
        self._verts_per_joint = verts_per_joint

    @property
    def joint_names(self) -> list[str]:
        return [f"j{i}" for i in range(self._num_joints)]

    @property
    def parents(self) -> torch.Tensor:
        return self._parents

    @property
    def faces(self) -> torch.Tensor:
        return torch.zeros(0, 3, dtype=torch.long)

    @property
    def shape_dim(self) -> int:
        return self._shape_dim

    @property
    def num_vertices(self) -> int:
        return self._num_joints * self._verts_per_joint

    @property
    def keypoint_sets(self) -> dict[str, list[str]]:
        return {"joints": self.joint_names, "spin49": [f"k{i}" for i in range(49)]}

    def forward(self, pose_rotmat, shape=None, transl=None) -> BodyOutput:
        b = pose_rotmat.shape[0]
        if shape is None:
            shape = self.mean_shape(b)
        offsets = self.bone_offsets + torch.einsum("bs,sjc->bjc", shape, self.shape_dirs)
        rot_world = [pose_rotmat[:, 0]]
        pos_world = [torch.zeros(b, 3, dtype=pose_rotmat.dtype, device=pose_rotmat.device)]
        for j in range(1, self._num_joints):
            p = int(self._parents[j])
            rot_world.append(rot_world[p] @ pose_rotmat[:, j])
            pos_world.append(pos_world[p] + (rot_world[p] @ offsets[:, j, :, None])[..., 0])
        rotations = torch.stack(rot_world, 1)
        joints = torch.stack(pos_world, 1)
        vertices = joints[:, :, None] + torch.einsum("bjxy,jvy->bjvx", rotations, self.vertex_offsets)
        vertices = vertices.flatten(1, 2)
        if transl is not None:
            joints = joints + transl[:, None]
            vertices = vertices + transl[:, None]
        return BodyOutput(vertices=vertices, joints=joints, joints_rotmat=rotations)

    def keypoints(self, output: BodyOutput, set_name: str) -> torch.Tensor:
        self._check_keypoint_set(set_name)
        if set_name == "joints":
            return output.joints
        return torch.einsum("kj,bjc->bkc", self.spin49_weights, output.joints)
