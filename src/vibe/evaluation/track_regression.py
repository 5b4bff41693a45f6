"""Run an open-stack generator again on one demo track's landmarks, in windows or frame by frame.

The synthetic benchmark's per-frame baseline. The paper's frame-based row
(Table 2, "HMR") is the same per-frame features through a regressor with no
temporal context. Our open generator has no separately trained per-frame
regressor: the keypoint encoder, GRU and regressor were trained together. Of
the two ways to take time away from it,

- bypassing the temporal encoder (``VIBEConfig.temporal=False``) gives the
  regressor raw per-frame features, which it never saw in training: the
  GRU block's residual output ``x + Δ(x)`` always had the learned ``Δ`` added;
- windows of **one frame** run the trained GRU from its zero state on every
  frame, which is exactly how each training window's first frame was seen
  (windows start from a zero state, see :mod:`vibe.pipeline.windows`).

The second is the faithful equivalent: the same trained weights, in a state
they were trained for, with no information from other frames. It is what
``windows=None`` does here. With the demo's :class:`WindowConfig` the result is
the demo's own output (the tests check this), so the per-frame row differs
from the model's row only by the temporal context.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from vibe.body.base import BodyModel
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.geometry.cameras import crop_cam_to_image_cam, image_cam_to_pixels
from vibe.models.checkpoints import load_checkpoint
from vibe.models.vibe import VIBE
from vibe.pipeline.demo_model import open_generator
from vibe.pipeline.label_swaps import SwapConfig, repair_swaps
from vibe.pipeline.landmarks import TrackLandmarks
from vibe.pipeline.stages import regress_features, track_features
from vibe.pipeline.track_fit import LandmarkFit, camera_keypoint_set, fit_to_landmarks, fit_track_camera, smooth_track
from vibe.pipeline.windows import WindowConfig

__all__ = ["TrackPrediction", "load_open_generator", "regress_track"]


@dataclass
class TrackPrediction:
    """The generator's output for one track of ``n`` frames (numpy, CPU).

    Attributes:
        pose_rotmat: ``(n, J, 3, 3)`` local joint rotations, root in the camera axes.
        shape: ``(n, S)`` body shape.
        cam_crop: ``(n, 3)`` crop camera ``(s, tx, ty)``.
        joints2d_img: ``(n, K, 2)`` the model's keypoint set in image pixels.
    """

    pose_rotmat: np.ndarray
    shape: np.ndarray
    cam_crop: np.ndarray
    joints2d_img: np.ndarray


def load_open_generator(checkpoint: str | os.PathLike, body: BodyModel) -> VIBE:
    """One of our open-stack checkpoints on ``body`` (its body model must be the checkpoint's), eval mode, CPU."""
    ckpt = load_checkpoint(checkpoint, map_location="cpu")
    if ckpt.body_model != body.name:
        raise ValueError(f"{checkpoint}: trained on {ckpt.body_model!r}, not {body.name!r}")
    if ckpt.config.feature_source != "keypoints":
        raise ValueError(f"{checkpoint}: not an open-stack (keypoint) generator")
    return open_generator(ckpt, body).eval()


def _unswapped(landmarks_img: np.ndarray, landmarks_world: np.ndarray | None, config: SwapConfig):
    """Image ``(n, 33, 3)`` and world landmarks (or None) with their left/right swaps undone (the demo's repair)."""
    image = np.asarray(landmarks_img)
    world = np.zeros_like(image) if landmarks_world is None else np.asarray(landmarks_world)
    found = np.isfinite(image[..., :2]).all((-1, -2))
    track, _ = repair_swaps(TrackLandmarks(0, np.arange(len(image)), image, world, found), config)
    return track.landmarks_img, (None if landmarks_world is None else track.world)


@torch.no_grad()
def regress_track(
    model: VIBE,
    landmarks_img: np.ndarray,
    bbox_cxcys: np.ndarray,
    image_size: tuple[int, int],
    windows: WindowConfig | None,
    features: FeatureConfig | None = None,
    landmarks_world: np.ndarray | None = None,
    frame_ids: np.ndarray | None = None,
    centred_sigma: float = 0.0,
    fit_camera: bool = False,
    refine: LandmarkFit | None = None,
    linear_edges: bool = False,
    label_swaps: SwapConfig | None = None,
    flip_average: bool = False,
) -> TrackPrediction:
    """The generator on one track's landmarks, as the demo runs it, or frame by frame.

    Args:
        model: an open-stack generator (:func:`load_open_generator`).
        landmarks_img: ``(n, 33, 3)`` BlazePose pixels and visibility (NaN: no pose),
            the demo's ``landmarks_img``.
        bbox_cxcys: ``(n, 3)`` the demo's smoothed square boxes (centre, side), pixels.
        image_size: ``(W, H)``.
        windows: the demo's temporal windows; ``None``: every frame alone (the
            per-frame baseline, see the module doc).
        features: landmark preparation (default: the demo's).
        landmarks_world: ``(n, 33, 3)`` world landmarks, needed when the
            encoder uses them.
        frame_ids: ``(n,)`` the track's frames (default ``0..n-1``), for the clean-up.
        centred_sigma, fit_camera: the demo's offline clean-up
            (:mod:`vibe.pipeline.track_fit`); the defaults leave the network's output as it is.
            ``linear_edges``: that smoothing's edge handling (the demo's ``centred_linear_edges``).
        refine: fit the output to the landmarks first, as the demo's ``refine``
            (:func:`~vibe.pipeline.track_fit.fit_to_landmarks`, with the world
            landmarks when given; ``DemoConfig.landmark_fit``).
        label_swaps, flip_average: undo the landmarks' left/right swaps first, and
            average the network's answer with its mirror image's, as the demo's
            options of those names.
    """
    features = features or FeatureConfig()
    if label_swaps is not None:
        landmarks_img, landmarks_world = _unswapped(landmarks_img, landmarks_world, label_swaps)
    kp = keypoints_to_encoder_input(landmarks_img, bbox_cxcys, features, image_size=image_size)
    world = None
    if model.config.keypoint_encoder.use_world:
        if landmarks_world is None:
            raise ValueError("this checkpoint's encoder needs the world landmarks")
        world = torch.as_tensor(landmarks_world, dtype=torch.float32)
    pose_rotmat, shape, cam = regress_features(model, track_features(model, kp, world, mirrored=flip_average), windows)
    ids = np.arange(len(kp)) if frame_ids is None else np.asarray(frame_ids)
    if refine is not None:
        pose_rotmat, shape, cam, _ = fit_to_landmarks(model.body, pose_rotmat, shape, cam, kp, landmarks_world, refine)
    if centred_sigma > 0:
        pose_rotmat, shape, cam = smooth_track(pose_rotmat, shape, cam, ids, centred_sigma, linear_edges)
    body = model.body
    posed = body(pose_rotmat.to(body.dtype), shape.to(body.dtype))
    joints3d = body.keypoints(posed, model.config.keypoint_set).double().numpy()
    w, h = image_size
    box = np.asarray(bbox_cxcys, dtype=np.float64).copy()
    box[:, 2] *= features.box_scale  # the crop camera's [-1, 1] spans box_scale × the box side
    cam_crop = cam.double().numpy()
    if fit_camera:
        # With the keypoints the landmark fit uses, as the demo (where BlazePose puts its landmarks).
        model_set = model.config.keypoint_set
        name = camera_keypoint_set(body, refine.smplify.keypoint_set, model_set) if refine is not None else model_set
        points = body.keypoints(posed, name).double().numpy()
        cam_crop = fit_track_camera(points, kp.numpy(), cam_crop, ids, centred_sigma, linear_edges=linear_edges)
    cam_image = crop_cam_to_image_cam(cam_crop, box, w, h)
    return TrackPrediction(
        pose_rotmat=pose_rotmat.double().numpy(),
        shape=shape.double().numpy(),
        cam_crop=cam_crop,
        joints2d_img=image_cam_to_pixels(joints3d, cam_image, w, h),
    )
