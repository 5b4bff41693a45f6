"""3DPW in its own release layout: ``sequenceFiles/<split>/*.pkl`` and ``imageFiles/<seq>/image_%05d.jpg``.

Each sequence file is a Python-2 pickle (read with the project's restricted
unpickler, latin1) of a dict; the keys used here, for ``P`` people and
``F`` frames:

=================  =================  =======================================
key                per person         content
=================  =================  =======================================
``poses``          ``(F, 72)``        SMPL axis-angle, world frame root
``betas``          ``(≥10,)``         SMPL shape (first 10 used)
``poses2d``        ``(F, 3, 18)``     OpenPose COCO-18 joints: x, y px, confidence
``campose_valid``  ``(F,)``           the frame's camera pose (and 3D) is valid
``cam_poses``      ``(F, 4, 4)``      world → camera transform (shared by all people)
``img_frame_ids``  ``(F,)``           frame numbers (only its length is used)
``sequence``       str                the sequence name
=================  =================  =======================================

Ground truth as the original preprocessing builds the VIBE test db: the
global orientation is rotated into the camera, ``R_root ← R_cam · R_root``;
the 3D joints are the neutral SMPL's ``J_regressor_h36m`` joints of that pose
(computed later, :mod:`vibe.evaluation.protocols`); ``valid`` is
``campose_valid``. Each person is one video ``<sequence>_<person>``, limited
to the frames from the first to the last with a box (2D joints with
confidence > 0.3, :func:`~.release_frames.smooth_keypoint_boxes`); then
frames with at most 6 of the 12 limb joints above 0.3 confidence are left
out, as the original does. Features are taken from crops of 1.2 × the box.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import roma
import torch

from vibe.data.datasets.release_frames import ReleaseFrames, concat_frames, smooth_keypoint_boxes
from vibe.io.safe_pickle import load_pickle

__all__ = ["CROP_SCALE", "LIMB12_FROM_COCO18", "find_release_root", "read_sequence", "read_threedpw"]

logger = logging.getLogger(__name__)

CROP_SCALE = 1.2
VIS_THRESH = 0.3
MIN_VISIBLE = 6  # a frame needs more than this many confident limb joints
# COCO-18 (OpenPose) rows of the 12 limb joints in eval14 order: right ankle, knee, hip, left hip,
# knee, ankle, right wrist, elbow, shoulder, left shoulder, elbow, wrist.
LIMB12_FROM_COCO18: tuple[int, ...] = (10, 9, 8, 11, 12, 13, 4, 3, 2, 5, 6, 7)


def find_release_root(root: str | os.PathLike, split: str = "test") -> Path | None:
    """The folder holding ``sequenceFiles/<split>`` (``root`` or its ``3DPW``/``3dpw`` child), or ``None``."""
    root = Path(root)
    for candidate in (root, root / "3DPW", root / "3dpw"):
        if (candidate / "sequenceFiles" / split).is_dir():
            return candidate
    return None


def _camera_global_orient(pose_aa: np.ndarray, cam_rotmat: np.ndarray) -> np.ndarray:
    """``pose_aa (F, 72)`` with the root rotation premultiplied by the camera rotations ``(F, 3, 3)``."""
    pose = torch.as_tensor(pose_aa, dtype=torch.float64).clone()
    root = roma.rotvec_to_rotmat(pose[:, :3])
    pose[:, :3] = roma.rotmat_to_rotvec(torch.as_tensor(cam_rotmat, dtype=torch.float64) @ root)
    return pose.numpy()


def _poses2d(data: dict, path: Path) -> list:
    """The per-person OpenPose joints: ``poses2d``, or the one key starting with it in other releases."""
    keys = sorted(k for k in data if str(k).startswith("poses2d"))
    if not keys:
        raise KeyError(f"{path}: no poses2d key; has {sorted(map(str, data))}")
    return data[keys[0]]


def read_sequence(path: str | os.PathLike, image_root: str | os.PathLike) -> ReleaseFrames | None:
    """Every person of one sequence file as videos ``<sequence>_<person>``; ``None`` when no frame is kept.

    ``image_root`` is the ``imageFiles`` folder.
    """
    path = Path(path)
    data = load_pickle(path)
    name = str(data.get("sequence", path.stem))
    num_frames = len(data["img_frame_ids"])
    cam_rotmat = np.asarray(data["cam_poses"], dtype=np.float64)[:, :3, :3]
    images = np.array([str(Path(image_root) / name / f"image_{i:05d}.jpg") for i in range(num_frames)])
    poses2d = _poses2d(data, path)
    people = []
    for person, pose in enumerate(data["poses"]):
        keypoints = np.asarray(poses2d[person], dtype=np.float64).transpose(0, 2, 1)  # (F, 18, 3)
        boxes, start, end = smooth_keypoint_boxes(keypoints, VIS_THRESH)
        rows = np.arange(start, end)
        confident = (keypoints[rows][:, list(LIMB12_FROM_COCO18), 2] > VIS_THRESH).sum(axis=1)
        keep = confident > MIN_VISIBLE
        if not keep.any():
            continue
        rows = rows[keep]
        n = rows.size
        betas = np.asarray(data["betas"][person], dtype=np.float64)[:10]
        people.append(
            ReleaseFrames(
                vid_name=np.full(n, f"{name}_{person}"),
                image_file=images[rows],
                frame_index=np.full(n, -1, dtype=np.int64),
                bbox_cxcys=boxes[keep].astype(np.float32),
                crop_scale=CROP_SCALE,
                valid=np.asarray(data["campose_valid"][person]).reshape(-1)[rows].astype(bool),
                pose_aa=_camera_global_orient(np.asarray(pose)[rows], cam_rotmat[rows]).astype(np.float32),
                shape=np.repeat(betas[None].astype(np.float32), n, axis=0),
                layout="3DPW sequenceFiles",
            )
        )
    return concat_frames(people) if people else None


def read_threedpw(root: str | os.PathLike, split: str = "test") -> ReleaseFrames:
    """All sequences of ``split`` under a 3DPW release folder (see :func:`find_release_root`), sorted by name.

    Raises:
        FileNotFoundError: no ``sequenceFiles/<split>`` folder, or no ``.pkl`` in it.
        ValueError: no frame of any sequence has enough confident 2D joints.
    """
    found = find_release_root(root, split)
    if found is None:
        raise FileNotFoundError(f"{root}: no 3DPW sequenceFiles/{split} folder")
    files = sorted((found / "sequenceFiles" / split).glob("*.pkl"))
    if not files:
        raise FileNotFoundError(f"{found / 'sequenceFiles' / split}: no sequence .pkl files")
    parts = [p for p in (read_sequence(f, found / "imageFiles") for f in files) if p is not None]
    if not parts:
        raise ValueError(f"{found}: no frame with enough confident 2D joints")
    frames = concat_frames(parts)
    people = np.unique(frames.vid_name).size
    logger.info("3DPW %s: %d frames of %d people in %d sequences", split, len(frames), people, len(files))
    return frames
