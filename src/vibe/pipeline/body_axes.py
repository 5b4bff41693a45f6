"""Body axes from named keypoints (BlazePose's names): feet, their soles, the standing vertical, the centre of mass.

Arrays are keypoints ``(n, K, 3)`` in any metric frame (the world stage's camera
axes); the functions pick points by name, so they work for the network's body
and for MediaPipe's world landmarks alike (:mod:`vibe.pipeline.world`).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["centre_of_mass", "foot_keypoints", "posed_keypoints", "rest_feet", "sole_points", "standing_vertical"]


def foot_keypoints(names: list[str]) -> list[list[int]]:
    """Indices of each foot's contact keypoints (left, right): heel and toe, else the ankle.

    Raises:
        ValueError: the set has neither heels/toes nor ankles.
    """
    out = []
    for side in ("left", "right"):
        found = [names.index(n) for n in (f"{side}_heel", f"{side}_foot_index", f"{side}_big_toe") if n in names]
        if not found and f"{side}_ankle" in names:
            found = [names.index(f"{side}_ankle")]
        if not found:
            raise ValueError(f"keypoint set has no {side} heel, toe or ankle")
        out.append(found)
    return out


# Segment masses (shares of body mass, rounded from the usual anthropometric tables: head 8 %, trunk
# 50 %, upper arm 2.8 %, forearm and hand 2.2 %, thigh 10 %, shank 4.6 %, foot 1.4 %), each at the mean of
# its keypoints.
_SEGMENTS = ((0.08, ("nose",)), (0.50, ("left_shoulder", "right_shoulder", "left_hip", "right_hip")),
             (0.028, ("left_shoulder", "left_elbow")), (0.028, ("right_shoulder", "right_elbow")),
             (0.022, ("left_elbow", "left_wrist")), (0.022, ("right_elbow", "right_wrist")),
             (0.10, ("left_hip", "left_knee")), (0.10, ("right_hip", "right_knee")),
             (0.046, ("left_knee", "left_ankle")), (0.046, ("right_knee", "right_ankle")),
             (0.014, ("left_heel", "left_foot_index")), (0.014, ("right_heel", "right_foot_index")))  # fmt: skip


def centre_of_mass(points: np.ndarray, names: list[str]) -> np.ndarray | None:
    """``(n, 3)`` an approximate centre of mass of keypoints ``(n, K, 3)`` (None without BlazePose's names)."""
    if not all(n in names for _, seg in _SEGMENTS for n in seg):
        return None
    parts = [mass * points[:, [names.index(n) for n in seg]].mean(axis=1) for mass, seg in _SEGMENTS]
    return np.sum(parts, axis=0) / sum(mass for mass, _ in _SEGMENTS)


def standing_vertical(points: np.ndarray, names: list[str], lifted_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Standing foot → mid-shoulder of keypoints ``(n, K, 3)`` (BlazePose names): unit axis ``(n, 3)``
    (nan where undefined, e.g. landmarks not found) and length ``(n,)``.

    The lower end is the midpoint of both feet, or the lower foot alone where the other is
    more than ``lifted_m`` higher along the body (a raised foot is off the vertical: a
    person balancing with a knee up would otherwise lean back by tens of degrees).
    """
    feet = np.stack([points[:, idx].mean(axis=1) for idx in foot_keypoints(names)], axis=1)  # (n, 2, 3)
    shoulders = points[:, [names.index("left_shoulder"), names.index("right_shoulder")]].mean(axis=1)
    rough = shoulders - feet.mean(axis=1)
    heights = np.einsum("nfi,ni->nf", feet, rough) / np.maximum(np.linalg.norm(rough, axis=-1), 1e-6)[:, None]
    lower = np.where((heights[:, 0] <= heights[:, 1])[:, None], feet[:, 0], feet[:, 1])
    lifted = np.abs(heights[:, 0] - heights[:, 1]) > lifted_m
    axis = shoulders - np.where(lifted[:, None], lower, feet.mean(axis=1))
    length = np.nan_to_num(np.linalg.norm(axis, axis=-1))
    return np.where(length[:, None] > 1e-6, axis / np.maximum(length, 1e-6)[:, None], np.nan), length


@torch.no_grad()
def posed_keypoints(body, pose_rotmat: np.ndarray, shape: np.ndarray, keypoint_set: str) -> np.ndarray:
    """``(n, K, 3)`` float64 the keypoints of ``keypoint_set`` of the body posed with ``pose_rotmat`` ``(n, J, 3, 3)``
    and the mean of ``shape`` ``(n, S)`` (a track's shape is one), body frame (no translation: as
    ``results.npz``'s ``joints3d``); through :class:`~vibe.body.sparse_keypoints.SparseKeypoints` (no mesh)."""
    from vibe.body.sparse_keypoints import SparseKeypoints

    sparse = SparseKeypoints(body, (keypoint_set,))
    pose = torch.as_tensor(np.asarray(pose_rotmat), dtype=sparse.dtype, device=body.device)[None]
    mean_shape = torch.as_tensor(np.asarray(shape).mean(axis=0), dtype=sparse.dtype, device=body.device)[None]
    return sparse(pose, mean_shape).keypoints[keypoint_set][0].double().cpu().numpy()


@torch.no_grad()
def rest_feet(body, shape: np.ndarray, keypoint_set: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The body's rest root joint ``(3,)`` for ``shape`` ``(S,)``, and each foot keypoint's height above the sole.

    Returns:
        ``(root (3,), heights)``: ``heights[f]`` ``(k,)`` metres, the rest pose's
        :func:`foot_keypoints` of foot ``f`` above the lowest vertex (the skin keypoints sit
        above the sole: a heel about 3.5 cm, a toe about 1.5 cm).
    """
    names = body.keypoint_sets[keypoint_set]
    s = torch.as_tensor(shape, dtype=body.dtype, device=body.device).reshape(1, -1)
    out = body(body.rest_pose(1), s)
    keypoints = body.keypoints(out, keypoint_set)[0].double().cpu().numpy()
    lowest = float(out.vertices[0, :, 1].min())
    heights = [keypoints[idx, 1] - lowest for idx in foot_keypoints(names)]
    return out.joints[0, 0].double().cpu().numpy(), heights


def sole_points(
    points: np.ndarray, foot_index: list[list[int]], above_sole: list[np.ndarray], up: np.ndarray, lowest: bool = True
) -> np.ndarray:
    """``(n, F, 3)`` each foot's contact point on its sole: the mean of its keypoints, at its lowest sole height.

    A foot rests on the lowest point of its sole: the heel's on a heel strike, the
    toe's when the heel is up (the mean of heel and toe is then centimetres above the
    floor). Each keypoint of foot ``f`` in ``points`` ``(n, K, 3)`` has its sole
    ``above_sole[f] (k,)`` metres beneath it along ``up`` ``(3,)`` (unit); the point
    keeps the keypoints' mean across ``up`` (steady from frame to frame, for the
    no-sliding rows) and takes the lowest of those sole heights along it
    (``lowest=False``: their mean, the sole under a flat foot).
    """
    out = []
    for idx, heights in zip(foot_index, above_sole):
        keypoints = points[:, idx]  # (n, k, 3)
        mean = keypoints.mean(axis=1)
        soles = keypoints @ up - np.asarray(heights)[None]  # (n, k) each keypoint's sole height along up
        sole = soles.min(axis=1) if lowest else soles.mean(axis=1)
        out.append(mean + (sole - mean @ up)[:, None] * up)
    return np.stack(out, axis=1)
