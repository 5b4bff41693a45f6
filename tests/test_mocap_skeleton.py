"""Forward kinematics of `vibe.data.mocap.skeleton` against hand-computed poses."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.data.mocap.skeleton import (
    Motion,
    Skeleton,
    end_site_positions,
    euler_product,
    forward_kinematics,
    forward_kinematics_torch,
)


def _chain() -> Skeleton:
    # root → a (1 m up) → b (1 m along x), b's tail 0.5 m along x.
    return Skeleton(
        joint_names=["root", "a", "b"],
        parents=np.array([-1, 0, 1]),
        offsets=np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=float),
        end_sites={2: np.array([0.5, 0, 0])},
    )


def _rz(deg: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_identity_rotations_give_rest_pose():
    skel = _chain()
    local = np.broadcast_to(np.eye(3), (1, 3, 3, 3))
    joints, glob = forward_kinematics(skel, local, np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(joints[0], [[1, 2, 3], [1, 3, 3], [2, 3, 3]])
    np.testing.assert_allclose(glob, local)


def test_hand_computed_pose():
    skel = _chain()
    local = np.stack([_rz(90), np.eye(3), _rz(90)])[None]
    joints, glob = forward_kinematics(skel, local, np.zeros((1, 3)))
    # Root turned 90° about z: a's offset (0,1,0) → (-1,0,0); b's (1,0,0) → (0,1,0).
    np.testing.assert_allclose(joints[0], [[0, 0, 0], [-1, 0, 0], [-1, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(glob[0, 2], _rz(180), atol=1e-12)
    # b turned 180° in the world: its tail points along -x.
    tip = end_site_positions(skel, joints, glob)[2]
    np.testing.assert_allclose(tip[0], [-1.5, 1, 0], atol=1e-12)


def test_torch_matches_numpy():
    rng = np.random.default_rng(0)
    skel = Skeleton(
        joint_names=list("abcdef"),
        parents=np.array([-1, 0, 0, 1, 2, 1]),
        offsets=rng.normal(size=(6, 3)),
    )
    local = Rotation.random(4 * 6, random_state=1).as_matrix().reshape(4, 6, 3, 3)
    transl = rng.normal(size=(4, 3))
    joints, glob = forward_kinematics(skel, local, transl)
    joints_t, glob_t = forward_kinematics_torch(
        torch.from_numpy(skel.parents), torch.from_numpy(skel.offsets), torch.from_numpy(local), torch.from_numpy(transl)
    )
    np.testing.assert_allclose(joints_t.numpy(), joints, atol=1e-12)
    np.testing.assert_allclose(glob_t.numpy(), glob, atol=1e-12)


def test_bone_lengths_constant_over_random_clip():
    rng = np.random.default_rng(2)
    skel = Skeleton(list("abcde"), np.array([-1, 0, 1, 1, 3]), rng.normal(size=(5, 3)))
    motion = Motion(skel, Rotation.random(50 * 5, random_state=3).as_matrix().reshape(50, 5, 3, 3),
                    rng.normal(size=(50, 3)), fps=30.0)  # fmt: skip
    joints = motion.joints()
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, skel.parents[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(skel.bone_lengths()[1:], lengths.shape), rtol=1e-10)


@pytest.mark.parametrize("order", ["XYZ", "ZXY", "ZYX", "YXZ", "XZY", "YZX", "ZX", "Y"])
def test_euler_product_is_intrinsic_scipy(order):
    angles = np.random.default_rng(4).uniform(-np.pi, np.pi, size=(7, len(order)))
    expected = Rotation.from_euler(order, angles).as_matrix()
    np.testing.assert_allclose(euler_product(order, angles), expected, atol=1e-12)


def test_skeleton_rejects_bad_topology():
    with pytest.raises(ValueError):
        Skeleton(["a", "b"], np.array([-1, 1]), np.zeros((2, 3)))
    with pytest.raises(ValueError):
        Skeleton(["a", "a"], np.array([-1, 0]), np.zeros((2, 3)))
