"""Which joint of a foreign skeleton is which anatomical point, from its naming convention.

`anatomical_points` reads the names users meet: CMU ASF and BVH
(``LeftUpLeg``, ``LeftLeg``; 3ds-Max release ``LeftHip``, ``LeftKnee``),
3ds Max Biped (``Bip01 L Thigh``, ``Bip01 L Calf``), Mixamo
(``mixamorig:LeftUpLeg``), Daz Genesis (``lThigh``/``lThighBend``,
``lShin``, ``lShldr``/``lShldrBend``, ``hip``), SMPL/AMASS (``left_hip``,
``left_knee``, ``L_Hip``), Unreal (``thigh_l``, ``calf_l``, ``ball_l``),
Unity humanoid (``LeftUpperLeg``, ``LeftLowerLeg``, ``LeftToes``), Rokoko
and others (``LeftThigh``, ``LeftShin``) and HDM05 (CMU's ASF names).

A name is split into a side (``Left``/``Right`` at either end, ``L``/``R``
as a separate token at either end, or a lower/upper-case ``l``/``r`` before
a capital: ``lShldr``, ``LHipJoint``) and a core word, after dropping a
namespace (``mixamorig:``) and a rig prefix (``Bip01``, ``CC_Base_``,
``DEF-``). The core word is looked up in `ALIASES`, whose tiers settle the
names that mean different points in different conventions:

- ``Leg`` is the shank (MotionBuilder) unless a ``Shin``/``Calf``/``Knee``
  names it, then it is the thigh (Rokoko, SOMA);
- ``Foot`` is the ankle unless an ``Ankle`` exists, then it is the ball
  of the foot (SMPL);
- ``Shoulder`` is the collarbone when an ``Arm``/``UpperArm``/``Shldr`` exists
  (MotionBuilder, Unity), else the upper arm (SMPL, CMU 3ds Max);
- ``Hand`` is the wrist unless a ``Wrist`` exists (SMPL, CMU ASF).

Of several joints with the same meaning the one nearest the root is taken
(``Neck`` before ``Neck1``, ``neckLower`` before ``neckUpper``).
"""

from __future__ import annotations

import re

import numpy as np

from vibe.data.mocap.skeleton import Skeleton

__all__ = ["ALIASES", "POINTS", "anatomical_points", "split_name"]

# Anatomical points, each the head of a bone in every convention.
POINTS: tuple[str, ...] = (
    "pelvis", "neck", "head",
    *(f"{side}_{p}" for side in ("left", "right")
      for p in ("hip", "knee", "ankle", "toe", "shoulder", "elbow", "wrist")),
)  # fmt: skip

# Point (without side) → tiers of core words; the first tier with a free joint wins.
# Resolution runs in this order, so a joint taken by one point is not offered to a later one.
ALIASES: dict[str, tuple[tuple[str, ...], ...]] = {
    "knee": (("knee", "calf", "shin", "lowerleg", "tibia", "shank"), ("leg",)),
    "hip": (("upleg", "thigh", "thighbend", "upperleg", "femur", "hip"), ("leg",)),
    "ankle": (("ankle",), ("foot",)),
    "toe": (("toebase", "toe", "toes", "toe0", "ball"), ("foot",)),
    "elbow": (("forearm", "forearmbend", "lowerarm", "elbow", "radius"),),
    "shoulder": (("arm", "upperarm", "shldr", "shldrbend", "humerus"), ("shoulder",)),
    "wrist": (("wrist",), ("hand",)),
    "pelvis": (("hips", "pelvis", "hip"),),
    "head": (("head",),),
}

_PREFIX = re.compile(r"^(bip0*\d+|cc_base|def|mixamorig\d*)(?:[\s_\-.:]+|$)", re.IGNORECASE)
_SIDE_WORD_FIRST = re.compile(r"^(left|right)[\s_\-.]*(.*)$", re.IGNORECASE)
_SIDE_WORD_LAST = re.compile(r"^(.*?)[\s_\-.]*(left|right)$", re.IGNORECASE)
_SIDE_LETTER_FIRST = re.compile(r"^([lr])[\s_\-.]+(.+)$", re.IGNORECASE)
_SIDE_LETTER_LAST = re.compile(r"^(.+?)[\s_\-.]+([lr])$", re.IGNORECASE)
_SIDE_CAMEL = re.compile(r"^([lrLR])([A-Z].*)$")


def split_name(name: str) -> tuple[str, str]:
    """``(side, core)`` of a joint name: side ``"left"``, ``"right"`` or ``""``; core lower-case alphanumerics.

    ``"mixamorig:LeftUpLeg"`` → ``("left", "upleg")``; ``"Bip01 L Calf"`` →
    ``("left", "calf")``; ``"thigh_twist_01_r"`` → ``("right", "thightwist01")``;
    ``"lShldrBend"`` → ``("left", "shldrbend")``; ``"LowerBack"`` → ``("", "lowerback")``.
    """
    rest = _PREFIX.sub("", name.rsplit(":", 1)[-1].strip())
    side = ""
    for pattern, side_group, rest_group in (
        (_SIDE_WORD_FIRST, 1, 2), (_SIDE_WORD_LAST, 2, 1), (_SIDE_LETTER_FIRST, 1, 2),
        (_SIDE_LETTER_LAST, 2, 1), (_SIDE_CAMEL, 1, 2),
    ):  # fmt: skip
        match = pattern.match(rest)
        if match and match.group(rest_group):
            side = "left" if match.group(side_group)[0].lower() == "l" else "right"
            rest = match.group(rest_group)
            break
    return side, re.sub(r"[^a-z0-9]", "", rest.lower())


def _depths(parents: np.ndarray) -> np.ndarray:
    """``(J,)`` number of bones between each joint and the root."""
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    return depth


def _is_ancestor(parents: np.ndarray, ancestor: int, joint: int) -> bool:
    """Whether ``ancestor`` is ``joint`` or on its path to the root."""
    while joint >= 0:
        if joint == ancestor:
            return True
        joint = int(parents[joint])
    return False


def anatomical_points(skeleton: Skeleton) -> dict[str, str]:
    """Source joint name → anatomical point of `POINTS`, for the joints the names identify.

    Points whose joint breaks its limb's chain (a knee that is not below its
    hip, ...) are dropped, so that a misread name cannot bend a limb.
    """
    sides_cores = [split_name(n) for n in skeleton.joint_names]
    depth = _depths(skeleton.parents)
    taken: dict[int, str] = {}
    for point, tiers in ALIASES.items():
        for side in ("",) if point in ("pelvis", "head") else ("left", "right"):
            _claim(point, side, tiers, sides_cores, depth, taken)
    neck = [j for j, (side, core) in enumerate(sides_cores) if not side and core.startswith("neck") and j not in taken]
    if neck:
        taken[min(neck, key=lambda j: depth[j])] = "neck"
    if "pelvis" not in taken.values():
        taken.setdefault(0, "pelvis")
    return _check_chains({skeleton.joint_names[j]: p for j, p in taken.items()}, skeleton)


def _claim(
    point: str,
    side: str,
    tiers: tuple[tuple[str, ...], ...],
    sides_cores: list[tuple[str, str]],
    depth: np.ndarray,
    taken: dict[int, str],
) -> None:
    """Give ``side_point`` the free joint nearest the root in the first tier that has one (updates ``taken``)."""
    name = f"{side}_{point}" if side else point
    for tier in tiers:
        found = [j for j, (s, c) in enumerate(sides_cores) if s == side and c in tier and j not in taken]
        if found:
            taken[min(found, key=lambda j: depth[j])] = name
            return


_CHAINS = (("hip", "knee", "ankle", "toe"), ("shoulder", "elbow", "wrist"))


def _check_chains(points: dict[str, str], skeleton: Skeleton) -> dict[str, str]:
    """Drop the points of a limb below the first one that is not a descendant of the previous one."""
    joint_of = {p: skeleton.index(n) for n, p in points.items()}
    for side in ("left", "right"):
        for chain in _CHAINS:
            names = [f"{side}_{p}" for p in chain if f"{side}_{p}" in joint_of]
            for upper, lower in zip(names, names[1:]):
                if not _is_ancestor(skeleton.parents, joint_of[upper], joint_of[lower]):
                    for dropped in names[names.index(lower):]:
                        joint_of.pop(dropped)
                    break
    return {skeleton.joint_names[j]: p for p, j in joint_of.items()}
