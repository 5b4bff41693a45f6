"""Rendered sets name their motion: titles and licences from benchmark.json, videos without anyone counted."""

from __future__ import annotations

import json
from pathlib import Path

from vibe.evaluation.synthetic_bench import bench_motion, bench_title, pool_results, table_rows
from vibe.evaluation.synthetic_make import licence_note


def _video_json(folder: Path, index: int, licence: str) -> None:
    (folder / f"video_{index:03d}.json").write_text(json.dumps({"licence": licence_note(licence)}))


def test_the_label_and_licences_come_from_benchmark_json(tmp_path: Path) -> None:
    (tmp_path / "benchmark.json").write_text(json.dumps({"label": "HDM05", "licences": ["CC BY-SA 3.0"]}))
    assert bench_motion(tmp_path) == ("HDM05", ["CC BY-SA 3.0"])


def test_older_folders_are_labelled_from_their_videos(tmp_path: Path) -> None:
    _video_json(tmp_path, 0, "CMU mocap: free to use, not to resell")
    assert bench_motion(tmp_path)[0] == "held-out CMU"
    _video_json(tmp_path, 1, "CC BY-SA 3.0")
    assert bench_motion(tmp_path)[0] == "unnamed mocap"
    assert "CMU" not in licence_note("CC BY-SA 3.0")


def test_titles_count_videos_where_nobody_was_found() -> None:
    assert bench_title("HDM05", 8, 0) == "Synthetic (Anny, HDM05)"
    assert bench_title("HDM05", 8, 2) == "Synthetic (Anny, HDM05), nobody found in 2/8 videos"


def test_pooled_runs_sum_the_videos_without_anyone() -> None:
    def run(bench: str, found: bool) -> dict:
        videos = [{"video": "video_000.mp4", "n_matched": 5 * found, "n_tracks": int(found),
                   "metrics": {"model": {"pa_mpjpe": 10.0}} if found else {}}]  # fmt: skip
        rows = table_rows(videos, "m.pt", False, [], "t")
        return {"bench_dir": bench, "rows": rows, "videos": videos, "n_videos": 1, "n_frames": 5,
                "n_matched_frames": 5 * found, "motion": "HDM05", "licences": ["CC"]}  # fmt: skip

    pooled = pool_results([run("a", True), run("b", False)])
    assert pooled["n_videos_no_person"] == 1 and pooled["videos_no_person"] == ["video_000.mp4"]
    assert pooled["title"] == "Synthetic (Anny, HDM05), nobody found in 1/2 videos"
    assert {r["title"] for r in pooled["rows"]} == {pooled["title"]} and pooled["licences"] == ["CC"]
