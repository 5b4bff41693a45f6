"""MPoser: a sequential VAE over pose sequences, used as a motion prior (paper §3.3).

The paper's description: GRU encoder and decoder, a latent ``z_t ∈ R^32`` per
frame, trained on mocap (AMASS) as a VAE; used in place of D_M by adding
``L_MPoser = ||z||`` to the generator loss. No code or weights were released,
so the details here are ours:

- input: local rotations of the body joints without the root, ``(B, T, J', 3, 3)``,
  fed as 6D (continuous) — the same frames of motion D_M sees;
- encoder: bidirectional GRU → per-frame ``mu``, ``logvar`` (a frame's code may
  use context on both sides, as in a sequential VAE's smoothing posterior);
- decoder: unidirectional GRU over ``z`` → per-frame 6D → rotation matrices;
- prior loss: mean over frames of ``||mu_t||²`` (the encoder mean, so the
  regulariser is deterministic); squared rather than the paper's norm
  because it is smooth at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vibe.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d

__all__ = ["MPoserConfig", "MPoserOutput", "MPoser"]


@dataclass
class MPoserConfig:
    """Arguments of :class:`MPoser`; ``num_joints`` counts the modelled joints (SMPL: 23)."""

    num_joints: int = 23
    latent_dim: int = 32
    hidden_size: int = 512
    num_layers: int = 2


@dataclass
class MPoserOutput:
    """Result of encoding and decoding ``B`` sequences of ``T`` frames.

    Attributes:
        mu: ``(B, T, Z)`` posterior means.
        logvar: ``(B, T, Z)`` posterior log-variances.
        z: ``(B, T, Z)`` the decoded latent (a sample in training, ``mu`` otherwise).
        pose_rotmat: ``(B, T, J', 3, 3)`` reconstructed rotations.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    pose_rotmat: torch.Tensor


class MPoser(nn.Module):
    """Sequential VAE ``(B, T, J', 3, 3) → z (B, T, Z) → (B, T, J', 3, 3)``."""

    def __init__(self, num_joints: int = 23, latent_dim: int = 32, hidden_size: int = 512, num_layers: int = 2):
        super().__init__()
        self.num_joints = num_joints
        pose_dim = 6 * num_joints
        self.encoder = nn.GRU(pose_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * hidden_size, latent_dim)
        self.to_logvar = nn.Linear(2 * hidden_size, latent_dim)
        self.decoder = nn.GRU(latent_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.to_pose = nn.Linear(hidden_size, pose_dim)

    @classmethod
    def from_config(cls, config: MPoserConfig) -> "MPoser":
        """Build from an :class:`MPoserConfig`."""
        return cls(**vars(config))

    def encode(self, pose_rotmat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotations ``(B, T, J', 3, 3)`` → ``mu, logvar``, each ``(B, T, Z)``."""
        states, _ = self.encoder(rotmat_to_rot6d(pose_rotmat).flatten(2))
        return self.to_mu(states), self.to_logvar(states)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``(B, T, Z)`` → rotations ``(B, T, J', 3, 3)``."""
        states, _ = self.decoder(z)
        pose_rot6d = self.to_pose(states).unflatten(-1, (self.num_joints, 6))
        return rot6d_to_rotmat(pose_rot6d)

    def forward(self, pose_rotmat: torch.Tensor, generator: torch.Generator | None = None) -> MPoserOutput:
        """Encode, sample (training mode) or take the mean (eval mode), decode.

        Args:
            pose_rotmat: ``(B, T, J', 3, 3)`` body-joint rotations.
            generator: optional random generator for the reparameterisation noise.
        """
        mu, logvar = self.encode(pose_rotmat)
        z = mu
        if self.training:
            noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
            z = mu + noise * torch.exp(0.5 * logvar)
        return MPoserOutput(mu=mu, logvar=logvar, z=z, pose_rotmat=self.decode(z))

    def prior_loss(self, pose_rotmat: torch.Tensor) -> torch.Tensor:
        """Motion-prior penalty: mean over ``B`` and ``T`` of ``||mu_t||²`` for ``(B, T, J', 3, 3)`` input; scalar."""
        mu, _ = self.encode(pose_rotmat)
        return mu.square().sum(-1).mean()
