"""Square boxes, crop affine maps and image crops against hand computations and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from vibe.geometry import crops


def test_bbox_conversions_hand_computed() -> None:
    bbox_xyxy = np.array([[10.0, 20.0, 50.0, 100.0], [0.0, 0.0, 30.0, 10.0]])
    # centres (30, 60) and (15, 5); square side max(w, h) = 80 and 30.
    expected = np.array([[30.0, 60.0, 80.0], [15.0, 5.0, 30.0]])
    np.testing.assert_allclose(crops.bbox_xyxy_to_cxcys(bbox_xyxy), expected)
    expected_xyxy = [[-10.0, 20.0, 70.0, 100.0], [0.0, -10.0, 30.0, 20.0]]
    np.testing.assert_allclose(crops.bbox_cxcys_to_xyxy(expected), expected_xyxy)
    # For a square box the two conversions are inverse.
    square = np.array([5.0, 7.0, 25.0, 27.0])
    np.testing.assert_allclose(crops.bbox_cxcys_to_xyxy(crops.bbox_xyxy_to_cxcys(square)), square)


def test_crop_transform_centre_and_corners() -> None:
    bbox = np.array([300.0, 200.0, 100.0])
    affine = crops.crop_transform(bbox, scale=1.1, out_size=224)
    assert affine.shape == (2, 3)
    half = 1.1 * 100.0 / 2.0
    points = np.array(
        [[300.0, 200.0], [300.0 - half, 200.0 - half], [300.0 + half, 200.0 + half], [300.0 + half, 200.0]]
    )
    expected = np.array([[112.0, 112.0], [0.0, 0.0], [224.0, 224.0], [224.0, 112.0]])
    np.testing.assert_allclose(crops.transform_points(points, affine), expected, atol=1e-9)


def test_invert_affine_matches_opencv_and_round_trips() -> None:
    affine = crops.crop_transform(np.array([123.0, 456.0, 78.0]), scale=1.2, out_size=256)
    inverse = crops.invert_affine(affine)
    np.testing.assert_allclose(inverse, cv2.invertAffineTransform(affine), rtol=1e-12, atol=1e-9)
    general = np.array([[1.2, 0.3, -4.0], [-0.5, 0.9, 7.0]])
    points = np.random.default_rng(0).uniform(-100, 100, size=(10, 2))
    there = crops.transform_points(points, general)
    np.testing.assert_allclose(crops.transform_points(there, crops.invert_affine(general)), points, atol=1e-9)


def test_batched_transforms_equal_one_by_one() -> None:
    rng = np.random.default_rng(1)
    bboxes = np.column_stack([rng.uniform(100, 500, size=(5, 2)), rng.uniform(50, 200, size=5)])
    points = rng.uniform(0, 600, size=(5, 7, 2))
    affines = crops.crop_transform(bboxes, scale=1.1, out_size=224)
    assert affines.shape == (5, 2, 3)
    batched = crops.transform_points(points, affines)
    normalised = crops.normalize_points_to_crop(points, bboxes, scale=1.1, out_size=224)
    for i in range(5):
        np.testing.assert_allclose(batched[i], crops.transform_points(points[i], affines[i]))
        np.testing.assert_allclose(normalised[i], crops.normalize_points_to_crop(points[i], bboxes[i]))


def test_normalize_points_to_crop_hand_computed_and_inverse() -> None:
    bbox = np.array([300.0, 200.0, 100.0])
    half = 1.1 * 100.0 / 2.0
    points = np.array([[300.0, 200.0], [300.0 - half, 200.0 + half], [300.0 + half / 2, 200.0]])
    expected = np.array([[0.0, 0.0], [-1.0, 1.0], [0.5, 0.0]])
    normalised = crops.normalize_points_to_crop(points, bbox, scale=1.1, out_size=224)
    np.testing.assert_allclose(normalised, expected, atol=1e-12)
    back = crops.denormalize_points_from_crop(normalised, bbox, scale=1.1, out_size=224)
    np.testing.assert_allclose(back, points)


def _square_centroid(image: np.ndarray) -> np.ndarray:
    """(x, y) centroid of the red pixels (weight red − green: 0 on grey), in pixel-centre coordinates."""
    red = image[..., 0].astype(np.float64) - image[..., 1].astype(np.float64)
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(xs * red).sum(), (ys * red).sum()]) / red.sum()


def test_crop_image_places_a_square_where_transform_points_predicts() -> None:
    image = np.full((480, 640, 3), 40, dtype=np.uint8)
    image[150:170, 300:320] = (255, 0, 0)  # red 20x20 square centred on pixel (309.5, 159.5)
    bbox = np.array([330.0, 180.0, 120.0])
    crop = crops.crop_image(image, bbox, scale=1.1, out_size=224)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    predicted = crops.transform_points(np.array([309.5, 159.5]), crops.crop_transform(bbox, 1.1, 224))
    np.testing.assert_allclose(_square_centroid(crop), predicted, atol=0.2)
    # The square is 20 px · 224 / 132 ≈ 34 px wide in the crop.
    assert abs((crop[..., 0] - crop[..., 1].astype(int) > 128).sum() ** 0.5 - 20 * 224 / 132) < 2.0


def test_crop_image_outside_the_image_is_black() -> None:
    image = np.full((100, 100, 3), 200, dtype=np.uint8)
    # Box centred on the top-left corner: three quarters of the crop lie outside.
    crop = crops.crop_image(image, np.array([0.0, 0.0, 50.0]), scale=1.0, out_size=64)
    assert np.all(crop[:30, :, :] == 0) and np.all(crop[:, :30, :] == 0)
    assert np.all(crop[34:, 34:, :] == 200)
