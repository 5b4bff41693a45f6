"""Foreign skeletons: one round trip per naming convention (BVH written in that naming, imported, compared).

Each convention's skeleton is Anny's own rest skeleton (default shape) with
every joint renamed as that convention names it, a few extra leaves it has
(eyes, twist bones, end joints), in the length unit its tools write. A known
random motion is written as BVH, read back by `load_motion` with the unit
detected, and the body joints of the resulting database are compared with
the source joints: exact correspondence gives millimetres, a wrong pair
centimetres to decimetres.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import Anny
from vibe.data.build_motion_db import default_anny_shape
from vibe.data.correspondence import ANATOMY_TO_ANNY_CMU_MB, joint_map_for
from vibe.data.mocap import MocapOptions, Motion, Skeleton, write_bvh
from vibe.data.mocap.joint_names import anatomical_points, split_name
from vibe.data.motion_input import load_motion
from vibe.data.retarget import ANNY_CMU_MB_TO_CMU, target_skeleton

pytestmark = pytest.mark.anny

CMU_UNIT_M = 0.0254 / 0.45
SIDES = (("Left", "L", "l", "left"), ("Right", "R", "r", "right"))


def _sided(template: dict[str, str]) -> dict[str, str]:
    """Anny name → convention name, ``{Side}``/``{S}``/``{s}``/``{side}`` filled for both sides."""
    out = {}
    for anny, name in template.items():
        for side, s_up, s_low, side_low in SIDES if "{" in anny else ((None,) * 4,):
            key = anny.format(Side=side, S=s_up) if side else anny
            out[key] = name.format(Side=side, S=s_up, s=s_low, side=side_low) if side else name
    return out


# Anny cmu_mb bone → the convention's joint; extra leaves: (name, Anny parent, offset in metres).
CONVENTIONS: dict[str, tuple[dict[str, str], list[tuple[str, str, tuple]], float]] = {
    "cmu_bvh": (_sided({
        "Hips": "Hips", "LowerBack": "LowerBack", "Spine": "Spine", "Spine1": "Spine1", "Neck": "Neck",
        "Neck1": "Neck1", "Head": "Head", "{S}HipJoint": "{S}HipJoint", "{Side}UpLeg": "{Side}UpLeg",
        "{Side}Leg": "{Side}Leg", "{Side}Foot": "{Side}Foot", "{Side}ToeBase": "{Side}ToeBase",
        "{Side}Shoulder": "{Side}Shoulder", "{Side}Arm": "{Side}Arm", "{Side}ForeArm": "{Side}ForeArm",
        "{Side}Hand": "{Side}Hand", "{S}Thumb": "{S}Thumb", "{Side}FingerBase": "{Side}FingerBase",
        "{Side}HandFinger1": "{Side}HandIndex1",
    }), [], CMU_UNIT_M),
    "cmu_3dsmax": (_sided({
        "Hips": "Hips", "LowerBack": "lowerback", "Spine": "Chest", "Spine1": "Chest2", "Neck": "lowerneck",
        "Neck1": "Neck", "Head": "Head", "{S}HipJoint": "{S}HipJoint", "{Side}UpLeg": "{Side}Hip",
        "{Side}Leg": "{Side}Knee", "{Side}Foot": "{Side}Ankle", "{Side}ToeBase": "{Side}Toe",
        "{Side}Shoulder": "{Side}Collar", "{Side}Arm": "{Side}Shoulder", "{Side}ForeArm": "{Side}Elbow",
        "{Side}Hand": "{Side}Wrist", "{S}Thumb": "{S}Thumb", "{Side}FingerBase": "{s}hand",
        "{Side}HandFinger1": "{S}Fingers",
    }), [], CMU_UNIT_M),
    "hdm05_asf_names": (_sided({
        "Hips": "root", "LowerBack": "lowerback", "Spine": "upperback", "Spine1": "thorax", "Neck": "lowerneck",
        "Neck1": "upperneck", "Head": "head", "{S}HipJoint": "{s}hipjoint", "{Side}UpLeg": "{s}femur",
        "{Side}Leg": "{s}tibia", "{Side}Foot": "{s}foot", "{Side}ToeBase": "{s}toes",
        "{Side}Shoulder": "{s}clavicle", "{Side}Arm": "{s}humerus", "{Side}ForeArm": "{s}radius",
        "{Side}Hand": "{s}wrist", "{S}Thumb": "{s}thumb", "{Side}FingerBase": "{s}hand",
        "{Side}HandFinger1": "{s}fingers",
    }), [], CMU_UNIT_M),
    "biped": (_sided({
        "Hips": "Bip01 Pelvis", "LowerBack": "Bip01 Spine", "Spine": "Bip01 Spine1", "Spine1": "Bip01 Spine2",
        "Neck": "Bip01 Neck", "Neck1": "Bip01 Neck1", "Head": "Bip01 Head", "{S}HipJoint": "Bip01 {S} Pelvis",
        "{Side}UpLeg": "Bip01 {S} Thigh", "{Side}Leg": "Bip01 {S} Calf", "{Side}Foot": "Bip01 {S} Foot",
        "{Side}ToeBase": "Bip01 {S} Toe0", "{Side}Shoulder": "Bip01 {S} Clavicle",
        "{Side}Arm": "Bip01 {S} UpperArm", "{Side}ForeArm": "Bip01 {S} Forearm", "{Side}Hand": "Bip01 {S} Hand",
        "{S}Thumb": "Bip01 {S} Finger0", "{Side}FingerBase": "Bip01 {S} Finger1",
        "{Side}HandFinger1": "Bip01 {S} Finger11",
    }), [("Bip01 HeadNub", "Head", (0.0, 0.2, 0.0))], 0.0254),
    "mixamo": (_sided({
        "Hips": "mixamorig:Hips", "LowerBack": "mixamorig:Spine", "Spine": "mixamorig:Spine1",
        "Spine1": "mixamorig:Spine2", "Neck": "mixamorig:Neck", "Neck1": "mixamorig:Neck1",
        "Head": "mixamorig:Head", "{S}HipJoint": "mixamorig:{Side}HipRoot", "{Side}UpLeg": "mixamorig:{Side}UpLeg",
        "{Side}Leg": "mixamorig:{Side}Leg", "{Side}Foot": "mixamorig:{Side}Foot",
        "{Side}ToeBase": "mixamorig:{Side}ToeBase", "{Side}Shoulder": "mixamorig:{Side}Shoulder",
        "{Side}Arm": "mixamorig:{Side}Arm", "{Side}ForeArm": "mixamorig:{Side}ForeArm",
        "{Side}Hand": "mixamorig:{Side}Hand", "{S}Thumb": "mixamorig:{Side}HandThumb1",
        "{Side}FingerBase": "mixamorig:{Side}HandIndex1", "{Side}HandFinger1": "mixamorig:{Side}HandIndex2",
    }), [("mixamorig:HeadTop_End", "Head", (0.0, 0.18, 0.0))], 0.01),
    "daz": (_sided({
        "Hips": "hip", "LowerBack": "abdomen", "Spine": "abdomen2", "Spine1": "chest", "Neck": "neck",
        "Neck1": "neckUpper", "Head": "head", "{S}HipJoint": "{s}Buttock", "{Side}UpLeg": "{s}Thigh",
        "{Side}Leg": "{s}Shin", "{Side}Foot": "{s}Foot", "{Side}ToeBase": "{s}Toe", "{Side}Shoulder": "{s}Collar",
        "{Side}Arm": "{s}Shldr", "{Side}ForeArm": "{s}ForeArm", "{Side}Hand": "{s}Hand", "{S}Thumb": "{s}Thumb1",
        "{Side}FingerBase": "{s}Index1", "{Side}HandFinger1": "{s}Index2",
    }), [("leftEye", "Head", (0.03, 0.07, 0.08)), ("rightEye", "Head", (-0.03, 0.07, 0.08))], 0.01),
    "smpl": (_sided({
        "Hips": "Pelvis", "LowerBack": "Spine1", "Spine": "Spine2", "Spine1": "Spine3", "Neck": "Neck",
        "Neck1": "Neck2", "Head": "Head", "{S}HipJoint": "{S}_HipRoot", "{Side}UpLeg": "{S}_Hip",
        "{Side}Leg": "{S}_Knee", "{Side}Foot": "{S}_Ankle", "{Side}ToeBase": "{S}_Foot",
        "{Side}Shoulder": "{S}_Collar", "{Side}Arm": "{S}_Shoulder", "{Side}ForeArm": "{S}_Elbow",
        "{Side}Hand": "{S}_Wrist", "{S}Thumb": "{S}_Thumb1", "{Side}FingerBase": "{S}_Hand",
        "{Side}HandFinger1": "{S}_Index1",
    }), [], 1.0),
    "unreal": (_sided({
        "Hips": "pelvis", "LowerBack": "spine_01", "Spine": "spine_02", "Spine1": "spine_03", "Neck": "neck_01",
        "Neck1": "neck_02", "Head": "head", "{S}HipJoint": "hip_root_{s}", "{Side}UpLeg": "thigh_{s}",
        "{Side}Leg": "calf_{s}", "{Side}Foot": "foot_{s}", "{Side}ToeBase": "ball_{s}",
        "{Side}Shoulder": "clavicle_{s}", "{Side}Arm": "upperarm_{s}", "{Side}ForeArm": "lowerarm_{s}",
        "{Side}Hand": "hand_{s}", "{S}Thumb": "thumb_01_{s}", "{Side}FingerBase": "index_01_{s}",
        "{Side}HandFinger1": "index_02_{s}",
    }), [("thigh_twist_01_l", "LeftUpLeg", (0.0, -0.2, 0.0)), ("thigh_twist_01_r", "RightUpLeg", (0.0, -0.2, 0.0))],
        0.01),
    "unity": (_sided({
        "Hips": "Hips", "LowerBack": "Spine", "Spine": "Chest", "Spine1": "UpperChest", "Neck": "Neck",
        "Neck1": "NeckUpper", "Head": "Head", "{S}HipJoint": "{Side}HipRoot", "{Side}UpLeg": "{Side}UpperLeg",
        "{Side}Leg": "{Side}LowerLeg", "{Side}Foot": "{Side}Foot", "{Side}ToeBase": "{Side}Toes",
        "{Side}Shoulder": "{Side}Shoulder", "{Side}Arm": "{Side}UpperArm", "{Side}ForeArm": "{Side}LowerArm",
        "{Side}Hand": "{Side}Hand", "{S}Thumb": "{Side}ThumbProximal", "{Side}FingerBase": "{Side}IndexProximal",
        "{Side}HandFinger1": "{Side}IndexIntermediate",
    }), [], 1.0),
    "rokoko": (_sided({
        "Hips": "Hips", "LowerBack": "Spine1", "Spine": "Spine2", "Spine1": "Spine3", "Neck": "Neck",
        "Neck1": "Neck1", "Head": "Head", "{S}HipJoint": "{Side}HipRoot", "{Side}UpLeg": "{Side}Thigh",
        "{Side}Leg": "{Side}Shin", "{Side}Foot": "{Side}Foot", "{Side}ToeBase": "{Side}Toe",
        "{Side}Shoulder": "{Side}Shoulder", "{Side}Arm": "{Side}Arm", "{Side}ForeArm": "{Side}ForeArm",
        "{Side}Hand": "{Side}Hand", "{S}Thumb": "{Side}Finger1Metacarpal",
        "{Side}FingerBase": "{Side}Finger2Metacarpal", "{Side}HandFinger1": "{Side}Finger2Proximal",
    }), [("LeftToeEnd", "LeftToeBase", (0.0, 0.0, 0.05))], 0.01),
}
# Conventions whose names become the project's CMU names on reading (bone-for-bone route).
BONE_FOR_BONE = {"cmu_bvh", "cmu_3dsmax", "hdm05_asf_names"}


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


def _convention_motion(body: Anny, convention: str, frames: int = 4) -> Motion:
    """A random motion of Anny's rest skeleton named and extended as ``convention`` names it (metres)."""
    names, extras, _ = CONVENTIONS[convention]
    target = target_skeleton(body, default_anny_shape(body))
    offsets = target.rest_heads - target.rest_heads[target.parents.clip(0)]
    offsets[0] = 0.0
    parents = list(target.parents)
    joint_names = [names[n] for n in target.joint_names]
    for name, parent, offset in extras:
        joint_names.append(name)
        parents.append(target.joint_names.index(parent))
        offsets = np.vstack([offsets, offset])
    leaves = [j for j in range(len(parents)) if j not in parents]
    ends = {j: np.array([0.0, 0.05, 0.0]) for j in leaves}
    skeleton = Skeleton(joint_names, np.array(parents), offsets, ends)
    rng = np.random.default_rng(len(convention))
    local = Rotation.from_rotvec(rng.normal(scale=0.3, size=(frames * len(parents), 3))).as_matrix()
    local = local.reshape(frames, len(parents), 3, 3)
    local[:, [target.joint_names.index(n) for n in ("LHipJoint", "RHipJoint")]] = np.eye(3)  # fixed in mocap
    root = target.rest_heads[0] + rng.normal(scale=0.05, size=(frames, 3))
    return Motion(skeleton, local, root, fps=30.0, name=convention)


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_each_convention_round_trips_through_a_bvh_file(body: Anny, convention: str, tmp_path: Path) -> None:
    truth = _convention_motion(body, convention)
    path = write_bvh(tmp_path / f"{convention}.bvh", truth, scale=CONVENTIONS[convention][2])
    loaded = load_motion([path], body, MocapOptions(bvh_scale=None, fps=None))
    (fit,) = loaded.fits
    assert fit.route == ("bone-for-bone" if convention in BONE_FOR_BONE else "ik")
    if fit.route == "ik":
        assert fit.joints == len(ANATOMY_TO_ANNY_CMU_MB) - 1  # the hips place the pelvis
        assert fit.scale == pytest.approx(1.0, abs=1e-3)  # the unit was detected
        assert fit.mean_mm < 5.0
    rotmat, transl = loaded.db.clip(0)
    shape = torch.as_tensor(loaded.db.shape[:1])
    with torch.no_grad():
        posed = body(torch.as_tensor(rotmat), shape=shape.expand(len(rotmat), -1), transl=torch.as_tensor(transl))
    names = CONVENTIONS[convention][0]
    anny = list(ANATOMY_TO_ANNY_CMU_MB.values())
    got = posed.joints[:, [body.joint_names.index(n) for n in anny]].double().numpy()
    want = truth.joints()[:, [truth.skeleton.index(names[n]) for n in anny]]
    error_mm = np.linalg.norm(got - want, axis=-1) * 1000
    assert error_mm.mean() < 8.0 and error_mm.max() < 25.0, (convention, error_mm.mean(), error_mm.max())


@pytest.mark.parametrize("convention", sorted(set(CONVENTIONS) - BONE_FOR_BONE))
def test_each_convention_pairs_the_anatomical_joints(body: Anny, convention: str) -> None:
    """Every anatomical point goes to the joint the convention names for it, nothing else is paired."""
    motion = _convention_motion(body, convention, frames=1)
    names = CONVENTIONS[convention][0]
    expected = {names[anny]: anny for anny in ANATOMY_TO_ANNY_CMU_MB.values()}
    assert joint_map_for(motion.skeleton, list(body.joint_names)) == expected


@pytest.mark.parametrize(
    ("name", "side", "core"),
    [
        ("mixamorig:LeftUpLeg", "left", "upleg"), ("Bip01 L Calf", "left", "calf"), ("Bip01", "", ""),
        ("thigh_twist_01_r", "right", "thightwist01"), ("lShldrBend", "left", "shldrbend"),
        ("LowerBack", "", "lowerback"), ("left_knee", "left", "knee"), ("R_Hip", "right", "hip"),
        ("upperarm.L", "left", "upperarm"), ("LHipJoint", "left", "hipjoint"), ("hip", "", "hip"),
        ("Genesis8Female:rForearmBend", "right", "forearmbend"), ("CC_Base_L_Thigh", "left", "thigh"),
    ],
)  # fmt: skip
def test_split_name(name: str, side: str, core: str) -> None:
    assert split_name(name) == (side, core)


def test_smpl_names_and_daz_genesis8_names() -> None:
    """SMPL's ``left_foot`` is the ball of the foot (an ankle exists); Genesis 8's bend bones are the heads."""
    smpl = ["pelvis", "left_hip", "left_knee", "left_ankle", "left_foot", "spine1", "neck", "head",
            "left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand"]  # fmt: skip
    parents = [-1, 0, 1, 2, 3, 0, 5, 6, 5, 8, 9, 10, 11]
    points = anatomical_points(Skeleton(smpl, np.array(parents), np.zeros((len(smpl), 3))))
    assert points["left_foot"] == "left_toe" and points["left_shoulder"] == "left_shoulder"
    assert points["left_wrist"] == "left_wrist" and "left_collar" not in points and "left_hand" not in points
    daz = ["hip", "pelvis", "lThighBend", "lThighTwist", "lShin", "lFoot", "lMetatarsals", "lToe", "abdomenLower",
           "chestUpper", "neckLower", "neckUpper", "head", "lCollar", "lShldrBend", "lShldrTwist", "lForearmBend",
           "lForearmTwist", "lHand"]  # fmt: skip
    parents = [-1, 0, 1, 2, 3, 4, 5, 6, 0, 8, 9, 10, 11, 9, 13, 14, 15, 16, 17]
    points = anatomical_points(Skeleton(daz, np.array(parents), np.zeros((len(daz), 3))))
    assert {k: v for k, v in points.items() if v.startswith("left") or "_" not in v} == {
        "hip": "pelvis", "lThighBend": "left_hip", "lShin": "left_knee", "lFoot": "left_ankle", "lToe": "left_toe",
        "neckLower": "neck", "head": "head", "lShldrBend": "left_shoulder", "lForearmBend": "left_elbow",
        "lHand": "left_wrist",
    }  # fmt: skip


def test_a_misread_limb_is_dropped_and_too_few_joints_ask_for_a_map(body: Anny) -> None:
    """A 'knee' that is not below its 'hip' is not paired; a skeleton of unknown names needs --joint-map."""
    names = ["Hips", "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg", "RightFoot"]
    skeleton = Skeleton(names, np.array([-1, 0, 1, 0, 0, 4]), np.zeros((6, 3)))
    points = anatomical_points(skeleton)
    assert points == {"Hips": "pelvis", "LeftUpLeg": "left_hip", "LeftLeg": "left_knee", "RightUpLeg": "right_hip"}
    with pytest.raises(ValueError, match="--joint-map"):
        joint_map_for(skeleton, list(body.joint_names))
    assert ANNY_CMU_MB_TO_CMU  # the bone-for-bone names stay the CMU ones
