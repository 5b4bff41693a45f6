"""Names and orders of the keypoint sets the project reads, writes and evaluates on.

Pure data plus small index helpers, independent of any body model: a body
model (SMPL, Anny) says how it *produces* each set; this module says what the
sets *are*. Names are lower-case snake case; ``left``/``right`` are the
person's own sides.

- ``BODY25``: OpenPose BODY_25 order.
- ``COCO17``: MS-COCO keypoint order.
- ``H36M17``: order of the rows of the original release's ``J_regressor_h36m``
  (legs: left before right, arms: left before right; this is the order implied
  by the original 17 → 14 evaluation indices below).
- ``EVAL14``: the 14 LSP-style joints the paper's metrics are computed on.
- ``SPIN49``: the 49 keypoints of the original VIBE / SPIN output
  (``joints3d``, ``joints2d_img_coord``): BODY_25 (0–24), the 14 evaluation
  joints (25–38), pelvis/thorax (MPII), spine/jaw/head (H36M) (39–43) and the
  face points nose, eyes, ears (44–48).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BODY25",
    "COCO17",
    "H36M17",
    "EVAL14",
    "SPIN49",
    "H36M17_TO_EVAL14",
    "SPIN49_TO_EVAL14",
    "JOINT_SETS",
    "indices_of",
    "flip_permutation",
]

BODY25: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

COCO17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

H36M17: tuple[str, ...] = (
    "pelvis",
    "left_hip", "left_knee", "left_ankle",
    "right_hip", "right_knee", "right_ankle",
    "spine", "neck", "head", "head_top",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip

EVAL14: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip",
    "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top",
)  # fmt: skip

# The original evaluation picks these rows of the H36M regressor output.
H36M17_TO_EVAL14: tuple[int, ...] = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)

# The 49-joint set repeats BODY_25 names (OpenPose's estimate of a joint) and the
# ground-truth-style joints of the same anatomy; the prefix keeps names unique.
SPIN49: tuple[str, ...] = (
    tuple(f"op_{name}" for name in BODY25)
    + EVAL14
    + ("pelvis_mpii", "thorax_mpii", "spine_h36m", "jaw_h36m", "head_h36m")
    + ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
)

SPIN49_TO_EVAL14: tuple[int, ...] = tuple(range(25, 39))

JOINT_SETS: dict[str, tuple[str, ...]] = {
    "body25": BODY25,
    "coco17": COCO17,
    "h36m17": H36M17,
    "eval14": EVAL14,
    "spin49": SPIN49,
}


def indices_of(names: Sequence[str], subset: Sequence[str]) -> list[int]:
    """Positions of each name of ``subset`` inside ``names``.

    Use it to gather one set from another: ``x[..., indices_of(SPIN49, EVAL14), :]``
    turns ``(..., 49, D)`` into ``(..., 14, D)``.

    Raises:
        KeyError: naming every entry of ``subset`` that ``names`` lacks.
    """
    position = {name: i for i, name in enumerate(names)}
    missing = [name for name in subset if name not in position]
    if missing:
        raise KeyError(f"names not in the source set: {missing}")
    return [position[name] for name in subset]


def _mirror(name: str) -> str:
    """The left/right mirror of a keypoint (``left_wrist``, ``op_left_…``) or bone name
    (``LeftArm``, ``LHipJoint``); central names are their own mirror."""
    for a, b in (("left", "right"), ("right", "left")):
        for prefix in ("", "op_"):
            if name.startswith(f"{prefix}{a}_"):
                return f"{prefix}{b}_{name[len(prefix) + len(a) + 1:]}"
        if name.endswith(f"_{a}"):  # BlazePose's mouth_left / mouth_right
            return f"{name[: -len(a)]}{b}"
    for a, b in (("Left", "Right"), ("Right", "Left")):
        if name.startswith(a) and name[len(a) : len(a) + 1].isupper():
            return b + name[len(a) :]
    if len(name) > 1 and name[0] in "LR" and name[1].isupper():
        return {"L": "R", "R": "L"}[name[0]] + name[1:]
    return name


def flip_permutation(names: Sequence[str]) -> list[int]:
    """Index of the left/right mirror of every keypoint (itself for central ones).

    For a horizontally flipped image, ``x_flipped[..., flip_permutation(names), :]``
    restores the person's own left/right labelling. ``(K,)`` indices.
    """
    return indices_of(names, [_mirror(name) for name in names])
