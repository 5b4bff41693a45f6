"""The one map from detected 2D landmarks to the keypoint encoder's input.

Training (:mod:`vibe.data.synthetic`) and the demo both call
:func:`keypoints_to_encoder_input`, so the generator always sees landmarks
prepared the same way.

Input: landmarks in image pixels with MediaPipe's visibility, and the person's
square box per frame. At run time the box is the tracker's smoothed square
(:func:`vibe.pipeline.people.smooth_square_boxes` of the BlazePose detector's
pose region of interest); training simulates that box. Output per landmark:
``(x, y, visibility)`` with ``(x, y)`` in the box's ``[-1, 1]`` square,
exactly :func:`vibe.geometry.crops.normalize_points_to_crop` with the same
``scale`` — the coordinates the crop camera ``(s, tx, ty)`` and the 2D loss use.

Missing landmarks (visibility below ``min_visibility``, non-finite values,
or, when the image size is given, outside the image) become ``(0, 0, 0)``, as
:func:`vibe.models.keypoint_encoder.mask_missing` defines. Dropping points
outside the image here, in both paths, matters: MediaPipe extrapolates
landmarks beyond the frame with small but non-zero visibility, while the
synthetic data knows they are out of view.

World landmarks (MediaPipe's metric, hip-centred ``(K, 3)``) need no
preparation: the encoder masks them with the 2D visibility.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vibe.models.keypoint_encoder import mask_missing

__all__ = ["FeatureConfig", "keypoints_to_encoder_input"]


@dataclass(frozen=True)
class FeatureConfig:
    """How landmarks are prepared for the encoder (shared by training and the demo).

    Attributes:
        box_scale: the ``[-1, 1]`` square spans ``box_scale`` × the box side.
            1.0: the tracker's box (MediaPipe's pose region of interest, already
            1.25 × the body's radius around the mid-hip) is loose enough.
        min_visibility: landmarks below this visibility count as missing.
        drop_outside_image: landmarks outside the image count as missing.
    """

    box_scale: float = 1.0
    min_visibility: float = 0.0
    drop_outside_image: bool = True


def keypoints_to_encoder_input(
    landmarks_img: np.ndarray | torch.Tensor,
    bbox_cxcys: np.ndarray | torch.Tensor,
    config: FeatureConfig | float | None = None,
    image_size: tuple[float, float] | np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """Landmarks in pixels → the keypoint encoder's ``(x, y, visibility)`` in the box square.

    Args:
        landmarks_img: ``(..., T, K, 3)`` = x, y image pixels and visibility in
            ``[0, 1]``; NaN coordinates mark frames without a pose.
        bbox_cxcys: ``(..., T, 3)`` square boxes (centre x, centre y, side), pixels.
        config: preparation options (default :class:`FeatureConfig`); a
            number ``x`` means ``FeatureConfig(box_scale=x)``.
        image_size: ``(W, H)`` pixels, or ``(..., 2)`` per item (broadcast over
            ``T, K``); needed for ``drop_outside_image``, ignored when ``None``.

    Returns:
        ``(..., T, K, 3)`` float32 tensor: ``(x − cx, y − cy) / (box_scale·side / 2)``
        and visibility, missing points ``(0, 0, 0)``.
    """
    if config is None or isinstance(config, (int, float)):
        config = FeatureConfig() if config is None else FeatureConfig(box_scale=float(config))
    landmarks = torch.as_tensor(landmarks_img, dtype=torch.float64)
    boxes = torch.as_tensor(bbox_cxcys, dtype=torch.float64)
    xy, visibility = landmarks[..., :2], landmarks[..., 2].clone()
    half = config.box_scale * boxes[..., None, 2:3] / 2.0  # (..., T, 1, 1)
    xy_box = (xy - boxes[..., None, :2]) / half

    missing = visibility < config.min_visibility
    if config.drop_outside_image and image_size is not None:
        size = torch.as_tensor(image_size, dtype=torch.float64)
        size = size.reshape(*size.shape[:-1], *(1,) * (landmarks.dim() - size.dim()), 2)
        outside = ((xy < 0) | (xy > size)).any(-1)
        missing = missing | outside
    visibility = torch.where(missing, torch.zeros_like(visibility), visibility)
    xy_box, visibility, _ = mask_missing(torch.cat([xy_box, visibility[..., None]], dim=-1))
    return torch.cat([xy_box, visibility[..., None]], dim=-1).float()
