"""Synthetic training windows for the ``open`` stack: mocap motion → detected-landmark look-alikes + targets.

For every motion window (local rotations ``(T, J, 3, 3)`` and root translation
``(T, 3)`` of the Anny rig, 30 fps) :class:`SyntheticGenerator` draws

1. a body shape (:func:`sample_phenotypes`): teens and adults, anny's own
   WHO-calibrated phenotype distribution (see its docstring);
2. a camera (:class:`SyntheticConfig`, "camera"): one of a few phone/webcam
   image sizes, a focal length from the field of view of the long image side,
   a position all around the person at 2–10 m and 0.3–2.2 m above the floor
   looking at the person's mean mid-hip, a small roll, the person shifted off
   the image centre, and a slow pan/tilt over the window; redrawn until enough
   of the body is in view;
3. BlazePose-33 landmarks projected into the image (pinhole, OpenCV axes);
4. the person box as the demo builds it (:mod:`vibe.pipeline.people`): the
   BlazePose detector's region of interest (a square centred on the mid-hip,
   half-side 1.25 × the radius of the circle around the body) with detector
   noise, then :func:`~vibe.pipeline.people.smooth_square_boxes`;
5. detector noise on the landmarks (see "Noise model" below);
6. the encoder input through :func:`vibe.data.features.keypoints_to_encoder_input`,
   the very function the demo calls (so truncation at the image border and
   the box normalisation are identical);

and the targets: rotations with the root in the camera frame, the shape, the
best-fitting crop camera, eval14 joints in the camera frame, clean 2D
landmarks in the crop's ``[-1, 1]`` and MediaPipe-style world landmarks.

Noise model (all levels in :class:`SyntheticConfig`; image noise is in units of
the box side, since MediaPipe sees every person through a fixed-resolution crop):

- a per-window 3D offset of every landmark (metres; hips larger), covering the
  systematic difference between MediaPipe's landmark definitions and Anny's
  mesh keypoints (see "Sim-to-real" below);
- per-frame Gaussian jitter with std ``side × (jitter_std × group factor +
  jitter_speed_gain × speed)``, ``speed`` in box sides per second (motion blur
  and MediaPipe's lag make fast limbs less precise); face points are more
  precise, hands and feet less;
- visibility of plain points per landmark group (face, body, hands, feet),
  ``u^(1/α)`` with ``u`` uniform per window and landmark (a Beta(α, 1) draw:
  median ``0.5^(1/α)``) plus a little per-frame variation; low visibility
  adds jitter (``low_visibility_noise_gain``); points more than
  ``self_occlusion_depth_m`` behind the torso get lower visibility and more
  jitter (a cheap stand-in for self-occlusion without rendering);
- occluding rectangles (moving across the window): points inside get low
  visibility and ``occluded_noise_factor`` × the jitter;
- random dropouts (visibility 0) and lost frames (NaN, visibility 0, as the
  demo stores frames without a pose);
- left/right swaps of the arms, the legs or the whole body for a few frames;
- truncation: points outside the image get visibility 0 (in ``features``).

Sim-to-real. MediaPipe's 33 points are not Anny's mesh keypoints: BlazePose
was trained on its own annotations (COCO-like for the 17 shared points, ad hoc
for the rest), so its hips sit where a human annotator puts them (not the
anatomical joint, and not exactly anny's COCO regressor), its hand points
(pinky, index, thumb) are coarse hand extremities, its heel/toe points depend
on shoes, and its visibility is a learned score, not geometric. The gap is a
mostly systematic per-person offset of a few centimetres per point plus noise
that grows with speed, occlusion and distance from the torso. Measured on
``assets/pose_1.mp4`` (MediaPipe world landmarks vs Anny bodies of the shape
prior, as ratios to the shoulder width, which agrees within 3 %): MediaPipe's
hips are ~15 % wider apart, its hand points sit ~40 % closer to the wrist
(6 vs 11 cm for the index), its heel and toe ~40 % closer to the ankle and
heel (foot 14.5 vs 24 cm); ears, torso and limb lengths agree within ~10 %.
What covers it here: per-window redefinitions (``hand_scale``,
``foot_scale``, ``hip_width_scale``, spanning Anny's definition and the
measured one, applied to the inputs only: the targets keep Anny's keypoints,
which the generator outputs), per-window 3D offsets (hips doubled), the
group-dependent jitter, the visibility model and the left/right swaps. What
does not: appearance (clothing, loose garments move the hips and the ankles),
MediaPipe's pose-dependent systematic errors and depth confusions
(front/back flips), its ROI tracking lag, and the distribution of real camera
motion. World landmarks are the weakest part: MediaPipe's scale and depth are
guesses, hence the per-window scale error and the larger depth noise.

Calibration. ``benchmarks/bench_synthetic.py --compare-video VIDEO`` runs the
demo's detector, tracker and MediaPipe on a video and prints the same
statistics for its tracks and for synthetic windows. On the bundled clips
(``assets/pose_1.mp4`` at 30 fps, ``assets/people_walking.mp4`` at 10 fps) the
detector's body radius is 0.90–1.03 × the landmarks' largest distance from the
mid-hip (default factor 0.88–1.15), the box centre sits 0.02–0.05 box sides
from the landmark mid-hip (synthetic 0.035), the high-frequency landmark
residual is 0.002 (30 fps) to 0.009–0.015 (10 fps, including real motion)
box sides (synthetic 0.011, with fast random test motion), and the median
visibility of in-image points is ≈ 1.0 face, 0.99 arms and legs, 0.9–0.96
feet and 0.1–0.93 hands (synthetic 0.995, 0.97, 0.83, 0.69). MediaPipe gives
out-of-image points visibilities of 0.3–0.9, which is why ``features`` drops
them in both paths. Two short clips are thin evidence: re-run on videos
like the target use before trusting small errors.

Determinism: all randomness comes from the ``numpy.random.Generator`` passed
to :meth:`SyntheticGenerator.generate`; the same seed gives the same batch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from functools import lru_cache

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import BLAZEPOSE33
from vibe.body.keypoint_offsets import DETECTOR_SET
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.geometry.cameras import fit_weak_perspective, perspective_projection
from vibe.losses import GeneratorTargets
from vibe.geometry.crops import smooth_square_boxes

logger = logging.getLogger(__name__)

__all__ = ["SyntheticConfig", "SyntheticBatch", "SyntheticGenerator", "sample_phenotypes", "fit_crop_camera"]

_INDEX = {name: k for k, name in enumerate(BLAZEPOSE33)}
_FACE = [k for k, name in enumerate(BLAZEPOSE33) if k <= _INDEX["mouth_right"]]
_EXTREMITIES = [
    k
    for k, name in enumerate(BLAZEPOSE33)
    if any(p in name for p in ("wrist", "pinky", "index", "thumb", "ankle", "heel", "foot_index"))
]
_HIPS = [_INDEX["left_hip"], _INDEX["right_hip"]]
_HAND_PARTS = ("wrist", "pinky", "_index", "thumb")  # "_index": not "foot_index"
_HANDS = [k for k, name in enumerate(BLAZEPOSE33) if any(p in name for p in _HAND_PARTS) and "foot" not in name]
_FEET = [k for k, name in enumerate(BLAZEPOSE33) if any(p in name for p in ("ankle", "heel", "foot_index"))]
_TORSO = [_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
# Left/right swap groups (MediaPipe confuses the sides of single limbs or of the whole body).
_SWAP_GROUPS = {
    "arms": ("elbow", "wrist", "pinky", "left_index", "right_index", "thumb"),
    "legs": ("knee", "ankle", "heel", "foot_index"),
    "body": ("",),
}


def _swap_permutation(parts: tuple[str, ...]) -> np.ndarray:
    """``(K,)`` landmark permutation exchanging left and right for names containing one of ``parts``."""
    perm = np.arange(len(BLAZEPOSE33))
    for k, name in enumerate(BLAZEPOSE33):
        if any(p in name for p in parts) and ("left" in name or "right" in name):
            other = name.replace("left", "#").replace("right", "left").replace("#", "right")
            perm[k] = _INDEX[other]
    return perm


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
            redefinitions (see "Sim-to-real"): factors on wrist → hand points,
            ankle → heel and toe, and the hip width.
        offset_std_m, hip_offset_factor: per-window 3D landmark offsets.
        jitter_std, face_noise_factor, extremity_noise_factor, jitter_speed_gain:
            per-frame jitter (see module docstring); the gain is in seconds.
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


@dataclasses.dataclass
class SyntheticBatch:
    """Generator inputs and targets for ``B`` windows of ``T`` frames (float32 tensors).

    Inputs:
        keypoints: ``(B, T, 33, 3)`` encoder input (box-normalised x, y, visibility).
        keypoints_world: ``(B, T, 33, 3)`` MediaPipe-style world landmarks
            (metres, origin mid-hip, camera axes: y down), NaN in lost frames.
        landmarks_img: ``(B, T, 33, 3)`` noisy landmarks in pixels + visibility (before ``features``).
        bbox_cxcys: ``(B, T, 3)`` the person box (pixels).
    Targets:
        pose_rotmat: ``(B, T, J, 3, 3)`` local rotations, root in the camera frame.
        shape: ``(B, S)`` phenotypes.
        cam_crop: ``(B, T, 3)`` weak-perspective crop camera ``(s, tx, ty)`` (:func:`fit_crop_camera`).
        transl_cam: ``(B, T, 3)`` body translation in the camera frame: the
            posed body (no translation) plus this is the camera-frame body.
        joints3d_eval14: ``(B, T, 14, 3)`` eval14 joints, camera frame, metres.
        keypoints2d: ``(B, T, 33, 3)`` clean landmarks in the box's ``[-1, 1]`` and confidence 1.
    Camera (for checks and rendering):
        cam_rotmat: ``(B, T, 3, 3)`` camera-from-world rotation (world: y up; camera: OpenCV).
        cam_transl: ``(B, T, 3)`` camera-from-world translation.
        focal_px: ``(B,)``; image_size: ``(B, 2)`` (W, H); principal point = image centre.
        keypoints_cam: ``(B, T, 33, 3)`` clean landmarks, camera frame.
    """

    keypoints: torch.Tensor
    keypoints_world: torch.Tensor
    landmarks_img: torch.Tensor
    bbox_cxcys: torch.Tensor
    pose_rotmat: torch.Tensor
    shape: torch.Tensor
    cam_crop: torch.Tensor
    transl_cam: torch.Tensor
    joints3d_eval14: torch.Tensor
    keypoints2d: torch.Tensor
    cam_rotmat: torch.Tensor
    cam_transl: torch.Tensor
    focal_px: torch.Tensor
    image_size: torch.Tensor
    keypoints_cam: torch.Tensor

    def to_generator_targets(self) -> GeneratorTargets:
        """Targets for :func:`vibe.losses.generator_losses` (3D loss on eval14, every frame valid)."""
        b, t = self.keypoints.shape[:2]
        valid = torch.ones(b, t, dtype=torch.bool)
        return GeneratorTargets(
            kp_2d=self.keypoints2d,
            kp_3d=self.joints3d_eval14,
            has_3d=valid,
            pose_rotmat=self.pose_rotmat,
            shape=self.shape[:, None].expand(b, t, -1),
            has_body=valid.clone(),
        )


# --------------------------------------------------------------------------- shapes
@lru_cache(maxsize=1)
def _anny_shape_calibration() -> dict[str, dict[str, np.ndarray]]:
    """anny's WHO-calibrated phenotype distributions (``data/shape_calibration``), as numpy."""
    from anny.paths import get_anny_root_dir

    out = {}
    for sex in ("boys", "girls"):
        path = get_anny_root_dir() / "data" / "shape_calibration" / f"{sex}.pth"
        state = torch.load(path, weights_only=True, map_location="cpu")
        out[sex] = {f"{k}.{kk}": vv.double().numpy() for k, v in state.items() for kk, vv in v.items()}
    return out


def sample_phenotypes(
    rng: np.random.Generator, batch: int, age_years: tuple[float, float] = (13.0, 70.0)
) -> np.ndarray:
    """Random Anny phenotypes ``(B, 6)`` = gender, age, muscle, weight, height, proportions.

    Distribution (anny's ``SimpleShapeDistribution``, sampled with ``rng``):
    morphological age uniform in ``age_years`` mapped to anny's age parameter
    by anny's piecewise-linear calibration; gender uniform in [0, 1], the
    male (≤ 0.5) or female tables choosing the rest; height, weight, muscle
    and proportions each Beta(α(age), β(age)) with α, β interpolated from
    anny's fit to WHO growth data (clamped at the table ends: adults share the
    16-year height table).
    """
    calib = _anny_shape_calibration()
    mapping = calib["boys"]
    years = rng.uniform(*age_years, size=batch)
    age = np.interp(
        years,
        mapping["morphological_age_mapping.morphological_age_anchors"],
        mapping["morphological_age_mapping.anny_age_anchors"],
    )
    gender = rng.uniform(0.0, 1.0, size=batch)
    values = {}
    for label in ("muscle", "weight", "height", "proportions"):
        draws = []
        for sex in ("boys", "girls"):
            table = calib[sex]
            key = f"conditional_{label}_distribution"
            anchors = table[f"{key}.age_anchors"]
            a = np.interp(age, anchors, table[f"{key}.alpha_anchors"])
            b = np.interp(age, anchors, table[f"{key}.beta_anchors"])
            draws.append(rng.beta(a, b))
        values[label] = np.where(gender <= 0.5, draws[0], draws[1])
    return np.stack(
        [gender, age, values["muscle"], values["weight"], values["height"], values["proportions"]], axis=-1
    )


# --------------------------------------------------------------------------- cameras
def _look_at(camera_pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-from-world rotations ``(B, 3, 3)`` (OpenCV axes, world y up) looking from ``camera_pos`` at ``target``."""
    forward = target - camera_pos
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=-2)


def _rotation_to(direction: np.ndarray) -> np.ndarray:
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


def _in_image(pixels: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """``(B, T, K)`` bool: pixel inside the ``(B, 2)`` image."""
    size = image_size[:, None, None, :]
    return ((pixels >= 0) & (pixels <= size)).all(-1)


# --------------------------------------------------------------------------- crop camera
def fit_crop_camera(points_body: np.ndarray, points_crop: np.ndarray) -> np.ndarray:
    """Weak-perspective crop camera ``(..., 3)`` of points ``(..., K, 3)`` projected to ``(..., K, 2)``
    (:func:`vibe.geometry.cameras.fit_weak_perspective` with equal weights)."""
    return fit_weak_perspective(points_body, points_crop)


# --------------------------------------------------------------------------- generator
@dataclasses.dataclass
class _Cameras:
    rotmat: np.ndarray  # (B, T, 3, 3) camera-from-world
    transl: np.ndarray  # (B, T, 3)
    focal_px: np.ndarray  # (B,)
    image_size: np.ndarray  # (B, 2)


class SyntheticGenerator:
    """Synthetic windows from motion (see the module docstring).

    Args:
        keypoints: the fast Anny evaluator, with sets ``blazepose33`` and ``eval14``.
        config: the distribution (default :class:`SyntheticConfig`).
    """

    def __init__(self, keypoints: SparseKeypoints, config: SyntheticConfig | None = None) -> None:
        config = config or SyntheticConfig()
        missing = {"blazepose33", "eval14", *([DETECTOR_SET] if config.detector_keypoints else [])}
        missing -= set(keypoints.set_names)
        if missing:
            raise ValueError(f"the keypoint evaluator lacks the sets {sorted(missing)}")
        if keypoints.keypoint_sets["blazepose33"] != list(BLAZEPOSE33):
            raise ValueError("unexpected blazepose33 order")
        self.keypoints = keypoints
        self.config = config
        k = len(BLAZEPOSE33)
        factor = np.ones(k)
        factor[_FACE] = self.config.face_noise_factor
        factor[_EXTREMITIES] = self.config.extremity_noise_factor
        self._noise_factor = factor
        offset = np.full(k, self.config.offset_std_m)
        offset[_HIPS] *= self.config.hip_offset_factor
        self._offset_std = offset
        self._swaps = [_swap_permutation(parts) for parts in _SWAP_GROUPS.values()]
        alpha = np.full(k, self.config.visibility_alpha_body)
        alpha[_FACE] = self.config.visibility_alpha_face
        alpha[_HANDS] = self.config.visibility_alpha_hands
        alpha[_FEET] = self.config.visibility_alpha_feet
        self._visibility_alpha = alpha

    def sample(self, motion_db, rng: np.random.Generator, batch: int, seqlen: int = 16) -> SyntheticBatch:
        """Synthesise ``batch`` random windows of ``seqlen`` frames of a :class:`~vibe.data.motion_db.MotionDB`."""
        rotmat, root_transl = motion_db.sample_windows(rng, batch, seqlen)
        return self.generate(rotmat, root_transl, rng)

    @torch.no_grad()
    def generate(
        self,
        pose_rotmat: np.ndarray | torch.Tensor,
        root_transl: np.ndarray | torch.Tensor,
        rng: np.random.Generator,
        shape: np.ndarray | torch.Tensor | None = None,
    ) -> SyntheticBatch:
        """Synthesise windows.

        Args:
            pose_rotmat: ``(B, T, J, 3, 3)`` local rotations (Anny convention, world y up).
            root_transl: ``(B, T, 3)`` metres, world frame (the body model's ``transl``).
            rng: the only source of randomness.
            shape: ``(B, S)`` phenotypes to use instead of random ones.

        Returns:
            :class:`SyntheticBatch`.
        """
        cfg = self.config
        pose = torch.as_tensor(pose_rotmat, dtype=self.keypoints.dtype)
        transl = torch.as_tensor(root_transl, dtype=pose.dtype)
        batch, num_frames = pose.shape[:2]
        phen = sample_phenotypes(rng, batch, cfg.age_years) if shape is None else np.asarray(shape, np.float64)

        posed = self.keypoints(pose, torch.as_tensor(phen, dtype=pose.dtype), transl)
        kp_world = posed.keypoints["blazepose33"].double().numpy()  # (B, T, K, 3)
        eval_world = posed.keypoints["eval14"].double().numpy()
        root_world = posed.joints[..., 0, :].double().numpy()  # (B, T, 3) root joint
        transl_np = transl.double().numpy()

        cams = self._place_cameras(rng, kp_world)
        kp_cam = _apply(cams, kp_world)
        eval_cam = _apply(cams, eval_world)
        detected_cam = kp_cam
        if cfg.detector_keypoints:  # what the landmark model sees: its own definitions of the points
            detected_cam = _apply(cams, posed.keypoints[DETECTOR_SET].double().numpy())
        # Body translation in the camera frame: the root rotates about its own
        # head, which sits at (root joint − transl) in the untranslated body.
        transl_cam = _apply(cams, root_world[:, :, None])[:, :, 0] - (root_world - transl_np)

        pixels = project(kp_cam, cams.focal_px, cams.image_size)
        bbox = self._person_boxes(rng, pixels)
        detected_pixels = pixels if detected_cam is kp_cam else project(detected_cam, cams.focal_px, cams.image_size)
        landmarks, world = self._detect(rng, detected_cam, detected_pixels, bbox, cams)

        features = keypoints_to_encoder_input(landmarks, bbox, cfg.features, cams.image_size)
        # 2D targets: the same normalisation of the clean points, none dropped.
        clean = np.concatenate([pixels, np.ones_like(pixels[..., :1])], axis=-1)
        keep_all = dataclasses.replace(cfg.features, drop_outside_image=False, min_visibility=0.0)
        keypoints2d = keypoints_to_encoder_input(clean, bbox, keep_all)
        kp_body = kp_cam - transl_cam[:, :, None]
        cam_crop = fit_crop_camera(kp_body, keypoints2d[..., :2].double().numpy())

        root = torch.from_numpy(cams.rotmat).to(pose) @ pose[:, :, 0]
        pose_target = torch.cat([root[:, :, None], pose[:, :, 1:]], dim=2)
        f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        return SyntheticBatch(
            keypoints=features,
            keypoints_world=f32(world),
            landmarks_img=f32(landmarks),
            bbox_cxcys=f32(bbox),
            pose_rotmat=f32(pose_target),
            shape=f32(phen),
            cam_crop=f32(cam_crop),
            transl_cam=f32(transl_cam),
            joints3d_eval14=f32(eval_cam),
            keypoints2d=keypoints2d,
            cam_rotmat=f32(cams.rotmat),
            cam_transl=f32(cams.transl),
            focal_px=f32(cams.focal_px),
            image_size=f32(cams.image_size),
            keypoints_cam=f32(kp_cam),
        )

    # ------------------------------------------------------------------ cameras
    def _place_cameras(self, rng: np.random.Generator, kp_world: np.ndarray) -> _Cameras:
        """Random cameras ``(B,)`` for landmarks ``(B, T, K, 3)``, redrawn while too little is in view."""
        cfg = self.config
        batch, num_frames = kp_world.shape[:2]
        cams = _Cameras(
            np.zeros((batch, num_frames, 3, 3)), np.zeros((batch, num_frames, 3)), np.zeros(batch), np.zeros((batch, 2))
        )
        todo = np.arange(batch)
        for _ in range(cfg.max_camera_tries):
            drawn = self._draw_cameras(rng, kp_world[todo])
            for name in ("rotmat", "transl", "focal_px", "image_size"):
                getattr(cams, name)[todo] = getattr(drawn, name)
            points = _apply(drawn, kp_world[todo])
            pixels = project(points, drawn.focal_px, drawn.image_size)
            in_view = _in_image(pixels, drawn.image_size).mean((1, 2))
            ok = (in_view >= cfg.min_in_view) & (points[..., 2] > 0.1).all((1, 2))
            todo = todo[~ok]
            if todo.size == 0:
                break
        if todo.size:
            logger.debug("%d of %d windows kept a camera with too little in view", todo.size, batch)
        return cams

    def _draw_cameras(self, rng: np.random.Generator, kp_world: np.ndarray) -> _Cameras:
        """One random camera per window (see :class:`SyntheticConfig`, "Camera")."""
        cfg = self.config
        batch, num_frames = kp_world.shape[:2]
        sizes = np.asarray(cfg.image_sizes, dtype=np.float64)
        image_size = sizes[rng.integers(len(sizes), size=batch)]
        fov = np.deg2rad(rng.uniform(*cfg.fov_long_side_deg, size=batch))
        focal = image_size.max(-1) / 2.0 / np.tan(fov / 2.0)

        mid_hip = kp_world[:, :, _HIPS].mean(2).mean(1)  # (B, 3)
        floor = kp_world[:, :, _FEET, 1].min((1, 2))
        log_lo, log_hi = np.log(cfg.distance_m[0]), np.log(cfg.distance_m[1])
        distance = np.exp(rng.uniform(log_lo, log_hi, size=batch))
        azimuth = rng.uniform(0.0, 2.0 * np.pi, size=batch)
        height = rng.uniform(*cfg.camera_height_m, size=batch)
        position = np.stack(
            [mid_hip[:, 0] + distance * np.sin(azimuth), floor + height, mid_hip[:, 2] + distance * np.cos(azimuth)],
            axis=-1,
        )
        look = _look_at(position, mid_hip)
        roll = Rotation.from_rotvec(
            np.array([0.0, 0.0, 1.0]) * np.deg2rad(rng.normal(0.0, cfg.roll_std_deg, size=(batch, 1)))
        ).as_matrix()
        # Put the mid-hip at a random image position: turn the optical axis away from it.
        offset_px = rng.uniform(-1.0, 1.0, size=(batch, 2)) * np.asarray(cfg.center_offset) * image_size / 2.0
        direction = np.concatenate([offset_px / focal[:, None], np.ones((batch, 1))], axis=-1)
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        start = _rotation_to(direction) @ roll @ look  # (B, 3, 3)

        rate = np.deg2rad(rng.normal(0.0, cfg.pan_std_deg_s, size=(batch, 2)))  # tilt (x), pan (y) rad/s
        times = np.arange(num_frames) / cfg.fps
        rotvec = np.zeros((batch, num_frames, 3))
        rotvec[..., :2] = rate[:, None, :] * times[None, :, None]
        pan = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(batch, num_frames, 3, 3)
        rotmat = pan @ start[:, None]
        transl = -np.einsum("btij,bj->bti", rotmat, position)
        return _Cameras(rotmat, transl, focal, image_size)

    # ------------------------------------------------------------------ person box
    def _person_boxes(self, rng: np.random.Generator, pixels: np.ndarray) -> np.ndarray:
        """The demo's person box ``(B, T, 3)`` (cx, cy, side) for clean landmark pixels ``(B, T, K, 2)``.

        The BlazePose detector regresses the mid-hip and a point on the circle
        around the body; the demo's box is that circle's square, enlarged by
        ``roi_scale``, smoothed over time by ``smooth_square_boxes``.
        """
        cfg = self.config
        batch, num_frames = pixels.shape[:2]
        mid_hip = pixels[:, :, _HIPS].mean(2)  # (B, T, 2)
        radius = np.linalg.norm(pixels - mid_hip[:, :, None], axis=-1).max(-1)  # (B, T)
        radius = radius * rng.uniform(*cfg.body_radius_factor, size=(batch, 1))
        log_noise = rng.normal(0.0, cfg.box_log_size_bias_std, size=(batch, 1)) + rng.normal(
            0.0, cfg.box_log_size_std, size=(batch, num_frames)
        )
        half = cfg.roi_scale * radius * np.exp(log_noise)
        center_noise = rng.normal(0.0, cfg.box_center_bias_std, size=(batch, 1, 2)) + rng.normal(
            0.0, cfg.box_center_std, size=(batch, num_frames, 2)
        )
        center = mid_hip + center_noise * 2.0 * half[..., None]
        bbox_xyxy = np.concatenate([center - half[..., None], center + half[..., None]], axis=-1)
        frame_ids = np.arange(num_frames)
        boxes = np.empty((batch, num_frames, 3))
        for b in range(batch):
            _, boxes[b] = smooth_square_boxes(frame_ids, bbox_xyxy[b], cfg.fps, window_s=cfg.box_smoothing_s)
        return boxes

    # ------------------------------------------------------------------ landmark noise
    def _detect(
        self, rng: np.random.Generator, kp_cam: np.ndarray, pixels: np.ndarray, bbox: np.ndarray, cams: _Cameras
    ) -> tuple[np.ndarray, np.ndarray]:
        """Noisy landmarks ``(B, T, K, 3)`` (pixels + visibility) and world landmarks ``(B, T, K, 3)``."""
        cfg = self.config
        batch, num_frames, num_kp = pixels.shape[:3]
        side = bbox[..., 2][..., None]  # (B, T, 1)

        # Systematic definition differences (per window), then jitter.
        offset = rng.normal(size=(batch, 1, num_kp, 3)) * self._offset_std[:, None]
        points = self._redefine(rng, kp_cam) + offset
        shifted = project(points, cams.focal_px, cams.image_size)
        speed = np.linalg.norm(np.gradient(pixels, axis=1), axis=-1) * cfg.fps / side if num_frames > 1 else 0.0
        std = side * (cfg.jitter_std * self._noise_factor + cfg.jitter_speed_gain * speed)
        visibility = self._plain_visibility(rng, batch, num_frames)
        std = std * (1.0 + cfg.low_visibility_noise_gain * (1.0 - visibility))

        torso_depth = kp_cam[:, :, _TORSO, 2].mean(-1, keepdims=True)
        behind = kp_cam[..., 2] - torso_depth > cfg.self_occlusion_depth_m
        std = np.where(behind, std * cfg.self_occluded_noise_factor, std)
        visibility = np.where(behind, rng.uniform(*cfg.self_occluded_visibility, size=visibility.shape), visibility)

        occluded = self._occluded(rng, pixels, bbox)
        std = np.where(occluded, std * cfg.occluded_noise_factor, std)
        visibility = np.where(occluded, rng.uniform(*cfg.occluded_visibility, size=visibility.shape), visibility)

        noisy = shifted + rng.normal(size=shifted.shape) * std[..., None]
        visibility = np.where(rng.random(visibility.shape) < cfg.dropout_prob, 0.0, visibility)

        world = self._world_landmarks(rng, points)

        landmarks = np.concatenate([noisy, visibility[..., None]], axis=-1)
        landmarks, world = self._swap_sides(rng, landmarks, world)
        lost = rng.random((batch, num_frames)) < cfg.frame_dropout_prob
        landmarks[lost] = np.nan
        landmarks[..., 2][lost] = 0.0
        world[lost] = np.nan
        return landmarks, world

    def _world_landmarks(self, rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
        """MediaPipe-style world landmarks ``(B, T, K, 3)`` of camera-frame points ``(B, T, K, 3)``.

        Hip-centred, in ray axes (``world_ray_axes``), turned by a per-window
        rotation error, scaled, offset per window and landmark, jittered per frame.
        """
        cfg = self.config
        batch, num_frames, num_kp = points.shape[:3]
        mid_hip = points[:, :, _HIPS].mean(2, keepdims=True)
        rel = points - mid_hip
        if cfg.world_ray_axes:  # R_rayᵀ takes the ray to the mid-hip onto the optical axis
            ray = _rotation_to(mid_hip[:, :, 0].reshape(-1, 3)).reshape(batch, num_frames, 3, 3)
            rel = np.einsum("btji,btkj->btki", ray, rel)
        turn_rotvec = np.deg2rad(rng.normal(0.0, cfg.world_rotation_std_deg, size=(batch, 3)))
        turn = Rotation.from_rotvec(turn_rotvec).as_matrix()
        rel = np.einsum("bij,btkj->btki", turn, rel)
        scale = np.exp(rng.normal(0.0, cfg.world_scale_log_std, size=(batch, 1, 1, 1)))
        bias = rng.normal(size=(batch, 1, num_kp, 3)) * cfg.world_bias_std_m * np.array([1.0, 1.0, 2.0])
        world_std = np.array([cfg.world_std_m, cfg.world_std_m, cfg.world_depth_std_m])
        return rel * scale + bias + rng.normal(size=points.shape) * world_std

    def _redefine(self, rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
        """MediaPipe-like landmark definitions for Anny landmarks ``(B, T, K, 3)``, drawn per window.

        Hand points move toward the wrist (``hand_scale``), heel and toe toward
        the ankle (``foot_scale``), the hips apart about their midpoint
        (``hip_width_scale``); see the module docstring, "Sim-to-real".
        """
        cfg = self.config
        batch = points.shape[0]
        out = points.copy()

        def scale_about(indices: list[int], centre: np.ndarray, factor: np.ndarray) -> None:
            out[:, :, indices] = centre + factor[:, None, None, None] * (points[:, :, indices] - centre)

        hand, foot = rng.uniform(*cfg.hand_scale, size=batch), rng.uniform(*cfg.foot_scale, size=batch)
        for side in ("left", "right"):
            wrist, ankle = _INDEX[f"{side}_wrist"], _INDEX[f"{side}_ankle"]
            fingers = [_INDEX[f"{side}_{p}"] for p in ("pinky", "index", "thumb")]
            scale_about(fingers, points[:, :, wrist : wrist + 1], hand)
            scale_about([_INDEX[f"{side}_heel"], _INDEX[f"{side}_foot_index"]], points[:, :, ankle : ankle + 1], foot)
        scale_about(_HIPS, points[:, :, _HIPS].mean(2, keepdims=True), rng.uniform(*cfg.hip_width_scale, size=batch))
        return out

    def _plain_visibility(self, rng: np.random.Generator, batch: int, num_frames: int) -> np.ndarray:
        """``(B, T, K)`` visibility of unoccluded landmarks: Beta(α, 1) per window and landmark, per-frame wiggle."""
        level = rng.random((batch, 1, len(BLAZEPOSE33))) ** (1.0 / self._visibility_alpha)
        wiggle = rng.normal(0.0, self.config.visibility_frame_std, size=(batch, num_frames, len(BLAZEPOSE33)))
        return np.clip(level + wiggle, 0.0, 1.0)

    def _occluded(self, rng: np.random.Generator, pixels: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        """``(B, T, K)`` bool: landmark inside a window's moving occluding rectangle (if it has one)."""
        cfg = self.config
        batch, num_frames = pixels.shape[:2]
        has = rng.random(batch) < cfg.occluder_prob
        side = bbox[:, :1, 2]  # (B, 1): the first frame's box side sets the scale
        half_size = rng.uniform(*cfg.occluder_size, size=(batch, 2)) * side / 2.0
        start = bbox[:, 0, :2] + rng.uniform(-0.4, 0.4, size=(batch, 2)) * side
        velocity = rng.uniform(-0.5, 0.5, size=(batch, 2)) * side / max(num_frames - 1, 1)
        center = start[:, None] + velocity[:, None] * np.arange(num_frames)[None, :, None]  # (B, T, 2)
        inside = (np.abs(pixels - center[:, :, None]) <= half_size[:, None, None]).all(-1)
        return inside & has[:, None, None]

    def _swap_sides(
        self, rng: np.random.Generator, landmarks: np.ndarray, world: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exchange left and right landmarks (a limb or the whole body) for a few frames of some windows."""
        cfg = self.config
        batch, num_frames = landmarks.shape[:2]
        swapped = rng.random(batch) < cfg.swap_prob
        group = rng.integers(len(self._swaps), size=batch)
        length = np.minimum(rng.integers(cfg.swap_frames[0], cfg.swap_frames[1] + 1, size=batch), num_frames)
        start = (rng.random(batch) * (num_frames - length + 1)).astype(int)
        for b in np.flatnonzero(swapped):
            frames = slice(start[b], start[b] + length[b])
            perm = self._swaps[group[b]]
            landmarks[b, frames] = landmarks[b, frames][:, perm]
            world[b, frames] = world[b, frames][:, perm]
        return landmarks, world


def _apply(cams: _Cameras, points_world: np.ndarray) -> np.ndarray:
    """World points ``(B, T, N, 3)`` → camera frame with per-frame ``cams`` rotations and translations."""
    return np.einsum("btij,btnj->btni", cams.rotmat, points_world) + cams.transl[:, :, None]
