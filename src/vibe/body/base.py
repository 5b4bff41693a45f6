"""The one interface every parametric body model implements.

A body model maps per-joint rotations and a shape vector to a posed mesh and
its skeleton. Conventions (shared by SMPL and Anny):

- ``pose_rotmat`` is ``(B, J, 3, 3)``: one *local* rotation per skeleton joint,
  relative to its parent, global orientation (the root) first.
- ``shape`` is ``(B, S)``: SMPL betas, or Anny phenotype parameters.
- ``transl`` is ``(B, 3)`` in metres, added to every output point.
- Outputs are in the body model's world frame, metres.

Named keypoint sets (e.g. ``"eval14"``) are linear functions of the posed
vertices and skeleton joints, so they are differentiable and batched.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class BodyOutput:
    """Result of posing a body model.

    Attributes:
        vertices: ``(B, V, 3)`` posed mesh vertices.
        joints: ``(B, J, 3)`` posed skeleton joint positions (the heads of the
            bones, in the order of ``BodyModel.joint_names``).
        joints_rotmat: ``(B, J, 3, 3)`` global (world) rotation of every joint.
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    joints_rotmat: torch.Tensor


class BodyModel(nn.Module, abc.ABC):
    """A skinned, parametric human body: ``(pose_rotmat, shape, transl) → mesh``.

    Subclasses set the class-level ``name`` and implement the abstract members.
    """

    name: str = "body"

    # --- skeleton and mesh description -------------------------------------
    @property
    @abc.abstractmethod
    def joint_names(self) -> list[str]:
        """Names of the ``J`` skeleton joints, root first."""

    @property
    @abc.abstractmethod
    def parents(self) -> torch.Tensor:
        """``(J,)`` long: parent index of each joint, ``-1`` for the root."""

    @property
    @abc.abstractmethod
    def faces(self) -> torch.Tensor:
        """``(F, 3)`` long: triangle vertex indices."""

    @property
    @abc.abstractmethod
    def shape_dim(self) -> int:
        """``S``: length of the shape vector."""

    @property
    @abc.abstractmethod
    def num_vertices(self) -> int:
        """``V``: number of mesh vertices."""

    @property
    def num_joints(self) -> int:
        """``J``: number of skeleton joints (= rotations in the pose)."""
        return len(self.joint_names)

    @property
    def skinning_weights(self) -> torch.Tensor:
        """``(V, J)`` linear-blend skinning weights, columns in joint order (animation export)."""
        raise NotImplementedError(f"{type(self).__name__} does not expose skinning weights")

    def mean_shape(self, batch_size: int = 1) -> torch.Tensor:
        """``(B, S)`` shape vector of the average body (zeros unless overridden)."""
        return torch.zeros(batch_size, self.shape_dim, dtype=self.dtype, device=self.device)

    # --- posing --------------------------------------------------------------
    @abc.abstractmethod
    def forward(
        self,
        pose_rotmat: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose the body.

        Args:
            pose_rotmat: ``(B, J, 3, 3)`` local joint rotations, root first.
            shape: ``(B, S)`` shape vector; ``None`` → ``mean_shape``.
            transl: ``(B, 3)`` translation in metres; ``None`` → zero.
        """

    # --- keypoints ----------------------------------------------------------
    @property
    @abc.abstractmethod
    def keypoint_sets(self) -> dict[str, list[str]]:
        """Available keypoint sets: set name → ordered keypoint names."""

    @abc.abstractmethod
    def keypoints(self, output: BodyOutput, set_name: str) -> torch.Tensor:
        """``(B, K, 3)`` keypoints of the named set, from a posed ``output``."""

    def keypoint_evaluator(self, set_names: list[str]) -> nn.Module | None:
        """A faster module computing only keypoints, or ``None`` when the model has none.

        The module maps ``(pose_rotmat (B, J, 3, 3), shape (B, S))`` to an
        object whose ``keypoints`` dict holds ``(B, K, 3)`` per set, equal to
        ``keypoints(forward(pose_rotmat, shape), set)``. Training uses it when
        the mesh itself is not needed.
        """
        return None

    # --- helpers --------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        for t in self.buffers():
            if t.is_floating_point():
                return t.dtype
        return torch.get_default_dtype()

    @property
    def device(self) -> torch.device:
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def rest_pose(self, batch_size: int = 1) -> torch.Tensor:
        """``(B, J, 3, 3)`` identity rotations (the model's rest pose)."""
        eye = torch.eye(3, dtype=self.dtype, device=self.device)
        return eye.expand(batch_size, self.num_joints, 3, 3).clone()

    def _check_keypoint_set(self, set_name: str) -> None:
        if set_name not in self.keypoint_sets:
            raise KeyError(
                f"{self.name} has no keypoint set {set_name!r}; "
                f"available: {sorted(self.keypoint_sets)}"
            )
