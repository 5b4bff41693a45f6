"""Ground plane, world frame, contacts and the trajectory solve, on synthetic cases with known answers.

References are hand-built: points drawn on a known plane, a body of known
keypoints projected by a known pinhole camera, feet with known contact runs.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vibe.geometry.contacts import centred_share, centred_speed, drop_short_runs, foot_contacts, long_runs
from vibe.geometry.ground import fit_ground_plane, plane_with_prior, world_from_ground
from vibe.geometry.trajectory import FootAnchors, TrajectoryWeights, solve_translations


def _camera(pitch_down_deg: float, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera-from-world rotation (world y up, camera OpenCV) of a camera pitched down, and its centre."""
    level = np.diag([1.0, -1.0, -1.0])  # camera looking along world -z, y down
    pitch = Rotation.from_euler("x", pitch_down_deg, degrees=True).as_matrix()  # optical axis turned down
    return pitch @ level, np.array([0.0, height_m, 4.0])


def _to_cam(points_world: np.ndarray, rot: np.ndarray, centre: np.ndarray) -> np.ndarray:
    return (points_world - centre) @ rot.T


def test_plane_fit_recovers_a_tilted_ground_with_outliers():
    rng = np.random.default_rng(0)
    rot, centre = _camera(20.0, 1.5)
    ground = np.stack([rng.uniform(-2, 2, 200), rng.normal(0, 0.005, 200), rng.uniform(-3, 1, 200)], 1)
    outliers = np.stack([rng.uniform(-2, 2, 40), rng.uniform(0.2, 1.0, 40), rng.uniform(-3, 1, 40)], 1)
    points = _to_cam(np.concatenate([ground, outliers]), rot, centre)
    # A prior 10° off: spread points over metres must win over it.
    prior = Rotation.from_euler("z", 10, degrees=True).apply(rot[:, 1])
    plane = fit_ground_plane(points, prior)
    true_up = rot[:, 1]  # world y in camera coordinates
    assert np.degrees(np.arccos(plane.normal_cam @ true_up)) < 1.0
    assert plane.offset_m == pytest.approx(1.5, abs=0.01)  # the camera's height
    assert plane.n_inliers == pytest.approx(200, abs=3)
    assert plane.prior_share < 0.1


def test_bunched_points_leave_the_tilt_to_the_prior():
    rng = np.random.default_rng(1)
    rot, centre = _camera(10.0, 1.2)
    feet = np.stack([rng.normal(0, 0.05, 60), rng.normal(0, 0.02, 60), rng.normal(-1, 0.05, 60)], 1)
    points = _to_cam(feet, rot, centre)
    normal, offset, share = plane_with_prior(points, rot[:, 1], prior_spread_m=0.35)
    assert np.degrees(np.arccos(normal @ rot[:, 1])) < 1.0
    assert share > 0.9
    assert offset == pytest.approx(1.2, abs=0.03)


def test_world_frame_axes_and_camera_position():
    rot, centre = _camera(15.0, 2.0)
    points = _to_cam(np.array([[0, 0, 0], [1, 0, 0], [0, 0, -1.0], [1, 0, -2.0]]), rot, centre)
    plane = fit_ground_plane(points, rot[:, 1])
    origin_world = np.array([0.5, 0.9, -1.0])  # a pelvis: the origin goes to the floor below it
    r_world_cam, cam_position = world_from_ground(plane, _to_cam(origin_world, rot, centre))
    assert np.allclose(r_world_cam @ r_world_cam.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(r_world_cam) == pytest.approx(1.0)
    # The true world is a translation of this one (heading here = the world's -z already).
    assert np.allclose(r_world_cam, rot.T, atol=1e-6)
    assert np.allclose(cam_position, centre - [0.5, 0.0, -1.0], atol=1e-6)


def test_contacts_keep_low_still_runs_only():
    height = np.array([[0.0, 0.3]] * 10)
    speed = np.zeros((10, 2))
    speed[4, 0] = 1.0  # one fast frame splits the run 0-3 | 5-9
    assert foot_contacts(height, speed, 0.05, 0.3, min_frames=5)[:, 0].tolist() == [False] * 5 + [True] * 5
    assert not foot_contacts(height, speed, 0.05, 0.3)[:, 1].any()
    assert drop_short_runs(np.array([[1], [1], [0], [1]], bool), 2)[:, 0].tolist() == [True, True, False, False]


def test_centred_speed_of_uniform_motion():
    times = np.arange(6) / 30.0
    positions = np.stack([times * 2.0, np.zeros(6), np.zeros(6)], 1)
    assert np.allclose(centred_speed(positions, times), 2.0)


def _body_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, K, 3)`` a rigid 'body' (1.7 m tall, feet at index 0 and 1) swaying a little, body frame (y down)."""
    base = np.array([[-0.1, 0.9, 0.0], [0.1, 0.9, 0.0], [0.0, 0.0, 0.0], [-0.2, -0.5, 0.05], [0.2, -0.5, 0.0],
                     [0.0, -0.8, 0.0], [-0.15, 0.4, 0.02], [0.15, 0.4, -0.02]])  # fmt: skip
    return base[None] + rng.normal(0, 0.01, (n, len(base), 3))


def _project(points_cam: np.ndarray, focal: float, principal: np.ndarray) -> np.ndarray:
    return points_cam[..., :2] / points_cam[..., 2:] * focal + principal


def test_image_terms_recover_a_known_depth():
    rng = np.random.default_rng(2)
    n, focal, principal = 40, 800.0, np.array([320.0, 240.0])
    body = _body_points(n, rng)
    truth = np.stack([np.linspace(-0.5, 0.5, n), np.full(n, 0.2), np.full(n, 5.0)], 1)
    pixels = _project(body + truth[:, None], focal, principal)
    guess = truth + [0.3, -0.2, 1.5]
    solved = solve_translations(body, pixels, np.full(body.shape[:2], 1.0), focal, principal, np.arange(n) / 30, guess)
    assert np.abs(solved - truth).max() < 0.02


def test_ground_and_contacts_hold_a_planted_foot_despite_noisy_sizes():
    """Pixel noise moves a depth-from-size estimate; a foot in contact on a known plane does not move."""
    rng = np.random.default_rng(3)
    n, focal, principal = 60, 600.0, np.array([320.0, 240.0])
    body = _body_points(n, rng)
    truth = np.tile([0.0, 0.6, 4.0], (n, 1))  # standing still, feet 1.5 m below the camera
    pixels = _project(body + truth[:, None], focal, principal) + rng.normal(0, 3.0, (n, body.shape[1], 2))
    sigma = np.full(body.shape[:2], 3.0)
    times = np.arange(n) / 30
    loose = TrajectoryWeights(accel_m_s2=5.0)  # little smoothing: the difference is the feet's
    free = solve_translations(body, pixels, sigma, focal, principal, times, truth, weights=loose)
    normal, offset = np.array([0.0, -1.0, 0.0]), 1.5  # height = 1.5 − y (camera y down)
    feet = FootAnchors(body[:, :2], np.ones((n, 2), bool), (normal, offset), np.array([[1.0, 0, 0], [0, 0, 1.0]]))
    held = solve_translations(body, pixels, sigma, focal, principal, times, truth, feet, loose)
    feet_cam = body[:, :2] + held[:, None]
    # On the plane, up to the feet's own 1 cm noise per frame (both cannot touch it at once).
    assert np.abs(feet_cam[..., 1] - 1.5).mean() < 0.01
    assert np.abs(feet_cam[..., 1] - 1.5).max() < 0.04
    assert np.ptp(held[:, 2]) < 0.5 * np.ptp(free[:, 2])  # steadier than size alone
    assert np.abs(held - truth).max() < 0.05


def test_support_holds_a_foot_on_the_plane_against_an_oversized_body():
    """A body 30 % too large for its pixels is put too far by its size; a supported foot (no contact, no
    sliding rows) brings it onto the plane, where the truth is, and an unsupported one leaves it below."""
    rng = np.random.default_rng(4)
    n, focal, principal = 30, 600.0, np.array([320.0, 240.0])
    body = _body_points(n, rng)
    truth = np.tile([0.0, 0.6, 4.0], (n, 1))  # feet 1.5 m below the camera
    pixels = _project(body + truth[:, None], focal, principal)
    sigma, times = np.full(body.shape[:2], 2.0), np.arange(n) / 30
    big = body * 1.3  # about its origin (the root, between the feet and the head)
    normal, offset = np.array([0.0, -1.0, 0.0]), 1.5
    none = np.zeros((n, 2), bool)
    support = none.copy()
    support[:, 0] = True
    free = solve_translations(big, pixels, sigma, focal, principal, times, truth, FootAnchors(big[:, :2], none,
                              (normal, offset)))  # fmt: skip
    held = solve_translations(big, pixels, sigma, focal, principal, times, truth, FootAnchors(big[:, :2], none,
                              (normal, offset), support=support))  # fmt: skip
    assert (big[:, 0, 1] + free[:, 1]).min() > 1.5 + 0.15  # camera y down: sunk under the floor
    off_plane = np.abs(big[:, 0, 1] + held[:, 1] - 1.5)  # the foot's own 1.3 cm noise per frame against smoothing
    assert off_plane.mean() < 0.01 and off_plane.max() < 0.03
    assert np.abs(held[:, 2] - truth[:, 2]).max() < 0.5 * np.abs(free[:, 2] - truth[:, 2]).min()


def test_runs_by_duration_and_centred_share():
    times = np.arange(10) / 10.0  # 10 fps
    mask = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1], bool)
    # Runs of 0.2 s (3 frames) and 0.5 s (6 frames): only the second lasts 0.4 s.
    np.testing.assert_array_equal(long_runs(mask, times, 0.4), [0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    # A 0.2 s window: frame and both neighbours (two at the ends).
    np.testing.assert_allclose(centred_share(mask, times, 0.2), [1, 1, 2 / 3, 2 / 3, 2 / 3, 1, 1, 1, 1, 1])
    # A window longer than the track: every frame sees all of it.
    np.testing.assert_allclose(centred_share(mask[:3] & [1, 0, 1], times[:3], 2.0), [2 / 3] * 3)


def test_plane_fit_counts_points_under_it_against_a_candidate():
    """A hop's top labelled as contacts: 60 still feet 0.2 m in the air, 40 on the floor. By inliers alone
    the plane goes through the air (the camera 0.2 m too low); counting the 40 points that would lie under
    it against that plane, the floor wins."""
    rng = np.random.default_rng(1)
    rot, centre = _camera(10.0, 1.5)
    floor = np.stack([rng.uniform(-1, 1, 40), rng.normal(0, 0.005, 40), rng.uniform(-1, 1, 40)], 1)
    air = np.stack([rng.uniform(-1, 1, 60), 0.2 + rng.normal(0, 0.005, 60), rng.uniform(-1, 1, 60)], 1)
    points = _to_cam(np.concatenate([floor, air]), rot, centre)
    assert fit_ground_plane(points, rot[:, 1]).offset_m == pytest.approx(1.3, abs=0.01)
    plane = fit_ground_plane(points, rot[:, 1], below_weight=1.0)
    assert plane.offset_m == pytest.approx(1.5, abs=0.01)
    assert plane.n_inliers == 40


def test_sole_points_stand_on_the_lowest_sole_of_a_rolling_foot():
    """A foot's heel 3.5 cm and toe 1.5 cm above the sole (camera axes, y down, up = −y), 20 cm apart.
    Frame 0: flat on the floor (y = 0). Frame 1: the heel raised 8 cm, the toe still down. The contact point
    stays under the keypoints' mean across up and is on the floor in both; the mean of the two soles puts
    the rolling foot's point 4 cm up."""
    from vibe.pipeline.body_axes import sole_points

    up = np.array([0.0, -1.0, 0.0])
    heel, toe = [0.0, -0.035, 0.0], [0.0, -0.015, 0.2]
    points = np.array([[heel, toe], [[0.0, -0.115, 0.02], toe]])  # (2 frames, 2 keypoints, 3)
    heights = [np.array([0.035, 0.015])]
    soles = sole_points(points, [[0, 1]], heights, up)
    assert soles.shape == (2, 1, 3)
    np.testing.assert_allclose(soles[:, 0] @ up, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(soles[:, 0, [0, 2]], points.mean(axis=1)[:, [0, 2]], atol=1e-12)
    flat = sole_points(points, [[0, 1]], heights, up, lowest=False)
    np.testing.assert_allclose(flat[:, 0] @ up, [0.0, 0.04], atol=1e-12)
