"""Human3.6M in its own release layout: ``S<k>/MyPoseFeatures/D3_Positions_mono/*.cdf`` and ``S<k>/Videos/*.mp4``.

Files per subject ``S<k>`` and sequence ``<action>.<camera>`` (action names
may hold spaces, e.g. ``Walking 1.54138969``; the ``_ALL`` files are skipped):

=================================================  ===================================
file                                               content (``N`` frames, 50 fps)
=================================================  ===================================
``MyPoseFeatures/D3_Positions_mono/<seq>.cdf``     ``Pose`` ``(1, N, 96)``: 32 joints,
                                                   mm, in that camera's frame
``MyPoseFeatures/D2_Positions/<seq>.cdf``          ``Pose`` ``(1, N, 64)``: the same
                                                   joints projected, pixels (boxes)
``Videos/<seq>.mp4``                               the camera's video
=================================================  ===================================

CDF files are read with ``cdflib`` (the ``datasets`` extra).

Frames as SPIN's protocols select them (VIBE reports "the same setup"):
subjects 9 and 11, every 5th frame (``frame % 5 == 0``); protocol 2 keeps only
camera 60457274, protocol 1 all four. Both are :class:`H36MConfig` options;
a temporal model then sees 10 fps windows (16 frames = 1.6 s).

Joints: the 17 of :data:`~vibe.body.joint_sets.H36M17` are rows
:data:`RAW32_TO_H36M17` of the 32 in the files. The leg order follows SPIN's
ground truth: raw joints 1–3 are paired with the regressor's right leg
(rows 4–6), raw 6–8 with its left leg (rows 1–3). Boxes are the 17 joints'
2D extent made square, × 1.1; crops of 1.2 × the box (VIBE's 3DPW setting;
VIBE published no Human3.6M preprocessing).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vibe.body.joint_sets import H36M17_TO_EVAL14
from vibe.data.datasets.release_frames import ReleaseFrames, concat_frames, square_box_around

__all__ = ["CROP_SCALE", "RAW32_TO_H36M17", "H36MConfig", "find_release_root", "read_cdf_pose", "read_h36m"]

logger = logging.getLogger(__name__)

CROP_SCALE = 1.2
# Rows of the 32 raw joints in H36M17 order: pelvis, left leg, right leg, spine, neck, head, head top,
# left arm, right arm.
RAW32_TO_H36M17: tuple[int, ...] = (0, 6, 7, 8, 1, 2, 3, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


@dataclass(frozen=True)
class H36MConfig:
    """Which Human3.6M frames are evaluated.

    Attributes:
        subjects: subject numbers (the test subjects 9 and 11).
        frame_step: keep frames ``i`` with ``i % frame_step == 0`` (SPIN: 5).
        cameras: camera ids to keep; ``("60457274",)`` is protocol 2, ``None`` all cameras (protocol 1).
    """

    subjects: tuple[int, ...] = (9, 11)
    frame_step: int = 5
    cameras: tuple[str, ...] | None = ("60457274",)


def find_release_root(root: str | os.PathLike, subjects: tuple[int, ...] = (9, 11)) -> Path | None:
    """The folder holding ``S<k>/MyPoseFeatures/D3_Positions_mono`` for one of ``subjects``, or ``None``."""
    root = Path(root)
    for candidate in (root, root / "h36m", root / "Human3.6M"):
        if any((candidate / f"S{k}" / "MyPoseFeatures" / "D3_Positions_mono").is_dir() for k in subjects):
            return candidate
    return None


def read_cdf_pose(path: str | os.PathLike, dims: int) -> np.ndarray:
    """The ``Pose`` variable of a Human3.6M CDF file as ``(N, 32, dims)`` float64 (file units)."""
    try:
        import cdflib
    except ImportError as exc:
        raise ImportError("reading Human3.6M's .cdf files needs cdflib: pip install cdflib") from exc
    pose = np.asarray(cdflib.CDF(str(path)).varget("Pose"), dtype=np.float64)
    return pose.reshape(-1, 32, dims)


def _sequence(subject: int, d3_file: Path, root: Path, config: H36MConfig) -> ReleaseFrames | None:
    """The kept frames of one ``<action>.<camera>`` sequence, ``None`` when skipped."""
    action, camera = d3_file.stem.rsplit(".", 1)
    folder = root / f"S{subject}"
    d2_file = folder / "MyPoseFeatures" / "D2_Positions" / d3_file.name
    video = folder / "Videos" / f"{d3_file.stem}.mp4"
    for needed in (d2_file, video):
        if not needed.is_file():
            logger.warning("S%d %s: %s missing, sequence skipped", subject, d3_file.stem, needed)
            return None
    joints_mm = read_cdf_pose(d3_file, 3)[:, list(RAW32_TO_H36M17)]
    joints_px = read_cdf_pose(d2_file, 2)[:, list(RAW32_TO_H36M17)]
    n = min(len(joints_mm), len(joints_px))
    rows = np.arange(0, n, config.frame_step)
    return ReleaseFrames(
        vid_name=np.full(rows.size, f"S{subject}_{action.replace(' ', '_')}.{camera}"),
        image_file=np.full(rows.size, str(video)),
        frame_index=rows.astype(np.int64),
        bbox_cxcys=square_box_around(joints_px[rows]).astype(np.float32),
        crop_scale=CROP_SCALE,
        valid=np.ones(rows.size, dtype=bool),
        joints3d=(joints_mm[rows][:, list(H36M17_TO_EVAL14)] / 1000.0).astype(np.float32),
        joint_order="eval14",
        subject=np.full(rows.size, subject, dtype=np.int64),
        layout="Human3.6M S<k>/MyPoseFeatures",
    )


def read_h36m(root: str | os.PathLike, config: H36MConfig | None = None) -> ReleaseFrames:
    """The evaluated frames of the test subjects under a Human3.6M release folder (:func:`find_release_root`).

    Sequences are sorted by subject, then file name; one without its
    ``D2_Positions`` file or video is skipped with a warning.

    Raises:
        FileNotFoundError: no subject folder with ``D3_Positions_mono``.
        ValueError: no sequence could be read.
    """
    config = config or H36MConfig()
    found = find_release_root(root, config.subjects)
    if found is None:
        raise FileNotFoundError(f"{root}: no S9/S11 MyPoseFeatures/D3_Positions_mono folder")
    parts = []
    for subject in config.subjects:
        for d3_file in sorted((found / f"S{subject}" / "MyPoseFeatures" / "D3_Positions_mono").glob("*.cdf")):
            camera = d3_file.stem.rsplit(".", 1)[-1]
            if "_ALL" in d3_file.stem or (config.cameras is not None and camera not in config.cameras):
                continue
            part = _sequence(subject, d3_file, found, config)
            if part is not None and len(part):
                parts.append(part)
    if not parts:
        raise ValueError(f"{found}: no Human3.6M test sequence with its D2_Positions and video")
    frames = concat_frames(parts)
    logger.info("Human3.6M: %d frames of %d sequences", len(frames), len(parts))
    return frames
