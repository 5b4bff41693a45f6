"""Where user-supplied files (SMPL, checkpoints, datasets) and caches live.

Nothing here is a global path constant: every location derives from the
``VIBE_DATA_DIR`` / ``VIBE_CACHE_DIR`` environment variables at call time, or
from explicit arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def data_dir() -> Path:
    """Root of the user's licensed files: ``$VIBE_DATA_DIR`` or ``~/.local/share/vibe``."""
    env = os.environ.get("VIBE_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "vibe"


def cache_dir() -> Path:
    """Root of rebuildable caches: ``$VIBE_CACHE_DIR`` or ``~/.cache/vibe``."""
    env = os.environ.get("VIBE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vibe"


def smpl_dir(root: Path | None = None) -> Path:
    """Folder holding SMPL files (``SMPL_NEUTRAL.pkl``, regressors, mean params)."""
    return (root or data_dir()) / "smpl"


def checkpoints_dir(root: Path | None = None) -> Path:
    """Folder holding the released VIBE and SPIN checkpoints."""
    return (root or data_dir()) / "checkpoints"


def datasets_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "datasets"


class MissingAssetError(FileNotFoundError):
    """A user-supplied file is missing; the message names each file and where it goes."""

    def __init__(self, missing: list[Path], purpose: str):
        self.missing = list(missing)
        lines = "\n".join(f"  - {p.name}  →  put it at {p}" for p in self.missing)
        super().__init__(
            f"{purpose} needs files that are not there:\n{lines}\n"
            "These are licensed files you download yourself (see README, 'SMPL files'); "
            "set VIBE_DATA_DIR to use another root folder."
        )


def require(paths: list[Path], purpose: str) -> None:
    """Raise :class:`MissingAssetError` naming every path in ``paths`` that does not exist."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise MissingAssetError(missing, purpose)


@dataclass(frozen=True)
class AssetStatus:
    path: Path
    found: bool
    enables: str


def check_assets(root: Path | None = None) -> list[AssetStatus]:
    """Every user-supplied file the project knows, whether it is present and what it enables."""
    smpl = smpl_dir(root)
    ckpt = checkpoints_dir(root)
    table = [
        (smpl / "SMPL_NEUTRAL.pkl", "the smpl stack (body model)"),
        (smpl / "SMPL_MALE.pkl", "gendered SMPL ground truth (3DPW evaluation)"),
        (smpl / "SMPL_FEMALE.pkl", "gendered SMPL ground truth (3DPW evaluation)"),
        (smpl / "J_regressor_extra.npy", "the 49-joint SMPL keypoint set"),
        (smpl / "J_regressor_h36m.npy", "the 14/17-joint SMPL evaluation joints"),
        (smpl / "smpl_mean_params.npz", "the SMPL regressor's initial estimate"),
        (smpl / "gmm_08.pkl", "the SMPLify pose prior for SMPL refinement"),
        (ckpt / "vibe_model_wo_3dpw.pth.tar", "the released VIBE generator (smpl stack)"),
        (ckpt / "spin_model_checkpoint.pth.tar", "the ResNet-50 feature extractor (smpl stack)"),
    ]
    return [AssetStatus(p, p.exists(), why) for p, why in table]
