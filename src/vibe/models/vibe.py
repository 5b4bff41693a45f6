"""The VIBE generator: per-frame features → temporal encoder → IEF regressor → body model.

Data flow for a batch of ``B`` windows of ``T`` frames::

    inputs (B, T, ...) ──feature source──▶ (B, T, F) ──TemporalEncoder──▶ (B, T, F)
        ──Regressor (per frame)──▶ pose_rotmat, shape, cam ──BodyModel──▶ vertices, joints
        ──keypoint set──▶ joints3d (B, T, K, 3) ──crop camera──▶ joints2d (B, T, K, 2)

Feature sources: ``"features"`` (precomputed 2048-D features, as the original
trains), ``"resnet"`` (224² ImageNet-normalised crops through
:class:`~vibe.models.backbone.HMRBackbone`) or ``"keypoints"`` (2D landmarks
through :class:`~vibe.models.keypoint_encoder.KeypointEncoder`). With
``temporal=False`` the GRU is skipped (the per-frame baseline).

Parameter names under ``encoder.`` and ``regressor.`` are the released
checkpoint's; the body model sits under ``body.`` and is not learned.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from vibe.body.base import BodyModel
from vibe.geometry.cameras import project_to_crop
from vibe.models.backbone import HMRBackbone
from vibe.models.keypoint_encoder import KeypointEncoder, KeypointEncoderConfig
from vibe.models.regressor import Regressor, RegressorInit
from vibe.models.temporal import TemporalEncoder, TemporalEncoderConfig

__all__ = ["FeatureSource", "VIBEConfig", "VIBEOutput", "VIBE"]

# State-dict prefixes of the fixed body model (and its keypoint-only path): never learned or stored.
_FIXED_PREFIXES = ("body.", "fast_keypoints.")

FeatureSource = Literal["features", "resnet", "keypoints"]


@dataclass
class VIBEConfig:
    """Configuration of the generator (defaults: the released SMPL model on precomputed features).

    Attributes:
        feature_source: where per-frame features come from (see module doc).
        feature_dim: ``F``, width of the per-frame features (2048 for ResNet-50).
        temporal: run the temporal encoder; ``False`` is the per-frame baseline.
        encoder: temporal encoder arguments; its ``input_size`` must equal ``feature_dim``.
        keypoint_encoder: used when ``feature_source == "keypoints"``; its
            ``out_dim`` must equal ``feature_dim``.
        n_iter: IEF iterations of the regressor.
        keypoint_set: body model keypoint set returned as ``joints3d``/``joints2d``.
        extra_keypoint_sets: further sets returned in 3D only (``extra_joints3d``),
            e.g. Anny's ``"eval14"`` for the 3D loss next to ``"blazepose33"``.
        freeze_backbone: keep the ResNet-50 fixed (no gradients, BatchNorm in
            eval mode), as VIBE trains on precomputed features.
        return_vertices: include the ``(B, T, V, 3)`` mesh in the output.
        focal_length, crop_size: the crop camera (5000 px over 224 px).
    """

    feature_source: FeatureSource = "features"
    feature_dim: int = 2048
    temporal: bool = True
    encoder: TemporalEncoderConfig = field(default_factory=TemporalEncoderConfig)
    keypoint_encoder: KeypointEncoderConfig = field(default_factory=KeypointEncoderConfig)
    n_iter: int = 3
    keypoint_set: str = "spin49"
    extra_keypoint_sets: tuple[str, ...] = ()
    freeze_backbone: bool = True
    return_vertices: bool = True
    focal_length: float = 5000.0
    crop_size: float = 224.0

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (for checkpoints and YAML)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VIBEConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``TypeError``."""
        data = dict(data)
        encoder = TemporalEncoderConfig(**data.pop("encoder", {}))
        keypoint_encoder = KeypointEncoderConfig(**data.pop("keypoint_encoder", {}))
        extra_sets = tuple(data.pop("extra_keypoint_sets", ()))
        return cls(encoder=encoder, keypoint_encoder=keypoint_encoder, extra_keypoint_sets=extra_sets, **data)


@dataclass
class VIBEOutput:
    """Generator output for ``B`` windows of ``T`` frames.

    Attributes:
        cam: ``(B, T, 3)`` crop camera ``(s, tx, ty)``.
        pose_rot6d: ``(B, T, J, 6)`` the regressor's 6D rotations.
        pose_rotmat: ``(B, T, J, 3, 3)`` local joint rotations, root first.
        shape: ``(B, T, S)`` shape vector.
        joints3d: ``(B, T, K, 3)`` keypoints of the configured set, body frame, metres.
        joints2d: ``(B, T, K, 2)`` the same projected into the crop, ``[-1, 1]``.
        vertices: ``(B, T, V, 3)`` posed mesh (body frame), or ``None``.
        extra_joints3d: set name → ``(B, T, K', 3)`` for ``extra_keypoint_sets``.
    """

    cam: torch.Tensor
    pose_rot6d: torch.Tensor
    pose_rotmat: torch.Tensor
    shape: torch.Tensor
    joints3d: torch.Tensor
    joints2d: torch.Tensor
    vertices: torch.Tensor | None = None
    extra_joints3d: dict[str, torch.Tensor] = field(default_factory=dict)


class VIBE(nn.Module):
    """Generator G of VIBE for any :class:`~vibe.body.base.BodyModel`."""

    def __init__(self, config: VIBEConfig, body_model: BodyModel, regressor_init: RegressorInit | None = None):
        """Build the networks.

        Args:
            config: the architecture.
            body_model: posed by the regressor's output; defines ``J`` and ``S``.
            regressor_init: the regressor's initial estimate (SMPL: the mean
                params); default :meth:`RegressorInit.neutral` (rest pose seen upright
                from the front, the model's mean shape, camera (0.9, 0, 0)).
        """
        super().__init__()
        self.config = config
        if config.encoder.input_size != config.feature_dim:
            raise ValueError("encoder.input_size must equal feature_dim")
        self.backbone: HMRBackbone | None = None
        self.keypoint_encoder: KeypointEncoder | None = None
        if config.feature_source == "resnet":
            if config.feature_dim != HMRBackbone.feature_dim:
                raise ValueError(f"the ResNet-50 gives {HMRBackbone.feature_dim}-D features")
            self.backbone = HMRBackbone()
            if config.freeze_backbone:
                self.backbone.requires_grad_(False)
        elif config.feature_source == "keypoints":
            if config.keypoint_encoder.out_dim != config.feature_dim:
                raise ValueError("keypoint_encoder.out_dim must equal feature_dim")
            self.keypoint_encoder = KeypointEncoder.from_config(config.keypoint_encoder)
        elif config.feature_source != "features":
            raise ValueError(f"unknown feature source {config.feature_source!r}")

        self.encoder = TemporalEncoder.from_config(config.encoder)
        if self.encoder.output_size != config.feature_dim:
            raise ValueError("the temporal encoder must output feature_dim values (use add_linear)")
        if regressor_init is None:
            regressor_init = RegressorInit.neutral(body_model.num_joints, shape=body_model.mean_shape(1)[0])
        self.regressor = Regressor(
            num_joints=body_model.num_joints,
            shape_dim=body_model.shape_dim,
            feature_dim=config.feature_dim,
            n_iter=config.n_iter,
            init=regressor_init,
        )
        self.body = body_model
        self.body.requires_grad_(False)  # a fixed function of the regressed parameters, never trained
        # Without the mesh in the output, a keypoint-only path (Anny: ~30x faster) is exact and enough.
        sets = [config.keypoint_set, *config.extra_keypoint_sets]
        self.fast_keypoints = None if config.return_vertices else body_model.keypoint_evaluator(sets)

    def train(self, mode: bool = True) -> "VIBE":
        """As ``nn.Module.train``, but a frozen backbone stays in eval mode (fixed BatchNorm statistics)."""
        super().train(mode)
        if self.backbone is not None and self.config.freeze_backbone:
            self.backbone.eval()
        return self

    def learned_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict without the body model's buffers (what a checkpoint stores)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(_FIXED_PREFIXES)}

    def fixed_state_dict(self) -> dict[str, torch.Tensor]:
        """The body model's entries of the state dict (not learned, not stored)."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(_FIXED_PREFIXES)}

    def encode_frames(self, inputs: torch.Tensor, keypoints_world: torch.Tensor | None = None) -> torch.Tensor:
        """Per-frame features ``(B, T, F)`` from the configured source.

        Args:
            inputs: ``(B, T, F)`` features, ``(B, T, 3, H, W)`` normalised crops,
                or ``(B, T, K, 3)`` landmarks, per ``feature_source``.
            keypoints_world: ``(B, T, K, 3)`` world landmarks (keypoint source with ``use_world``).
        """
        if self.backbone is not None:
            b, t = inputs.shape[:2]
            frozen = self.config.freeze_backbone
            with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
                features = self.backbone(inputs.flatten(0, 1))
            return features.reshape(b, t, -1)
        if self.keypoint_encoder is not None:
            return self.keypoint_encoder(inputs, keypoints_world)
        return inputs

    def forward(self, inputs: torch.Tensor, keypoints_world: torch.Tensor | None = None) -> VIBEOutput:
        """Run the generator on ``B`` windows of ``T`` frames (see :meth:`encode_frames` for ``inputs``)."""
        return self.forward_features(self.encode_frames(inputs, keypoints_world))

    def forward_features(self, features: torch.Tensor) -> VIBEOutput:
        """Run the generator from per-frame features ``(B, T, F)``."""
        b, t = features.shape[:2]
        if self.config.temporal:
            features = self.encoder(features)
        params = self.regressor(features.reshape(b * t, -1))
        if self.fast_keypoints is not None:
            posed = None
            keypoints = self.fast_keypoints(params.pose_rotmat, params.shape).keypoints
        else:
            posed = self.body(params.pose_rotmat, params.shape)
            sets = [self.config.keypoint_set, *self.config.extra_keypoint_sets]
            keypoints = {name: self.body.keypoints(posed, name) for name in sets}
        joints3d = keypoints[self.config.keypoint_set]
        joints2d = project_to_crop(joints3d, params.cam, self.config.focal_length, self.config.crop_size)

        def unflat(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(b, t, *x.shape[1:])

        return VIBEOutput(
            cam=unflat(params.cam),
            pose_rot6d=unflat(params.pose_rot6d),
            pose_rotmat=unflat(params.pose_rotmat),
            shape=unflat(params.shape),
            joints3d=unflat(joints3d),
            joints2d=unflat(joints2d),
            vertices=unflat(posed.vertices) if self.config.return_vertices else None,
            extra_joints3d={name: unflat(keypoints[name]) for name in self.config.extra_keypoint_sets},
        )
