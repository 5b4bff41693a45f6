"""Cameras of synthetic windows: random placement around the person, pinhole projection, the crop camera.

World frame: metres, y up (the body model's); camera frame: OpenCV (x right,
y down, z forward). One camera per window, rotating slowly over its frames
(see :class:`~vibe.data.synthetic.config.SyntheticConfig`, "Camera").
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from vibe.data.synthetic.config import SyntheticConfig
from vibe.data.synthetic.landmarks import FEET, HIPS
from vibe.geometry.cameras import fit_weak_perspective, perspective_projection

logger = logging.getLogger(__name__)

__all__ = ["Cameras", "place_cameras", "draw_cameras", "to_camera", "project", "in_image", "look_at",
           "rotation_to", "fit_crop_camera"]


@dataclasses.dataclass
class Cameras:
    """Per-window cameras of a batch of ``B`` windows of ``T`` frames."""

    rotmat: np.ndarray  # (B, T, 3, 3) camera-from-world
    transl: np.ndarray  # (B, T, 3)
    focal_px: np.ndarray  # (B,)
    image_size: np.ndarray  # (B, 2)


def place_cameras(rng: np.random.Generator, kp_world: np.ndarray, cfg: SyntheticConfig) -> Cameras:
    """Random cameras ``(B,)`` for landmarks ``(B, T, K, 3)``, redrawn while too little is in view."""
    batch, num_frames = kp_world.shape[:2]
    cams = Cameras(
        np.zeros((batch, num_frames, 3, 3)), np.zeros((batch, num_frames, 3)), np.zeros(batch), np.zeros((batch, 2))
    )
    todo = np.arange(batch)
    for _ in range(cfg.max_camera_tries):
        drawn = draw_cameras(rng, kp_world[todo], cfg)
        for name in ("rotmat", "transl", "focal_px", "image_size"):
            getattr(cams, name)[todo] = getattr(drawn, name)
        points = to_camera(drawn, kp_world[todo])
        pixels = project(points, drawn.focal_px, drawn.image_size)
        in_view = in_image(pixels, drawn.image_size).mean((1, 2))
        ok = (in_view >= cfg.min_in_view) & (points[..., 2] > 0.1).all((1, 2))
        todo = todo[~ok]
        if todo.size == 0:
            break
    if todo.size:
        logger.debug("%d of %d windows kept a camera with too little in view", todo.size, batch)
    return cams


def draw_cameras(rng: np.random.Generator, kp_world: np.ndarray, cfg: SyntheticConfig) -> Cameras:
    """One random camera per window (see :class:`SyntheticConfig`, "Camera")."""
    batch, num_frames = kp_world.shape[:2]
    sizes = np.asarray(cfg.image_sizes, dtype=np.float64)
    image_size = sizes[rng.integers(len(sizes), size=batch)]
    fov = np.deg2rad(rng.uniform(*cfg.fov_long_side_deg, size=batch))
    focal = image_size.max(-1) / 2.0 / np.tan(fov / 2.0)

    mid_hip = kp_world[:, :, HIPS].mean(2).mean(1)  # (B, 3)
    floor = kp_world[:, :, FEET, 1].min((1, 2))
    log_lo, log_hi = np.log(cfg.distance_m[0]), np.log(cfg.distance_m[1])
    distance = np.exp(rng.uniform(log_lo, log_hi, size=batch))
    azimuth = rng.uniform(0.0, 2.0 * np.pi, size=batch)
    height = rng.uniform(*cfg.camera_height_m, size=batch)
    position = np.stack(
        [mid_hip[:, 0] + distance * np.sin(azimuth), floor + height, mid_hip[:, 2] + distance * np.cos(azimuth)],
        axis=-1,
    )
    look = look_at(position, mid_hip)
    roll = Rotation.from_rotvec(
        np.array([0.0, 0.0, 1.0]) * np.deg2rad(rng.normal(0.0, cfg.roll_std_deg, size=(batch, 1)))
    ).as_matrix()
    # Put the mid-hip at a random image position: turn the optical axis away from it.
    offset_px = rng.uniform(-1.0, 1.0, size=(batch, 2)) * np.asarray(cfg.center_offset) * image_size / 2.0
    direction = np.concatenate([offset_px / focal[:, None], np.ones((batch, 1))], axis=-1)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    start = rotation_to(direction) @ roll @ look  # (B, 3, 3)

    rate = np.deg2rad(rng.normal(0.0, cfg.pan_std_deg_s, size=(batch, 2)))  # tilt (x), pan (y) rad/s
    times = np.arange(num_frames) / cfg.fps
    rotvec = np.zeros((batch, num_frames, 3))
    rotvec[..., :2] = rate[:, None, :] * times[None, :, None]
    pan = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(batch, num_frames, 3, 3)
    rotmat = pan @ start[:, None]
    transl = -np.einsum("btij,bj->bti", rotmat, position)
    return Cameras(rotmat, transl, focal, image_size)


def to_camera(cams: Cameras, points_world: np.ndarray) -> np.ndarray:
    """World points ``(B, T, N, 3)`` → camera frame with per-frame ``cams`` rotations and translations."""
    return np.einsum("btij,btnj->btni", cams.rotmat, points_world) + cams.transl[:, :, None]


def look_at(camera_pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-from-world rotations ``(B, 3, 3)`` (OpenCV axes, world y up) looking from ``camera_pos`` at ``target``."""
    forward = target - camera_pos
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=-2)


def rotation_to(direction: np.ndarray) -> np.ndarray:
    """Rotations ``(B, 3, 3)`` taking the optical axis (0, 0, 1) to unit ``direction`` ``(B, 3)`` (shortest arc)."""
    axis = np.cross(np.array([0.0, 0.0, 1.0]), direction)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin, direction[..., 2:3])
    rotvec = np.where(sin > 1e-12, axis / np.maximum(sin, 1e-12) * angle, 0.0)
    return Rotation.from_rotvec(rotvec).as_matrix()


def project(points_cam: np.ndarray, focal_px: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points ``(B, T, K, 3)`` → pixels ``(B, T, K, 2)``.

    Focal ``(B,)`` px, principal point at the image centre ``image_size (B, 2) / 2``;
    computed by :func:`vibe.geometry.cameras.perspective_projection`.
    """
    b, t, k, _ = points_cam.shape
    pts = torch.from_numpy(points_cam.reshape(b * t, k, 3))
    focal = torch.from_numpy(np.repeat(focal_px, t))
    center = torch.from_numpy(np.repeat(image_size / 2.0, t, axis=0))
    pixels = perspective_projection(pts, torch.zeros(b * t, 3, dtype=pts.dtype), focal, center)
    return pixels.numpy().reshape(b, t, k, 2)


def in_image(pixels: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """``(B, T, K)`` bool: pixel inside the ``(B, 2)`` image."""
    size = image_size[:, None, None, :]
    return ((pixels >= 0) & (pixels <= size)).all(-1)


def fit_crop_camera(points_body: np.ndarray, points_crop: np.ndarray) -> np.ndarray:
    """Weak-perspective crop camera ``(..., 3)`` of points ``(..., K, 3)`` projected to ``(..., K, 2)``
    (:func:`vibe.geometry.cameras.fit_weak_perspective` with equal weights)."""
    return fit_weak_perspective(points_body, points_crop)
