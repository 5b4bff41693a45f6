"""Paper protocols on the release layouts: frames → crop features → runner → JSON, and `vibe eval` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from release_fixtures import write_h36m_sequence, write_mpi_test_sequence, write_threedpw_sequence
from smpl_fixtures import write_synthetic_smpl
from vibe.body.smpl import SMPL
from vibe.cli import app
from vibe.evaluation.release_crops import CropFeatureConfig, crop_features, iter_frame_images
from vibe.data.datasets.h36m import H36MConfig, read_h36m
from vibe.data.datasets.threedpw import read_threedpw
from vibe.evaluation import evaluate_dataset, get_protocol
from vibe.evaluation.protocols import release_eval_set
from vibe.evaluation.runner import DatasetNotFoundError
from vibe.models.backbone import HMRBackbone
from vibe.models.checkpoints import save_checkpoint
from vibe.models.temporal import TemporalEncoderConfig
from vibe.models.vibe import VIBE, VIBEConfig

pytest.importorskip("h5py", reason="MPI-INF-3DHP's annot_data.mat is HDF5 (datasets extra)")
pytest.importorskip("cdflib", reason="Human3.6M's pose files are CDF (datasets extra)")

H36M_TO_14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # written out: checks the library's table
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
FEATURES = 8


class MeanColour(nn.Module):
    """Test backbone: the crop's mean per channel, then a fixed random projection to ``FEATURES`` values."""

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Linear(3, FEATURES)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return torch.cat([crops.mean(dim=(2, 3)), self.project(crops.mean(dim=(2, 3)))[:, 3:]], dim=1)


def _small_model(smpl_folder: Path, feature_dim: int) -> VIBE:
    torch.manual_seed(0)
    config = VIBEConfig(feature_dim=feature_dim, encoder=TemporalEncoderConfig(input_size=feature_dim, hidden_size=16))
    return VIBE(config, SMPL(smpl_folder))


# --- frames and features ---------------------------------------------------------------------
def test_crop_features_follow_each_rows_image(tmp_path):
    write_threedpw_sequence(tmp_path, "b_seq", frames=20)
    write_threedpw_sequence(tmp_path, "a_seq", frames=20, people=2)
    frames = read_threedpw(tmp_path)
    features = crop_features(frames, MeanColour(), CropFeatureConfig(batch_size=7, progress=False))
    # Frame i of every sequence is a uniform grey 60 + 5 i, and each crop lies inside the image.
    grey = np.array([60 + 5 * int(Path(f).stem.split("_")[1]) for f in frames.image_file]) / 255.0
    expected = (grey[:, None] - MEAN) / STD
    np.testing.assert_allclose(features[:, :3], expected, atol=1.5 / 255 / 0.225)


def test_video_frames_are_decoded_at_their_index(tmp_path):
    write_h36m_sequence(tmp_path, 9, "Walking 1", "60457274", frames=25)
    write_h36m_sequence(tmp_path, 11, "Eating", "60457274", frames=12)
    frames = read_h36m(tmp_path, H36MConfig(frame_step=3))
    seen = dict(iter_frame_images(frames))
    assert sorted(seen) == list(range(len(frames)))
    for row, image in seen.items():
        assert image.shape == (64, 64, 3)
        assert abs(float(image.mean()) - (8 + 3 * frames.frame_index[row])) < 3.0, row


def test_threedpw_ground_truth_is_the_neutral_smpl_h36m_joints(tmp_path, smpl_folder):
    smplx = pytest.importorskip("smplx", reason="smplx is the reference implementation (test extra)")
    write_threedpw_sequence(tmp_path, "seq", frames=20, images=False)
    frames = read_threedpw(tmp_path)
    features = np.zeros((len(frames), 4), np.float32)
    evalset = release_eval_set(frames, features, get_protocol("3dpw"), SMPL(smpl_folder))

    with np.load(smpl_folder / "npz" / "SMPL_NEUTRAL.npz") as npz:
        struct = smplx.utils.Struct(**{k: npz[k] for k in npz.files})
    reference = smplx.SMPL(model_path=str(smpl_folder / "npz"), data_struct=struct)
    pose = torch.as_tensor(frames.pose_aa, dtype=torch.float32)
    with torch.no_grad():
        verts = reference(betas=torch.as_tensor(frames.shape), global_orient=pose[:, :3], body_pose=pose[:, 3:]).vertices
    regressor = torch.as_tensor(np.load(smpl_folder / "J_regressor_h36m.npy"), dtype=torch.float32)
    expected = (regressor @ verts)[:, H36M_TO_14].numpy()
    np.testing.assert_allclose(evalset.joints3d, expected, atol=1e-5)
    assert evalset.pose_aa is frames.pose_aa and evalset.valid.tolist() == frames.valid.tolist()


# --- runner -----------------------------------------------------------------------------------
def test_runner_on_each_release_layout(tmp_path, smpl_folder):
    write_threedpw_sequence(tmp_path / "3dpw", "seq", frames=20, people=2)
    write_mpi_test_sequence(tmp_path / "mpi", 1, frames=20, width=64, height=48, outside=(1,))
    write_h36m_sequence(tmp_path / "h36m", 9, "Walking 1", "60457274", frames=80)
    model = _small_model(smpl_folder, FEATURES)
    cases = {  # dataset → (frames read, frames in windows, windows, layout)
        "3dpw": (2 * 17, 2 * 16, 2, "3DPW sequenceFiles"),  # frames 2..19 but 10, per person
        "mpi-inf-3dhp": (19, 16, 1, "MPI-INF-3DHP mpi_inf_3dhp_test_set"),  # frame 1 cuts off frame 0
        "h36m": (16, 16, 1, "Human3.6M S<k>/MyPoseFeatures"),  # every 5th of 80 frames
    }
    folders = {"3dpw": "3dpw", "mpi-inf-3dhp": "mpi", "h36m": "h36m"}
    for name, (_, in_windows, windows, layout) in cases.items():
        out = tmp_path / f"{name}.json"
        result = evaluate_dataset(
            name, model=model, data_root=tmp_path / folders[name], out_json=out, smpl_dir=smpl_folder,
            backbone=MeanColour(), label="tiny",
        )  # fmt: skip
        assert json.loads(out.read_text()) == result
        assert result["layout"] == layout and result["dataset"] == name
        assert result["features"] == "ResNet-50 crops (given backbone)"
        assert result["n_frames"] == in_windows and result["n_windows"] == windows
        assert set(result["metrics"]) == set(get_protocol(name).metrics)
        assert all(v is not None and np.isfinite(v) for v in result["metrics"].values()), name


def test_missing_data_names_both_layouts(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        evaluate_dataset("mpi-inf-3dhp", model=nn.Identity(), data_root=tmp_path)
    message = str(info.value)
    assert "mpii3d_val_db.pt" in message and "mpi_inf_3dhp_test_set/TS1..TS6/annot_data.mat" in message


def test_vibe_eval_cli_on_the_3dpw_release_layout(tmp_path, smpl_folder, monkeypatch):
    data_dir = tmp_path / "vibe_data"
    write_synthetic_smpl(data_dir / "smpl")
    torch.manual_seed(1)
    spin = data_dir / "checkpoints" / "spin_model_checkpoint.pth.tar"
    spin.parent.mkdir(parents=True)
    torch.save({"model": HMRBackbone().state_dict()}, spin)  # SPIN's layout: ResNet-50 names under "model"
    ckpt = save_checkpoint(tmp_path / "ours.pt", _small_model(smpl_folder, 2048))
    release = tmp_path / "3DPW"
    write_threedpw_sequence(release, "downtown_walk_00", frames=20)
    monkeypatch.setenv("VIBE_DATA_DIR", str(data_dir))

    out = tmp_path / "eval"
    args = ["eval", "--dataset", "3dpw", "--data", str(release), "--checkpoint", str(ckpt), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = json.loads((out / "3dpw.json").read_text())
    assert written["layout"] == "3DPW sequenceFiles" and written["model"] == "vibe-hmr/1"
    assert written["features"] == "ResNet-50 crops (SPIN)"
    assert written["n_frames"] == 16 and written["n_videos"] == 1 and written["n_valid_frames"] == 15
    assert set(written["metrics"]) == {"pa_mpjpe", "mpjpe", "pve", "accel", "accel_err"}
    assert all(np.isfinite(v) for v in written["metrics"].values())
    assert "| ours.pt | 3DPW (test) |" in result.output

    # A second run (other output file) reuses the cached crop features: the ResNet-50 is not run again.
    assert len(list((out / ".cache").glob("crop_features_*.npz"))) == 1

    def no_resnet(*args, **kwargs):
        raise AssertionError("crop features recomputed")

    monkeypatch.setattr("vibe.evaluation.release_features.crop_features", no_resnet)
    again = CliRunner().invoke(app, args + ["--results-md", str(tmp_path / "results.md")])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "3dpw.json").read_text())["metrics"] == written["metrics"]


def test_open_stack_runs_on_landmarks_of_the_release_layout(tmp_path, smpl_folder):
    from open_checkpoint import save_random_open_checkpoint
    from vibe.body.anny import Anny

    ckpt = save_random_open_checkpoint(tmp_path / "open.pt", Anny())
    write_threedpw_sequence(tmp_path / "3dpw", "seq", frames=20)
    out = tmp_path / "out" / "3dpw.json"
    result = evaluate_dataset("3dpw", checkpoint=ckpt, data_root=tmp_path / "3dpw", out_json=out, smpl_dir=smpl_folder)
    assert result["features"] == "BlazePose landmarks" and result["n_frames"] == 16
    # Anny's mesh is not SMPL's: no PVE; its own 14 evaluation joints against the SMPL ground truth.
    assert set(result["metrics"]) == {"pa_mpjpe", "mpjpe", "accel", "accel_err"}
    assert result["protocol"]["gt_mesh"] is None and all(np.isfinite(v) for v in result["metrics"].values())
    assert len(list((out.parent / ".cache").glob("landmarks_*.npz"))) == 1

    write_mpi_test_sequence(tmp_path / "mpi", 1, frames=17, width=64, height=48)
    with pytest.raises(ValueError, match="mpii17"):  # pelvis, spine and head are not among Anny's joints
        evaluate_dataset("mpi-inf-3dhp", checkpoint=ckpt, data_root=tmp_path / "mpi", smpl_dir=smpl_folder)
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "h36m_test_db.npz").touch()
    with pytest.raises(ValueError, match="release layout"):  # db files hold ResNet features only
        evaluate_dataset("h36m", checkpoint=ckpt, data_root=tmp_path / "db", smpl_dir=smpl_folder)
