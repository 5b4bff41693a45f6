"""Build a `MotionDB` from mocap clips: read, resample, retarget, save.

`build_cmu_db` converts the CMU ASF/AMC release (one folder per subject,
``<subject>.asf`` and ``<subject>_<clip>.amc``, optionally a
``CLIP_INDEX.tsv`` with descriptions) onto Anny ``cmu_mb``; `build_db` does
the retargeting and saving for any clips and body model.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vibe.body.base import BodyModel
from vibe.data.correspondence import ClipFit, fit_clip, joint_map_for
from vibe.data.mocap import Motion, find_asf, load_asf_amc, resample
from vibe.data.motion_db import MotionDB
from vibe.data.retarget import IKConfig, RetargetConfig, fit_shape_to_skeleton, retarget_motion, target_skeleton

log = logging.getLogger(__name__)

__all__ = ["CMU_LICENCE", "DEFAULT_ANNY_PHENOTYPE", "ClipInfo", "build_cmu_db", "build_db", "default_anny_shape"]

CMU_LICENCE = "CMU mocap: free to use, not to resell"
# Fixed adult body the CMU clips are retargeted to (anny phenotype labels).
DEFAULT_ANNY_PHENOTYPE: dict[str, float] = {
    "gender": 0.5,
    "age": 0.8,
    "muscle": 0.5,
    "weight": 0.5,
    "height": 0.5,
    "proportions": 0.5,
}


@dataclass
class ClipInfo:
    """Per-clip metadata stored in the database."""

    subject: str = ""
    description: str = ""
    source: str = "bvh"
    licence: str = ""


def default_anny_shape(body_model: BodyModel) -> torch.Tensor:
    """``(1, S)`` shape of `DEFAULT_ANNY_PHENOTYPE` (labels the model lacks stay at its mean)."""
    shape = body_model.mean_shape(1)
    for label, value in DEFAULT_ANNY_PHENOTYPE.items():
        if label in body_model.phenotype_labels:
            shape[0, body_model.phenotype_labels.index(label)] = value
    return shape


def build_db(
    motions: Iterable[tuple[Motion, ClipInfo]],
    body_model: BodyModel,
    out_path: Path | str | None = None,
    body_model_name: str | None = None,
    shape: torch.Tensor | None = None,
    fit_shape: bool = False,
    config: RetargetConfig | None = None,
    joint_map: Mapping[str, str | None] | None = None,
    ik_config: IKConfig | None = None,
    fits: list[ClipFit] | None = None,
) -> MotionDB:
    """Retarget clips onto ``body_model`` and (optionally) save the database.

    Every clip whose joints cover the model's bones (through
    ``config.name_map``) and which ``joint_map`` does not name is transferred
    bone for bone (`retarget_motion`); the others are fitted by inverse
    kinematics to their joint positions (`vibe.data.correspondence.fit_clip`:
    joints matched from their naming convention, then ``joint_map``;
    positions in metres, y up, scaled to the body's leg length). Clips keep
    their frame rate (resample them first).

    Args:
        motions: ``(Motion, ClipInfo)`` pairs (an iterator is consumed once).
        body_model: target model.
        out_path: where to save the ``.npz``; ``None``: do not save.
        body_model_name: the ``body_model`` key (default
            ``"<model.name>/<rig>"`` when the model has a rig, else its name).
        shape: ``(1, S)`` shape for every clip; ``None``: `default_anny_shape`
            for models with phenotypes, else the mean shape.
        fit_shape: fit height and proportions to each clip's skeleton
            (`fit_shape_to_skeleton`, bone-for-bone clips only).
        config: bone correspondence for the bone-for-bone transfer.
        joint_map: source → model joint names overriding the automatic
            correspondence (``None`` values remove a pair); a clip with a
            joint named here takes the IK route.
        ik_config: IK settings.
        fits: if given, one `ClipFit` per clip is appended (route, fit error).

    Returns:
        The database.
    """
    if shape is None:
        shape = default_anny_shape(body_model) if hasattr(body_model, "phenotype_labels") else body_model.mean_shape(1)
    if body_model_name is None:
        rig = getattr(getattr(body_model, "config", None), "rig", None)
        body_model_name = f"{body_model.name}/{rig}" if rig else body_model.name
    fixed_target = target_skeleton(body_model, shape)
    rotmats, transls, shapes, infos, names, fps = [], [], [], [], [], []
    for motion, info in tqdm(motions, desc="retarget", unit="clip"):
        clip_shape = shape
        if fit_shape and _covers(motion, body_model, config, joint_map):
            clip_shape = fit_shape_to_skeleton(body_model, motion.skeleton, config, shape)
        target = target_skeleton(body_model, clip_shape) if fit_shape else fixed_target
        local, transl, fit = _retarget_clip(motion, body_model, clip_shape, target, config, joint_map, ik_config)
        if fits is not None:
            fits.append(fit)
        rotmats.append(local)
        transls.append(transl)
        shapes.append(clip_shape[0].detach().cpu().numpy())
        infos.append(info)
        names.append(motion.name)
        fps.append(motion.fps)
    db = MotionDB.from_clips(
        body_model=body_model_name,
        joint_names=body_model.joint_names,
        rotmats=rotmats,
        root_transls=transls,
        clip_name=names,
        subject=[i.subject for i in infos],
        description=[i.description for i in infos],
        source=[i.source for i in infos],
        licence=[i.licence for i in infos],
        fps=fps,
        shape=shapes,
    )
    if out_path is not None:
        db.save(out_path)
    return db


def _covers(motion: Motion, body_model: BodyModel, config: RetargetConfig | None, joint_map) -> bool:
    """Whether the clip goes bone for bone: its names cover the body's bones and ``joint_map`` names none."""
    names = set(motion.skeleton.joint_names)
    name_map = (config or RetargetConfig()).name_map
    if joint_map and names & set(joint_map):
        return False
    return all(name_map.get(n, n) in names for n in body_model.joint_names)


def _retarget_clip(
    motion: Motion,
    body_model: BodyModel,
    shape: torch.Tensor,
    target,
    config: RetargetConfig | None,
    joint_map: Mapping[str, str | None] | None,
    ik_config: IKConfig | None,
) -> tuple[np.ndarray, np.ndarray, ClipFit]:
    """``(T, J, 3, 3)`` locals, ``(T, 3)`` transl and the report of one clip (bone for bone, else IK)."""
    if _covers(motion, body_model, config, joint_map):
        result = retarget_motion(motion, target, config)
        return result.local_rotmat, result.root_transl, ClipFit(motion.name, "bone-for-bone", body_model.num_joints)
    pairs = joint_map_for(motion.skeleton, list(body_model.joint_names), joint_map)
    return fit_clip(motion, body_model, shape, pairs, ik_config)


def read_clip_index(root: Path) -> dict[str, str]:
    """Clip name → description from ``root/CLIP_INDEX.tsv`` (columns ``clip`` and
    ``description...``); empty when the file is absent."""
    path = root / "CLIP_INDEX.tsv"
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header = rows[0]
    desc_col = next(i for i, h in enumerate(header) if h.lower().startswith("description"))
    return {r[0]: r[desc_col] for r in rows[1:] if len(r) > desc_col}


def _cmu_clips(root: Path, fps: float, descriptions: dict[str, str]) -> Iterable[tuple[Motion, ClipInfo]]:
    """Read, trim and resample every ``.amc`` under ``root``, one at a time."""
    for amc in sorted(root.rglob("*.amc")):
        motion = load_asf_amc(find_asf(amc), amc)
        if fps and motion.fps != fps:
            motion = resample(motion, fps)
        subject = amc.stem.split("_")[0]
        yield motion, ClipInfo(subject, descriptions.get(amc.stem, ""), "cmu-asf-amc", CMU_LICENCE)


def build_cmu_db(
    asf_amc_root: Path | str,
    out_path: Path | str,
    fps: float = 30.0,
    body_model: BodyModel | None = None,
    fit_shape: bool = False,
) -> MotionDB:
    """Convert a CMU ASF/AMC folder to an Anny ``cmu_mb`` motion database.

    Args:
        asf_amc_root: folder with the subjects' ``.asf`` and ``.amc`` files
            (searched recursively; ``CLIP_INDEX.tsv`` there gives descriptions).
        out_path: the ``.npz`` to write.
        fps: output frame rate.
        body_model: an ``Anny`` (rig ``cmu_mb``); ``None`` builds the default one.
        fit_shape: fit each subject's height and proportions instead of the
            fixed `DEFAULT_ANNY_PHENOTYPE` body.

    Returns:
        The database written to ``out_path``.
    """
    root = Path(asf_amc_root)
    if body_model is None:
        from vibe.body.anny import Anny

        body_model = Anny()
    clips = _cmu_clips(root, fps, read_clip_index(root))
    return build_db(clips, body_model, out_path, fit_shape=fit_shape)
