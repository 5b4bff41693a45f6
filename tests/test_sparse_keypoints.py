"""The fast keypoint evaluator equals posing the full Anny mesh (the reference) to round-off."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import Anny, AnnyConfig
from vibe.body.sparse_keypoints import SparseKeypoints

pytestmark = pytest.mark.anny

SETS = ("blazepose33", "eval14", "coco17")


@pytest.fixture(scope="module")
def body64() -> Anny:
    return Anny(AnnyConfig(dtype=torch.float64))


@pytest.fixture(scope="module")
def body32() -> Anny:
    return Anny()


def _random_pose(rng: np.random.Generator, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    rotvec = rng.normal(scale=0.6, size=(*shape, 31, 3))
    mats = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(*shape, 31, 3, 3)
    return torch.as_tensor(mats, dtype=dtype)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 1e-5)])
def test_equals_full_mesh_keypoints(body64: Anny, body32: Anny, dtype: torch.dtype, tol: float) -> None:
    body = body64 if dtype == torch.float64 else body32
    fast = SparseKeypoints(body, SETS)
    rng = np.random.default_rng(1)
    pose = _random_pose(rng, (5,), dtype)
    shape = torch.as_tensor(rng.uniform(0, 1, size=(5, 6)), dtype=dtype)
    transl = torch.as_tensor(rng.normal(size=(5, 3)), dtype=dtype)
    reference = body(pose, shape, transl)
    out = fast(pose, shape, transl)
    assert set(out.keypoints) == set(SETS)
    for name in SETS:
        expected = body.keypoints(reference, name)
        assert out.keypoints[name].shape == expected.shape
        assert out.keypoints[name].dtype == dtype
        torch.testing.assert_close(out.keypoints[name], expected, atol=tol, rtol=0)
    torch.testing.assert_close(out.joints, reference.joints, atol=tol, rtol=0)


def test_mean_shape_and_no_translation(body64: Anny) -> None:
    fast = SparseKeypoints(body64, ("blazepose33",))
    pose = _random_pose(np.random.default_rng(2), (3,), torch.float64)
    reference = body64.keypoints(body64(pose), "blazepose33")
    torch.testing.assert_close(fast(pose).keypoints["blazepose33"], reference, atol=1e-9, rtol=0)


def test_windows_share_one_shape(body64: Anny) -> None:
    """(B, T) poses with (B, S) shapes equal the flattened batch with each shape repeated T times."""
    fast = SparseKeypoints(body64, ("eval14",))
    rng = np.random.default_rng(3)
    pose = _random_pose(rng, (2, 4), torch.float64)
    shape = torch.as_tensor(rng.uniform(0, 1, size=(2, 6)))
    transl = torch.as_tensor(rng.normal(size=(2, 4, 3)))
    windows = fast(pose, shape, transl)
    flat = fast(pose.flatten(0, 1), shape.repeat_interleave(4, 0), transl.flatten(0, 1))
    assert windows.keypoints["eval14"].shape == (2, 4, 14, 3)
    torch.testing.assert_close(windows.keypoints["eval14"].flatten(0, 1), flat.keypoints["eval14"], atol=1e-12, rtol=0)
    torch.testing.assert_close(windows.joints.flatten(0, 1), flat.joints, atol=1e-12, rtol=0)


def test_unknown_set_raises(body32: Anny) -> None:
    with pytest.raises(KeyError):
        SparseKeypoints(body32, ("no_such_set",))
