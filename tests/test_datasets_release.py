"""Readers of the datasets' own release layouts, on tiny files written in those layouts (release_fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from release_fixtures import (
    COCO18_XY,
    h36m_raw_joints,
    rot_z,
    write_h36m_sequence,
    write_mpi_test_sequence,
    write_threedpw_sequence,
)
from vibe.data.datasets.h36m import H36MConfig, read_h36m
from vibe.data.datasets.mpi_inf_3dhp import read_mpi_inf_3dhp
from vibe.data.datasets.release_frames import smooth_keypoint_boxes, square_box_around
from vibe.data.datasets.release_layouts import find_release
from vibe.data.datasets.threedpw import read_threedpw

pytest.importorskip("h5py", reason="MPI-INF-3DHP's annot_data.mat is HDF5 (datasets extra)")
pytest.importorskip("cdflib", reason="Human3.6M's pose files are CDF (datasets extra)")

# Hand-written from the datasets' joint lists (not imported from the library).
MPI_TEST17_TO_EVAL17 = [10, 9, 8, 11, 12, 13, 4, 3, 2, 5, 6, 7, 1, 0, 14, 15, 16]
# Human3.6M's 32 joints → the 14 evaluation joints, as SPIN pairs them with J_regressor_h36m's rows.
H36M_RAW32_TO_EVAL14 = [3, 2, 1, 6, 7, 8, 27, 26, 25, 17, 18, 19, 13, 15]


# --- boxes --------------------------------------------------------------------------------
def test_square_box_is_centred_on_the_extent_and_1_1_times_its_longer_side():
    points = np.array([[[10.0, 20.0], [50.0, 30.0], [30.0, 100.0]]])  # extent 40 × 80
    assert square_box_around(points).tolist() == [[30.0, 60.0, pytest.approx(88.0)]]


def test_smooth_boxes_trim_interpolate_and_filter():
    t = 30
    kp = np.zeros((t, 4, 3))
    kp[:, :, :2] = [[0, 0], [30, 0], [0, 40], [30, 40]]  # diagonal 50 px around (15, 20)
    kp[:, :, 2] = 1.0
    kp[:3, :, 2] = 0.0  # no box before frame 3 ...
    kp[-2:, :, 2] = 0.0  # ... nor in the last two frames
    kp[12:14, :, 2] = 0.0  # a gap, linearly interpolated (here: constant)
    kp[20, 0, :2] = [-500, -500]  # one outlier frame, removed by the median filter
    boxes, start, end = smooth_keypoint_boxes(kp)
    assert (start, end) == (3, t - 2) and boxes.shape == (end - start, 3)
    np.testing.assert_allclose(boxes, np.tile([15.0, 20.0, 1.1 * 50.0], (end - start, 1)), rtol=1e-6)


# --- 3DPW -------------------------------------------------------------------------------------
def test_threedpw_reader(tmp_path):
    data = write_threedpw_sequence(tmp_path, "downtown_walk_00", frames=20, people=2)
    write_threedpw_sequence(tmp_path, "courtyard_basketball_00", frames=20, images=False)
    write_threedpw_sequence(tmp_path, "outdoors_fencing_01", frames=20, split="train", images=False)
    assert find_release("3dpw", tmp_path) == tmp_path and find_release("3dpw", tmp_path / "sequenceFiles") is None

    frames = read_threedpw(tmp_path)
    kept = [i for i in range(2, 20) if i != 10]  # frames 0-1: no box; frame 10: only 5 confident limb joints
    names = ["courtyard_basketball_00_0", "downtown_walk_00_0", "downtown_walk_00_1"]  # sorted files, then people
    assert frames.vid_name.tolist() == [name for name in names for _ in kept]
    assert len(frames) == 3 * len(kept) and frames.crop_scale == 1.2 and frames.joints3d is None
    rows = slice(len(kept), 2 * len(kept))  # downtown_walk_00, person 0
    assert frames.image_file[rows].tolist() == [
        str(tmp_path / "imageFiles" / "downtown_walk_00" / f"image_{i:05d}.jpg") for i in kept
    ]
    assert (frames.frame_index == -1).all()
    assert frames.valid[rows].tolist() == [i != 5 for i in kept]

    # Boxes: centre of the joints' extent, side 1.1 × its diagonal (150 / scale); person 1 is 300 px right.
    lo, hi = COCO18_XY.min(axis=0), COCO18_XY.max(axis=0)
    box = [*(lo + hi) / 2, 1.1 * np.linalg.norm(hi - lo)]
    np.testing.assert_allclose(frames.bbox_cxcys[rows], np.tile(box, (len(kept), 1)), rtol=1e-5)
    np.testing.assert_allclose(frames.bbox_cxcys[2 * len(kept)], [box[0] + 300, box[1], box[2]], rtol=1e-5)

    # SMPL ground truth: betas[:10]; body pose untouched; root rotated into the camera: R_cam(t) · R_root.
    np.testing.assert_allclose(frames.shape[rows], np.tile(data["betas"][0], (len(kept), 1)), rtol=1e-6)
    np.testing.assert_allclose(frames.pose_aa[rows, 3:], data["poses"][0][kept, 3:], rtol=1e-5, atol=1e-6)
    root = Rotation.from_rotvec(frames.pose_aa[rows, :3].astype(np.float64)).as_matrix()
    expected = np.stack([rot_z(0.1 * i) @ Rotation.from_rotvec([0.3, -0.2, 0.1]).as_matrix() for i in kept])
    np.testing.assert_allclose(root, expected, atol=1e-5)


def test_threedpw_pickle_with_code_is_refused(tmp_path):
    import pickle

    path = tmp_path / "sequenceFiles" / "test" / "evil.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"x": Path("/")}, protocol=2))  # names a class outside the allow-list
    with pytest.raises(pickle.UnpicklingError):
        read_threedpw(tmp_path)


# --- MPI-INF-3DHP -----------------------------------------------------------------------------
def test_mpi_inf_3dhp_reader(tmp_path):
    annot2, annot3, valid = write_mpi_test_sequence(tmp_path, 1, frames=7, width=64, height=48, outside=(2,))
    write_mpi_test_sequence(tmp_path, 5, frames=3, width=96, height=54)
    assert find_release("mpi-inf-3dhp", tmp_path) == tmp_path / "mpi_inf_3dhp_test_set"

    frames = read_mpi_inf_3dhp(tmp_path / "mpi_inf_3dhp_test_set")
    # TS1: frame 2 has a joint at x = width (outside) → left out, the video is cut there.
    assert frames.vid_name.tolist() == ["TS1_seg0"] * 2 + ["TS1_seg1"] * 4 + ["TS5_seg0"] * 3
    rows = [0, 1, 3, 4, 5, 6]
    folder = tmp_path / "mpi_inf_3dhp_test_set" / "TS1" / "imageSequence"
    assert frames.image_file[:6].tolist() == [str(folder / f"img_{i + 1:06d}.jpg") for i in rows]
    assert frames.valid.tolist() == [True, True, True, False, True, True, True, True, True]
    assert frames.subject.tolist() == [1] * 6 + [5] * 3 and frames.crop_scale == 1.3
    # 3D: univ_annot3 in metres, in the evaluation's 17-joint order (x of joint j is 10 j mm).
    assert frames.joint_order == "mpii17" and frames.joints3d.shape == (9, 17, 3)
    np.testing.assert_allclose(frames.joints3d[0, :, 0], 0.01 * np.array(MPI_TEST17_TO_EVAL17), atol=1e-7)
    np.testing.assert_allclose(frames.joints3d[2, :, 1], 1.003, rtol=1e-6)  # frame 3: y = 1003 mm
    # Box of frame 3: x spans 13..45, y spans 5..21 → centre (29, 13), side 1.1 × 32.
    np.testing.assert_allclose(frames.bbox_cxcys[2], [29.0, 13.0, 35.2], rtol=1e-6)


# --- Human3.6M ----------------------------------------------------------------------------------
def test_h36m_reader_protocols(tmp_path):
    for camera in ("54138969", "60457274"):
        write_h36m_sequence(tmp_path, 9, "Walking 1", camera, frames=12, video=False)
        (tmp_path / "S9" / "Videos").mkdir(exist_ok=True)
        (tmp_path / "S9" / "Videos" / f"Walking 1.{camera}.mp4").touch()
    write_h36m_sequence(tmp_path, 1, "Walking", "60457274", frames=12, video=False)  # a training subject
    write_h36m_sequence(tmp_path, 11, "Eating", "60457274", frames=12, video=False)  # no video: skipped
    assert find_release("h36m", tmp_path) == tmp_path

    frames = read_h36m(tmp_path)  # protocol 2: camera 60457274, every 5th frame
    assert frames.vid_name.tolist() == ["S9_Walking_1.60457274"] * 3
    assert frames.frame_index.tolist() == [0, 5, 10] and frames.subject.tolist() == [9] * 3
    assert frames.image_file[0] == str(tmp_path / "S9" / "Videos" / "Walking 1.60457274.mp4")
    raw3d, raw2d = h36m_raw_joints(12, 1.0)
    assert frames.joint_order == "eval14"
    np.testing.assert_allclose(frames.joints3d, raw3d[[0, 5, 10]][:, H36M_RAW32_TO_EVAL14] / 1000.0, rtol=1e-6)
    # Box around the 17 standard joints' 2D extent: x 20..47, y 10..64 → centre (33.5, 37), side 1.1 × 54.
    standard17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    lo, hi = raw2d[0, standard17].min(axis=0), raw2d[0, standard17].max(axis=0)
    assert lo.tolist() == [20.0, 10.0] and hi.tolist() == [47.0, 64.0]
    np.testing.assert_allclose(frames.bbox_cxcys[0], [33.5, 37.0, 59.4], rtol=1e-6)

    protocol1 = read_h36m(tmp_path, H36MConfig(cameras=None, frame_step=4))
    assert protocol1.vid_name.tolist() == ["S9_Walking_1.54138969"] * 3 + ["S9_Walking_1.60457274"] * 3
    assert protocol1.frame_index.tolist() == [0, 4, 8] * 2


def test_nothing_found_is_none(tmp_path):
    for name in ("3dpw", "mpi-inf-3dhp", "h36m", "synthetic"):
        assert find_release(name, tmp_path) is None
