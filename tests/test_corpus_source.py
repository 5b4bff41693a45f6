"""Landmark-corpus windows: window boundaries, the synthetic source's preparation, exact mirroring.

References: hand-listed window starts; the synthetic generator's own encoder
inputs and 2D targets for the same landmarks; Anny re-posed with the mirrored
pose against the mirrored ground-truth keypoints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vibe.body.anny import BLAZEPOSE33, Anny
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.motion_db import MotionDB
from vibe.data.synthetic import SyntheticConfig, SyntheticGenerator
from vibe.body.joint_sets import flip_permutation
from vibe.training.corpus_source import CorpusSource, _window_starts
from vibe.training.data import bundled_motion_db

pytestmark = pytest.mark.anny

T = 20


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


@pytest.fixture(scope="module")
def synthetic(body: Anny):
    """Two noise-free synthetic windows of real motion (the stand-in for a detector's answers)."""
    generator = SyntheticGenerator(SparseKeypoints(body), SyntheticConfig.noise_free())
    db = MotionDB.load(bundled_motion_db()).split(["05"])
    return generator.sample(db, np.random.default_rng(3), 2, T)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, synthetic) -> Path:
    """A corpus of the two windows written as tracks; the second misses frame 5."""
    root = tmp_path_factory.mktemp("corpus")
    s = synthetic
    box = s.bbox_cxcys.numpy()
    pixels = s.keypoints2d[..., :2].numpy() * box[..., None, 2:3] / 2 + box[..., None, :2]
    for b in range(2):
        keep = np.arange(T) if b == 0 else np.delete(np.arange(T), 5)
        np.savez(
            root / f"track_{b:05d}.npz",
            frame_ids=keep.astype(np.int64),
            fps=np.float64(30),
            image_size=s.image_size[b].numpy().astype(np.int64),
            landmarks_img=s.landmarks_img[b, keep].numpy(),
            world=s.keypoints_world[b, keep].numpy(),
            bbox_cxcys=box[b, keep],
            keypoints2d=pixels[b, keep],
            keypoints3d=s.keypoints_cam[b, keep].numpy(),
            joints3d_eval14=s.joints3d_eval14[b, keep].numpy(),
            pose_rotmat=s.pose_rotmat[b, keep].numpy(),
            shape=s.shape[b].numpy(),
        )
    return root


def test_window_starts_stay_inside_a_track_and_skip_gaps() -> None:
    track = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    frame_ids = np.array([0, 1, 2, 3, 0, 1, 3, 4, 5])
    assert _window_starts(track, frame_ids, 3).tolist() == [0, 1, 6]
    assert _window_starts(track, frame_ids, 5).tolist() == []


def test_flip_permutation_of_bone_names() -> None:
    names = ["Hips", "LHipJoint", "RHipJoint", "LeftArm", "RightArm", "Neck", "nose", "left_eye", "right_eye", "Leg",
             "mouth_left", "mouth_right"]  # fmt: skip
    assert list(flip_permutation(names)) == [0, 2, 1, 4, 3, 5, 6, 8, 7, 9, 11, 10]


def test_unmirrored_windows_match_the_synthetic_preparation(corpus: Path, synthetic, body: Anny) -> None:
    source = CorpusSource(corpus, body.joint_names, use_world=True, mirror_prob=0.0)
    assert source.starts(T).tolist() == [0]  # the second track has a gap
    batch = source.sample(np.random.default_rng(0), 3, T)
    torch.testing.assert_close(batch.inputs, synthetic.keypoints[:1].expand(3, -1, -1, -1).float(), atol=1e-5, rtol=0)
    torch.testing.assert_close(batch.targets.kp_2d, synthetic.keypoints2d[:1].expand(3, -1, -1, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(batch.keypoints_world, synthetic.keypoints_world[:1].expand(3, -1, -1, -1))
    assert batch.targets.shape.shape == (3, T, synthetic.shape.shape[-1])


def test_mirrored_window_is_the_mirror_image(corpus: Path, body: Anny) -> None:
    def window(mirror_prob: float):
        source = CorpusSource(corpus, body.joint_names, use_world=True, mirror_prob=mirror_prob)
        return source.sample(np.random.default_rng(0), 1, T)

    plain, mirror = window(0.0), window(1.0)
    perm = flip_permutation(BLAZEPOSE33)
    # Flipping the image and the box about the image centre negates box-normalised x.
    flipped = plain.targets.kp_2d[:, :, perm].clone()
    flipped[..., 0] *= -1
    torch.testing.assert_close(mirror.targets.kp_2d, flipped, atol=1e-5, rtol=0)
    # Anny posed with the mirrored rotations is the mirrored body (relative to the mid-hip).
    hips = [BLAZEPOSE33.index("left_hip"), BLAZEPOSE33.index("right_hip")]
    keypoints = SparseKeypoints(body)
    posed = keypoints(mirror.targets.pose_rotmat[0], mirror.targets.shape[0]).keypoints["blazepose33"]
    posed = posed - posed[:, hips].mean(1, keepdim=True)
    world = plain.keypoints_world[0][:, perm] * torch.tensor([-1.0, 1.0, 1.0])
    target = plain.targets.kp_3d.new_tensor(np.load(corpus / "track_00000.npz")["keypoints3d"])[:, perm]
    target = target * torch.tensor([-1.0, 1.0, 1.0])
    target = target - target[:, hips].mean(1, keepdim=True)
    err_m = (posed.double() - target.double()).norm(dim=-1)
    assert float(err_m.max()) < 5e-3  # Anny's mesh is symmetric to a few mm
    torch.testing.assert_close(mirror.keypoints_world[0], world)


def test_mirrored_motion_poses_the_mirrored_body(body: Anny) -> None:
    """Anny posed with ``mirror_motion``'s output = Anny's joints mirrored (x negated, sides swapped)."""
    from vibe.data.motion_db import mirror_motion

    db = MotionDB.load(bundled_motion_db()).split(["05"])
    rotmat, transl = db.sample_windows(np.random.default_rng(4), 2, 4)
    m_rot, m_transl = mirror_motion(rotmat, transl, db.joint_names)
    shape = body.mean_shape(8)
    plain = body(torch.as_tensor(rotmat.reshape(8, 31, 3, 3)), shape, torch.as_tensor(transl.reshape(8, 3))).joints
    mirror = body(torch.as_tensor(m_rot.reshape(8, 31, 3, 3)), shape, torch.as_tensor(m_transl.reshape(8, 3))).joints
    expected = plain[:, flip_permutation(body.joint_names)] * torch.tensor([-1.0, 1.0, 1.0])
    assert float((mirror - expected).norm(dim=-1).max()) < 3e-3  # Neck1 is 1.5 mm off-centre in the rest pose


def test_tipped_motion_poses_the_rigidly_turned_body(body: Anny) -> None:
    """Anny posed with ``tip_motion``'s output = the upright joints turned about the first frame's root joint."""
    from scipy.spatial.transform import Rotation

    from vibe.data.motion_db import tip_motion

    db = MotionDB.load(bundled_motion_db()).split(["05"])
    rotmat, transl = db.sample_windows(np.random.default_rng(5), 2, 4)
    angle_deg, azimuth_deg = np.array([90.0, 65.0]), np.array([0.0, 130.0])
    t_rot, t_transl = tip_motion(rotmat, transl, angle_deg, azimuth_deg)
    shape = body.mean_shape(8)
    pose = lambda r, t: body(torch.as_tensor(r.reshape(8, 31, 3, 3)), shape, torch.as_tensor(t.reshape(8, 3)))  # noqa: E731
    plain = pose(rotmat, transl).joints.double().numpy().reshape(2, 4, 31, 3)
    tipped = pose(t_rot, t_transl).joints.double().numpy().reshape(2, 4, 31, 3)
    for b in range(2):
        az = np.deg2rad(azimuth_deg[b])
        turn = Rotation.from_rotvec(np.array([np.cos(az), 0.0, np.sin(az)]) * np.deg2rad(angle_deg[b])).as_matrix()
        pivot = plain[b, 0, 0]  # the root joint does not move under a root rotation
        expected = pivot + (plain[b] - pivot) @ turn.T
        assert np.abs(tipped[b] - expected).max() < 2e-3
    assert np.allclose(t_rot[:, :, 1:], rotmat[:, :, 1:])
