"""Iterative error feedback (IEF) regressor of HMR/SPIN: features → pose, shape, crop camera.

Same layers and names as the released model (``regressor.*`` in VIBE's
``gen_state_dict``, and the head of SPIN's ``model``): ``fc1`` takes the
feature concatenated with the current estimate ``[pose_rot6d (6J), shape (S),
cam (3)]``, then ``drop1``, ``fc2``, ``drop2`` (no non-linearity between, as the
original) and three heads ``decpose``, ``decshape``, ``deccam`` whose outputs
are *added* to the estimate; this is repeated ``n_iter`` times starting from
the buffers ``init_pose``, ``init_shape``, ``init_cam``.

For SMPL the initial estimate is ``smpl_mean_params.npz``. For a body model
without published mean parameters (:meth:`RegressorInit.neutral`):

- every joint but the root: identity (the rest pose, the most neutral
  estimate a kinematic tree has);
- the root: a half turn about x. Body models here are y-up and face +z
  (SMPL's convention, which Anny's wrapper follows) while the camera is
  OpenCV's (y down, z forward), so the rest pose would be seen upside down
  from behind; the half turn shows it upright and facing the camera, as most
  people in videos are (SMPL's mean pose has the same root rotation);
- the model's mean shape;
- the crop camera ``(0.9, 0, 0)``, SMPL's mean camera: under the crop camera a
  point's crop coordinate is about ``s·x``, so ``s = 0.9`` makes a standing
  1.7-1.8 m body span ~80 % of the crop, which is how the detector boxes
  (scaled by 1.1-1.2) frame people.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vibe.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d

__all__ = ["DEFAULT_INIT_CAM", "RegressorInit", "RegressorOutput", "Regressor"]

DEFAULT_INIT_CAM = (0.9, 0.0, 0.0)


@dataclass
class RegressorInit:
    """Initial estimate of the regressor.

    Attributes:
        pose_rot6d: ``(6J,)`` 6D rotations of the ``J`` joints, flattened joint-major.
        shape: ``(S,)`` shape vector.
        cam: ``(3,)`` crop camera ``(s, tx, ty)``.
    """

    pose_rot6d: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor

    @classmethod
    def neutral(cls, num_joints: int, shape: torch.Tensor | None = None, shape_dim: int | None = None) -> "RegressorInit":
        """Rest pose seen upright from the front (root ``diag(1, -1, -1)``, other joints identity),
        ``shape`` (or zeros of ``shape_dim``) and camera ``(0.9, 0, 0)``; see the module docstring."""
        if shape is None:
            if shape_dim is None:
                raise ValueError("give the mean shape or shape_dim")
            shape = torch.zeros(shape_dim)
        pose_rotmat = torch.eye(3).repeat(num_joints, 1, 1)
        pose_rotmat[0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # half turn about x
        return cls(
            pose_rot6d=rotmat_to_rot6d(pose_rotmat).reshape(-1),
            shape=shape.detach().reshape(-1).float().cpu(),
            cam=torch.tensor(DEFAULT_INIT_CAM),
        )

    @classmethod
    def from_mean_params(cls, mean_params) -> "RegressorInit":
        """From SMPL's mean parameters: an object with ``pose_rot6d`` (or ``pose``) ``(6J,)``,
        ``shape (S,)`` and ``cam (3,)`` (:func:`vibe.body.smpl.load_mean_params`)."""
        pose = getattr(mean_params, "pose_rot6d", None)
        if pose is None:
            pose = mean_params.pose
        as_tensor = lambda x: torch.as_tensor(x, dtype=torch.float32).reshape(-1)  # noqa: E731
        return cls(as_tensor(pose), as_tensor(mean_params.shape), as_tensor(mean_params.cam))


@dataclass
class RegressorOutput:
    """Final estimate of the regressor for ``N`` frames.

    Attributes:
        pose_rot6d: ``(N, J, 6)`` 6D joint rotations (the head's raw output).
        pose_rotmat: ``(N, J, 3, 3)`` local joint rotations, root first.
        shape: ``(N, S)`` shape vector.
        cam: ``(N, 3)`` crop camera ``(s, tx, ty)``.
    """

    pose_rot6d: torch.Tensor
    pose_rotmat: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor


class Regressor(nn.Module):
    """IEF regressor ``(N, F) → RegressorOutput`` for a body with ``J`` joints and ``S`` shape values."""

    def __init__(
        self,
        num_joints: int = 24,
        shape_dim: int = 10,
        feature_dim: int = 2048,
        n_iter: int = 3,
        init: RegressorInit | None = None,
        hidden_dim: int = 1024,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.num_joints = num_joints
        self.shape_dim = shape_dim
        self.n_iter = n_iter
        pose_dim = 6 * num_joints
        self.fc1 = nn.Linear(feature_dim + pose_dim + shape_dim + 3, hidden_dim)
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden_dim, hidden_dim)
        self.drop2 = nn.Dropout(dropout)
        self.decpose = nn.Linear(hidden_dim, pose_dim)
        self.decshape = nn.Linear(hidden_dim, shape_dim)
        self.deccam = nn.Linear(hidden_dim, 3)
        # Small heads: the first iterations stay close to the initial estimate.
        for head in (self.decpose, self.decshape, self.deccam):
            nn.init.xavier_uniform_(head.weight, gain=0.01)

        init = init or RegressorInit.neutral(num_joints, shape_dim=shape_dim)
        if init.pose_rot6d.numel() != pose_dim or init.shape.numel() != shape_dim or init.cam.numel() != 3:
            raise ValueError(
                f"initial estimate sizes {init.pose_rot6d.numel()}, {init.shape.numel()}, {init.cam.numel()} "
                f"do not match 6J={pose_dim}, S={shape_dim}, 3"
            )
        self.register_buffer("init_pose", init.pose_rot6d.reshape(1, pose_dim).float().clone())
        self.register_buffer("init_shape", init.shape.reshape(1, shape_dim).float().clone())
        self.register_buffer("init_cam", init.cam.reshape(1, 3).float().clone())

    def forward(
        self,
        features: torch.Tensor,
        init_pose_rot6d: torch.Tensor | None = None,
        init_shape: torch.Tensor | None = None,
        init_cam: torch.Tensor | None = None,
    ) -> RegressorOutput:
        """Regress body parameters from features ``(N, F)``.

        Args:
            features: ``(N, F)`` per-frame features.
            init_pose_rot6d: optional ``(N, 6J)`` starting pose (default: buffer ``init_pose``).
            init_shape: optional ``(N, S)`` starting shape (default: ``init_shape``).
            init_cam: optional ``(N, 3)`` starting camera (default: ``init_cam``).
        """
        n = features.shape[0]
        pose = self.init_pose.expand(n, -1) if init_pose_rot6d is None else init_pose_rot6d
        shape = self.init_shape.expand(n, -1) if init_shape is None else init_shape
        cam = self.init_cam.expand(n, -1) if init_cam is None else init_cam
        for _ in range(self.n_iter):
            x = torch.cat((features, pose, shape, cam), dim=1)
            x = self.drop2(self.fc2(self.drop1(self.fc1(x))))
            pose = pose + self.decpose(x)
            shape = shape + self.decshape(x)
            cam = cam + self.deccam(x)
        pose_rot6d = pose.reshape(n, self.num_joints, 6)
        return RegressorOutput(
            pose_rot6d=pose_rot6d,
            pose_rotmat=rot6d_to_rotmat(pose_rot6d),
            shape=shape,
            cam=cam,
        )
