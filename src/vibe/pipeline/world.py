"""The world stage: every person of a static-camera video in one metric, gravity-aligned frame.

Per video, after the bodies (:func:`world_stage`)::

    focal (metadata, else the prior)                        estimate_focal
    per person: the body turned from its box's line of
      sight to the camera's (it was regressed from a crop)  ray_rotation
    per person: translation from body size, image only      solve_translations (no feet)
    the bodies' vertical while they stand upright           → up prior (camera frame)
    first contacts: low foot, still in the image            foot_contacts
    ground plane from every person's contacts               fit_ground_plane (RANSAC + prior)
    per person: translation with feet on the plane,
      not sliding, smoothed (offline, centred)              solve_translations (feet)
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
import torch

from vibe.geometry.cameras import ray_rotation
from vibe.geometry.contacts import centred_speed, foot_contacts
from vibe.geometry.ground import GroundPlane, fit_ground_plane, world_from_ground
from vibe.geometry.trajectory import FootAnchors, TrajectoryWeights, solve_translations
from vibe.pipeline.smoothing import gaussian_vectors

__all__ = ["FocalEstimate", "WorldConfig", "WorldResult", "estimate_focal", "focal_from_metadata", "world_stage"]

log = logging.getLogger(__name__)

_FULL_FRAME_DIAGONAL_MM = 43.27  # of a 36 × 24 mm frame: the reference of "35 mm equivalent" focal lengths


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
        sink_tolerance_m: a foot further than this under the ground is held on it
            (:func:`_solve_on_ground`); support_rounds: how many times the solve is repeated for that.
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
    weights: TrajectoryWeights = field(default_factory=TrajectoryWeights)


@dataclass(frozen=True)
class FocalEstimate:
    """The focal length used, where it came from and the relative error it implies.

    Attributes:
        focal_px: pixels.
        source: ``"metadata"`` (35 mm equivalent in the file), ``"option"`` (given) or ``"prior"``.
        rel_error: ``(low, high)`` relative error of depths and of distances
            along the line of sight that the focal's uncertainty implies
            (``(0, 0)`` when known); distances across the image are unaffected.
    """

    focal_px: float
    source: str
    rel_error: tuple[float, float]


def _focal_for_fov(long_side_px: float, fov_deg: float) -> float:
    return long_side_px / 2.0 / np.tan(np.radians(fov_deg) / 2.0)


def focal_from_metadata(tags: Mapping[str, str], width: int, height: int) -> float | None:
    """Focal length in pixels from a 35 mm equivalent focal length among container tags, else None.

    Any tag whose name holds both ``focal`` and ``35`` counts (e.g. QuickTime's
    ``com.apple.quicktime.camera.focal_length.35mm_equivalent``); a 35 mm
    equivalent ``F`` spans the image diagonal as ``F`` spans 43.27 mm.
    """
    for key, value in tags.items():
        name = key.lower()
        if "focal" in name and "35" in name:
            try:
                f35 = float(str(value).split()[0])
            except (ValueError, IndexError):
                continue
            if f35 > 0:
                return f35 / _FULL_FRAME_DIAGONAL_MM * float(np.hypot(width, height))
    return None


def read_container_tags(path: Path) -> dict[str, str]:
    """The container's and its video stream's metadata tags (empty when unreadable)."""
    import av

    try:
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
            if container.streams.video:
                tags.update(container.streams.video[0].metadata)
            return tags
    except (OSError, ValueError, av.FFmpegError):
        return {}


def estimate_focal(
    tags: Mapping[str, str], width: int, height: int, config: WorldConfig, given: float | None = None
) -> FocalEstimate:
    """The focal of a video: ``given``, else the file's metadata, else the prior (with its implied error)."""
    if given:
        return FocalEstimate(float(given), "option", (0.0, 0.0))
    from_tags = focal_from_metadata(tags, width, height)
    if from_tags:
        return FocalEstimate(from_tags, "metadata", (0.0, 0.0))
    long_side = float(max(width, height))
    prior = _focal_for_fov(long_side, config.prior_fov_deg)
    wide, narrow = (_focal_for_fov(long_side, fov) for fov in sorted(config.fov_range_deg, reverse=True))
    # Depth ∝ focal: the true focal over the prior is the depth scale error.
    return FocalEstimate(prior, "prior", (wide / prior - 1.0, narrow / prior - 1.0))


@dataclass
class WorldResult:
    """What the stage found: global arrays for ``results.npz`` and the ``meta.json`` entry."""

    arrays: dict[str, np.ndarray]
    meta: dict


# --------------------------------------------------------------------------- per-track inputs
def foot_keypoints(names: list[str]) -> list[list[int]]:
    """Indices of each foot's contact keypoints (left, right): heel and toe, else the ankle.

    Raises:
        ValueError: the set has neither heels/toes nor ankles.
    """
    out = []
    for side in ("left", "right"):
        found = [names.index(n) for n in (f"{side}_heel", f"{side}_foot_index", f"{side}_big_toe") if n in names]
        if not found and f"{side}_ankle" in names:
            found = [names.index(f"{side}_ankle")]
        if not found:
            raise ValueError(f"keypoint set has no {side} heel, toe or ankle")
        out.append(found)
    return out


@dataclass
class _Track:
    """One person's inputs to the solve (camera frame; ``n`` frames, ``K`` keypoints)."""

    times: np.ndarray  # (n,)
    points: np.ndarray  # (n, K, 3) posed keypoints, no translation
    pixels: np.ndarray  # (n, K, 2)
    sigma: np.ndarray  # (n, K) pixels, inf: unused
    feet: np.ndarray  # (n, 2, 3) contact point per foot, body frame
    verticals: np.ndarray  # (E, n, 3) feet → shoulders, unit, camera axes, one per estimate (nan: unknown)
    upright: np.ndarray  # (n,) bool: feet-to-shoulder length (the network's body) near the person's longest
    guess: np.ndarray  # (n, 3)
    box_side: float
    turn: np.ndarray  # (n, 3, 3) the body's re-orientation (applied to points, feet and shoulders)


def _track_inputs(
    p: Mapping[str, np.ndarray],
    names: list[str],
    times: np.ndarray,
    focal: FocalEstimate,
    nominal_focal: float,
    size: tuple[int, int],
    root: np.ndarray,
    config: WorldConfig,
) -> _Track:
    """Gather a person's arrays; detected landmarks when the keypoint set is BlazePose's, else the reprojection.

    With ``config.ray_correction`` the body (turned about its root joint ``root (3,)``) is
    re-oriented from its box's line of sight to the camera's (:func:`ray_rotation`).
    """
    points = np.asarray(p["joints3d"], np.float64)
    side = np.asarray(p["bbox_cxcys"], np.float64)[:, 2]
    turn = _ray_turn(p, focal.focal_px, size, config)
    points = np.einsum("nij,nkj->nki", turn, points - root) + root
    landmarks = p.get("landmarks_img")
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
    vertical, length = _vertical(points, names)
    verticals = [vertical]
    if config.landmark_vertical and p.get("landmarks_world") is not None and len(names) == 33:
        mediapipe = np.einsum("nij,nkj->nki", turn, np.asarray(p["landmarks_world"], np.float64))
        verticals.append(_vertical(mediapipe, names)[0])
    upright = length >= config.upright_ratio * np.percentile(length, 95)
    frame_times = np.asarray(times, np.float64)[np.asarray(p["frame_ids"])]
    return _Track(frame_times, points, pixels, sigma, feet, np.stack(verticals), upright, guess,
                  float(np.median(side)), turn)  # fmt: skip


def _vertical(points: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Feet → mid-shoulder of keypoints ``(n, K, 3)`` (BlazePose names): unit axis ``(n, 3)`` (nan where
    undefined, e.g. landmarks not found) and length ``(n,)``."""
    feet = np.stack([points[:, idx].mean(axis=1) for idx in foot_keypoints(names)], axis=1).mean(axis=1)
    axis = points[:, [names.index("left_shoulder"), names.index("right_shoulder")]].mean(axis=1) - feet
    length = np.nan_to_num(np.linalg.norm(axis, axis=-1))
    return np.where(length[:, None] > 1e-6, axis / np.maximum(length, 1e-6)[:, None], np.nan), length


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
    return solve_translations(track.points, track.pixels, track.sigma, focal, principal, track.times, track.guess,
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
            up: np.ndarray, config: WorldConfig) -> GroundPlane:  # fmt: skip
    """The ground plane through every person's contact points (camera frame), or their lowest feet if none."""
    points = [(tracks[t].feet + transl[t][:, None])[contacts[t]] for t in tracks]
    if not sum(len(p) for p in points):  # nobody ever stands still: the lowest tenth of the feet
        points = [(tracks[t].feet + transl[t][:, None]).reshape(-1, 3) for t in tracks]
        points = [p[np.argsort(p @ up)[: max(1, len(p) // 10)]] for p in points]
    return fit_ground_plane(np.concatenate(points), up, config.prior_spread_m, config.contact_height_m)


def _horizontal_axes(normal: np.ndarray) -> np.ndarray:
    """``(2, 3)`` two unit axes orthogonal to ``normal`` and to each other."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    a = np.cross(normal, helper)
    a /= np.linalg.norm(a)
    return np.stack([a, np.cross(normal, a)])


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
    for _ in range(config.support_rounds + 1):
        feet = FootAnchors(track.feet, contacts, (plane.normal_cam, plane.offset_m), axes, support)
        transl = _solve(track, focal, size, feet, config)
        heights = plane.height(track.feet + transl[:, None])
        lowest = heights == heights.min(axis=1, keepdims=True)  # the foot a body sinking would stand on
        sunk = lowest & (heights < -config.sink_tolerance_m) & ~support
        if not sunk.any():
            break
        support |= sunk
    return transl


@torch.no_grad()
def _rest_heights(
    body, shapes: list[np.ndarray], names: list[str], keypoint_set: str
) -> tuple[list[np.ndarray], float]:
    """Each person's rest root joint ``(3,)`` (mean shape); the feet's contact points' mean height above the soles.

    The contact points (heel, toe) are on the skin, a little above the sole:
    the world's ground is put that much below the plane through them.
    """
    roots, above_sole = [], []
    idx = foot_keypoints(names)
    for shape in shapes:
        s = torch.as_tensor(shape, dtype=body.dtype, device=body.device).reshape(1, -1)
        out = body(body.rest_pose(1), s)
        kp = body.keypoints(out, keypoint_set)[0].double().cpu().numpy()
        lowest = float(out.vertices[0, :, 1].min())
        above_sole.append(np.mean([kp[i].mean(axis=0)[1] - lowest for i in idx]))
        roots.append(out.joints[0, 0].double().cpu().numpy())
    return roots, float(np.mean(above_sole))


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
) -> WorldResult:
    """Put every person in one world frame (module doc); adds the world arrays to each ``people[tid]``.

    Args:
        people: track id → the ``results.npz`` arrays (``frame_ids``, ``bbox_cxcys``,
            ``pose_rotmat``, ``shape``, ``transl_cam``, ``joints3d``, ``joints2d_img``,
            optional ``landmarks_img``); updated in place.
        body: the body model; keypoint_set: the set ``joints3d`` holds.
        image_size: ``(W, H)``; frame_times_s: ``(N,)`` the video's frame times.
        focal: the focal to use; nominal_focal_px: the one ``transl_cam`` was computed with.

    Returns:
        The global arrays and the ``meta.json`` entry.
    """
    config = config or WorldConfig()
    names = body.keypoint_sets[keypoint_set]
    tids = sorted(people, key=lambda t: (int(people[t]["frame_ids"][0]), t))  # the first person seen first
    roots, above_sole = _rest_heights(body, [np.asarray(people[t]["shape"]).mean(0) for t in tids], names, keypoint_set)
    tracks = {t: _track_inputs(people[t], names, frame_times_s, focal, nominal_focal_px, image_size, root, config)
              for t, root in zip(tids, roots)}  # fmt: skip
    f = focal.focal_px
    transl = {t: _solve(tracks[t], f, image_size, None, config) for t in tids}
    up = _up_prior(list(tracks.values()), config)
    contacts = {t: _first_contacts(tracks[t], transl[t], up, f, image_size, config) for t in tids}
    plane = _ground(tracks, transl, contacts, up, config)
    for t in tids:
        transl[t] = _solve_on_ground(tracks[t], f, image_size, contacts[t], plane, config)
        contacts[t] = _final_contacts(tracks[t], transl[t], plane, config)
        transl[t] = _solve_on_ground(tracks[t], f, image_size, contacts[t], plane, config)
    ground = dataclasses.replace(plane, offset_m=plane.offset_m + above_sole)
    first_root_cam = roots[0] + transl[tids[0]][0]
    r_world_cam, cam_position = world_from_ground(ground, first_root_cam)
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
    return WorldResult(arrays, _meta(focal, plane, ground, up, above_sole, contacts))


def _meta(focal: FocalEstimate, plane: GroundPlane, ground: GroundPlane, up: np.ndarray, above_sole: float,
          contacts: Mapping[int, np.ndarray]) -> dict:  # fmt: skip
    """``meta.json["world"]``: focal source and implied error, the ground fit, the camera's height and pitch."""
    pitch = float(np.degrees(np.arcsin(np.clip(-ground.normal_cam[2], -1, 1))))  # > 0: looking down
    roll = float(np.degrees(np.arctan2(ground.normal_cam[0], -ground.normal_cam[1])))
    return {
        "frame": "y up, metres, ground (foot soles) at y = 0, z towards the camera, origin under the first "
                 "person's first root position",
        "focal_px": focal.focal_px, "focal_source": focal.source,
        "focal_rel_error": list(focal.rel_error),
        "focal_note": "depths and distances along the line of sight scale with the focal's error; "
                      "distances across the image do not",
        "ground": {"contact_points": plane.n_points, "inliers": plane.n_inliers, "rms_m": plane.rms_m,
                   "prior_share": plane.prior_share,
                   "angle_to_body_up_deg": float(np.degrees(np.arccos(np.clip(plane.normal_cam @ up, -1, 1)))),
                   "contact_points_above_sole_m": above_sole},
        "camera": {"height_m": ground.offset_m, "pitch_down_deg": pitch, "roll_deg": roll},
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
) -> tuple[dict[str, np.ndarray], dict]:
    """The demo's call: the focal (the demo's ``nominal_focal_px`` option, the file's tags, the prior),
    then :func:`world_stage`. Returns the global arrays and ``meta.json["world"]``."""
    w, h = image_size
    focal = estimate_focal(read_container_tags(video), w, h, config, given=nominal_focal_px)
    result = world_stage(people, body, keypoint_set, image_size, frame_times_s, focal,
                         nominal_focal_px or float(max(w, h)), config)  # fmt: skip
    log.info("world: focal %.0f px (%s), camera %.2f m above the ground, pitched %.1f° down", focal.focal_px,
             focal.source, result.meta["camera"]["height_m"], result.meta["camera"]["pitch_down_deg"])  # fmt: skip
    return result.arrays, result.meta
