"""AMASS reader on small ``.npz`` files written here in the AMASS layout."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vibe.data.mocap.amass import load_amass
from vibe.data.mocap.resample import resample


def _write(path, poses, **extra):
    rng = np.random.default_rng(1)
    fields = dict(
        poses=poses,
        betas=rng.normal(size=16),
        trans=rng.normal(size=(poses.shape[0], 3)),
        mocap_framerate=np.array(120.0),
        gender=np.array("female"),
        dmpls=np.zeros((poses.shape[0], 8)),
    )
    fields.update(extra)
    np.savez(path, **fields)
    return fields


def test_smplh_poses_keep_body_and_drop_hands(tmp_path):
    poses = np.random.default_rng(0).normal(scale=0.8, size=(12, 156))
    fields = _write(tmp_path / "clip_poses.npz", poses)
    clip = load_amass(tmp_path / "clip_poses.npz")
    assert clip.pose_rotmat.shape == (12, 24, 3, 3)
    expected = Rotation.from_rotvec(poses[:, :66].reshape(-1, 3)).as_matrix().reshape(12, 22, 3, 3)
    np.testing.assert_allclose(clip.pose_rotmat[:, :22], expected, atol=1e-10)
    np.testing.assert_array_equal(clip.pose_rotmat[:, 22:], np.broadcast_to(np.eye(3), (12, 2, 3, 3)))
    np.testing.assert_array_equal(clip.betas, fields["betas"][:10])
    np.testing.assert_array_equal(clip.transl, fields["trans"])
    assert clip.fps == 120.0 and clip.gender == "female" and clip.name == "clip_poses"


def test_smpl_poses_keep_their_hand_joints(tmp_path):
    poses = np.random.default_rng(2).normal(scale=0.8, size=(5, 72))
    _write(tmp_path / "smpl.npz", poses, betas=np.arange(10.0), gender=np.array(b"male"))
    clip = load_amass(tmp_path / "smpl.npz")
    expected = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(5, 24, 3, 3)
    np.testing.assert_allclose(clip.pose_rotmat, expected, atol=1e-10)
    np.testing.assert_array_equal(clip.betas, np.arange(10.0))
    assert clip.gender == "male"


def test_smplx_key_names_and_short_betas(tmp_path):
    poses = np.zeros((3, 165))
    np.savez(tmp_path / "x.npz", poses=poses, betas=np.ones(4), trans=np.zeros((3, 3)),
             mocap_frame_rate=np.array(60.0), gender=np.array("neutral"))  # fmt: skip
    clip = load_amass(tmp_path / "x.npz")
    np.testing.assert_array_equal(clip.betas, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert clip.fps == 60.0


def test_to_motion_and_resample(tmp_path):
    poses = np.random.default_rng(3).normal(scale=0.5, size=(9, 156))
    _write(tmp_path / "c.npz", poses)
    motion = load_amass(tmp_path / "c.npz").to_motion()
    skel = motion.skeleton
    parent = {n: skel.joint_names[p] for n, p in zip(skel.joint_names[1:], skel.parents[1:])}
    assert skel.joint_names[0] == "pelvis"
    assert parent["left_knee"] == "left_hip" and parent["right_ankle"] == "right_knee"
    assert parent["head"] == "neck" and parent["left_collar"] == "spine3" and parent["spine1"] == "pelvis"
    assert parent["left_shoulder"] == "left_collar" and parent["right_hand"] == "right_wrist"
    assert motion.meta["up_axis"] == "z" and np.isnan(motion.skeleton.offsets).all()
    slow = resample(motion, 30.0)
    assert slow.num_frames == 3
    np.testing.assert_array_equal(slow.local_rotmat, motion.local_rotmat[::4])


def test_rejects_bad_pose_width(tmp_path):
    _write(tmp_path / "bad.npz", np.zeros((2, 10)))
    with pytest.raises(ValueError):
        load_amass(tmp_path / "bad.npz")
