"""Cameras: the crop camera of the original release, pinhole and weak-perspective projection.

Camera frame is OpenCV's: x right, y down, z forward; metres.

The regressor predicts a *crop camera* ``cam = (s, tx, ty)`` per frame: a weak
perspective camera over the square network crop, whose normalised image
coordinates span ``[-1, 1]`` across the crop. Training and the original code
realise it as a perspective camera with focal length 5000 px over a 224 px
crop, principal point at the crop centre, and translation
``(tx, ty, 2·f / (crop_size·s))`` (:func:`crop_cam_to_translation`), which is
nearly weak-perspective because the camera is far away.

For rendering in the full image the original converts the crop camera to an
image weak-perspective camera ``orig_cam = (sx, sy, tx', ty')``
(:func:`crop_cam_to_image_cam`, :func:`image_cam_to_pixels`).
"""

from __future__ import annotations

import numpy as np
import roma
import torch

__all__ = [
    "ray_rotation",
    "crop_cam_to_translation",
    "perspective_projection",
    "project_to_crop",
    "weak_perspective_projection",
    "fit_weak_perspective",
    "crop_cam_to_image_cam",
    "image_cam_to_pixels",
]

# Added to the denominator of the depth exactly as the original, so that s = 0
# gives a huge depth instead of a division by zero.
_DEPTH_EPS = 1e-9


def crop_cam_to_translation(
    cam: torch.Tensor, focal_length: float = 5000.0, crop_size: float = 224.0
) -> torch.Tensor:
    """Crop camera ``(..., 3)`` ``(s, tx, ty)`` → camera translation ``(..., 3)`` in metres.

    Returns ``(tx, ty, 2·focal_length / (crop_size·s + 1e-9))``: the body,
    translated by this vector, projects through a pinhole camera of focal
    ``focal_length`` px onto a ``crop_size`` px crop as the weak-perspective
    camera ``s·(x + t)`` does in crop units of half the crop side.
    """
    s, tx, ty = cam.unbind(-1)
    tz = 2.0 * focal_length / (crop_size * s + _DEPTH_EPS)
    return torch.stack((tx, ty, tz), dim=-1)


def _focal_xy(focal_length: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Focal length as ``(B, 2)`` (fx, fy) from a float, ``(B,)`` or ``(B, 2)``."""
    f = torch.as_tensor(focal_length, dtype=like.dtype, device=like.device)
    if f.dim() == 0:
        f = f.expand(like.shape[0])
    if f.dim() == 1:
        f = torch.stack((f, f), dim=-1)
    return f.expand(like.shape[0], 2)


def perspective_projection(
    points: torch.Tensor,
    translation: torch.Tensor,
    focal_length: float | torch.Tensor,
    camera_center: torch.Tensor | None = None,
    rotation: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pinhole projection of 3D points to pixels (OpenCV: x right, y down, z forward).

    Args:
        points: ``(B, N, 3)`` points in the body/world frame, metres.
        translation: ``(B, 3)`` camera-from-world translation.
        focal_length: float, ``(B,)`` or ``(B, 2)`` (fx, fy), pixels.
        camera_center: ``(B, 2)`` principal point in pixels; ``None`` = (0, 0).
        rotation: ``(B, 3, 3)`` camera-from-world rotation; ``None`` = identity.

    Returns:
        ``(B, N, 2)`` pixel coordinates ``f·(X/Z, Y/Z) + c`` of the camera-frame
        points ``X = R @ p + t``. Points behind the camera are not handled.
    """
    points_cam = points if rotation is None else torch.einsum("bij,bnj->bni", rotation, points)
    points_cam = points_cam + translation[:, None, :]
    xy = points_cam[..., :2] / points_cam[..., 2:3]
    pixels = xy * _focal_xy(focal_length, points)[:, None, :]
    if camera_center is not None:
        pixels = pixels + camera_center[:, None, :]
    return pixels


def project_to_crop(
    points: torch.Tensor, cam: torch.Tensor, focal_length: float = 5000.0, crop_size: float = 224.0
) -> torch.Tensor:
    """Project body points ``(B, N, 3)`` through the crop camera ``(B, 3)`` to ``[-1, 1]`` crop coordinates.

    As the original: perspective projection with translation
    :func:`crop_cam_to_translation`, principal point 0 (the crop centre), then
    division by ``crop_size / 2``. Returns ``(B, N, 2)``; ``(-1, -1)`` is the
    crop's top-left corner, ``(1, 1)`` its bottom-right.
    """
    translation = crop_cam_to_translation(cam, focal_length, crop_size)
    pixels = perspective_projection(points, translation, focal_length)
    return pixels / (crop_size / 2.0)


def weak_perspective_projection(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Weak-perspective projection ``s·(xy + t)`` of points ``(B, N, 3)``, ``cam`` ``(B, 3)`` = (s, tx, ty).

    Returns ``(B, N, 2)`` in the crop's ``[-1, 1]`` coordinates; depth is ignored.
    """
    s = cam[:, None, 0:1]
    t = cam[:, None, 1:3]
    return s * (points[..., :2] + t)


def fit_weak_perspective(
    points_body: np.ndarray, points_crop: np.ndarray, weights: np.ndarray | None = None, min_weight: float = 1e-6
) -> np.ndarray:
    """Weak-perspective crop camera ``(s, tx, ty)`` best explaining a projection, per frame.

    Weighted least squares of ``s·(X_xy + t) ≈ u`` over the points: with
    weighted means ``X̄, ū``, ``s = Σ w (X − X̄)·(u − ū) / Σ w |X − X̄|²`` and
    ``t = ū / s − X̄``. Matches :func:`project_to_crop` up to its ~1 %
    perspective term (depth spread over a 5000 px focal length).

    Args:
        points_body: ``(..., K, 3)`` points in the body frame (root rotation in
            camera axes, no translation).
        points_crop: ``(..., K, 2)`` their projection in the box's ``[-1, 1]``.
        weights: ``(..., K)`` non-negative (e.g. landmark visibility); ``None``: all 1.
        min_weight: frames whose points carry less total weight (or span no
            area) get NaN.

    Returns:
        ``(..., 3)`` cameras.
    """
    xy = np.asarray(points_body, np.float64)[..., :2]
    uv = np.asarray(points_crop, np.float64)
    w = np.ones(xy.shape[:-1]) if weights is None else np.asarray(weights, np.float64)
    total = w.sum(-1, keepdims=True)  # (..., 1)
    safe = np.maximum(total, min_weight)[..., None]
    xy_mean = (w[..., None] * xy).sum(-2, keepdims=True) / safe
    uv_mean = (w[..., None] * uv).sum(-2, keepdims=True) / safe
    dx, du = xy - xy_mean, uv - uv_mean
    spread = (w[..., None] * dx * dx).sum((-1, -2))
    s = (w[..., None] * dx * du).sum((-1, -2)) / np.maximum(spread, 1e-12)
    t = uv_mean[..., 0, :] / np.where(s == 0, np.nan, s)[..., None] - xy_mean[..., 0, :]
    cam = np.concatenate([s[..., None], t], axis=-1)
    bad = (total[..., 0] < min_weight) | (spread < 1e-12)
    cam[bad] = np.nan
    return cam


def _stack_last(parts: list, like):
    """Stack along a new last axis with the library of ``like`` (numpy or torch)."""
    if isinstance(like, torch.Tensor):
        return torch.stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def crop_cam_to_image_cam(cam, bbox_cxcys, img_width: float, img_height: float):
    """Crop camera ``(N, 3)`` → image weak-perspective camera ``orig_cam`` ``(N, 4)``, as the original demo.

    With ``s, tx, ty = cam``, ``cx, cy, h = bbox_cxcys`` (``h``: side of the
    square box), ``W, H`` the image size:
    ``sx = s·h/W``, ``sy = s·h/H``, ``tx' = (cx − W/2)/(W/2)/sx + tx``,
    ``ty' = (cy − H/2)/(H/2)/sy + ty``; returns ``(sx, sy, tx', ty')``.

    It is exact when the crop camera's ``[-1, 1]`` range spans the box side
    ``h``. The original passes the *unscaled* tracker box although its crops
    span ``1.1·h``; pass the same to reproduce its ``orig_cam``, or
    ``scale·h`` for an overlay that matches the crop geometrically.
    Accepts torch tensors or numpy arrays and returns the same kind.
    """
    s, tx, ty = cam[..., 0], cam[..., 1], cam[..., 2]
    cx, cy, h = bbox_cxcys[..., 0], bbox_cxcys[..., 1], bbox_cxcys[..., 2]
    half_w, half_h = img_width / 2.0, img_height / 2.0
    sx = s * h / img_width
    sy = s * h / img_height
    tx_img = (cx - half_w) / half_w / sx + tx
    ty_img = (cy - half_h) / half_h / sy + ty
    return _stack_last([sx, sy, tx_img, ty_img], cam)


def image_cam_to_pixels(points, orig_cam, img_width: float, img_height: float):
    """Render points ``(N, K, 3)`` with image cameras ``orig_cam`` ``(N, 4)`` to image pixels ``(N, K, 2)``.

    Weak perspective over the whole image: ``x_ndc = sx·(x + tx')``,
    ``y_ndc = sy·(y + ty')`` in ``[-1, 1]`` across the image, then
    ``pixel = (ndc + 1) / 2 · (W, H)``. Accepts torch or numpy, returns the same kind.
    """
    sx, sy = orig_cam[..., None, 0], orig_cam[..., None, 1]
    tx, ty = orig_cam[..., None, 2], orig_cam[..., None, 3]
    x_ndc = sx * (points[..., 0] + tx)
    y_ndc = sy * (points[..., 1] + ty)
    return _stack_last([(x_ndc + 1.0) / 2.0 * img_width, (y_ndc + 1.0) / 2.0 * img_height], points)


def ray_rotation(pixels: np.ndarray, focal_px: float, principal_px: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` smallest rotations taking the optical axis ``(0, 0, 1)`` to the rays through ``pixels`` ``(N, 2)``.

    A body regressed from a crop is oriented relative to the crop's own line of
    sight; this turns it into the full camera's frame (pinhole, OpenCV axes).
    """
    rays = np.concatenate([(np.asarray(pixels, np.float64) - principal_px) / focal_px, np.ones((len(pixels), 1))], 1)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    axis = np.cross(np.array([0.0, 0.0, 1.0]), rays)  # (N, 3), |axis| = sin of the angle
    angle = np.arctan2(np.linalg.norm(axis, axis=1), rays[:, 2])
    unit = axis / np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
    return roma.rotvec_to_rotmat(torch.as_tensor(unit * angle[:, None])).numpy()
