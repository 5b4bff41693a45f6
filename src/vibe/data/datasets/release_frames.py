"""What every reader of a dataset's own release layout returns: frames, boxes and ground truth.

The readers (:mod:`.threedpw`, :mod:`.mpi_inf_3dhp`, :mod:`.h36m`) turn the
files the dataset authors publish into :class:`ReleaseFrames`: one row per
evaluated frame, all videos concatenated (each video a contiguous run of
equal ``vid_name``), with where the image is, the square person box the
original preprocessing derived from the ground-truth 2D joints, and the 3D
ground truth. Features are computed from these rows afterwards (see
:mod:`vibe.evaluation.release_crops`), so a user with the datasets needs none of the
original preprocessed "db" files.

Boxes follow the original preprocessing, in two steps: a square *box*
``bbox_cxcys = (cx, cy, side)`` around the 2D joints, and the *crop* the
ResNet sees, ``crop_scale × side`` around the same centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import medfilt

__all__ = ["ReleaseFrames", "runs_of_equal", "square_box_around", "smooth_keypoint_boxes", "concat_frames"]

BOX_ENLARGE = 1.1  # the original's boxes are 1.1 × the joints' extent


@dataclass
class ReleaseFrames:
    """Frames of one evaluation set read from a release layout.

    Attributes:
        vid_name: ``(N,)`` str, the video of each frame (videos are contiguous runs).
        image_file: ``(N,)`` str, the image (or the video file) holding the frame.
        frame_index: ``(N,)`` int, the frame's index inside a video file; -1 for still images.
        bbox_cxcys: ``(N, 3)`` square person box (centre x, centre y, side), pixels.
        crop_scale: the ResNet crop spans ``crop_scale × side``.
        valid: ``(N,)`` bool, frames that count in the metrics.
        joints3d: ``(N, J, 3)`` ground-truth joints in metres, in the joint
            order named by ``joint_order`` (camera frame), or ``None`` when
            they come from ``pose_aa`` / ``shape`` through SMPL (3DPW).
        joint_order: ``"eval14"`` or ``"mpii17"`` (see :mod:`vibe.evaluation.protocols`), or ``None``.
        pose_aa: ``(N, 72)`` SMPL axis-angle with the camera-frame global orientation, or ``None``.
        shape: ``(N, 10)`` SMPL betas, or ``None``.
        subject: ``(N,)`` int subject number, or ``None``.
        layout: the release layout read, for messages and result files.
    """

    vid_name: np.ndarray
    image_file: np.ndarray
    frame_index: np.ndarray
    bbox_cxcys: np.ndarray
    crop_scale: float
    valid: np.ndarray
    joints3d: np.ndarray | None = None
    joint_order: str | None = None
    pose_aa: np.ndarray | None = None
    shape: np.ndarray | None = None
    subject: np.ndarray | None = None
    layout: str = field(default="")

    def __len__(self) -> int:
        return int(self.vid_name.shape[0])


def runs_of_equal(values: np.ndarray) -> list[slice]:
    """Slices of the maximal runs of equal consecutive entries of ``values (N,)`` (e.g. the videos of ``vid_name``)."""
    values = np.asarray(values)
    if values.size == 0:
        return []
    bounds = np.flatnonzero(values[1:] != values[:-1]) + 1
    return [slice(int(a), int(b)) for a, b in zip(np.r_[0, bounds], np.r_[bounds, values.size])]


def concat_frames(parts: list[ReleaseFrames]) -> ReleaseFrames:
    """One :class:`ReleaseFrames` from several with the same optional fields, crop scale and layout."""
    if not parts:
        raise ValueError("no frames to concatenate")
    first = parts[0]

    def cat(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        return None if values[0] is None else np.concatenate(values)

    return ReleaseFrames(
        vid_name=cat("vid_name"),
        image_file=cat("image_file"),
        frame_index=cat("frame_index"),
        bbox_cxcys=cat("bbox_cxcys"),
        crop_scale=first.crop_scale,
        valid=cat("valid"),
        joints3d=cat("joints3d"),
        joint_order=first.joint_order,
        pose_aa=cat("pose_aa"),
        shape=cat("shape"),
        subject=cat("subject"),
        layout=first.layout,
    )


def square_box_around(points_xy: np.ndarray, enlarge: float = BOX_ENLARGE) -> np.ndarray:
    """Square boxes ``(N, 3)`` around ``(N, K, 2)`` pixel points: the extent's centre, side ``enlarge × max(w, h)``."""
    points_xy = np.asarray(points_xy, dtype=np.float64)
    lo, hi = points_xy.min(axis=1), points_xy.max(axis=1)
    centre = (lo + hi) / 2.0
    side = enlarge * (hi - lo).max(axis=1)
    return np.concatenate([centre, side[:, None]], axis=1)


def _box_params(keypoints: np.ndarray, vis_thresh: float) -> np.ndarray:
    """Per frame ``(cx, cy, 150 / diagonal)`` of the visible joints' extent ``(T, 3)``; NaN rows where none."""
    out = np.full((keypoints.shape[0], 3), np.nan)
    for t, kp in enumerate(keypoints):
        visible = kp[:, 2] > vis_thresh
        if not visible.any():
            continue
        lo, hi = kp[visible, :2].min(axis=0), kp[visible, :2].max(axis=0)
        diagonal = float(np.linalg.norm(hi - lo))
        if diagonal < 0.5:  # a single point: no box
            continue
        out[t] = [*(lo + hi) / 2.0, 150.0 / diagonal]
    return out


def smooth_keypoint_boxes(
    keypoints: np.ndarray, vis_thresh: float = 0.3, kernel_size: int = 11, sigma: float = 8.0
) -> tuple[np.ndarray, int, int]:
    """Temporally smoothed square boxes from 2D joints, as the original 3DPW preprocessing makes them.

    Per frame: centre of the visible joints' extent and ``scale = 150 / ‖extent
    diagonal‖``; frames without a box between two with one are linearly
    interpolated; then a median filter (``kernel_size``, zero-padded as
    ``scipy.signal.medfilt``) and a Gaussian filter (``sigma`` frames) over
    time on ``(cx, cy, scale)``; side ``= 1.1 × 150 / scale``.

    Args:
        keypoints: ``(T, K, 3)`` x, y pixels and confidence.

    Returns:
        ``bbox_cxcys (end − start, 3)`` for frames ``start … end − 1``, the
        first and one past the last frame with a box; ``(0, 3), 0, 0`` when no
        frame has one.
    """
    params = _box_params(np.asarray(keypoints, dtype=np.float64), vis_thresh)
    found = np.flatnonzero(~np.isnan(params[:, 0]))
    if found.size == 0:
        return np.zeros((0, 3)), 0, 0
    start, end = int(found[0]), int(found[-1]) + 1
    params = params[start:end]
    frames = np.arange(end - start)
    have = ~np.isnan(params[:, 0])
    params = np.stack([np.interp(frames, frames[have], params[have, i]) for i in range(3)], axis=1)
    params = np.stack([medfilt(params[:, i], kernel_size) for i in range(3)], axis=1)
    params = np.stack([gaussian_filter1d(params[:, i], sigma) for i in range(3)], axis=1)
    side = BOX_ENLARGE * 150.0 / params[:, 2]
    return np.concatenate([params[:, :2], side[:, None]], axis=1), start, end
