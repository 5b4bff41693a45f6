"""Per-frame feature from 2D landmarks (the ``open`` stack's replacement for ResNet-50).

Input per frame: ``K`` landmarks ``(x, y, visibility)`` with ``x, y``
normalised to the person's square box in ``[-1, 1]`` and visibility (or
detector confidence) in ``[0, 1]``; optionally the detector's 3D metric
"world" landmarks ``(K, 3)``.

Missing points: a point whose visibility is 0, or whose coordinates are not
finite, has its coordinates replaced by 0 (the box centre) and its visibility
set to 0, and the visibility is fed to the network as an input channel. So a
missing point is always seen as "(0, 0), not visible" — the network can learn
to ignore it instead of trusting a garbage position — and NaNs from the
detector never reach the weights.

Network: an MLP, ``Linear → LayerNorm → ReLU``, then residual blocks
``x + Linear(ReLU(Linear(LayerNorm(x))))`` and an output ``Linear`` to the
feature width (2048 by default, the width the temporal encoder and regressor
expect). A few hundred thousand multiply-adds per frame: cheap on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["KeypointEncoderConfig", "KeypointEncoder", "mask_missing"]


@dataclass
class KeypointEncoderConfig:
    """Arguments of :class:`KeypointEncoder`.

    ``num_keypoints`` is 33 for MediaPipe BlazePose; ``use_world`` adds its
    3D world landmarks (metres, hip-centred) as input.
    """

    num_keypoints: int = 33
    use_world: bool = False
    hidden_dim: int = 512
    num_blocks: int = 2
    out_dim: int = 2048
    dropout: float = 0.0


def mask_missing(
    keypoints_2d: torch.Tensor, keypoints_world: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Zero missing points.

    Args:
        keypoints_2d: ``(..., K, 3)`` ``(x, y, visibility)``.
        keypoints_world: optional ``(..., K, 3)`` metric landmarks.

    Returns:
        ``xy (..., K, 2)``, ``visibility (..., K)`` and ``world (..., K, 3)``
        (or ``None``), where points with visibility 0 or non-finite values have
        coordinates 0 and visibility 0.
    """
    xy = keypoints_2d[..., :2]
    visibility = keypoints_2d[..., 2].clamp(0.0, 1.0)
    present = (visibility > 0) & torch.isfinite(xy).all(-1) & torch.isfinite(keypoints_2d[..., 2])
    if keypoints_world is not None:
        present = present & torch.isfinite(keypoints_world).all(-1)
    zero = torch.zeros((), dtype=keypoints_2d.dtype, device=keypoints_2d.device)
    xy = torch.where(present[..., None], xy, zero)
    visibility = torch.where(present, visibility, zero)
    world = None
    if keypoints_world is not None:
        world = torch.where(present[..., None], keypoints_world, zero)
    return xy, visibility, world


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.fc2(torch.relu(self.fc1(self.norm(x)))))


class KeypointEncoder(nn.Module):
    """Landmarks ``(..., K, 3)`` (+ optional world ``(..., K, 3)``) → features ``(..., out_dim)``."""

    def __init__(
        self,
        num_keypoints: int = 33,
        use_world: bool = False,
        hidden_dim: int = 512,
        num_blocks: int = 2,
        out_dim: int = 2048,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.num_keypoints = num_keypoints
        self.use_world = use_world
        self.out_dim = out_dim
        in_dim = num_keypoints * (6 if use_world else 3)
        self.input = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.LayerNorm(hidden_dim), nn.ReLU())
        self.blocks = nn.Sequential(*[_ResidualBlock(hidden_dim, dropout) for _ in range(num_blocks)])
        self.output = nn.Sequential(nn.LayerNorm(hidden_dim), nn.Linear(hidden_dim, out_dim))

    @classmethod
    def from_config(cls, config: KeypointEncoderConfig) -> "KeypointEncoder":
        """Build from a :class:`KeypointEncoderConfig`."""
        return cls(**vars(config))

    def forward(self, keypoints_2d: torch.Tensor, keypoints_world: torch.Tensor | None = None) -> torch.Tensor:
        """Encode landmarks.

        Args:
            keypoints_2d: ``(..., K, 3)`` box-normalised ``(x, y)`` in ``[-1, 1]`` and visibility.
            keypoints_world: ``(..., K, 3)`` metric landmarks; required iff ``use_world``.

        Returns:
            ``(..., out_dim)`` features.
        """
        if keypoints_2d.shape[-2:] != (self.num_keypoints, 3):
            raise ValueError(f"expected (..., {self.num_keypoints}, 3) landmarks, got {tuple(keypoints_2d.shape)}")
        if self.use_world != (keypoints_world is not None):
            raise ValueError("keypoints_world must be given exactly when the encoder uses world landmarks")
        xy, visibility, world = mask_missing(keypoints_2d, keypoints_world)
        parts = [xy, visibility[..., None]] + ([world] if world is not None else [])
        x = torch.cat(parts, dim=-1).flatten(-2)
        return self.output(self.blocks(self.input(x)))
