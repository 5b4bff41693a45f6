"""The synthetic benchmark: rendered ground truth agrees with the pixels, the runner writes its JSON."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from open_checkpoint import save_random_open_checkpoint
from vibe.body.anny import Anny
from vibe.data.motion_db import VALIDATION_SUBJECTS
from vibe.evaluation.report import table_row
from vibe.evaluation.scenes import BodyRenderer, SceneConfig, sample_style
from vibe.evaluation.synthetic_bench import make_synthetic_benchmark, pck2d, run_synthetic_benchmark
from vibe.render.overlay import PinholeCamera

pytestmark = pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")

SIZE = (480, 270)
NUM_FRAMES = 30  # the tracker keeps tracks of at least 25 frames (TrackerConfig.min_track_s)


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


@pytest.fixture(scope="module")
def bench(tmp_path_factory, body) -> Path:
    out = tmp_path_factory.mktemp("bench")
    motion = Path(str(resources.files("vibe").joinpath("resources/motion/cmu_anny.npz")))
    make_synthetic_benchmark(motion, out, n_videos=1, seconds=NUM_FRAMES / 30, seed=3, size=SIZE, body=body)
    return out


def test_files_and_held_out_source(bench):
    gt = np.load(bench / "video_000.npz")
    meta = json.loads((bench / "video_000.json").read_text())
    assert meta["subject"] in VALIDATION_SUBJECTS
    assert "CMU" in meta["licence"]
    capture = cv2.VideoCapture(str(bench / "video_000.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == NUM_FRAMES == len(gt["frame_ids"])
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == SIZE
    assert gt["joints3d_eval14"].shape == (NUM_FRAMES, 14, 3)
    assert gt["keypoints2d_blazepose33"].shape == (NUM_FRAMES, 33, 2)
    assert gt["visible_blazepose33"].mean() > 0.9


def test_ground_truth_matches_the_body_model_and_opencv_projection(bench, body):
    """eval14 joints from Anny's own regressor + the stored extrinsics; pixels from cv2.projectPoints."""
    gt = np.load(bench / "video_000.npz")
    with torch.no_grad():
        posed = body(
            torch.as_tensor(gt["pose_rotmat"], dtype=body.dtype),
            torch.as_tensor(gt["shape"], dtype=body.dtype)[None].expand(NUM_FRAMES, -1),
            torch.as_tensor(gt["root_transl"], dtype=body.dtype),
        )
        world = body.keypoints(posed, "eval14").double().numpy()
    cam = np.einsum("tij,tkj->tki", gt["cam_rotmat"], world) + gt["cam_transl"][:, None]
    np.testing.assert_allclose(cam, gt["joints3d_eval14"], atol=2e-3)
    f, (cx, cy) = float(gt["focal_px"]), gt["principal_point"]
    k = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]])
    for t in (0, NUM_FRAMES - 1):
        pix, _ = cv2.projectPoints(gt["joints3d_eval14"][t], np.zeros(3), np.zeros(3), k, None)
        np.testing.assert_allclose(pix[:, 0], gt["keypoints2d_eval14"][t], atol=1e-6)


def test_projected_joints_fall_on_the_rendered_silhouette(bench, body):
    gt = np.load(bench / "video_000.npz")
    w, h = SIZE
    style = sample_style(np.random.default_rng(0), w, h, SceneConfig())
    f = float(gt["focal_px"])
    inside, total = 0, 0
    with BodyRenderer(w, h, body.faces.numpy(), body.num_vertices, style) as renderer, torch.no_grad():
        for t in (0, NUM_FRAMES // 2, NUM_FRAMES - 1):
            posed = body(
                torch.as_tensor(gt["pose_rotmat"][t : t + 1], dtype=body.dtype),
                torch.as_tensor(gt["shape"][None], dtype=body.dtype),
                torch.as_tensor(gt["root_transl"][t : t + 1], dtype=body.dtype),
            )
            verts = posed.vertices[0].double().numpy() @ gt["cam_rotmat"][t].T + gt["cam_transl"][t]
            _, mask = renderer.render(np.zeros((h, w, 3), np.uint8), verts, PinholeCamera(f, f, w / 2, h / 2))
            for name in ("eval14", "blazepose33"):
                pix = gt[f"keypoints2d_{name}"][t][gt[f"visible_{name}"][t]]
                cols, rows = np.floor(pix).astype(int).T
                inside += int(mask[rows, cols].sum())
                total += len(pix)
    assert total > 100
    assert inside / total >= 0.95


def test_pck2d_hand_computed():
    target = np.array([[[0.0, 0.0], [100.0, 0.0], [0.0, 50.0], [500.0, 500.0]]])  # box side 100 (4th hidden)
    visible = np.array([[True, True, True, False]])
    pred = target + np.array([[[5.0, 0.0], [0.0, 10.5], [9.0, 0.0], [0.0, 0.0]]])
    assert pck2d(pred, target, visible, threshold=0.1) == pytest.approx(200.0 / 3.0)


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory, body) -> Path:
    """A small open-stack generator with fixed random weights, in our checkpoint format."""
    return save_random_open_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt", body, width=64, seed=11)


def test_runner_writes_the_documented_json(bench, random_checkpoint, body, tmp_path):
    out_json = tmp_path / "synthetic.json"
    result = run_synthetic_benchmark(bench, random_checkpoint, out_json, work_dir=tmp_path / "runs", body=body)
    assert json.loads(out_json.read_text()) == json.loads(json.dumps(result))
    assert result["dataset"] == "synthetic" and result["n_videos"] == 1 and result["n_frames"] == NUM_FRAMES
    (video,) = result["videos"]
    assert video["n_matched"] > NUM_FRAMES // 2  # the rendered person is found
    model = result["rows"][0]
    assert model["n_frames"] == video["n_matched"]
    for key in ("pa_mpjpe", "mpjpe", "accel", "accel_err", "pck2d", "pa_mpjpe12"):
        assert np.isfinite(model["metrics"][key]), key
    # Procrustes alignment can only lower the error of the pelvis-centred joints.
    assert model["metrics"]["pa_mpjpe"] <= model["metrics"]["mpjpe"]
    assert 0.0 <= model["metrics"]["pck2d"] <= 100.0
    mediapipe = result["rows"][1]["metrics"]
    assert mediapipe["pck2d"] > 50.0  # MediaPipe's own landmarks on a clean rendering
    assert np.isfinite(mediapipe["pa_mpjpe"])
    assert table_row(model).count("|") == table_row(result["rows"][1]).count("|")


def test_benchmark_from_mocap_files(tmp_path, body):
    """Any mocap files become a benchmark: the CMU fixture clip (ASF/AMC) → one short video."""
    data = Path(__file__).parent / "data" / "mocap"
    make_synthetic_benchmark(
        [data / "02.asf", data / "02_01_f101-160.amc"], tmp_path, n_videos=1, seconds=1.0, size=(160, 90), body=body
    )
    meta = json.loads((tmp_path / "video_000.json").read_text())
    gt = np.load(tmp_path / "video_000.npz")
    # 60 frames at 120 fps resample to 15 at 30 fps: the whole clip, shorter than asked.
    assert meta["clip"] == "02_01_f101-160" and meta["n_frames"] == len(gt["frame_ids"]) == 15
    capture = cv2.VideoCapture(str(tmp_path / "video_000.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 15
