"""AMASS clips (``.npz`` with SMPL / SMPL+H parameters) → SMPL body pose rotations.

An AMASS file holds ``poses`` ``(T, 156)`` (SMPL+H: root + 21 body joints +
2 × 15 hand joints, axis-angle) or ``(T, 72)`` (SMPL), ``betas`` (16 or 10),
``trans`` ``(T, 3)``, ``mocap_framerate`` (``mocap_frame_rate`` in SMPL-X
releases) and ``gender``. SMPL's 24 joints are the first 22 SMPL+H joints
plus the two hands (SMPL joints 22 and 23): they are kept from a 72-D pose and
set to identity for a 156-D one, whose finger rotations have no SMPL
counterpart. AMASS coordinates are **z up** (metres): `AmassClip.to_motion`
keeps them, `AmassClip.to_template_motion` (what the importers use) turns
them y up on a generic skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import roma
import torch

from vibe.body.smpl import SMPL_JOINT_NAMES
from vibe.data.mocap.skeleton import Motion, Skeleton

SMPL_NUM_JOINTS = 24
SMPLH_NUM_BODY_JOINTS = 22  # root + 21 body joints, shared by SMPL, SMPL+H and SMPL-X

# SMPL's kinematic tree (parent of each of SMPL_JOINT_NAMES), a fixed fact of the model.
SMPL_PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
)


# A generic adult, 1.75 m tall, in SMPL's rest T-pose: joint positions in metres,
# y up, facing +z, left side at +x, floor at y = 0, written for this project from
# textbook segment-length ratios of body height (thigh 0.245, shank 0.246, upper
# arm 0.186, forearm 0.146, shoulder height 0.818, hip width 0.1), not taken from
# the SMPL model. Used only when a clip's own skeleton is unknown
# (`AmassClip.to_template_motion`).
SMPL_TEMPLATE_TPOSE_M: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, 0.99, -0.01),
    "spine1": (0.0, 1.08, -0.02),
    "spine2": (0.0, 1.20, -0.01),
    "spine3": (0.0, 1.26, 0.0),
    "neck": (0.0, 1.47, -0.02),
    "head": (0.0, 1.58, 0.01),
    **{
        f"{side}_{joint}": (sign * x, y, z)
        for side, sign in (("left", 1.0), ("right", -1.0))
        for joint, (x, y, z) in {
            "hip": (0.088, 0.93, 0.0), "knee": (0.095, 0.50, 0.01), "ankle": (0.095, 0.07, -0.03),
            "foot": (0.11, 0.02, 0.10), "collar": (0.08, 1.42, -0.01), "shoulder": (0.19, 1.43, -0.02),
            "elbow": (0.516, 1.43, -0.03), "wrist": (0.77, 1.43, -0.03), "hand": (0.85, 1.43, -0.03),
        }.items()
    },
}  # fmt: skip


@dataclass
class AmassClip:
    """SMPL parameters of one AMASS clip (AMASS world frame: z up, metres).

    Attributes:
        pose_rotmat: ``(T, 24, 3, 3)`` SMPL local joint rotations, root first.
        betas: ``(10,)`` SMPL shape (the first ten of the file's betas).
        transl: ``(T, 3)`` SMPL ``transl``, metres.
        fps: capture frame rate.
        gender: ``"male"``, ``"female"`` or ``"neutral"``.
        name: clip name (file stem).
    """

    pose_rotmat: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    fps: float
    gender: str
    name: str = ""

    def to_motion(self) -> Motion:
        """This clip as a `Motion` on the SMPL joint tree.

        The rest offsets of an SMPL body come from the (licensed) model and the
        betas, so they are NaN here: forward kinematics needs a body model.
        ``root_transl`` is SMPL's ``transl``; betas and gender go to ``meta``.
        """
        skeleton = Skeleton(
            joint_names=list(SMPL_JOINT_NAMES),
            parents=SMPL_PARENTS,
            offsets=np.full((SMPL_NUM_JOINTS, 3), np.nan),
        )
        meta = {"format": "amass", "body_model": "smpl", "betas": self.betas, "gender": self.gender,
                "up_axis": "z"}  # fmt: skip
        return Motion(skeleton, self.pose_rotmat, self.transl, fps=self.fps, name=self.name, meta=meta)


    def to_template_motion(self) -> Motion:
        """This clip on a generic adult SMPL-tree skeleton, y up, feet on the floor (y = 0).

        Without the (licensed) SMPL model the clip's own bone offsets are
        unknown; `SMPL_TEMPLATE_TPOSE_M` stands in for them, so joint
        positions are those of an average adult doing the clip's rotations
        (meant for the IK route onto another body, which matches joint
        positions). The z-up world is turned y up (``(x, y, z) → (x, z, −y)``)
        and the clip is lifted so that its lowest ankle or ball-of-foot joint
        is as high above the floor as in the template's rest pose.
        """
        z_to_y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
        rest = np.array([SMPL_TEMPLATE_TPOSE_M[n] for n in SMPL_JOINT_NAMES])
        offsets = rest - rest[np.maximum(SMPL_PARENTS, 0)]
        offsets[0] = 0.0
        skeleton = Skeleton(list(SMPL_JOINT_NAMES), SMPL_PARENTS, offsets)
        local = self.pose_rotmat.copy()
        local[:, 0] = z_to_y @ local[:, 0]
        motion = Motion(skeleton, local, self.transl @ z_to_y.T, fps=self.fps, name=self.name)
        feet = [SMPL_JOINT_NAMES.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
        lift = rest[feet, 1].min() - motion.joints()[:, feet, 1].min()
        motion.root_transl[:, 1] += lift
        motion.meta.update(format="amass", body_model="smpl-template", betas=self.betas, gender=self.gender,
                           up_axis="y")  # fmt: skip
        return motion


def _first(data: dict, *keys: str):
    """The value of the first key present in ``data`` (``KeyError`` if none)."""
    for key in keys:
        if key in data:
            return data[key]
    raise KeyError(f"none of {keys} in AMASS file (has {sorted(data)})")


def load_amass(path: Path | str, num_betas: int = 10) -> AmassClip:
    """Read an AMASS ``.npz``.

    Args:
        path: the ``.npz`` file.
        num_betas: betas to keep (zero-padded if the file has fewer).

    Returns:
        The clip; ``pose_rotmat`` is ``(T, 24, 3, 3)`` float64.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    poses = np.asarray(data["poses"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] % 3 or poses.shape[1] < 3 * SMPLH_NUM_BODY_JOINTS:
        raise ValueError(f"AMASS poses must be (T, 3K) with K >= 22, got {poses.shape}")
    num_frames = poses.shape[0]
    pose_aa = np.zeros((num_frames, SMPL_NUM_JOINTS, 3))
    if poses.shape[1] == 3 * SMPL_NUM_JOINTS:  # plain SMPL: its hand joints are real
        pose_aa[:] = poses.reshape(num_frames, SMPL_NUM_JOINTS, 3)
    else:
        pose_aa[:, :SMPLH_NUM_BODY_JOINTS] = poses[:, : 3 * SMPLH_NUM_BODY_JOINTS].reshape(num_frames, -1, 3)
    pose_rotmat = roma.rotvec_to_rotmat(torch.from_numpy(pose_aa)).numpy()

    betas = np.zeros(num_betas)
    file_betas = np.asarray(data.get("betas", np.zeros(0)), dtype=np.float64).reshape(-1)[:num_betas]
    betas[: file_betas.size] = file_betas
    transl = np.asarray(_first(data, "trans", "transl"), dtype=np.float64).reshape(num_frames, 3)
    fps = float(np.asarray(_first(data, "mocap_framerate", "mocap_frame_rate")))
    gender = np.asarray(data.get("gender", "neutral")).reshape(-1)[0]
    gender = gender.decode() if isinstance(gender, bytes) else str(gender)
    return AmassClip(pose_rotmat, betas, transl, fps, gender.strip().lower(), name=path.stem)
