"""The command-line entry points, run as a user would (typer's runner, real files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vibe.cli import app
from vibe.data.mocap import import_mocap
from vibe.data.motion_db import MotionDB

MOCAP = Path(__file__).parent / "data" / "mocap"
runner = CliRunner()


def test_assets_check_lists_every_file_with_its_status(tmp_path: Path) -> None:
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_NEUTRAL.pkl").write_bytes(b"x")
    result = runner.invoke(app, ["assets", "check", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "[" in line]
    assert any("found" in line and "SMPL_NEUTRAL.pkl" in line for line in lines)
    assert any("missing" in line and "J_regressor_h36m.npy" in line for line in lines)


@pytest.mark.anny
def test_mocap_import_folder_builds_a_motion_db(tmp_path: Path) -> None:
    out = tmp_path / "motions.npz"
    result = runner.invoke(app, ["mocap", "import", str(MOCAP), "--out", str(out), "--bvh-scale", "0.056444"])
    assert result.exit_code == 0, result.output
    db = MotionDB.load(out)
    motions = import_mocap(sorted(MOCAP.glob("*.amc")) + sorted(MOCAP.glob("*.bvh")), fps=30, bvh_scale=0.056444)
    assert db.num_clips == 2
    assert db.num_frames == sum(m.num_frames for m in motions)
    assert np.allclose(np.linalg.det(db.rotmat()), 1.0, atol=1e-2)


def test_mocap_import_refuses_a_folder_without_mocap(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no motion here")
    result = runner.invoke(app, ["mocap", "import", str(tmp_path), "--out", str(tmp_path / "m.npz")])
    assert result.exit_code == 2  # a usage error (README)
    assert "no .amc, .bvh, AMASS .npz or motion database" in result.output
    assert not (tmp_path / "m.npz").exists()


def test_demo_maps_a_bad_video_to_its_exit_code_and_one_line(tmp_path: Path) -> None:
    from vibe.pipeline.run import EXIT_VIDEO_UNREADABLE

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = runner.invoke(app, ["demo", str(empty), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == EXIT_VIDEO_UNREADABLE
    assert result.output.strip().startswith("error:")
    assert not (tmp_path / "out" / "empty" / "results.npz").exists()


def test_demo_rejects_unknown_export_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--export", "fbx", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "bvh or gltf" in result.output


def test_eval_ablations_forwards_its_options_to_the_runner() -> None:
    result = runner.invoke(app, ["eval", "ablations", "--help"])
    assert result.exit_code == 0
    assert "--budget-iters" in result.output and "--seeds" in result.output
    missing = runner.invoke(app, ["eval", "ablations", "--seeds", "0"])
    assert missing.exit_code == 2  # argparse: --budget-iters is required


@pytest.fixture
def demo_config(tmp_path: Path, monkeypatch):
    """``invoke(*flags)`` → ``(the DemoConfig `vibe demo` built from the flags, the CLI result)``; the demo stops there."""
    import vibe.pipeline.run as run

    seen = {}

    def fake_run_demo(video, out, config):
        seen["config"] = config
        raise run.DemoError("stop here")

    monkeypatch.setattr(run, "run_demo", fake_run_demo)

    def invoke(*flags: str):
        seen.pop("config", None)
        result = runner.invoke(app, ["demo", *flags, "--out", str(tmp_path), "--quiet"])
        return seen.get("config"), result

    return invoke


def test_demo_refine_steps_reach_the_fit_and_zero_is_a_usage_error(demo_config) -> None:
    import vibe.pipeline.run as run

    config, result = demo_config("--refine-steps", "5")
    assert result.exit_code == run.DemoError.exit_code, result.output
    assert config.refine is True and config.smplify.num_steps == 5
    assert config.smplify.world_weight > 0  # the world-landmark term stays on
    assert demo_config("--no-refine")[0].refine is False
    assert demo_config("--refine-steps", "0")[1].exit_code == 2


def test_demo_original_chunks_set_the_windows(demo_config) -> None:
    assert demo_config("--original-chunks")[0].windows.chunk == 450
    windows = demo_config()[0].windows
    assert windows.chunk is None and windows.seqlen == 16


def test_demo_label_swaps_and_flip_average_are_on_unless_turned_off(demo_config) -> None:
    config = demo_config()[0]
    assert config.label_swaps is not None and config.flip_average
    config = demo_config("--no-label-swaps", "--no-flip-average")[0]
    assert config.label_swaps is None and not config.flip_average


def test_demo_without_a_video_outside_a_checkout_says_so(tmp_path: Path, monkeypatch) -> None:
    import vibe.cli as cli

    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "vibe" / "cli.py"))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "give a video" in result.output
