"""The world stage's ground: the up direction, foot contacts, the ground plane, and the solve on it.

Camera frame throughout (OpenCV: x right, y down, z forward; metres). The up
prior comes from the bodies (:func:`up_prior`) or the scene's lines
(:func:`scene_up`); contacts are feet low and still (:func:`first_contacts`
before the ground is known, :func:`final_contacts` after);
:func:`ground_plane` fits the plane through them and :func:`solve_on_ground`
solves each person's translation with contact feet on it, not sliding, a person
standing in place (:func:`standing_in_place`) keeping their depth.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vibe.geometry.contacts import centred_share, centred_speed, drop_short_runs, foot_contacts, long_runs
from vibe.geometry.ground import GroundPlane, fit_ground_plane
from vibe.geometry.trajectory import FootAnchors
from vibe.pipeline.scene_lines import scene_gravity
from vibe.pipeline.smoothing import gaussian_vectors
from vibe.pipeline.world_config import WorldConfig
from vibe.pipeline.world_tracks import TrackInputs, solve_track

__all__ = ["up_prior", "first_contacts", "final_contacts", "ground_plane", "scene_up", "standing_in_place",
           "solve_on_ground"]


def up_prior(tracks: list[TrackInputs], config: WorldConfig) -> np.ndarray:
    """``(3,)`` the bodies' mean vertical (feet → shoulders) over their upright frames, camera frame.

    Each estimate of the vertical (the network's body; MediaPipe's world landmarks
    when given) is averaged over every person's upright frames, and the
    estimates are averaged with equal weights: their errors in the camera's
    pitch (a lean towards or away from the camera is what one view shows least)
    come from different models.
    """
    estimates = []
    for e in range(min(len(tr.verticals) for tr in tracks)):
        total = np.zeros(3)
        for tr in tracks:
            total += np.nansum(tr.verticals[e][tr.upright], axis=0)
        if np.linalg.norm(total) > 1e-9:
            estimates.append(total / np.linalg.norm(total))
    if not estimates:
        return np.array([0.0, -1.0, 0.0])  # camera y points down: up is -y for a level camera
    mean = np.mean(estimates, axis=0)
    return mean / np.linalg.norm(mean)


def first_contacts(
    track: TrackInputs, transl: np.ndarray, up: np.ndarray, focal: float, size, config: WorldConfig
) -> np.ndarray:
    """``(n, 2)`` contacts before the ground is known: the foot near the lowest foot, still in the image."""
    heights = track.feet @ up
    heights = heights - heights.min(axis=1, keepdims=True)
    feet_cam = track.feet + transl[:, None]
    principal = np.array([size[0] / 2.0, size[1] / 2.0])
    pixels = feet_cam[..., :2] / np.maximum(feet_cam[..., 2:], 1e-3) * focal + principal
    pixels = gaussian_vectors(pixels, config.speed_sigma_frames)
    speed = centred_speed(pixels, track.times) / track.box_side
    return foot_contacts(heights, speed, config.contact_height_m, config.contact_speed_box_s, config.contact_min_frames)


def final_contacts(track: TrackInputs, transl: np.ndarray, plane: GroundPlane, config: WorldConfig) -> np.ndarray:
    """``(n, 2)`` contacts: the foot low above the ground and still (horizontal speed, metres)."""
    feet_cam = track.feet + transl[:, None]
    heights = plane.height(feet_cam)
    horizontal = feet_cam - heights[..., None] * plane.normal_cam
    speed = centred_speed(gaussian_vectors(horizontal, config.speed_sigma_frames), track.times)
    return foot_contacts(heights, speed, config.contact_height_m, config.contact_speed_m_s, config.contact_min_frames)


def ground_plane(tracks: Mapping[int, TrackInputs], transl: Mapping[int, np.ndarray],
                 contacts: Mapping[int, np.ndarray], up: np.ndarray, config: WorldConfig, prior_spread_m: float,
                 stiffness: np.ndarray | None = None) -> GroundPlane:  # fmt: skip
    """The ground plane through every person's contact points (camera frame), or their lowest feet if none."""
    points = [(tracks[t].feet + transl[t][:, None])[contacts[t]] for t in tracks]
    if not sum(len(p) for p in points):  # nobody ever stands still: the lowest tenth of the feet
        points = [(tracks[t].feet + transl[t][:, None]).reshape(-1, 3) for t in tracks]
        points = [p[np.argsort(p @ up)[: max(1, len(p) // 10)]] for p in points]
    return fit_ground_plane(np.concatenate(points), up, prior_spread_m, config.contact_height_m,
                            stiffness=stiffness, below_weight=config.below_weight)  # fmt: skip


def scene_up(segments_px: np.ndarray | None, focal: float, size: tuple[int, int], bodies_up: np.ndarray,
              config: WorldConfig) -> tuple[np.ndarray, float, np.ndarray | None, dict]:  # fmt: skip
    """The up prior and its strength: the scene lines' (:func:`scene_gravity`) when usable, else the bodies'.

    Returns ``(up (3,), prior_spread_m, stiffness (3, 3) or None, meta.json entry)``: with the
    lines, the prior holds each tilt as firmly as the lines do (``SceneUp.stiffness``).
    """
    if config.scene_lines is None or segments_px is None:
        return bodies_up, config.prior_spread_m, None, {"used": False, "reason": "off"}
    found, reason = scene_gravity(segments_px, focal, size, bodies_up, config.scene_lines)
    meta = {"used": found is not None, "reason": reason, "segments": int(len(segments_px))}
    if found is None:
        return bodies_up, config.prior_spread_m, None, meta
    meta.update(families=len(found.families), length_px=found.length_px, angle_to_bodies_deg=found.angle_to_prior_deg)
    return found.up_cam, config.scene_lines.prior_spread_m, found.stiffness, meta


def _horizontal_axes(normal: np.ndarray) -> np.ndarray:
    """``(2, 3)`` two unit axes orthogonal to ``normal`` and to each other."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    a = np.cross(normal, helper)
    a /= np.linalg.norm(a)
    return np.stack([a, np.cross(normal, a)])


def standing_in_place(track: TrackInputs, contacts: np.ndarray, config: WorldConfig) -> np.ndarray:
    """``(n,)`` bool: a person standing in place, in runs of at least ``config.standing_min_s``.

    Standing: a foot on the ground in most frames around (``config.standing_down_share``
    of a centred window of ``standing_min_s``), the lowest foot in the image (the one
    standing, whichever it is: the other may be raised) or the midpoint of both feet
    (whichever is which: regressed legs may swap left and right) still
    (``config.contact_speed_box_s``), and the box's size steady
    (``config.standing_scale_rate_s``: walking towards or away from the camera barely
    moves the feet in the image, but grows or shrinks the box; arms raised and lowered
    change it too, so a person waving while standing may not count).
    """
    feet_px = np.stack([track.pixels[:, idx].mean(axis=1) for idx in track.foot_index], axis=1)  # (n, 2, 2)
    seen = np.isfinite(track.sigma[:, np.concatenate(track.foot_index)]).all(axis=1)
    lowest = feet_px[np.arange(len(feet_px)), np.argmax(np.nan_to_num(feet_px[..., 1], nan=-np.inf), axis=1)]
    still_feet = np.zeros(len(feet_px), bool)
    for point in (lowest, feet_px.mean(axis=1)):  # the standing foot; both feet (a stance whose legs swap)
        speed = centred_speed(gaussian_vectors(point, config.speed_sigma_frames), track.times) / track.box_side
        still_feet |= speed <= config.contact_speed_box_s
    log_side = np.log(np.maximum(track.sides, 1e-6))[:, None]
    steady = centred_speed(gaussian_vectors(log_side, config.speed_sigma_frames), track.times)
    steady = steady <= config.standing_scale_rate_s
    down = centred_share(contacts.any(axis=1), track.times, config.standing_min_s)
    still = seen & still_feet & steady & (down >= config.standing_down_share)
    bridged = ~drop_short_runs(~still[:, None], 3)[:, 0]  # gaps of one or two frames (a landmark's glitch)
    return long_runs(bridged, track.times, config.standing_min_s)


def _along_sight(normal: np.ndarray) -> np.ndarray:
    """``(B, 3)``: the ground's unit axis along the camera's heading (B = 1; 0 when looking straight down).

    Across it, the image itself places a body to a pixel; along it, depth comes
    from the body's size and legs, whose errors a standing person should not follow.
    """
    along = np.array([0.0, 0.0, 1.0]) - normal[2] * normal
    if np.linalg.norm(along) < 1e-6:
        return np.zeros((0, 3))
    return (along / np.linalg.norm(along))[None]


def solve_on_ground(
    track: TrackInputs,
    focal: float,
    size: tuple[int, int],
    contacts: np.ndarray,
    plane: GroundPlane,
    config: WorldConfig,
) -> np.ndarray:
    """``(n, 3)`` translations with contact feet on ``plane``, not sliding, and no foot under it.

    Nobody stands below the floor: a frame's lowest foot that sank more than
    ``config.sink_tolerance_m`` under the plane (a body seen in part, e.g. entering
    the image, whose size gives a poor depth) is held on the plane in that frame,
    and the track is solved again (a few rounds: the set of held feet only grows).
    """
    axes = _horizontal_axes(plane.normal_cam)
    support = np.zeros_like(contacts)
    standing = None if config.standing_min_s is None else standing_in_place(track, contacts, config)
    centre = track.centre if config.standing_centre else None
    for _ in range(config.support_rounds + 1):
        feet = FootAnchors(track.feet, contacts, (plane.normal_cam, plane.offset_m), axes, support, standing,
                           _along_sight(plane.normal_cam), centre)  # fmt: skip
        transl = solve_track(track, focal, size, feet, config)
        heights = plane.height(track.feet + transl[:, None])
        lowest = heights == heights.min(axis=1, keepdims=True)  # the foot a body sinking would stand on
        sunk = lowest & (heights < -config.sink_tolerance_m) & ~support
        if not sunk.any():
            break
        support |= sunk
    return transl

