"""Tiny datasets written in the evaluation datasets' own release layouts (3DPW, MPI-INF-3DHP, Human3.6M).

The files have the real names, keys, dtypes and axis orders (as the original
preprocessing code reads them); the values are small, hand-chosen arrays so
that the tests can compute the expected output by hand.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np

# 18 OpenPose COCO joints of a standing person, pixels: x spans 100..185, y spans 50..220.
COCO18_XY = np.stack([100.0 + 5.0 * np.arange(18), 50.0 + 10.0 * np.arange(18)], axis=1)
COCO18_XY[[3, 7]] = COCO18_XY[[7, 3]]  # not monotone in the joint index
H36M_CAMERAS = ("54138969", "60457274")


def write_jpeg(path: Path, width: int, height: int, value: int = 128) -> Path:
    """A uniform grey ``width × height`` JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), value, np.uint8))
    return path


def rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def write_threedpw_sequence(
    root: Path, name: str, frames: int, people: int = 1, split: str = "test", images: bool = True
) -> dict:
    """``sequenceFiles/<split>/<name>.pkl`` (protocol-2 pickle, as the release) and its images; returns the dict.

    Person ``p``'s keypoints are :data:`COCO18_XY` shifted by ``300 p`` px;
    frames 0 and 1 have no confident joint; frame 10 has only 5 confident
    limb joints; ``campose_valid`` is 0 at frame 5; the camera turns by 0.1
    rad per frame about its z axis; the root rotation is ``(0.3, -0.2, 0.1)``.
    """
    rng = np.random.default_rng(len(name))
    cam_poses = np.tile(np.eye(4), (frames, 1, 1))
    for t in range(frames):
        cam_poses[t, :3, :3] = rot_z(0.1 * t)
        cam_poses[t, :3, 3] = [0.1, -0.2, 3.0]
    poses, poses2d, valid = [], [], []
    for p in range(people):
        pose = rng.normal(size=(frames, 72)) * 0.2
        pose[:, :3] = [0.3, -0.2, 0.1]
        kp = np.zeros((frames, 3, 18))
        kp[:, 0] = COCO18_XY[:, 0] + 300.0 * p
        kp[:, 1] = COCO18_XY[:, 1]
        kp[:, 2] = 0.9
        kp[:2, 2] = 0.1  # below the 0.3 visibility threshold
        kp[10, 2] = 0.0
        kp[10, 2, [10, 9, 8, 11, 12]] = 0.9  # right ankle, knee, hip, left hip, knee
        campose_valid = np.ones(frames)
        campose_valid[5] = 0
        poses.append(pose)
        poses2d.append(kp)
        valid.append(campose_valid)
    data = {
        "sequence": name,
        "betas": [rng.normal(size=10) for _ in range(people)],
        "betas_clothed": [rng.normal(size=10) for _ in range(people)],
        "poses": poses,
        "trans": [rng.normal(size=(frames, 3)) for _ in range(people)],
        "poses2d": poses2d,
        "jointPositions": [rng.normal(size=(frames, 72)) for _ in range(people)],
        "cam_poses": cam_poses,
        "cam_intrinsics": np.array([[1961.0, 0, 540.0], [0, 1969.0, 960.0], [0, 0, 1.0]]),
        "campose_valid": valid,
        "genders": ["m" if p % 2 == 0 else "f" for p in range(people)],
        "img_frame_ids": np.arange(frames),
        "v_template_clothed": [rng.normal(size=(20, 3)) for _ in range(people)],
    }
    path = root / "sequenceFiles" / split / f"{name}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data, protocol=2))
    if images:
        for i in range(frames):
            write_jpeg(root / "imageFiles" / name / f"image_{i:05d}.jpg", 640, 360, 60 + 5 * i)
    return data


def write_annot_data_mat(path: Path, annot2: np.ndarray, univ_annot3: np.ndarray, valid: np.ndarray) -> None:
    """``annot_data.mat`` as MATLAB v7.3 writes it: an HDF5 file after a 512-byte header.

    ``annot2 (N, 1, 17, 2)``, ``annot3``/``univ_annot3 (N, 1, 17, 3)`` mm and
    ``valid_frame``/``activity_annotation (N, 1)`` are h5py's view (MATLAB's
    axis order reversed).
    """
    import h5py

    n = annot2.shape[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("annot2", data=annot2.astype(np.float64))
        f.create_dataset("annot3", data=univ_annot3.astype(np.float64) * 1.1)
        f.create_dataset("univ_annot3", data=univ_annot3.astype(np.float64))
        f.create_dataset("valid_frame", data=valid.reshape(n, 1).astype(np.float64))
        f.create_dataset("activity_annotation", data=np.ones((n, 1)))
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116) + b"\0" * 8 + b"\x00\x02IM")


def write_mpi_test_sequence(root: Path, ts: int, frames: int, width: int, height: int, outside: tuple[int, ...] = ()):
    """``mpi_inf_3dhp_test_set/TS<ts>``: joints inside a ``width × height`` image except in frames ``outside``.

    2D joint ``j`` of frame ``i``: ``(10 + 2j + i, 5 + j)`` px (frames in
    ``outside`` move joint 3 to ``x = width``); 3D joint ``j``:
    ``(10 j, 1000 + i, 4000)`` mm; ``valid_frame`` 0 at frame 4 (when there is one).
    Returns ``(annot2, univ_annot3, valid)``.
    """
    j = np.arange(17)
    annot2 = np.zeros((frames, 1, 17, 2))
    annot3 = np.zeros((frames, 1, 17, 3))
    for i in range(frames):
        annot2[i, 0] = np.stack([10.0 + 2 * j + i, 5.0 + j], axis=1)
        annot3[i, 0] = np.stack([10.0 * j, np.full(17, 1000.0 + i), np.full(17, 4000.0)], axis=1)
    for i in outside:
        annot2[i, 0, 3, 0] = width
    valid = np.ones(frames)
    valid[4:5] = 0
    folder = root / "mpi_inf_3dhp_test_set" / f"TS{ts}"
    write_annot_data_mat(folder / "annot_data.mat", annot2, annot3, valid)
    for i in range(frames):
        write_jpeg(folder / "imageSequence" / f"img_{i + 1:06d}.jpg", width, height)
    return annot2, annot3, valid


def write_cdf_pose(path: Path, pose: np.ndarray) -> None:
    """A Human3.6M-style CDF: zVariable ``Pose`` ``(1, N, D)`` float32 (one record)."""
    from cdflib.cdfwrite import CDF

    path.parent.mkdir(parents=True, exist_ok=True)
    pose = np.asarray(pose, dtype=np.float32).reshape(1, pose.shape[0], -1)
    writer = CDF(str(path), delete=True)
    spec = {"Variable": "Pose", "Data_Type": CDF.CDF_FLOAT, "Num_Elements": 1, "Rec_Vary": True,
            "Dim_Sizes": list(pose.shape[1:])}  # fmt: skip
    writer.write_var(spec, var_data=pose)
    writer.close()


def h36m_raw_joints(frames: int, camera_offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw 32-joint 3D ``(N, 32, 3)`` mm and 2D ``(N, 32, 2)`` px: joint ``j`` of frame ``i`` at
    ``(j, 2 j + i, 3000 + camera_offset)`` mm and ``(20 + j, 10 + 2 j)`` px."""
    j = np.arange(32, dtype=np.float64)
    d3 = np.stack([np.tile(j, (frames, 1)), 2 * j + np.arange(frames)[:, None],
                   np.full((frames, 32), 3000.0 + camera_offset)], axis=-1)  # fmt: skip
    d2 = np.tile(np.stack([20.0 + j, 10.0 + 2 * j], axis=1), (frames, 1, 1))
    return d3, d2


def write_h36m_sequence(root: Path, subject: int, action: str, camera: str, frames: int, video: bool = True) -> None:
    """``S<subject>/MyPoseFeatures/{D3_Positions_mono,D2_Positions}/<action>.<camera>.cdf`` and the video
    ``S<subject>/Videos/<action>.<camera>.mp4`` (64², frame ``i`` a uniform grey of ``8 + 3 i``)."""
    from vibe.pipeline.video import VideoWriter

    folder = root / f"S{subject}"
    d3, d2 = h36m_raw_joints(frames, float(H36M_CAMERAS.index(camera)) if camera in H36M_CAMERAS else 9.0)
    write_cdf_pose(folder / "MyPoseFeatures" / "D3_Positions_mono" / f"{action}.{camera}.cdf", d3.reshape(frames, 96))
    write_cdf_pose(folder / "MyPoseFeatures" / "D2_Positions" / f"{action}.{camera}.cdf", d2.reshape(frames, 64))
    if video:
        path = folder / "Videos" / f"{action}.{camera}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        with VideoWriter(path, fps=50.0) as writer:
            for i in range(frames):
                writer.write(np.full((64, 64, 3), 8 + 3 * i, np.uint8))
