"""The demo's generator: our open checkpoint or the released VIBE + SPIN files, ready to run.

:func:`build_model` checks that every file the chosen stack needs is there
before anything is written, and raises the demo's errors naming what is missing.
:func:`load_demo_model` wraps it with the device, so a process that runs many
videos (``vibe batch``) loads the generator once and hands it to every
:func:`~vibe.pipeline.run.run_demo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from vibe import assets
from vibe.pipeline.demo_config import DemoConfig, MissingAssetsError, NoTrainedWeightsError

__all__ = [
    "OPEN_WEIGHTS_FILE", "DemoModel", "default_open_weights", "build_model", "load_demo_model", "model_key",
    "open_generator",
]  # fmt: skip

OPEN_WEIGHTS_FILE = "open_anny.pt"


def default_open_weights() -> Path:
    """Where the committed open model lives: ``vibe/resources/weights/open_anny.pt``."""
    return Path(str(resources.files("vibe") / "resources" / "weights" / OPEN_WEIGHTS_FILE))


def model_key(config: DemoConfig) -> tuple[str, str, str]:
    """What decides which generator a run needs: ``(stack, checkpoint, device option)``."""
    return config.stack, str(config.checkpoint or "") + "".join(f"+{p}" for p in config.ensemble), config.device


@dataclass
class DemoModel:
    """A loaded generator: ``model`` (eval mode, on ``device``), its ``weights`` description, its ``key``."""

    model: torch.nn.Module
    weights: dict
    device: torch.device
    key: tuple[str, str, str]


def load_demo_model(config: DemoConfig, open_weights: Path | None = None) -> DemoModel:
    """The generator ``config`` asks for, on its device (``open_weights`` and errors: :func:`build_model`)."""
    from vibe.pipeline.stages import resolve_device

    device = resolve_device(config.device)
    model, weights = build_model(config, device, open_weights)
    return DemoModel(model, weights, device, model_key(config))


def build_model(config: DemoConfig, device: torch.device, open_weights: Path | None = None):
    """The generator (eval mode, on ``device``) and a description of its weights.

    ``open_weights``: the open stack's default weights (None: :func:`default_open_weights`).

    Raises:
        NoTrainedWeightsError: open stack, no installed weights and no checkpoint.
        MissingAssetsError: smpl stack files, or a given checkpoint, not found.
    """
    from vibe.models.checkpoints import load_checkpoint
    from vibe.models.vibe import VIBE

    if config.stack == "open":
        path = Path(config.checkpoint) if config.checkpoint else (open_weights or default_open_weights())
        if not path.exists():
            if config.checkpoint:
                raise MissingAssetsError([path], "the --checkpoint option")
            raise NoTrainedWeightsError(
                f"no trained open weights are installed (expected {path}); pass a checkpoint with --checkpoint FILE"
            )
        ckpt = load_checkpoint(path, map_location="cpu")
        body = _open_body(ckpt.body_model, path)
        model = open_generator(ckpt, body)
        weights = {"checkpoint": str(path), "format": "vibe-hmr", "versions": ckpt.versions}
        if config.ensemble:
            model = _ensemble(model, ckpt.body_model, config.ensemble)
            weights["ensemble"] = [str(p) for p in config.ensemble]
    else:
        from vibe.body.smpl import SMPL, load_mean_params
        from vibe.models.checkpoints import load_released_vibe, load_spin
        from vibe.models.regressor import RegressorInit
        from vibe.models.vibe import VIBEConfig

        smpl, ckpts = assets.smpl_dir(), assets.checkpoints_dir()
        vibe_path = Path(config.checkpoint) if config.checkpoint else ckpts / "vibe_model_wo_3dpw.pth.tar"
        spin_path = ckpts / "spin_model_checkpoint.pth.tar"
        needed = [
            smpl / "SMPL_NEUTRAL.pkl",
            smpl / "J_regressor_extra.npy",
            smpl / "J_regressor_h36m.npy",
            smpl / "smpl_mean_params.npz",
            vibe_path,
            spin_path,
        ]
        missing = [p for p in needed if not p.exists()]
        if missing:
            raise MissingAssetsError(missing, "the smpl stack")
        body = _smpl_or_raise(lambda: SMPL(), "the smpl stack")
        init = RegressorInit.from_mean_params(load_mean_params())
        model = VIBE(VIBEConfig(feature_source="resnet", keypoint_set="spin49", return_vertices=False), body, init)
        info = load_released_vibe(vibe_path, model)
        load_spin(spin_path, backbone=model.backbone)
        weights = {"checkpoint": str(vibe_path), "spin": str(spin_path), "format": "released", "epoch": info["epoch"]}
    return model.to(device).eval(), weights


def _ensemble(model, body_model: str, extra_paths) -> torch.nn.Module:
    """``model`` and the open checkpoints ``extra_paths`` (same body model) as one averaged generator."""
    from vibe.models.checkpoints import load_checkpoint
    from vibe.models.ensemble import GeneratorEnsemble

    members = [model]
    for extra in map(Path, extra_paths):
        if not extra.exists():
            raise MissingAssetsError([extra], "the ensemble option")
        other = load_checkpoint(extra, map_location="cpu")
        if other.body_model != body_model:
            raise ValueError(f"{extra}: trained on {other.body_model!r}, not {body_model!r}")
        members.append(open_generator(other, model.body))
    return GeneratorEnsemble(members)


def _open_body(name: str, path: Path):
    """The body model an open checkpoint at ``path`` was trained on (``"anny"`` or ``"smpl"``)."""
    if name == "anny":
        from vibe.body.anny import Anny

        return Anny()
    if name == "smpl":
        from vibe.body.smpl import SMPL

        return _smpl_or_raise(lambda: SMPL(), "the checkpoint's SMPL body")
    raise ValueError(f"{path}: unknown body model {name!r}")


def open_generator(ckpt, body):
    """An open checkpoint's generator on ``body`` (vertices posed later, only where needed)."""
    from vibe.models.checkpoints import load_generator_weights
    from vibe.models.vibe import VIBE

    model_config = ckpt.config
    model_config.return_vertices = False
    model = VIBE(model_config, body)
    load_generator_weights(model, ckpt)
    return model


def _smpl_or_raise(make, purpose: str):
    try:
        return make()
    except assets.MissingAssetError as exc:
        raise MissingAssetsError(exc.missing, purpose) from exc
