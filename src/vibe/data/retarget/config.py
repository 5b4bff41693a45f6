"""The CMU ↔ Anny ``cmu_mb`` specifics of retargeting: bone name maps and :class:`RetargetConfig`.

:class:`RetargetConfig` says how target bones correspond to source bones; its
defaults are those of CMU 31-joint clips onto Anny's ``cmu_mb`` rig.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ANNY_CMU_MB_TO_CMU", "SMPL_TO_ANNY_CMU_MB", "RetargetConfig"]

# Anny cmu_mb bone name → CMU BVH joint name, where they differ.
ANNY_CMU_MB_TO_CMU: dict[str, str] = {
    "LeftHandFinger1": "LeftHandIndex1",
    "RightHandFinger1": "RightHandIndex1",
}

# SMPL joint → Anny cmu_mb bone whose head is the same anatomical point, for
# `fit_to_joint_positions` (AMASS → Anny). The spine joints sit at different
# heights in the two skeletons and are left out.
SMPL_TO_ANNY_CMU_MB: dict[str, str] = {
    "pelvis": "Hips",
    "neck": "Neck",
    "head": "Head",
    **{
        f"{side}_{smpl}": f"{side.capitalize()}{anny}"
        for side in ("left", "right")
        for smpl, anny in {
            "hip": "UpLeg",
            "knee": "Leg",
            "ankle": "Foot",
            "foot": "ToeBase",
            "collar": "Shoulder",
            "shoulder": "Arm",
            "elbow": "ForeArm",
            "wrist": "Hand",
        }.items()
    },
}


@dataclass(frozen=True)
class RetargetConfig:
    """How target bones correspond to source bones.

    Attributes:
        name_map: target bone name → source joint name where they differ
            (others match by name).
        rigid_bones: target bones that take their parent's rest offset instead
            of matching the source direction (bones the source never moves,
            whose rest layout belongs to each skeleton).
        twist_refs: target bone → child bone whose direction fixes the bone's
            twist (both skeletons must have that child).
        leg_bones: target names of thigh and shank bones, counted at full
            length in `leg_height` (they are straight under a standing body).
    """

    name_map: Mapping[str, str] = field(default_factory=lambda: dict(ANNY_CMU_MB_TO_CMU))
    # The collarbones keep the target's rest layout too: CMU's rest collarbone
    # points ~14° up, Anny's ~10° down, and matching their directions shrugged
    # every retargeted frame by ~25° (shoulders 1–4 cm below the neck base
    # instead of ~9 cm). Taking the parent's offset transfers the source's
    # collarbone motion relative to its rest instead.
    rigid_bones: tuple[str, ...] = ("LHipJoint", "RHipJoint", "LeftShoulder", "RightShoulder")
    twist_refs: Mapping[str, str] = field(
        default_factory=lambda: {"LeftHand": "LThumb", "RightHand": "RThumb"}
    )
    leg_bones: tuple[str, ...] = ("LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg")
