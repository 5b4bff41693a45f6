"""The issue's cases from the command line, on generated files shaped as their authors publish them.

- HDM05: ``HDM_<actor>.asf`` skeletons, two actors per folder, clips named
  ``HDM_<actor>_<motion>_<take>_120.amc``, Latin-1 header comments;
- a database written by ``vibe mocap import`` fed to ``make-synthetic``;
- a CMU clip as a 43-joint Daz BVH in centimetres, with ``--joint-map``;
- the evaluation table: header, every column, videos where nobody was found.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mocap_fixtures import daz_bvh
from vibe.cli import app
from vibe.data.motion_db import MotionDB

pytestmark = [pytest.mark.anny, pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")]

MOCAP = Path(__file__).parent / "data" / "mocap"
HDM_LICENCE = "HDM05 (Müller et al.), CC BY-SA 3.0: evaluation only"
runner = CliRunner()


@pytest.fixture(scope="module")
def hdm_folder(tmp_path_factory) -> Path:
    """One HDM05-style class folder: two actors' skeletons and clips, Latin-1 comments."""
    folder = tmp_path_factory.mktemp("hdm05") / "train" / "1"
    folder.mkdir(parents=True)
    comment = "# Hochschule der Medien, M\xfcller\n".encode("latin-1")
    for actor in ("bd", "bk"):
        (folder / f"HDM_{actor}.asf").write_bytes(comment + (MOCAP / "02.asf").read_bytes())
        amc = folder / f"HDM_{actor}_walkRightCircle4StepsRstart_001_120.amc"
        amc.write_bytes(comment + (MOCAP / "02_01_f101-160.amc").read_bytes())
    return folder


def test_hdm05_folder_imports_with_each_actors_skeleton_and_licence(hdm_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "hdm.npz"
    args = ["mocap", "import", str(hdm_folder.parent), "--out", str(out), "--licence", HDM_LICENCE]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    db = MotionDB.load(out)
    assert sorted(db.subject) == ["HDM_bd", "HDM_bk"] and set(db.licence) == {HDM_LICENCE}
    assert f"licence: {HDM_LICENCE}" in result.output and "2 bone for bone" in result.output


def test_make_synthetic_from_one_hdm05_clip_and_from_a_database(hdm_folder: Path, tmp_path: Path) -> None:
    """A clip beside two actors' skeletons renders; so does the database written from it, licence kept."""
    amc = next(hdm_folder.glob("HDM_bk_*.amc"))
    db_path = tmp_path / "bk.npz"
    result = runner.invoke(app, ["mocap", "import", str(amc), "--out", str(db_path), "--licence", HDM_LICENCE])
    assert result.exit_code == 0, result.output
    bench = tmp_path / "bench"
    args = ["eval", "make-synthetic", str(db_path), "--out", str(bench), "--videos", "1", "--seconds", "1"]
    result = runner.invoke(app, [*args, "--label", "HDM05"])
    assert result.exit_code == 0, result.output
    video = json.loads((bench / "video_000.json").read_text())
    summary = json.loads((bench / "benchmark.json").read_text())
    assert video["motion_licence"] == HDM_LICENCE and HDM_LICENCE in video["licence"] and "CMU" not in video["licence"]
    assert summary["label"] == "HDM05" and summary["licences"] == [HDM_LICENCE]
    # 60 frames at 120 fps → 15 at 30 fps: shorter than the second asked, listed with its length.
    assert summary["short_videos"] == [{"video": "video_000", "clip": amc.stem, "subject": "HDM_bk", "seconds": 0.5}]
    assert "1 of 1 videos are shorter than 1 s" in result.output and "0.50 s" in result.output


def test_a_daz_bvh_in_centimetres_fits_by_ik_and_takes_a_joint_map(tmp_path: Path) -> None:
    bvh = daz_bvh(MOCAP / "02.asf", MOCAP / "02_01_f101-160.amc", tmp_path / "02_01_daz.bvh")
    out = tmp_path / "daz.npz"
    result = runner.invoke(app, ["mocap", "import", str(bvh), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 by IK on matched joints" in result.output and "IK on 16 joints" in result.output
    assert "fit error mean" in result.output and "licence not given" in result.output
    joint_map = tmp_path / "map.yaml"
    joint_map.write_text("lToe: null\nrToe: null\n")
    result = runner.invoke(app, ["mocap", "import", str(bvh), "--out", str(out), "--joint-map", str(joint_map)])
    assert result.exit_code == 0 and "IK on 14 joints" in result.output, result.output
    joint_map.write_text("lToe: LeftPaw\n")
    result = runner.invoke(app, ["mocap", "import", str(bvh), "--out", str(out), "--joint-map", str(joint_map)])
    assert result.exit_code == 2 and "the body has no joint 'LeftPaw'" in result.output


def test_an_unmatched_skeleton_asks_for_a_joint_map(tmp_path: Path) -> None:
    lines = (MOCAP / "131_01_f301-360.bvh").read_text().splitlines()
    named = [i for i, line in enumerate(lines) if line.strip().split(" ")[0] in ("ROOT", "JOINT")]
    for k, i in enumerate(named):  # every joint gets a name no convention has
        lines[i] = f"{lines[i].split()[0]} segment{k}"
    (tmp_path / "odd.bvh").write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["mocap", "import", str(tmp_path / "odd.bvh"), "--out", str(tmp_path / "o.npz")])
    assert result.exit_code == 2 and "--joint-map" in result.output


def test_the_synthetic_table_has_a_header_every_column_and_counts_videos_without_anyone(monkeypatch, tmp_path):
    from vibe.evaluation import report, synthetic_bench

    videos = [{"video": "video_000.mp4", "n_matched": 0, "n_tracks": 0, "metrics": {}},
              {"video": "video_001.mp4", "n_matched": 10, "n_tracks": 1,
               "metrics": {"model": {"pa_mpjpe": 50.0, "pa_mpjpe12": 40.0, "accel_err12": 3.0}}}]  # fmt: skip
    title = synthetic_bench.bench_title("HDM05", 2, 1)
    fake = {"rows": synthetic_bench.table_rows(videos, "m.pt", False, [], title), "n_videos": 2,
            "n_videos_no_person": 1, "videos_no_person": ["video_000.mp4"]}  # fmt: skip
    monkeypatch.setattr(synthetic_bench, "run_synthetic_benchmark", lambda *a, **k: fake)
    (tmp_path / "ckpt.pt").write_bytes(b"")
    result = runner.invoke(
        app, ["eval", "--dataset", "synthetic", "--checkpoint", str(tmp_path / "ckpt.pt"), "--data", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Model"))
    assert all(t in lines[header] for _, t in report.COLUMNS) and "PA-MPJPE12" in lines[header]
    row = lines[header + 2]
    assert "Synthetic (Anny, HDM05), nobody found in 1/2 videos" in row and "40.00" in row
    assert "synthetic: nobody found in 1 of 2 videos, video_000.mp4" in result.output
