"""Anny behind the BodyModel interface: shapes, frames, pose convention, keypoints.

References are independent of the wrapper: anny's own rest mesh, scipy
rotations, hand-composed kinematic chains, MediaPipe's landmark enum.
"""

from __future__ import annotations

import numpy as np
import pytest
import roma
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import Anny, AnnyConfig, _anny_cache_at, resolve_cache_dir
from vibe.body.joint_sets import COCO17, EVAL14

pytestmark = pytest.mark.anny


@pytest.fixture(scope="module")
def body() -> Anny:
    # float64 so that geometric identities hold to ~1e-9.
    return Anny(AnnyConfig(dtype=torch.float64))


def _rot(rotvec) -> torch.Tensor:
    return torch.from_numpy(Rotation.from_rotvec(rotvec).as_matrix())


def _random_pose(body: Anny, batch: int, scale: float = 0.5) -> torch.Tensor:
    rotvecs = np.random.randn(batch * body.num_joints, 3) * scale
    return torch.from_numpy(Rotation.from_rotvec(rotvecs).as_matrix()).reshape(batch, -1, 3, 3)


def _index(body: Anny, name: str) -> int:
    return body.joint_names.index(name)


def _descendants(body: Anny, name: str) -> set[int]:
    parents = body.parents.tolist()
    out = {_index(body, name)}
    for j in range(len(parents)):  # parents precede children in this rig
        if parents[j] in out:
            out.add(j)
    return out


def test_description(body: Anny) -> None:
    names = body.joint_names
    assert names[0] == "Hips" and len(names) == body.num_joints
    for bone in ("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftArm", "LeftForeArm", "LeftHand", "Neck", "Head"):
        assert bone in names
    parents = body.parents.tolist()
    assert parents[0] == -1 and all(0 <= p < j for j, p in enumerate(parents) if j > 0)
    assert names[parents[_index(body, "LeftHand")]] == "LeftForeArm"
    faces = body.faces
    assert faces.dtype == torch.long and faces.shape[1] == 3
    assert faces.min() >= 0 and faces.max() == body.num_vertices - 1
    assert body.num_vertices == body._anny.template_vertices.shape[0]
    assert body.shape_dim == 6 == len(body.phenotype_labels)
    assert body.phenotype_labels == ["gender", "age", "muscle", "weight", "height", "proportions"]


def test_output_shapes_and_dtype() -> None:
    body32 = Anny()  # default config: float32
    out = body32(body32.rest_pose(2), transl=torch.zeros(2, 3))
    assert out.vertices.shape == (2, body32.num_vertices, 3)
    assert out.joints.shape == (2, body32.num_joints, 3)
    assert out.joints_rotmat.shape == (2, body32.num_joints, 3, 3)
    assert out.vertices.dtype == torch.float32
    for name, labels in body32.keypoint_sets.items():
        assert body32.keypoints(out, name).shape == (2, len(labels), 3)


def test_default_height_and_world_axes(body: Anny) -> None:
    out = body(body.rest_pose(1))
    height = out.vertices[0, :, 1].max() - out.vertices[0, :, 1].min()
    assert 1.4 < height < 2.0
    kp = dict(zip(body.keypoint_sets["blazepose33"], body.keypoints(out, "blazepose33")[0]))
    neck = body.keypoints(out, "eval14")[0, EVAL14.index("neck")]
    assert kp["nose"][1] > kp["left_hip"][1] > kp["left_ankle"][1]  # y up
    assert kp["nose"][2] > neck[2] + 0.05  # faces +z
    assert kp["left_shoulder"][0] > 0.1 > -0.1 > kp["right_shoulder"][0]  # left is +x


def test_identity_pose_is_anny_rest_mesh(body: Anny) -> None:
    shape = torch.tensor([[0.2, 0.8, 0.3, 0.6, 0.7, 0.4]], dtype=torch.float64)
    raw = body._anny(phenotype_kwargs=shape)["rest_vertices"][0]
    expected = torch.stack([raw[:, 0], raw[:, 2], -raw[:, 1]], dim=-1)  # z up → y up
    out = body(body.rest_pose(1), shape)
    torch.testing.assert_close(out.vertices[0], expected, rtol=0, atol=1e-9)
    eye = torch.eye(3, dtype=torch.float64).expand_as(out.joints_rotmat)
    torch.testing.assert_close(out.joints_rotmat, eye, rtol=0, atol=1e-9)


def test_mean_shape_is_anny_default(body: Anny) -> None:
    mean = body.mean_shape(3)
    assert mean.shape == (3, body.shape_dim)
    torch.testing.assert_close(mean, torch.full_like(mean, 0.5))
    adult = Anny(AnnyConfig(dtype=torch.float64, mean_phenotype={"age": 0.8}))
    assert adult.mean_shape()[0, body.phenotype_labels.index("age")] == 0.8
    with pytest.raises(ValueError):
        Anny(AnnyConfig(mean_phenotype={"not_a_phenotype": 0.1}))


def test_global_rotations_compose_locals(body: Anny) -> None:
    pose = _random_pose(body, 2)
    out = body(pose)
    parents = body.parents.tolist()
    expected = [pose[:, 0]]
    for j in range(1, body.num_joints):
        expected.append(expected[parents[j]] @ pose[:, j])
    torch.testing.assert_close(out.joints_rotmat, torch.stack(expected, 1), rtol=0, atol=1e-9)


def test_elbow_rotation_moves_wrist_on_circle(body: Anny) -> None:
    rest = body(body.rest_pose(1)).joints[0]
    elbow, wrist = _index(body, "LeftForeArm"), _index(body, "LeftHand")
    moved = _descendants(body, "LeftForeArm") - {elbow}
    still = [j for j in range(body.num_joints) if j not in moved]
    radius = (rest[wrist] - rest[elbow]).norm()
    axis = np.array([0.0, 0.0, 1.0])
    for angle in (np.pi / 6, np.pi / 3, np.pi / 2):
        rot = _rot(axis * angle)
        pose = body.rest_pose(1)
        pose[0, elbow] = rot
        joints = body(pose).joints[0]
        torch.testing.assert_close(joints[still], rest[still], rtol=0, atol=1e-9)
        torch.testing.assert_close((joints[wrist] - joints[elbow]).norm(), radius)
        # Local rotations act in world-aligned axes: the offset turns by `rot` itself.
        for j in moved:
            torch.testing.assert_close(joints[j], rest[elbow] + rot @ (rest[j] - rest[elbow]))
    # 90° about z: the wrist's offset is perpendicular to where it started.
    offset = joints[wrist] - joints[elbow]
    start = rest[wrist] - rest[elbow]
    assert torch.dot(offset[:2], start[:2]).abs() < 1e-9


def test_skinned_vertices_follow_their_bones(body: Anny) -> None:
    """Vertices skinned only to the forearm subtree turn rigidly about the elbow;
    vertices with no weight on it stay put (anny's skinning weights as reference)."""
    elbow = _index(body, "LeftForeArm")
    subtree = torch.tensor(sorted(_descendants(body, "LeftForeArm")))
    weights, bones = body._anny.vertex_bone_weights, body._anny.vertex_bone_indices
    on_subtree = (weights * torch.isin(bones, subtree)).sum(-1)
    rigid, fixed = on_subtree > 1 - 1e-9, on_subtree < 1e-9
    assert rigid.sum() > 100 and fixed.sum() > 1000
    rest = body(body.rest_pose(1))
    rot = _rot([0.7, -0.2, 0.9])
    pose = body.rest_pose(1)
    pose[0, elbow] = rot
    verts = body(pose).vertices[0]
    e = rest.joints[0, elbow]
    torch.testing.assert_close(verts[rigid], e + (rest.vertices[0, rigid] - e) @ rot.T)
    torch.testing.assert_close(verts[fixed], rest.vertices[0, fixed], rtol=0, atol=1e-9)


def test_shoulder_then_elbow_chain(body: Anny) -> None:
    rest = body(body.rest_pose(1)).joints[0]
    sho, elb, wri = (_index(body, n) for n in ("LeftArm", "LeftForeArm", "LeftHand"))
    r1, r2 = _rot([0.3, -0.8, 0.4]), _rot([-1.0, 0.2, 0.5])
    pose = body.rest_pose(1)
    pose[0, sho], pose[0, elb] = r1, r2
    joints = body(pose).joints[0]
    elbow = rest[sho] + r1 @ (rest[elb] - rest[sho])
    wrist = elbow + r1 @ r2 @ (rest[wri] - rest[elb])
    torch.testing.assert_close(joints[elb], elbow)
    torch.testing.assert_close(joints[wri], wrist)


def test_root_rotates_about_its_head_and_transl_shifts(body: Anny) -> None:
    rest = body(body.rest_pose(1))
    rot = _rot([0.4, 1.2, -0.3])
    transl = torch.tensor([[0.5, -0.2, 3.0]], dtype=torch.float64)
    pose = body.rest_pose(1)
    pose[0, 0] = rot
    out = body(pose, transl=transl)
    root = rest.joints[0, 0]
    expected_v = root + (rest.vertices[0] - root) @ rot.T + transl[0]
    torch.testing.assert_close(out.vertices[0], expected_v)
    torch.testing.assert_close(out.joints[0, 0], root + transl[0])


def test_keypoint_names(body: Anny) -> None:
    from mediapipe.python.solutions.pose import PoseLandmark

    sets = body.keypoint_sets
    assert sets["coco17"] == list(COCO17)
    assert sets["eval14"] == list(EVAL14)
    assert sets["blazepose33"] == [lm.name.lower() for lm in PoseLandmark]
    with pytest.raises(KeyError):
        body.keypoints(body(body.rest_pose(1)), "nope")


@pytest.mark.parametrize("set_name", ["coco17", "blazepose33", "eval14"])
def test_keypoints_inside_mesh_bounds_and_follow_translation(body: Anny, set_name: str) -> None:
    pose = _random_pose(body, 3, scale=0.4)
    out = body(pose)
    kp = body.keypoints(out, set_name)
    lo, hi = out.vertices.min(1).values[:, None], out.vertices.max(1).values[:, None]
    assert ((kp >= lo - 1e-6) & (kp <= hi + 1e-6)).all()
    transl = torch.tensor([[1.0, 2.0, -3.0]], dtype=torch.float64).expand(3, 3)
    moved = body.keypoints(body(pose, transl=transl), set_name)
    torch.testing.assert_close(moved, kp + transl[:, None])


def test_keypoints_mirror_symmetric_in_rest_pose(body: Anny) -> None:
    out = body(body.rest_pose(1))
    for set_name, names in body.keypoint_sets.items():
        kp = body.keypoints(out, set_name)[0]
        flip = torch.tensor([-1.0, 1.0, 1.0], dtype=kp.dtype)
        for i, name in enumerate(names):
            twin = name.replace("left", "right") if "left" in name else None
            if twin is not None:
                # The person's left is +x (BlazePose's inner eye corners: 9.5 mm off the midline).
                assert kp[i][0] > 0.009, (set_name, name)
                assert (kp[i] - kp[names.index(twin)] * flip).norm() < 2e-3, (set_name, name)
            elif "right" not in name:
                assert kp[i][0].abs() < 2e-3, (set_name, name)  # on the midline


def test_keypoint_definitions_agree(body: Anny) -> None:
    """Anny's COCO regressor, the rig joints and the mesh-vertex rules are independent
    definitions of nearby anatomy; they must roughly agree."""
    out = body(_random_pose(body, 2, scale=0.3))
    coco = dict(zip(COCO17, body.keypoints(out, "coco17").unbind(1)))
    eval14 = dict(zip(EVAL14, body.keypoints(out, "eval14").unbind(1)))
    blaze = dict(zip(body.keypoint_sets["blazepose33"], body.keypoints(out, "blazepose33").unbind(1)))
    for name in ("left_shoulder", "left_elbow", "left_wrist", "left_hip", "left_knee", "left_ankle"):
        assert ((coco[name] - eval14[name]).norm(dim=-1) < 0.07).all(), name
    wrist_to_hand = (blaze["left_index"] - blaze["left_wrist"]).norm(dim=-1)
    assert ((wrist_to_hand > 0.05) & (wrist_to_hand < 0.15)).all()
    eye_width = (blaze["left_eye_outer"] - blaze["left_eye_inner"]).norm(dim=-1)
    assert ((eye_width > 0.015) & (eye_width < 0.04)).all()
    neck_to_head = (eval14["head_top"] - eval14["neck"]).norm(dim=-1)
    assert ((neck_to_head > 0.15) & (neck_to_head < 0.35)).all()


def test_gradients_reach_pose_and_shape(body: Anny) -> None:
    rotvec = (torch.randn(2, body.num_joints, 3, dtype=torch.float64) * 0.3).requires_grad_()
    shape = torch.full((2, body.shape_dim), 0.4, dtype=torch.float64, requires_grad=True)
    pose = roma.rotvec_to_rotmat(rotvec)
    out = body(pose, shape)
    loss = body.keypoints(out, "blazepose33").square().sum() + out.vertices.square().mean()
    loss.backward()
    assert torch.isfinite(rotvec.grad).all() and rotvec.grad.abs().sum() > 0
    assert torch.isfinite(shape.grad).all() and (shape.grad.abs() > 0).all()


def test_batched_matches_one_by_one(body: Anny) -> None:
    pose = _random_pose(body, 3)
    shape = torch.rand(3, body.shape_dim, dtype=torch.float64)
    transl = torch.randn(3, 3, dtype=torch.float64)
    batched = body(pose, shape, transl)
    for i in range(3):
        single = body(pose[i : i + 1], shape[i : i + 1], transl[i : i + 1])
        torch.testing.assert_close(batched.vertices[i], single.vertices[0])
        torch.testing.assert_close(batched.joints[i], single.joints[0])
        torch.testing.assert_close(batched.joints_rotmat[i], single.joints_rotmat[0])


def test_rest_bone_ends_match_rest_joints(body: Anny) -> None:
    heads, tails = body.rest_bone_ends()
    rest = body(body.rest_pose(1)).joints
    torch.testing.assert_close(heads, rest)
    # A chain bone's tail is its child's head (CMU rig): forearm → hand.
    torch.testing.assert_close(tails[0, _index(body, "LeftForeArm")], heads[0, _index(body, "LeftHand")])


def test_cache_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import anny.paths

    monkeypatch.delenv("VIBE_CACHE_DIR", raising=False)
    assert resolve_cache_dir(AnnyConfig()) is None
    monkeypatch.setenv("VIBE_CACHE_DIR", str(tmp_path))
    assert resolve_cache_dir(AnnyConfig()) == tmp_path / "anny"
    assert resolve_cache_dir(AnnyConfig(cache_dir=tmp_path / "x")) == tmp_path / "x"
    before = anny.paths.get_anny_cache_path()
    with _anny_cache_at(tmp_path / "y"):
        assert anny.paths.get_anny_cache_path() == tmp_path / "y"
    assert anny.paths.get_anny_cache_path() == before


def test_state_dict_holds_no_model_data(body: Anny) -> None:
    # Everything is rebuilt from anny's data; checkpoints of modules holding a body stay small.
    # (anny keeps its few phenotype interpolation anchors persistent.)
    assert sum(t.numel() for t in body.state_dict().values()) < 100
