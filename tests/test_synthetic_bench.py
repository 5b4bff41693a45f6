"""The synthetic benchmark: rendered ground truth agrees with the pixels; the runner, its baselines and JSON."""

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
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.evaluation.synthetic_bench import (
    cached_landmarks,
    parse_baselines,
    pck2d,
    pool_results,
    run_synthetic_benchmark,
)
from vibe.evaluation.synthetic_make import make_synthetic_benchmark
from vibe.evaluation.track_regression import load_open_generator, regress_track
from vibe.pipeline.run import DemoConfig
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


@pytest.fixture(scope="module")
def other_checkpoint(tmp_path_factory, body) -> Path:
    """Another one (different weights): a stand-in for the G-only baseline."""
    return save_random_open_checkpoint(tmp_path_factory.mktemp("ckpt2") / "other.pt", body, width=64, seed=12)


@pytest.fixture(scope="module")
def runner(bench, random_checkpoint, other_checkpoint, body, tmp_path_factory) -> tuple[dict, Path]:
    """One benchmark run with the per-frame row and two baselines: the checkpoint itself and another."""
    tmp = tmp_path_factory.mktemp("run")
    baselines = {"same weights": random_checkpoint, "G-only": other_checkpoint}
    result = run_synthetic_benchmark(
        bench, random_checkpoint, tmp / "synthetic.json", work_dir=tmp / "runs", body=body, baselines=baselines
    )
    return result, tmp


def test_runner_writes_the_documented_json(runner):
    result, tmp = runner
    assert json.loads((tmp / "synthetic.json").read_text()) == json.loads(json.dumps(result))
    assert result["dataset"] == "synthetic" and result["n_videos"] == 1 and result["n_frames"] == NUM_FRAMES
    (video,) = result["videos"]
    assert video["n_matched"] > NUM_FRAMES // 2  # the rendered person is found
    keys = [row["key"] for row in result["rows"]]
    assert keys == ["model", "per_frame", "baseline:same weights", "baseline:G-only", "mediapipe", "mediapipe_smoothed"]
    assert [row["label"] for row in result["rows"]][2:4] == ["same weights", "G-only"]
    for row in result["rows"][:4]:
        assert row["n_frames"] == video["n_matched"], row["key"]
        for key in ("pa_mpjpe", "mpjpe", "accel", "accel_err", "pck2d", "pa_mpjpe12", "accel_err12"):
            assert np.isfinite(row["metrics"][key]), (row["key"], key)
        # Procrustes alignment can only lower the error of the pelvis-centred joints.
        assert row["metrics"]["pa_mpjpe"] <= row["metrics"]["mpjpe"]
        assert 0.0 <= row["metrics"]["pck2d"] <= 100.0
    mediapipe, smoothed = (result["rows"][k]["metrics"] for k in (-2, -1))
    assert mediapipe["pck2d"] > 50.0  # MediaPipe's own landmarks on a clean rendering
    assert np.isfinite(mediapipe["pa_mpjpe12"]) and set(smoothed) == {"pa_mpjpe12", "accel_err12"}
    assert result["rows"][-1]["n_frames"] == result["rows"][-2]["n_frames"] > 0
    assert len({table_row(row).count("|") for row in result["rows"]}) == 1


def test_baselines_reuse_the_first_runs_detections_and_landmarks(runner):
    result, tmp = runner
    (video,) = result["videos"]
    assert video["reused_cache"] == {"same weights": True, "G-only": True}
    rows = {row["key"]: row["metrics"] for row in result["rows"]}
    # The same weights on the same landmarks: the model's own numbers; other weights: others.
    assert rows["baseline:same weights"] == pytest.approx(rows["model"], rel=1e-6)
    assert rows["baseline:G-only"]["pa_mpjpe"] != pytest.approx(rows["model"]["pa_mpjpe"], rel=1e-3)
    main = np.load(tmp / "runs" / "video_000" / "results.npz")
    other = np.load(tmp / "runs" / "baselines" / "G-only" / "video_000" / "results.npz")
    for key in [k for k in main.files if k.endswith(("/frame_ids", "/bbox_cxcys", "/landmarks_img"))]:
        np.testing.assert_array_equal(main[key], other[key])


def _track(results_npz: Path) -> dict:
    with np.load(results_npz) as npz:
        (tid,) = npz["track_ids"]
        return {k.split("/", 1)[1]: npz[k] for k in npz.files if k.startswith(f"track{tid}/")}


def test_mediapipe_row_scores_the_landmarks_as_detected(runner, bench):
    """results.npz keeps the landmarks after the demo's swap repair; MediaPipe's row scores its own, from the cache."""
    from vibe.evaluation.synthetic_scoring import score_mediapipe

    result, tmp = runner
    frame_ids, detected, _ = cached_landmarks(tmp / "runs" / "video_000", 1)
    gt = dict(np.load(bench / "video_000.npz"))
    expected = score_mediapipe(gt, frame_ids, detected, None)["pck2d"]
    assert result["videos"][0]["metrics"]["mediapipe"]["pck2d"] == pytest.approx(expected)


def test_track_regression_in_windows_is_the_demo_output(runner, random_checkpoint, body):
    """The per-frame row's code path, given the demo's windows, gives back the demo's own results (fit included)."""
    _, tmp = runner
    track = _track(tmp / "runs" / "video_000" / "results.npz")
    world_ids, landmarks_img, world = cached_landmarks(tmp / "runs" / "video_000", 1)  # as detected
    np.testing.assert_array_equal(world_ids, track["frame_ids"])
    model = load_open_generator(random_checkpoint, body)
    demo = DemoConfig()
    assert demo.refine  # the open stack's default: the landmark fit is part of what is reproduced
    assert demo.label_swaps is not None and demo.flip_average  # and the swap repair, the mirror average
    pred = regress_track(
        model, landmarks_img, track["bbox_cxcys"], SIZE, demo.windows, landmarks_world=world,
        frame_ids=track["frame_ids"], centred_sigma=demo.centred_sigma, fit_camera=demo.fit_camera,
        refine=demo.landmark_fit, label_swaps=demo.label_swaps, flip_average=demo.flip_average,
    )  # fmt: skip
    unfitted = regress_track(
        model, landmarks_img, track["bbox_cxcys"], SIZE, demo.windows, landmarks_world=world,
        frame_ids=track["frame_ids"], centred_sigma=demo.centred_sigma, fit_camera=demo.fit_camera,
        label_swaps=demo.label_swaps, flip_average=demo.flip_average,
    )  # fmt: skip
    # L-BFGS's line searches turn rounding differences of its inputs (thread counts, float32)
    # into a few rotation entries off by up to ~3e-2, so compare means: the same fit lands
    # within a small fraction of what the fit itself moves.
    fit_gap = np.abs(pred.pose_rotmat - track["pose_rotmat"]).mean()
    assert fit_gap < 0.1 * np.abs(unfitted.pose_rotmat - track["pose_rotmat"]).mean()
    joints_gap = np.abs(pred.joints2d_img - track["joints2d_img"]).mean()
    assert joints_gap < 0.2 * np.abs(unfitted.joints2d_img - track["joints2d_img"]).mean()


def test_per_frame_mode_is_the_generator_on_one_frame_sequences(runner, random_checkpoint, body):
    """Windows of one frame = VIBE.forward on ``n`` sequences of length 1; not the windowed output."""
    _, tmp = runner
    track = _track(tmp / "runs" / "video_000" / "results.npz")
    model = load_open_generator(random_checkpoint, body)
    pred = regress_track(model, track["landmarks_img"], track["bbox_cxcys"], SIZE, None)
    kp = keypoints_to_encoder_input(track["landmarks_img"], track["bbox_cxcys"], FeatureConfig(), image_size=SIZE)
    with torch.no_grad():
        reference = model(kp[:, None]).pose_rotmat[:, 0].double().numpy()  # (n, 1, ...) → (n, ...)
    np.testing.assert_allclose(pred.pose_rotmat, reference, atol=1e-5)
    assert np.abs(pred.pose_rotmat - track["pose_rotmat"]).max() > 1e-3  # the temporal context matters


def test_parse_baselines():
    assert parse_baselines(["G-only=/a/b.pt", "x=y=z.pt"]) == {"G-only": Path("/a/b.pt"), "x": Path("y=z.pt")}
    (_, options), = parse_baselines(["fit6=a.pt,refine_steps=6,refine=false"]).values()
    assert options["refine"] is False and options["smplify"].num_steps == 6
    assert options["smplify"].world_weight == DemoConfig().smplify.world_weight  # only the steps change
    (_, options), = parse_baselines(["p=a.pt,refine_steps=5,fit.world_plane_weight=0.3,fit.world_weight=2e4"]).values()
    fit = options["smplify"]  # fit fields add up
    assert (fit.num_steps, fit.world_plane_weight, fit.world_weight) == (5, 0.3, 2e4)
    (_, options), = parse_baselines(["s=a.pt,fit.fit_shape=false"]).values()
    assert options["smplify"].fit_shape is False
    (_, options), = parse_baselines(["k=a.pt,fit.keypoint_set=blazepose33"]).values()
    assert options["smplify"].keypoint_set == "blazepose33"  # text fields too
    with pytest.raises(ValueError):
        parse_baselines(["p=a.pt,fit.world_centre=1"])  # only number, yes/no and text fit fields
    for bad in (["nopath"], ["=a.pt"], ["a="], ["a=1.pt", "a=2.pt"]):
        with pytest.raises(ValueError):
            parse_baselines(bad)


def test_pool_results_weights_videos_by_frames():
    def run(bench_dir, videos):
        rows = [{"key": "model", "label": "m"}, {"key": "mediapipe", "label": "mp"}]
        n = sum(v["n_matched"] for v in videos)
        return {"bench_dir": bench_dir, "rows": rows, "videos": videos, "n_videos": len(videos), "n_frames": n,
                "n_matched_frames": n}  # fmt: skip

    mediapipe_a = {"pa_mpjpe12": 1.0, "n_frames": 5}
    a = run("a", [{"n_matched": 10, "metrics": {"model": {"pa_mpjpe": 10.0}, "mediapipe": mediapipe_a}}])
    b = run("b", [{"n_matched": 30, "metrics": {"model": {"pa_mpjpe": 40.0, "pck2d": 50.0}, "mediapipe": {}}}])
    pooled = pool_results([a, b])
    assert pooled["n_videos"] == 2 and pooled["bench_dir"] == ["a", "b"]
    model, mediapipe = pooled["rows"]
    assert model["n_frames"] == 40
    assert model["metrics"]["pa_mpjpe"] == pytest.approx((10 * 10.0 + 30 * 40.0) / 40)
    assert model["metrics"]["pck2d"] == pytest.approx(50.0)  # only the video that has it
    assert mediapipe["n_frames"] == 5 and mediapipe["metrics"] == {"pa_mpjpe12": 1.0}
    with pytest.raises(ValueError):
        pool_results([a, dict(b, rows=b["rows"][:1])])


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


def test_parse_baselines_with_demo_options() -> None:
    from pathlib import Path

    from vibe.evaluation.synthetic_bench import parse_baselines

    specs = parse_baselines(["G=g.pt", "raw=v1.pt,centred_sigma=0,fit_camera=false"])
    assert specs == {"G": Path("g.pt"), "raw": (Path("v1.pt"), {"centred_sigma": 0.0, "fit_camera": False})}
    tips = parse_baselines(["tips=a.pt,fit_points=tips"])
    assert tips == {"tips": (Path("a.pt"), {"fit_points": "tips"})}
    with pytest.raises(ValueError, match="baseline option"):
        parse_baselines(["x=a.pt,workers=3"])
    swaps = parse_baselines(["s=a.pt,swaps.min_facing=0.3,swaps.limb_switch_cost=none,flip_average=false"])["s"][1]
    assert swaps["label_swaps"].min_facing == 0.3 and swaps["label_swaps"].limb_switch_cost is None
    assert swaps["label_swaps"].switch_cost == 0.5 and swaps["flip_average"] is False  # the rest as the demo's
    assert parse_baselines(["n=a.pt,label_swaps=false"])["n"][1] == {"label_swaps": None}
    with pytest.raises(ValueError, match="baseline option"):
        parse_baselines(["x=a.pt,swaps.nothing=1"])
