"""MPI-INF-3DHP test set in its own release layout: ``mpi_inf_3dhp_test_set/TS1..TS6``.

Per sequence ``TS<k>``: ``annot_data.mat`` (MATLAB v7.3, i.e. HDF5, read with
``h5py``) and ``imageSequence/img_%06d.jpg`` (frame ``i`` is
``img_{i+1:06d}.jpg``). TS1–TS4 are studio sequences (2048 × 2048 images),
TS5–TS6 outdoor (1920 × 1080); the size is read from each sequence's first
image rather than assumed. Datasets used, as ``h5py`` shows them for
``N`` frames (MATLAB's axis order reversed):

==================  ===============  ==========================================
dataset             shape            content
==================  ===============  ==========================================
``annot2``          ``(N, 1, 17, 2)`` 2D joints, pixels
``univ_annot3``     ``(N, 1, 17, 3)`` 3D joints, mm, camera frame, "universal"
                                     skeleton (scaled to a common height)
``valid_frame``     ``(N, 1)``       1 where the annotation is valid
==================  ===============  ==========================================

The 17 test joints (:data:`TEST17`): head top, neck, right shoulder, elbow,
wrist, left shoulder, elbow, wrist, right hip, knee, ankle, left hip, knee,
ankle, pelvis, spine, head.

Frames kept as the original VIBE preprocessing keeps them: a frame with any
of the 17 joints outside the image is left out and the video is cut there
(``TS<k>_seg<n>`` numbers the pieces); frames with ``valid_frame == 0`` stay
in the windows but do not count in the metrics. Box: the joints' extent made
square on its longer side, × 1.1; crops of 1.3 × the box.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from vibe.data.datasets.release_frames import ReleaseFrames, concat_frames, square_box_around

__all__ = ["CROP_SCALE", "TEST17", "TEST17_TO_MPII17", "find_release_root", "read_test_sequence", "read_mpi_inf_3dhp"]

logger = logging.getLogger(__name__)

CROP_SCALE = 1.3
SEQUENCES = tuple(f"TS{k}" for k in range(1, 7))
TEST17: tuple[str, ...] = (
    "head_top", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "pelvis", "spine", "head",
)  # fmt: skip
# Rows of TEST17 in the evaluation's 17-joint order (the 14 eval joints, then pelvis, spine, head).
TEST17_TO_MPII17: tuple[int, ...] = (10, 9, 8, 11, 12, 13, 4, 3, 2, 5, 6, 7, 1, 0, 14, 15, 16)


def find_release_root(root: str | os.PathLike) -> Path | None:
    """The ``mpi_inf_3dhp_test_set`` folder (``root`` itself or its child) holding ``TS*/annot_data.mat``, or ``None``."""
    root = Path(root)
    for candidate in (root, root / "mpi_inf_3dhp_test_set"):
        if any((candidate / ts / "annot_data.mat").is_file() for ts in SEQUENCES):
            return candidate
    return None


def _image_size(folder: Path, count: int) -> tuple[int, int]:
    """``(width, height)`` of the sequence's images, read from the first one that exists."""
    for i in range(count):
        image = cv2.imread(str(folder / f"img_{i + 1:06d}.jpg"), cv2.IMREAD_UNCHANGED)
        if image is not None:
            return image.shape[1], image.shape[0]
    raise FileNotFoundError(f"{folder}: no readable img_%06d.jpg")


def read_test_sequence(folder: str | os.PathLike) -> ReleaseFrames | None:
    """One ``TS<k>`` folder → its kept frames (see the module docstring), ``None`` when none is kept."""
    import h5py

    folder = Path(folder)
    with h5py.File(folder / "annot_data.mat", "r") as mat:
        joints2d = np.asarray(mat["annot2"], dtype=np.float64)[:, 0]  # (N, 17, 2) px
        joints3d_mm = np.asarray(mat["univ_annot3"], dtype=np.float64)[:, 0]  # (N, 17, 3)
        valid = np.asarray(mat["valid_frame"]).reshape(-1).astype(bool)
    n = joints2d.shape[0]
    if joints3d_mm.shape[0] != n or valid.shape[0] != n:
        raise ValueError(f"{folder}: annot2, univ_annot3 and valid_frame disagree on the frame count")
    images = folder / "imageSequence"
    width, height = _image_size(images, n)
    xy = joints2d
    inside = ((xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)).all(axis=1)
    rows = np.flatnonzero(inside)
    if rows.size == 0:
        return None
    # A new piece starts after every gap of left-out frames.
    piece = np.concatenate([[0], np.cumsum(np.diff(rows) > 1)])
    return ReleaseFrames(
        vid_name=np.array([f"{folder.name}_seg{p}" for p in piece]),
        image_file=np.array([str(images / f"img_{i + 1:06d}.jpg") for i in rows]),
        frame_index=np.full(rows.size, -1, dtype=np.int64),
        bbox_cxcys=square_box_around(joints2d[rows]).astype(np.float32),
        crop_scale=CROP_SCALE,
        valid=valid[rows],
        joints3d=(joints3d_mm[rows][:, list(TEST17_TO_MPII17)] / 1000.0).astype(np.float32),
        joint_order="mpii17",
        subject=np.full(rows.size, int(folder.name[2:]) if folder.name[2:].isdigit() else 0, dtype=np.int64),
        layout="MPI-INF-3DHP mpi_inf_3dhp_test_set",
    )


def read_mpi_inf_3dhp(root: str | os.PathLike) -> ReleaseFrames:
    """TS1–TS6 (those present) of an MPI-INF-3DHP test set (see :func:`find_release_root`).

    Raises:
        FileNotFoundError: no ``TS*/annot_data.mat`` under ``root``.
        ImportError: ``h5py`` is not installed (the ``datasets`` extra).
    """
    found = find_release_root(root)
    if found is None:
        raise FileNotFoundError(f"{root}: no mpi_inf_3dhp_test_set/TS*/annot_data.mat")
    try:
        import h5py  # noqa: F401
    except ImportError as exc:
        raise ImportError("reading MPI-INF-3DHP's annot_data.mat needs h5py: pip install h5py") from exc
    folders = [found / ts for ts in SEQUENCES if (found / ts / "annot_data.mat").is_file()]
    parts = [p for p in (read_test_sequence(f) for f in folders) if p is not None]
    if not parts:
        raise ValueError(f"{found}: no frame with all 17 joints inside the image")
    frames = concat_frames(parts)
    logger.info("MPI-INF-3DHP test: %d frames of %d sequences", len(frames), len(parts))
    return frames
