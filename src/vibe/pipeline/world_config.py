"""Options of the world stage (:mod:`vibe.pipeline.world`): :class:`WorldConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field

from vibe.geometry.trajectory import TrajectoryWeights
from vibe.pipeline.scene_lines import SceneLinesConfig

__all__ = ["WorldConfig"]


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
            landmarks (``landmarks_world``) when a person has them (:func:`~vibe.pipeline.world_ground.up_prior`).
        standing_min_s: a person whose standing foot (the lowest in the image) stays still this
            long, a foot on the ground in ``standing_down_share`` of the frames, its box's size
            steady (``standing_scale_rate_s``, relative change per second), is standing: the
            body's centre of mass (``standing_centre``; else the root) keeps its depth
            (:func:`~vibe.pipeline.world_ground.standing_in_place`, ``weights.standing_speed_m_s``);
            None: never.
        sink_tolerance_m: a foot further than this under the ground is held on it
            (:func:`~vibe.pipeline.world_ground.solve_on_ground`); support_rounds: how many times
            the solve is repeated for that.
        scene_lines: gravity from the static background's straight lines when they fix it
            (:mod:`vibe.pipeline.scene_lines`); None: from the bodies alone.
        lowest_sole: the ground is fitted through each contact foot's lowest sole point, the
            heel's or the toe's (:func:`~vibe.pipeline.body_axes.sole_points`); False: the sole under the mean of its
            keypoints, which a rolling foot lifts by centimetres (the ground too high, the camera
            as much too low). The trajectory solve always holds the latter on the ground (steady).
        image_keypoint_set: the body's keypoint set the detected landmarks are matched with in the
            translation's image terms when the people's keypoints are BlazePose's and the body has it
            (``blazepose33_detector``: where BlazePose puts its landmarks on a body, as the demo's fit
            and camera use, :mod:`vibe.body.keypoint_offsets`); None: the people's ``joints3d``.
        below_weight: the ground fit counts each contact point further under a candidate
            plane than ``contact_height_m`` against it (:func:`~vibe.geometry.ground.fit_ground_plane`): nobody
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

