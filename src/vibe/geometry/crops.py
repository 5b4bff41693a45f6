"""Square person boxes and the image ↔ crop affine maps (numpy; used by the video pipeline).

Boxes: ``bbox_xyxy`` ``(..., 4)`` = (x0, y0, x1, y1) and ``bbox_cxcys``
``(..., 3)`` = (cx, cy, size) for a square box of side ``size``, in image
pixels. A crop of a box at ``scale`` covers the square of side
``scale·size`` centred on (cx, cy), resized to ``out_size`` px.

Pixel convention follows the original (and ``cv2.warpAffine``): the box
centre maps to crop pixel ``out_size / 2`` and crop pixel ``p`` normalises to
``2·p / out_size − 1``, so the box centre is 0 and the crop's square spans
``[-1, 1]``.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.signal import savgol_filter

__all__ = [
    "bbox_xyxy_to_cxcys",
    "bbox_cxcys_to_xyxy",
    "crop_transform",
    "invert_affine",
    "transform_points",
    "crop_image",
    "normalize_points_to_crop",
    "denormalize_points_from_crop",
    "smooth_square_boxes",
]


def bbox_xyxy_to_cxcys(bbox_xyxy: np.ndarray) -> np.ndarray:
    """Boxes ``(..., 4)`` (x0, y0, x1, y1) → square boxes ``(..., 3)`` (cx, cy, size = max(w, h))."""
    bbox_xyxy = np.asarray(bbox_xyxy, dtype=np.float64)
    x0, y0, x1, y1 = np.moveaxis(bbox_xyxy, -1, 0)
    size = np.maximum(x1 - x0, y1 - y0)
    return np.stack(((x0 + x1) / 2.0, (y0 + y1) / 2.0, size), axis=-1)


def bbox_cxcys_to_xyxy(bbox_cxcys: np.ndarray) -> np.ndarray:
    """Square boxes ``(..., 3)`` (cx, cy, size) → ``(..., 4)`` (x0, y0, x1, y1)."""
    bbox_cxcys = np.asarray(bbox_cxcys, dtype=np.float64)
    cx, cy, size = np.moveaxis(bbox_cxcys, -1, 0)
    half = size / 2.0
    return np.stack((cx - half, cy - half, cx + half, cy + half), axis=-1)


def crop_transform(bbox_cxcys: np.ndarray, scale: float = 1.1, out_size: int = 224) -> np.ndarray:
    """Affine map image pixels → crop pixels, ``(..., 2, 3)`` for boxes ``(..., 3)``.

    ``crop = k·(image − (cx, cy)) + out_size/2`` with ``k = out_size / (scale·size)``:
    no rotation, same scale on both axes (the crop is square).
    """
    bbox_cxcys = np.asarray(bbox_cxcys, dtype=np.float64)
    cx, cy, size = np.moveaxis(bbox_cxcys, -1, 0)
    k = out_size / (scale * size)
    zero = np.zeros_like(k)
    row_x = np.stack((k, zero, out_size / 2.0 - k * cx), axis=-1)
    row_y = np.stack((zero, k, out_size / 2.0 - k * cy), axis=-1)
    return np.stack((row_x, row_y), axis=-2)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of 2D affine maps ``(..., 2, 3)`` → ``(..., 2, 3)``."""
    affine = np.asarray(affine, dtype=np.float64)
    linear_inv = np.linalg.inv(affine[..., :2])
    offset_inv = -np.einsum("...ij,...j->...i", linear_inv, affine[..., 2])
    return np.concatenate((linear_inv, offset_inv[..., None]), axis=-1)


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply 2D affine maps to points.

    Args:
        points: ``(..., 2)`` with one map ``affine`` ``(2, 3)``; or ``(..., K, 2)``
            with one map per leading item, ``affine`` ``(..., 2, 3)``.
        affine: ``(2, 3)`` or ``(..., 2, 3)`` (e.g. from :func:`crop_transform`).

    Returns:
        Points of the same shape as ``points``: ``A[:, :2] @ p + A[:, 2]``.
    """
    points = np.asarray(points, dtype=np.float64)
    affine = np.asarray(affine, dtype=np.float64)
    linear_t = np.swapaxes(affine[..., :2], -1, -2)
    offset = affine[..., 2] if affine.ndim == 2 else affine[..., None, :, 2]
    return points @ linear_t + offset


def crop_image(
    image: np.ndarray, bbox_cxcys: np.ndarray, scale: float = 1.1, out_size: int = 224
) -> np.ndarray:
    """Square crop of one image: ``(H, W, C)`` uint8 → ``(out_size, out_size, C)``.

    Bilinear resampling with :func:`crop_transform` of the box ``(3,)``;
    outside the image the crop is black (zero border), as the original.
    """
    affine = crop_transform(bbox_cxcys, scale, out_size)
    return cv2.warpAffine(
        image,
        affine,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def normalize_points_to_crop(
    points_px: np.ndarray, bbox_cxcys: np.ndarray, scale: float = 1.1, out_size: int = 224
) -> np.ndarray:
    """Image pixels → ``[-1, 1]`` crop coordinates (the original's 2D joint normalisation).

    ``points_px`` is ``(..., 2)`` with one box ``(3,)``, or ``(..., K, 2)``
    with one box per leading item ``(..., 3)``. The box centre maps to 0 and
    the crop square (side ``scale·size``) to ``[-1, 1]``; the result does not
    depend on ``out_size`` beyond rounding.
    """
    crop_px = transform_points(points_px, crop_transform(bbox_cxcys, scale, out_size))
    return 2.0 * crop_px / out_size - 1.0


def denormalize_points_from_crop(
    points_crop: np.ndarray, bbox_cxcys: np.ndarray, scale: float = 1.1, out_size: int = 224
) -> np.ndarray:
    """``[-1, 1]`` crop coordinates → image pixels; inverse of :func:`normalize_points_to_crop`.

    Shapes as in :func:`normalize_points_to_crop`. With ``scale=1`` this is
    the original demo's ``joints2d_img_coord`` conversion of the crop joints.
    """
    crop_px = (np.asarray(points_crop, dtype=np.float64) + 1.0) * out_size / 2.0
    return transform_points(crop_px, invert_affine(crop_transform(bbox_cxcys, scale, out_size)))


def smooth_square_boxes(
    frame_ids: np.ndarray, bbox_xyxy: np.ndarray, fps: float, window_s: float = 0.5, polyorder: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Square boxes for every frame of a track, gaps filled, smoothed over time.

    Boxes become squares ``(cx, cy, side = max(w, h))``; frames missing
    between the first and last detection are filled by linear interpolation;
    then a Savitzky–Golay filter (``polyorder``, window ``window_s`` seconds,
    odd, at most the track length) smooths cx, cy and log(side) (log so the
    size filter is scale-free and stays positive).

    Args:
        frame_ids: ``(n,)`` increasing frame indices.
        bbox_xyxy: ``(n, 4)`` boxes, pixels.
        fps: frame rate of the video.

    Returns:
        ``frame_ids_full (m,)`` = first..last frame, and ``bbox_cxcys (m, 3)``.
    """
    frame_ids = np.asarray(frame_ids)
    cxcys = bbox_xyxy_to_cxcys(np.asarray(bbox_xyxy, dtype=np.float64))
    full = np.arange(frame_ids[0], frame_ids[-1] + 1)
    values = np.stack([cxcys[:, 0], cxcys[:, 1], np.log(cxcys[:, 2])], axis=1)
    filled = np.stack([np.interp(full, frame_ids, values[:, k]) for k in range(3)], axis=1)
    window = int(round(window_s * fps)) | 1
    window = min(window, full.size if full.size % 2 else full.size - 1)
    if window > polyorder:
        filled = savgol_filter(filled, window, polyorder, axis=0, mode="interp")
    return full, np.stack([filled[:, 0], filled[:, 1], np.exp(filled[:, 2])], axis=1)
