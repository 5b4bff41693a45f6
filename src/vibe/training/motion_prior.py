"""The generator's motion prior during training: the motion discriminator D_M or MPoser.

``config.prior`` picks one (or ``"none"``): :func:`build_motion_prior` makes
the network, :func:`prepare_mposer` loads MPoser or pre-trains it on real
motion before the generator trains against it (frozen).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch

from vibe.losses import mposer_vae_loss
from vibe.models.discriminator import MotionDiscriminator, MotionDiscriminatorConfig, motion_feature_size
from vibe.models.mposer import MPoser
from vibe.training.config import TrainConfig
from vibe.training.batches import MotionSource
from vibe.training.distributed import DistInfo

__all__ = ["build_motion_prior", "prepare_mposer"]

logger = logging.getLogger(__name__)


def build_motion_prior(
    config: TrainConfig, num_joints: int, device: torch.device
) -> tuple[MotionDiscriminatorConfig | None, MotionDiscriminator | None, MPoser | None]:
    """``(disc_config, discriminator, mposer)`` of ``config.prior``, on ``device`` (the others ``None``).

    ``num_joints``: the body's joints, root included (the prior sees the non-root ones).
    """
    if config.prior == "motion_discriminator":
        d = config.discriminator
        disc_config = MotionDiscriminatorConfig(
            input_size=motion_feature_size(num_joints, d.representation),
            rnn_size=d.rnn_size,
            num_layers=d.num_layers,
            pooling=d.pooling,
            attention_size=d.attention_size,
            attention_layers=d.attention_layers,
            attention_dropout=d.attention_dropout,
        )
        return disc_config, MotionDiscriminator.from_config(disc_config).to(device), None
    if config.prior == "mposer":
        mp_cfg = dataclasses.replace(config.mposer.model, num_joints=num_joints - 1)
        return None, None, MPoser.from_config(mp_cfg).to(device)
    return None, None, None


def prepare_mposer(
    mposer: MPoser, motion_source: MotionSource, config: TrainConfig, device: torch.device, info: DistInfo
) -> None:
    """Load ``mposer`` from ``mposer.checkpoint`` or pre-train it on real motion; then freeze it.

    Pre-training draws from its own random streams (seeded by ``config.seed``),
    and rank 0's weights are broadcast, so every rank uses the same prior.
    """
    cfg = config.mposer
    if cfg.checkpoint:
        state = torch.load(cfg.checkpoint, map_location=device, weights_only=True)
        mposer.load_state_dict(state)
        logger.info("MPoser prior loaded from %s", cfg.checkpoint)
    else:
        _pretrain_mposer(mposer, motion_source, config, device)
        if info.enabled:
            import torch.distributed as dist

            for tensor in mposer.state_dict().values():
                dist.broadcast(tensor, src=0)
    mposer.eval()
    mposer.requires_grad_(False)


def _pretrain_mposer(mposer: MPoser, motion_source: MotionSource, config: TrainConfig, device: torch.device) -> None:
    """``mposer.pretrain_iters`` Adam steps of the VAE loss on windows of real motion (non-root joints)."""
    cfg = config.mposer
    rng = np.random.default_rng([config.seed, 0x4D50])
    noise = torch.Generator(device=device).manual_seed(config.seed)
    optimizer = torch.optim.Adam(mposer.parameters(), lr=cfg.lr)
    mposer.train()
    for it in range(cfg.pretrain_iters):
        real = motion_source.sample(rng, config.batch_size, config.seqlen).to(device)
        out = mposer(real[:, :, 1:], generator=noise)
        recon, kl, total = mposer_vae_loss(out.pose_rotmat, real[:, :, 1:], out.mu, out.logvar, cfg.kl_weight)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        if it % max(1, config.log_every) == 0:
            logger.info("MPoser pre-training %d/%d: recon %.5f kl %.3f", it, cfg.pretrain_iters, recon, kl)
