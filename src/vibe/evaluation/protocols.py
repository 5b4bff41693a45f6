"""The paper's evaluation protocols: which frames, which joints, which metrics.

Every protocol runs the generator on non-overlapping windows of ``seqlen``
(16) frames that never cross a video (the tail of a video shorter than a
window is not evaluated, as in the original), and compares per-frame 3D
joints in metres. Errors are reported in millimetres (see :mod:`vibe.metrics`
for the exact definitions: mid-hip centring, per-frame similarity
Procrustes, un-aligned PVE, second differences for ACCEL).

Files read (``N`` frames of all videos concatenated, arrays only):

================  ============================================================
protocol          file and keys
================  ============================================================
``3dpw``          the original ``3dpw_test_db.pt`` (joblib): ``vid_name``,
                  ``features (N, 2048)``, ``joints3D (N, 14, 3)`` m (eval14
                  order), ``pose (N, 72)`` axis-angle with the camera-rotated
                  global orientation, ``shape (N, 10)``, optional ``valid (N,)``
``mpi-inf-3dhp``  the original ``mpii3d_val_db.pt`` (joblib; VIBE processed the
                  MPI-INF-3DHP *test* set under this name): ``vid_name``,
                  ``features``, ``joints3D (N, 49, 3)`` m in spin49 order (or
                  ``(N, 17, 3)`` already in :data:`MPII17` order), optional
                  ``valid`` or ``valid_i (N,)``
``h36m``          this project's layout (the VIBE release has no Human3.6M db):
                  ``.npz`` or joblib with ``vid_name``, ``features (N, 2048)``,
                  ``joints3D (N, 17, 3)`` m in :data:`~vibe.body.joint_sets.H36M17`
                  order or ``(N, 14, 3)`` in eval14 order, optional
                  ``frame_id``, ``valid`` and ``subject (N,)`` (integer); only
                  subjects 9 and 11 are evaluated, taken from ``subject`` or,
                  without it, from a ``S9_``/``S11_`` prefix of ``vid_name``
================  ============================================================

Instead of the db files, a folder may hold a dataset's own release layout
(3DPW ``sequenceFiles/test``, MPI-INF-3DHP ``mpi_inf_3dhp_test_set/TS1..6``,
Human3.6M ``S9``/``S11`` with ``MyPoseFeatures`` and ``Videos``): its readers
(:mod:`vibe.data.datasets.release_layouts`) select the frames, boxes and
ground truth as the original preprocessing does, and
:func:`release_eval_set` turns them, with features computed from the
crops, into the same :class:`EvalSet`.

Ground truth, as the original evaluation takes it: the 3D joints are the
db's ``joints3D`` (for 3DPW these were made by the preprocessing from the
neutral SMPL with the camera-rotated global orientation); PVE compares the
predicted mesh with the **neutral** SMPL posed by the db's ``pose`` and
``shape`` without translation (the original's ``compute_error_verts``), so
the reference numbers are reproduced; 3DPW's per-subject gender is not used.
Predicted joints are ``J_regressor_h36m`` on the predicted vertices, then
:data:`~vibe.body.joint_sets.H36M17_TO_EVAL14` (14 joints) or
:data:`H36M17_TO_MPII17` (17 joints).

Frames with ``valid == 0`` are left out of every mean; an ACCEL entry needs
its three frames valid. ACCEL/ACCEL_ERR are computed per video over its
evaluated (consecutive) frames; the original concatenates all videos, which
adds a few second differences across video boundaries (a negligible
difference on the full sets, but not a meaningful quantity).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vibe import metrics
from vibe.body.joint_sets import EVAL14, H36M17_TO_EVAL14, SPIN49_TO_EVAL14
from vibe.data.datasets.release_frames import ReleaseFrames
from vibe.data.datasets.vibe_db import read_db, video_windows
from vibe.geometry.rotations import axis_angle_to_rotmat

__all__ = [
    "MPII17",
    "H36M17_TO_MPII17",
    "SPIN49_TO_MPII17",
    "Protocol",
    "EvalSet",
    "PROTOCOLS",
    "get_protocol",
    "read_eval_set",
    "smpl_eval_joints",
    "release_eval_set",
    "evaluation_windows",
    "window_rows",
    "compute_metrics",
]

logger = logging.getLogger(__name__)

# MPI-INF-3DHP's 17 evaluation joints as SPIN evaluates them: the 14 common joints, then pelvis, spine, head.
MPII17: tuple[str, ...] = (*EVAL14, "pelvis", "spine", "head")
H36M17_TO_MPII17: tuple[int, ...] = (*H36M17_TO_EVAL14, 0, 7, 9)
SPIN49_TO_MPII17: tuple[int, ...] = (*SPIN49_TO_EVAL14, 39, 41, 43)  # pelvis_mpii, spine_h36m, head_h36m


@dataclass(frozen=True)
class Protocol:
    """One benchmark protocol.

    Attributes:
        name: key in :data:`PROTOCOLS` and in result files.
        title: the dataset as papers name it.
        default_file: db file name looked up under the data root.
        joints: ``"eval14"`` or ``"mpii17"``; the predicted joints are
            ``J_regressor_h36m`` output rows ``H36M17_TO_EVAL14`` / ``H36M17_TO_MPII17``.
        metrics: reported metric keys (see :func:`compute_metrics`).
        seqlen: window length; windows are non-overlapping.
        subjects: only these subjects are evaluated (``None``: all).
    """

    name: str
    title: str
    default_file: str
    joints: str
    metrics: tuple[str, ...]
    seqlen: int = 16
    subjects: tuple[int, ...] | None = None

    @property
    def h36m_rows(self) -> tuple[int, ...]:
        """Rows of the 17-joint H36M regressor output that form this protocol's joints."""
        return H36M17_TO_EVAL14 if self.joints == "eval14" else H36M17_TO_MPII17


PROTOCOLS: dict[str, Protocol] = {
    "3dpw": Protocol(
        "3dpw", "3DPW (test)", "3dpw_test_db.pt", "eval14", ("pa_mpjpe", "mpjpe", "pve", "accel", "accel_err")
    ),
    "mpi-inf-3dhp": Protocol(
        "mpi-inf-3dhp", "MPI-INF-3DHP (test)", "mpii3d_val_db.pt", "mpii17", ("pa_mpjpe", "mpjpe", "pck", "auc")
    ),
    "h36m": Protocol(
        "h36m", "Human3.6M (S9, S11)", "h36m_test_db.npz", "eval14", ("pa_mpjpe", "mpjpe"), subjects=(9, 11)
    ),
}
_ALIASES = {"threedpw_test": "3dpw", "mpii3dhp_test": "mpi-inf-3dhp", "mpii3d": "mpi-inf-3dhp", "human36m": "h36m"}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (``3dpw``, ``mpi-inf-3dhp``, ``h36m`` or an alias such as ``threedpw_test``)."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in PROTOCOLS:
        raise ValueError(f"unknown evaluation dataset {name!r}; known: {sorted(PROTOCOLS)}")
    return PROTOCOLS[key]


@dataclass
class EvalSet:
    """The frames of one evaluation file, in the protocol's joints.

    Attributes:
        features: ``(N, F)`` precomputed per-frame features.
        vid_name: ``(N,)`` str, video of each frame (videos are contiguous runs).
        joints3d: ``(N, J, 3)`` ground-truth joints in metres (``J`` = 14 or 17).
        valid: ``(N,)`` bool, frames that count.
        pose_aa: ``(N, 72)`` SMPL axis-angle for PVE, or ``None``.
        shape: ``(N, 10)`` SMPL betas for PVE, or ``None``.
    """

    features: np.ndarray
    vid_name: np.ndarray
    joints3d: np.ndarray
    valid: np.ndarray
    pose_aa: np.ndarray | None = None
    shape: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.vid_name.shape[0])

    def subset(self, keep: np.ndarray) -> "EvalSet":
        """The frames where ``keep (N,)`` is True, in order."""
        pick = lambda a: None if a is None else a[keep]  # noqa: E731
        return EvalSet(
            self.features[keep], self.vid_name[keep], self.joints3d[keep], self.valid[keep],
            pick(self.pose_aa), pick(self.shape),
        )  # fmt: skip


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """``.npz`` (no pickles) or the original joblib/HDF5 db files (:func:`read_db`)."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    return read_db(path)


def _str_names(vid_name: np.ndarray) -> np.ndarray:
    vid_name = np.asarray(vid_name).reshape(-1)
    return np.char.decode(vid_name, "utf-8") if vid_name.dtype.kind == "S" else vid_name.astype(str)


def _valid(data: dict[str, np.ndarray], n: int) -> np.ndarray:
    for key in ("valid", "valid_i"):
        if key in data:
            return np.asarray(data[key]).reshape(-1).astype(bool)
    return np.ones(n, dtype=bool)


def _target_joints(joints3d: np.ndarray, protocol: Protocol, path: Path) -> np.ndarray:
    """The file's ``joints3D (N, K, ≥3)`` → the protocol's ``(N, J, 3)``."""
    joints3d = np.asarray(joints3d, dtype=np.float32)[..., :3]
    k = joints3d.shape[1]
    if protocol.joints == "eval14":
        if k == 14:
            return joints3d
        if k == 17:
            return joints3d[:, list(H36M17_TO_EVAL14)]
        if k == 49:
            return joints3d[:, list(SPIN49_TO_EVAL14)]
    else:
        if k == 17:
            return joints3d
        if k == 49:
            return joints3d[:, list(SPIN49_TO_MPII17)]
    raise ValueError(f"{path}: joints3D has {k} joints; {protocol.name} reads {protocol.joints} from 14, 17 or 49")


def _subjects(data: dict[str, np.ndarray], names: np.ndarray, path: Path) -> np.ndarray | None:
    """Subject number per frame ``(N,)``, from ``subject`` or a ``S<k>_`` prefix of ``vid_name``; else ``None``."""
    if "subject" in data:
        return np.asarray(data["subject"]).reshape(-1).astype(np.int64)
    parsed = [re.match(r"S(\d+)[_\-/ ]", name) for name in names]
    if all(parsed):
        return np.array([int(m.group(1)) for m in parsed], dtype=np.int64)
    logger.warning("%s: no 'subject' key and no S<k>_ video names; evaluating every frame", path)
    return None


def read_eval_set(path: str | os.PathLike, protocol: Protocol) -> EvalSet:
    """Read an evaluation file in ``protocol``'s layout (see the module docstring).

    Raises:
        KeyError: a required key is missing.
        ValueError: arrays of the wrong shape.
    """
    path = Path(path)
    data = _read_arrays(path)
    required = ("vid_name", "features", "joints3D") + (("pose", "shape") if "pve" in protocol.metrics else ())
    missing = [k for k in required if k not in data]
    if missing:
        raise KeyError(f"{path}: missing keys {missing}; has {sorted(data)}")
    names = _str_names(data["vid_name"])
    n = names.shape[0]
    features = np.asarray(data["features"])
    if features.shape[0] != n or features.ndim != 2:
        raise ValueError(f"{path}: features has shape {features.shape}, expected ({n}, F)")
    evalset = EvalSet(
        features=features,
        vid_name=names,
        joints3d=_target_joints(data["joints3D"], protocol, path),
        valid=_valid(data, n),
        pose_aa=np.asarray(data["pose"], dtype=np.float32) if "pve" in protocol.metrics else None,
        shape=np.asarray(data["shape"], dtype=np.float32)[:, :10] if "pve" in protocol.metrics else None,
    )
    if protocol.subjects is not None:
        subject = _subjects(data, names, path)
        if subject is not None:
            evalset = evalset.subset(np.isin(subject, protocol.subjects))
    logger.info("%s: %d frames of %d videos", path, len(evalset), np.unique(evalset.vid_name).size)
    return evalset


@torch.no_grad()
def smpl_eval_joints(
    body: Any, pose_aa: np.ndarray, shape: np.ndarray, rows: tuple[int, ...], batch: int = 256
) -> np.ndarray:
    """Ground-truth joints ``(N, J, 3)`` metres: ``J_regressor_h36m`` rows ``rows`` of ``body`` posed by
    ``pose_aa (N, 72)`` and ``shape (N, 10)``, no translation (3DPW's ground truth from its SMPL fits)."""
    out = []
    for start in range(0, pose_aa.shape[0], batch):
        pose = torch.as_tensor(pose_aa[start : start + batch], dtype=body.dtype, device=body.device)
        betas = torch.as_tensor(shape[start : start + batch], dtype=body.dtype, device=body.device)
        posed = body(axis_angle_to_rotmat(pose.reshape(-1, 24, 3)), betas)
        out.append(body.keypoints(posed, "h36m17")[:, list(rows)].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(rows), 3), np.float32)


def release_eval_set(
    frames: ReleaseFrames, features: np.ndarray, protocol: Protocol, gt_body: Any | None = None
) -> EvalSet:
    """The :class:`EvalSet` of frames read from a dataset's release layout, with their features ``(N, F)``.

    Ground-truth joints are the reader's (already in the protocol's joint
    order) or, for SMPL ground truth (3DPW), the neutral ``gt_body``'s
    ``J_regressor_h36m`` joints of the frames' pose and shape.

    Raises:
        ValueError: joints in another order than the protocol's, SMPL ground
            truth without ``gt_body``, or a feature count that differs from the frame count.
    """
    n = len(frames)
    if features.shape[0] != n:
        raise ValueError(f"{n} frames but {features.shape[0]} feature rows")
    if frames.joints3d is not None:
        if frames.joint_order != protocol.joints:
            raise ValueError(f"{frames.layout}: joints in {frames.joint_order} order; {protocol.name} needs {protocol.joints}")
        joints3d = np.asarray(frames.joints3d, dtype=np.float32)
    elif frames.pose_aa is not None and frames.shape is not None and gt_body is not None:
        joints3d = smpl_eval_joints(gt_body, frames.pose_aa, frames.shape, protocol.h36m_rows)
    else:
        raise ValueError(f"{frames.layout}: SMPL ground truth needs the neutral SMPL body (gt_body)")
    with_pve = "pve" in protocol.metrics
    evalset = EvalSet(
        features=features,
        vid_name=np.asarray(frames.vid_name).astype(str),
        joints3d=joints3d,
        valid=np.asarray(frames.valid, dtype=bool),
        pose_aa=frames.pose_aa if with_pve else None,
        shape=frames.shape if with_pve else None,
    )
    if protocol.subjects is not None and frames.subject is not None:
        evalset = evalset.subset(np.isin(frames.subject, protocol.subjects))
    return evalset


def evaluation_windows(vid_name: np.ndarray, seqlen: int = 16) -> np.ndarray:
    """Start rows ``(W,)`` of the non-overlapping ``seqlen``-frame windows inside each video."""
    return video_windows(vid_name, seqlen, stride=seqlen)


def window_rows(starts: np.ndarray, seqlen: int) -> np.ndarray:
    """Frame rows ``(W, seqlen)`` of the windows starting at ``starts (W,)``."""
    return np.asarray(starts, dtype=np.int64)[:, None] + np.arange(seqlen)


def _accel_per_video(
    pred: torch.Tensor, target: torch.Tensor, vid_name: np.ndarray, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ACCEL and ACCEL_ERR entries of every video's frame run, with their validity (all ``(M,)``)."""
    bounds = np.flatnonzero(vid_name[1:] != vid_name[:-1]) + 1
    accs, errs, masks = [], [], []
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(vid_name)]):
        if end - start < 3:
            continue
        accs.append(metrics.accel(pred[start:end]))
        errs.append(metrics.accel_error(pred[start:end], target[start:end]))
        masks.append(metrics.accel_valid_mask(valid[start:end]))
    if not accs:
        empty = torch.zeros(0)
        return empty, empty, empty.bool()
    return torch.cat(accs), torch.cat(errs), torch.cat(masks)


def compute_metrics(
    pred_joints: torch.Tensor,
    target_joints: torch.Tensor,
    vid_name: np.ndarray,
    valid: torch.Tensor | None = None,
    pve_mm: torch.Tensor | None = None,
    keys: tuple[str, ...] = ("pa_mpjpe", "mpjpe", "pve", "accel", "accel_err", "pck", "auc"),
) -> dict[str, float]:
    """Mean metrics over the evaluated frames.

    Args:
        pred_joints, target_joints: ``(N, J, 3)`` metres, the evaluated frames
            in video order (consecutive frames of one video are adjacent).
        vid_name: ``(N,)`` video of each frame; ACCEL never spans two videos.
        valid: ``(N,)`` bool, frames that count (default all).
        pve_mm: ``(N,)`` per-frame vertex error in mm (computed batch-wise by
            the caller, meshes being too large to keep), or ``None``.
        keys: which metrics to return; ``pve`` only when ``pve_mm`` is given.

    Returns:
        metric → value: mm (MPJPE, PA-MPJPE, PVE), mm/frame² (ACCEL,
        ACCEL_ERR), percent (PCK@150 mm, AUC over 0–150 mm). Joints are
        centred on the mid-hip (joints 2, 3) for MPJPE, ACCEL, PCK and AUC.
    """
    n = pred_joints.shape[0]
    valid = torch.ones(n, dtype=torch.bool) if valid is None else valid.bool()
    pred_c = metrics.center_on_pelvis(pred_joints)
    target_c = metrics.center_on_pelvis(target_joints)
    out: dict[str, float] = {}
    if "pa_mpjpe" in keys:
        out["pa_mpjpe"] = metrics.masked_mean(metrics.pa_mpjpe(pred_c, target_c), valid)
    if "mpjpe" in keys:
        out["mpjpe"] = metrics.masked_mean(metrics.mpjpe(pred_joints, target_joints), valid)
    if "pve" in keys and pve_mm is not None:
        out["pve"] = metrics.masked_mean(pve_mm, valid)
    if "accel" in keys or "accel_err" in keys:
        acc, err, acc_mask = _accel_per_video(pred_c, target_c, np.asarray(vid_name), valid)
        if "accel" in keys:
            out["accel"] = metrics.masked_mean(acc, acc_mask)
        if "accel_err" in keys:
            out["accel_err"] = metrics.masked_mean(err, acc_mask)
    if "pck" in keys:
        out["pck"] = metrics.masked_mean(metrics.pck(pred_joints, target_joints, 150.0), valid)
    if "auc" in keys:
        out["auc"] = metrics.masked_mean(metrics.auc(pred_joints, target_joints), valid)
    return out
