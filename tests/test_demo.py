"""The demo end to end on the first 40 frames of assets/pose_1.mp4, and its failures on bad inputs.

The generator has random but fixed weights (built here, saved in our
checkpoint format, passed as ``checkpoint``): the checks are about the
pipeline — tracks, shapes, camera and projection consistency against
formulas written out here, files, caching — not about accuracy, except
:func:`test_reprojection_matches_landmarks_with_trained_weights`, which
needs the installed open weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from open_checkpoint import save_random_open_checkpoint
from vibe.body.anny import Anny
from vibe.models.vibe import VIBE, VIBEConfig
from vibe.pipeline.outputs import read_results
from vibe.pipeline.run import (
    EXIT_MISSING_ASSETS,
    EXIT_NO_WEIGHTS,
    EXIT_OUTPUT_NOT_WRITABLE,
    EXIT_VIDEO_UNREADABLE,
    DemoConfig,
    MissingAssetsError,
    NoTrainedWeightsError,
    OutputNotWritableError,
    VideoUnreadableError,
    default_open_weights,
    run_demo,
)
from vibe.pipeline.video import VideoReader, VideoWriter

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CLIP = ASSETS / "pose_1.mp4"
NUM_FRAMES = 40

# PyOpenGL's own deprecation noise while reading back rendered frames.
pytestmark = pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, body) -> Path:
    """A small open-stack generator (BlazePose 33 → Anny) with fixed random weights."""
    return save_random_open_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt", body, width=128, seed=7)


@pytest.fixture(scope="module")
def run(tmp_path_factory, checkpoint):
    out = tmp_path_factory.mktemp("demo")
    config = DemoConfig(
        checkpoint=checkpoint,
        max_frames=NUM_FRAMES,
        save_vertices=True,
        export=("bvh", "gltf"),
        side_view=True,
        progress=False,
    )
    return run_demo(CLIP, out, config), config


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --------------------------------------------------------------------------- end to end
def test_tracks_and_output_shapes(run, body):
    result, _ = run
    assert result.out_dir.name == "pose_1"
    assert result.track_ids == [1]  # one person in the clip
    times, people = read_results(result.results)
    assert times.shape == (NUM_FRAMES,)
    np.testing.assert_allclose(np.diff(times), 1 / 30, atol=1e-6)
    p = people[1]
    n = p["frame_ids"].shape[0]
    assert n >= 25 and p["frame_ids"][0] >= 0 and p["frame_ids"][-1] < NUM_FRAMES
    np.testing.assert_array_equal(np.diff(p["frame_ids"]), 1)
    expected = {
        "bbox_cxcys": (n, 3),
        "pose_rotmat": (n, body.num_joints, 3, 3),
        "shape": (n, body.shape_dim),
        "cam_crop": (n, 3),
        "cam_image": (n, 4),
        "transl_cam": (n, 3),
        "joints3d": (n, 33, 3),
        "joints2d_img": (n, 33, 2),
        "vertices": (n, body.num_vertices, 3),
        "landmarks_img": (n, 33, 3),
    }
    assert {k: p[k].shape for k in expected} == expected
    for k in expected:
        assert np.isfinite(p[k]).all() or k == "landmarks_img", k
    rot = p["pose_rotmat"].astype(np.float64)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-4)


def test_cameras_and_2d_joints_are_consistent(run, body):
    """orig_cam from the crop camera and 2D joints from posing Anny again, by the formulas of the original."""
    result, config = run
    _, people = read_results(result.results)
    p = people[1]
    w = h = 576.0
    s, tx, ty = p["cam_crop"].astype(np.float64).T
    cx, cy, side = p["bbox_cxcys"].astype(np.float64).T
    side = side * config.features.box_scale  # the [-1, 1] square of the features
    sx, sy = s * side / w, s * side / h
    expected_cam = np.stack([sx, sy, (cx - w / 2) / (w / 2) / sx + tx, (cy - h / 2) / (h / 2) / sy + ty], axis=1)
    np.testing.assert_allclose(p["cam_image"], expected_cam, rtol=1e-4, atol=1e-4)

    with torch.no_grad():
        posed = body(torch.as_tensor(p["pose_rotmat"]), torch.as_tensor(p["shape"]))
        joints3d = body.keypoints(posed, "blazepose33").numpy().astype(np.float64)
    np.testing.assert_allclose(p["joints3d"], joints3d, atol=1e-4)
    np.testing.assert_allclose(p["vertices"], posed.vertices.numpy(), atol=1e-4)
    sx, sy, tx, ty = (c[:, None] for c in p["cam_image"].astype(np.float64).T)
    u = (sx * (joints3d[..., 0] + tx) + 1) / 2 * w
    v = (sy * (joints3d[..., 1] + ty) + 1) / 2 * h
    np.testing.assert_allclose(p["joints2d_img"], np.stack([u, v], axis=-1), atol=1e-2)
    # The pinhole translation shows the body as the weak-perspective camera: pixels per metre agree.
    focal = json.loads(result.meta.read_text())["nominal_focal_px"]
    np.testing.assert_allclose(focal / p["transl_cam"][:, 2], p["cam_image"][:, 0] * w / 2, rtol=1e-4)


def test_meta(run):
    result, _ = run
    meta = json.loads(result.meta.read_text())
    assert meta["stack"] == "open" and meta["body_model"] == "anny"
    assert meta["video"]["frames_read"] == NUM_FRAMES and meta["video"]["fps"] == pytest.approx(30.0)
    for stage in ("people_landmarks", "generator_body", "export"):  # the one-pass front end
        assert meta["timings"][stage]["fps"] > 0, stage
    assert "torch" in meta["versions"] and "numpy" in meta["versions"]
    assert meta["track_ids"] == [1]


def test_overlay_video(run):
    result, _ = run
    if any(w.startswith("rendering skipped") for w in result.warnings):
        pytest.skip(f"no offscreen rendering here: {result.warnings}")
    assert result.overlay == result.out_dir / "overlay.mp4" and result.side == result.out_dir / "side.mp4"
    overlay = VideoReader(result.overlay)
    assert (overlay.width, overlay.height) == (576, 576)
    frames = [im for _, _, im in overlay]
    assert len(frames) == NUM_FRAMES
    assert sum(1 for _ in VideoReader(result.side)) == NUM_FRAMES
    # The mesh is drawn: the overlay differs from the input where the person is.
    _, people = read_results(result.results)
    row = int(people[1]["frame_ids"][-1])
    source = next(im for i, _, im in VideoReader(CLIP) if i == row)
    u, v = people[1]["joints2d_img"][-1].mean(axis=0).astype(int)
    patch = np.s_[max(v - 20, 0) : v + 20, max(u - 20, 0) : u + 20]
    assert np.abs(frames[row][patch].astype(int) - source[patch].astype(int)).mean() > 10


def test_bvh_reproduces_the_joints(run, body):
    from vibe.data.mocap.bvh import read_bvh
    from vibe.data.mocap.skeleton import forward_kinematics

    result, _ = run
    _, people = read_results(result.results)
    p = people[1]
    motion = read_bvh(result.out_dir / "person1.bvh")
    assert motion.fps == pytest.approx(30.0, rel=1e-4)
    joints_bvh, _ = forward_kinematics(motion.skeleton, motion.local_rotmat, motion.root_transl)
    shape = torch.as_tensor(p["shape"].mean(axis=0))[None].expand(len(p["frame_ids"]), -1)
    # The default export is the world frame: the root's world orientation, the root joint at transl_world.
    pose_world = torch.as_tensor(p["pose_rotmat"]).clone()
    pose_world[:, 0] = torch.as_tensor(p["root_rotmat_world"])
    with torch.no_grad():
        posed = body(pose_world, shape)
        offset = torch.as_tensor(p["transl_world"]) - posed.joints[:, 0]
        expected = (posed.joints + offset[:, None]).numpy().astype(np.float64)
        keypoints = (body.keypoints(posed, "blazepose33") + offset[:, None]).numpy()
    # Measured: 2.0e-6 m (the BVH's 6 decimals and float32 results); ~10x that.
    np.testing.assert_allclose(joints_bvh, expected, rtol=0, atol=2e-5)
    # The same pose and root place the body's keypoints where results.npz puts them in the world.
    np.testing.assert_allclose(keypoints, p["joints3d_world"], rtol=0, atol=1e-4)


def test_glb_loads(run, body):
    import pygltflib

    result, _ = run
    gltf = pygltflib.GLTF2().load(str(result.out_dir / "person1.glb"))
    assert len(gltf.skins) == 1 and len(gltf.skins[0].joints) == body.num_joints
    assert len(gltf.animations) == 1


def test_nothing_partial_left(run):
    result, _ = run
    assert not [p for p in _files(result.out_dir) if "partial" in p.name or p.suffix == ".tmp"]


def test_rerun_reuses_cached_stages(run, checkpoint):
    result, config = run
    again = run_demo(
        CLIP,
        result.out_dir.parent,
        DemoConfig(checkpoint=checkpoint, max_frames=NUM_FRAMES, smooth=True, render=False, progress=False),
    )
    assert not {"people_landmarks", "detect_track", "landmarks"} & set(again.timings)
    assert again.overlay is None
    _, before = read_results(result.results.parent / "results.npz")
    _, smoothed = read_results(again.results)
    np.testing.assert_array_equal(smoothed[1]["frame_ids"], before[1]["frame_ids"])
    np.testing.assert_array_equal(smoothed[1]["landmarks_img"], before[1]["landmarks_img"])
    assert "vertices" not in smoothed[1]


def test_refine_lowers_the_reprojection_error_and_records_it(run, checkpoint):
    from vibe.fitting.temporal_smplify import SMPLifyConfig

    result, _ = run
    config = DemoConfig(
        checkpoint=checkpoint, max_frames=NUM_FRAMES, render=False, progress=False, refine=True,
        smplify=SMPLifyConfig(keypoint_set="blazepose33", num_steps=2, max_iter=10),
    )
    again = run_demo(CLIP, result.out_dir.parent, config)
    meta = json.loads(again.meta.read_text())
    errors = meta["refinement"]["1"]
    assert meta["options"]["refine"] is True
    assert errors["reproj_err_after_px"] < errors["reproj_err_before_px"]
    _, people = read_results(again.results)
    shape = people[1]["shape"]
    np.testing.assert_allclose(shape, np.broadcast_to(shape[:1], shape.shape))  # one shape per track
    with pytest.raises(ValueError, match="open stack"):
        DemoConfig(stack="smpl", refine=True)


def test_original_chunks_run_the_generator_once_over_a_short_track(run, checkpoint, tmp_path):
    """The original demo's chunking (450 frames): a 40-frame track is one GRU pass over all of it."""
    import shutil

    from vibe.pipeline.windows import ORIGINAL_CHUNK, WindowConfig

    result, _ = run
    shutil.copytree(result.out_dir / ".cache", tmp_path / result.out_dir.name / ".cache")  # same front end
    cases = {"chunks": WindowConfig(chunk=ORIGINAL_CHUNK), "one pass": WindowConfig(seqlen=None), "windows": None}
    poses = {}
    for name, windows in cases.items():
        config = DemoConfig(
            checkpoint=checkpoint, max_frames=NUM_FRAMES, render=False, progress=False, refine=False,
            windows=windows or WindowConfig(),
        )  # fmt: skip
        again = run_demo(CLIP, tmp_path, config)
        assert not {"people_landmarks", "detect_track", "landmarks"} & set(again.timings)
        poses[name] = read_results(again.results)[1][1]["pose_rotmat"]
        if name == "chunks":
            assert json.loads(again.meta.read_text())["options"]["windows"]["chunk"] == ORIGINAL_CHUNK
    np.testing.assert_array_equal(poses["chunks"], poses["one pass"])
    assert np.abs(poses["chunks"] - poses["windows"]).max() > 1e-5  # the default windows differ (3e-4 here)


@pytest.mark.skipif(
    not default_open_weights().exists(),
    reason=f"no trained open weights installed at {default_open_weights()} (they are committed once trained)",
)
def test_reprojection_matches_landmarks_with_trained_weights(tmp_path):
    result = run_demo(CLIP, tmp_path, DemoConfig(max_frames=NUM_FRAMES, render=False, progress=False))
    _, people = read_results(result.results)
    p = people[result.track_ids[0]]
    visible = p["landmarks_img"][..., 2] > 0.5
    err = np.linalg.norm(p["joints2d_img"] - p["landmarks_img"][..., :2], axis=-1)[visible]
    assert err.mean() < 15.0


# --------------------------------------------------------------------------- bad inputs
def _assert_fails(exc_type, code, video, out, config) -> BaseException:
    """The run raises ``exc_type`` with exit code ``code`` and a one-line message, writing nothing."""
    with pytest.raises(exc_type) as info:
        run_demo(video, out, config)
    assert info.value.exit_code == code
    assert "\n" not in str(info.value)
    assert _files(Path(out)) == []
    return info.value


def _bad_video(kind: str, folder: Path) -> Path:
    """An input that is not a readable video."""
    names = {"empty": "empty.mp4", "truncated": "truncated.mp4", "image": "frame.png", "missing": "nope.mp4"}
    path = folder / names[kind]
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = CLIP.read_bytes()
        path.write_bytes(data[: len(data) // 3])  # the mp4 index (moov) is at the end: lost
    elif kind == "image":
        cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    return path


@pytest.mark.parametrize("kind", ["empty", "truncated", "image", "missing"])
def test_unreadable_video(kind, tmp_path, checkpoint):
    video = _bad_video(kind, tmp_path)
    config = DemoConfig(checkpoint=checkpoint)
    error = _assert_fails(VideoUnreadableError, EXIT_VIDEO_UNREADABLE, video, tmp_path / "out", config)
    assert str(video) in str(error)


def test_unwritable_output(tmp_path, checkpoint):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputNotWritableError) as info:
        run_demo(CLIP, blocker / "out", DemoConfig(checkpoint=checkpoint, max_frames=5, progress=False))
    assert info.value.exit_code == EXIT_OUTPUT_NOT_WRITABLE
    assert str(blocker / "out") in str(info.value)
    assert _files(tmp_path) == [blocker]


def test_smpl_stack_names_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("VIBE_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(MissingAssetsError) as info:
        run_demo(CLIP, tmp_path / "out", DemoConfig(stack="smpl", progress=False))
    assert info.value.exit_code == EXIT_MISSING_ASSETS
    message = str(info.value)
    assert "\n" not in message
    names = ("SMPL_NEUTRAL.pkl", "smpl_mean_params.npz", "vibe_model_wo_3dpw.pth.tar", "spin_model_checkpoint.pth.tar")
    for name in names:
        assert name in message
    assert str(tmp_path / "data" / "smpl" / "SMPL_NEUTRAL.pkl") in message
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_file(tmp_path):
    config = DemoConfig(checkpoint=tmp_path / "none.pt")
    _assert_fails(MissingAssetsError, EXIT_MISSING_ASSETS, CLIP, tmp_path / "out", config)


def test_no_trained_weights_says_so(tmp_path, monkeypatch):
    import vibe.pipeline.run as run_module

    monkeypatch.setattr(run_module, "default_open_weights", lambda: tmp_path / "not_installed.pt")
    with pytest.raises(NoTrainedWeightsError) as info:
        run_demo(CLIP, tmp_path / "out", DemoConfig(progress=False))
    assert info.value.exit_code == EXIT_NO_WEIGHTS
    assert "no trained open weights" in str(info.value) and "--checkpoint" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_video_without_people(tmp_path, checkpoint):
    video = tmp_path / "black.mp4"
    with VideoWriter(video, fps=25.0) as writer:
        for _ in range(12):
            writer.write(np.zeros((96, 128, 3), np.uint8))
    result = run_demo(video, tmp_path / "out", DemoConfig(checkpoint=checkpoint, progress=False, export=("bvh",)))
    assert result.track_ids == [] and "no person" in result.message
    times, people = read_results(result.results)
    assert people == {} and times.shape == (12,)
    meta = json.loads(result.meta.read_text())
    assert meta["track_ids"] == [] and "no person" in meta["message"]
    assert result.overlay is None and result.exports == []
    assert sorted(p.name for p in result.out_dir.iterdir() if p.is_file()) == ["meta.json", "results.npz"]


# --------------------------------------------------------------------------- smpl stack
@pytest.mark.slow
def test_smpl_stack_writes_the_original_pkl(tmp_path, monkeypatch):
    """The paper's stack on synthetic SMPL files and random released-format checkpoints."""
    from smpl_fixtures import write_synthetic_smpl

    from vibe.body.smpl import SMPL, load_mean_params
    from vibe.export.vibe_pkl import read_vibe_output
    from vibe.models.regressor import RegressorInit

    data = tmp_path / "data"
    monkeypatch.setenv("VIBE_DATA_DIR", str(data))
    write_synthetic_smpl(data / "smpl")
    torch.manual_seed(11)
    body = SMPL(data / "smpl")
    model = VIBE(
        VIBEConfig(feature_source="resnet", keypoint_set="spin49"),
        body,
        RegressorInit.from_mean_params(load_mean_params(data / "smpl")),
    )
    (data / "checkpoints").mkdir()
    gen = {k: v for k, v in model.learned_state_dict().items() if k.startswith(("encoder.", "regressor."))}
    released = {"epoch": 1, "performance": 0.0, "gen_state_dict": gen}
    torch.save(released, data / "checkpoints" / "vibe_model_wo_3dpw.pth.tar")
    spin = {**model.backbone.state_dict(), **model.regressor.state_dict()}
    torch.save({"model": spin}, data / "checkpoints" / "spin_model_checkpoint.pth.tar")

    result = run_demo(CLIP, tmp_path / "out", DemoConfig(stack="smpl", max_frames=30, render=False, progress=False))
    assert result.track_ids == [1]
    tracks = read_vibe_output(result.vibe_output)
    track = tracks[1]
    n = len(track["frame_ids"])
    assert track["verts"].shape == (n, 6890, 3) and track["pose"].shape == (n, 72)
    assert track["joints3d"].shape == (n, 49, 3) and track["joints2d_img_coord"].shape == (n, 49, 2)
    _, people = read_results(result.results)
    # pose in the pkl is the axis-angle of the rotations in results.npz (scipy as the reference).
    from scipy.spatial.transform import Rotation

    rotmat = people[1]["pose_rotmat"].reshape(-1, 3, 3).astype(np.float64)
    np.testing.assert_allclose(track["pose"].reshape(-1, 3), Rotation.from_matrix(rotmat).as_rotvec(), atol=1e-4)
    np.testing.assert_allclose(track["orig_cam"], people[1]["cam_image"], atol=1e-6)
    assert json.loads(result.meta.read_text())["weights"]["format"] == "released"
