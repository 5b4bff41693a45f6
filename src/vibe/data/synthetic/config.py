"""The distribution of synthetic windows: :class:`SyntheticConfig` (shape, camera, person box, landmark noise).

The noise model these levels drive is described in :mod:`vibe.data.synthetic.detector`.
"""

from __future__ import annotations

import dataclasses
import math

from vibe.data.features import FeatureConfig

__all__ = ["SyntheticConfig"]

# Config fields that scale a noise (0 turns it off).
_NOISE_LEVELS = (
    "box_center_std", "box_center_bias_std", "box_log_size_std", "box_log_size_bias_std",
    "offset_std_m", "jitter_std", "jitter_speed_gain", "occluder_prob", "dropout_prob",
    "frame_dropout_prob", "swap_prob", "world_std_m", "world_depth_std_m", "world_scale_log_std",
    "visibility_frame_std", "low_visibility_noise_gain", "world_rotation_std_deg", "world_bias_std_m",
)  # fmt: skip


@dataclasses.dataclass
class SyntheticConfig:
    """Everything random about synthetic windows; defaults are the training distribution.

    Ranges ``(lo, hi)`` are sampled uniformly unless said otherwise. Image
    noise is in units of the person box side ("side").

    Shape:
        age_years: morphological age, uniform (anny's mapping to its age
            parameter); 13–70: teens and adults.
    Camera:
        image_sizes: ``(W, H)`` choices, equally likely (landscape and portrait).
        fov_long_side_deg: field of view across the long image side.
        distance_m: horizontal camera–person distance, log-uniform.
        camera_height_m: above the floor (lowest foot point of the window).
        roll_std_deg: camera roll.
        center_offset: where the mean mid-hip lands, ``± (x, y)`` × the image half-size.
        pan_std_deg_s: std of the camera's pan and tilt rates over the window.
        min_in_view: minimum fraction of landmark-frames inside the image;
            cameras are redrawn up to ``max_camera_tries`` times.
    Person box (the demo's detector region of interest, then smoothing):
        roi_scale: MediaPipe's enlargement of the body circle (1.25).
        body_radius_factor: detector's body radius / the landmarks' largest
            distance from the mid-hip, per window.
        box_center_std, box_center_bias_std: per-frame / per-window centre
            error (× side), before smoothing.
        box_log_size_std, box_log_size_bias_std: the same for log(side).
        box_smoothing_s: window of the demo's Savitzky–Golay box smoothing.
    Landmark noise:
        detector_keypoints: start the landmarks from the ``blazepose33_detector``
            points (:mod:`vibe.body.keypoint_offsets`: where MediaPipe puts its
            landmarks on Anny bodies) instead of ``blazepose33``; the targets stay
            ``blazepose33``, and the redefinitions below then spread around it.
        hand_scale, foot_scale, hip_width_scale: per-window landmark
            redefinitions (see "Sim-to-real" in :mod:`~vibe.data.synthetic.detector`):
            factors on wrist → hand points, ankle → heel and toe, and the hip width.
        offset_std_m, hip_offset_factor: per-window 3D landmark offsets.
        jitter_std, face_noise_factor, extremity_noise_factor, jitter_speed_gain:
            per-frame jitter (see :mod:`~vibe.data.synthetic.detector`); the gain is in seconds.
        visibility_alpha_face, _body, _hands, _feet: α of the plain-point
            visibility per group (``inf``: always 1); hands are wrists and
            hand points, feet ankles, heels and toes, body the rest below the face.
        visibility_frame_std: per-frame variation of the visibility.
        low_visibility_noise_gain: jitter × (1 + gain × (1 − visibility)).
        self_occlusion_depth_m, self_occluded_visibility, self_occluded_noise_factor:
            points that far behind the torso centre (``inf`` disables).
        occluder_prob, occluder_size, occluded_visibility, occluded_noise_factor:
            per-window chance of one occluding rectangle, its side range (× side).
        dropout_prob: per landmark-frame chance of visibility 0.
        frame_dropout_prob: per frame chance of no pose at all (NaN).
        swap_prob, swap_frames: per-window chance of a left/right swap and its length.
        world_std_m, world_depth_std_m, world_scale_log_std: world-landmark noise
            (per frame: x/y and depth std; per window: log-scale std).
        world_rotation_std_deg: per-window rotation error of the world
            landmarks (std per axis), world_bias_std_m: per-window, per-landmark
            offset (depth twice): MediaPipe's world pose is off by a whole-body
            turn of ~15° (median) and by pose errors that persist over frames
            (measured on a landmark corpus, :mod:`vibe.evaluation.landmark_corpus`).
        world_ray_axes: world landmarks in axes whose z runs along the ray to
            the mid-hip (as MediaPipe reads a person from a centred crop), else
            camera axes.
    Other:
        fps: frame rate of the motion (the DB's 30).
        features: the :class:`~vibe.data.features.FeatureConfig` the demo uses.
    """

    age_years: tuple[float, float] = (13.0, 70.0)

    image_sizes: tuple[tuple[int, int], ...] = ((1280, 720), (1920, 1080), (640, 480), (720, 1280), (1080, 1920))
    fov_long_side_deg: tuple[float, float] = (45.0, 75.0)
    distance_m: tuple[float, float] = (1.5, 10.0)
    camera_height_m: tuple[float, float] = (0.2, 3.0)
    roll_std_deg: float = 3.0
    center_offset: tuple[float, float] = (0.5, 0.3)
    pan_std_deg_s: float = 5.0
    min_in_view: float = 0.65
    max_camera_tries: int = 8

    roi_scale: float = 1.25
    body_radius_factor: tuple[float, float] = (0.88, 1.15)
    box_center_std: float = 0.02
    box_center_bias_std: float = 0.03
    box_log_size_std: float = 0.04
    box_log_size_bias_std: float = 0.04
    box_smoothing_s: float = 0.5

    detector_keypoints: bool = False
    hand_scale: tuple[float, float] = (0.5, 1.0)
    foot_scale: tuple[float, float] = (0.55, 1.0)
    hip_width_scale: tuple[float, float] = (1.0, 1.25)
    offset_std_m: float = 0.015
    hip_offset_factor: float = 2.0
    jitter_std: float = 0.003
    face_noise_factor: float = 0.6
    extremity_noise_factor: float = 1.5
    jitter_speed_gain: float = 0.003
    visibility_alpha_face: float = 300.0
    visibility_alpha_body: float = 50.0
    visibility_alpha_hands: float = 3.0
    visibility_alpha_feet: float = 15.0
    visibility_frame_std: float = 0.02
    low_visibility_noise_gain: float = 2.0
    self_occlusion_depth_m: float = 0.15
    self_occluded_visibility: tuple[float, float] = (0.3, 0.9)
    self_occluded_noise_factor: float = 2.0
    occluder_prob: float = 0.3
    occluder_size: tuple[float, float] = (0.15, 0.5)
    occluded_visibility: tuple[float, float] = (0.0, 0.4)
    occluded_noise_factor: float = 3.0
    dropout_prob: float = 0.02
    frame_dropout_prob: float = 0.01
    swap_prob: float = 0.05
    swap_frames: tuple[int, int] = (1, 4)
    world_std_m: float = 0.02
    world_depth_std_m: float = 0.05
    world_scale_log_std: float = 0.05
    world_rotation_std_deg: float = 10.0
    world_bias_std_m: float = 0.04
    world_ray_axes: bool = True

    fps: float = 30.0
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)

    @classmethod
    def noise_free(cls, **overrides) -> "SyntheticConfig":
        """A config with every landmark and box noise off (cameras and shapes still random)."""
        quiet = {name: 0.0 for name in _NOISE_LEVELS}
        quiet.update(
            body_radius_factor=(1.0, 1.0),
            hand_scale=(1.0, 1.0),
            foot_scale=(1.0, 1.0),
            hip_width_scale=(1.0, 1.0),
            visibility_alpha_face=math.inf,
            visibility_alpha_body=math.inf,
            visibility_alpha_hands=math.inf,
            visibility_alpha_feet=math.inf,
            self_occlusion_depth_m=math.inf,
            face_noise_factor=1.0,
            extremity_noise_factor=1.0,
            world_ray_axes=False,
        )
        return cls(**{**quiet, **overrides})

