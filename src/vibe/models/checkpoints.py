"""Loading the released checkpoints (VIBE, SPIN) and saving/loading our own.

Released files (user-supplied, see DESIGN §4):

- ``vibe_model_w(o)_3dpw.pth.tar``: ``gen_state_dict`` → :class:`~vibe.models.vibe.VIBE`
  (``encoder.*``, ``regressor.*``; the SMPL layer's buffers ``regressor.smpl.*``
  are ignored: our body model is separate), ``disc_motion_state_dict`` →
  :class:`~vibe.models.discriminator.MotionDiscriminator`.
- ``spin_model_checkpoint.pth.tar``: ``model`` → :class:`~vibe.models.backbone.HMRBackbone`
  (torchvision ResNet-50 names) and the regressor (``fc1``, ``fc2``, ``dec*``, ``init_*``).

Loading is strict: any missing or unexpected key raises
:class:`CheckpointMismatchError` naming them. Everything is read with
``torch.load(weights_only=True)``; numpy scalars (the original stores its
validation score as ``numpy.float64``) are allow-listed for that.

Our own format is a dict of plain values and tensors: ``format``, ``config``
(plain dict), ``body_model`` (name), ``versions`` (vibe, torch),
``generator`` (state dict without the body model), optional ``discriminator``
and ``discriminator_config``, and ``extra`` (plain values).
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

import vibe
from vibe.models.backbone import HMRBackbone
from vibe.models.discriminator import MotionDiscriminator
from vibe.models.regressor import Regressor
from vibe.models.vibe import VIBE, VIBEConfig

__all__ = [
    "CheckpointMismatchError",
    "CHECKPOINT_FORMAT",
    "load_released_vibe",
    "load_spin",
    "read_checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "LoadedCheckpoint",
    "load_generator_weights",
    "export_release",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "vibe-hmr/1"
_IGNORED_GEN_PREFIX = "regressor.smpl."
_BACKBONE_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


class CheckpointMismatchError(RuntimeError):
    """A state dict does not fit the network: lists the missing and unexpected keys."""

    def __init__(self, what: str, missing: list[str], unexpected: list[str], shape_errors: list[str] | None = None):
        self.missing, self.unexpected, self.shape_errors = missing, unexpected, shape_errors or []
        parts = [f"{what} does not match the network"]
        if missing:
            parts.append(f"missing keys: {missing}")
        if unexpected:
            parts.append(f"unexpected keys: {unexpected}")
        if self.shape_errors:
            parts.append(f"shape mismatches: {self.shape_errors}")
        super().__init__("; ".join(parts))


def _numpy_scalar_globals() -> list[Any]:
    """What ``weights_only`` unpickling needs for numpy scalars, under numpy 1.x and 2.x names."""
    try:
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # numpy < 1.26
        multiarray = importlib.import_module("numpy.core.multiarray")
    allowed: list[Any] = [(multiarray.scalar, f"{core}.multiarray.scalar") for core in ("numpy.core", "numpy._core")]
    allowed.append(np.dtype)
    allowed += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32")]
    return allowed


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` (tensors, containers, numbers, numpy scalars only)."""
    with torch.serialization.safe_globals(_numpy_scalar_globals()):
        data = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict checkpoint, got {type(data).__name__}")
    return data


def _load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """``load_state_dict(strict=True)`` that raises :class:`CheckpointMismatchError` with clear lists."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs network {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        raise CheckpointMismatchError(what, missing, unexpected, shapes)
    module.load_state_dict(dict(state), strict=True)


def _split(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_released_vibe(
    path: str | os.PathLike,
    model: VIBE,
    discriminator: MotionDiscriminator | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load ``vibe_model_w(o)_3dpw.pth.tar`` into ``model`` (and ``discriminator``).

    Returns:
        ``{"epoch": ..., "performance": ...}`` from the file.

    Raises:
        CheckpointMismatchError: keys other than ``encoder.*``, ``regressor.*``
            and the ignored ``regressor.smpl.*``, or missing/misshaped keys.
    """
    data = read_checkpoint(path, map_location)
    gen = {k: v for k, v in data["gen_state_dict"].items() if not k.startswith(_IGNORED_GEN_PREFIX)}
    stray = sorted(k for k in gen if not k.startswith(("encoder.", "regressor.")))
    if stray:
        raise CheckpointMismatchError(f"{path}: gen_state_dict", [], stray)
    _load_strict(model.encoder, _split(gen, "encoder."), f"{path}: gen_state_dict encoder.*")
    _load_strict(model.regressor, _split(gen, "regressor."), f"{path}: gen_state_dict regressor.*")
    if discriminator is not None:
        _load_strict(discriminator, data["disc_motion_state_dict"], f"{path}: disc_motion_state_dict")
    logger.info("loaded released VIBE weights from %s (epoch %s)", path, data.get("epoch"))
    return {"epoch": data.get("epoch"), "performance": data.get("performance")}


def load_spin(
    path: str | os.PathLike,
    backbone: HMRBackbone | None = None,
    regressor: Regressor | None = None,
    map_location: str | torch.device = "cpu",
) -> None:
    """Load SPIN's ``spin_model_checkpoint.pth.tar`` (``model``) into the backbone and/or regressor.

    The ``model`` dict is split by name: ResNet-50 keys (``conv1``, ``bn1``,
    ``layer1``…``layer4``) and regressor keys (everything else). Each part
    given is loaded strictly; a key belonging to neither raises.
    """
    state = read_checkpoint(path, map_location)["model"]
    backbone_state = {k: v for k, v in state.items() if k.startswith(_BACKBONE_PREFIXES)}
    regressor_state = {k: v for k, v in state.items() if not k.startswith(_BACKBONE_PREFIXES)}
    if backbone is not None:
        _load_strict(backbone, backbone_state, f"{path}: model (ResNet-50)")
    if regressor is not None:
        _load_strict(regressor, regressor_state, f"{path}: model (regressor)")
    logger.info("loaded SPIN weights from %s", path)


@dataclass
class LoadedCheckpoint:
    """Contents of one of our checkpoints, for :func:`load_checkpoint`."""

    config: VIBEConfig
    body_model: str
    versions: dict[str, str]
    generator: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor] | None = None
    discriminator_config: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | os.PathLike,
    model: VIBE,
    discriminator: MotionDiscriminator | None = None,
    discriminator_config: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write our checkpoint (temp name, then rename). ``extra`` must hold plain values/tensors."""
    path = Path(path)
    data: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "body_model": model.body.name,
        "versions": {"vibe": str(vibe.__version__), "torch": str(torch.__version__)},
        "generator": model.learned_state_dict(),
        "extra": dict(extra or {}),
    }
    if discriminator is not None:
        data["discriminator"] = discriminator.state_dict()
        data["discriminator_config"] = dict(discriminator_config or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Read one of our checkpoints (see :func:`save_checkpoint`)."""
    data = read_checkpoint(path, map_location)
    if data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a {CHECKPOINT_FORMAT} checkpoint (format={data.get('format')!r})")
    return LoadedCheckpoint(
        config=VIBEConfig.from_dict(data["config"]),
        body_model=data["body_model"],
        versions=dict(data["versions"]),
        generator=data["generator"],
        discriminator=data.get("discriminator"),
        discriminator_config=data.get("discriminator_config"),
        extra=dict(data.get("extra", {})),
    )


def load_generator_weights(model: VIBE, checkpoint: LoadedCheckpoint) -> None:
    """Load ``checkpoint.generator`` into ``model`` strictly (the body model must match by name)."""
    if checkpoint.body_model != model.body.name:
        raise ValueError(f"checkpoint is for body model {checkpoint.body_model!r}, model uses {model.body.name!r}")
    _load_strict(model, {**model.fixed_state_dict(), **checkpoint.generator}, "generator state dict")


# Training-state entries of ``extra`` that a released model does not need.
_TRAINING_STATE_KEYS = ("gen_optimizer", "gen_scheduler", "disc_optimizer", "disc_scheduler", "rng", "mposer")


def export_release(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy a training checkpoint without its optimiser, scheduler and random states.

    Keeps the generator, the motion discriminator, the config, versions and the
    run's record (epoch, step, validation metrics, training config), so the
    released file documents how it was made and can still seed fine-tuning.
    """
    data = read_checkpoint(src, "cpu")
    if data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{src}: not a {CHECKPOINT_FORMAT} checkpoint")
    data["extra"] = {k: v for k, v in data.get("extra", {}).items() if k not in _TRAINING_STATE_KEYS}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    torch.save(data, tmp)
    os.replace(tmp, dst)
    return dst

