"""ASF/AMC reader: a tiny hand-made skeleton with known poses, and CMU excerpts."""

from pathlib import Path

import numpy as np
import pytest

from vibe.data.mocap.asf_amc import CMU_ASF_TO_BVH, load_asf_amc, parse_asf
from vibe.data.mocap.skeleton import end_site_positions, forward_kinematics

DATA = Path(__file__).parent / "data" / "mocap"
UNIT = 0.0254 / 0.45  # metres per ASF unit with ":units length 0.45" (CMU FAQ)

TINY_ASF = """\
# three bones in a chain; bone a has its frame turned 90° about z
:version 1.10
:name tiny
:units
  mass 1.0
  length 0.45
  angle deg
:documentation
  hand-made for the tests
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 0 1 0
     length 2
     axis 0 0 90  XYZ
    dof rx
    limits (-180.0 180.0)
  end
  begin
     id 2
     name b
     direction 1 0 0
     length 1
     axis 0 0 0 XYZ
    dof rz
    limits (-180.0 180.0)
  end
  begin
     id 3
     name c
     direction 0 0 1
     length 0.5
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root a
    a b
    b c
  end
"""

TINY_AMC = """\
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
a 90
b 0
2
root 0 0 0 0 0 90
a 0
b 90
3
root 0 0 0 90 90 0
a 0
b 0
"""

# Hand-computed positions (ASF units) of the joints root, a, b, c and of c's tail.
# Frame 1: a's rx is about its frame's x = world y (C = Rz 90): a stays along y,
#   b's direction x turns to -z, c's direction z turns to +x.
# Frame 2: root rz 90 turns a's (0,2,0) to (-2,0,0); b adds another 90° about z.
# Frame 3: root rx 90 then ry 90 about fixed axes: y → z → x, x → x → -z.
EXPECTED = np.array([
    [[1, 2, 3], [1, 2, 3], [1, 4, 3], [1, 4, 2], [1.5, 4, 2]],
    [[0, 0, 0], [0, 0, 0], [-2, 0, 0], [-3, 0, 0], [-3, 0, 0.5]],
    [[0, 0, 0], [0, 0, 0], [2, 0, 0], [2, 0, -1], [2, -0.5, -1]],
], dtype=float)  # fmt: skip


@pytest.fixture
def tiny_motion(tmp_path):
    (tmp_path / "tiny.asf").write_text(TINY_ASF)
    (tmp_path / "tiny_01.amc").write_text(TINY_AMC)
    return load_asf_amc(tmp_path / "tiny.asf", tmp_path / "tiny_01.amc", fps=60.0)


def test_tiny_skeleton_structure(tiny_motion):
    skel = tiny_motion.skeleton
    assert skel.joint_names == ["Hips", "a", "b", "c"]  # only the root is in the CMU table
    np.testing.assert_array_equal(skel.parents, [-1, 0, 1, 2])
    # Joint = bone head: a starts at the root, b at a's tail, c at b's tail.
    np.testing.assert_allclose(skel.offsets, np.array([[0, 0, 0], [0, 0, 0], [0, 2, 0], [1, 0, 0]]) * UNIT)
    np.testing.assert_allclose(skel.end_sites[3], np.array([0, 0, 0.5]) * UNIT)
    assert tiny_motion.num_frames == 3 and tiny_motion.fps == 60.0


def test_tiny_known_poses(tiny_motion):
    joints, glob = forward_kinematics(tiny_motion.skeleton, tiny_motion.local_rotmat, tiny_motion.root_transl)
    tail = end_site_positions(tiny_motion.skeleton, joints, glob)[3]
    got = np.concatenate([joints, tail[:, None]], axis=1)
    np.testing.assert_allclose(got, EXPECTED * UNIT, atol=1e-12)


def test_parse_asf_fields():
    asf = parse_asf((DATA / "02.asf").read_text())
    assert asf.length_unit == 0.45 and asf.angle_in_degrees
    assert asf.root_order == ("tx", "ty", "tz", "rx", "ry", "rz")
    femur = asf.bones["lfemur"]
    assert femur.dofs == ("rx", "ry", "rz") and femur.axis_order == "XYZ"
    np.testing.assert_allclose(np.rad2deg(femur.axis_rad), [0, 0, 20])
    np.testing.assert_allclose(femur.limits, [[-160, 20], [-70, 70], [-60, 70]])
    assert asf.bones["lfoot"].dofs == ("rx", "rz")
    assert asf.children["thorax"] == ["lowerneck", "lclavicle", "rclavicle"]
    assert len(asf.bones) == 30


@pytest.fixture(scope="module")
def cmu_walk():
    return load_asf_amc(DATA / "02.asf", DATA / "02_01_f101-160.amc")


def test_cmu_names_and_rest_lengths(cmu_walk):
    skel = cmu_walk.skeleton
    assert skel.joint_names[0] == "Hips" and set(skel.joint_names) == set(CMU_ASF_TO_BVH.values())
    asf = parse_asf((DATA / "02.asf").read_text())
    # LeftLeg (knee) hangs off LeftUpLeg (hip) by the femur: 7.59371 ASF units.
    knee = skel.index("LeftLeg")
    assert skel.joint_names[skel.parents[knee]] == "LeftUpLeg"
    assert np.linalg.norm(skel.offsets[knee]) == pytest.approx(asf.bones["lfemur"].length * UNIT)
    np.testing.assert_allclose(skel.offsets[skel.index("LeftUpLeg")],
                               asf.bones["lhipjoint"].direction * 2.52691 * UNIT)  # fmt: skip


def test_cmu_bone_lengths_constant(cmu_walk):
    joints = cmu_walk.joints()
    parents = cmu_walk.skeleton.parents
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, parents[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(cmu_walk.skeleton.bone_lengths()[1:], lengths.shape),
                               rtol=1e-9, atol=1e-12)  # fmt: skip


def test_cmu_walk_is_physically_plausible(cmu_walk):
    """Feet touch the floor (y = 0) and the body walks at human speed, upright."""
    skel = cmu_walk.skeleton
    joints, glob = forward_kinematics(skel, cmu_walk.local_rotmat, cmu_walk.root_transl)
    tips = end_site_positions(skel, joints, glob)
    toe_tips = np.stack([tips[skel.index("LeftToeBase")], tips[skel.index("RightToeBase")]], axis=1)
    assert abs(toe_tips[..., 1].min()) < 0.03  # a foot is on the floor, within 3 cm
    head = joints[:, skel.index("Head"), 1]
    assert 1.3 < head.mean() < 1.8  # an adult's head height, metres
    hips_xz = joints[:, 0, [0, 2]]
    speed = np.linalg.norm(hips_xz[-1] - hips_xz[0]) / cmu_walk.duration
    assert 0.8 < speed < 2.0  # walking, m/s


def test_blank_frames_at_the_ends_are_trimmed(tmp_path):
    blank = "root 0 0 0 0 0 0\na 0\nb 0\n"
    frames = [blank, "root 1 2 3 0 0 0\na 90\nb 0\n", blank, "root 0 0 0 0 0 90\na 0\nb 90\n", blank]
    amc = ":DEGREES\n" + "".join(f"{i}\n{f}" for i, f in enumerate(frames, start=1))
    (tmp_path / "tiny.asf").write_text(TINY_ASF)
    (tmp_path / "tiny_01.amc").write_text(amc)
    motion = load_asf_amc(tmp_path / "tiny.asf", tmp_path / "tiny_01.amc")
    assert motion.num_frames == 3  # the inner blank frame stays
    np.testing.assert_allclose(motion.joints()[[0, 2]], EXPECTED[:2, :4] * UNIT, atol=1e-12)
    kept = load_asf_amc(tmp_path / "tiny.asf", tmp_path / "tiny_01.amc", keep_blank_frames=True)
    assert kept.num_frames == 5
