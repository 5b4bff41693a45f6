"""Mocap files shaped as other tools publish them, generated from the committed CMU excerpts.

``python tests/mocap_fixtures.py AMC ASF OUT.bvh`` writes `daz_bvh`'s file for
a manual check from the command line (docs/mocap.md).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from vibe.data.mocap import Motion, Skeleton, load_asf_amc, write_bvh

# CMU (MotionBuilder) joint → the 43-joint Daz figure's name of the same bone.
CMU_TO_DAZ = {
    "Hips": "hip", "LowerBack": "abdomen", "Spine": "abdomen2", "Spine1": "chest", "Neck": "neck", "Neck1": "neck2",
    "Head": "head",
    **{
        cmu.format(Side=side, S=s): daz.format(s=s.lower())
        for side, s in (("Left", "L"), ("Right", "R"))
        for cmu, daz in {
            "{S}HipJoint": "{s}Buttock", "{Side}UpLeg": "{s}Thigh", "{Side}Leg": "{s}Shin", "{Side}Foot": "{s}Foot",
            "{Side}ToeBase": "{s}Toe", "{Side}Shoulder": "{s}Collar", "{Side}Arm": "{s}Shldr",
            "{Side}ForeArm": "{s}ForeArm", "{Side}Hand": "{s}Hand", "{S}Thumb": "{s}Thumb1",
            "{Side}FingerBase": "{s}Index1", "{Side}HandIndex1": "{s}Index2",
        }.items()
    },
}  # fmt: skip
# Leaves the Daz figure has beyond CMU's bones: (name, parent, offset in metres).
DAZ_EXTRAS = [
    ("leftEye", "head", (0.03, 0.08, 0.09)), ("rightEye", "head", (-0.03, 0.08, 0.09)),
    *((f"{s}{finger}", f"{s}Hand", (sign * 0.09, 0.0, dz)) for s, sign in (("l", 1), ("r", -1))
      for finger, dz in (("Mid1", 0.0), ("Ring1", -0.01), ("Pinky1", -0.02))),
    *((f"{s}{finger}2", f"{s}{finger}1", (sign * 0.03, 0.0, 0.0)) for s, sign in (("l", 1), ("r", -1))
      for finger in ("Thumb", "Mid")),
]  # fmt: skip


def with_extra_leaves(motion: Motion, extras) -> Motion:
    """``motion`` with leaf joints added (identity rotations): ``(name, parent name, offset)`` each."""
    skel = motion.skeleton
    names, parents, offsets = list(skel.joint_names), list(skel.parents), list(skel.offsets)
    for name, parent, offset in extras:
        names.append(name)
        parents.append(names.index(parent))
        offsets.append(np.asarray(offset, dtype=np.float64))
    ends = dict(skel.end_sites)
    ends.update({j: np.array([0.0, 0.02, 0.0]) for j in range(skel.num_joints, len(names))})
    eye = np.broadcast_to(np.eye(3), (motion.num_frames, len(extras), 3, 3))
    local = np.concatenate([motion.local_rotmat, eye], axis=1)
    skeleton = Skeleton(names, np.array(parents), np.array(offsets), ends)
    return dataclasses.replace(motion, skeleton=skeleton, local_rotmat=local)


def daz_bvh(asf: Path, amc: Path, out: Path) -> Path:
    """A CMU clip as the Daz-friendly BVH releases ship it: 43 Daz-named joints, centimetres."""
    motion = load_asf_amc(asf, amc)
    motion = dataclasses.replace(motion, skeleton=motion.skeleton.renamed(CMU_TO_DAZ))
    motion = with_extra_leaves(motion, DAZ_EXTRAS)
    assert motion.skeleton.num_joints == 43
    return write_bvh(out, motion, scale=0.01)


if __name__ == "__main__":
    print(daz_bvh(Path(sys.argv[2]), Path(sys.argv[1]), Path(sys.argv[3])))
