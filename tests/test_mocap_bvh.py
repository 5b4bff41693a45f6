"""BVH reader/writer: Euler conventions vs scipy, round trips, CMU BVH vs ASF/AMC."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vibe.data.mocap.asf_amc import load_asf_amc
from vibe.data.mocap.bvh import CMU_BVH_METRES_PER_UNIT, CMU_MAX_TO_MB_NAMES, parse_bvh, read_bvh, write_bvh
from vibe.data.mocap.skeleton import Motion, Skeleton, end_site_positions, forward_kinematics

DATA = Path(__file__).parent / "data" / "mocap"
CMU_UNIT = 0.0254 / 0.45  # the CMU 31-joint BVH is in ASF units (CMU FAQ), not metres


def _two_joint_bvh(root_channels: list[str], joint_channels: list[str], frames: np.ndarray) -> str:
    rows = "\n".join(" ".join(f"{v:.10f}" for v in row) for row in frames)
    return f"""HIERARCHY
ROOT hips
{{
  OFFSET 0 0 0
  CHANNELS {len(root_channels)} {' '.join(root_channels)}
  JOINT knee
  {{
    OFFSET 0.0 -2.0 0.0
    CHANNELS {len(joint_channels)} {' '.join(joint_channels)}
    End Site
    {{
      OFFSET 0.0 0.0 1.0
    }}
  }}
}}
MOTION
Frames: {len(frames)}
Frame Time: 0.0333333
{rows}
"""


@pytest.mark.parametrize("order", ["".join(p) for p in itertools.permutations("XYZ")])
def test_rotation_channels_match_scipy_intrinsic(order):
    rng = np.random.default_rng(0)
    angles = rng.uniform(-180, 180, size=(5, 2, 3))
    transl = rng.normal(size=(5, 3))
    rot = [f"{a}rotation" for a in order]
    frames = np.concatenate([transl, angles[:, 0], angles[:, 1]], axis=1)
    motion = parse_bvh(_two_joint_bvh(["Xposition", "Yposition", "Zposition", *rot], rot, frames), scale=0.5)
    expected = Rotation.from_euler(order, angles.reshape(-1, 3), degrees=True).as_matrix().reshape(5, 2, 3, 3)
    np.testing.assert_allclose(motion.local_rotmat, expected, atol=1e-9)
    np.testing.assert_allclose(motion.root_transl, transl * 0.5, atol=1e-9)
    assert motion.fps == 30.0  # 1 / 0.0333333, rounded
    # knee = root + R_root @ (0, -2, 0) · 0.5; End Site carried along.
    joints, glob = forward_kinematics(motion.skeleton, motion.local_rotmat, motion.root_transl)
    np.testing.assert_allclose(joints[:, 1], transl * 0.5 + expected[:, 0] @ np.array([0, -1.0, 0]), atol=1e-9)
    tip = end_site_positions(motion.skeleton, joints, glob)[1]
    np.testing.assert_allclose(tip, joints[:, 1] + (expected[:, 0] @ expected[:, 1]) @ np.array([0, 0, 0.5]),
                               atol=1e-9)  # fmt: skip


def test_channels_in_any_order_and_position_channels_on_joints():
    # Rotation before position on the root; 6 channels on the joint, whose
    # position values replace its OFFSET.
    root = ["Yrotation", "Xposition", "Zposition", "Yposition"]
    joint = ["Xposition", "Yposition", "Zposition", "Xrotation"]
    frames = np.array([[90.0, 1.0, 3.0, 2.0, 0.0, -4.0, 0.0, 30.0]] * 2)
    motion = parse_bvh(_two_joint_bvh(root, joint, frames))
    np.testing.assert_allclose(motion.root_transl, [[1, 2, 3]] * 2)
    np.testing.assert_allclose(motion.skeleton.offsets[1], [0, -4, 0])
    np.testing.assert_allclose(motion.local_rotmat[0, 0], Rotation.from_euler("Y", 90, degrees=True).as_matrix(),
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(motion.local_rotmat[0, 1], Rotation.from_euler("X", 30, degrees=True).as_matrix(),
                               atol=1e-12)  # fmt: skip


def _random_motion(num_frames: int = 20) -> Motion:
    rng = np.random.default_rng(5)
    # Index order 0,1,2,3,4,5 is not depth-first (0,1,3,5,2,4): the writer must reorder.
    skel = Skeleton(
        joint_names=["root", "spine", "leg", "neck", "foot", "arm"],
        parents=np.array([-1, 0, 0, 1, 2, 1]),
        offsets=np.vstack([np.zeros(3), rng.normal(size=(5, 3))]),
        end_sites={3: np.array([0, 0.1, 0]), 4: np.array([0.1, 0, 0]), 5: np.array([0, 0, 0.2])},
    )
    local = Rotation.random(num_frames * 6, random_state=6).as_matrix().reshape(num_frames, 6, 3, 3)
    return Motion(skel, local, rng.normal(size=(num_frames, 3)), fps=24.0, name="random")


def _positions_by_name(motion: Motion) -> dict[str, np.ndarray]:
    joints, glob = forward_kinematics(motion.skeleton, motion.local_rotmat, motion.root_transl)
    out = {n: joints[:, j] for j, n in enumerate(motion.skeleton.joint_names)}
    for j, tip in end_site_positions(motion.skeleton, joints, glob).items():
        out[motion.skeleton.joint_names[j] + "/end"] = tip
    return out


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX"])
def test_write_then_read_keeps_joint_positions(tmp_path, order):
    motion = _random_motion()
    path = write_bvh(tmp_path / "clip.bvh", motion, rotation_order=order)
    back = read_bvh(path)
    assert back.fps == motion.fps and back.num_frames == motion.num_frames
    assert back.meta["channels"]["spine"] == tuple(f"{a.lower()}rotation" for a in order)
    expected, got = _positions_by_name(motion), _positions_by_name(back)
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-5, err_msg=name)


def test_write_with_unit_scale(tmp_path):
    motion = _random_motion(3)
    path = write_bvh(tmp_path / "cm.bvh", motion, scale=0.01)  # centimetres in the file
    back = read_bvh(path, scale=0.01)
    np.testing.assert_allclose(back.joints(), motion.joints()[:, [0, 1, 3, 5, 2, 4]], atol=1e-7)


def test_asf_amc_to_bvh_round_trip(tmp_path):
    motion = load_asf_amc(DATA / "02.asf", DATA / "02_01_f101-160.amc")
    back = read_bvh(write_bvh(tmp_path / "02_01.bvh", motion))
    assert back.skeleton.joint_names == motion.skeleton.joint_names  # ASF order is depth-first
    np.testing.assert_allclose(back.joints(), motion.joints(), atol=1e-5)
    np.testing.assert_array_equal(back.skeleton.parents, motion.skeleton.parents)


def test_cmu_bvh_and_asf_share_names_and_lengths():
    """Subjects 131 (BVH) and 02 (ASF): same joint tree, similar bones."""
    assert CMU_BVH_METRES_PER_UNIT == pytest.approx(CMU_UNIT)
    bvh = read_bvh(DATA / "131_01_f301-360.bvh", scale=CMU_UNIT)
    # In metres the hips are at hip height (the README's "metres" would put them at 17 m).
    assert 0.7 < bvh.root_transl[:, 1].mean() < 1.1
    assert bvh.num_frames == 60 and bvh.fps == 120.0 and bvh.skeleton.num_joints == 31
    bvh_skel = bvh.skeleton.renamed(CMU_MAX_TO_MB_NAMES)
    asf_skel = load_asf_amc(DATA / "02.asf", DATA / "02_01_f101-160.amc").skeleton
    assert sorted(bvh_skel.joint_names) == sorted(asf_skel.joint_names)
    parent_of = lambda s: {n: s.joint_names[p] if p >= 0 else None for n, p in zip(s.joint_names, s.parents)}  # noqa: E731
    assert parent_of(bvh_skel) == parent_of(asf_skel)

    asf_len = dict(zip(asf_skel.joint_names, asf_skel.bone_lengths()))
    bvh_len = dict(zip(bvh_skel.joint_names, bvh_skel.bone_lengths()))
    both = [n for n in asf_len if asf_len[n] > 0.02 and bvh_len[n] > 0.02]
    # That release collapses the thorax and wrist bones; the rest must match.
    assert {"LeftUpLeg", "LeftLeg", "LeftFoot", "Spine", "Neck1", "LeftArm", "RightForeArm"} <= set(both)
    for name in both:
        assert bvh_len[name] == pytest.approx(asf_len[name], rel=0.3), name
    # Legs: the hip height in the rest pose differs by less than 15 % between subjects.
    rest = lambda s: forward_kinematics(s, np.broadcast_to(np.eye(3), (1, 31, 3, 3)), np.zeros((1, 3)))[0][0]  # noqa: E731
    ankle_drop = [-rest(s)[s.index("LeftFoot"), 1] for s in (asf_skel, bvh_skel)]
    assert ankle_drop[1] == pytest.approx(ankle_drop[0], rel=0.15)


def test_cmu_bvh_bone_lengths_constant():
    motion = read_bvh(DATA / "131_01_f301-360.bvh", scale=CMU_UNIT)
    joints = motion.joints()
    parents = motion.skeleton.parents
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, parents[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(motion.skeleton.bone_lengths()[1:], lengths.shape),
                               rtol=1e-9, atol=1e-12)  # fmt: skip


def test_rejects_truncated_motion():
    text = _two_joint_bvh(["Xrotation"], ["Xrotation"], np.zeros((2, 2)))
    with pytest.raises(ValueError):
        parse_bvh(text.replace("Frames: 2", "Frames: 3"))
