"""The world stage's per-person inputs (:class:`TrackInputs`) and their image-only translation solve.

A person's camera-frame points are ``Q (joints3d − r) + r + t``: ``joints3d``
posed with the root in camera axes and no translation, ``Q`` the turn from the
box's line of sight to the camera's about the root joint ``r`` (:func:`ray_turn`),
``t`` the translation :func:`solve_track` finds (from body size and the image,
optionally with feet anchored on a ground: :mod:`vibe.pipeline.world_ground`).
Camera frame: OpenCV (x right, y down, z forward), metres.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from vibe.geometry.cameras import ray_rotation
from vibe.geometry.trajectory import FootAnchors, solve_translations
from vibe.pipeline.body_axes import centre_of_mass, foot_keypoints, posed_keypoints, sole_points, standing_vertical
from vibe.pipeline.focal import FocalEstimate
from vibe.pipeline.world_config import WorldConfig

__all__ = ["TrackInputs", "track_inputs", "image_keypoints", "on_soles", "ray_turn", "solve_track"]


@dataclass
class TrackInputs:
    """One person's inputs to the solve (camera frame; ``n`` frames, ``K`` keypoints)."""

    times: np.ndarray  # (n,)
    points: np.ndarray  # (n, K, 3) posed keypoints, no translation
    pixels: np.ndarray  # (n, K, 2)
    sigma: np.ndarray  # (n, K) pixels, inf: unused
    feet: np.ndarray  # (n, 2, 3) contact point per foot, body frame (on the sole once the up is known: on_soles)
    verticals: np.ndarray  # (E, n, 3) feet → shoulders, unit, camera axes, one per estimate (nan: unknown)
    upright: np.ndarray  # (n,) bool: feet-to-shoulder length (the network's body) near the person's longest
    guess: np.ndarray  # (n, 3)
    box_side: float
    turn: np.ndarray  # (n, 3, 3) the body's re-orientation (applied to points, feet and shoulders)
    foot_index: list[list[int]] = field(default_factory=list)  # keypoints of each foot (foot_keypoints)
    centre: np.ndarray | None = None  # (n, 3) the body's approximate centre of mass, body frame
    sides: np.ndarray | None = None  # (n,) box side per frame, pixels
    above_sole: list[np.ndarray] = field(default_factory=list)  # per foot (k,): keypoints above the sole at rest
    image_points: np.ndarray | None = None  # (n, K, 3) posed points matched with the pixels (None: points)


def track_inputs(
    p: Mapping[str, np.ndarray],
    names: list[str],
    times: np.ndarray,
    focal: FocalEstimate,
    nominal_focal: float,
    size: tuple[int, int],
    rest: tuple[np.ndarray, list[np.ndarray]],
    config: WorldConfig,
    image_points: np.ndarray | None = None,
) -> TrackInputs:
    """Gather a person's arrays; detected landmarks when the keypoint set is BlazePose's, else the reprojection.

    ``rest``: the rest root joint ``(3,)`` and the foot keypoints' heights above the sole
    (:func:`~vibe.pipeline.body_axes.rest_feet`).
    ``image_points``: ``(n, K, 3)`` the posed points the landmarks are matched with (:func:`image_keypoints`), or None.
    With ``config.ray_correction`` the body (turned about its root joint) is
    re-oriented from its box's line of sight to the camera's (:func:`ray_rotation`).
    """
    root, above_sole = rest
    points = np.asarray(p["joints3d"], np.float64)
    side = np.asarray(p["bbox_cxcys"], np.float64)[:, 2]
    turn = ray_turn(p, focal.focal_px, size, config)
    points = np.einsum("nij,nkj->nki", turn, points - root) + root
    landmarks = p.get("landmarks_img")
    if image_points is not None:
        image_points = np.einsum("nij,nkj->nki", turn, image_points - root) + root
    if landmarks is not None and landmarks.shape[1] == points.shape[1]:
        pixels, vis = np.asarray(landmarks[..., :2], np.float64), np.asarray(landmarks[..., 2], np.float64)
        ok = np.isfinite(vis) & (vis >= config.min_visibility) & np.isfinite(pixels).all(-1)
        inside = (pixels >= 0).all(-1) & (pixels[..., 0] < size[0]) & (pixels[..., 1] < size[1])
        sigma = np.where(ok & inside, config.pixel_sigma_box * side[:, None] / np.where(ok, vis, 1.0), np.inf)
    else:
        pixels = np.asarray(p["joints2d_img"], np.float64)
        sigma = np.broadcast_to(config.pixel_sigma_box * side[:, None], points.shape[:2]).copy()
    guess = np.asarray(p["transl_cam"], np.float64).copy()
    guess[:, 2] *= focal.focal_px / nominal_focal  # transl_cam's depth is for the nominal focal
    feet = np.stack([points[:, idx].mean(axis=1) for idx in foot_keypoints(names)], axis=1)
    vertical, length = standing_vertical(points, names, config.contact_height_m)
    verticals = [vertical]
    if config.landmark_vertical and p.get("landmarks_world") is not None and len(names) == 33:
        mediapipe = np.einsum("nij,nkj->nki", turn, np.asarray(p["landmarks_world"], np.float64))
        verticals.append(standing_vertical(mediapipe, names, config.contact_height_m)[0])
    upright = length >= config.upright_ratio * np.percentile(length, 95)
    frame_times = np.asarray(times, np.float64)[np.asarray(p["frame_ids"])]
    return TrackInputs(frame_times, points, pixels, sigma, feet, np.stack(verticals), upright, guess,
                       float(np.median(side)), turn, foot_keypoints(names), centre_of_mass(points, names),
                       side, above_sole, image_points)  # fmt: skip


def image_keypoints(p: Mapping[str, np.ndarray], body, keypoint_set: str, config: WorldConfig) -> np.ndarray | None:
    """``(n, K, 3)`` the person's posed points of ``config.image_keypoint_set`` (body frame, as ``joints3d``) when
    the landmarks are BlazePose's, the people's set is BlazePose's and the body has that set; else None."""
    wanted = config.image_keypoint_set
    landmarks = p.get("landmarks_img")
    if wanted is None or wanted == keypoint_set or wanted not in body.keypoint_sets or landmarks is None:
        return None
    if keypoint_set != "blazepose33" or len(body.keypoint_sets[wanted]) != landmarks.shape[1]:
        return None
    return posed_keypoints(body, p["pose_rotmat"], p["shape"], wanted)


def on_soles(track: TrackInputs, up: np.ndarray, lowest: bool) -> TrackInputs:
    """The track with each foot's contact point on its sole beneath ``up`` ``(3,)`` (:func:`sole_points`)."""
    return dataclasses.replace(track, feet=sole_points(track.points, track.foot_index, track.above_sole, up, lowest))


def ray_turn(p: Mapping[str, np.ndarray], focal: float, size: tuple[int, int], config: WorldConfig) -> np.ndarray:
    """``(n, 3, 3)`` per frame: the box centre's line of sight (identity without ``config.ray_correction``)."""
    box = np.asarray(p["bbox_cxcys"], np.float64)
    if not config.ray_correction:
        return np.tile(np.eye(3), (len(box), 1, 1))
    return ray_rotation(box[:, :2], focal, np.array([size[0] / 2.0, size[1] / 2.0]))


def solve_track(
    track: TrackInputs, focal: float, size: tuple[int, int], feet: FootAnchors | None, config: WorldConfig
) -> np.ndarray:
    """``(n, 3)`` camera-frame translations of a track."""
    principal = np.array([size[0] / 2.0, size[1] / 2.0])
    points = track.points if track.image_points is None else track.image_points
    return solve_translations(points, track.pixels, track.sigma, focal, principal, track.times, track.guess,
                              feet, config.weights)  # fmt: skip

