"""Paper protocols, runner and result tables on small files written in the documented layouts."""

from __future__ import annotations

import json
from types import SimpleNamespace

import joblib
import numpy as np
import pytest
import roma
import torch
from torch import nn

from vibe.body.smpl import SMPL
from vibe.evaluation import evaluate_dataset, get_protocol, read_eval_set, table_row, write_results_table
from vibe.evaluation.protocols import compute_metrics, evaluation_windows
from vibe.evaluation.report import REFERENCE_VIBE_WO_3DPW
from vibe.models.checkpoints import save_checkpoint
from vibe.models.temporal import TemporalEncoderConfig
from vibe.models.vibe import VIBE, VIBEConfig

smplx = pytest.importorskip("smplx", reason="smplx is the reference implementation (test extra)")

# Written out here (not imported) so the test checks the library's tables.
H36M_TO_14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
FEATURE_DIM = 96


@pytest.fixture(scope="module")
def reference(smpl_folder):
    """smplx's SMPL on the same arrays, and the H36M regressor as a plain matrix."""
    with np.load(smpl_folder / "npz" / "SMPL_NEUTRAL.npz") as npz:
        struct = smplx.utils.Struct(**{k: npz[k] for k in npz.files})
    model = smplx.SMPL(model_path=str(smpl_folder / "npz"), data_struct=struct)
    return model, torch.as_tensor(np.load(smpl_folder / "J_regressor_h36m.npy"), dtype=torch.float32)


def _smplx_mesh_and_h36m(reference, pose_aa: np.ndarray, betas: np.ndarray):
    """Ground truth through smplx: vertices ``(N, V, 3)`` and H36M joints ``(N, 17, 3)``, no translation."""
    model, regressor = reference
    pose = torch.as_tensor(pose_aa, dtype=torch.float32)
    with torch.no_grad():
        out = model(betas=torch.as_tensor(betas, dtype=torch.float32), global_orient=pose[:, :3], body_pose=pose[:, 3:])
    return out.vertices, regressor @ out.vertices


def _names(lengths: dict[str, int]) -> np.ndarray:
    return np.array([name for name, n in lengths.items() for _ in range(n)])


def _threedpw_db(
    reference, lengths: dict[str, int], seed: int = 0, feature_dim: int = FEATURE_DIM
) -> dict[str, np.ndarray]:
    """A 3DPW test db whose features carry the ground-truth pose (72) and shape (10) in front."""
    rng = np.random.default_rng(seed)
    n = sum(lengths.values())
    pose = (rng.normal(size=(n, 72)) * 0.3).astype(np.float32)
    shape = rng.normal(size=(n, 10)).astype(np.float32)
    _, h36m = _smplx_mesh_and_h36m(reference, pose, shape)
    features = rng.normal(size=(n, feature_dim)).astype(np.float32)
    features[:, :72], features[:, 72:82] = pose, shape
    return {
        "vid_name": _names(lengths),
        "frame_id": np.concatenate([np.arange(k) for k in lengths.values()]),
        "joints3D": h36m[:, H36M_TO_14].numpy(),
        "joints2D": np.zeros((n, 14, 3), np.float32),
        "shape": shape,
        "pose": pose,
        "bbox": np.full((n, 4), 100.0, np.float32),
        "img_name": np.array([f"{i:05d}.jpg" for i in range(n)]),
        "features": features,
        "valid": np.ones(n, np.float32),
    }


class ParamsFromFeatures(nn.Module):
    """Test-only predictor: reads the ground-truth SMPL parameters stored in the features."""

    def __init__(self, body: SMPL):
        super().__init__()
        self.body = body

    def forward_features(self, features: torch.Tensor) -> SimpleNamespace:
        pose = roma.rotvec_to_rotmat(features[..., :72].reshape(*features.shape[:2], 24, 3))
        return SimpleNamespace(pose_rotmat=pose, shape=features[..., 72:82], vertices=None)


def _accel_mm(joints: np.ndarray) -> np.ndarray:
    """Reference ACCEL per interior frame of ``(T, J, 3)`` metres, mid-hip centred, in numpy."""
    centred = joints - joints[:, [2, 3]].mean(axis=1, keepdims=True)
    second = centred[:-2] - 2 * centred[1:-1] + centred[2:]
    return np.linalg.norm(second, axis=-1).mean(axis=-1) * 1000.0


# --- windows and metric assembly ------------------------------------------------------
def test_windows_are_non_overlapping_and_stay_in_one_video():
    names = _names({"a": 35, "b": 10, "c": 20})
    starts = evaluation_windows(names, 16)
    assert starts.tolist() == [0, 16, 45]  # a: 0-15, 16-31 (32-34 dropped); b too short; c: 45-60
    rows = starts[:, None] + np.arange(16)
    assert len(np.unique(rows)) == rows.size
    assert all(len(set(names[r])) == 1 for r in rows)


def test_metrics_against_hand_values():
    rng = np.random.default_rng(1)
    target = torch.as_tensor(rng.normal(size=(10, 14, 3)), dtype=torch.float32)
    names = _names({"v1": 5, "v2": 5})

    shifted = target + torch.tensor([0.1, -0.2, 0.3])  # the whole skeleton moved: nothing changes
    m = compute_metrics(shifted, target, names)
    assert m["mpjpe"] == pytest.approx(0.0, abs=1e-3) and m["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)
    assert m["accel_err"] == pytest.approx(0.0, abs=1e-3) and m["pck"] == 100.0

    one_joint = target.clone()
    one_joint[:, 0] += torch.tensor([0.3, 0.4, 0.0])  # right ankle 500 mm off; hips untouched
    m = compute_metrics(one_joint, target, names)
    assert m["mpjpe"] == pytest.approx(500.0 / 14, rel=1e-5)
    assert m["pck"] == pytest.approx(100.0 * 13 / 14) and m["auc"] == pytest.approx(100.0 * 13 / 14)

    # Quadratic drift of one joint: second difference 2a every frame → ACCEL_ERR = 2a / 14.
    t = torch.arange(10, dtype=torch.float32)
    drift = target.clone()
    drift[:, 0, 1] += 0.002 * t**2
    m = compute_metrics(drift, target, names)
    assert m["accel_err"] == pytest.approx(2 * 0.002 * 1000 / 14, rel=1e-4)
    per_video = np.concatenate([_accel_mm(drift[:5].numpy()), _accel_mm(drift[5:].numpy())])
    assert m["accel"] == pytest.approx(per_video.mean(), rel=1e-5)

    # A jump between two videos is not an acceleration; an invalid frame does not count.
    jump = target.clone()
    jump[5:, 0, 0] += 1.0
    valid = torch.ones(10, dtype=torch.bool)
    jump[7, 1] += 10.0
    valid[7] = False
    m = compute_metrics(jump, target, names, valid)
    assert m["mpjpe"] == pytest.approx(1000.0 / 14 * 4 / 9, rel=1e-5)  # 9 valid frames, 4 of them off
    assert m["accel_err"] == pytest.approx(0.0, abs=1e-3)  # v1 exact; v2's entries touching frame 7 masked


# --- readers ----------------------------------------------------------------------------
def test_mpii3d_reader_picks_the_17_joints_and_valid_i(tmp_path):
    n = 20
    joints = np.zeros((n, 49, 3), np.float32)
    joints[:, :, 0] = np.arange(49)  # x = spin49 slot
    path = tmp_path / "mpii3d_val_db.pt"
    valid_i = np.ones(n)
    valid_i[3] = 0
    joblib.dump({"vid_name": _names({"TS1": n}), "features": np.zeros((n, 8), np.float32),
                 "joints3D": joints, "joints2D": np.zeros((n, 49, 3)), "valid_i": valid_i}, path)  # fmt: skip
    evalset = read_eval_set(path, get_protocol("mpii3dhp_test"))
    assert evalset.joints3d.shape == (n, 17, 3)
    assert evalset.joints3d[0, :, 0].tolist() == [*range(25, 39), 39, 41, 43]
    assert evalset.valid.tolist() == [i != 3 for i in range(n)]


def test_h36m_reader_keeps_s9_and_s11(tmp_path):
    lengths = {"S1_Walking": 4, "S9_Walking": 5, "S11_Eating": 6}
    n = sum(lengths.values())
    joints = np.zeros((n, 17, 3), np.float32)
    joints[:, :, 0] = np.arange(17)
    path = tmp_path / "h36m_test_db.npz"
    np.savez(path, vid_name=_names(lengths), features=np.zeros((n, 8), np.float32), joints3D=joints)
    evalset = read_eval_set(path, get_protocol("h36m"))
    assert len(evalset) == 11 and set(evalset.vid_name) == {"S9_Walking", "S11_Eating"}
    assert evalset.joints3d[0, :, 0].tolist() == H36M_TO_14


# --- runner -----------------------------------------------------------------------------
def test_perfect_predictor_gives_zero_errors(tmp_path, smpl_folder, reference):
    lengths = {"courtyard_a": 35, "office_b": 10, "street_c": 20}
    db = _threedpw_db(reference, lengths)
    db["valid"][50] = 0  # inside the window of street_c
    path = tmp_path / "3dpw_test_db.pt"
    joblib.dump(db, path)
    model = ParamsFromFeatures(SMPL(smpl_folder))

    out = tmp_path / "r.json"
    result = evaluate_dataset("3dpw", model=model, data_root=tmp_path, out_json=out, smpl_dir=smpl_folder)
    assert result["n_frames"] == 48 and result["n_windows"] == 3 and result["n_videos"] == 2
    assert result["n_valid_frames"] == 47
    m = result["metrics"]
    for key in ("mpjpe", "pa_mpjpe", "pve", "accel_err"):
        assert m[key] == pytest.approx(0.0, abs=0.05), key
    # ACCEL of the prediction = ACCEL of the ground truth, over valid triples of each video.
    gt = db["joints3D"]
    acc_a = _accel_mm(gt[0:32])
    acc_c = _accel_mm(gt[45:61])
    keep_c = [i for i in range(14) if 50 not in (45 + i, 46 + i, 47 + i)]
    expected = np.concatenate([acc_a, acc_c[keep_c]]).mean()
    assert m["accel"] == pytest.approx(expected, rel=1e-3)
    assert json.loads(out.read_text()) == result


def test_runner_on_our_checkpoint_writes_the_documented_json(tmp_path, smpl_folder, reference):
    config = VIBEConfig(feature_dim=FEATURE_DIM, encoder=TemporalEncoderConfig(input_size=FEATURE_DIM, hidden_size=16))
    ckpt = save_checkpoint(tmp_path / "model.pt", VIBE(config, SMPL(smpl_folder)))
    lengths = {"S1_Walking": 16, "S9_Walking": 20, "S11_Eating": 33}
    db = _threedpw_db(reference, lengths, seed=3)
    _, h36m = _smplx_mesh_and_h36m(reference, db["pose"], db["shape"])
    data = tmp_path / "h36m_test_db.npz"
    np.savez(data, vid_name=db["vid_name"], features=db["features"], joints3D=h36m.numpy())

    out = tmp_path / "out" / "h36m.json"
    result = evaluate_dataset("h36m", checkpoint=ckpt, data_root=data, out_json=out, smpl_dir=smpl_folder)
    on_disk = json.loads(out.read_text())
    assert on_disk == result
    documented = {"dataset", "title", "file", "checkpoint", "label", "model", "protocol", "n_frames",
                  "n_valid_frames", "n_windows", "n_videos", "metrics", "units", "versions", "created"}  # fmt: skip
    assert documented <= set(result)
    assert result["dataset"] == "h36m" and result["model"] == "vibe-hmr/1"
    assert result["n_frames"] == 48 and result["n_videos"] == 2  # S1 left out; S9 1 window, S11 2
    assert set(result["metrics"]) == {"pa_mpjpe", "mpjpe"} and result["units"]["mpjpe"] == "mm"
    assert all(np.isfinite(v) and v > 0 for v in result["metrics"].values())
    assert set(result["versions"]) == {"vibe", "torch", "numpy"}

    row = table_row(result)
    assert row.startswith("| model.pt | Human3.6M (S9, S11) |") and row.endswith("| 48 |")
    assert f"{result['metrics']['mpjpe']:.2f}" in row and row.count("–") == 10  # pve, accel(_err), pck, auc, pck2d, 12-joint pair, shape pair


def test_perfect_predictor_on_mpii3d_17_joints(tmp_path, smpl_folder, reference):
    db = _threedpw_db(reference, {"TS1": 20, "TS2": 17}, seed=5)
    _, h36m = _smplx_mesh_and_h36m(reference, db["pose"], db["shape"])
    spin49 = np.zeros((h36m.shape[0], 49, 3), np.float32)
    spin49[:, 25:39] = h36m[:, H36M_TO_14]
    spin49[:, [39, 41, 43]] = h36m[:, [0, 7, 9]]  # pelvis, spine, head
    path = tmp_path / "mpii3d_val_db.pt"
    joblib.dump({"vid_name": db["vid_name"], "features": db["features"], "joints3D": spin49}, path)

    result = evaluate_dataset("mpi-inf-3dhp", model=ParamsFromFeatures(SMPL(smpl_folder)), data_root=path)
    m = result["metrics"]
    assert result["n_frames"] == 32 and result["protocol"]["n_joints"] == 17
    assert m["mpjpe"] == pytest.approx(0.0, abs=0.05) and m["pa_mpjpe"] == pytest.approx(0.0, abs=0.05)
    assert m["pck"] == 100.0
    assert m["auc"] >= 100.0 * 30 / 31 - 1e-6  # the 0 mm threshold may miss float round-off


def _released_generator_state() -> dict[str, torch.Tensor]:
    """Random tensors under the released generator's key names and shapes (DESIGN §4)."""
    gru_shapes = (("weight_hh", (3072, 1024)), ("bias_ih", (3072,)), ("bias_hh", (3072,)))
    gru = {f"{w}_l{i}": s for i in (0, 1) for w, s in gru_shapes}
    shapes = {
        "encoder.gru.weight_ih_l0": (3072, 2048), "encoder.gru.weight_ih_l1": (3072, 1024),
        **{f"encoder.gru.{k}": v for k, v in gru.items()},
        "encoder.linear.weight": (2048, 1024), "encoder.linear.bias": (2048,),
        "regressor.init_pose": (1, 144), "regressor.init_shape": (1, 10), "regressor.init_cam": (1, 3),
        "regressor.fc1.weight": (1024, 2205), "regressor.fc1.bias": (1024,),
        "regressor.fc2.weight": (1024, 1024), "regressor.fc2.bias": (1024,),
        "regressor.decpose.weight": (144, 1024), "regressor.decpose.bias": (144,),
        "regressor.decshape.weight": (10, 1024), "regressor.decshape.bias": (10,),
        "regressor.deccam.weight": (3, 1024), "regressor.deccam.bias": (3,),
    }  # fmt: skip
    g = torch.Generator().manual_seed(0)
    state = {k: 0.01 * torch.randn(v, generator=g) for k, v in shapes.items()}
    state["regressor.init_pose"] = torch.eye(3)[:, :2].reshape(1, 6).repeat(1, 24)  # identity in the (3, 2) 6D layout
    state["regressor.init_cam"] = torch.tensor([[0.9, 0.0, 0.0]])
    return state


def test_runner_on_the_released_checkpoint(tmp_path, smpl_folder, reference):
    ckpt = tmp_path / "vibe_model_wo_3dpw.pth.tar"
    torch.save({"epoch": 3, "gen_state_dict": _released_generator_state(), "performance": 1.0}, ckpt)
    db = _threedpw_db(reference, {"downtown_a": 17}, seed=7, feature_dim=2048)
    joblib.dump(db, tmp_path / "3dpw_test_db.pt")

    result = evaluate_dataset("threedpw_test", checkpoint=ckpt, data_root=tmp_path, smpl_dir=smpl_folder)
    assert result["model"] == "released VIBE" and result["epoch"] == 3 and result["n_frames"] == 16
    assert set(result["metrics"]) == {"pa_mpjpe", "mpjpe", "pve", "accel", "accel_err"}
    assert all(np.isfinite(v) for v in result["metrics"].values())


# --- docs table -------------------------------------------------------------------------
def test_results_section_update_leaves_other_text_intact(tmp_path):
    doc = tmp_path / "results.md"
    before = "# Results\n\nHand-written intro.\n"
    after = "\n## Notes\n\nKeep me | with pipes.\n"
    doc.write_text(before + "<!-- eval:paper -->\nold table\n<!-- /eval:paper -->" + after)
    result = {"label": "ours", "title": "3DPW (test)", "n_frames": 16, "metrics": {"mpjpe": 1.0, "pa_mpjpe": 2.5}}

    write_results_table([table_row(result)], doc, "Paper protocols", name="paper")
    text = doc.read_text()
    assert text.startswith(before) and text.endswith(after) and "old table" not in text
    assert "| ours | 3DPW (test) | 2.50 | 1.00 | – |" in text

    write_results_table([table_row(result), table_row({**result, "label": "b"})], doc, "Paper protocols", name="paper")
    reference_row = table_row(REFERENCE_VIBE_WO_3DPW)
    assert "| 56.56 | 93.59 | 113.41 | 27.12 | 27.99 | – | – | – |" in reference_row
    write_results_table(["| x |"], doc, "Ablations")  # a new section is appended, named by its title
    text = doc.read_text()
    assert text.count("<!-- eval:paper -->") == 1 and text.count("| ours |") == 1 and "| b |" in text
    assert text.startswith(before) and after in text and text.rstrip().endswith("<!-- /eval:ablations -->")
