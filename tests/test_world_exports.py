"""World-frame exports and other rigs: files read back (the project's BVH reader, pygltflib) match the results.

A camera-frame person is built from Anny, and its world arrays are made the
way the world stage defines them (a rigid map of the camera frame: rotation
``R_world_cam``, origin ``o``). The references are independent of the
exporters: the body's camera-frame joints mapped by ``R (p − o)``, and the
``joints3d_world`` keypoints, recomputed from the pose read back.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pygltflib
import pytest
import torch
from scipy.spatial.transform import Rotation
from test_export_gltf import _accessor, _quat_matrix, _skin_frame

from vibe.body.anny import Anny
from vibe.data.mocap.bvh import read_bvh
from vibe.data.mocap.skeleton import forward_kinematics
from vibe.data.motion_db import MotionDB
from vibe.export.bvh import HALF_TURN_X, rest_joints
from vibe.pipeline.outputs import export_people
from vibe.pipeline.passes import StageTimer

FPS = 30.0
TOL_M = 2e-4  # float32 body and results, 6-decimal BVH text


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


@pytest.fixture(scope="module")
def scene(body):
    """A person in camera axes and its world arrays; also the expected world joints ``(n, J, 3)``."""
    n = 6
    db = MotionDB.load(str(resources.files("vibe") / "resources" / "motion" / "cmu_anny.npz"))
    clip = int(np.flatnonzero(db.clip_name == "02_05")[0])  # punching: arms, legs and root all move
    pose = torch.as_tensor(db.get_windows(np.array([[clip, 100]]), 5 * n)[0][0, ::5])  # a real person's poses
    pose[:, 0] = torch.as_tensor(HALF_TURN_X, dtype=pose.dtype) @ pose[:, 0]  # upright body in camera axes
    shape = body.mean_shape(n)
    transl_cam = np.stack([np.linspace(-0.3, 0.3, n), np.full(n, 0.4), np.linspace(4.0, 3.5, n)], 1)
    with torch.no_grad():
        posed = body(pose, shape)
        keypoints = body.keypoints(posed, "blazepose33").double().numpy()
    rot = Rotation.from_euler("x", -12, degrees=True).as_matrix() @ HALF_TURN_X  # world_from_cam, pitched
    origin = np.array([0.1, 1.3, 4.2])
    to_world = lambda p: (p - origin) @ rot.T  # noqa: E731
    root_rest = rest_joints(body, shape[0])[0]
    person = {
        "frame_ids": np.arange(3, 3 + n),
        "pose_rotmat": pose.numpy(),
        "shape": shape.numpy(),
        "transl_cam": transl_cam,
        "transl_world": to_world(root_rest + transl_cam),
        "root_rotmat_world": rot @ pose[:, 0].double().numpy(),
        "joints3d_world": to_world(keypoints + transl_cam[:, None]),
    }
    joints_world = to_world(posed.joints.double().numpy() + transl_cam[:, None])
    joints_cam = posed.joints.double().numpy() + transl_cam[:, None]
    return person, joints_world, joints_cam


def _export(tmp_path, body, person, frame: str, rig: str | None = None):
    times = np.arange(20) / FPS
    return export_people({1: person}, body, FPS, ("bvh", "gltf"), tmp_path, StageTimer(), times, frame, rig)


def _bvh_joints(path) -> tuple[np.ndarray, object]:
    motion = read_bvh(path)
    positions, _ = forward_kinematics(motion.skeleton, motion.local_rotmat, motion.root_transl)
    return positions, motion


def _glb_joints(path, frame: int) -> np.ndarray:
    """``(J, 3)`` the skin joints' global positions at a keyframe (nodes' rest values, animated channels)."""
    gltf = pygltflib.GLTF2().load(str(path))
    local = {
        i: (np.array(nd.translation or [0.0, 0, 0]), np.array(nd.rotation or [0, 0, 0, 1.0]))
        for i, nd in enumerate(gltf.nodes)
    }
    anim = gltf.animations[0]
    for ch in anim.channels:
        value = _accessor(gltf, anim.samplers[ch.sampler].output)[frame].astype(np.float64)
        t, r = local[ch.target.node]
        local[ch.target.node] = (value, r) if ch.target.path == "translation" else (t, value)
    parent = {c: i for i, nd in enumerate(gltf.nodes) for c in (nd.children or [])}

    def glob(i):
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = _quat_matrix(local[i][1]), local[i][0]
        return glob(parent[i]) @ m if i in parent else m

    return np.stack([glob(n)[:3, 3] for n in gltf.skins[0].joints])


@pytest.mark.anny
def test_world_bvh_reproduces_the_world_joints_and_keypoints(tmp_path, body, scene):
    person, joints_world, _ = scene
    bvh = _export(tmp_path, body, person, "world")[0]
    positions, motion = _bvh_joints(bvh)
    assert np.abs(positions - joints_world).max() < TOL_M
    assert motion.fps == pytest.approx(FPS)
    # The pose read back, posed again by the body, gives the results' world keypoints.
    root = torch.as_tensor(motion.root_transl - rest_joints(body, person["shape"][0])[0], dtype=torch.float32)
    with torch.no_grad():
        posed = body(torch.as_tensor(motion.local_rotmat, dtype=torch.float32), None, root)
        keypoints = body.keypoints(posed, "blazepose33").double().numpy()
    assert np.abs(keypoints - person["joints3d_world"]).max() < 1e-3


@pytest.mark.anny
def test_world_glb_joints_and_frame_times(tmp_path, body, scene):
    person, joints_world, _ = scene
    glb = _export(tmp_path, body, person, "world")[1]
    for frame in (0, 5):
        assert np.abs(_glb_joints(glb, frame) - joints_world[frame]).max() < TOL_M
    gltf = pygltflib.GLTF2().load(str(glb))
    times = _accessor(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    assert np.allclose(times, np.arange(6) / FPS, atol=1e-6)  # the person's frames 3..8, from 0


@pytest.mark.anny
def test_camera_frame_export_keeps_the_upright_camera_frame(tmp_path, body, scene):
    person, _, joints_cam = scene
    positions, _ = _bvh_joints(_export(tmp_path, body, person, "camera")[0])
    assert np.abs(positions - joints_cam @ HALF_TURN_X.T).max() < TOL_M


# Bones of each rig at the cmu_mb joints they stand for (hips, knees, ankles, shoulders, elbows, wrists).
_RIG_PAIRS = {
    "mixamo": {f"mixamorig:{n}": n for n in ("LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg",
                                             "RightFoot", "LeftArm", "LeftForeArm", "LeftHand", "RightArm",
                                             "RightForeArm", "RightHand")},
    "game_engine": {"thigh_l": "LeftUpLeg", "calf_l": "LeftLeg", "foot_l": "LeftFoot", "thigh_r": "RightUpLeg",
                    "calf_r": "RightLeg", "foot_r": "RightFoot", "upperarm_l": "LeftArm",
                    "lowerarm_l": "LeftForeArm", "hand_l": "LeftHand", "upperarm_r": "RightArm",
                    "lowerarm_r": "RightForeArm", "hand_r": "RightHand"},
}  # fmt: skip


@pytest.mark.anny
@pytest.mark.slow
@pytest.mark.parametrize("rig", ["mixamo", "game_engine"])
def test_other_rigs_follow_the_body(tmp_path, body, scene, rig):
    """Each rig's joints keep their rest offsets from the cmu_mb joints they stand for; its skin follows the mesh."""
    from vibe.export.rigs import rig_body

    person, joints_world, _ = scene
    bvh, glb = _export(tmp_path, body, person, "world", rig)
    positions, motion = _bvh_joints(bvh)
    target = rig_body(rig, body)
    names, source_names = motion.skeleton.joint_names, body.joint_names
    assert names == target.joint_names
    rest_t, rest_s = rest_joints(target), rest_joints(body)
    for t_name, s_name in _RIG_PAIRS[rig].items():
        i, j = names.index(t_name), source_names.index(s_name)
        rest_gap = np.linalg.norm(rest_t[i] - rest_s[j])
        posed_gap = np.linalg.norm(positions[:, i] - joints_world[:, j], axis=-1)
        # Measured on pose_1's world motion: up to 2.8 cm (arms), 1.3 cm (legs).
        assert np.abs(posed_gap - rest_gap).max() < 0.04, t_name
    with torch.no_grad():
        root = torch.as_tensor(person["transl_world"] - rest_joints(body)[0], dtype=torch.float32)
        pose = torch.as_tensor(person["pose_rotmat"]).clone()
        pose[:, 0] = torch.as_tensor(person["root_rotmat_world"], dtype=pose.dtype)
        mesh = body(pose, None, root).vertices.double().numpy()
    gltf = pygltflib.GLTF2().load(str(glb))
    for frame in (0, 5):
        assert np.linalg.norm(_skin_frame(gltf, frame) - mesh[frame], axis=-1).mean() < 0.03
