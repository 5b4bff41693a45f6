"""Crop camera, projections and the crop → image camera against hand computations and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vibe.geometry import cameras
from vibe.geometry.crops import denormalize_points_from_crop

F64 = torch.float64


def test_crop_cam_to_translation_hand_computed() -> None:
    cam = torch.tensor([[0.5, 0.1, -0.2], [2.0, 0.0, 0.3]], dtype=F64)
    # tz = 2·5000 / (224·s): 10000/112 and 10000/448.
    expected = torch.tensor([[0.1, -0.2, 10000.0 / 112.0], [0.0, 0.3, 10000.0 / 448.0]], dtype=F64)
    torch.testing.assert_close(cameras.crop_cam_to_translation(cam), expected)
    # Other focal length and crop size.
    torch.testing.assert_close(
        cameras.crop_cam_to_translation(cam[:1], focal_length=1000.0, crop_size=100.0)[0, 2],
        torch.tensor(2000.0 / 50.0, dtype=F64),
    )


def test_project_to_crop_hand_computed() -> None:
    cam = torch.tensor([[1.0, 0.0, 0.0]], dtype=F64)
    points = torch.tensor([[[0.2, -0.3, 0.0], [0.2, -0.3, 1.0]]], dtype=F64)
    tz = 10000.0 / 224.0
    # Depth 0: 5000·0.2/tz/112 = 0.2 exactly (perspective = weak perspective there).
    # Depth 1 m further: shrunk by tz / (tz + 1).
    shrink = tz / (tz + 1.0)
    expected = torch.tensor([[[0.2, -0.3], [0.2 * shrink, -0.3 * shrink]]], dtype=F64)
    torch.testing.assert_close(cameras.project_to_crop(points, cam), expected)


def test_project_to_crop_equals_weak_perspective_on_the_depth_zero_plane() -> None:
    cam = torch.tensor([[0.9, 0.05, 0.2], [1.3, -0.1, 0.0]], dtype=F64)
    points = torch.randn(2, 7, 3, dtype=F64)
    points[..., 2] = 0.0
    s, t = cam[:, None, :1], cam[:, None, 1:]
    expected = s * (points[..., :2] + t)  # s·(xy + t), written out
    torch.testing.assert_close(cameras.weak_perspective_projection(points, cam), expected)
    torch.testing.assert_close(cameras.project_to_crop(points, cam), expected)


def test_perspective_projection_matches_opencv() -> None:
    rng = np.random.default_rng(3)
    batch, n = 3, 9
    points = rng.normal(size=(batch, n, 3))
    rvec = rng.normal(size=(batch, 3)) * 0.3
    tvec = np.column_stack([rng.normal(size=(batch, 2)) * 0.2, rng.uniform(4.0, 6.0, size=batch)])
    focal = rng.uniform(500.0, 1500.0, size=(batch, 2))
    center = rng.uniform(100.0, 500.0, size=(batch, 2))
    rotation = np.stack([cv2.Rodrigues(r)[0] for r in rvec])

    out = cameras.perspective_projection(
        torch.from_numpy(points),
        torch.from_numpy(tvec),
        torch.from_numpy(focal),
        camera_center=torch.from_numpy(center),
        rotation=torch.from_numpy(rotation),
    )
    for b in range(batch):
        K = np.array([[focal[b, 0], 0, center[b, 0]], [0, focal[b, 1], center[b, 1]], [0, 0, 1.0]])
        expected, _ = cv2.projectPoints(points[b], rvec[b], tvec[b], K, None)
        np.testing.assert_allclose(out[b].numpy(), expected[:, 0, :], rtol=1e-9, atol=1e-9)


def test_perspective_projection_focal_forms_agree() -> None:
    points = torch.randn(2, 4, 3, dtype=F64)
    transl = torch.tensor([[0.0, 0.0, 5.0], [0.1, 0.2, 6.0]], dtype=F64)
    from_float = cameras.perspective_projection(points, transl, 700.0)
    from_batch = cameras.perspective_projection(points, transl, torch.full((2,), 700.0, dtype=F64))
    from_xy = cameras.perspective_projection(points, transl, torch.full((2, 2), 700.0, dtype=F64))
    torch.testing.assert_close(from_batch, from_float)
    torch.testing.assert_close(from_xy, from_float)
    # Principal point 0 by default: pixel = f·X/Z.
    cam_points = points + transl[:, None]
    torch.testing.assert_close(from_float, 700.0 * cam_points[..., :2] / cam_points[..., 2:])


def test_crop_cam_to_image_cam_hand_computed() -> None:
    cam = np.array([[0.8, 0.1, -0.05]])
    bbox = np.array([[400.0, 200.0, 100.0]])
    # sx = 0.8·100/640 = 0.125, sy = 0.8·100/480 = 1/6,
    # tx' = (400−320)/320/0.125 + 0.1 = 2.1, ty' = (200−240)/240·6 − 0.05 = −1.05.
    expected = np.array([[0.125, 1.0 / 6.0, 2.1, -1.05]])
    out_np = cameras.crop_cam_to_image_cam(cam, bbox, 640, 480)
    assert isinstance(out_np, np.ndarray)
    np.testing.assert_allclose(out_np, expected, rtol=1e-12)
    out_torch = cameras.crop_cam_to_image_cam(torch.from_numpy(cam), torch.from_numpy(bbox), 640, 480)
    assert isinstance(out_torch, torch.Tensor)
    np.testing.assert_allclose(out_torch.numpy(), expected, rtol=1e-12)


def test_image_cam_to_pixels_hand_computed() -> None:
    orig_cam = np.array([[0.125, 1.0 / 6.0, 2.1, -1.05]])
    points = np.array([[[0.3, -0.2, 7.0]]])
    # x_ndc = 0.125·2.4 = 0.3 → 1.3/2·640 = 416;  y_ndc = (−1.25)/6 → (1 − 0.208333)/2·480 = 190.
    np.testing.assert_allclose(cameras.image_cam_to_pixels(points, orig_cam, 640, 480), [[[416.0, 190.0]]])


def test_crop_projection_mapped_to_image_equals_image_camera() -> None:
    """Crop camera → crop coords → image (via the crop affine) = orig_cam → image pixels."""
    width, height = 1280, 720
    cam = torch.tensor([[0.8, 0.1, -0.05], [1.2, -0.2, 0.15]], dtype=F64)
    bbox = np.array([[400.0, 200.0, 100.0], [900.0, 500.0, 300.0]])
    points = torch.randn(2, 6, 3, dtype=F64) * 0.3
    orig_cam = cameras.crop_cam_to_image_cam(cam, torch.from_numpy(bbox), width, height)
    via_image_cam = cameras.image_cam_to_pixels(points, orig_cam, width, height).numpy()

    # Weak perspective: exact when the crop's [-1, 1] spans the box side (scale 1).
    crop_weak = cameras.weak_perspective_projection(points, cam).numpy()
    via_crop = denormalize_points_from_crop(crop_weak, bbox, scale=1.0)
    np.testing.assert_allclose(via_crop, via_image_cam, rtol=1e-10, atol=1e-9)
    # A crop at scale k matches orig_cam built from the scaled box side.
    k = 1.1
    via_scaled_crop = denormalize_points_from_crop(crop_weak, bbox, scale=k)
    bbox_scaled = torch.from_numpy(bbox * np.array([1.0, 1.0, k]))
    orig_cam_scaled = cameras.crop_cam_to_image_cam(cam, bbox_scaled, width, height)
    via_scaled_image_cam = cameras.image_cam_to_pixels(points, orig_cam_scaled, width, height).numpy()
    np.testing.assert_allclose(via_scaled_crop, via_scaled_image_cam, atol=1e-9)
    # The perspective crop camera (depth ~45 m / s) agrees to within 1 % of the
    # box side for points within ~1 m of the depth-0 plane.
    crop_persp = cameras.project_to_crop(points, cam).numpy()
    via_crop_persp = denormalize_points_from_crop(crop_persp, bbox, scale=1.0)
    error_px = np.abs(via_crop_persp - via_image_cam).max(axis=(1, 2))
    assert np.all(error_px < 0.01 * bbox[:, 2])


def test_fit_weak_perspective_weighted_ignores_zero_weight_outliers() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(5, 12, 3))
    cam = np.stack([rng.uniform(0.5, 2.0, 5), rng.normal(size=5), rng.normal(size=5)], axis=-1)
    crop = cam[:, None, :1] * (points[..., :2] + cam[:, None, 1:])  # s·(X + t) by hand
    weights = np.ones((5, 12))
    crop[:, 3] += 5.0  # one wrong landmark per frame ...
    weights[:, 3] = 0.0  # ... with visibility 0
    np.testing.assert_allclose(cameras.fit_weak_perspective(points, crop, weights), cam, atol=1e-10)
    assert not np.allclose(cameras.fit_weak_perspective(points, crop), cam, atol=1e-2)
    weights[0] = 0.0  # nothing visible: no camera
    assert np.isnan(cameras.fit_weak_perspective(points, crop, weights)[0]).all()
