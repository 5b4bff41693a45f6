"""Keypoints moved with a bone (the ``blazepose33_detector`` set) and the calibration that finds the offsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import Anny, AnnyConfig
from vibe.body.keypoint_offsets import DETECTOR_SET, load_detector_offsets, offset_vertex_weights
from vibe.evaluation.keypoint_calibration import _focal, fit_offset


def test_offset_weights_sum_to_zero_and_combine_to_the_offset() -> None:
    rng = np.random.default_rng(0)
    rest = torch.as_tensor(rng.normal(size=(50, 3)))
    indices = torch.as_tensor(rng.integers(0, 3, size=(50, 2)))
    weights = torch.where(indices[:, :1] == 1, torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5]))
    offset = torch.tensor([0.01, -0.04, 0.02], dtype=torch.float64)
    w = offset_vertex_weights(rest, weights, indices, bone=1, offset=offset)
    rigid = (indices[:, 0] == 1).numpy()
    assert np.all(w.numpy()[~rigid] == 0)  # only vertices skinned to the bone alone
    assert abs(float(w.sum())) < 1e-12
    torch.testing.assert_close(w @ rest.double(), offset, atol=1e-12, rtol=0)


def test_offset_weights_need_rigid_vertices() -> None:
    rest = torch.zeros(10, 3)
    with pytest.raises(ValueError, match="rigid"):
        offset_vertex_weights(rest, torch.full((10, 1), 0.5), torch.zeros(10, 1, dtype=torch.long), 0, torch.zeros(3))


def test_fit_offset_recovers_a_known_offset_despite_outliers() -> None:
    rng = np.random.default_rng(1)
    maps = rng.normal(scale=300.0, size=(400, 2, 3))  # pixels per metre
    truth = np.array([0.02, 0.04, -0.01])
    boxes = np.full(400, 300.0)
    residuals = maps @ truth + rng.normal(scale=1.0, size=(400, 2))
    residuals[:40] += rng.normal(scale=80.0, size=(40, 2))  # swapped or lost landmarks
    np.testing.assert_allclose(fit_offset(maps, residuals, boxes), truth, atol=2e-3)


def test_focal_from_exact_projections() -> None:
    rng = np.random.default_rng(2)
    points = rng.uniform([-1, -1, 2], [1, 1, 6], size=(100, 3))
    pixels = np.stack([900 * points[:, 0] / points[:, 2] + 320, 880 * points[:, 1] / points[:, 2] + 240], -1)
    np.testing.assert_allclose(_focal(points, pixels), [900, 880], rtol=1e-9)


@pytest.mark.anny
def test_detector_set_is_blazepose_moved_rigidly_with_its_bones() -> None:
    body = Anny(AnnyConfig(dtype=torch.float64))
    offsets = load_detector_offsets()
    assert offsets and DETECTOR_SET in body.keypoint_sets
    names = body.keypoint_sets["blazepose33"]
    assert body.keypoint_sets[DETECTOR_SET] == names
    rng = np.random.default_rng(3)
    rotvec = rng.normal(scale=0.6, size=(4 * body.num_joints, 3))
    pose = torch.as_tensor(Rotation.from_rotvec(rotvec).as_matrix().reshape(4, body.num_joints, 3, 3))
    shape = torch.as_tensor(rng.uniform(0, 1, size=(4, body.shape_dim)))
    posed = body(pose, shape)
    moved, plain = body.keypoints(posed, DETECTOR_SET), body.keypoints(posed, "blazepose33")
    # The sparse evaluator agrees with the mesh, and bone_rotations with the mesh's joint rotations.
    evaluator = body.keypoint_evaluator([DETECTOR_SET])
    torch.testing.assert_close(evaluator(pose, shape).keypoints[DETECTOR_SET], moved, atol=1e-9, rtol=0)
    torch.testing.assert_close(evaluator.bone_rotations(pose, shape), posed.joints_rotmat, atol=1e-9, rtol=0)
    mean = body.mean_shape(4)
    posed_mean = body(pose, mean)
    moved_mean = body.keypoints(posed_mean, DETECTOR_SET) - body.keypoints(posed_mean, "blazepose33")
    for k, name in enumerate(names):
        if name not in offsets:
            torch.testing.assert_close(moved[:, k], plain[:, k], atol=1e-12, rtol=0)
            continue
        bone, offset = offsets[name]
        rot = posed_mean.joints_rotmat[:, body.joint_names.index(bone)]
        expected = rot @ torch.tensor(offset, dtype=torch.float64)
        # Vertices of weight ≥ 0.99 on the bone: rigid to ~0.1 mm at the mean shape.
        torch.testing.assert_close(moved_mean[:, k], expected, atol=3e-4, rtol=0)


def _built_weights(body: Anny) -> torch.Tensor:
    """The detector set's vertex weights computed afresh (on one thread, as the model builds them), float32."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return body._detector_weights(load_detector_offsets()).float()
    finally:
        torch.set_num_threads(threads)


@pytest.mark.anny
def test_detector_weights_are_built_once_per_configuration(monkeypatch) -> None:
    """A second model of one configuration takes the cached weights: equal to a fresh build, not shared."""
    import vibe.body.anny as anny_module

    cache: dict = {}
    monkeypatch.setattr(anny_module, "_DETECTOR_WEIGHTS", cache)
    first = Anny()
    assert len(cache) == 1
    built = _built_weights(first)
    assert torch.equal(getattr(first, f"_kp_{DETECTOR_SET}_vert"), built)
    second = Anny()
    weights = getattr(second, f"_kp_{DETECTOR_SET}_vert")
    assert len(cache) == 1 and torch.equal(weights, built)
    assert weights.data_ptr() != getattr(first, f"_kp_{DETECTOR_SET}_vert").data_ptr()
    # Another mean shape is another rest mesh: its own entry, its own weights.
    adult = Anny(AnnyConfig(mean_phenotype={"age": 0.8}))
    assert len(cache) == 2
    adult_weights = getattr(adult, f"_kp_{DETECTOR_SET}_vert")
    assert torch.equal(adult_weights, _built_weights(adult))
    assert not torch.equal(adult_weights, weights)
