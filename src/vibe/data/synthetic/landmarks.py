"""BlazePose-33 landmark groups the synthetic camera and noise model address (face, hands, feet, ...).

Indices into :data:`vibe.body.anny.BLAZEPOSE33`, and the left/right swap
permutations (MediaPipe confuses the sides of single limbs or of the whole body).
"""

from __future__ import annotations

import numpy as np

from vibe.body.anny import BLAZEPOSE33

__all__ = ["INDEX", "FACE", "EXTREMITIES", "HIPS", "HANDS", "FEET", "TORSO", "SWAP_GROUPS", "swap_permutation"]

# Landmark index by name, and the indices of each group.
INDEX = {name: k for k, name in enumerate(BLAZEPOSE33)}
FACE = [k for k, name in enumerate(BLAZEPOSE33) if k <= INDEX["mouth_right"]]
EXTREMITIES = [
    k
    for k, name in enumerate(BLAZEPOSE33)
    if any(p in name for p in ("wrist", "pinky", "index", "thumb", "ankle", "heel", "foot_index"))
]
HIPS = [INDEX["left_hip"], INDEX["right_hip"]]
_HAND_PARTS = ("wrist", "pinky", "_index", "thumb")  # "_index": not "foot_index"
HANDS = [k for k, name in enumerate(BLAZEPOSE33) if any(p in name for p in _HAND_PARTS) and "foot" not in name]
FEET = [k for k, name in enumerate(BLAZEPOSE33) if any(p in name for p in ("ankle", "heel", "foot_index"))]
TORSO = [INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
# Left/right swap groups: substrings of the landmark names each swap exchanges.
SWAP_GROUPS = {
    "arms": ("elbow", "wrist", "pinky", "left_index", "right_index", "thumb"),
    "legs": ("knee", "ankle", "heel", "foot_index"),
    "body": ("",),
}


def swap_permutation(parts: tuple[str, ...]) -> np.ndarray:
    """``(K,)`` landmark permutation exchanging left and right for names containing one of ``parts``."""
    perm = np.arange(len(BLAZEPOSE33))
    for k, name in enumerate(BLAZEPOSE33):
        if any(p in name for p in parts) and ("left" in name or "right" in name):
            other = name.replace("left", "#").replace("right", "left").replace("#", "right")
            perm[k] = INDEX[other]
    return perm
