"""vibe_output.pkl: original keys and shapes, round trip, files from plain joblib.dump, refusal of code."""

from __future__ import annotations

import os
import pickle

import joblib
import numpy as np
import pytest

from vibe.export.vibe_pkl import read_vibe_output, validate_track, write_vibe_output


def _track(n: int, rng: np.random.Generator) -> dict:
    """A track with the original demo's keys and shapes (DESIGN §4)."""
    return {
        "pred_cam": rng.normal(size=(n, 3)),
        "orig_cam": rng.normal(size=(n, 4)),
        "verts": rng.normal(size=(n, 6890, 3)),
        "pose": rng.normal(size=(n, 72)),
        "betas": rng.normal(size=(n, 10)),
        "joints3d": rng.normal(size=(n, 49, 3)),
        "joints2d": None,
        "joints2d_img_coord": rng.normal(size=(n, 49, 2)),
        "bboxes": rng.normal(size=(n, 4)),
        "frame_ids": np.arange(10, 10 + n),
    }


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tracks = {1: _track(3, rng), 4: _track(2, rng)}
    path = write_vibe_output(tmp_path / "vibe_output.pkl", tracks)
    assert not path.with_name(path.name + ".tmp").exists()
    back = read_vibe_output(path)
    assert set(back) == {1, 4}
    for tid, track in tracks.items():
        assert set(back[tid]) == set(track)
        assert back[tid]["joints2d"] is None
        assert back[tid]["frame_ids"].dtype == np.int64
        np.testing.assert_array_equal(back[tid]["frame_ids"], track["frame_ids"])
        for key in ("pred_cam", "orig_cam", "verts", "pose", "betas", "joints3d", "joints2d_img_coord", "bboxes"):
            assert back[tid][key].dtype == np.float32
            np.testing.assert_allclose(back[tid][key], track[key], rtol=1e-6, atol=1e-6)
    # The file is an ordinary joblib file, as the original tools expect.
    plain = joblib.load(path)
    np.testing.assert_array_equal(plain[1]["verts"], back[1]["verts"])


@pytest.mark.parametrize("compress", [0, 3])
def test_reads_files_written_by_plain_joblib_dump(tmp_path, compress):
    rng = np.random.default_rng(1)
    data = {0: {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in _track(2, rng).items()}}
    path = tmp_path / "vibe_output.pkl"
    joblib.dump(data, path, compress=compress)
    back = read_vibe_output(path)
    np.testing.assert_array_equal(back[0]["joints3d"], data[0]["joints3d"])
    assert back[0]["joints2d"] is None


class _Sneaky:
    def __reduce__(self):
        return (os.getcwd, ())


def test_refuses_pickles_that_name_code(tmp_path):
    path = tmp_path / "evil.pkl"
    joblib.dump({0: {"pose": _Sneaky()}}, path)
    with pytest.raises(pickle.UnpicklingError, match="posix.getcwd|os.getcwd|refusing"):
        read_vibe_output(path)
    path2 = tmp_path / "objects.pkl"
    joblib.dump({0: np.array([_Sneaky()], dtype=object)}, path2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_vibe_output(path2)


def test_validation_names_the_bad_key():
    rng = np.random.default_rng(2)
    track = _track(3, rng)
    assert validate_track(track) == 3
    bad = dict(track, verts=np.zeros((3, 100, 3)))
    with pytest.raises(ValueError, match="verts"):
        validate_track(bad)
    # Any-body mode accepts other vertex/joint counts but not other frame counts.
    assert validate_track(bad, smpl=False) == 3
    with pytest.raises(ValueError, match="pose"):
        validate_track(dict(track, pose=np.zeros((2, 72))), smpl=False)
    with pytest.raises(ValueError, match="missing"):
        validate_track({k: v for k, v in track.items() if k != "bboxes"})
    with pytest.raises(ValueError, match="joints2d"):
        validate_track(dict(track, joints2d=np.zeros((4, 49, 3))))
