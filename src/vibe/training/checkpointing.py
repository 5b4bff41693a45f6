"""Training checkpoints: what a run writes after each epoch and how a run resumes from one.

``last.pt`` and ``best.pt`` (lowest validation PA-MPJPE) go through
:func:`vibe.models.checkpoints.save_checkpoint`; besides the networks they
carry the optimisers, the schedulers, the MPoser prior, the in-loop fits
(``pseudo_gt``) and every rank's random state, so that
:func:`resume_training` continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vibe.config import to_dict
from vibe.fitting.pseudo_gt import merge_fit_states
from vibe.models.checkpoints import load_checkpoint, load_generator_weights, save_checkpoint
from vibe.models.vibe import VIBE
from vibe.training.distributed import all_gather_objects

if TYPE_CHECKING:  # a type only: the trainer calls this module
    from vibe.training.trainer import Trainer

__all__ = ["LAST_CHECKPOINT", "BEST_CHECKPOINT", "TrainState", "rng_state", "save_training_checkpoint",
           "resume_training", "init_generator", "train_only"]

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


@dataclasses.dataclass
class TrainState:
    """Where training stands: the next epoch to run, steps done, best validation PA-MPJPE (mm)."""

    epoch: int = 0
    global_step: int = 0
    best_pa_mpjpe: float = math.inf


def rng_state(rng: np.random.Generator, device: torch.device) -> dict[str, Any]:
    """This process's random state: the data generator ``rng``, torch's CPU (and ``device``'s CUDA) generator."""
    state: dict[str, Any] = {
        "numpy": json.dumps(rng.bit_generator.state),  # 128-bit ints: kept as text
        "torch": torch.get_rng_state(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def save_training_checkpoint(trainer: Trainer, path: Path, metrics: dict[str, float]) -> None:
    """Write ``trainer``'s checkpoint to ``path`` (rank 0 writes; every rank contributes its random state)."""
    rng_states = all_gather_objects(rng_state(trainer.rng, trainer.device), trainer.info)
    fits = None
    if trainer.in_loop is not None and trainer.config.smplify_in_loop.checkpoint_fits:
        fits = merge_fit_states(all_gather_objects(trainer.in_loop.pseudo_gt.state_dict(), trainer.info))
    if not trainer.info.is_main:
        return
    optim = lambda o: None if o is None else o.state_dict()  # noqa: E731
    extra = {
        "epoch": trainer.state.epoch,
        "global_step": trainer.state.global_step,
        "best_pa_mpjpe": trainer.state.best_pa_mpjpe,
        "val_metrics": dict(metrics),
        "train_config": to_dict(trainer.config),
        "gen_optimizer": trainer.gen_optimizer.state_dict(),
        "gen_scheduler": trainer.gen_scheduler.state_dict(),
        "disc_optimizer": optim(trainer.disc_optimizer),
        "disc_scheduler": optim(trainer.disc_scheduler),
        "mposer": None if trainer.mposer is None else trainer.mposer.state_dict(),
        "rng": rng_states,
        "pseudo_gt": fits,
    }
    disc_config = None if trainer.disc_config is None else dataclasses.asdict(trainer.disc_config)
    save_checkpoint(path, trainer.generator_raw, trainer.discriminator_raw, disc_config, extra)
    logger.info("saved %s", path)


def resume_training(trainer: Trainer, path: str | Path) -> None:
    """Load a checkpoint written by :func:`save_training_checkpoint` into ``trainer``
    (weights, optimisers, schedules, in-loop fits, state, random state)."""
    ckpt = load_checkpoint(path, map_location=trainer.device)
    extra = ckpt.extra
    load_generator_weights(trainer.generator_raw, ckpt)
    _load_prior(trainer, ckpt, path)
    trainer.gen_optimizer.load_state_dict(extra["gen_optimizer"])
    trainer.gen_scheduler.load_state_dict(extra["gen_scheduler"])
    if trainer.in_loop is not None:
        fits = extra.get("pseudo_gt")
        if fits is None:
            logger.warning("%s holds no in-loop fits: fitting starts from an empty store", path)
        else:
            trainer.in_loop.pseudo_gt.load_state_dict(fits)
    trainer.state = TrainState(
        epoch=int(extra["epoch"]), global_step=int(extra["global_step"]), best_pa_mpjpe=float(extra["best_pa_mpjpe"])
    )
    _load_rng_state(trainer, extra["rng"])
    logger.info("resumed from %s at epoch %d (step %d)", path, trainer.state.epoch, trainer.state.global_step)


def _load_prior(trainer: Trainer, ckpt, path: str | Path) -> None:
    """The motion discriminator (weights, optimiser, scheduler) or the frozen MPoser of ``ckpt``."""
    extra = ckpt.extra
    if trainer.discriminator_raw is not None:
        if ckpt.discriminator is None:
            raise ValueError(f"{path} has no discriminator for prior {trainer.config.prior!r}")
        trainer.discriminator_raw.load_state_dict(ckpt.discriminator)
        trainer.disc_optimizer.load_state_dict(extra["disc_optimizer"])
        trainer.disc_scheduler.load_state_dict(extra["disc_scheduler"])
    if trainer.mposer is not None:
        if extra.get("mposer") is None:
            raise ValueError(f"{path} has no MPoser state")
        trainer.mposer.load_state_dict(extra["mposer"])
        trainer.mposer.eval()
        trainer.mposer.requires_grad_(False)
        trainer._mposer_ready = True


def _load_rng_state(trainer: Trainer, states: list[dict[str, Any]]) -> None:
    """Restore this rank's random state from the per-rank ``states`` of a checkpoint."""
    if len(states) != trainer.info.world_size:
        logger.warning("checkpoint has random states of %d processes, this run has %d: the data stream "
                       "will differ from an uninterrupted run", len(states), trainer.info.world_size)  # fmt: skip
    mine = states[trainer.info.rank % len(states)]
    trainer.rng.bit_generator.state = json.loads(mine["numpy"])
    torch.set_rng_state(mine["torch"].cpu())
    if trainer.device.type == "cuda" and "cuda" in mine:
        torch.cuda.set_rng_state(mine["cuda"].cpu(), trainer.device)


def init_generator(generator: VIBE, path: str | Path, trained: list[str]) -> list[str]:
    """Load a checkpoint's generator weights into ``generator`` to start a new run from them.

    Entries of the network that the file lacks (a branch added since, e.g. the
    look-ahead GRU) keep their fresh values; each must lie under one of the
    ``trained`` prefixes, else it would stay untrained. Returns those entries.
    """
    checkpoint = load_checkpoint(path)
    fresh = {k: v for k, v in generator.learned_state_dict().items() if k not in checkpoint.generator}
    untrained = [k for k in fresh if not k.startswith(tuple(trained))]
    if untrained:
        raise ValueError(f"{path} lacks {untrained}, which train_only leaves fixed")
    load_generator_weights(generator, dataclasses.replace(checkpoint, generator={**fresh, **checkpoint.generator}))
    return list(fresh)


def train_only(generator: VIBE, prefixes: list[str]) -> int:
    """Fix every parameter of ``generator`` outside ``prefixes``; returns how many values still train."""
    trained = 0
    for name, param in generator.named_parameters():
        if not name.startswith(tuple(prefixes)):
            param.requires_grad_(False)
        trained += param.numel() if param.requires_grad else 0
    if trained == 0:
        raise ValueError(f"train_only {prefixes} names no parameter")
    return trained
