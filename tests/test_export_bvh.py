"""BVH export: the file, read back by the project's reader, reproduces the body model's joints.

Reference: ``BodyModel.forward`` joints (Anny, and SMPL on a synthetic model in
the official layout); the file goes through `read_bvh` and the mocap forward
kinematics, an independent path (Euler angles, depth-first file order, offsets).
"""

from __future__ import annotations

import numpy as np
import pytest
import roma
import torch
from smpl_fixtures import write_synthetic_smpl

from vibe.body.anny import Anny, AnnyConfig
from vibe.body.smpl import SMPL
from vibe.data.mocap.bvh import read_bvh, write_bvh
from vibe.export.bvh import (
    HALF_TURN_X,
    _align,
    body_motion,
    camera_to_y_up,
    export_bvh,
    rest_joints,
    t_pose_rotmat,
)

# BVH text keeps 6 decimals: measured joint errors 1.8e-6 to 2.7e-6 m over these tests; ~10x that.
TOL_M = 3e-5


def _random_motion(num_frames: int, num_joints: int, scale: float = 0.6) -> tuple[torch.Tensor, torch.Tensor]:
    """``(T, J, 3, 3)`` float64 rotations (root fully random) and ``(T, 3)`` translations."""
    rotvec = scale * torch.randn(num_frames, num_joints, 3, dtype=torch.float64)
    rotvec[:, 0] *= 3.0
    transl = torch.randn(num_frames, 3, dtype=torch.float64)
    return roma.rotvec_to_rotmat(rotvec), transl


def _joints_by_name(path, names: list[str]) -> np.ndarray:
    """``(T, J, 3)`` joints of the BVH at ``path`` (FK of the read file) in the order ``names``."""
    motion = read_bvh(path)
    joints = motion.joints()
    return joints[:, [motion.skeleton.index(n) for n in names]]


@pytest.fixture(scope="module")
def anny() -> Anny:
    return Anny(AnnyConfig(dtype=torch.float64))


@pytest.fixture(scope="module")
def smpl(tmp_path_factory) -> SMPL:
    folder = tmp_path_factory.mktemp("smpl")
    write_synthetic_smpl(folder)
    return SMPL(folder, dtype=torch.float64)


@pytest.mark.anny
@pytest.mark.parametrize("shape", [None, [0.9, 0.8, 0.7, 0.3, 0.9, 0.4]])
def test_anny_bvh_reproduces_model_joints(anny, tmp_path, shape):
    pose, transl = _random_motion(6, anny.num_joints)
    shape_t = anny.mean_shape(1) if shape is None else torch.tensor([shape], dtype=torch.float64)
    path = export_bvh(tmp_path / "person_1.bvh", anny, pose, transl, fps=25.0, shape=shape)

    expected = anny(pose, shape_t.expand(6, -1), transl).joints.numpy()
    got = _joints_by_name(path, anny.joint_names)
    np.testing.assert_allclose(got, expected, atol=TOL_M, rtol=0)

    motion = read_bvh(path)
    assert motion.fps == 25.0
    assert motion.num_frames == 6
    assert sorted(motion.skeleton.joint_names) == sorted(anny.joint_names)
    assert motion.skeleton.joint_names[0] == "Hips"
    assert {"LeftUpLeg", "LeftForeArm", "RightHand", "Head"} <= set(motion.skeleton.joint_names)


@pytest.mark.anny
def test_anny_zero_rotations_are_the_a_pose_rest(anny, tmp_path):
    """All-zero channels in the file are Anny's rest pose (its A-pose), root at its rest head."""
    pose = anny.rest_pose(2)
    path = export_bvh(tmp_path / "rest.bvh", anny, pose, torch.zeros(2, 3, dtype=torch.float64), fps=30)
    text = path.read_text().split("MOTION")[1].splitlines()[3:]
    values = np.array([[float(v) for v in line.split()] for line in text])
    np.testing.assert_allclose(values[:, 3:], 0.0, atol=1e-9)
    np.testing.assert_allclose(values[0, :3], rest_joints(anny)[0], atol=1e-6)
    # A-pose: the left wrist is well below the left shoulder (a T-pose would keep it level).
    joints = _joints_by_name(path, anny.joint_names)[0]
    names = anny.joint_names
    drop = joints[names.index("LeftArm"), 1] - joints[names.index("LeftHand"), 1]
    assert drop > 0.2


@pytest.mark.anny
def test_anny_other_rest_pose_keeps_the_joints(anny, tmp_path):
    """With a T-pose-like rest written into the file, the posed joints are unchanged."""
    pose, transl = _random_motion(4, anny.num_joints)
    rest, _ = _random_motion(1, anny.num_joints, scale=0.5)
    rest[0, 0] = torch.eye(3, dtype=torch.float64)
    path = tmp_path / "rebased.bvh"
    write_bvh(path, body_motion(anny, pose, transl, 30.0, rest_pose_rotmat=rest[0].numpy()))
    expected = anny(pose, None, transl).joints.numpy()
    np.testing.assert_allclose(_joints_by_name(path, anny.joint_names), expected, atol=TOL_M, rtol=0)
    # The file's rest (zero channels) is the requested pose.
    rest_in_file = read_bvh(path)
    rest_in_file.local_rotmat[:] = np.eye(3)
    rest_in_file.root_transl[:] = rest_joints(anny)[0]
    names = anny.joint_names
    got = rest_in_file.joints()[0][[rest_in_file.skeleton.index(n) for n in names]]
    np.testing.assert_allclose(got, anny(rest, None).joints[0].numpy(), atol=TOL_M, rtol=0)


def test_smpl_bvh_reproduces_model_joints(smpl, tmp_path):
    pose, transl = _random_motion(5, 24)
    betas = 0.5 * torch.randn(1, 10, dtype=torch.float64)
    path = export_bvh(tmp_path / "smpl.bvh", smpl, pose, transl, fps=29.97, shape=betas[0])
    expected = smpl(pose, betas.expand(5, -1), transl).joints.numpy()
    np.testing.assert_allclose(_joints_by_name(path, smpl.joint_names), expected, atol=TOL_M, rtol=0)
    motion = read_bvh(path)
    assert motion.fps == pytest.approx(29.97, rel=1e-6)
    assert motion.skeleton.joint_names[0] == "pelvis"


def test_camera_to_y_up_turns_every_point(smpl):
    pose, transl = _random_motion(3, 24)
    root_rest = rest_joints(smpl)[0]
    new_pose, new_transl = camera_to_y_up(pose, transl, root_rest)
    before = smpl(pose, None, transl)
    after = smpl(torch.as_tensor(new_pose), None, torch.as_tensor(new_transl))
    turned = before.vertices.numpy() @ HALF_TURN_X.T
    np.testing.assert_allclose(after.vertices.numpy(), turned, atol=1e-9)
    np.testing.assert_allclose(after.joints.numpy(), before.joints.numpy() @ HALF_TURN_X.T, atol=1e-9)


@pytest.mark.anny
def test_anny_t_pose_rest_lays_the_arms_along_x(anny, tmp_path):
    pose, transl = _random_motion(3, anny.num_joints)
    rest = t_pose_rotmat(anny)
    path = export_bvh(tmp_path / "tpose.bvh", anny, pose, transl, 30.0, rest_pose_rotmat=rest)
    skeleton = read_bvh(path).skeleton
    for bone, sign in [("LeftForeArm", 1.0), ("LeftHand", 1.0), ("RightForeArm", -1.0), ("RightHand", -1.0)]:
        offset = skeleton.offsets[skeleton.index(bone)]  # elbow from shoulder, wrist from elbow
        np.testing.assert_allclose(offset / np.linalg.norm(offset), [sign, 0.0, 0.0], atol=0.02)
    # Legs keep their rest offsets (the A-pose file's).
    a_pose = read_bvh(export_bvh(tmp_path / "a_pose.bvh", anny, pose, transl, 30.0)).skeleton
    for bone in ("LeftLeg", "RightFoot", "Spine1"):
        got, want = skeleton.offsets[skeleton.index(bone)], a_pose.offsets[a_pose.index(bone)]
        np.testing.assert_allclose(got, want, atol=1e-6)
    expected = anny(pose, None, transl).joints.numpy()
    np.testing.assert_allclose(_joints_by_name(path, anny.joint_names), expected, atol=TOL_M, rtol=0)


@pytest.mark.parametrize("b", [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.3, -0.2, 0.9]])
def test_align_takes_a_onto_b(b):
    a = np.array([1.0, 0.0, 0.0])
    rot = _align(a, np.array(b))
    np.testing.assert_allclose(rot @ a, np.array(b) / np.linalg.norm(b), atol=1e-12)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
