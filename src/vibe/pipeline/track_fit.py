"""Offline clean-up of one track's regressed body: centred smoothing and a camera fitted to the landmarks.

The regressor reads landmarks frame by frame through a causal GRU. Offline,
two cheap steps make its answer steadier and put the mesh on the person:

- :func:`smooth_track`: the pose is smoothed with a centred Gaussian on
  rotations (:func:`~vibe.pipeline.smoothing.gaussian_rotations`, no lag, bones
  stay rigid), the shape is the track's mean (one person keeps one body), the
  crop camera is smoothed like a vector.
- :func:`fit_track_camera`: the crop camera ``(s, tx, ty)`` is re-fitted per
  frame so that the body's own landmarks project onto the detected ones
  (weighted least squares, :func:`~vibe.geometry.cameras.fit_weak_perspective`,
  weights = MediaPipe's visibility), on the points whose definitions agree
  between Anny and MediaPipe (:data:`FIT_LANDMARKS`: not the hand and foot
  tips, which MediaPipe places ~40 % closer to the wrist and ankle than
  Anny's own points; the body's ``blazepose33_detector`` points agree on them
  too, and :data:`FIT_POINTS` names the larger choices), then smoothed. The pose is untouched: this only removes the offset and scale
  error between the mesh and the person in the image. Frames with too little
  visible weight take their camera from the nearest fitted frames (linear in
  between, held at the ends); a track with no fitted frame keeps the regressed one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33
from vibe.fitting.temporal_smplify import SMPLifyConfig, refine_track
from vibe.geometry.cameras import fit_weak_perspective
from vibe.pipeline.smoothing import gaussian_rotations, gaussian_vectors

__all__ = [
    "FIT_LANDMARKS", "FIT_POINTS", "LandmarkFit", "camera_keypoint_set", "fit_index", "fit_to_landmarks",
    "fit_track_camera", "smooth_track",
]  # fmt: skip

FIT_LANDMARKS: tuple[str, ...] = (
    "nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
# The hand and foot tips and heels, fitted once the body's points sit where BlazePose puts them
# (the blazepose33_detector set: vibe.body.keypoint_offsets calibrates these too).
_HAND_TIPS = ("left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb")
_FOOT_TIPS = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")
FIT_POINTS: dict[str, tuple[str, ...]] = {
    "core": FIT_LANDMARKS,
    "feet": FIT_LANDMARKS + _FOOT_TIPS,
    "tips": FIT_LANDMARKS + _HAND_TIPS + _FOOT_TIPS,
    "all": BLAZEPOSE33,
}


def fit_index(points: str = "core") -> list[int]:
    """BlazePose-33 indices of a named choice of fitted landmarks (:data:`FIT_POINTS`)."""
    if points not in FIT_POINTS:
        raise ValueError(f"fitted points {points!r}: one of {sorted(FIT_POINTS)}")
    return [BLAZEPOSE33.index(n) for n in FIT_POINTS[points]]


def smooth_track(
    pose_rotmat: torch.Tensor,
    shape: torch.Tensor,
    cam: torch.Tensor,
    frame_ids: np.ndarray,
    sigma: float,
    linear_edges: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centred smoothing of one track (module docstring).

    Args:
        pose_rotmat: ``(n, J, 3, 3)``; shape: ``(n, S)``; cam: ``(n, 3)`` crop cameras.
        frame_ids: ``(n,)`` increasing; gaps cut the smoothing.
        sigma: Gaussian standard deviation in frames (0: pose and camera unchanged).
        linear_edges: no trailing where the track starts or ends
            (:mod:`vibe.pipeline.smoothing`, local linear weights).

    Returns:
        The three arrays, same shapes and dtypes; the shape is the track's mean in every frame.
    """
    pose = gaussian_rotations(pose_rotmat, sigma, frame_ids, linear_edges)
    mean_shape = shape.mean(0, keepdim=True).expand_as(shape).clone()
    cam_np = gaussian_vectors(cam.double().numpy(), sigma, frame_ids, linear_edges)
    cam_smooth = torch.as_tensor(cam_np, dtype=cam.dtype)
    return pose.to(pose_rotmat.dtype), mean_shape, cam_smooth


def camera_keypoint_set(body, fit_set: str, model_set: str) -> str:
    """The body's keypoint set a camera is fitted with: the landmark fit's when the body has it, else the model's.

    The fit's (``blazepose33_detector``) lies where BlazePose puts its landmarks
    (:mod:`vibe.body.keypoint_offsets`); a body without it (SMPL) uses its own.
    """
    return fit_set if fit_set in body.keypoint_sets else model_set


def fit_track_camera(
    keypoints_body: np.ndarray,
    landmarks_box: np.ndarray,
    cam_crop: np.ndarray,
    frame_ids: np.ndarray,
    sigma: float = 2.0,
    min_points: float = 6.0,
    linear_edges: bool = False,
    min_explained: float = 0.5,
    points: str = "core",
) -> np.ndarray:
    """Crop cameras ``(n, 3)`` that put the body's BlazePose-33 points onto the detected landmarks.

    Args:
        keypoints_body: ``(n, 33, 3)`` the body's points, body frame (as the regressor poses it).
        landmarks_box: ``(n, 33, 3)`` detected ``(x, y)`` in the crop camera's ``[-1, 1]`` square
            and visibility (missing points have visibility 0).
        cam_crop: ``(n, 3)`` the regressed cameras, kept when no frame can be fitted.
        frame_ids: ``(n,)`` for the smoothing of the fitted cameras.
        sigma: Gaussian standard deviation (frames) of that smoothing.
        min_points: least total visibility over the fitted landmarks for a frame to be fitted.
        linear_edges: smoothing without trailing where the track starts or ends.
        min_explained: least share of the landmarks' spread a frame's fitted camera must
            explain (:func:`_explained`); below it the body's pose does not match the
            landmarks (a garbled pose where a track ends) and the frame counts as unfitted.
        points: which landmarks are fitted (:data:`FIT_POINTS`).

    Returns:
        ``(n, 3)`` float64 cameras.
    """
    index = fit_index(points)
    points = np.asarray(keypoints_body, np.float64)[:, index]
    target = np.asarray(landmarks_box, np.float64)[:, index]
    weights = np.clip(target[..., 2], 0.0, 1.0)
    fitted = fit_weak_perspective(points, target[..., :2], weights, min_weight=min_points)
    ok = np.isfinite(fitted).all(-1) & (fitted[:, 0] > 0)
    ok[ok] = _explained(points[ok], target[ok], weights[ok], fitted[ok]) >= min_explained
    cam = np.asarray(cam_crop, np.float64).copy()
    if ok.any():
        # The network's camera on a frame with few landmarks is a guess (it drew bodies far off the
        # person where tracks end): take the fitted neighbours', linear in between, held at the ends.
        ids = np.asarray(frame_ids, np.float64)
        cam = np.stack([np.interp(ids, ids[ok], fitted[ok, k]) for k in range(3)], -1)
    return gaussian_vectors(cam, sigma, frame_ids, linear_edges)


def _explained(points: np.ndarray, target: np.ndarray, weights: np.ndarray, cams: np.ndarray) -> np.ndarray:
    """Share ``(n,)`` of the landmarks' weighted spread that the projected points explain (1 − residual / spread).

    ``points (n, K, 3)`` body frame; ``target (n, K, ≥2)`` crop square; ``weights (n, K)``; ``cams (n, 3)``.
    """
    uv = target[..., :2]
    projected = cams[:, None, :1] * (points[..., :2] + cams[:, None, 1:])
    total = np.maximum(weights.sum(-1, keepdims=True), 1e-12)
    centred = uv - (weights[..., None] * uv).sum(-2, keepdims=True) / total[..., None]
    spread = (weights * (centred**2).sum(-1)).sum(-1)
    residual = (weights * ((projected - uv) ** 2).sum(-1)).sum(-1)
    return 1.0 - residual / np.maximum(spread, 1e-12)


@dataclass(frozen=True)
class LandmarkFit:
    """What :func:`fit_to_landmarks` matches and how.

    Attributes:
        smplify: the fit's settings (``world_weight`` weighs the 3D term).
        points: which landmarks are fitted (:data:`FIT_POINTS`).
        extra_weight: scales the visibility of the fitted points beyond
            :data:`FIT_LANDMARKS` (a real hand's or shod foot's tips are less
            sure than the core points).
    """

    smplify: SMPLifyConfig
    points: str = "core"
    extra_weight: float = 1.0


def fit_to_landmarks(
    body,
    pose_rotmat: torch.Tensor,
    shape: torch.Tensor,
    cam: torch.Tensor,
    landmarks_box: torch.Tensor,
    landmarks_world: torch.Tensor | np.ndarray | None,
    fit: LandmarkFit,
    pose_prior=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, float]]:
    """Temporal SMPLify of one track's regressed body to its landmarks (2D, and 3D when given).

    Only the ``fit.points`` choice of :data:`FIT_POINTS` is fitted (``"core"``,
    :data:`FIT_LANDMARKS`, leaves out the face's other points and the hand and
    foot tips, which Anny's own points define differently from MediaPipe); the
    3D landmarks weigh by the 2D landmarks' visibility.

    Args:
        body: the demo's body model.
        pose_rotmat: ``(n, J, 3, 3)``; shape: ``(n, S)``; cam: ``(n, 3)`` the regressor's output.
        landmarks_box: ``(n, 33, 3)`` detected landmarks in the crop camera's square and visibility.
        landmarks_world: ``(n, 33, 3)`` MediaPipe's world landmarks (metres) or ``None``.
        fit: the settings, points and their weights (:class:`LandmarkFit`).
        pose_prior: GMM prior (default: the body's).

    Returns:
        ``(pose_rotmat, shape, cam, errors)``: the fitted track (one shape in every
        row) and the mean 2D error before/after in crop pixels (over the fitted points).
    """
    weight = torch.zeros(landmarks_box.shape[1], dtype=torch.float64)
    weight[fit_index(fit.points)] = fit.extra_weight
    weight[fit_index("core")] = 1.0
    kp = torch.as_tensor(landmarks_box).clone()
    weight = weight.to(kp.dtype)
    kp[..., 2] = torch.where(weight > 0, kp[..., 2] * weight, torch.zeros_like(kp[..., 2]))
    world = None
    if landmarks_world is not None:
        world = torch.cat((torch.as_tensor(landmarks_world, dtype=kp.dtype), kp[..., 2:3]), -1)
    params = {"pose_rotmat": pose_rotmat, "shape": shape, "cam_crop": cam}
    fitted, before, after = refine_track(body, params, kp, fit.smplify, pose_prior, world)
    half_crop = fit.smplify.crop_size / 2.0  # crop [-1, 1] units → crop pixels
    errors = {"reproj_err_before_px": before * half_crop, "reproj_err_after_px": after * half_crop}
    return fitted["pose_rotmat"], fitted["shape"], fitted["cam_crop"], errors
