"""Readers of the original release's preprocessed "db" files (the ``smpl`` stack's training data).

Each file is a dict of per-frame arrays, all frames of all videos concatenated
(DESIGN §4). Layouts read here:

=================  ===========================================================
file               keys (``N`` frames)
=================  ===========================================================
3DPW (joblib)      ``vid_name``, ``frame_id``, ``joints3D (N, 14, 3)`` m,
                   ``joints2D (N, 14, 3)`` px + confidence, ``shape (N, 10)``,
                   ``pose (N, 72)`` axis-angle, ``bbox (N, 4)`` (cx, cy, w, h) px,
                   ``img_name``, ``features (N, 2048)``, optional ``valid (N,)``
MPI-INF-3DHP       ``joints2D (N, 49, 3)`` px, ``joints3D (N, 49, 3)`` m (spin49
(joblib)           order), ``bbox``, ``vid_name``, ``frame_id``, ``img_name``, ``features``
InstaVariety (h5)  ``vid_name`` (bytes), ``frame_id``, ``joints2D (N, 25, 3)``
                   already in 224-px crop coordinates, ``features``
AMASS (joblib)     ``theta (N, 82)`` = SMPL pose 72 (axis-angle) + betas 10, ``vid_name``
=================  ===========================================================

Everything is converted to the generator's conventions once, on load:
2D keypoints become ``spin49`` slots in the crop's ``[-1, 1]`` (the original
crops the box at scale 1.2: ``x' = (x − cx) / (1.2 · w / 2)``, the same for
``y`` with ``h``), joints missing from a set get confidence 0; 3D joints
become ``spin49`` slots (the 14 evaluation joints are slots 25–38, which the
3D loss and the metrics read). :meth:`FrameSet.window_arrays` gives windows
as plain arrays (poses still axis-angle, a file-boundary format); the trainer
(``FrameSetSource``) makes batches of them, poses as
rotation matrices. AMASS motion comes out as rotation matrices.

Windows of ``seqlen`` frames never cross a video: a window lies within one run
of equal consecutive ``vid_name``.

joblib files are read without running pickled code, through
:func:`vibe.io.joblib_arrays.load_joblib_arrays` (numpy arrays only; object
arrays refused). InstaVariety needs ``h5py`` (the ``datasets``
extra).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vibe.body.joint_sets import SPIN49 as SPIN49_NAMES
from vibe.body.joint_sets import indices_of
from vibe.geometry.rotations import axis_angle_to_rotmat
from vibe.io.joblib_arrays import load_joblib_arrays

__all__ = [
    "CROP_SCALE",
    "EVAL14_SLOTS",
    "INSTA25",
    "INSTA_TO_SPIN49",
    "read_db",
    "video_windows",
    "FrameSet",
    "load_threedpw",
    "load_mpii3d",
    "load_insta",
    "AmassMotion",
]

logger = logging.getLogger(__name__)

CROP_SCALE = 1.2  # the original's keypoint crop (transfrom_keypoints) enlarges the box by 1.2
SPIN49 = 49
EVAL14_SLOTS = slice(25, 39)  # spin49 slots of the 14 "common" joints (rankle … headtop)
# InstaVariety's 25 joints, in the db's order: OpenPose detections plus the head top.
INSTA25: tuple[str, ...] = (
    "op_right_heel", "op_right_knee", "op_right_hip", "op_left_hip", "op_left_knee", "op_left_heel",
    "op_right_wrist", "op_right_elbow", "op_right_shoulder", "op_left_shoulder", "op_left_elbow",
    "op_left_wrist", "op_neck", "head_top", "op_nose", "op_left_eye", "op_right_eye", "op_left_ear",
    "op_right_ear", "op_left_big_toe", "op_right_big_toe", "op_left_small_toe", "op_right_small_toe",
    "op_left_ankle", "op_right_ankle",
)  # fmt: skip
INSTA_TO_SPIN49: tuple[int, ...] = tuple(indices_of(SPIN49_NAMES, INSTA25))


def read_db(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays of a db file: joblib (``.pt``/``.pkl``, restricted unpickling) or HDF5 (``.h5``).

    Raises:
        ImportError: an ``.h5`` file without ``h5py`` installed.
        pickle.UnpicklingError: the joblib file holds anything but arrays.
    """
    path = Path(path)
    if path.suffix in (".h5", ".hdf5"):
        try:
            import h5py
        except ImportError as exc:
            raise ImportError(
                f"{path}: reading InstaVariety's HDF5 db needs h5py, which is not installed: pip install h5py (the 'datasets' extra)"
            ) from exc
        with h5py.File(path, "r") as f:
            return {key: np.asarray(f[key]) for key in f.keys()}
    data = load_joblib_arrays(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict of arrays, got {type(data).__name__}")
    return {str(k): np.asarray(v) for k, v in data.items()}


def _names(vid_name: np.ndarray) -> np.ndarray:
    """``vid_name`` as str (h5 stores bytes)."""
    vid_name = np.asarray(vid_name)
    if vid_name.dtype.kind == "S":
        return np.char.decode(vid_name, "utf-8")
    return vid_name.astype(str)


def video_windows(vid_name: np.ndarray, seqlen: int, stride: int | None = None) -> np.ndarray:
    """Start rows ``(W,)`` of every ``seqlen``-frame window inside one run of equal ``vid_name`` (``stride`` apart, default ``seqlen``)."""
    stride = seqlen if stride is None else stride
    names = _names(vid_name)
    if names.size == 0:
        return np.zeros(0, dtype=np.int64)
    bounds = np.flatnonzero(names[1:] != names[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [names.size]])
    rows = [np.arange(s, e - seqlen + 1, stride) for s, e in zip(starts, ends) if e - s >= seqlen]
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)


def normalize_to_crop(joints2d_px: np.ndarray, bbox_cxcywh: np.ndarray, scale: float = CROP_SCALE) -> np.ndarray:
    """Pixels ``(N, K, 2)`` → the ``[-1, 1]`` coordinates of each frame's box ``(N, 4)`` ``(cx, cy, w, h)`` enlarged by ``scale``."""
    center = bbox_cxcywh[:, None, :2]
    half = scale * bbox_cxcywh[:, None, 2:4] / 2.0
    return (joints2d_px - center) / half


def _to_spin49(values: np.ndarray, slots) -> np.ndarray:
    """Place ``(N, K, C)`` joints into ``spin49`` slots ``(N, 49, C)``; the rest are zero (confidence 0)."""
    out = np.zeros((values.shape[0], SPIN49, values.shape[2]), dtype=np.float32)
    out[:, slots] = values
    return out


@dataclass
class FrameSet:
    """Per-frame training data of one db file in the generator's conventions.

    Attributes:
        name: for messages.
        features: ``(N, F)`` precomputed features.
        kp_2d: ``(N, 49, 3)`` spin49 crop coordinates ``[-1, 1]`` + confidence.
        vid_name: ``(N,)`` video of each frame.
        kp_3d: ``(N, 49, 3)`` spin49 joints in metres, or ``None``.
        has_3d: ``(N,)`` bool, or ``None`` (= all frames when ``kp_3d`` is given).
        pose_aa: ``(N, 72)`` SMPL axis-angle, or ``None``.
        shape: ``(N, 10)`` SMPL betas, or ``None``.
    """

    name: str
    features: np.ndarray
    kp_2d: np.ndarray
    vid_name: np.ndarray
    kp_3d: np.ndarray | None = None
    has_3d: np.ndarray | None = None
    pose_aa: np.ndarray | None = None
    shape: np.ndarray | None = None

    def windows(self, seqlen: int, stride: int | None = None) -> np.ndarray:
        """Start rows of the windows within one video (see :func:`video_windows`)."""
        return video_windows(self.vid_name, seqlen, stride)

    def window_arrays(self, starts: np.ndarray, seqlen: int) -> dict[str, np.ndarray]:
        """The frames of the windows starting at rows ``starts (B,)``, stacked per window.

        Returns:
            ``features (B, T, F)`` and ``kp_2d (B, T, 49, 3)`` float32; with 3D
            joints also ``kp_3d (B, T, 49, 3)`` float32 and ``has_3d (B, T)``
            bool; with SMPL parameters also ``pose_aa (B, T, 72)``,
            ``shape (B, T, 10)`` float32 and ``has_body (B, T)`` bool (the
            ``has_3d`` mask: ``valid`` masks both).
        """
        rows = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(seqlen)
        f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
        out = {"features": f32(self.features[rows]), "kp_2d": f32(self.kp_2d[rows])}
        has = np.ones(rows.shape, bool) if self.has_3d is None else self.has_3d[rows].astype(bool)
        if self.kp_3d is not None:
            out["kp_3d"] = f32(self.kp_3d[rows])
            out["has_3d"] = has
        if self.pose_aa is not None and self.shape is not None:
            out["pose_aa"] = f32(self.pose_aa[rows])
            out["shape"] = f32(self.shape[rows])
            out["has_body"] = has.copy()
        return out


def _require(data: dict[str, np.ndarray], keys: tuple[str, ...], path: Path) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise KeyError(f"{path}: missing keys {missing}; has {sorted(data)}")


def load_threedpw(path: str | os.PathLike) -> FrameSet:
    """A 3DPW db (``3dpw_{train,val,test}_db.pt``): features, 2D/3D of the 14 joints, SMPL pose and shape.

    ``valid`` (when present) masks the 3D and SMPL targets of invalid frames.
    """
    path = Path(path)
    data = read_db(path)
    _require(data, ("vid_name", "joints3D", "joints2D", "shape", "pose", "bbox", "features"), path)
    kp2d = data["joints2D"].astype(np.float32)
    xy = normalize_to_crop(kp2d[..., :2], data["bbox"].astype(np.float32))
    kp2d = np.concatenate([xy, kp2d[..., 2:3]], axis=-1)
    valid = data["valid"].reshape(-1).astype(bool) if "valid" in data else None
    return FrameSet(
        name=path.name,
        features=data["features"],
        kp_2d=_to_spin49(kp2d, EVAL14_SLOTS),
        vid_name=_names(data["vid_name"]),
        kp_3d=_to_spin49(data["joints3D"][..., :3].astype(np.float32), EVAL14_SLOTS),
        has_3d=valid,
        pose_aa=data["pose"].astype(np.float32),
        shape=data["shape"].astype(np.float32),
    )


def load_mpii3d(path: str | os.PathLike) -> FrameSet:
    """An MPI-INF-3DHP training db (``mpii3d_train_db.pt``): features, spin49 2D and 3D, no SMPL."""
    path = Path(path)
    data = read_db(path)
    _require(data, ("vid_name", "joints3D", "joints2D", "bbox", "features"), path)
    kp2d = data["joints2D"].astype(np.float32)
    xy = normalize_to_crop(kp2d[..., :2], data["bbox"].astype(np.float32))
    return FrameSet(
        name=path.name,
        features=data["features"],
        kp_2d=np.concatenate([xy, kp2d[..., 2:3]], axis=-1),
        vid_name=_names(data["vid_name"]),
        kp_3d=data["joints3D"][..., :3].astype(np.float32),
    )


def load_insta(path: str | os.PathLike) -> FrameSet:
    """InstaVariety (``insta_train_db.h5``): features and 25 2D joints in 224-px crop coordinates (2D only)."""
    path = Path(path)
    data = read_db(path)
    _require(data, ("vid_name", "joints2D", "features"), path)
    kp2d = data["joints2D"].astype(np.float32)
    xy = kp2d[..., :2] / 112.0 - 1.0  # 224-px crop → [-1, 1]
    return FrameSet(
        name=path.name,
        features=data["features"],
        kp_2d=_to_spin49(np.concatenate([xy, kp2d[..., 2:3]], axis=-1), list(INSTA_TO_SPIN49)),
        vid_name=_names(data["vid_name"]),
    )


class AmassMotion:
    """Real SMPL motion for D_M from the AMASS db (``amass_db.pt``: ``theta (N, 82)``, ``vid_name``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        data = read_db(path)
        _require(data, ("theta", "vid_name"), path)
        if data["theta"].ndim != 2 or data["theta"].shape[1] != 82:
            raise ValueError(f"{path}: theta has shape {data['theta'].shape}, expected (N, 82)")
        self.pose_aa = data["theta"][:, :72].astype(np.float32)
        self.vid_name = _names(data["vid_name"])

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> torch.Tensor:
        """Rotations ``(B, T, 24, 3, 3)`` of ``batch`` random windows inside one sequence each."""
        starts = video_windows(self.vid_name, seqlen, stride=1)
        if starts.size == 0:
            raise ValueError(f"no AMASS sequence has {seqlen} frames")
        rows = starts[rng.integers(0, starts.size, size=batch)][:, None] + np.arange(seqlen)
        pose = torch.as_tensor(self.pose_aa[rows]).reshape(batch, seqlen, 24, 3)
        return axis_angle_to_rotmat(pose)
