"""World-grounded motion metrics, as WHAM (Shin et al., CVPR 2024) reports them, on numpy arrays.

Inputs are joints over time ``(T, J, 3)`` in metres, the prediction in any
frame (its own world, or the camera's) and the ground truth in a y-up world;
the alignments below put the prediction in the ground truth's frame first.

- **W-MPJPE** (per chunk of ``chunk`` frames): mean joint error after a rigid
  alignment (rotation + translation, no scale) fitted on the chunk's first
  two frames only, so drift over the chunk counts;
- **WA-MPJPE**: after a similarity alignment (with scale) fitted on the whole chunk;
- **RTE**: root trajectory error after a rigid alignment of the whole root
  trajectory, as a percentage of the distance the ground-truth root travels;
- **root drift**: the largest distance between the root's displacement from
  the first frame, predicted (rotated by the W alignment of the first chunk)
  and true;
- **foot sliding**: mean displacement of a foot between consecutive frames
  in which the ground truth says that foot is in contact (cm per frame);
- **jitter**: mean jerk, the third difference of the joints over time
  (``m/s³``; WHAM's tables give it in 10 m/s³).
"""

from __future__ import annotations

import numpy as np

from vibe.geometry.contacts import centred_speed

__all__ = [
    "similarity_align",
    "w_mpjpe",
    "wa_mpjpe",
    "root_trajectory_error",
    "root_drift",
    "foot_sliding",
    "jitter",
    "ground_truth_contacts",
    "chunk_starts",
]


def similarity_align(source: np.ndarray, target: np.ndarray, scale: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R, t)`` minimising ``Σ |s R x + t − y|²`` over points ``(N, 3)`` (Umeyama); ``scale=False``: s = 1."""
    mu_x, mu_y = source.mean(0), target.mean(0)
    x, y = source - mu_x, target - mu_y
    u, sing, vt = np.linalg.svd(y.T @ x)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ np.diag(d) @ vt
    s = float((sing * d).sum() / (x**2).sum()) if scale else 1.0
    return s, rot, mu_y - s * rot @ mu_x


def _apply(s: float, rot: np.ndarray, t: np.ndarray, points: np.ndarray) -> np.ndarray:
    return s * points @ rot.T + t


def chunk_starts(num_frames: int, chunk: int) -> list[int]:
    """Starts of the non-overlapping chunks of ``chunk`` frames; a shorter clip is one chunk."""
    if num_frames <= chunk:
        return [0]
    return list(range(0, num_frames - chunk + 1, chunk))


def w_mpjpe(pred: np.ndarray, gt: np.ndarray, chunk: int = 100) -> float:
    """W-MPJPE in metres over chunks of ``(T, J, 3)`` (module doc)."""
    errors = []
    for lo in chunk_starts(len(gt), chunk):
        p, g = pred[lo : lo + chunk], gt[lo : lo + chunk]
        s, rot, t = similarity_align(p[:2].reshape(-1, 3), g[:2].reshape(-1, 3), scale=False)
        errors.append(np.linalg.norm(_apply(s, rot, t, p) - g, axis=-1).mean())
    return float(np.mean(errors))


def wa_mpjpe(pred: np.ndarray, gt: np.ndarray, chunk: int = 100) -> float:
    """WA-MPJPE in metres over chunks of ``(T, J, 3)`` (module doc)."""
    errors = []
    for lo in chunk_starts(len(gt), chunk):
        p, g = pred[lo : lo + chunk], gt[lo : lo + chunk]
        s, rot, t = similarity_align(p.reshape(-1, 3), g.reshape(-1, 3), scale=True)
        errors.append(np.linalg.norm(_apply(s, rot, t, p) - g, axis=-1).mean())
    return float(np.mean(errors))


def root_trajectory_error(pred_root: np.ndarray, gt_root: np.ndarray) -> float:
    """RTE in percent of the true distance travelled, roots ``(T, 3)`` (NaN when it barely moves, < 0.5 m)."""
    travelled = np.linalg.norm(np.diff(gt_root, axis=0), axis=-1).sum()
    if travelled < 0.5:
        return float("nan")
    s, rot, t = similarity_align(pred_root, gt_root, scale=False)
    return float(100.0 * np.linalg.norm(_apply(s, rot, t, pred_root) - gt_root, axis=-1).mean() / travelled)


def root_drift(pred_joints: np.ndarray, gt_joints: np.ndarray, pred_root: np.ndarray, gt_root: np.ndarray) -> float:
    """Largest error of the root's displacement from frame 0 (metres), rotation from the W alignment of frames 0–1."""
    _, rot, _ = similarity_align(pred_joints[:2].reshape(-1, 3), gt_joints[:2].reshape(-1, 3), scale=False)
    moved_pred = (pred_root - pred_root[0]) @ rot.T
    return float(np.linalg.norm(moved_pred - (gt_root - gt_root[0]), axis=-1).max())


def ground_truth_contacts(
    feet_world: np.ndarray, floor_y: float, times_s: np.ndarray, max_height: float = 0.05, max_speed: float = 0.2
) -> np.ndarray:
    """``(T, F)`` bool: true feet ``(T, F, 3)`` (y up) under ``floor_y + max_height`` and slower than ``max_speed``."""
    low = feet_world[..., 1] - floor_y <= max_height
    return low & (centred_speed(feet_world, times_s) <= max_speed)


def foot_sliding(pred_feet: np.ndarray, contacts: np.ndarray) -> float:
    """Mean displacement (metres per frame) of feet ``(T, F, 3)`` between consecutive contact frames ``(T, F)``."""
    both = contacts[1:] & contacts[:-1]
    if not both.any():
        return float("nan")
    return float(np.linalg.norm(np.diff(pred_feet, axis=0), axis=-1)[both].mean())


def jitter(joints: np.ndarray, fps: float) -> float:
    """Mean jerk ``|x[t+3] − 3x[t+2] + 3x[t+1] − x[t]| · fps³`` of ``(T, J, 3)``, m/s³ (NaN under 4 frames)."""
    if len(joints) < 4:
        return float("nan")
    jerk = joints[3:] - 3 * joints[2:-1] + 3 * joints[1:-2] - joints[:-3]
    return float(np.linalg.norm(jerk, axis=-1).mean() * fps**3)
