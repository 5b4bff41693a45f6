"""The demo's world options on the command line: bad values are usage errors (exit 2, one line), before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vibe.cli import app

runner = CliRunner()
CLIP = Path(__file__).resolve().parents[1] / "assets" / "pose_1.mp4"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frame", "sideways"], "--frame must be world or camera"),
        (["--rig", "unity"], "--rig: choose cmu_mb, mixamo, game_engine"),
        (["--rig", "mixamo", "--stack", "smpl"], "other rigs: open stack only"),
    ],
)
def test_bad_world_options_are_usage_errors(tmp_path, args, message):
    result = runner.invoke(app, ["demo", str(CLIP), "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not any(tmp_path.iterdir())  # nothing written


def test_world_benchmark_without_videos_exits_4(tmp_path):
    result = runner.invoke(app, ["eval", "world", "--data", str(tmp_path), "--out", str(tmp_path / "w.json")])
    assert result.exit_code == 4
    assert "no video" in result.output
