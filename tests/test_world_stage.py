"""The world stage on people rendered as keypoints by a known camera: ground, camera height and pitch, contacts.

Ground truth: Anny posed with a real mocap clip (the bundled CMU database) on
a floor at y = 0, seen by a static pinhole camera of known height, pitch and
focal; the stage gets the perfect keypoints' pixels as landmarks (where BlazePose
puts them: the ``blazepose33_detector`` set, as the demo's landmarks) and a
camera-frame guess whose depth is 10 % off, and the body oriented relative to
its box's line of sight, as the regressor (which sees only the crop) gives it.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import Anny
from vibe.data.motion_db import MotionDB
from vibe.pipeline.world import FocalEstimate, WorldConfig, estimate_focal, focal_from_metadata, world_stage
from test_scene_lines import _floor_segments

W, H, FOCAL, FPS = 640, 480, 600.0, 30.0


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


def _clip(name: str, start: int, frames: int):
    db = MotionDB.load(str(resources.files("vibe") / "resources" / "motion" / "cmu_anny.npz"))
    clip = int(np.flatnonzero(db.clip_name == name)[0])
    pose, transl = db.get_windows(np.array([[clip, start]]), frames)
    return torch.as_tensor(pose[0]), np.asarray(transl[0], np.float64)


def _person(body, pose, transl_world, height_m: float, pitch_deg: float, centre: np.ndarray | None = None,
            pixel_set: str = "blazepose33_detector"):
    """A ``results.npz`` person seen by a camera ``height_m`` above the floor, pitched down; and the truth.

    ``centre``: the camera's position (default: 4.5 m in front of the person's mean position);
    ``pixel_set``: the keypoints whose pixels are the landmarks.
    """
    n = len(pose)
    shape = body.mean_shape(n)
    with torch.no_grad():
        floor = float(body(pose, shape, torch.as_tensor(transl_world, dtype=torch.float32)).vertices[..., 1].min())
    transl_world = transl_world - [0.0, floor, 0.0]  # soles on y = 0
    if centre is None:
        centre = np.array([transl_world[:, 0].mean(), height_m, transl_world[:, 2].mean() + 4.5])
    rot = Rotation.from_euler("x", pitch_deg, degrees=True).as_matrix() @ np.diag([1.0, -1.0, -1.0])  # cam_from_world
    root_cam = torch.as_tensor(rot, dtype=torch.float32) @ pose[:, 0]
    with torch.no_grad():
        rest_root = body(body.rest_pose(1), shape[:1]).joints[0, 0].double().numpy()
        true_kp = body.keypoints(body(torch.cat([root_cam[:, None], pose[:, 1:]], 1), shape), pixel_set)
    # Camera-frame translation: the root joint (rest head + world translation) mapped into the camera.
    transl_cam = (rest_root + transl_world - centre) @ rot.T - rest_root
    pixels = true_kp.double().numpy() + transl_cam[:, None]
    pixels = pixels[..., :2] / pixels[..., 2:] * FOCAL + [W / 2, H / 2]
    # The regressor sees a crop: it orients the body relative to the crop's line of sight.
    box_centre = pixels.mean(1)
    rays = np.concatenate([(box_centre - [W / 2, H / 2]) / FOCAL, np.ones((n, 1))], 1)
    to_ray = np.stack([Rotation.align_vectors([r], [[0.0, 0.0, 1.0]])[0].as_matrix() for r in rays])
    root_crop = torch.as_tensor(to_ray.transpose(0, 2, 1), dtype=torch.float32) @ root_cam
    cam_pose = torch.cat([root_crop[:, None], pose[:, 1:]], 1)
    with torch.no_grad():
        keypoints = body.keypoints(body(cam_pose, shape), "blazepose33").double().numpy()
    side = np.ptp(pixels[..., 1], axis=1) * 1.25
    guess = transl_cam * [1.0, 1.0, 1.1]
    person = {
        "frame_ids": np.arange(n), "bbox_cxcys": np.concatenate([box_centre, side[:, None]], 1),
        "pose_rotmat": cam_pose.numpy(), "shape": shape.numpy(), "transl_cam": guess, "joints3d": keypoints,
        "joints2d_img": pixels, "landmarks_img": np.concatenate([pixels, np.ones((n, 33, 1))], -1),
    }  # fmt: skip
    return person, {"rot": rot, "centre": centre, "root_world": rest_root + transl_world}


def _path_error(root: np.ndarray, true_root: np.ndarray) -> float:
    """Mean horizontal distance (m) between root paths ``(T, 3)`` rigidly aligned about the vertical."""
    a = root[:, [0, 2]] - root[:, [0, 2]].mean(0)
    b = true_root[:, [0, 2]] - true_root[:, [0, 2]].mean(0)
    u, _, vt = np.linalg.svd(b.T @ a)
    return float(np.linalg.norm(a @ (u @ vt).T - b, axis=1).mean())


def _run(body, people):
    focal = FocalEstimate(FOCAL, "option", (0.0, 0.0))
    return world_stage(people, body, "blazepose33", (W, H), np.arange(1000) / FPS, focal, FOCAL, WorldConfig())


@pytest.mark.anny
@pytest.mark.parametrize("height_m, pitch_deg", [(1.2, 5.0), (2.5, 20.0)])
def test_standing_person_gives_the_ground_and_stays_put(body, height_m, pitch_deg):
    pose, transl = _clip("02_10", 0, 90)  # washing: standing in place
    person, truth = _person(body, pose, transl, height_m, pitch_deg)
    result = _run(body, {1: person})
    camera = result.meta["camera"]
    assert camera["height_m"] == pytest.approx(height_m, abs=0.05)
    assert camera["pitch_down_deg"] == pytest.approx(pitch_deg, abs=1.5)
    up_true = truth["rot"][:, 1]
    assert np.degrees(np.arccos(result.arrays["world/R_world_cam"][1] @ up_true)) < 1.5
    root = person["transl_world"]
    true_root = truth["root_world"]
    assert np.ptp(root[:, 1]) == pytest.approx(np.ptp(true_root[:, 1]), abs=0.03)
    assert np.abs(root[:, 1] - true_root[:, 1]).max() < 0.05  # hip height above the floor
    assert _path_error(root, true_root) < 0.04  # ~20 cm of true sway, followed
    assert person["foot_contact"].mean() > 0.6
    assert person["joints3d_world"].shape == (90, 33, 3) and person["root_rotmat_world"].shape == (90, 3, 3)


@pytest.mark.anny
def test_walking_person_travels_the_true_distance(body):
    pose, transl = _clip("49_01", 0, 120)
    person, truth = _person(body, pose, transl, 1.0, 8.0)
    _run(body, {1: person})
    root, true_root = person["transl_world"].astype(np.float64), truth["root_world"]
    step = lambda r: np.linalg.norm(np.diff(r[:, [0, 2]], axis=0), axis=1).sum()  # noqa: E731
    assert step(root) == pytest.approx(step(true_root), rel=0.1)
    assert _path_error(root, true_root) < 0.08


@pytest.mark.anny
def test_two_people_share_one_ground_and_keep_their_distance(body):
    """A walker and a person standing 1.2 m to the side: one plane for both, their true relative place."""
    walk, walk_transl = _clip("49_01", 0, 90)
    stand, stand_transl = _clip("02_10", 0, 90)
    walker, walker_truth = _person(body, walk, walk_transl, 1.5, 10.0)
    offset = walk_transl.mean(0) - stand_transl.mean(0) + [1.2, 0.0, -1.0]
    stander, stander_truth = _person(body, stand, stand_transl + offset, 1.5, 10.0, centre=walker_truth["centre"])
    result = _run(body, {1: walker, 2: stander})
    assert result.meta["camera"]["height_m"] == pytest.approx(1.5, abs=0.05)
    for person, truth in ((walker, walker_truth), (stander, stander_truth)):
        assert np.abs(person["transl_world"][:, 1] - truth["root_world"][:, 1]).max() < 0.05
    gap = (stander["transl_world"] - walker["transl_world"])[:, [0, 2]]
    true_gap = (stander_truth["root_world"] - walker_truth["root_world"])[:, [0, 2]]
    # Measured: at most 10 cm on gaps of 1.1-2.5 m (the walker's depth from its size).
    assert np.abs(np.linalg.norm(gap, axis=1) - np.linalg.norm(true_gap, axis=1)).max() < 0.15


@pytest.mark.anny
def test_scene_lines_correct_bodies_leaning_towards_the_camera(body):
    """The bodies' vertical 7° off in the camera's pitch (as the network errs); the floor's tile edges fix it."""
    pose, transl = _clip("02_10", 0, 60)
    person, truth = _person(body, pose, transl, 1.5, 8.0)
    lean = Rotation.from_euler("x", 7.0, degrees=True).as_matrix()
    hips = person["joints3d"][:, 23:25].mean(1, keepdims=True)  # BlazePose's hips
    person["joints3d"] = (person["joints3d"] - hips) @ lean.T + hips
    up_true = truth["rot"][:, 1]
    focal = FocalEstimate(FOCAL, "option", (0.0, 0.0))
    times = np.arange(1000) / FPS
    angle = lambda result: np.degrees(np.arccos(result.arrays["world/R_world_cam"][1] @ up_true))  # noqa: E731
    bodies = world_stage({1: dict(person)}, body, "blazepose33", (W, H), times, focal, FOCAL, WorldConfig())
    segments = _floor_segments(truth["rot"], truth["centre"], 25.0, focal=FOCAL, size=(W, H))
    lines = world_stage({1: dict(person)}, body, "blazepose33", (W, H), times, focal, FOCAL, WorldConfig(), segments)
    assert lines.meta["scene_lines"]["used"] and not bodies.meta["scene_lines"]["used"]
    assert angle(bodies) > 3.0
    # Measured: 6.3° → 0.49°, camera height 1.89 → 1.45 m (the leaning body's feet still move the contacts).
    assert angle(lines) < 0.75
    assert lines.meta["camera"]["height_m"] == pytest.approx(1.5, abs=0.08)
    assert abs(bodies.meta["camera"]["height_m"] - 1.5) > 0.3


def test_focal_from_35mm_tag_and_prior_error():
    assert focal_from_metadata({"com.apple.quicktime.camera.focal_length.35mm_equivalent": "26"}, 1920, 1080) \
        == pytest.approx(26 / 43.27 * np.hypot(1920, 1080))  # fmt: skip
    assert focal_from_metadata({"title": "x", "focal_length": "4.2"}, 1920, 1080) is None
    prior = estimate_focal({}, 1280, 720, WorldConfig())
    assert prior.source == "prior" and prior.focal_px == pytest.approx(1280, rel=1e-3)
    low, high = prior.rel_error
    # 75° and 40° long-side fields of view against the prior's 53.13°.
    assert low == pytest.approx(np.tan(np.radians(26.565)) / np.tan(np.radians(37.5)) - 1, abs=1e-3)
    assert high == pytest.approx(np.tan(np.radians(26.565)) / np.tan(np.radians(20.0)) - 1, abs=1e-3)
    assert estimate_focal({}, 1280, 720, WorldConfig(), given=900.0).source == "option"


def _tilted(points: np.ndarray, degrees: float) -> np.ndarray:
    """Keypoints ``(n, K, 3)`` turned about the camera's x axis (a lean towards or away from it) about their mean."""
    rot = Rotation.from_euler("x", degrees, degrees=True).as_matrix()
    centre = points.mean(axis=1, keepdims=True)
    return (points - centre) @ rot.T + centre


def _ground_angle(result, truth) -> float:
    return float(np.degrees(np.arccos(np.clip(result.arrays["world/R_world_cam"][1] @ truth["rot"][:, 1], -1, 1))))


@pytest.mark.anny
def test_landmark_vertical_averages_two_leaning_estimates(body):
    """A person standing in place (contacts bunched: the up prior decides the tilt) whose network body leans
    4° one way in depth and whose MediaPipe world landmarks lean 4° the other way: the two estimates of the
    vertical cancel; the network's alone leaves the ground tilted by about its lean."""
    pose, transl = _clip("02_10", 0, 90)
    person, truth = _person(body, pose, transl, 1.5, 10.0)
    true_points = person["joints3d"]
    person["joints3d"] = _tilted(true_points, 4.0)
    person["landmarks_world"] = _tilted(true_points - true_points[:, 23:25].mean(1, keepdims=True), -4.0)
    alone = {k: v for k, v in person.items() if k != "landmarks_world"}
    assert _ground_angle(_run(body, {1: alone}), truth) > 2.5
    assert _ground_angle(_run(body, {1: person}), truth) < 1.0


def _lowest_foot(person) -> np.ndarray:
    """``(n,)`` the lower of the feet's contact points (mean of heel and toe, 2-3 cm above the soles at y = 0)."""
    joints = person["joints3d_world"]
    return np.minimum(joints[:, [29, 31], 1].mean(1), joints[:, [30, 32], 1].mean(1))


@pytest.mark.anny
def test_a_body_seen_in_part_is_held_above_the_ground(body):
    """A walker whose first 20 frames show only the upper body (feet undetected) and whose regressed body is
    40 % too large at first, shrinking to its true size as it enters the image (as the demo's was on a
    person entering the image): its size puts it too far along the rays through its upper body, so its feet
    sink under the floor unless the stage holds the lowest foot on the ground."""
    pose, transl = _clip("49_01", 0, 90)
    person, truth = _person(body, pose, transl, 1.6, 12.0)
    partial = np.arange(20)
    person["landmarks_img"][partial, 23:, 2] = 0.0  # hips down: not seen
    person["joints3d"][partial] *= np.linspace(1.4, 1.0, len(partial))[:, None, None]
    sunk = {k: v.copy() for k, v in person.items()}
    focal = FocalEstimate(FOCAL, "option", (0.0, 0.0))
    world_stage({1: sunk}, body, "blazepose33", (W, H), np.arange(1000) / FPS, focal, FOCAL,
                WorldConfig(support_rounds=0))  # fmt: skip
    assert _lowest_foot(sunk)[partial].min() < -0.10
    _run(body, {1: person})
    assert _lowest_foot(person)[partial].min() > -0.035  # the stage's tolerance: 3 cm under the contact points
    assert np.abs(person["transl_world"][20:, 1] - truth["root_world"][20:, 1]).max() < 0.05


@pytest.mark.anny
def test_a_person_standing_still_stays_put_though_the_legs_lean(body):
    """A person standing perfectly still for 5 s whose regressed legs move the feet 8 cm away from the camera
    relative to the hips over the last 2 s (a lean read wrongly in depth): with the planted feet held, the
    root follows that error towards the camera; standing (the feet's pixels still) keeps it in place."""
    pose, transl = _clip("02_10", 0, 1)
    frames = 150
    pose, transl = pose.repeat(frames, 1, 1, 1), np.repeat(transl, frames, axis=0)
    person, truth = _person(body, pose, transl, 1.4, 8.0)
    lean = np.clip((np.arange(frames) - 90) / 60, 0, 1) * 0.08  # metres towards the camera, last 2 s
    person["joints3d"][:, 27:, 2] += lean[:, None]  # the ankles, heels and toes
    loose = {k: v.copy() for k, v in person.items()}
    focal = FocalEstimate(FOCAL, "option", (0.0, 0.0))
    world_stage({1: loose}, body, "blazepose33", (W, H), np.arange(1000) / FPS, focal, FOCAL,
                WorldConfig(standing_min_s=None))  # fmt: skip
    _run(body, {1: person})
    moved = lambda p: np.linalg.norm(p["transl_world"] - p["transl_world"][0], axis=1).max()  # noqa: E731
    assert moved(loose) > 0.05  # measured 7.6 cm
    assert moved(person) < 0.03  # measured 2.1 cm


def test_the_vertical_runs_from_the_standing_foot_when_the_other_is_raised():
    """A stick body (camera axes, y down): shoulders 1.4 m above the standing right foot, the left foot raised
    0.4 m and 0.3 m forward. The vertical is straight up from the standing foot; both feet's midpoint would
    lean it by atan(0.15 / 1.2) = 7.1°; with both feet down it is the midpoint's."""
    from vibe.body.anny import BLAZEPOSE33
    from vibe.pipeline.body_axes import standing_vertical

    names = list(BLAZEPOSE33)
    points = np.zeros((2, len(names), 3))
    for side in ("left", "right"):
        points[:, names.index(f"{side}_shoulder")] = [0.0, -1.4, 0.0]
    for part in ("heel", "foot_index"):
        points[0, names.index(f"left_{part}")] = [0.0, -0.4, -0.3]  # frame 0: left foot raised
        points[1, names.index(f"left_{part}")] = [0.2, 0.0, 0.0]  # frame 1: both feet down, 0.2 m apart
    axis, length = standing_vertical(points, names, 0.06)
    np.testing.assert_allclose(axis[0], [0.0, -1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(axis[1], np.array([-0.1, -1.4, 0.0]) / np.hypot(0.1, 1.4), atol=1e-9)
    assert length[0] == pytest.approx(1.4)
    naive = standing_vertical(points, names, np.inf)[0][0]
    assert np.degrees(np.arccos(-naive[1])) == pytest.approx(np.degrees(np.arctan2(0.15, 1.2)), abs=0.01)



@pytest.mark.anny
def test_posed_keypoints_match_the_mesh_evaluator(body):
    """The world stage's points for the landmarks (:func:`posed_keypoints`, no mesh) are the body's own keypoints
    of that set (``Anny.keypoints`` of the posed mesh), for the people's set and the detector's."""
    from vibe.pipeline.body_axes import posed_keypoints

    pose, _ = _clip("49_01", 0, 12)
    shape = body.mean_shape(12)
    with torch.no_grad():
        posed = body(pose, shape)
        for name in ("blazepose33", "blazepose33_detector"):
            mesh = body.keypoints(posed, name).double().numpy()
            np.testing.assert_allclose(posed_keypoints(body, pose.numpy(), shape.numpy(), name), mesh, atol=2e-5)
