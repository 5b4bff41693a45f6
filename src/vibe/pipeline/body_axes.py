"""Body axes from named keypoints (BlazePose's names): feet, the standing vertical, the centre of mass.

Arrays are keypoints ``(n, K, 3)`` in any metric frame (the world stage's camera
axes); the functions pick points by name, so they work for the network's body
and for MediaPipe's world landmarks alike (:mod:`vibe.pipeline.world`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["foot_keypoints", "centre_of_mass", "standing_vertical"]


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
