"""A small open-stack generator (BlazePose 33 → Anny) with fixed random weights, saved in our format."""

from __future__ import annotations

from pathlib import Path

import torch

from vibe.body.anny import Anny
from vibe.models.checkpoints import save_checkpoint
from vibe.models.keypoint_encoder import KeypointEncoderConfig
from vibe.models.temporal import TemporalEncoderConfig
from vibe.models.vibe import VIBE, VIBEConfig


def save_random_open_checkpoint(path: Path, body: Anny, width: int = 128, seed: int = 7) -> Path:
    """Write a ``width``-wide keypoint → Anny generator with seeded random weights to ``path``."""
    torch.manual_seed(seed)
    config = VIBEConfig(
        feature_source="keypoints",
        feature_dim=width,
        encoder=TemporalEncoderConfig(input_size=width, hidden_size=width // 2),
        keypoint_encoder=KeypointEncoderConfig(hidden_dim=width // 2, num_blocks=1, out_dim=width),
        keypoint_set="blazepose33",
        return_vertices=False,
    )
    return save_checkpoint(path, VIBE(config, body))
