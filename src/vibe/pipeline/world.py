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
      of mass; no foot under the ground (re-solved)         solve_on_ground
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

The parts: the options (:mod:`vibe.pipeline.world_config`), each person's
inputs and image-only solve (:mod:`vibe.pipeline.world_tracks`), the up
direction, contacts, ground plane and the solve on it
(:mod:`vibe.pipeline.world_ground`); this module runs them in order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vibe.geometry.ground import GroundPlane, world_from_ground
from vibe.pipeline.body_axes import rest_feet
from vibe.pipeline.focal import FocalEstimate, estimate_focal, focal_from_metadata, read_container_tags
from vibe.pipeline.scene_lines import video_segments
from vibe.pipeline.world_config import WorldConfig
from vibe.pipeline.world_ground import (
    final_contacts,
    first_contacts,
    ground_plane,
    scene_up,
    solve_on_ground,
    up_prior,
)
from vibe.pipeline.world_tracks import image_keypoints, on_soles, solve_track, track_inputs

# The focal's and the config's names are re-exported (they were defined here first).
__all__ = [
    "FocalEstimate",
    "WorldConfig",
    "WorldResult",
    "estimate_focal",
    "focal_from_metadata",
    "world_stage",
]

log = logging.getLogger(__name__)


@dataclass
class WorldResult:
    """What the stage found: global arrays for ``results.npz`` and the ``meta.json`` entry."""

    arrays: dict[str, np.ndarray]
    meta: dict


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
    tracks = {t: track_inputs(people[t], names, frame_times_s, focal, nominal_focal_px, image_size, r, config,
                              image_keypoints(people[t], body, keypoint_set, config))
              for t, r in zip(tids, rest)}  # fmt: skip
    f = focal.focal_px
    transl = {t: solve_track(tracks[t], f, image_size, None, config) for t in tids}
    up, spread, stiffness, scene = scene_up(segments_px, f, image_size, up_prior(list(tracks.values()), config),
                                            config)  # fmt: skip
    tracks = {t: on_soles(tracks[t], up, config.lowest_sole) for t in tids}
    contacts = {t: first_contacts(tracks[t], transl[t], up, f, image_size, config) for t in tids}
    plane = ground_plane(tracks, transl, contacts, up, config, spread, stiffness)  # through the soles: the ground
    tracks = {t: on_soles(tracks[t], plane.normal_cam, lowest=False) for t in tids}
    for t in tids:
        transl[t] = solve_on_ground(tracks[t], f, image_size, contacts[t], plane, config)
        contacts[t] = final_contacts(tracks[t], transl[t], plane, config)
        transl[t] = solve_on_ground(tracks[t], f, image_size, contacts[t], plane, config)
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
