"""Landmarks → encoder input: the crop normalisation, missing points, invariances."""

from __future__ import annotations

import numpy as np
import torch

from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.geometry.crops import normalize_points_to_crop


def _landmarks(rng: np.random.Generator, t: int = 5, k: int = 33) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.stack([rng.uniform(300, 900, t), rng.uniform(200, 500, t), rng.uniform(100, 400, t)], -1)
    xy = boxes[:, None, :2] + rng.uniform(-0.5, 0.5, (t, k, 2)) * boxes[:, None, 2:3]
    vis = rng.uniform(0.1, 1.0, (t, k, 1))
    return np.concatenate([xy, vis], -1), boxes


def test_hand_computed_point() -> None:
    landmarks = np.array([[[125.0, 175.0, 0.9], [100.0, 200.0, 0.5]]])  # (T=1, K=2, 3)
    boxes = np.array([[100.0, 200.0, 50.0]])  # centre (100, 200), side 50
    out = keypoints_to_encoder_input(landmarks, boxes)
    expected = torch.tensor([[[1.0, -1.0, 0.9], [0.0, 0.0, 0.5]]])
    torch.testing.assert_close(out, expected)
    half_scale = keypoints_to_encoder_input(landmarks, boxes, FeatureConfig(box_scale=2.0))
    torch.testing.assert_close(half_scale[..., :2], expected[..., :2] / 2)
    torch.testing.assert_close(keypoints_to_encoder_input(landmarks, boxes, 2.0), half_scale)


def test_matches_crop_normalisation() -> None:
    """Same coordinates as the image-crop pipeline's normalisation, for any scale."""
    landmarks, boxes = _landmarks(np.random.default_rng(0))
    for scale in (1.0, 1.1, 1.25):
        out = keypoints_to_encoder_input(landmarks, boxes, FeatureConfig(box_scale=scale))
        expected = normalize_points_to_crop(landmarks[..., :2], boxes, scale=scale)
        np.testing.assert_allclose(out[..., :2].numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(out[..., 2].numpy(), landmarks[..., 2], atol=1e-6)


def test_invariant_to_box_translation_and_scale() -> None:
    """Moving and zooming the image (landmarks and box together) leaves the features unchanged."""
    landmarks, boxes = _landmarks(np.random.default_rng(1))
    zoom, shift = 1.7, np.array([-37.0, 81.5])
    moved = landmarks.copy()
    moved[..., :2] = landmarks[..., :2] * zoom + shift
    moved_boxes = np.concatenate([boxes[:, :2] * zoom + shift, boxes[:, 2:] * zoom], -1)
    a = keypoints_to_encoder_input(landmarks, boxes)
    b = keypoints_to_encoder_input(moved, moved_boxes)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_missing_points_become_zero() -> None:
    landmarks = np.array(
        [[[np.nan, np.nan, 0.0], [50.0, 50.0, 0.05], [-3.0, 40.0, 0.9], [70.0, 130.0, 0.9], [60.0, 60.0, 0.8]]]
    )
    boxes = np.array([[60.0, 60.0, 40.0]])
    out = keypoints_to_encoder_input(
        landmarks, boxes, FeatureConfig(min_visibility=0.1), image_size=(100.0, 120.0)
    )
    assert torch.isfinite(out).all()
    # NaN, below min_visibility, left of the image, below the image: all (0, 0, 0).
    assert torch.equal(out[0, :4], torch.zeros(4, 3))
    torch.testing.assert_close(out[0, 4], torch.tensor([0.0, 0.0, 0.8]))
    # Without the image size, out-of-image points are kept.
    kept = keypoints_to_encoder_input(landmarks, boxes)
    torch.testing.assert_close(kept[0, 2], torch.tensor([(-3.0 - 60.0) / 20.0, (40.0 - 60.0) / 20.0, 0.9]))


def test_batched_image_sizes_and_torch_input() -> None:
    """(B, T, K, 3) with one image size per item; numpy and torch inputs agree."""
    rng = np.random.default_rng(2)
    pairs = [_landmarks(rng, 3, 4) for _ in range(2)]
    landmarks = np.stack([p[0] for p in pairs])
    boxes = np.stack([p[1] for p in pairs])
    sizes = np.array([[2000.0, 2000.0], [500.0, 400.0]])
    out = keypoints_to_encoder_input(landmarks, boxes, image_size=sizes)
    for b in range(2):
        single = keypoints_to_encoder_input(landmarks[b], boxes[b], image_size=tuple(sizes[b]))
        torch.testing.assert_close(out[b], single)
    from_torch = keypoints_to_encoder_input(torch.from_numpy(landmarks), torch.from_numpy(boxes), image_size=sizes)
    torch.testing.assert_close(out, from_torch)
    assert out.dtype == torch.float32 and out.shape == landmarks.shape
