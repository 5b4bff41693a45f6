"""Readers of the original db files, on small files written in the original layouts."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.data.datasets import vibe_db
from vibe.data.datasets.vibe_db import (
    INSTA_TO_SPIN49,
    AmassMotion,
    load_insta,
    load_mpii3d,
    load_threedpw,
    read_db,
    video_windows,
)
from vibe.losses import GeneratorTargets
from vibe.training.data import FrameSetSource, MixedSource


def _videos(lengths: dict[str, int]) -> np.ndarray:
    return np.array([name for name, n in lengths.items() for _ in range(n)])


def _threedpw(rng: np.random.Generator, lengths: dict[str, int]) -> dict[str, np.ndarray]:
    n = sum(lengths.values())
    return {
        "vid_name": _videos(lengths),
        "frame_id": np.concatenate([np.arange(k) for k in lengths.values()]),
        "joints3D": rng.normal(size=(n, 14, 3)).astype(np.float32),
        "joints2D": np.concatenate([rng.uniform(0, 1000, (n, 14, 2)), rng.uniform(0, 1, (n, 14, 1))], -1),
        "shape": rng.normal(size=(n, 10)),
        "pose": rng.normal(scale=0.5, size=(n, 72)),
        "bbox": np.concatenate([rng.uniform(300, 700, (n, 2)), np.full((n, 2), 400.0)], -1),
        "img_name": np.array([f"image_{i:05d}.jpg" for i in range(n)]),
        "features": rng.normal(size=(n, 2048)).astype(np.float32),
        "valid": np.ones(n),
    }


def test_video_windows_stay_inside_one_video():
    names = _videos({"a": 5, "b": 2, "c": 7})
    assert video_windows(names, 3).tolist() == [0, 7, 10]  # b is too short; c: 7..9, 10..12
    assert video_windows(names, 3, stride=1).tolist() == [0, 1, 2, 7, 8, 9, 10, 11]
    assert video_windows(names.astype("S"), 5).tolist() == [0, 7]  # h5 stores bytes


def test_threedpw_reader(tmp_path):
    rng = np.random.default_rng(0)
    data = _threedpw(rng, {"courtyard_0": 20, "office_1": 12})
    # Hand-placed 2D points: the box centre → (0, 0); 0.6 box widths right of it → x = 1.
    data["bbox"][0] = [500.0, 400.0, 200.0, 300.0]
    data["joints2D"][0, 0, :2] = [500.0, 400.0]
    data["joints2D"][0, 1, :2] = [500.0 + 0.6 * 200.0, 400.0 - 0.6 * 300.0]
    data["valid"][3] = 0
    path = tmp_path / "3dpw_val_db.pt"
    joblib.dump(data, path)

    frames = load_threedpw(path)
    assert frames.kp_2d.shape == (32, 49, 3) and frames.kp_3d.shape == (32, 49, 3)
    np.testing.assert_allclose(frames.kp_2d[0, 25, :2], [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(frames.kp_2d[0, 26, :2], [1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(frames.kp_2d[:, 25:39, 2], data["joints2D"][..., 2], rtol=1e-6)
    assert np.all(frames.kp_2d[:, :25, 2] == 0) and np.all(frames.kp_2d[:, 39:, 2] == 0)
    np.testing.assert_allclose(frames.kp_3d[:, 25:39], data["joints3D"])

    source = FrameSetSource(frames)
    batch = source.batch(np.array([0, 20]), 8)
    assert batch.inputs.shape == (2, 8, 2048)
    torch.testing.assert_close(batch.inputs[1, 0], torch.as_tensor(data["features"][20]))
    expected = Rotation.from_rotvec(data["pose"][5].reshape(24, 3)).as_matrix()
    torch.testing.assert_close(batch.targets.pose_rotmat[0, 5], torch.as_tensor(expected, dtype=torch.float32), atol=1e-5, rtol=0)
    assert batch.targets.has_3d[0, 3].item() is False and batch.targets.has_body[0, 3].item() is False
    assert batch.targets.has_3d.sum() == 15

    windows = source.all_windows(seqlen=8, batch=2)  # non-overlapping: rows 0, 8 | 20
    assert [len(b) for b in windows] == [2, 1]
    assert sum(len(b) for b in windows) == len(video_windows(data["vid_name"], 8))

    a = source.sample(np.random.default_rng(5), 4, 8)
    b = source.sample(np.random.default_rng(5), 4, 8)
    torch.testing.assert_close(a.inputs, b.inputs)


def test_mpii3d_reader_keeps_spin49_and_has_no_body_targets(tmp_path):
    rng = np.random.default_rng(1)
    n = 10
    data = {
        "vid_name": _videos({"S1_seq1_0": n}),
        "frame_id": np.arange(n),
        "joints2D": np.concatenate([rng.uniform(0, 2048, (n, 49, 2)), np.ones((n, 49, 1))], -1),
        "joints3D": rng.normal(size=(n, 49, 3)),
        "bbox": np.tile([1024.0, 1024.0, 500.0, 500.0], (n, 1)),
        "img_name": np.array([f"img_{i}.jpg" for i in range(n)]),
        "features": rng.normal(size=(n, 2048)),
    }
    path = tmp_path / "mpii3d_train_db.pt"
    joblib.dump(data, path)
    frames = load_mpii3d(path)
    expected = (data["joints2D"][..., :2] - 1024.0) / (1.2 * 500.0 / 2.0)
    np.testing.assert_allclose(frames.kp_2d[..., :2], expected, rtol=1e-5, atol=1e-6)
    batch = FrameSetSource(frames).sample(np.random.default_rng(0), 3, 4)
    assert batch.targets.pose_rotmat is None and batch.targets.has_3d.all()
    assert batch.targets.kp_3d.shape == (3, 4, 49, 3)


def test_insta_joint_map_by_name():
    # Hand-derived from the DESIGN's spin49 order (0-24 BODY_25, 38 head top).
    assert INSTA_TO_SPIN49 == (24, 10, 9, 12, 13, 21, 4, 3, 2, 5, 6, 7, 1, 38, 0, 16, 15, 18, 17, 19, 22, 20, 23, 14, 11)


def test_insta_reader_names_h5py_when_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py → ImportError
    with pytest.raises(ImportError, match="pip install h5py"):
        read_db(tmp_path / "insta_train_db.h5")


def _insta(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    return {
        "vid_name": np.array([b"vid_a"] * n),
        "frame_id": np.arange(n),
        "joints2D": np.concatenate([rng.uniform(0, 224, (n, 25, 2)), np.ones((n, 25, 1))], -1),
        "features": rng.normal(size=(n, 2048)),
    }


def _check_insta(frames, data) -> None:
    kp = data["joints2D"]
    # InstaVariety joint 0 (right heel) → spin49 slot 24, 13 (head top) → 38; 224-px crop → [-1, 1].
    np.testing.assert_allclose(frames.kp_2d[:, 24, :2], kp[:, 0, :2] / 112.0 - 1.0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(frames.kp_2d[:, 38, :2], kp[:, 13, :2] / 112.0 - 1.0, rtol=1e-5, atol=1e-6)
    assert frames.kp_2d[:, 39:, 2].sum() == 0 and frames.kp_3d is None
    assert frames.vid_name.tolist() == ["vid_a"] * len(kp)


def test_insta_conversion_from_the_same_arrays_in_a_joblib_file(tmp_path):
    data = _insta(6)
    joblib.dump(data, tmp_path / "insta_train_db.pt")
    _check_insta(load_insta(tmp_path / "insta_train_db.pt"), data)


def test_insta_reader_h5(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py is not installed (the reader says: pip install h5py)")
    data = _insta(6)
    with h5py.File(tmp_path / "insta_train_db.h5", "w") as f:
        for key, value in data.items():
            f[key] = value
    _check_insta(load_insta(tmp_path / "insta_train_db.h5"), data)


def test_amass_motion_windows(tmp_path):
    rng = np.random.default_rng(3)
    lengths = {"CMU/01_01": 20, "CMU/01_02": 10}
    theta = np.concatenate([rng.normal(scale=0.4, size=(30, 72)), rng.normal(size=(30, 10))], -1)
    path = tmp_path / "amass_db.pt"
    joblib.dump({"theta": theta, "vid_name": _videos(lengths)}, path)
    motion = AmassMotion(path)
    rotmat = motion.sample(np.random.default_rng(0), 64, 16)  # only CMU/01_01 has 16 frames
    assert rotmat.shape == (64, 16, 24, 3, 3)
    reference = torch.as_tensor(Rotation.from_rotvec(theta[:20, :72].reshape(-1, 3)).as_matrix(), dtype=torch.float32)
    reference = reference.reshape(20, 24, 3, 3)
    # Every window is 16 consecutive frames of the first sequence.
    for window in rotmat[:5]:
        start = int(torch.argmin((reference[:, 1] - window[0, 1]).abs().flatten(1).sum(-1)))
        assert start <= 4
        torch.testing.assert_close(window, reference[start : start + 16], atol=1e-5, rtol=0)


def test_reader_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil_db.pt"
    joblib.dump({"vid_name": np.array(["a"]), "payload": print}, path)
    with pytest.raises(pickle.UnpicklingError):
        read_db(path)


def test_mixed_2d_and_3d_batches_mask_missing_targets(tmp_path):
    rng = np.random.default_rng(4)
    joblib.dump(_threedpw(rng, {"v": 40}), tmp_path / "a.pt")
    threedpw = load_threedpw(tmp_path / "a.pt")
    only_2d = vibe_db.FrameSet("2d", threedpw.features, threedpw.kp_2d, threedpw.vid_name)
    batch = MixedSource([FrameSetSource(only_2d), FrameSetSource(threedpw)], [0.6, 0.4]).sample(rng, 10, 4)
    assert isinstance(batch.targets, GeneratorTargets)
    assert batch.targets.has_3d[:6].sum() == 0 and batch.targets.has_3d[6:].all()
    assert batch.targets.has_body[:6].sum() == 0 and batch.targets.pose_rotmat.shape == (10, 4, 24, 3, 3)


@pytest.mark.parametrize("in_loop", [False, True], ids=["plain", "smplify_in_loop"])
def test_smpl_stack_trains_from_db_files(tmp_path, monkeypatch, in_loop):
    """``vibe train configs/smpl.yaml`` end to end on tiny files: SMPL files, 2D + 3D db files, AMASS;
    with temporal SMPLify in the loop, the 2D set's non-overlapping windows are fitted."""
    from smpl_fixtures import write_synthetic_smpl

    from vibe.models.checkpoints import load_checkpoint
    from vibe.training.trainer import train_from_config

    monkeypatch.setenv("VIBE_DATA_DIR", str(tmp_path / "data"))
    write_synthetic_smpl(tmp_path / "data" / "smpl")
    db_dir = tmp_path / "data" / "datasets" / "vibe_db"
    db_dir.mkdir(parents=True)
    rng = np.random.default_rng(6)
    feature_dim = 16
    for name, lengths in (("3dpw_val_db.pt", {"v0": 10, "v1": 9}), ("mpii3d_train_db.pt", {"s": 12})):
        data = _threedpw(rng, lengths)
        data["features"] = data["features"][:, :feature_dim]
        if name.startswith("mpii3d"):
            n = len(data["vid_name"])
            data["joints2D"] = np.concatenate([rng.uniform(0, 1000, (n, 49, 2)), np.ones((n, 49, 1))], -1)
            data["joints3D"] = rng.normal(scale=0.3, size=(n, 49, 3))
        joblib.dump(data, db_dir / name)
    insta = _insta(12)
    insta["features"] = insta["features"][:, :feature_dim]
    joblib.dump(insta, db_dir / "insta_train_db.pt")
    theta = np.concatenate([rng.normal(scale=0.3, size=(20, 72)), np.zeros((20, 10))], -1)
    joblib.dump({"theta": theta, "vid_name": _videos({"a": 20})}, db_dir / "amass_db.pt")

    overrides = [
        f"model.feature_dim={feature_dim}", f"model.encoder.input_size={feature_dim}", "model.encoder.hidden_size=8",
        "discriminator.rnn_size=8", "discriminator.attention_size=8", "data.vibe_db.train_2d=[insta_train_db.pt]",
        "seqlen=4", "batch_size=3", "epochs=1", "iters_per_epoch=2", "device=cpu", "progress=false",
        f"out_dir={tmp_path / 'run'}", f"smplify_in_loop.enabled={str(in_loop).lower()}", "smplify_in_loop.steps=1",
        "smplify_in_loop.max_iter=3",
    ]  # fmt: skip
    best = train_from_config(Path(__file__).resolve().parents[1] / "configs" / "smpl.yaml", overrides)
    ckpt = load_checkpoint(best)
    assert ckpt.body_model == "smpl" and ckpt.discriminator_config["input_size"] == 69
    metrics = ckpt.extra["val_metrics"]
    assert all(np.isfinite(metrics[k]) for k in ("mpjpe", "pa_mpjpe", "accel_err"))
    fits = ckpt.extra["pseudo_gt"]
    if in_loop:  # InstaVariety's 12 frames: windows of 4 start at rows 0, 4, 8
        assert 0 < fits["ids"].numel() and set(fits["ids"].tolist()) <= {0, 4, 8}
        assert fits["pose_rotmat"].shape[1:] == (4, 24, 3, 3)
    else:
        assert fits is None
