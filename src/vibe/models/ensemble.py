"""Several generators run as one: each reads the same input, their answers are averaged.

Generators trained differently (another prior, other data) err differently;
the mean of their answers errs less than most of them. :class:`GeneratorEnsemble`
keeps the single generator's interface that the demo uses (``encode_frames``,
``encoder``, ``regressor``, ``config``, ``body``): per-frame features are the
members' features side by side ``(…, ΣF)``, the temporal encoder runs each
member's GRU on its own slice, and the regressor averages the members' answers
— rotations by their chordal mean, shape and camera arithmetically.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vibe.geometry.rotations import chordal_mean, rotmat_to_rot6d
from vibe.models.regressor import RegressorOutput

__all__ = ["GeneratorEnsemble"]


class _SlicedEncoders(nn.Module):
    """Each member's temporal encoder on its slice of the features ``(B, T, ΣF) → (B, T, ΣF')``."""

    def __init__(self, encoders: Sequence[nn.Module], in_sizes: Sequence[int]):
        super().__init__()
        self.encoders = nn.ModuleList(encoders)
        self.in_sizes = list(in_sizes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        parts = features.split(self.in_sizes, dim=-1)
        return torch.cat([encoder(part) for encoder, part in zip(self.encoders, parts)], dim=-1)


class _AveragedRegressors(nn.Module):
    """Each member's regressor on its slice of ``(N, ΣF')``; the answers averaged into one :class:`RegressorOutput`."""

    def __init__(self, regressors: Sequence[nn.Module], in_sizes: Sequence[int]):
        super().__init__()
        self.regressors = nn.ModuleList(regressors)
        self.in_sizes = list(in_sizes)

    def forward(self, features: torch.Tensor) -> RegressorOutput:
        outs = [reg(part) for reg, part in zip(self.regressors, features.split(self.in_sizes, dim=-1))]
        pose_rotmat = chordal_mean(torch.stack([o.pose_rotmat for o in outs]))  # (N, J, 3, 3)
        return RegressorOutput(
            pose_rot6d=rotmat_to_rot6d(pose_rotmat),
            pose_rotmat=pose_rotmat,
            shape=torch.stack([o.shape for o in outs]).mean(0),
            cam=torch.stack([o.cam for o in outs]).mean(0),
        )


class GeneratorEnsemble(nn.Module):
    """Keypoint generators ``members`` (same body, keypoint set, inputs and temporal setting) as one generator."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        first = members[0].config
        for m in members[1:]:
            c = m.config
            same = (c.keypoint_set, c.temporal, c.keypoint_encoder.use_world) == (
                first.keypoint_set, first.temporal, first.keypoint_encoder.use_world,
            )  # fmt: skip
            if not same or m.body is not members[0].body:
                raise ValueError("ensemble members need one body, keypoint set, world input and temporal setting")
        self.members = nn.ModuleList(members)
        self.config = first
        self.body = members[0].body
        feature_sizes = [m.config.feature_dim for m in members]
        body_sizes = [6 * m.regressor.num_joints + m.regressor.shape_dim + 3 for m in members]
        encoded_sizes = [m.regressor.fc1.in_features - b for m, b in zip(members, body_sizes)]
        self.encoder = _SlicedEncoders([m.encoder for m in members], feature_sizes) if first.temporal else None
        self.regressor = _AveragedRegressors([m.regressor for m in members], encoded_sizes)

    def encode_frames(self, inputs: torch.Tensor, keypoints_world: torch.Tensor | None = None) -> torch.Tensor:
        """Every member's per-frame features side by side: ``(B, T, K, 3)`` landmarks → ``(B, T, ΣF)``."""
        return torch.cat([m.encode_frames(inputs, keypoints_world) for m in self.members], dim=-1)
