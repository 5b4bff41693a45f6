"""The world stage: every person of a static-camera video in one metric, gravity-aligned frame.

Per video, after the bodies (:func:`world_stage`)::

    focal (metadata, else the prior)                        estimate_focal
    per person: the body turned from its box's line of
      sight to the camera's (it was regressed from a crop)  ray_rotation
    per person: translation from body size, image only
      (landmarks matched with the body's points where
      BlazePose puts them, blazepose33_detector)            solve_translations (no feet)
    the bodies' vertical while they stand upright, from
      the network's body and MediaPipe's world landmarks    → up prior (camera frame)
    the scene's lines (static background, people masked):
      gravity from their vanishing points when they fix
      both tilts near the bodies' vertical                  → the up prior instead (scene_lines)
    each foot's contact point: its lowest sole point
      (heel or toe, whichever is lower along up)            sole_points
    first contacts: low foot, still in the image            foot_contacts
    ground plane from every person's contacts, few
      of them under it                                      fit_ground_plane (RANSAC + prior)
    contact points for the solve: the soles under the
      feet's keypoints (steady from frame to frame)         sole_points
    per person: translation with feet on the plane,
      not sliding, smoothed (offline, centred); a person
      standing in place keeps the depth of their centre
      of mass; no foot under the ground (re-solved)         _solve_on_ground
    final contacts: low above the ground, still in metres   → foot_contact (n, 2)
    the same solve with the final contacts
    world frame: y up, ground y = 0 (the soles), z towards the camera, origin under
      the first person's first root position                world_from_ground

Frames: camera = OpenCV (x right, y down, z forward), metres; world = y up,
metres, the ground (foot soles) at y = 0 (DESIGN §7). A person's camera-frame
points are ``Q (joints3d − r) + r + t`` (``joints3d`` posed with the root in
camera axes, no translation; ``Q`` the line-of-sight turn about the root joint
``r``) and their world points ``R_world_cam (that − o)``, ``o`` the origin.

Arrays added per person (``results.npz`` ``track<id>/``): ``transl_world (n, 3)``
root joint position, ``root_rotmat_world (n, 3, 3)``, ``joints3d_world (n, K, 3)``,
``foot_contact (n, 2)`` bool (left, right); globally ``world/R_world_cam (3, 3)``,
``world/cam_position (3,)``, ``world/focal_px ()``. ``meta.json["world"]`` says
where the focal came from, the error it implies, and how well the ground fitted.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vibe.geometry.cameras import ray_rotation
from vibe.geometry.contacts import centred_share, centred_speed, drop_short_runs, foot_contacts, long_runs
from vibe.geometry.ground import GroundPlane, fit_ground_plane, world_from_ground
from vibe.geometry.trajectory import FootAnchors, TrajectoryWeights, solve_translations
from vibe.pipeline.body_axes import (centre_of_mass, foot_keypoints, posed_keypoints, rest_feet, sole_points,
                                     standing_vertical)
from vibe.pipeline.focal import FocalEstimate, estimate_focal, focal_from_metadata, read_container_tags
from vibe.pipeline.scene_lines import SceneLinesConfig, scene_gravity, video_segments
from vibe.pipeline.smoothing import gaussian_vectors

# The focal's names are re-exported (they were defined here first).
__all__ = [
    "FocalEstimate",
    "WorldConfig",
    "WorldResult",
    "estimate_focal",
    "focal_from_metadata",
    "world_stage",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorldConfig:
    """Options of the world stage.

    Attributes:
        prior_fov_deg: field of view across the long image side assumed without
            metadata (53.13°: focal = the long side, the demo's nominal camera).
        fov_range_deg: the range of real cameras' long-side fields of view
            (phones, webcams, action cameras without fisheye) behind the prior's error.
        pixel_sigma_box: a landmark's standard deviation, × its box side.
        min_visibility: landmarks below this visibility are not used.
        contact_height_m: a foot higher than this (above the ground, or above the
            lowest foot before the ground is known) is not in contact.
        contact_speed_box_s: first contacts: foot speed in the image, box sides per second.
        contact_speed_m_s: final contacts: horizontal foot speed, metres per second.
        contact_min_frames: shortest contact kept.
        speed_sigma_frames: centred Gaussian on positions before speeds.
        prior_spread_m: the up prior's worth in metres of contact-point spread
            (:mod:`vibe.geometry.ground`).
        upright_ratio: frames whose foot-to-shoulder height is at least this
            share of the person's tallest give the up prior.
        ray_correction: turn each body from its box's line of sight to the
            camera's (the regressor sees only the crop, so it orients the body
            relative to the crop's axis; a person off the image centre is seen
            at an angle).
        landmark_vertical: also take the body's vertical from MediaPipe's world
            landmarks (``landmarks_world``) when a person has them (:func:`_up_prior`).
        standing_min_s: a person whose standing foot (the lowest in the image) stays still this
            long, a foot on the ground in ``standing_down_share`` of the frames, its box's size
            steady (``standing_scale_rate_s``, relative change per second), is standing: the
            body's centre of mass (``standing_centre``; else the root) keeps its depth
            (:func:`_standing`, ``weights.standing_speed_m_s``); None: never.
        sink_tolerance_m: a foot further than this under the ground is held on it
            (:func:`_solve_on_ground`); support_rounds: how many times the solve is repeated for that.
        scene_lines: gravity from the static background's straight lines when they fix it
            (:mod:`vibe.pipeline.scene_lines`); None: from the bodies alone.
        lowest_sole: the ground is fitted through each contact foot's lowest sole point, the
            heel's or the toe's (:func:`sole_points`); False: the sole under the mean of its
            keypoints, which a rolling foot lifts by centimetres (the ground too high, the camera
            as much too low). The trajectory solve always holds the latter on the ground (steady).
        image_keypoint_set: the body's keypoint set the detected landmarks are matched with in the
            translation's image terms when the people's keypoints are BlazePose's and the body has it
            (``blazepose33_detector``: where BlazePose puts its landmarks on a body, as the demo's fit
            and camera use, :mod:`vibe.body.keypoint_offsets`); None: the people's ``joints3d``.
        below_weight: the ground fit counts each contact point further under a candidate
            plane than ``contact_height_m`` against it (:func:`fit_ground_plane`): nobody
            stands under the floor, while feet labelled still in the air (a hop's top) lie above it.
        weights: the trajectory solve's term standard deviations.
    """

    prior_fov_deg: float = 53.13
    fov_range_deg: tuple[float, float] = (40.0, 75.0)
    pixel_sigma_box: float = 0.015
    min_visibility: float = 0.5
    contact_height_m: float = 0.06
    contact_speed_box_s: float = 0.15
    contact_speed_m_s: float = 0.3
    contact_min_frames: int = 3
    speed_sigma_frames: float = 2.0
    prior_spread_m: float = 0.35
    upright_ratio: float = 0.92
    ray_correction: bool = True
    landmark_vertical: bool = True
    sink_tolerance_m: float = 0.03
    support_rounds: int = 4
    standing_min_s: float | None = 0.5
    standing_down_share: float = 0.5
    standing_scale_rate_s: float = 0.1
    standing_centre: bool = True
    scene_lines: SceneLinesConfig | None = field(default_factory=SceneLinesConfig)
    lowest_sole: bool = True
    below_weight: float = 1.0
    image_keypoint_set: str | None = "blazepose33_detector"
    weights: TrajectoryWeights = field(default_factory=TrajectoryWeights)


@dataclass
class WorldResult:
    """What the stage found: global arrays for ``results.npz`` and the ``meta.json`` entry."""

    arrays: dict[str, np.ndarray]
    meta: dict


# --------------------------------------------------------------------------- per-track inputs
@dataclass
class _Track:
    """One person's inputs to the solve (camera frame; ``n`` frames, ``K`` keypoints)."""

    times: np.ndarray  # (n,)
    points: np.ndarray  # (n, K, 3) posed keypoints, no translation
    pixels: np.ndarray  # (n, K, 2)
    sigma: np.ndarray  # (n, K) pixels, inf: unused
    feet: np.ndarray  # (n, 2, 3) contact point per foot, body frame (on the sole once the up is known: _on_soles)
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


def _track_inputs(
    p: Mapping[str, np.ndarray],
    names: list[str],
    times: np.ndarray,
    focal: FocalEstimate,
    nominal_focal: float,
    size: tuple[int, int],
    rest: tuple[np.ndarray, list[np.ndarray]],
    config: WorldConfig,
    image_points: np.ndarray | None = None,
) -> _Track:
    """Gather a person's arrays; detected landmarks when the keypoint set is BlazePose's, else the reprojection.

    ``rest``: the rest root joint ``(3,)`` and the foot keypoints' heights above the sole (:func:`rest_feet`).
    ``image_points``: ``(n, K, 3)`` the posed points the landmarks are matched with (:func:`_image_points`), or None.
    With ``config.ray_correction`` the body (turned about its root joint) is
    re-oriented from its box's line of sight to the camera's (:func:`ray_rotation`).
    """
    root, above_sole = rest
    points = np.asarray(p["joints3d"], np.float64)
    side = np.asarray(p["bbox_cxcys"], np.float64)[:, 2]
    turn = _ray_turn(p, focal.focal_px, size, config)
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
    return _Track(frame_times, points, pixels, sigma, feet, np.stack(verticals), upright, guess,
                  float(np.median(side)), turn, foot_keypoints(names), centre_of_mass(points, names),
                  side, above_sole, image_points)  # fmt: skip


def _image_points(p: Mapping[str, np.ndarray], body, keypoint_set: str, config: WorldConfig) -> np.ndarray | None:
    """``(n, K, 3)`` the person's posed points of ``config.image_keypoint_set`` (body frame, as ``joints3d``) when
    the landmarks are BlazePose's, the people's set is BlazePose's and the body has that set; else None."""
    wanted = config.image_keypoint_set
    landmarks = p.get("landmarks_img")
    if wanted is None or wanted == keypoint_set or wanted not in body.keypoint_sets or landmarks is None:
        return None
    if keypoint_set != "blazepose33" or len(body.keypoint_sets[wanted]) != landmarks.shape[1]:
        return None
    return posed_keypoints(body, p["pose_rotmat"], p["shape"], wanted)


def _on_soles(track: _Track, up: np.ndarray, lowest: bool) -> _Track:
    """The track with each foot's contact point on its sole beneath ``up`` ``(3,)`` (:func:`sole_points`)."""
    return dataclasses.replace(track, feet=sole_points(track.points, track.foot_index, track.above_sole, up, lowest))


def _ray_turn(p: Mapping[str, np.ndarray], focal: float, size: tuple[int, int], config: WorldConfig) -> np.ndarray:
    """``(n, 3, 3)`` per frame: the box centre's line of sight (identity without ``config.ray_correction``)."""
    box = np.asarray(p["bbox_cxcys"], np.float64)
    if not config.ray_correction:
        return np.tile(np.eye(3), (len(box), 1, 1))
    return ray_rotation(box[:, :2], focal, np.array([size[0] / 2.0, size[1] / 2.0]))


def _solve(
    track: _Track, focal: float, size: tuple[int, int], feet: FootAnchors | None, config: WorldConfig
) -> np.ndarray:
    """``(n, 3)`` camera-frame translations of a track."""
    principal = np.array([size[0] / 2.0, size[1] / 2.0])
    points = track.points if track.image_points is None else track.image_points
    return solve_translations(points, track.pixels, track.sigma, focal, principal, track.times, track.guess,
                              feet, config.weights)  # fmt: skip


# --------------------------------------------------------------------------- up, contacts, ground
def _up_prior(tracks: list[_Track], config: WorldConfig) -> np.ndarray:
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


def _first_contacts(
    track: _Track, transl: np.ndarray, up: np.ndarray, focal: float, size, config: WorldConfig
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


def _final_contacts(track: _Track, transl: np.ndarray, plane: GroundPlane, config: WorldConfig) -> np.ndarray:
    """``(n, 2)`` contacts: the foot low above the ground and still (horizontal speed, metres)."""
    feet_cam = track.feet + transl[:, None]
    heights = plane.height(feet_cam)
    horizontal = feet_cam - heights[..., None] * plane.normal_cam
    speed = centred_speed(gaussian_vectors(horizontal, config.speed_sigma_frames), track.times)
    return foot_contacts(heights, speed, config.contact_height_m, config.contact_speed_m_s, config.contact_min_frames)


def _ground(tracks: Mapping[int, _Track], transl: Mapping[int, np.ndarray], contacts: Mapping[int, np.ndarray],
            up: np.ndarray, config: WorldConfig, prior_spread_m: float,
            stiffness: np.ndarray | None = None) -> GroundPlane:  # fmt: skip
    """The ground plane through every person's contact points (camera frame), or their lowest feet if none."""
    points = [(tracks[t].feet + transl[t][:, None])[contacts[t]] for t in tracks]
    if not sum(len(p) for p in points):  # nobody ever stands still: the lowest tenth of the feet
        points = [(tracks[t].feet + transl[t][:, None]).reshape(-1, 3) for t in tracks]
        points = [p[np.argsort(p @ up)[: max(1, len(p) // 10)]] for p in points]
    return fit_ground_plane(np.concatenate(points), up, prior_spread_m, config.contact_height_m,
                            stiffness=stiffness, below_weight=config.below_weight)  # fmt: skip


def _scene_up(segments_px: np.ndarray | None, focal: float, size: tuple[int, int], bodies_up: np.ndarray,
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


def _standing(track: _Track, contacts: np.ndarray, config: WorldConfig) -> np.ndarray:
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


def _solve_on_ground(
    track: _Track, focal: float, size: tuple[int, int], contacts: np.ndarray, plane: GroundPlane, config: WorldConfig
) -> np.ndarray:
    """``(n, 3)`` translations with contact feet on ``plane``, not sliding, and no foot under it.

    Nobody stands below the floor: a frame's lowest foot that sank more than
    ``config.sink_tolerance_m`` under the plane (a body seen in part, e.g. entering
    the image, whose size gives a poor depth) is held on the plane in that frame,
    and the track is solved again (a few rounds: the set of held feet only grows).
    """
    axes = _horizontal_axes(plane.normal_cam)
    support = np.zeros_like(contacts)
    standing = None if config.standing_min_s is None else _standing(track, contacts, config)
    centre = track.centre if config.standing_centre else None
    for _ in range(config.support_rounds + 1):
        feet = FootAnchors(track.feet, contacts, (plane.normal_cam, plane.offset_m), axes, support, standing,
                           _along_sight(plane.normal_cam), centre)  # fmt: skip
        transl = _solve(track, focal, size, feet, config)
        heights = plane.height(track.feet + transl[:, None])
        lowest = heights == heights.min(axis=1, keepdims=True)  # the foot a body sinking would stand on
        sunk = lowest & (heights < -config.sink_tolerance_m) & ~support
        if not sunk.any():
            break
        support |= sunk
    return transl


# --------------------------------------------------------------------------- the stage
def world_stage(
    people: Mapping[int, dict[str, np.ndarray]],
    body,
    keypoint_set: str,
    image_size: tuple[int, int],
    frame_times_s: np.ndarray,
    focal: FocalEstimate,
    nominal_focal_px: float,
    config: WorldConfig | None = None,
    segments_px: np.ndarray | None = None,
) -> WorldResult:
    """Put every person in one world frame (module doc); adds the world arrays to each ``people[tid]``.

    Args:
        people: track id → the ``results.npz`` arrays (``frame_ids``, ``bbox_cxcys``,
            ``pose_rotmat``, ``shape``, ``transl_cam``, ``joints3d``, ``joints2d_img``,
            optional ``landmarks_img``); updated in place.
        body: the body model; keypoint_set: the set ``joints3d`` holds.
        image_size: ``(W, H)``; frame_times_s: ``(N,)`` the video's frame times.
        focal: the focal to use; nominal_focal_px: the one ``transl_cam`` was computed with.
        segments_px: ``(N, 4)`` the background's line segments (:func:`video_segments`), or None.

    Returns:
        The global arrays and the ``meta.json`` entry.
    """
    config = config or WorldConfig()
    names = body.keypoint_sets[keypoint_set]
    tids = sorted(people, key=lambda t: (int(people[t]["frame_ids"][0]), t))  # the first person seen first
    rest = [rest_feet(body, np.asarray(people[t]["shape"]).mean(0), keypoint_set) for t in tids]
    roots = [root for root, _ in rest]
    tracks = {t: _track_inputs(people[t], names, frame_times_s, focal, nominal_focal_px, image_size, r, config,
                               _image_points(people[t], body, keypoint_set, config))
              for t, r in zip(tids, rest)}  # fmt: skip
    f = focal.focal_px
    transl = {t: _solve(tracks[t], f, image_size, None, config) for t in tids}
    up, spread, stiffness, scene = _scene_up(segments_px, f, image_size, _up_prior(list(tracks.values()), config),
                                             config)  # fmt: skip
    tracks = {t: _on_soles(tracks[t], up, config.lowest_sole) for t in tids}
    contacts = {t: _first_contacts(tracks[t], transl[t], up, f, image_size, config) for t in tids}
    plane = _ground(tracks, transl, contacts, up, config, spread, stiffness)  # through the soles: the ground
    tracks = {t: _on_soles(tracks[t], plane.normal_cam, lowest=False) for t in tids}
    for t in tids:
        transl[t] = _solve_on_ground(tracks[t], f, image_size, contacts[t], plane, config)
        contacts[t] = _final_contacts(tracks[t], transl[t], plane, config)
        transl[t] = _solve_on_ground(tracks[t], f, image_size, contacts[t], plane, config)
    first_root_cam = roots[0] + transl[tids[0]][0]
    r_world_cam, cam_position = world_from_ground(plane, first_root_cam)  # the plane is at the soles
    origin = -r_world_cam.T @ cam_position
    for t, root in zip(tids, roots):
        p = people[t]
        p["transl_world"] = ((root + transl[t] - origin) @ r_world_cam.T).astype(np.float32)
        root_cam = tracks[t].turn @ np.asarray(p["pose_rotmat"][:, 0], np.float64)
        p["root_rotmat_world"] = (r_world_cam @ root_cam).astype(np.float32)
        joints_cam = tracks[t].points + transl[t][:, None]
        p["joints3d_world"] = ((joints_cam - origin) @ r_world_cam.T).astype(np.float32)
        p["foot_contact"] = contacts[t]
    arrays = {"world/R_world_cam": r_world_cam, "world/cam_position": cam_position, "world/focal_px": np.float64(f)}
    meta = _meta(focal, plane, up, contacts)
    meta["scene_lines"] = scene
    return WorldResult(arrays, meta)


def _meta(focal: FocalEstimate, plane: GroundPlane, up: np.ndarray, contacts: Mapping[int, np.ndarray]) -> dict:
    """``meta.json["world"]``: focal source and implied error, the ground fit, the camera's height and pitch."""
    pitch = float(np.degrees(np.arcsin(np.clip(-plane.normal_cam[2], -1, 1))))  # > 0: looking down
    roll = float(np.degrees(np.arctan2(plane.normal_cam[0], -plane.normal_cam[1])))
    return {
        "frame": "y up, metres, ground (foot soles) at y = 0, z towards the camera, origin under the first "
                 "person's first root position",
        "focal_px": focal.focal_px, "focal_source": focal.source,
        "focal_rel_error": list(focal.rel_error),
        "focal_note": "depths and distances along the line of sight scale with the focal's error; "
                      "distances across the image do not",
        "ground": {"contact_points": plane.n_points, "inliers": plane.n_inliers, "rms_m": plane.rms_m,
                   "prior_share": plane.prior_share,
                   "angle_to_up_prior_deg": float(np.degrees(np.arccos(np.clip(plane.normal_cam @ up, -1, 1))))},
        "camera": {"height_m": plane.offset_m, "pitch_down_deg": pitch, "roll_deg": roll},
        "contact_share": {str(t): [float(v) for v in c.mean(axis=0)] for t, c in contacts.items()},
    }  # fmt: skip


def world_for_video(
    video: Path,
    people: Mapping[int, dict[str, np.ndarray]],
    body,
    keypoint_set: str,
    image_size: tuple[int, int],
    frame_times_s: np.ndarray,
    config: WorldConfig,
    nominal_focal_px: float | None,
    segments_px: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """The demo's call: the focal (the demo's ``nominal_focal_px`` option, the file's tags, the prior),
    then :func:`world_stage`. Returns the global arrays and ``meta.json["world"]``.

    ``segments_px``: the background's segments when already found
    (:func:`~vibe.pipeline.scene_lines.segments_in_background`).
    """
    w, h = image_size
    focal = estimate_focal(read_container_tags(video), w, h, config, given=nominal_focal_px)
    lines = config.scene_lines
    segments = segments_px
    if segments is None and lines is not None:
        segments = video_segments(video, people, frame_times_s, lines.frames, lines.refine)
    result = world_stage(people, body, keypoint_set, image_size, frame_times_s, focal,
                         nominal_focal_px or float(max(w, h)), config, segments)  # fmt: skip
    log.info("world: focal %.0f px (%s), camera %.2f m above the ground, pitched %.1f° down", focal.focal_px,
             focal.source, result.meta["camera"]["height_m"], result.meta["camera"]["pitch_down_deg"])  # fmt: skip
    return result.arrays, result.meta
