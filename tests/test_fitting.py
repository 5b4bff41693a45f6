"""Temporal SMPLify on synthetic sequences of the toy body with known ground truth."""

from __future__ import annotations

import math

import pytest
import roma
import torch

from toy_body import ToyBody
from vibe.body.base import BodyOutput
from vibe.body.smpl import SMPL_JOINT_NAMES
from vibe.fitting.losses import aligned_world_energy, geman_mcclure, hinge_bend_energy, reprojection_energy
from vibe.fitting.priors import GMMPosePrior, hinge_limits, pose_features
from vibe.fitting.temporal_smplify import SMPLifyConfig, TemporalSMPLify, _chunk_bounds, refine_track
from vibe.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d
from vibe.geometry.procrustes import similarity_procrustes

J, S, T = 12, 4, 16


def _accel(points: torch.Tensor) -> float:
    """Mean norm of second differences over time of ``(B, T, K, 3)``."""
    return float((points[:, 2:] - 2 * points[:, 1:-1] + points[:, :-2]).norm(dim=-1).mean())


def _centred(points: torch.Tensor) -> torch.Tensor:
    """``(B, T, K, 3)`` minus each frame's keypoint centroid."""
    return points - points.mean(-2, keepdim=True)


@pytest.fixture(scope="module")
def scene():
    """Ground-truth smooth motion of 2 windows, noisy 2D observations and a perturbed start."""
    g = torch.Generator().manual_seed(0)
    body = ToyBody(num_joints=J, shape_dim=S).double()
    b = 2
    t = torch.arange(T, dtype=torch.float64) / 30.0
    amp = 0.4 * torch.randn(b, 1, J, 3, generator=g, dtype=torch.float64)
    phase = 6 * torch.rand(b, 1, J, 3, generator=g, dtype=torch.float64)
    base = 0.3 * torch.randn(b, 1, J, 3, generator=g, dtype=torch.float64)
    gt_rot = roma.rotvec_to_rotmat(base + amp * torch.sin(2 * math.pi * t[None, :, None, None] + phase))
    gt_shape = 0.5 * torch.randn(b, S, generator=g, dtype=torch.float64)
    gt_cam = torch.tensor([0.9, 0.05, -0.1], dtype=torch.float64).expand(b, T, 3).clone()
    probe = TemporalSMPLify(body, SMPLifyConfig(keypoint_set="spin49"))
    gt_kp3d = probe.keypoints3d(gt_rot, gt_shape)
    noise = 0.005 * torch.randn(b, T, 49, 2, generator=g, dtype=torch.float64)
    obs = torch.cat([probe.project(gt_kp3d, gt_cam) + noise, torch.ones(b, T, 49, 1, dtype=torch.float64)], -1)
    # A pose prior "learned" from the ground-truth distribution (one Gaussian).
    feats = pose_features(gt_rot[:, :, 1:].flatten(0, 1), "axis_angle")
    cov = torch.cov(feats.T) + 1e-2 * torch.eye(feats.shape[1], dtype=torch.float64)
    prior = GMMPosePrior(feats.mean(0, keepdim=True), cov[None], torch.ones(1))
    init_rot = gt_rot @ roma.rotvec_to_rotmat(0.15 * torch.randn(b, T, J, 3, generator=g, dtype=torch.float64))
    init_cam = gt_cam * torch.tensor([1.1, 1.0, 1.0], dtype=torch.float64) + torch.tensor([0.0, 0.03, 0.02])
    return {
        "body": body, "gt_kp3d": gt_kp3d, "obs": obs, "prior": prior,
        "init": (init_rot, torch.zeros(b, S, dtype=torch.float64), init_cam),
    }  # fmt: skip


def test_fit_lowers_3d_and_reprojection_error(scene):
    fitter = TemporalSMPLify(scene["body"], SMPLifyConfig(keypoint_set="spin49"), scene["prior"])
    init_rot, init_shape, init_cam = scene["init"]
    result = fitter(init_rot, init_shape, init_cam, scene["obs"])
    # Centred per frame (as MPJPE): near-orthographic 2D cannot fix the depth of the root.
    gt = _centred(scene["gt_kp3d"])
    err_3d_before = (_centred(fitter.keypoints3d(init_rot, init_shape)) - gt).norm(dim=-1).mean()
    err_3d_after = (_centred(result.keypoints3d) - gt).norm(dim=-1).mean()
    assert err_3d_after < 0.9 * err_3d_before
    assert torch.all(result.reproj_err_after < 0.5 * result.reproj_err_before)
    assert torch.all(result.energy_after < result.energy_before)
    # Reported errors are the conf-weighted mean distances, recomputed independently here.
    proj = fitter.project(result.keypoints3d, result.cam)
    manual = (proj - scene["obs"][..., :2]).norm(dim=-1).mean(dim=(1, 2))
    torch.testing.assert_close(result.reproj_err_after, manual)
    assert result.shape.shape == (2, S) and result.cam.shape == (2, T, 3)
    assert torch.allclose(result.pose_rotmat.transpose(-1, -2) @ result.pose_rotmat, torch.eye(3, dtype=torch.float64))


def test_smoothness_weight_lowers_acceleration(scene):
    init_rot, init_shape, init_cam = scene["init"]
    accel = []
    for weight in (0.01, 100.0):
        config = SMPLifyConfig(keypoint_set="spin49", joints_smooth_weight=weight, pose_smooth_weight=0.0)
        fitted = TemporalSMPLify(scene["body"], config)(init_rot, init_shape, init_cam, scene["obs"])
        accel.append(_accel(fitted.keypoints3d))
    assert accel[1] < 0.5 * accel[0]


@pytest.mark.slow
def test_batched_and_one_by_one_fits_agree(scene):
    # Windows share L-BFGS's line search, so they agree only once converged: many steps.
    config = SMPLifyConfig(keypoint_set="spin49", num_steps=30)
    fitter = TemporalSMPLify(scene["body"], config, scene["prior"])
    init_rot, init_shape, init_cam = scene["init"]
    batched = fitter(init_rot, init_shape, init_cam, scene["obs"])
    for i in range(2):
        single = fitter(init_rot[i : i + 1], init_shape[i : i + 1], init_cam[i : i + 1], scene["obs"][i : i + 1])
        torch.testing.assert_close(single.keypoints3d[0], batched.keypoints3d[i], atol=2e-3, rtol=0)
        torch.testing.assert_close(single.cam[0], batched.cam[i], atol=2e-3, rtol=0)
        torch.testing.assert_close(single.energy_after[0], batched.energy_after[i], rtol=1e-3, atol=1e-3)


def test_chunk_bounds_cover_the_window_once():
    assert _chunk_bounds(100, 2, 32) == [(0, 50), (50, 100)]
    assert _chunk_bounds(100, 4, 32) == [(0, 33), (33, 67), (67, 100)]  # no chunk under 32 frames
    assert _chunk_bounds(40, 2, 32) == [(0, 40)]
    assert _chunk_bounds(5, 8, 0) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_chunk_shares_sum_to_the_whole_energy_and_gradient(scene):
    # Every term, the 3D one included: the shares must add up exactly, pairs across chunk edges too.
    config = SMPLifyConfig(keypoint_set="spin49", world_weight=1e3, world_centre=(0, 1), anchor_weight=10.0)
    fitter = TemporalSMPLify(scene["body"], config, scene["prior"])
    init_rot, init_shape, init_cam = scene["init"]
    pose6d = rotmat_to_rot6d(init_rot).requires_grad_(True)
    shape = (init_shape + 0.1).requires_grad_(True)
    log_scale = init_cam[..., :1].log().requires_grad_(True)
    cam_t = init_cam[..., 1:].clone().requires_grad_(True)
    params = [pose6d, shape, log_scale, cam_t]
    world = _turned_world(scene)
    cam = torch.cat((log_scale.exp(), cam_t), -1)
    anchor = init_rot @ roma.rotvec_to_rotmat(torch.full((T, J, 3), 0.05, dtype=torch.float64))
    whole = fitter.energy(rot6d_to_rotmat(pose6d), shape, cam, scene["obs"], world, anchor=anchor)[0].sum()
    whole_grads = torch.autograd.grad(whole, params)
    chunks = _chunk_bounds(T, 3, 4)
    shares = [fitter.chunk_gradient(tuple(params), params, scene["obs"], world, *c, anchor) for c in chunks]
    torch.testing.assert_close(sum(energy for energy, _ in shares), whole.detach(), rtol=1e-12, atol=1e-9)
    for i, grad in enumerate(whole_grads):
        torch.testing.assert_close(sum(grads[i] for _, grads in shares), grad, rtol=1e-10, atol=1e-10)


def test_fits_in_parallel_chunks_match_one_pass(scene):
    init_rot, init_shape, init_cam = scene["init"]
    intra_op = torch.get_num_threads()
    results = []
    for threads in (1, 3):
        config = SMPLifyConfig(keypoint_set="spin49", num_steps=3, threads=threads, min_chunk_frames=4)
        results.append(TemporalSMPLify(scene["body"], config, scene["prior"])(init_rot, init_shape, init_cam, scene["obs"]))
    torch.testing.assert_close(results[1].pose_rotmat, results[0].pose_rotmat, atol=1e-6, rtol=0)
    torch.testing.assert_close(results[1].cam, results[0].cam, atol=1e-6, rtol=0)
    assert torch.get_num_threads() == intra_op  # the fit's one intra-op thread is given back


def test_anchor_keeps_the_fit_near_its_start(scene):
    init_rot, init_shape, init_cam = scene["init"]
    moved = []
    for weight in (0.0, 1e3):
        config = SMPLifyConfig(keypoint_set="spin49", num_steps=3, anchor_weight=weight)
        fitted = TemporalSMPLify(scene["body"], config, scene["prior"])(init_rot, init_shape, init_cam, scene["obs"])
        moved.append(float((fitted.pose_rotmat[:, :, 1:] - init_rot[:, :, 1:]).square().sum()))
    assert moved[1] < 0.2 * moved[0]


def test_zero_confidence_keypoints_do_not_pull(scene):
    fitter = TemporalSMPLify(scene["body"], SMPLifyConfig(keypoint_set="spin49", num_steps=2))
    init_rot, init_shape, init_cam = scene["init"]
    obs = scene["obs"].clone()
    obs[:, :, 5, 2] = 0.0
    obs[:, 3:7, 20, 2] = 0.0
    moved = obs.clone()
    moved[:, :, 5, :2] += 50.0
    moved[:, 3:7, 20, :2] = float("nan")
    a = fitter(init_rot, init_shape, init_cam, obs)
    b = fitter(init_rot, init_shape, init_cam, moved)
    torch.testing.assert_close(a.pose_rotmat, b.pose_rotmat, atol=1e-9, rtol=0)
    torch.testing.assert_close(a.cam, b.cam, atol=1e-9, rtol=0)
    torch.testing.assert_close(a.reproj_err_after, b.reproj_err_after)
    # …while a confident point moved by 22 px (inside the robust sigma) pulls the fit.
    pulled = obs.clone()
    pulled[:, :, 5] = obs[:, :, 5] + torch.tensor([0.2, 0.2, 1.0], dtype=obs.dtype)
    c = fitter(init_rot, init_shape, init_cam, pulled)
    assert (c.cam - a.cam).abs().max() > 1e-3


def test_refine_track_keeps_the_demo_layout(scene):
    init_rot, init_shape, init_cam = scene["init"]
    params = {"pose_rotmat": init_rot[0], "shape": init_shape[0].expand(T, S), "cam_crop": init_cam[0]}
    config = SMPLifyConfig(keypoint_set="spin49")
    refined, before, after = refine_track(scene["body"], params, scene["obs"][0], config, scene["prior"])
    assert refined["pose_rotmat"].shape == (T, J, 3, 3)
    assert refined["shape"].shape == (T, S) and torch.all(refined["shape"] == refined["shape"][0])
    assert refined["cam_crop"].shape == (T, 3)
    assert after < 0.5 * before


def _turned_world(scene, degrees: float = 25.0) -> torch.Tensor:
    """The true 3D keypoints as "world landmarks": moved, turned about y, weight 1: ``(B, T, 49, 4)``."""
    turn = roma.rotvec_to_rotmat(torch.tensor([0.0, math.radians(degrees), 0.0], dtype=torch.float64))
    world = torch.einsum("ij,btkj->btki", turn, scene["gt_kp3d"]) + torch.tensor([0.3, -1.0, 2.0])
    return torch.cat((world, torch.ones_like(world[..., :1])), -1)


def test_world_landmarks_pull_the_pose_where_2d_is_ambiguous(scene):
    # Without 2D (zero confidence) only the 3D term informs the pose: it must find the limbs
    # whatever the landmarks' origin and orientation; without it only smoothing acts.
    init_rot, init_shape, init_cam = scene["init"]
    blind = scene["obs"].clone()
    blind[..., 2] = 0.0
    world = _turned_world(scene)
    config = SMPLifyConfig(
        keypoint_set="spin49", num_steps=3, world_weight=1e4, world_centre=(0, 1), pose_smooth_weight=0.0
    )
    fitter = TemporalSMPLify(scene["body"], config)
    gt = scene["gt_kp3d"].flatten(0, 1)

    def aligned_error(kp3d: torch.Tensor) -> float:
        """PA error: the 3D term leaves the body's global orientation to the (absent) 2D term."""
        aligned = similarity_procrustes(kp3d.flatten(0, 1), gt)[0]
        return float((aligned - gt).norm(dim=-1).mean())

    with_world = fitter(init_rot, init_shape, init_cam, blind, world)
    without = fitter(init_rot, init_shape, init_cam, blind)
    before = aligned_error(fitter.keypoints3d(init_rot, init_shape))
    assert aligned_error(with_world.keypoints3d) < 0.5 * before
    assert aligned_error(with_world.keypoints3d) < 0.5 * aligned_error(without.keypoints3d)


def test_aligned_world_energy_ignores_the_landmarks_frame_and_missing_points(scene):
    kp3d = scene["gt_kp3d"]
    world = _turned_world(scene, degrees=70.0)
    energy = aligned_world_energy(kp3d, world[..., :3], world[..., 3], 0.1, [0, 1])
    torch.testing.assert_close(energy, torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    # One point 5 cm off along x in every frame: σ²r²/(σ²+r²) per frame, by hand.
    off = world.clone()
    off[..., 7, 0] += 0.05
    off[..., 9, 3] = 0.0  # a missing point: its wild coordinates must not count
    off[..., 9, :3] = 1e3
    energy = aligned_world_energy(kp3d, off[..., :3], off[..., 3], 0.1, [0, 1])
    assert torch.all(energy > 0)
    r2, s2 = 0.05**2, 0.1**2
    # The per-frame rotation absorbs a little of the offset, so the energy is at most the hand value.
    assert torch.all(energy <= T * s2 * r2 / (s2 + r2) + 1e-9)
    assert torch.all(energy > 0.8 * T * s2 * r2 / (s2 + r2))


def test_aligned_world_energy_plane_weight_scales_only_image_plane_residuals():
    """Hips at (±0.1, 0, 0), two points at y = ±0.5; both landmarks shifted 5 cm alike (by symmetry the
    best rotation stays the identity): along z the energy ignores the plane weight, along x it scales."""
    kp3d = torch.tensor([[[[-0.1, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, -0.5, 0.0]]]], dtype=torch.float64)
    weights = torch.ones(1, 1, 4, dtype=torch.float64)
    gm = lambda r2: 0.01 * r2 / (0.01 + r2)  # noqa: E731  Geman–McClure, σ = 0.1 m
    for axis, weight, expected in ((2, 0.25, 2 * gm(0.05**2)), (0, 0.25, 2 * gm(0.25 * 0.05**2)), (0, 1.0, 2 * gm(0.05**2))):
        world = kp3d.clone()
        world[..., 2:, axis] += 0.05
        energy = aligned_world_energy(kp3d, world, weights, 0.1, [0, 1], plane_weight=weight)
        torch.testing.assert_close(energy, torch.tensor([expected], dtype=torch.float64), atol=1e-12, rtol=1e-9)


# --------------------------------------------------------------------------- energy terms
def test_geman_mcclure_hand_values():
    r2 = torch.tensor([0.0, 1.0, 4.0, 1e12])
    expected = torch.tensor([0.0, 4.0 * 1.0 / 5.0, 4.0 * 4.0 / 8.0, 4.0])
    torch.testing.assert_close(geman_mcclure(r2, 2.0), expected)


def test_reprojection_energy_hand_value():
    points = torch.zeros(1, 1, 2, 2)
    obs = torch.tensor([[[[3.0 / 112.0, 4.0 / 112.0, 0.5], [1.0, 1.0, 0.0]]]])  # 5 px away, conf 0.5
    expected = 0.25 * (100.0**2 * 25.0 / (100.0**2 + 25.0))
    torch.testing.assert_close(reprojection_energy(points, obs, 100.0), torch.tensor([expected]))


def test_hinge_energy_penalises_only_the_wrong_way():
    axis = torch.tensor([[0.0, 0.0, 1.0]])
    index = torch.tensor([1])

    def energy(angle: float, min_angle: float) -> float:
        pose = torch.eye(3).expand(1, 1, 3, 3, 3).clone()
        pose[0, 0, 1] = roma.rotvec_to_rotmat(torch.tensor([0.0, 0.0, angle]))
        return float(hinge_bend_energy(pose, index, axis, torch.tensor([min_angle])))

    assert energy(0.8, 0.0) == 0.0
    assert energy(-0.2, -0.3) == 0.0
    assert energy(-0.3, 0.0) == pytest.approx(math.sin(0.3) ** 2)
    assert energy(-0.5, -0.2) == pytest.approx((math.sin(0.5) - math.sin(0.2)) ** 2)


class _RestSkeleton(ToyBody):
    """A body named "smpl" whose rest joints are a hand-made T-pose (y up, facing +z, left at +x)."""

    name = "smpl"

    def __init__(self, rest: dict[str, tuple[float, float, float]]):
        super().__init__(num_joints=len(SMPL_JOINT_NAMES))
        self._rest = torch.tensor([rest.get(n, (0.0, 0.0, 0.0)) for n in SMPL_JOINT_NAMES])

    @property
    def joint_names(self) -> list[str]:
        return list(SMPL_JOINT_NAMES)

    def forward(self, pose_rotmat, shape=None, transl=None) -> BodyOutput:
        joints = self._rest.expand(pose_rotmat.shape[0], -1, -1)
        return BodyOutput(vertices=joints, joints=joints, joints_rotmat=pose_rotmat)


def test_hinge_axes_reproduce_smplify_angle_prior_signs():
    # SMPLify penalises exp(+pose[55]) (left elbow about +y), exp(-pose[58]) (right elbow,
    # -y), exp(-pose[12]) and exp(-pose[15]) (knees, -x): the allowed bends are about
    # -y, +y, +x, +x respectively.
    rest = {
        "left_hip": (0.1, 0.0, 0.0), "right_hip": (-0.1, 0.0, 0.0),
        "left_knee": (0.1, -0.4, 0.0), "right_knee": (-0.1, -0.4, 0.0),
        "left_ankle": (0.1, -0.8, 0.0), "right_ankle": (-0.1, -0.8, 0.0),
        "left_foot": (0.1, -0.85, 0.12), "right_foot": (-0.1, -0.85, 0.12),
        "left_shoulder": (0.2, 0.5, 0.0), "right_shoulder": (-0.2, 0.5, 0.0),
        "left_elbow": (0.45, 0.5, 0.0), "right_elbow": (-0.45, 0.5, 0.0),
        "left_wrist": (0.7, 0.5, 0.0), "right_wrist": (-0.7, 0.5, 0.0),
    }  # fmt: skip
    limits = hinge_limits(_RestSkeleton(rest))
    names = [SMPL_JOINT_NAMES[i] for i in limits.joint_index]
    expected = {"left_knee": (1, 0, 0), "right_knee": (1, 0, 0), "left_elbow": (0, -1, 0), "right_elbow": (0, 1, 0)}
    for name, axis in zip(names, limits.bend_axis):
        torch.testing.assert_close(axis, torch.tensor(expected[name], dtype=axis.dtype), atol=1e-6, rtol=0)
    torch.testing.assert_close(limits.min_angle, torch.zeros(4))  # straight limbs may not unbend


@pytest.mark.slow
def test_anny_hinge_limits_hold_on_mocap():
    """Anny's derived limits are respected by (nearly) every validation mocap frame."""
    from vibe.body.anny import Anny
    from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB
    from vibe.fitting.priors import default_pose_prior

    body = Anny()
    limits = hinge_limits(body)
    assert [body.joint_names[i] for i in limits.joint_index] == ["LeftLeg", "RightLeg", "LeftForeArm", "RightForeArm"]
    from importlib import resources

    with resources.as_file(resources.files("vibe").joinpath("resources/motion/cmu_anny.npz")) as path:
        db = MotionDB.load(path).split(VALIDATION_SUBJECTS)
    pose = torch.as_tensor(db.rotmat(slice(0, None, 5)))[None]  # (1, N, J, 3, 3)
    per_frame = [
        hinge_bend_energy(pose[:, i : i + 1], limits.joint_index, limits.bend_axis, limits.min_angle - 0.02)
        for i in range(0, pose.shape[1], 50)
    ]
    assert float((torch.cat(per_frame) == 0).float().mean()) > 0.99
    prior = default_pose_prior(body)
    assert prior is not None and prior.num_joints == body.num_joints - 1


# --------------------------------------------------------------------------- in the training loop
def test_in_loop_fits_replace_stored_ones_only_when_better(scene):
    from vibe.fitting.pseudo_gt import InLoopConfig, PseudoGroundTruth

    init_rot, init_shape, init_cam = scene["init"]
    shape_t = init_shape[:, None].expand(-1, T, -1)
    ids = [("insta", 0, 0), ("insta", 3, 16)]
    good = SMPLifyConfig(keypoint_set="spin49", num_steps=2)
    store = PseudoGroundTruth(scene["body"], InLoopConfig(good))
    pose1, shape1, stats1 = store(ids, init_rot, shape_t, init_cam, scene["obs"])
    assert stats1.replaced == 2 and stats1.reproj_err_fit < stats1.reproj_err_network
    assert pose1.shape == init_rot.shape and shape1.shape == shape_t.shape

    # A later, worse fit (no optimisation: the network's start itself) keeps the stored one…
    store.fitter.config = SMPLifyConfig(keypoint_set="spin49", num_steps=0)
    pose2, _, stats2 = store(ids, init_rot, shape_t, init_cam, scene["obs"])
    assert stats2.replaced == 0
    torch.testing.assert_close(pose2, pose1)
    assert stats2.reproj_err_used == pytest.approx(stats1.reproj_err_fit)
    # …unless replacing is unconditional.
    store.config = InLoopConfig(store.fitter.config, replace_only_if_better=False)
    pose3, _, stats3 = store(ids, init_rot, shape_t, init_cam, scene["obs"])
    assert stats3.replaced == 2
    torch.testing.assert_close(pose3, init_rot)
