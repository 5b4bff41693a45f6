"""The person of ``assets/pose_1.mp4``: the 13 common joint names and their reference keypoints in ``pose_1.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# COCO's 17 body keypoints without eyes and ears, in COCO order: the joints that
# pose_1.json, MediaPipe's BlazePose and the detector's keypoints all name.
COCO13_NAMES: tuple[str, ...] = (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


def load_pose_1_keypoints() -> np.ndarray:
    """``(120, 13, 2)`` pixels of :data:`COCO13_NAMES` in every frame of ``assets/pose_1.json``."""
    data = json.loads((Path(__file__).resolve().parents[1] / "assets" / "pose_1.json").read_text())
    return np.array([[[f[n]["x"], f[n]["y"]] for n in COCO13_NAMES] for f in data])
