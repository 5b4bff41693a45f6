"""Every command run through the CLI as a user would (typer's runner): options reach the library,
successful runs write what they promise, and each documented exit code comes back.

Exit codes (README): 2 usage error, 3 unreadable video, 4 missing licensed files or
evaluation data, 5 output not writable, 6 no trained weights. The demo runs on the first
30 frames of assets/pose_1.mp4 with a small random generator, so the checks are about the
wiring (option → effect), not accuracy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from open_checkpoint import save_random_open_checkpoint
from vibe.body.anny import Anny
from vibe.cli import app
from vibe.pipeline.outputs import read_results
from vibe.pipeline.smoothing import OneEuroConfig, one_euro_rotations
from vibe.pipeline.video import VideoReader

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "pose_1.mp4"
FRAMES = 30  # the tracker keeps tracks of at least 25 frames
runner = CliRunner()

pytestmark = pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")


def _ok(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_random_open_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt", Anny(), width=64, seed=5)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory, checkpoint) -> dict[str, Path]:
    """The demo twice on the same clip: all options on, and plain (no smoothing, no render, no export)."""
    out = tmp_path_factory.mktemp("demo")
    common = [str(CLIP), "--checkpoint", str(checkpoint), "--max-frames", str(FRAMES), "--quiet"]
    full = out / "full"
    _ok(["demo", *common, "--out", str(full), "--smooth", "--min-cutoff", "0.01", "--beta", "0.3",
         "--export", "bvh", "--export", "gltf", "--side-view"])  # fmt: skip
    plain = out / "plain"
    # The second run starts from the first one's detection and landmark caches (seconds saved).
    shutil.copytree(full / "pose_1" / ".cache", plain / "pose_1" / ".cache")
    _ok(["demo", *common, "--out", str(plain), "--no-render"])
    return {"full": full / "pose_1", "plain": plain / "pose_1"}


def test_demo_smooth_filters_the_rotations_with_the_given_one_euro_options(demo_runs):
    _, smoothed = read_results(demo_runs["full"] / "results.npz")
    _, raw = read_results(demo_runs["plain"] / "results.npz")
    assert list(smoothed) == list(raw) == [1]
    s, r = smoothed[1], raw[1]
    np.testing.assert_array_equal(s["frame_ids"], r["frame_ids"])
    # The reference: the filter applied here to the unsmoothed run's rotations, with the CLI's values.
    expected = one_euro_rotations(r["pose_rotmat"], OneEuroConfig(min_cutoff=0.01, beta=0.3), times=r["frame_ids"])
    np.testing.assert_allclose(s["pose_rotmat"], expected.numpy(), atol=1e-5)
    # Smoothing changed the output: by 1.0e-3 at most here (a random generator barely moves), far
    # above the 1e-5 agreement above, so a run that skipped the filter fails both checks.
    assert np.abs(s["pose_rotmat"] - r["pose_rotmat"]).max() > 2e-4
    meta = json.loads((demo_runs["full"] / "meta.json").read_text())
    assert meta["options"]["smooth"] is True and meta["options"]["one_euro"]["beta"] == pytest.approx(0.3)
    assert json.loads((demo_runs["plain"] / "meta.json").read_text())["options"]["smooth"] is False


def test_demo_exports_parse(demo_runs):
    import pygltflib

    from vibe.data.mocap.bvh import read_bvh

    _, people = read_results(demo_runs["full"] / "results.npz")
    n = len(people[1]["frame_ids"])
    motion = read_bvh(demo_runs["full"] / "person1.bvh")
    assert motion.local_rotmat.shape[0] == n and motion.fps == pytest.approx(30.0, rel=1e-4)
    gltf = pygltflib.GLTF2().load(str(demo_runs["full"] / "person1.glb"))
    assert len(gltf.skins) == 1 and len(gltf.animations) == 1
    times = gltf.accessors[gltf.animations[0].samplers[0].input]
    assert times.count == n and times.max[0] == pytest.approx((n - 1) / 30.0, rel=1e-4)
    assert not list(demo_runs["plain"].glob("person*"))  # no --export: no files


def _rendered(path: Path) -> list[np.ndarray]:
    return [image for _, _, image in VideoReader(path)]


def test_demo_side_view_renders_the_body(demo_runs):
    full, plain = demo_runs["full"], demo_runs["plain"]
    if not (full / "overlay.mp4").exists():
        pytest.skip("no offscreen rendering on this machine")
    assert not (plain / "overlay.mp4").exists() and not (plain / "side.mp4").exists()  # --no-render
    side = _rendered(full / "side.mp4")
    assert len(side) == FRAMES == len(_rendered(full / "overlay.mp4"))
    _, people = read_results(full / "results.npz")
    frame = side[int(people[1]["frame_ids"][len(people[1]["frame_ids"]) // 2])].astype(int)
    background = np.median(frame.reshape(-1, 3), axis=0)  # most of the side view is empty
    body = np.abs(frame - background).sum(-1) > 30
    assert 0.005 < body.mean() < 0.5  # a body drawn, not an empty or a full frame


# --------------------------------------------------------------------------- demo exit codes
def test_demo_usage_errors_exit_2(tmp_path):
    for args in (["--stack", "nope"], ["--export", "fbx"], ["--stack", "smpl", "--refine"]):
        result = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path), *args])
        assert result.exit_code == 2, (args, result.output)
    assert not any(tmp_path.iterdir())


def test_demo_usage_errors_are_one_line_naming_the_option(tmp_path):
    cases = {("--stack", "nope"): "--stack", ("--max-frames", "0"): "--max-frames", ("--beta", "abc"): "--beta",
             ("--nope",): "--nope", ("--min-cutoff", "0"): "--min-cutoff"}  # fmt: skip
    for args, name in cases.items():
        result = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path), *args])
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and result.stdout == "", (args, result.output)
        assert lines[0].startswith("error: ") and name in lines[0], lines


def test_one_line_usage_errors_of_callbacks_and_command_bodies():
    """The demo's command class on a small command: values refused by a callback or by the body."""
    import typer

    from vibe.cli import _OneLineUsageErrors

    def odd(value: int) -> int:
        if value % 2 == 0:
            raise typer.BadParameter("must be odd")
        return value

    small = typer.Typer()

    @small.command(cls=_OneLineUsageErrors)
    def count(n: int = typer.Argument(..., callback=odd), m: int = typer.Option(0, "--m")) -> None:
        if m < 0:
            raise typer.BadParameter("must not be negative", param_hint="--m")
        typer.echo(n + m)

    cases = {("2",): "error: Invalid value for 'n': must be odd",
             ("3", "--m", "-1"): "error: Invalid value for --m: must not be negative"}  # fmt: skip
    for args, line in cases.items():
        result = runner.invoke(small, list(args))
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", line + "\n"), args
    assert runner.invoke(small, ["3", "--m", "2"]).stdout == "5\n"


def test_demo_device_is_checked_before_running(tmp_path):
    bad = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path), "--device", "nope"])
    assert bad.exit_code == 2 and "--device" in bad.stderr
    if not torch.cuda.is_available():
        cuda = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path), "--device", "cuda"])
        assert cuda.exit_code == 2 and "no CUDA device" in cuda.stderr
    assert not any(tmp_path.iterdir())


def test_demo_defaults_to_the_bundled_sample(tmp_path, checkpoint):
    from vibe.cli import _bundled_sample

    assert _bundled_sample() == ROOT / "assets" / "people_walking.mp4"
    args = ["demo", "--out", str(tmp_path), "--checkpoint", str(checkpoint), "--max-frames", "2", "--device", "cpu"]
    _ok([*args, "--no-render", "--quiet"])
    assert (tmp_path / "people_walking" / "results.npz").is_file()


def test_demo_missing_checkpoint_exits_4(tmp_path):
    result = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "no.pt")])
    assert result.exit_code == 4 and "no.pt" in result.output


def test_demo_smpl_stack_without_files_exits_4(tmp_path, monkeypatch):
    monkeypatch.setenv("VIBE_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path / "out"), "--stack", "smpl", "--quiet"])
    assert result.exit_code == 4 and "SMPL_NEUTRAL.pkl" in result.output


def test_demo_unwritable_output_exits_5(tmp_path, checkpoint):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = ["demo", str(CLIP), "--out", str(blocker / "out"), "--checkpoint", str(checkpoint), "--max-frames", "5", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 5 and str(blocker / "out") in result.output


def test_demo_without_trained_weights_exits_6(tmp_path, monkeypatch):
    import vibe.pipeline.run as run_module

    monkeypatch.setattr(run_module, "default_open_weights", lambda: tmp_path / "not_installed.pt")
    result = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 6 and "--checkpoint" in result.output


# --------------------------------------------------------------------------- eval
def test_eval_missing_data_exits_4(tmp_path, checkpoint):
    for dataset in ("3dpw", "synthetic"):
        result = runner.invoke(
            app, ["eval", "--dataset", dataset, "--checkpoint", str(checkpoint), "--data", str(tmp_path / "none"),
                  "--out", str(tmp_path / "eval")],
        )  # fmt: skip
        assert result.exit_code == 4, (dataset, result.output, result.exception)
        assert result.output.strip().startswith("error:")


def test_eval_missing_checkpoint_exits_4(tmp_path):
    (tmp_path / "bench").mkdir()
    result = runner.invoke(app, ["eval", "-d", "synthetic", "--checkpoint", str(tmp_path / "x.pt"), "--data", str(tmp_path / "bench")])
    assert result.exit_code == 4 and "x.pt" in result.output


def test_eval_usage_errors_exit_2(tmp_path, checkpoint):
    assert runner.invoke(app, ["eval", "--checkpoint", str(checkpoint)]).exit_code == 2  # no --dataset
    assert runner.invoke(app, ["eval", "-d", "synthetic", "--checkpoint", str(checkpoint)]).exit_code == 2  # no --data
    bad = runner.invoke(app, ["eval", "-d", "synthetic", "--checkpoint", str(checkpoint), "--data", str(tmp_path),
                              "--baseline", "no-equals-sign"])  # fmt: skip
    assert bad.exit_code == 2 and "NAME=CHECKPOINT" in bad.output


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[Path, str]:
    """``vibe eval make-synthetic`` on the CMU fixture clip (0.5 s): one 0.3 s video of 9 frames, and the command's output."""
    mocap = ROOT / "tests" / "data" / "mocap"
    out = tmp_path_factory.mktemp("bench")
    result = _ok(["eval", "make-synthetic", str(mocap / "02.asf"), str(mocap / "02_01_f101-160.amc"), "--out", str(out),
                  "--videos", "1", "--seconds", "0.3", "--seed", "1"])  # fmt: skip
    return out, result.output


def test_make_synthetic_renders_one_tiny_video(bench):
    out, output = bench
    assert "wrote 1 videos" in output
    gt = np.load(out / "video_000.npz")
    meta = json.loads((out / "video_000.json").read_text())
    assert meta["clip"] == "02_01_f101-160" and len(gt["frame_ids"]) == 9  # 0.3 s at 30 fps
    assert sum(1 for _ in VideoReader(out / "video_000.mp4")) == 9
    assert runner.invoke(app, ["eval", "make-synthetic"]).exit_code == 2  # --out is required


def test_eval_synthetic_writes_its_json_rows_and_markdown(bench, checkpoint, tmp_path):
    from vibe.evaluation.report import table_header

    # 9 frames are fewer than a track needs (25): the video counts, with no matched frame.
    md = tmp_path / "results.md"
    result = _ok(["eval", "-d", "synthetic", "--checkpoint", str(checkpoint), "--data", str(bench[0]),
                  "--out", str(tmp_path / "eval"), "--results-md", str(md), "--baseline", f"B={checkpoint}",
                  "--no-per-frame"])  # fmt: skip
    saved = json.loads((tmp_path / "eval" / "synthetic.json").read_text())
    assert [r["key"] for r in saved["rows"]] == ["model", "baseline:B", "mediapipe", "mediapipe_smoothed"]
    assert saved["baselines"] == {"B": str(checkpoint)} and saved["n_videos"] == 1 and saved["n_frames"] == 9
    printed = [line for line in result.output.splitlines() if line.startswith("| ")]
    assert printed[0] == table_header().splitlines()[0]  # the header first, then one row per JSON row
    assert [line.split(" | ")[0] for line in printed[1:]] == ["| " + r["label"] for r in saved["rows"]]
    assert "synthetic: nobody found in 0 of 1 videos" in result.output
    text = md.read_text()
    assert text.count("<!-- eval:eval -->") == 1 and all(line in text for line in printed)


# --------------------------------------------------------------------------- train
def _set(config: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        config = config[key]
    config[leaf] = value


@pytest.fixture
def tiny_yaml(tmp_path) -> Path:
    """configs/open.yaml shrunk to seconds of training, writing to ``tmp_path/from_yaml``.

    The tiny sizes live in the file, so that even a run that ignored the command's overrides
    stays short (a mutation of the override handling must not start a real training run).
    """
    import yaml

    config = yaml.safe_load((ROOT / "configs" / "open.yaml").read_text())
    tiny = {"model.feature_dim": 32, "model.encoder.input_size": 32, "model.encoder.hidden_size": 8,
            "model.keypoint_encoder.out_dim": 32, "model.keypoint_encoder.hidden_dim": 16,
            "discriminator.rnn_size": 8, "discriminator.attention_size": 8, "seqlen": 4, "batch_size": 2,
            "val_windows": 2, "iters_per_epoch": 1, "epochs": 1, "device": "cpu", "progress": False,
            "out_dir": str(tmp_path / "from_yaml")}  # fmt: skip
    for key, value in tiny.items():
        _set(config, key, value)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_runs_a_tiny_config_and_reports_its_checkpoint(tiny_yaml, tmp_path):
    # out_dir and the iteration count come as overrides: ignoring them lands elsewhere, with one step.
    result = _ok(["train", "-c", str(tiny_yaml), f"out_dir={tmp_path / 'run'}", "iters_per_epoch=2"])
    best = Path(result.output.strip().splitlines()[-1].removeprefix("best checkpoint: "))
    assert best.is_file() and best.parent == tmp_path / "run" and not (tmp_path / "from_yaml").exists()
    from vibe.models.checkpoints import load_checkpoint

    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    assert saved.extra["global_step"] == 2 and saved.extra["epoch"] == 1
    assert saved.generator["regressor.init_pose"].dtype == torch.float32


def test_train_rejects_unknown_overrides(tiny_yaml, tmp_path):
    result = runner.invoke(app, ["train", "-c", str(tiny_yaml), "no_such_key=1"])
    assert result.exit_code != 0 and not (tmp_path / "from_yaml").exists()


def test_unknown_command_and_option_exit_2():
    assert runner.invoke(app, ["nope"]).exit_code == 2
    assert runner.invoke(app, ["assets", "check", "--nope"]).exit_code == 2
    assert runner.invoke(app, ["mocap", "import"]).exit_code == 2  # PATHS required
