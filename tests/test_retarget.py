"""Retargeting mocap onto Anny cmu_mb: bone directions, round trip, ground, IK.

References: Anny's own forward pass (posed joints and bone rotations), the
mocap skeleton's forward kinematics, scipy's ``align_vectors``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from toy_body import ToyBody

from vibe.body.anny import Anny
from vibe.body.smpl import SMPL_JOINT_NAMES
from vibe.data.build_motion_db import ClipInfo, build_db, default_anny_shape
from vibe.data.mocap import CMU_MAX_TO_MB_NAMES, Motion, Skeleton, load_asf_amc, read_bvh
from vibe.data.mocap.skeleton import end_site_positions, forward_kinematics
from vibe.data.retarget import (
    ANNY_CMU_MB_TO_CMU,
    SMPL_TO_ANNY_CMU_MB,
    IKConfig,
    RetargetConfig,
    fit_shape_to_skeleton,
    fit_to_joint_positions,
    rest_alignment,
    retarget_motion,
    swing_rotmat,
    target_skeleton,
    unretarget_rotations,
)

pytestmark = pytest.mark.anny

DATA = Path(__file__).parent / "data" / "mocap"
CMU_UNIT_M = 0.0254 / 0.45


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


@pytest.fixture(scope="module")
def shape(body: Anny) -> torch.Tensor:
    return default_anny_shape(body)


def _cmu_walk() -> Motion:
    return load_asf_amc(DATA / "02.asf", DATA / "02_01_f101-160.amc")


def _cmu_bvh() -> Motion:
    motion = read_bvh(DATA / "131_01_f301-360.bvh", scale=CMU_UNIT_M)
    return replace(motion, skeleton=motion.skeleton.renamed(CMU_MAX_TO_MB_NAMES))


CLIPS = {"asf_amc": _cmu_walk, "bvh": _cmu_bvh}
UNMATCHED_BVH = {"Spine1", "LeftHand", "RightHand"}


def _pose(body: Anny, local: np.ndarray, transl: np.ndarray, shape: torch.Tensor):
    return body(
        torch.as_tensor(local, dtype=torch.float32),
        shape=shape.expand(len(local), -1),
        transl=torch.as_tensor(transl, dtype=torch.float32),
    )


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def test_swing_rotmat_is_scipys_minimal_rotation() -> None:
    rng = np.random.default_rng(1)
    for a, b in rng.normal(size=(20, 2, 3)):
        expected, _ = Rotation.align_vectors(b[None], a[None])
        np.testing.assert_allclose(swing_rotmat(a, b), expected.as_matrix(), atol=1e-9)
    a = np.array([0.0, 1.0, 0.0])
    flipped = swing_rotmat(a, -a)  # half turn: any axis perpendicular to a
    np.testing.assert_allclose(flipped @ a, -a, atol=1e-12)
    np.testing.assert_allclose(flipped @ flipped.T, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_bone_directions_follow_the_source(body: Anny, shape: torch.Tensor, clip: str) -> None:
    motion = CLIPS[clip]()
    target = target_skeleton(body, shape)
    align = rest_alignment(motion.skeleton, target)
    result = retarget_motion(motion, target)
    out = _pose(body, result.local_rotmat, result.root_transl, shape)
    heads = out.joints.double().numpy()
    glob = out.joints_rotmat.double().numpy()
    tails = heads + (glob @ (target.rest_tails - target.rest_heads)[..., None])[..., 0]

    skel = motion.skeleton
    src_joints, src_glob = forward_kinematics(skel, motion.local_rotmat, motion.root_transl)
    src_ends = end_site_positions(skel, src_joints, src_glob)
    names = [ANNY_CMU_MB_TO_CMU.get(n, n) for n in target.joint_names]
    checked = []
    for j, name in enumerate(target.joint_names):
        if not align.direction_matched[j]:
            continue
        s = skel.index(names[j])
        kids = target.children(j)
        if kids:  # the target's tail is one child's head; the source bone ends at that child
            child = min(kids, key=lambda c: np.linalg.norm(target.rest_heads[c] - target.rest_tails[j]))
            src_dir = src_joints[:, skel.index(names[child])] - src_joints[:, s]
        else:
            src_dir = src_ends[s] - src_joints[:, s]
        err = _angle_deg(tails[:, j] - heads[:, j], src_dir)
        assert err.max() < 0.5, f"{name}: {err.max():.3f} deg"
        checked.append(name)
    # Not matched: the root, the rigid hip bones and collarbones; in the 3ds Max BVH
    # also the bones it gives zero length (Spine1 and the hands start where their child does).
    rigid = {"Hips", "LHipJoint", "RHipJoint", "LeftShoulder", "RightShoulder"}
    unmatched = rigid | (UNMATCHED_BVH if clip == "bvh" else set())
    assert set(checked) == set(target.joint_names) - unmatched


def test_source_rest_pose_keeps_the_targets_shoulders(body: Anny, shape: torch.Tensor) -> None:
    """A source standing in its own rest pose gives Anny's rest collarbones (no shrug).

    CMU's rest collarbone points ~14° up and Anny's ~10° down; matching their
    directions turned Anny's collarbones up by ~25° in every frame.
    """
    motion = _cmu_walk()
    rest = replace(motion, local_rotmat=np.broadcast_to(np.eye(3), motion.local_rotmat[:1].shape).copy(),
                   root_transl=motion.root_transl[:1])  # fmt: skip
    target = target_skeleton(body, shape)
    glob = _pose(body, retarget_motion(rest, target).local_rotmat, np.zeros((1, 3)), shape).joints_rotmat
    for side in ("Left", "Right"):
        j = target.joint_names.index(f"{side}Shoulder")
        rest_dir = target.rest_tails[j] - target.rest_heads[j]
        posed_dir = glob[0, j].double().numpy() @ rest_dir
        assert _angle_deg(posed_dir[None], rest_dir[None]).max() < 5.0  # the shrug was ~25°
        cmu = motion.skeleton.offsets[motion.skeleton.index(f"{side}Arm")]
        assert np.degrees(np.arcsin(cmu[1] / np.linalg.norm(cmu))) > 5.0  # the source's rest shrug
        assert rest_dir[1] < 0.0  # Anny's collarbone points down at rest


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_round_trip_recovers_source_joints(body: Anny, shape: torch.Tensor, clip: str) -> None:
    motion = CLIPS[clip]()
    target = target_skeleton(body, shape)
    result = retarget_motion(motion, target)
    # Through float32 Anny posing and back: Anny's posed globals → target locals → source.
    out = _pose(body, result.local_rotmat, result.root_transl, shape)
    glob = out.joints_rotmat.double().numpy()
    local = glob.copy()
    parents = target.parents
    local[:, 1:] = np.swapaxes(glob[:, parents[1:]], -1, -2) @ glob[:, 1:]
    back = unretarget_rotations(local, target, motion.skeleton)
    root_back = (out.joints[:, 0].double().numpy()) / result.scale
    joints_back, _ = forward_kinematics(motion.skeleton, back, root_back - motion.skeleton.offsets[0])
    np.testing.assert_allclose(joints_back, motion.joints(), atol=1e-4)  # float32 posing: 0.1 mm


def _own_skeleton_motion(body: Anny, shape: torch.Tensor, frames: int = 4) -> Motion:
    """A random motion of a `Skeleton` built from Anny's rest skeleton (CMU names)."""
    target = target_skeleton(body, shape)
    names = [ANNY_CMU_MB_TO_CMU.get(n, n) for n in target.joint_names]
    offsets = target.rest_heads - target.rest_heads[target.parents.clip(0)]
    offsets[0] = target.rest_heads[0]
    leaves = [j for j in range(len(names)) if not target.children(j)]
    ends = {j: target.rest_tails[j] - target.rest_heads[j] for j in leaves}
    skel = Skeleton(names, target.parents, offsets, ends)
    rng = np.random.default_rng(2)
    local = Rotation.from_rotvec(rng.normal(scale=0.4, size=(frames * len(names), 3))).as_matrix()
    local = local.reshape(frames, len(names), 3, 3)
    root = rng.normal(scale=0.3, size=(frames, 3))
    return Motion(skel, local, root, fps=30.0)


def test_own_skeleton_retargets_to_itself(body: Anny, shape: torch.Tensor) -> None:
    """A source with Anny's own rest skeleton: zero offsets, same locals, same joints."""
    target = target_skeleton(body, shape)
    motion = _own_skeleton_motion(body, shape)
    local = motion.local_rotmat
    align = rest_alignment(motion.skeleton, target)
    np.testing.assert_allclose(align.offset_rotmat, np.broadcast_to(np.eye(3), align.offset_rotmat.shape), atol=1e-9)
    result = retarget_motion(motion, target)
    assert result.scale == pytest.approx(1.0)
    np.testing.assert_allclose(result.local_rotmat, local, atol=1e-9)
    out = _pose(body, result.local_rotmat, result.root_transl, shape)
    np.testing.assert_allclose(out.joints.double().numpy(), motion.joints(), atol=1e-5)


def test_walk_keeps_feet_on_the_ground(body: Anny, shape: torch.Tensor) -> None:
    result = retarget_motion(_cmu_walk(), target_skeleton(body, shape))
    out = _pose(body, result.local_rotmat, result.root_transl, shape)
    lowest = out.vertices[..., 1].min(dim=1).values.numpy()  # (T,) lowest mesh point per frame
    # One foot is always down in a walk: the sole stays within 3 cm of the floor (y = 0).
    assert np.all(np.abs(lowest) < 0.03), lowest


def test_hand_twist_matches_the_source_thumb(body: Anny, shape: torch.Tensor) -> None:
    """After the rest offset the Anny thumb lies in the plane of the source hand and thumb."""
    motion = _cmu_walk()
    target = target_skeleton(body, shape)
    align = rest_alignment(motion.skeleton, target)
    for side in ("L", "R"):
        hand = target.joint_names.index(f"{'Left' if side == 'L' else 'Right'}Hand")
        thumb = target.joint_names.index(f"{side}Thumb")
        d_src = motion.skeleton.offsets[motion.skeleton.index(f"{'Left' if side == 'L' else 'Right'}FingerBase")]
        u_src = motion.skeleton.end_sites[motion.skeleton.index(f"{side}Thumb")]
        u_tgt = align.offset_rotmat[hand] @ (target.rest_tails[thumb] - target.rest_heads[thumb])
        normal = np.cross(d_src, u_src)
        assert abs(u_tgt @ normal) / np.linalg.norm(u_tgt) / np.linalg.norm(normal) < 1e-9
        assert u_tgt @ u_src > 0  # same side, not mirrored


def test_mismatched_names_ask_for_ik(body: Anny, shape: torch.Tensor) -> None:
    motion = _cmu_walk()
    renamed = replace(motion, skeleton=motion.skeleton.renamed({"LeftLeg": "knee_l"}))
    with pytest.raises(ValueError, match="fit_to_joint_positions"):
        retarget_motion(renamed, target_skeleton(body, shape), RetargetConfig())


def test_ik_recovers_a_known_pose(body: Anny) -> None:
    rng = np.random.default_rng(3)
    frames = 3
    pose = Rotation.from_rotvec(rng.normal(scale=0.25, size=(frames * body.num_joints, 3))).as_matrix()
    pose = torch.as_tensor(pose, dtype=torch.float32).reshape(frames, body.num_joints, 3, 3)
    pose[:, 0] = torch.as_tensor(Rotation.from_euler("y", [[0.3], [2.0], [-2.5]]).as_matrix(), dtype=torch.float32)
    transl = torch.as_tensor(rng.normal(scale=0.5, size=(frames, 3)), dtype=torch.float32)
    truth = body(pose, transl=transl)

    # Source joints in a shuffled order, mapped back by name.
    order = rng.permutation(body.num_joints)
    source = truth.joints[:, order]
    joint_map = {k: body.joint_names[j] for k, j in enumerate(order)}
    fit = fit_to_joint_positions(body, source, joint_map, config=IKConfig(iterations=200))

    assert fit.error_m.max() < 0.005 and fit.error_m.mean() < 0.0015
    # The fitted parameters pose the real model onto the same joints.
    refit = body(fit.pose_rotmat, transl=fit.transl)
    np.testing.assert_allclose(refit.joints.numpy(), fit.joints.numpy(), atol=1e-5)
    # A bone with non-collinear children beyond it has no free twist: its rotation is
    # recovered. (Not the pelvis: its children start at its own head.)
    for name in ("Spine1", "LeftHand", "RightHand"):
        j = body.joint_names.index(name)
        rel = refit.joints_rotmat[:, j].transpose(-1, -2) @ truth.joints_rotmat[:, j]
        angle = np.degrees(Rotation.from_matrix(rel.double().numpy()).magnitude())
        assert angle.max() < 3.0, (name, angle)


def test_build_db_routes_unmatched_names_through_ik(body: Anny, shape: torch.Tensor) -> None:
    motion = _own_skeleton_motion(body, shape, frames=3)
    # Mocap never turns the pelvis-to-hip bones, and the IK route holds them rigid.
    motion.local_rotmat[:, [motion.skeleton.index(n) for n in ("LHipJoint", "RHipJoint")]] = np.eye(3)
    renamed = replace(motion, skeleton=motion.skeleton.renamed({n: f"src_{n}" for n in motion.skeleton.joint_names}))
    joint_map = {f"src_{ANNY_CMU_MB_TO_CMU.get(n, n)}": n for n in body.joint_names}
    db = build_db([(renamed, ClipInfo(subject="00"))], body, shape=shape, joint_map=joint_map)
    rot, transl = db.clip(0)
    out = _pose(body, rot, transl, shape)
    # float16 rotations along 6-bone chains: a few millimetres.
    np.testing.assert_allclose(out.joints.double().numpy(), motion.joints(), atol=0.01)
    with pytest.raises(ValueError, match="fit_to_joint_positions"):
        build_db([(renamed, ClipInfo())], body, shape=shape)


def test_shape_fit_moves_bone_lengths_towards_the_source(body: Anny, shape: torch.Tensor) -> None:
    skel = _cmu_walk().skeleton
    chain = [("LeftUpLeg", "LeftLeg"), ("LeftLeg", "LeftFoot"), ("LeftArm", "LeftForeArm"), ("Spine", "Spine1")]
    source = np.array([np.linalg.norm(skel.offsets[skel.index(c)]) for _, c in chain])

    def error(s: torch.Tensor) -> float:
        heads = target_skeleton(body, s).rest_heads
        names = body.joint_names
        lengths = np.array([np.linalg.norm(heads[names.index(c)] - heads[names.index(p)]) for p, c in chain])
        return float(np.abs(lengths - source).mean())

    fitted = fit_shape_to_skeleton(body, skel, shape=shape, iterations=30, lr=0.05)
    changed = [body.phenotype_labels.index(k) for k in ("height", "proportions")]
    untouched = [i for i in range(body.shape_dim) if i not in changed]
    torch.testing.assert_close(fitted[0, untouched], shape[0, untouched])
    assert fitted.min() >= 0 and fitted.max() <= 1
    assert error(fitted) < error(shape)


def test_smpl_map_pairs_existing_joints_side_by_side(body: Anny) -> None:
    assert set(SMPL_TO_ANNY_CMU_MB) <= set(SMPL_JOINT_NAMES)
    assert set(SMPL_TO_ANNY_CMU_MB.values()) <= set(body.joint_names)
    assert len(set(SMPL_TO_ANNY_CMU_MB.values())) == len(SMPL_TO_ANNY_CMU_MB)
    for smpl, anny in SMPL_TO_ANNY_CMU_MB.items():  # left ↔ Left, right ↔ Right
        assert smpl.startswith("left") == anny.startswith("Left")
        assert smpl.startswith("right") == anny.startswith("Right")


def test_ik_on_another_body_model_with_shape() -> None:
    """The IK only uses the BodyModel interface: a toy binary-tree body, shape fitted too."""
    toy = ToyBody(num_joints=15, shape_dim=4).double()
    rng = np.random.default_rng(4)
    pose = Rotation.from_rotvec(rng.normal(scale=0.4, size=(2 * 15, 3))).as_matrix()
    pose = torch.from_numpy(pose).reshape(2, 15, 3, 3)
    shape = torch.from_numpy(rng.normal(scale=0.5, size=(1, 4)))
    truth = toy(pose, shape=shape.expand(2, -1), transl=torch.tensor([[0.1, 0.2, 0.3], [-0.2, 0.0, 0.4]]))
    fit = fit_to_joint_positions(toy, truth.joints, dict(enumerate(toy.joint_names)), config=IKConfig(fit_shape=True))
    assert fit.error_m.max() < 1e-3
    # Every inner joint of a binary tree has two children: no free twist.
    inner = [j for j in range(15) if 2 * j + 2 < 15]
    refit = toy(fit.pose_rotmat, shape=fit.shape.expand(2, -1), transl=fit.transl)
    rel = refit.joints_rotmat[:, inner].transpose(-1, -2) @ truth.joints_rotmat[:, inner]
    assert np.degrees(Rotation.from_matrix(rel.reshape(-1, 3, 3).numpy()).magnitude()).max() < 1.0
