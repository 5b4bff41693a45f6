"""Motion discriminator D_M: a GRU over a pose sequence, pooled over time, → one realness score.

Module names match the released ``disc_motion_state_dict``: ``gru``,
``attention.attention.{0,3,6}`` (attention pooling) and ``fc``.

Attention pooling (paper eq. 4-5): scores ``φ(h_t)`` from an MLP of
``attention_layers`` hidden ``[Linear, Tanh, Dropout]`` blocks and a final
``[Linear(·, 1), Tanh, Dropout]``, softmax over time, weighted sum of the GRU
states. Note the counting: our ``attention_layers`` is the number of *hidden*
blocks (the paper's "2 MLP layers with 1024 neurons"); the original config
counts the output layer too (``ATT.LAYERS: 3``). The released config trains
with attention dropout 0.2 (the paper's supplement says 0.1).

Input: one feature vector per frame. For the released SMPL weights it is the
69 axis-angle values of joints 1..23 (``theta[..., 6:75]``, no global
orientation); :func:`motion_features` builds it from rotation matrices for any
body model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vibe.geometry.rotations import rotmat_to_axis_angle, rotmat_to_rot6d

__all__ = [
    "MotionDiscriminatorConfig",
    "MotionDiscriminator",
    "SelfAttentionPooling",
    "motion_features",
    "motion_feature_size",
    "MotionRepresentation",
]

Pooling = Literal["attention", "concat", "last"]
MotionRepresentation = Literal["axis_angle", "rot6d"]


def motion_features(pose_rotmat: torch.Tensor, representation: MotionRepresentation = "axis_angle") -> torch.Tensor:
    """Discriminator input from local joint rotations.

    Args:
        pose_rotmat: ``(B, T, J, 3, 3)`` local rotations, root first.
        representation: ``"axis_angle"`` — axis-angle of joints ``1..J-1``,
            ``(B, T, 3(J-1))``; for SMPL (J=24) exactly the released D_M's 69
            inputs ``theta[..., 6:75]``. ``"rot6d"`` — 6D of joints ``1..J-1``,
            ``(B, T, 6(J-1))``; the choice for models trained here (Anny): it
            has no discontinuity at π, where axis-angle flips.

    The root (global orientation) is left out in both: it depends on the
    camera, not on how plausible the motion is.
    """
    body = pose_rotmat[:, :, 1:]
    if representation == "axis_angle":
        return rotmat_to_axis_angle(body).flatten(2)
    if representation == "rot6d":
        return rotmat_to_rot6d(body).flatten(2)
    raise ValueError(f"unknown motion representation {representation!r}")


def motion_feature_size(num_joints: int, representation: MotionRepresentation = "axis_angle") -> int:
    """Width of :func:`motion_features` for a body with ``num_joints`` joints (root included)."""
    return (num_joints - 1) * (3 if representation == "axis_angle" else 6)


class SelfAttentionPooling(nn.Module):
    """Softmax-attention pooling over time: ``(B, T, H) → (B, H)`` and weights ``(B, T)``."""

    def __init__(self, input_size: int = 1024, attention_size: int = 1024, layers: int = 2, dropout: float = 0.2):
        super().__init__()
        modules: list[nn.Module] = []
        width = input_size
        for _ in range(layers):
            modules += [nn.Linear(width, attention_size), nn.Tanh(), nn.Dropout(dropout)]
            width = attention_size
        modules += [nn.Linear(width, 1), nn.Tanh(), nn.Dropout(dropout)]
        self.attention = nn.Sequential(*modules)
        for module in self.attention:
            if isinstance(module, nn.Linear):
                nn.init.uniform_(module.weight, -0.1, 0.1)
                nn.init.constant_(module.bias, 0.01)

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """GRU states ``(B, T, H)`` → pooled ``(B, H)``, attention weights ``(B, T)`` (sum to 1 over T)."""
        weights = torch.softmax(self.attention(states).squeeze(-1), dim=-1)
        return (states * weights[..., None]).sum(dim=1), weights


@dataclass
class MotionDiscriminatorConfig:
    """Arguments of :class:`MotionDiscriminator` (defaults: the released SMPL model)."""

    input_size: int = 69
    rnn_size: int = 1024
    num_layers: int = 2
    pooling: Pooling = "attention"
    attention_size: int = 1024
    attention_layers: int = 2
    attention_dropout: float = 0.2


class MotionDiscriminator(nn.Module):
    """D_M: motion features ``(B, T, D)`` → realness score ``(B, 1)`` (LSGAN target 1 = real)."""

    def __init__(
        self,
        input_size: int = 69,
        rnn_size: int = 1024,
        num_layers: int = 2,
        pooling: Pooling = "attention",
        attention_size: int = 1024,
        attention_layers: int = 2,
        attention_dropout: float = 0.2,
    ):
        super().__init__()
        if pooling not in ("attention", "concat", "last"):
            raise ValueError(f"unknown pooling {pooling!r}")
        self.pooling = pooling
        self.gru = nn.GRU(input_size, rnn_size, num_layers=num_layers)
        if pooling == "attention":
            self.attention = SelfAttentionPooling(rnn_size, attention_size, attention_layers, attention_dropout)
        self.fc = nn.Linear(2 * rnn_size if pooling == "concat" else rnn_size, 1)

    @classmethod
    def from_config(cls, config: MotionDiscriminatorConfig) -> "MotionDiscriminator":
        """Build from a :class:`MotionDiscriminatorConfig`."""
        return cls(**vars(config))

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        """Motion features ``(B, T, D)`` → scores ``(B, 1)``."""
        return self.forward_with_attention(motion)[0]

    def forward_with_attention(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores ``(B, 1)`` and attention weights ``(B, T)`` (``None`` unless pooling is attention)."""
        states, _ = self.gru(motion.transpose(0, 1))  # (T, B, H), time-major as the original
        weights = None
        if self.pooling == "attention":
            pooled, weights = self.attention(states.transpose(0, 1))
        elif self.pooling == "concat":
            states = F.relu(states)
            pooled = torch.cat((states.mean(dim=0), states.amax(dim=0)), dim=-1)
        else:
            pooled = states[-1]
        return self.fc(pooled), weights
