"""Retarget mocap `Motion` clips onto a body model's skeleton.

Two routes:

**Bone-for-bone transfer** (:func:`retarget_motion`,
:mod:`~vibe.data.retarget.transfer`), when every target bone has a source
bone of corresponding name (CMU 31-joint clips → Anny ``cmu_mb``): every
posed target bone points where its source bone points, through fixed rest
offsets between the two rest poses (:func:`rest_alignment`,
:mod:`~vibe.data.retarget.rest`), and the root follows the source root scaled
by the ratio of leg heights.

**Inverse kinematics** (:func:`fit_to_joint_positions`,
:mod:`~vibe.data.retarget.ik`), when names do not correspond (an arbitrary
BVH, AMASS/SMPL joints): a batched L-BFGS fit of the body model's skeleton to
source joint positions.

The CMU ↔ Anny ``cmu_mb`` specifics (bone name maps, rigid bones, twist
references, leg bones) are in :mod:`~vibe.data.retarget.config`.
"""

from vibe.data.retarget.config import ANNY_CMU_MB_TO_CMU, SMPL_TO_ANNY_CMU_MB, RetargetConfig
from vibe.data.retarget.ik import IKConfig, IKResult, fit_to_joint_positions
from vibe.data.retarget.rest import (
    RestAlignment,
    TargetSkeleton,
    fit_shape_to_skeleton,
    rest_alignment,
    swing_rotmat,
    target_skeleton,
)
from vibe.data.retarget.transfer import RetargetedMotion, leg_height, retarget_motion, unretarget_rotations

__all__ = [
    "ANNY_CMU_MB_TO_CMU",
    "IKConfig",
    "IKResult",
    "RestAlignment",
    "RetargetConfig",
    "RetargetedMotion",
    "SMPL_TO_ANNY_CMU_MB",
    "TargetSkeleton",
    "fit_shape_to_skeleton",
    "fit_to_joint_positions",
    "leg_height",
    "rest_alignment",
    "retarget_motion",
    "swing_rotmat",
    "target_skeleton",
    "unretarget_rotations",
]
