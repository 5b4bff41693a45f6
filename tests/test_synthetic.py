"""Synthetic windows: geometry against independent computations, noise statistics, determinism.

References: the full Anny mesh (targets re-posed), hand pinhole projection,
anny's own shape distribution, the crop camera of ``vibe.geometry.cameras``,
and the configured noise levels measured on many samples.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import BLAZEPOSE33, Anny
from vibe.body.keypoint_offsets import DETECTOR_SET
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.synthetic import (
    SyntheticConfig,
    SyntheticGenerator,
    fit_crop_camera,
    project,
    sample_phenotypes,
)
from vibe.geometry.cameras import project_to_crop

pytestmark = pytest.mark.anny

B, T = 32, 16


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


@pytest.fixture(scope="module")
def generator(body: Anny) -> SyntheticGenerator:
    return SyntheticGenerator(SparseKeypoints(body))


def _motion(seed: int, batch: int = B, frames: int = T) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random motion: joint rotations oscillating about the rest pose, a random heading, a walk."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[None, :, None, None] / 30.0
    amp = rng.uniform(0.0, 0.5, (batch, 1, 31, 3))
    freq = rng.uniform(0.3, 2.0, (batch, 1, 31, 3))
    phase = rng.uniform(0.0, 2 * np.pi, (batch, 1, 31, 3))
    rotvec = amp * np.sin(2 * np.pi * freq * t + phase)
    rotvec[:, :, 0] = 0.0
    rotvec[:, :, 0, 1] = rng.uniform(0, 2 * np.pi, (batch, 1))
    rotmat = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(batch, frames, 31, 3, 3)
    transl = np.zeros((batch, frames, 3))
    transl[..., 0] = rng.uniform(-1.5, 1.5, (batch, 1)) * np.arange(frames) / 30.0
    transl[..., 2] = rng.uniform(-3.0, 3.0, (batch, 1))
    return rotmat.astype(np.float32), transl.astype(np.float32)


def _generate(generator: SyntheticGenerator, config: SyntheticConfig, seed: int = 0, motion_seed: int = 0):
    gen = SyntheticGenerator(generator.keypoints, config)
    return gen.generate(*_motion(motion_seed), np.random.default_rng(seed))


def _clean_pixels(batch) -> np.ndarray:
    """``(B, T, K, 2)`` clean landmark pixels from the clean crop targets and the boxes."""
    box = batch.bbox_cxcys.double().numpy()
    return batch.keypoints2d[..., :2].double().numpy() * box[..., None, 2:3] / 2 + box[..., None, :2]


def test_output_shapes(generator: SyntheticGenerator) -> None:
    out = generator.generate(*_motion(0), np.random.default_rng(0))
    assert out.keypoints.shape == out.landmarks_img.shape == out.keypoints_world.shape == (B, T, 33, 3)
    assert out.pose_rotmat.shape == (B, T, 31, 3, 3) and out.shape.shape == (B, 6)
    assert out.cam_crop.shape == out.transl_cam.shape == (B, T, 3) and out.bbox_cxcys.shape == (B, T, 3)
    assert out.joints3d_eval14.shape == (B, T, 14, 3) and out.keypoints2d.shape == (B, T, 33, 3)
    for value in dataclasses.asdict(out).values():
        assert value.dtype == torch.float32
    assert torch.isfinite(out.keypoints).all()
    targets = out.to_generator_targets()
    assert targets.shape.shape == (B, T, 6) and targets.has_3d.all()


def test_seeded_runs_repeat_and_seeds_differ(generator: SyntheticGenerator) -> None:
    motion = _motion(1)
    a = generator.generate(*motion, np.random.default_rng(7))
    b = generator.generate(*motion, np.random.default_rng(7))
    c = generator.generate(*motion, np.random.default_rng(8))
    for name, value in dataclasses.asdict(a).items():
        assert torch.equal(value.nan_to_num(), getattr(b, name).nan_to_num()), name
    assert not torch.equal(a.keypoints, c.keypoints)
    assert not torch.equal(a.shape, c.shape)
    assert not torch.equal(a.cam_rotmat, c.cam_rotmat)


def test_targets_repose_to_the_camera_frame_landmarks(generator: SyntheticGenerator, body: Anny) -> None:
    """Posing the full mesh with the target rotations, shape and camera translation gives the camera-frame points."""
    out = generator.generate(*_motion(2, batch=4, frames=3), np.random.default_rng(2))
    pose = out.pose_rotmat.flatten(0, 1)
    shape = out.shape.repeat_interleave(3, 0)
    posed = body(pose, shape, out.transl_cam.flatten(0, 1))
    torch.testing.assert_close(
        body.keypoints(posed, "blazepose33"), out.keypoints_cam.flatten(0, 1), atol=2e-4, rtol=0
    )
    torch.testing.assert_close(body.keypoints(posed, "eval14"), out.joints3d_eval14.flatten(0, 1), atol=2e-4, rtol=0)


def test_projection_is_the_pinhole_of_the_returned_camera(generator: SyntheticGenerator, body: Anny) -> None:
    """Clean 2D targets = f·(X/Z, Y/Z) + image centre of world landmarks moved by the returned camera."""
    rotmat, transl = _motion(3, batch=3, frames=2)
    out = generator.generate(rotmat, transl, np.random.default_rng(3))
    pose, transl_flat = torch.from_numpy(rotmat).flatten(0, 1), torch.from_numpy(transl).flatten(0, 1)
    posed = body(pose, out.shape.repeat_interleave(2, 0), transl_flat)
    world = body.keypoints(posed, "blazepose33").double().numpy().reshape(3, 2, 33, 3)
    rot, t = out.cam_rotmat.double().numpy(), out.cam_transl.double().numpy()
    cam = np.einsum("btij,btkj->btki", rot, world) + t[:, :, None]
    f = out.focal_px.double().numpy()[:, None, None, None]
    center = out.image_size.double().numpy()[:, None, None, :] / 2
    expected = f * cam[..., :2] / cam[..., 2:3] + center
    np.testing.assert_allclose(_clean_pixels(out), expected, atol=0.05)


def test_project_hand_computed() -> None:
    points = np.array([[[[0.5, -0.25, 2.0], [0.0, 0.0, 4.0]]]])
    pixels = project(points, np.array([1000.0]), np.array([[1280.0, 720.0]]))
    np.testing.assert_allclose(pixels[0, 0], [[890.0, 235.0], [640.0, 360.0]])


def test_people_appear_upright(generator: SyntheticGenerator) -> None:
    """World y up → image y down: the nose is above the ankles (little roll, upright random motion)."""
    out = _generate(generator, SyntheticConfig.noise_free(), seed=18, motion_seed=18)
    pixels = _clean_pixels(out)
    nose_y = pixels[:, :, BLAZEPOSE33.index("nose"), 1]
    ankles_y = pixels[:, :, [BLAZEPOSE33.index("left_ankle"), BLAZEPOSE33.index("right_ankle")], 1].mean(-1)
    assert np.mean(nose_y < ankles_y) > 0.97


def test_camera_placement_in_configured_ranges(generator: SyntheticGenerator) -> None:
    config = SyntheticConfig(pan_std_deg_s=0.0)
    out = _generate(generator, config, seed=4, motion_seed=4)
    rot, transl = out.cam_rotmat.double().numpy(), out.cam_transl.double().numpy()
    centre = -np.einsum("btji,btj->bti", rot, transl)[:, 0]  # camera position, world
    kp_world = np.einsum("btji,btkj->btki", rot, out.keypoints_cam.double().numpy() - transl[:, :, None])
    mid_hip = kp_world[:, :, [23, 24]].mean((1, 2))
    floor = kp_world[:, :, 27:33, 1].min((1, 2))
    horizontal = np.linalg.norm((centre - mid_hip)[:, [0, 2]], axis=-1)
    (near, far), (low, high) = config.distance_m, config.camera_height_m
    assert np.all((horizontal > near - 1e-3) & (horizontal < far + 1e-3))
    height = centre[:, 1] - floor
    assert np.all((height > low - 1e-3) & (height < high + 1e-3))
    # Optical axes stay near horizontal-ish and the camera's x axis has little roll.
    assert np.all(np.abs(rot[:, 0, 0, 1]) < np.sin(np.deg2rad(25)))
    # Horizontal field of view across the long side within 45–75°.
    long_side = out.image_size.double().numpy().max(-1)
    fov = np.rad2deg(2 * np.arctan(long_side / 2 / out.focal_px.double().numpy()))
    assert np.all((fov > 45 - 1e-3) & (fov < 75 + 1e-3))


def test_boxes_contain_the_keypoints(generator: SyntheticGenerator) -> None:
    clean = _generate(generator, SyntheticConfig.noise_free(), seed=5, motion_seed=5)
    # Without detector noise every landmark lies in the box's [-1, 1] square.
    assert clean.keypoints2d[..., :2].abs().max() <= 1.0
    noisy = _generate(generator, SyntheticConfig(), seed=5, motion_seed=5)
    visible = noisy.keypoints[..., 2] > 0
    inside = (noisy.keypoints[..., :2].abs() <= 1.0).all(-1)
    assert (inside & visible).sum() >= 0.99 * visible.sum()


def test_jitter_std_as_configured(generator: SyntheticGenerator) -> None:
    out = _generate(generator, SyntheticConfig.noise_free(jitter_std=0.01), seed=6, motion_seed=6)
    side = out.bbox_cxcys[..., 2].double().numpy()[..., None, None]
    residual = (out.landmarks_img[..., :2].double().numpy() - _clean_pixels(out)) / side
    assert abs(residual.std() / 0.01 - 1.0) < 0.1
    assert abs(residual.mean()) < 0.001


def test_jitter_grows_with_speed(generator: SyntheticGenerator) -> None:
    gain = 0.02
    out = _generate(generator, SyntheticConfig.noise_free(jitter_speed_gain=gain), seed=7, motion_seed=7)
    clean = _clean_pixels(out)
    side = out.bbox_cxcys[..., 2].double().numpy()[..., None]
    speed = np.linalg.norm(np.gradient(clean, axis=1), axis=-1) * 30.0 / side  # box sides per second
    residual = out.landmarks_img[..., :2].double().numpy() - clean
    moving = speed > 0.05
    normalised = residual[moving] / (side[..., None] * gain * speed[..., None])[moving]
    assert abs(normalised.std() / 1.0 - 1.0) < 0.1


def test_dropout_rates_as_configured(generator: SyntheticGenerator) -> None:
    out = _generate(generator, SyntheticConfig.noise_free(dropout_prob=0.1), seed=8, motion_seed=8)
    pixels = out.landmarks_img[..., :2]
    in_image = ((pixels >= 0) & (pixels <= out.image_size[:, None, None])).all(-1)
    dropped = (out.keypoints[..., 2] == 0)[in_image].double().mean().item()
    assert abs(dropped / 0.1 - 1.0) < 0.1
    lost = _generate(generator, SyntheticConfig.noise_free(frame_dropout_prob=0.2), seed=9, motion_seed=8)
    lost_frames = torch.isnan(lost.landmarks_img[..., 0]).all(-1)
    assert torch.equal(lost_frames, torch.isnan(lost.landmarks_img[..., 0]).any(-1))
    assert abs(lost_frames.double().mean().item() / 0.2 - 1.0) < 0.15
    assert (lost.keypoints[lost_frames] == 0).all()
    assert torch.isnan(lost.keypoints_world[lost_frames]).all()


def test_truncation_zeroes_points_outside_the_image(generator: SyntheticGenerator) -> None:
    close = SyntheticConfig(distance_m=(1.0, 2.0), min_in_view=0.3, center_offset=(0.8, 0.6))
    out = _generate(generator, close, seed=10, motion_seed=10)
    pixels = out.landmarks_img[..., :2]
    outside = ((pixels < 0) | (pixels > out.image_size[:, None, None])).any(-1)
    assert outside.sum() > 100  # the config does truncate people
    assert (out.keypoints[outside] == 0).all()
    kept = ~outside & ~torch.isnan(pixels).any(-1)
    torch.testing.assert_close(out.keypoints[..., 2][kept], out.landmarks_img[..., 2][kept])


def test_occluders_lower_visibility(generator: SyntheticGenerator) -> None:
    config = SyntheticConfig.noise_free(occluder_prob=1.0, occluded_visibility=(0.0, 0.3), occluded_noise_factor=1.0)
    out = _generate(generator, config, seed=11, motion_seed=11)
    low = out.landmarks_img[..., 2] < 1.0
    assert low.any(-1).any(-1).double().mean() > 0.5  # most windows have points behind the occluder
    assert (out.landmarks_img[..., 2][low] <= 0.3).all()


def test_left_right_swaps(generator: SyntheticGenerator) -> None:
    out = _generate(generator, SyntheticConfig.noise_free(swap_prob=1.0), seed=12, motion_seed=12)
    clean = _clean_pixels(out)
    noisy = out.landmarks_img[..., :2].double().numpy()
    left, right = BLAZEPOSE33.index("left_knee"), BLAZEPOSE33.index("right_knee")
    changed = np.abs(noisy - clean).max((-1, -2)) > 1e-3  # (B, T)
    assert changed.any(-1).all()
    for b in range(B):
        frames = np.flatnonzero(changed[b])
        assert 1 <= frames.size <= 4 and np.all(np.diff(frames) == 1)
        if np.abs(noisy[b, frames, left] - clean[b, frames, right]).max() < 1e-3:
            np.testing.assert_allclose(noisy[b, frames, right], clean[b, frames, left], atol=1e-3)


def test_world_landmarks_hip_centred(generator: SyntheticGenerator) -> None:
    out = _generate(generator, SyntheticConfig.noise_free(), seed=13, motion_seed=13)
    world = out.keypoints_world.double()
    zero = torch.zeros(B, T, 3, dtype=torch.float64)
    torch.testing.assert_close(world[:, :, [23, 24]].mean(2), zero, atol=1e-6, rtol=0)
    cam = out.keypoints_cam.double()
    torch.testing.assert_close(world, cam - cam[:, :, [23, 24]].mean(2, keepdim=True), atol=1e-5, rtol=0)


def test_crop_camera_explains_the_2d_targets(generator: SyntheticGenerator, body: Anny) -> None:
    out = generator.generate(*_motion(14, batch=4, frames=2), np.random.default_rng(14))
    posed = body(out.pose_rotmat.flatten(0, 1), out.shape.repeat_interleave(2, 0))
    points = body.keypoints(posed, "blazepose33")
    crop = project_to_crop(points, out.cam_crop.flatten(0, 1))
    target = out.keypoints2d.flatten(0, 1)[..., :2]
    # Weak perspective vs the true camera: a few percent of the box.
    assert (crop - target).abs().mean() < 0.03


def test_fit_crop_camera_exact_on_weak_perspective() -> None:
    rng = np.random.default_rng(15)
    points = rng.normal(size=(6, 20, 3))
    cam = np.stack([rng.uniform(0.5, 2, 6), rng.normal(size=6), rng.normal(size=6)], -1)
    crop = cam[:, None, :1] * (points[..., :2] + cam[:, None, 1:])
    np.testing.assert_allclose(fit_crop_camera(points, crop), cam, atol=1e-10)


def test_phenotypes_follow_anny_distribution() -> None:
    """Our seeded sampler matches anny's SimpleShapeDistribution restricted to ages 13–70."""
    from anny.shape_distribution import SimpleShapeDistribution

    ours = sample_phenotypes(np.random.default_rng(16), 20000, (13.0, 70.0))
    assert ours.shape == (20000, 6) and np.all((ours >= 0) & (ours <= 1))

    class _Model:  # what SimpleShapeDistribution reads from a model
        dtype, device = torch.float64, "cpu"
        phenotype_labels = ["gender", "age", "muscle", "weight", "height", "proportions"]

    ages = torch.distributions.Uniform(torch.tensor(13.0, dtype=torch.float64), torch.tensor(70.0, dtype=torch.float64))
    _, theirs = SimpleShapeDistribution(_Model(), morphological_age_distribution=ages).sample(20000)
    for column, label in enumerate(_Model.phenotype_labels):
        reference = theirs[label].numpy()
        assert abs(ours[:, column].mean() - reference.mean()) < 0.02, label
        assert abs(ours[:, column].std() - reference.std()) < 0.02, label


def test_sample_from_motion_db(generator: SyntheticGenerator, tmp_path) -> None:
    from vibe.data import motion_db  # part of the package: an import error must fail, not skip

    rotmat, transl = _motion(17, batch=2, frames=24)
    db = motion_db.MotionDB.from_clips(
        "anny/cmu_mb", generator.keypoints.body.joint_names, list(rotmat), list(transl),
        ["01_01", "01_02"], ["01", "01"], ["walk", "wave"], ["bvh", "bvh"], ["test"] * 2, [30.0, 30.0],
        [np.full(6, 0.5)] * 2,
    )  # fmt: skip
    db.save(tmp_path / "db.npz")
    loaded = motion_db.MotionDB.load(tmp_path / "db.npz")
    out = generator.sample(loaded, np.random.default_rng(0), batch=3, seqlen=8)
    assert out.keypoints.shape == (3, 8, 33, 3) and torch.isfinite(out.keypoints).all()


def test_swap_groups_mirror_the_right_landmarks() -> None:
    from vibe.data.synthetic.landmarks import SWAP_GROUPS, swap_permutation

    def mirrored(name: str) -> str:
        return name.replace("left", "#").replace("right", "left").replace("#", "right")

    for group, parts in SWAP_GROUPS.items():
        perm = swap_permutation(parts)
        np.testing.assert_array_equal(perm[perm], np.arange(33))
        moved = {BLAZEPOSE33[k] for k in np.flatnonzero(perm != np.arange(33))}
        for k in np.flatnonzero(perm != np.arange(33)):
            assert BLAZEPOSE33[perm[k]] == mirrored(BLAZEPOSE33[k])
        sides = ("left", "right")
        if group == "arms":
            assert moved == {f"{s}_{p}" for s in sides for p in ("elbow", "wrist", "pinky", "index", "thumb")}
        if group == "legs":
            assert moved == {f"{s}_{p}" for s in sides for p in ("knee", "ankle", "heel", "foot_index")}
        if group == "body":
            assert len(moved) == 32  # every landmark but the nose


def test_plain_visibility_distribution(generator: SyntheticGenerator) -> None:
    """Hand visibility is Beta(α, 1) per window and landmark: visibility^α is uniform."""
    from scipy.stats import kstest

    alpha = 3.0
    out = _generate(generator, SyntheticConfig.noise_free(visibility_alpha_hands=alpha), seed=19, motion_seed=19)
    vis = out.landmarks_img[..., 2].double().numpy()
    hand_names = {f"{s}_{p}" for s in ("left", "right") for p in ("wrist", "pinky", "index", "thumb")}
    hands = [k for k, name in enumerate(BLAZEPOSE33) if name in hand_names]
    others = [k for k in range(33) if k not in hands]
    assert np.all(vis[:, :, others] == 1.0)
    assert np.all(vis[:, :, hands] == vis[:, :1, hands])  # constant over the window without per-frame wiggle
    assert kstest(vis[:, 0, hands].ravel() ** alpha, "uniform").pvalue > 1e-3


def test_given_shapes_are_used(generator: SyntheticGenerator, body: Anny) -> None:
    """A caller's shapes (e.g. the motion DB's) replace the random ones and shape the landmarks."""
    rotmat, transl = _motion(20, batch=2, frames=2)
    shape = np.array([[0.0, 0.9, 0.5, 0.5, 1.0, 0.5], [1.0, 0.9, 0.5, 0.5, 0.0, 0.5]])
    out = generator.generate(rotmat, transl, np.random.default_rng(20), shape=shape)
    torch.testing.assert_close(out.shape, torch.as_tensor(shape, dtype=torch.float32))
    posed = body(out.pose_rotmat[:, 0], out.shape, out.transl_cam[:, 0])
    torch.testing.assert_close(body.keypoints(posed, "eval14"), out.joints3d_eval14[:, 0], atol=2e-4, rtol=0)


def test_landmark_redefinitions(generator: SyntheticGenerator) -> None:
    """Hand points scale about the wrist, heel and toe about the ankle, hips about their midpoint (world landmarks)."""
    config = SyntheticConfig.noise_free(hand_scale=(0.5, 0.5), foot_scale=(0.6, 0.6), hip_width_scale=(1.2, 1.2))
    out = _generate(generator, config, seed=21, motion_seed=21)
    world, clean = out.keypoints_world.double().numpy(), out.keypoints_cam.double().numpy()
    i = {name: k for k, name in enumerate(BLAZEPOSE33)}

    def check(a: str, b: str, factor: float) -> None:
        """Segment a → b of the world landmarks is ``factor`` × the clean one."""
        seg_world = world[:, :, i[b]] - world[:, :, i[a]]
        seg_clean = clean[:, :, i[b]] - clean[:, :, i[a]]
        np.testing.assert_allclose(seg_world, factor * seg_clean, atol=1e-5)

    for side in ("left", "right"):
        for part in ("pinky", "index", "thumb"):
            check(f"{side}_wrist", f"{side}_{part}", 0.5)
        for part in ("heel", "foot_index"):
            check(f"{side}_ankle", f"{side}_{part}", 0.6)
    check("right_hip", "left_hip", 1.2)
    check("left_shoulder", "left_elbow", 1.0)
    # The targets keep Anny's own definitions.
    pixels = project(clean, out.focal_px.double().numpy(), out.image_size.double().numpy())
    np.testing.assert_allclose(_clean_pixels(out), pixels, atol=0.05)


def test_world_landmarks_in_ray_axes(generator: SyntheticGenerator) -> None:
    """With ray axes on and no other noise, the mid-hip's ray maps onto the optical axis, lengths kept."""
    out = _generate(generator, SyntheticConfig.noise_free(world_ray_axes=True), seed=15, motion_seed=15)
    world, cam = out.keypoints_world.double().numpy(), out.keypoints_cam.double().numpy()
    hip = cam[:, :, [23, 24]].mean(2)  # (B, T, 3)
    rel = cam - hip[:, :, None]
    np.testing.assert_allclose(np.linalg.norm(world, axis=-1), np.linalg.norm(rel, axis=-1), atol=1e-5)
    # The segment from the camera centre to a point p on the ray appears along +z.
    for b, t in ((0, 0), (3, 7)):
        rotation, _ = Rotation.align_vectors(world[b, t], rel[b, t])
        np.testing.assert_allclose(rotation.apply(hip[b, t] / np.linalg.norm(hip[b, t])), [0, 0, 1], atol=1e-5)


def test_detector_keypoints_move_the_landmarks_not_the_targets(body: Anny) -> None:
    """With ``detector_keypoints`` the noise-free landmarks are the detector set's pixels; the 2D targets stay."""
    keypoints = SparseKeypoints(body, ("blazepose33", "eval14", DETECTOR_SET))
    rotmat, transl = _motion(21, batch=4, frames=3)
    config = SyntheticConfig.noise_free()
    plain = SyntheticGenerator(keypoints, config).generate(rotmat, transl, np.random.default_rng(21))
    moved = SyntheticGenerator(keypoints, dataclasses.replace(config, detector_keypoints=True)).generate(
        rotmat, transl, np.random.default_rng(21)
    )
    np.testing.assert_array_equal(moved.keypoints2d.numpy(), plain.keypoints2d.numpy())
    np.testing.assert_allclose(plain.landmarks_img[..., :2].numpy(), _clean_pixels(plain), atol=0.05)
    # The nose: where MediaPipe puts it, centimetres (several pixels) from Anny's own point.
    shift = np.linalg.norm(moved.landmarks_img[..., 0, :2].numpy() - plain.landmarks_img[..., 0, :2].numpy(), axis=-1)
    assert shift.min() > 1.0
    with pytest.raises(ValueError, match=DETECTOR_SET):
        SyntheticGenerator(SparseKeypoints(body), dataclasses.replace(config, detector_keypoints=True))
