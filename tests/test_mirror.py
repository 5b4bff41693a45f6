"""The mirror of bodies, landmarks and crop cameras, and the demo's mirror-averaged generator."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import roma
import torch

from vibe.body.anny import BLAZEPOSE33, Anny
from vibe.body.joint_sets import flip_permutation
from vibe.body.mirror import mirror_crop_cam, mirror_points, mirror_rotations, mirror_rotations_torch
from vibe.data.features import FeatureConfig
from vibe.models.checkpoints import load_checkpoint, load_generator_weights
from vibe.models.vibe import VIBE
from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.stages import keypoint_features, regress_features

from open_checkpoint import save_random_open_checkpoint

NAMES = ["Hips", "LeftArm", "RightArm", "Spine", "LHipJoint", "RHipJoint"]


def test_mirror_rotations_is_an_involution_and_swaps_sides() -> None:
    rotmat = roma.random_rotmat((4, len(NAMES))).numpy()
    once = mirror_rotations(rotmat, NAMES)
    assert np.allclose(mirror_rotations(once, NAMES), rotmat, atol=1e-6)
    m = np.diag([-1.0, 1.0, 1.0])
    assert np.allclose(once[:, 1], m @ rotmat[:, 2] @ m, atol=1e-6)  # LeftArm ← mirrored RightArm
    assert np.allclose(once[:, 3], m @ rotmat[:, 3] @ m, atol=1e-6)  # Spine stays itself
    assert np.allclose(mirror_rotations_torch(torch.from_numpy(rotmat), NAMES).numpy(), once, atol=1e-6)


def test_mirror_points_and_cameras() -> None:
    points = torch.randn(2, 33, 3)
    out = mirror_points(points, BLAZEPOSE33)
    left, right = BLAZEPOSE33.index("left_wrist"), BLAZEPOSE33.index("right_wrist")
    assert torch.equal(out[:, left, 0], -points[:, right, 0])
    assert torch.equal(out[:, left, 1:], points[:, right, 1:])
    assert torch.equal(mirror_points(out, BLAZEPOSE33), points)
    assert torch.equal(mirror_crop_cam(torch.tensor([[0.9, 0.2, -0.1]])), torch.tensor([[0.9, -0.2, -0.1]]))


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> VIBE:
    path = save_random_open_checkpoint(tmp_path_factory.mktemp("mirror") / "random.pt", Anny(), width=64, seed=3)
    ckpt = load_checkpoint(path, map_location="cpu")
    model = VIBE(ckpt.config, Anny())
    load_generator_weights(model, ckpt)
    return model.eval()


def _track(seed: int, width: float, mirrored: bool):
    """One track's landmarks (pixels inside a ``width`` × 400 image, world) and boxes, or their mirror image."""
    rng = np.random.default_rng(seed)
    n = 12
    landmarks_img = np.concatenate([rng.uniform(50, 350, (n, 33, 2)), rng.uniform(0.2, 1, (n, 33, 1))], -1)
    world = rng.normal(0, 0.3, (n, 33, 3))
    boxes = np.column_stack([rng.uniform(180, 220, n), rng.uniform(180, 220, n), np.full(n, 320.0)])
    if mirrored:
        perm = flip_permutation(BLAZEPOSE33)
        landmarks_img, world = landmarks_img[:, perm], world[:, perm]
        landmarks_img[..., 0] = width - landmarks_img[..., 0]
        world[..., 0] *= -1
        boxes[:, 0] = width - boxes[:, 0]
    landmarks = {1: SimpleNamespace(landmarks_img=landmarks_img, world=world)}
    return landmarks, {1: (np.arange(n), boxes)}


def test_mirror_averaged_answer_is_mirror_equivariant(generator) -> None:
    """The averaged answer on a mirrored video is the mirror of the answer on the video: what makes
    the average unbiased to the side a person is seen from (a plain network is not)."""
    width = 400.0
    answers = []
    for mirrored in (False, True):
        landmarks, boxes = _track(0, width, mirrored)
        features, _ = keypoint_features(generator, landmarks, boxes, FeatureConfig(), (width, 400), "cpu", mirrored=True)
        assert features[1].shape[0] == 2
        answers.append((features[1], regress_features(generator, features[1], DemoConfig().windows)))
    (feat, (pose, shape, cam)), (feat_m, (pose_m, shape_m, cam_m)) = answers
    assert torch.allclose(feat[1], feat_m[0], atol=1e-5) and torch.allclose(feat[0], feat_m[1], atol=1e-5)
    names = generator.body.joint_names
    assert torch.allclose(mirror_rotations_torch(pose_m, names), pose, atol=1e-5)
    assert torch.allclose(shape_m, shape, atol=1e-6)
    assert torch.allclose(mirror_crop_cam(cam_m), cam, atol=1e-6)
    plain = regress_features(generator, feat[0], DemoConfig().windows)[0]
    assert not torch.allclose(plain, pose, atol=1e-3)  # the average is not the plain answer
