"""Joint correspondence of a foreign skeleton with the body model's, and the IK route onto it.

A clip whose joint names cover the body's bones goes bone for bone
(`vibe.data.retarget.retarget_motion`). Any other skeleton is matched on
anatomical points (`vibe.data.mocap.joint_names.anatomical_points`: pelvis,
neck, head, hips, knees, ankles, balls of the feet, shoulders, elbows,
wrists), optionally overridden by a user's YAML joint map, and the body is
fitted to those points' positions by inverse kinematics
(`vibe.data.retarget.fit_to_joint_positions`), after scaling the source
about the world origin by the ratio of leg lengths (so its floor stays at
y = 0 and its strides follow the body's legs). `ClipFit` reports how close
the fit came.

Joint map file (``--joint-map``), YAML, source joint name → body joint name;
``null`` removes an automatic pair::

    hip: Hips
    lThigh: LeftUpLeg
    lButtock: null
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from vibe.body.base import BodyModel
from vibe.data.mocap import Motion, Skeleton, forward_kinematics
from vibe.data.mocap.joint_names import anatomical_points
from vibe.data.retarget import IKConfig, fit_to_joint_positions

__all__ = [
    "ANATOMY_TO_ANNY_CMU_MB",
    "IK_CONFIG",
    "MIN_POINTS",
    "ClipFit",
    "fit_clip",
    "joint_map_for",
    "load_joint_map",
]

log = logging.getLogger(__name__)

# Anatomical point → Anny cmu_mb bone whose head it is.
ANATOMY_TO_ANNY_CMU_MB: dict[str, str] = {
    "pelvis": "Hips",
    "neck": "Neck",
    "head": "Head",
    **{
        f"{side}_{point}": f"{side.capitalize()}{bone}"
        for side in ("left", "right")
        for point, bone in {
            "hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "toe": "ToeBase",
            "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand",
        }.items()
    },
}  # fmt: skip
# Fewest matched joints the fit is tried with: pelvis, hips, knees, ankles,
# shoulders, elbows, wrists less one (a torso and four limbs).
MIN_POINTS = 12
# The pelvis-to-hip bones stay rigid: other rigs put the hip joints elsewhere on the pelvis,
# and bending Anny's pelvis to reach them moved its hip joints by centimetres.
IK_CONFIG = IKConfig(stiff_joints=("LHipJoint", "RHipJoint"))
_LEGS = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))


@dataclass
class ClipFit:
    """How one clip reached the body.

    Attributes:
        clip: clip name.
        route: ``"bone-for-bone"`` or ``"ik"``.
        joints: number of matched joints (IK) or body bones (bone for bone).
        mean_mm, max_mm: distance of the fitted body joints to the source
            joints over all matched joints and frames (IK; NaN bone for bone).
        scale: source lengths multiplied by this before fitting (IK; 1 otherwise).
    """

    clip: str
    route: str
    joints: int
    mean_mm: float = float("nan")
    max_mm: float = float("nan")
    scale: float = 1.0

    def line(self) -> str:
        """One line for the command's report."""
        if self.route != "ik":
            return f"{self.clip}: bone for bone ({self.joints} bones)"
        return (
            f"{self.clip}: IK on {self.joints} joints, source scaled x{self.scale:.3f}, "
            f"fit error mean {self.mean_mm:.1f} mm, max {self.max_mm:.1f} mm"
        )


def load_joint_map(path: Path | str) -> dict[str, str | None]:
    """A YAML joint map (module docstring): source joint name → body joint name or ``None``."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a joint map is a YAML mapping 'source joint: body joint'")
    return {str(k): (None if v in (None, "") else str(v)) for k, v in data.items()}


def joint_map_for(
    skeleton: Skeleton, body_joints: list[str], overrides: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """Source joint name → body joint name: the automatic pairs, then ``overrides``.

    Override entries naming a joint this skeleton lacks are skipped (one map
    may serve the several skeletons of a folder).

    Raises:
        ValueError: an override names a body joint the body lacks, or fewer
            than `MIN_POINTS` joints are matched (the message lists them).
    """
    pairs = {src: ANATOMY_TO_ANNY_CMU_MB[p] for src, p in anatomical_points(skeleton).items()}
    pairs = {s: t for s, t in pairs.items() if t in body_joints}
    for src, dst in (overrides or {}).items():
        if src not in skeleton.joint_names:  # a map may serve several skeletons of a folder
            log.debug("joint map: %r is not a joint of this skeleton", src)
            continue
        if dst is not None and dst not in body_joints:
            raise ValueError(f"joint map: the body has no joint {dst!r} (it has {', '.join(body_joints)})")
        pairs.pop(src, None)
        if dst is not None:
            pairs = {s: t for s, t in pairs.items() if t != dst}  # one source joint per body joint
            pairs[src] = dst
    if len(pairs) < MIN_POINTS:
        found = ", ".join(f"{s}->{t}" for s, t in pairs.items()) or "none"
        raise ValueError(
            f"only {len(pairs)} joints of the source skeleton matched the body's (need {MIN_POINTS}: {found}); "
            "give a joint map (--joint-map FILE) for fit_to_joint_positions"
        )
    return pairs


def _leg_length(points: np.ndarray, index: Mapping[str, int]) -> float:
    """Mean hip→knee→ankle length over the legs whose three joints are matched, metres (NaN if none)."""
    lengths = [
        np.linalg.norm(points[index[a]] - points[index[b]]) + np.linalg.norm(points[index[b]] - points[index[c]])
        for a, b, c in _LEGS
        if {a, b, c} <= set(index)
    ]
    return float(np.mean(lengths)) if lengths else float("nan")


def _leg_scale(source_rest: np.ndarray, source_index: dict, body_rest: np.ndarray, body_index: dict) -> float:
    """Body / source leg length (1 when no leg is matched)."""
    ratio = _leg_length(body_rest, body_index) / _leg_length(source_rest, source_index)
    return ratio if np.isfinite(ratio) and ratio > 0 else 1.0


def _rest_points(skeleton: Skeleton) -> np.ndarray:
    """``(J, 3)`` rest joint positions."""
    return forward_kinematics(skeleton, np.broadcast_to(np.eye(3), (skeleton.num_joints, 3, 3)), np.zeros(3))[0]


def fit_clip(
    motion: Motion,
    body_model: BodyModel,
    shape: torch.Tensor,
    joint_map: Mapping[str, str],
    ik_config: IKConfig | None = None,
) -> tuple[np.ndarray, np.ndarray, ClipFit]:
    """Fit the body to a clip's joint positions through ``joint_map`` (source → body names).

    Returns:
        ``(T, J, 3, 3)`` body locals, ``(T, 3)`` body ``transl`` and the `ClipFit`.
        ``ik_config`` defaults to `IK_CONFIG`.
    """
    anatomy = {v: k for k, v in ANATOMY_TO_ANNY_CMU_MB.items()}
    src_index = {anatomy.get(t, t): motion.skeleton.index(s) for s, t in joint_map.items()}
    with torch.no_grad():
        body_rest = body_model(body_model.rest_pose(1), shape=shape).joints[0].double().cpu().numpy()
    body_index = {anatomy.get(t, t): body_model.joint_names.index(t) for t in joint_map.values()}
    scale = _leg_scale(_rest_points(motion.skeleton), src_index, body_rest, body_index)
    joints = torch.as_tensor(motion.joints() * scale, dtype=body_model.dtype)
    index_map = {motion.skeleton.index(s): t for s, t in joint_map.items()}
    if {"left_hip", "right_hip"} <= set(src_index) and "pelvis" in src_index:
        # Rigs put their root at different spots between the hips (CMU: 5 cm behind them):
        # the hip joints place the pelvis, the root target would only tilt it.
        index_map.pop(src_index["pelvis"])
    fit = fit_to_joint_positions(body_model, joints, index_map, shape=shape, config=ik_config or IK_CONFIG)
    error_mm = fit.error_m.double().cpu().numpy() * 1000.0
    report = ClipFit(motion.name, "ik", len(index_map), float(error_mm.mean()), float(error_mm.max()), scale)
    log.info("%s", report.line())
    return fit.pose_rotmat.double().cpu().numpy(), fit.transl.double().cpu().numpy(), report
