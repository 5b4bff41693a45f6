"""MotionDB: file round trip, subject split, windows, seeded sampling, the committed CMU file.

References: scipy rotations, hand-counted windows, the raw ``np.load`` of
the written file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vibe.data.motion_db import FORMAT_VERSION, VALIDATION_SUBJECTS, MotionDB

JOINTS = ["Hips", "Spine", "Head"]


def _db(lengths=(5, 20, 16), subjects=("02", "07", "49"), seed: int = 0) -> MotionDB:
    rotmats = _clip_rotmats(lengths, seed)
    rng = np.random.default_rng(seed + 1)
    transls = [rng.normal(size=(n, 3)) for n in lengths]
    count = len(lengths)
    return MotionDB.from_clips(
        body_model="anny/cmu_mb",
        joint_names=JOINTS,
        rotmats=rotmats,
        root_transls=transls,
        clip_name=[f"{s}_{k:02d}" for k, s in enumerate(subjects)],
        subject=list(subjects),
        description=[f"motion {k}" for k in range(count)],
        source=["cmu-asf-amc"] * count,
        licence=["CMU mocap: free to use, not to resell"] * count,
        fps=[30.0] * count,
        shape=[np.full(6, 0.5 + 0.1 * k) for k in range(count)],
    )


def _clip_rotmats(lengths=(5, 20, 16), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [Rotation.random(n * len(JOINTS), random_state=rng).as_matrix().reshape(n, len(JOINTS), 3, 3)
            for n in lengths]  # fmt: skip


def test_save_load_round_trip(tmp_path: Path) -> None:
    db = _db()
    path = tmp_path / "db.npz"
    db.save(path)
    with np.load(path, allow_pickle=False) as raw:  # the stored layout itself
        assert int(raw["format_version"]) == FORMAT_VERSION
        assert raw["quat_xyzw"].dtype == np.float16 and raw["quat_xyzw"].shape == (41, 3, 4)
        assert raw["root_transl"].dtype == np.float32
        assert str(raw["body_model"]) == "anny/cmu_mb"
        np.testing.assert_array_equal(raw["clip_start"], [0, 5, 25])
        np.testing.assert_array_equal(raw["clip_length"], [5, 20, 16])
        assert np.all(raw["quat_xyzw"][..., 3] >= 0)
    loaded = MotionDB.load(path)
    expected = np.concatenate(_clip_rotmats())
    # float16 quaternions: ~1e-3 per component → well under 4e-3 per matrix entry.
    np.testing.assert_allclose(loaded.rotmat(), expected, atol=4e-3)
    assert loaded.rotmat().dtype == np.float32
    np.testing.assert_array_equal(loaded.root_transl, db.root_transl)
    assert loaded.joint_names == JOINTS
    assert list(loaded.subject) == ["02", "07", "49"] and list(loaded.clip_name) == ["02_00", "07_01", "49_02"]
    assert list(loaded.description) == ["motion 0", "motion 1", "motion 2"]
    np.testing.assert_allclose(loaded.shape[:, 0], [0.5, 0.6, 0.7], rtol=1e-6)
    assert loaded.seconds() == pytest.approx(41 / 30)


def test_load_renormalises_quaternions(tmp_path: Path) -> None:
    db = _db()
    path = tmp_path / "db.npz"
    db.save(path)
    with np.load(path) as raw:
        fields = dict(raw)
    fields["quat_xyzw"] = (fields["quat_xyzw"].astype(np.float32) * 1.01).astype(np.float16)
    np.savez(path, **fields)
    loaded = MotionDB.load(path)
    np.testing.assert_allclose(np.linalg.norm(loaded.quat_xyzw, axis=-1), 1.0, atol=1e-6)
    rot = loaded.rotmat()
    np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)


def test_split_by_subject() -> None:
    db = _db()
    val = db.split(VALIDATION_SUBJECTS)
    train = db.split(VALIDATION_SUBJECTS, exclude=True)
    assert list(val.clip_name) == ["02_00", "49_02"] and list(train.clip_name) == ["07_01"]
    assert val.num_frames == 5 + 16 and train.num_frames == 20
    np.testing.assert_array_equal(val.clip_start, [0, 5])
    rot, transl = val.clip(1)  # the 49 clip: frames 25..40 of the full DB
    full_rot, full_transl = db.clip(2)
    np.testing.assert_array_equal(rot, full_rot)
    np.testing.assert_array_equal(transl, full_transl)
    assert val.shape.shape == (2, 6) and val.shape[1, 0] == pytest.approx(0.7)


def test_windows_stay_inside_clips() -> None:
    db = _db()
    # Hand count, lengths (5, 20, 16), seqlen 16, stride 4: clip 1 starts 0, 4; clip 2 starts 0.
    np.testing.assert_array_equal(db.windows(seqlen=16, stride=4), [[1, 0], [1, 4], [2, 0]])
    np.testing.assert_array_equal(db.windows(seqlen=5, stride=5), [[0, 0], [1, 0], [1, 5], [1, 10], [1, 15],
                                                                   [2, 0], [2, 5], [2, 10]])  # fmt: skip
    assert db.windows(seqlen=21).shape == (0, 2)
    for clip, start in db.windows(seqlen=3, stride=1):
        assert 0 <= start and start + 3 <= db.clip_length[clip]


def test_sampling_is_seeded_and_inside_clips() -> None:
    db = _db()
    rot_a, transl_a = db.sample_windows(np.random.default_rng(7), batch=32, seqlen=16)
    rot_b, transl_b = db.sample_windows(np.random.default_rng(7), batch=32, seqlen=16)
    np.testing.assert_array_equal(rot_a, rot_b)
    np.testing.assert_array_equal(transl_a, transl_b)
    assert rot_a.shape == (32, 16, 3, 3, 3) and rot_a.dtype == np.float32
    assert transl_a.shape == (32, 16, 3)
    rot_c, _ = db.sample_windows(np.random.default_rng(8), batch=32, seqlen=16)
    assert not np.array_equal(rot_a, rot_c)

    starts = db.sample_window_starts(np.random.default_rng(7), batch=500, seqlen=16)
    # Only clips 1 (5 starts) and 2 (1 start) are long enough; starts are uniform over the 6.
    assert set(starts[:, 0]) == {1, 2}
    assert np.all(starts[:, 1] + 16 <= db.clip_length[starts[:, 0]])
    assert 0.05 < np.mean(starts[:, 0] == 2) < 0.3  # expected 1/6
    rot, transl = db.get_windows(starts[:4], 16)
    for k, (clip, start) in enumerate(starts[:4]):
        clip_rot, clip_transl = db.clip(clip)
        np.testing.assert_array_equal(rot[k], clip_rot[start : start + 16])
        np.testing.assert_array_equal(transl[k], clip_transl[start : start + 16])
    with pytest.raises(ValueError, match="leaves its clip"):
        db.get_windows(np.array([[0, 0]]), 16)


def test_committed_cmu_database() -> None:
    path = resources.files("vibe").joinpath("resources/motion/cmu_anny.npz")
    db = MotionDB.load(Path(str(path)))
    assert db.body_model == "anny/cmu_mb" and db.num_joints == 31 and db.joint_names[0] == "Hips"
    assert set(VALIDATION_SUBJECTS) <= set(db.subject)
    assert np.all(db.fps == 30.0) and np.all(db.source == "cmu-asf-amc")
    assert np.all(db.clip_start == np.concatenate([[0], np.cumsum(db.clip_length)[:-1]]))
    val = db.split(VALIDATION_SUBJECTS)
    assert 250 < val.seconds() < 350 and db.seconds() > 2000
    # Feet-first sanity: the retargeted root stays between crouching and jumping heights.
    assert 0.0 < np.median(db.root_transl[:, 1]) < 1.5
