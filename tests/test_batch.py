"""``vibe batch``: inputs, names, manifest, resume and failure handling, fsspec outputs, Ray local mode.

Videos are written here, tiny: 8-12 frames of the bundled ``assets/pose_1.mp4``
(one person) at 160², two of them with the same stem in different folders,
plus a file that is not a video. The generator has fixed random weights: the
checks are about which folders, records and files a batch leaves, not about
bodies.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from native_stderr import stderr_file, thread_in_a_silenced_block
from open_checkpoint import save_random_open_checkpoint
from vibe.body.anny import Anny
from vibe.cli import app
from vibe.pipeline.batch import BatchOptions, choose_workers, format_summary, process_video, run_batch
from vibe.pipeline.batch_io import BatchInputError, expand_inputs
from vibe.pipeline.batch_manifest import MANIFEST_FILE, assign_names, options_key, plan
from vibe.pipeline.outputs import read_results
from vibe.pipeline.run import DemoConfig, run_demo
from vibe.pipeline.video import VideoReader, VideoWriter

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "pose_1.mp4"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_random_open_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt", Anny(), width=64, seed=3)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Frames 30-49 of pose_1 (one person, whole body), 160²."""
    images = [im for _, _, im in VideoReader(CLIP).frames(30, 50)]
    return [cv2.resize(im, (160, 160), interpolation=cv2.INTER_AREA) for im in images]


def _write(path: Path, images: list[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, 30.0) as writer:
        for image in images:
            writer.write(image)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory, frames) -> Path:
    """``a/clip.mp4`` (12 frames), ``b/clip.mp4`` (8), ``a/other.mp4`` (8), ``broken.mp4`` (not a video)."""
    root = tmp_path_factory.mktemp("videos")
    _write(root / "a" / "clip.mp4", frames[:12])
    _write(root / "b" / "clip.mp4", frames[12:])
    _write(root / "a" / "other.mp4", frames[4:12])
    (root / "broken.mp4").write_bytes(b"not a video at all")
    return root


def _config(checkpoint: Path, **options) -> DemoConfig:
    return DemoConfig(checkpoint=checkpoint, render=False, progress=False, workers=1, **options)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST_FILE).read_text().splitlines()]


@pytest.fixture(scope="module")
def batch(tmp_path_factory, videos, checkpoint):
    """One batch over the folder, in this process (one worker)."""
    out = tmp_path_factory.mktemp("batch")
    summary = run_batch([str(videos)], str(out), _config(checkpoint), BatchOptions(workers=1, progress=False))
    return out, summary


# --------------------------------------------------------------------------- inputs and names
def test_inputs_folders_globs_and_lists(videos, tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_text(f"# two videos\n{videos / 'a' / 'other.mp4'}\n\n{os.path.relpath(videos / 'b', tmp_path)}  # a folder\n")
    assert expand_inputs([str(videos / "a")]) == [str(videos / "a" / "clip.mp4"), str(videos / "a" / "other.mp4")]
    assert expand_inputs([str(videos / "*" / "clip.mp4")]) == [str(videos / d / "clip.mp4") for d in "ab"]
    assert expand_inputs([str(listed)]) == [str(videos / "a" / "other.mp4"), str(videos / "b" / "clip.mp4")]
    assert len(expand_inputs([str(videos / "**" / "*.mp4"), str(videos)])) == 4  # each video once
    for missing in (tmp_path / "nothing.mp4", tmp_path / "*.mkv"):
        with pytest.raises(BatchInputError):
            expand_inputs([str(missing)])


def test_names_keep_stems_and_tell_equal_ones_apart():
    names = assign_names(["/x/a/clip.mp4", "/x/b/clip.mp4", "/x/c/clip.mov", "/x/d.mp4"], {})
    assert list(names.values()) == ["clip", "clip-2", "clip-3", "d"]
    # A name given by an earlier batch stays with its video, and is not given to another.
    again = assign_names(["/x/new/clip.mp4", "/x/b/clip.mp4"], {"/x/b/clip.mp4": "clip", "/x/a/clip.mp4": "clip-2"})
    assert again == {"/x/new/clip.mp4": "clip-3", "/x/b/clip.mp4": "clip"}


def test_plan_runs_new_unfinished_and_changed_only():
    key = "k1"
    latest = {
        "done": {"source": "/v/done.mp4", "status": "done", "options": key},
        "gone": {"source": "/v/gone.mp4", "status": "done", "options": key},
        "other": {"source": "/v/other.mp4", "status": "done", "options": "k0"},
        "bad": {"source": "/v/bad.mp4", "status": "failed", "options": key},
    }
    names = {f"/v/{n}.mp4": n for n in ["done", "gone", "other", "bad", "new"]}
    todo = plan(names, latest, key, retry_failed=False, exists=lambda name: name != "gone")
    assert {n: why for _, n, why in todo.run} == {
        "gone": "result folder missing", "other": "done with other options", "new": "new"
    }
    assert {n for _, n, _ in todo.skip} == {"done", "bad"}
    retried = plan(names, latest, key, retry_failed=True, exists=lambda name: True)
    assert "bad" in {n for _, n, _ in retried.run}


def test_options_key_ignores_speed_options(checkpoint):
    speed = DemoConfig(checkpoint=checkpoint, render=False, progress=True, workers=3, cache=False, batch_frames=8)
    assert options_key(_config(checkpoint)) == options_key(speed)
    assert options_key(_config(checkpoint)) != options_key(_config(checkpoint, smooth=True))


def test_workers_follow_videos_and_cores():
    big = 64 << 30
    assert choose_workers(1000, cores=2, memory=big) == (1, 2)  # one process per two cores, two threads each
    assert choose_workers(1000, cores=16, memory=big) == (8, 2)
    assert choose_workers(1000, cores=16, memory=4 << 30) == (3, 5)  # as many as memory holds
    assert choose_workers(3, cores=16, memory=big) == (3, 5)  # few videos: the spare cores go to their threads
    assert choose_workers(1, cores=1) == (1, 1)
    assert choose_workers(3, workers=1, cores=4) == (1, 4)
    assert choose_workers(3, workers=2, threads=3, cores=4) == (2, 3)


# --------------------------------------------------------------------------- a batch, and re-runs
def test_one_folder_per_video_as_the_demo_writes_it(batch, videos, checkpoint, tmp_path):
    out, summary = batch
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["clip", "clip-2", "other"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left
    # clip-2 is b/clip.mp4, run by a worker that had the generator loaded: the same as the demo alone
    # with torch on as many threads (the landmark fit's L-BFGS amplifies float rounding, which the
    # thread count changes).
    from vibe.pipeline.batch import TORCH_THREADS, torch_threads

    with torch_threads(TORCH_THREADS):
        alone = run_demo(videos / "b" / "clip.mp4", tmp_path, _config(checkpoint))
    times, people = read_results(alone.results)
    batched_times, batched = read_results(out / "clip-2" / "results.npz")
    np.testing.assert_array_equal(batched_times, times)
    assert sorted(batched) == sorted(people) and people
    for tid, person in people.items():
        for key, value in person.items():
            np.testing.assert_array_equal(batched[tid][key], value, err_msg=key)
    meta = json.loads((out / "clip-2" / "meta.json").read_text())
    assert meta["video"]["path"] == str(videos / "b" / "clip.mp4")
    assert meta["files"] == json.loads(alone.meta.read_text())["files"]


def test_manifest_records_every_video(batch, videos):
    out, summary = batch
    records = {r["name"]: r for r in _records(out)}
    assert set(records) == {"clip", "clip-2", "other", "broken"}
    assert records["clip-2"]["source"] == str(videos / "b" / "clip.mp4")
    for name, frames in [("clip", 12), ("clip-2", 8), ("other", 8)]:
        r = records[name]
        assert (r["status"], r["exit_code"], r["frames"], r["people"]) == ("done", 0, frames, 1)
        assert r["seconds"] > 0 and r["fps"] > 0 and r["stages"] and r["versions"]["vibe-hmr"]
        assert r["started"] <= r["finished"]
    broken = records["broken"]
    assert (broken["status"], broken["exit_code"]) == ("failed", 3)
    assert "broken.mp4" in broken["message"] and "\n" not in broken["message"]
    # The generator was loaded once for the batch (before the first video), never per video.
    assert all(r["model_load_s"] == 0.0 for r in records.values())
    assert (summary.count("done"), summary.count("failed"), summary.frames, summary.exit_code) == (3, 1, 28, 1)
    table = format_summary(summary)
    assert "failed: broken (exit 3)" in table and "videos/hour" in table


def test_rerun_skips_finished_and_retries_failed_on_request(batch, videos, checkpoint, tmp_path):
    first, _ = batch
    out = tmp_path / "out"
    shutil.copytree(first, out)
    stamp = (out / "clip" / "meta.json").stat().st_mtime_ns
    options = BatchOptions(workers=1, progress=False)
    again = run_batch([str(videos)], str(out), _config(checkpoint), options)
    assert again.records == [] and len(again.skipped) == 4
    assert (out / "clip" / "meta.json").stat().st_mtime_ns == stamp
    # Failed videos on request; a result folder removed by hand runs again; done ones stay.
    shutil.rmtree(out / "other")
    retry = run_batch([str(videos)], str(out), _config(checkpoint), BatchOptions(workers=1, progress=False, retry_failed=True))
    assert sorted((r["name"], r["status"]) for r in retry.records) == [("broken", "failed"), ("other", "done")]
    assert (out / "other" / "results.npz").is_file()
    assert len(_records(out)) == 6 and (out / "clip" / "meta.json").stat().st_mtime_ns == stamp
    # Other options change the results: every video runs again into the same folders.
    smoothed = run_batch([str(videos / "a")], str(out), _config(checkpoint, smooth=True), options)
    assert sorted(r["name"] for r in smoothed.records) == ["clip", "other"]
    assert json.loads((out / "clip" / "meta.json").read_text())["options"]["smooth"] is True


def test_a_new_video_of_a_known_stem_gets_a_new_name(batch, videos, checkpoint, frames, tmp_path):
    first, _ = batch
    out = tmp_path / "out"
    shutil.copytree(first, out)
    third = _write(tmp_path / "c" / "clip.mp4", frames[:8])
    summary = run_batch([str(videos), str(third)], str(out), _config(checkpoint), BatchOptions(workers=1, progress=False))
    assert [(r["name"], r["source"]) for r in summary.records] == [("clip-3", str(third))]


def test_remote_inputs_and_outputs_through_fsspec(videos, checkpoint):
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    for name in ("clip", "other"):
        memory.put_file(str(videos / "a" / f"{name}.mp4"), f"/batch-in/{name}.mp4")
    try:
        summary = run_batch(["memory://batch-in/"], "memory://batch-out", _config(checkpoint),
                            BatchOptions(workers=1, progress=False))  # fmt: skip
        assert [r["status"] for r in summary.records] == ["done", "done"]
        assert summary.records[0]["source"] == "memory:///batch-in/clip.mp4"  # fsspec's own spelling
        files = sorted(p.removeprefix("/batch-out/") for p in memory.find("/batch-out"))
        assert files == ["clip/meta.json", "clip/results.npz", MANIFEST_FILE, "other/meta.json", "other/results.npz"]
        manifest = memory.cat_file("/batch-out/" + MANIFEST_FILE).decode().splitlines()
        assert [json.loads(line)["name"] for line in manifest] == ["clip", "other"]
        # A re-run reads the uploaded manifest and finds both done.
        again = run_batch(["memory://batch-in/"], "memory://batch-out", _config(checkpoint),
                          BatchOptions(workers=1, progress=False))  # fmt: skip
        assert again.records == [] and [why for _, _, why in again.skipped] == ["done", "done"]
    finally:
        memory.rm("/batch-in", recursive=True)
        memory.rm("/batch-out", recursive=True)


def test_a_video_runs_with_torch_on_one_thread(checkpoint, tmp_path, monkeypatch):
    import torch

    from vibe.pipeline import batch as batch_module
    from vibe.pipeline.batch import TORCH_THREADS, VideoJob

    seen = []

    def run_one(*args):
        seen.append(torch.get_num_threads())
        return {"status": "done", "exit_code": 0, "message": ""}

    monkeypatch.setattr(batch_module, "_run_one", run_one)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        process_video(VideoJob(str(CLIP), "clip", str(tmp_path)), _config(checkpoint))
        assert seen == [TORCH_THREADS] == [1] and torch.get_num_threads() == 2  # restored after the video
    finally:
        torch.set_num_threads(before)


def test_a_worker_keeps_its_mediapipe_graphs_for_the_next_video_and_the_demo_does_not(videos, checkpoint, tmp_path):
    from vibe.pipeline.batch import VideoJob
    from vibe.pipeline.graph_pool import shared_pool

    shared_pool().close()
    record = process_video(VideoJob(str(videos / "a" / "other.mp4"), "other", str(tmp_path)), _config(checkpoint))
    assert record["status"] == "done" and shared_pool().idle() > 0  # the next video takes them
    run_demo(videos / "a" / "other.mp4", tmp_path / "demo", _config(checkpoint))
    assert shared_pool().idle() == 0  # closed after the front end: nothing follows a demo run


def _crash_on_other(job, config, raise_unexpected=False):
    """process_video, except that the worker process dies (as in a native crash) on the video named ``other``."""
    if job.name == "other":
        os._exit(3)
    return process_video(job, config, raise_unexpected)


@pytest.mark.slow  # spawns 2-4 processes that each import torch and MediaPipe
def test_worker_processes_and_a_crashing_video(videos, checkpoint, tmp_path, monkeypatch):
    """The pool: spawned processes, each loading the generator once, the driver writing the manifest;
    a video whose worker dies is tried again alone and recorded failed, the others are done."""
    from vibe.pipeline import batch as batch_module

    pool = batch_module._run_pool
    monkeypatch.setattr(batch_module, "_run_pool", lambda *a: pool(*a, process=_crash_on_other))
    inputs = [str(videos / "a" / "other.mp4"), str(videos / "a" / "clip.mp4"), str(videos / "b" / "clip.mp4")]
    summary = run_batch(inputs, str(tmp_path), _config(checkpoint), BatchOptions(workers=2, progress=False))
    assert (summary.workers, summary.threads) == (2, 1)
    records = {r["name"]: r for r in _records(tmp_path)}
    assert {n: r["status"] for n, r in records.items()} == {"clip": "done", "clip-2": "done", "other": "failed"}
    assert "died" in records["other"]["message"] and records["other"]["exit_code"] == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["clip", "clip-2"]
    done = [r for r in records.values() if r["status"] == "done"]
    pids = {r["worker"]["pid"] for r in done}
    assert os.getpid() not in pids
    assert sum(r["model_load_s"] > 0 for r in done) == len(pids)  # once per process, whichever videos it ran


def test_cli(videos, checkpoint, tmp_path):
    runner = CliRunner()
    args = ["batch", str(videos / "a"), str(videos / "broken.mp4"), "--out", str(tmp_path), "--checkpoint",
            str(checkpoint), "--no-render", "--workers", "1", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output  # one video failed
    assert "failed: broken (exit 3)" in result.output and "manifest:" in result.output
    assert runner.invoke(app, args).exit_code == 0  # nothing left to run: the failure is not retried
    missing = runner.invoke(app, ["batch", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_cli_passes_the_demos_export_options_on(videos, checkpoint, tmp_path):
    args = ["batch", str(videos / "a" / "other.mp4"), "--out", str(tmp_path), "--checkpoint", str(checkpoint),
            "--no-render", "--quiet", "--export", "bvh", "--frame", "camera", "--rig", "mixamo"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    wanted = DemoConfig(checkpoint=checkpoint, render=False, export=("bvh",), export_frame="camera", rig="mixamo")
    assert _records(tmp_path)[0]["options"] == options_key(wanted)
    meta = json.loads((tmp_path / "other" / "meta.json").read_text())
    assert meta["exports"]["rig"] == "mixamo" and list((tmp_path / "other").glob("*.bvh"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frame", "sideways"], "--frame must be world or camera"),
        (["--rig", "unity"], "--rig: choose cmu_mb, mixamo, game_engine"),
        (["--rig", "mixamo", "--stack", "smpl"], "other rigs: open stack only"),
    ],
)
def test_cli_bad_export_options_are_usage_errors_as_in_the_demo(videos, tmp_path, args, message):
    result = CliRunner().invoke(app, ["batch", str(videos / "a"), "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out").exists()  # nothing run, no manifest


def test_unexpected_errors_are_recorded_or_raised(checkpoint, tmp_path):
    from vibe.pipeline.batch import VideoJob

    job = VideoJob("memory://no-such-bucket/nothing.mp4", "nothing", str(tmp_path))
    record = process_video(job, _config(checkpoint))
    assert (record["status"], record["exit_code"]) == ("failed", 1)
    assert record["message"].startswith("FileNotFoundError")
    with pytest.raises(FileNotFoundError):
        process_video(job, _config(checkpoint), raise_unexpected=True)


# --------------------------------------------------------------------------- Ray, local instance
@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _flaky(job, config, raise_unexpected=False):
    """Fails the first time it sees a video (a marker file beside the output), then runs it."""
    mark = Path(job.out) / f".flaky-{job.name}"
    mark.parent.mkdir(parents=True, exist_ok=True)
    if not mark.exists():
        mark.touch()
        raise ConnectionError("object store went away")
    return process_video(job, config, raise_unexpected)


@pytest.mark.slow  # starts Ray (~7 s) and its workers
def test_ray_local_cluster(ray_instance, videos, checkpoint, tmp_path):
    from ray import cloudpickle

    from vibe.pipeline.batch import VideoJob
    from vibe.pipeline.batch_ray import run_on_ray

    inputs = [f"file://{videos / 'a'}", str(videos / "b" / "clip.mp4"), str(videos / "broken.mp4")]
    out = tmp_path / "ray"
    summary = run_batch(inputs, str(out), _config(checkpoint), BatchOptions(ray="local", progress=False))
    records = {r["name"]: r for r in _records(out)}
    assert {n: r["status"] for n, r in records.items()} == {
        "clip": "done", "other": "done", "clip-2": "done", "broken": "failed"
    }
    assert records["broken"]["exit_code"] == 3  # a DemoError: final, not retried
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["clip", "clip-2", "other"]
    pids = {r["worker"]["pid"] for r in records.values()}
    assert os.getpid() not in pids
    assert sum(r["model_load_s"] > 0 for r in records.values()) <= len(pids)  # Ray reuses its workers
    assert summary.workers == 2 and summary.exit_code == 1
    again = run_batch(inputs, str(out), _config(checkpoint), BatchOptions(ray="local", progress=False))
    assert again.records == []
    # A task that raises an unexpected error is retried by Ray; out of retries, it is recorded failed.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    got = []
    job = VideoJob(str(videos / "a" / "other.mp4"), "other", str(tmp_path / "flaky"))
    run_on_ray([job], _config(checkpoint), "local", 1, 1, got.append, process=_flaky)
    assert got[0]["status"] == "done" and (tmp_path / "flaky" / "other" / "results.npz").is_file()
    shutil.rmtree(tmp_path / "flaky")
    run_on_ray([job], _config(checkpoint), "local", 1, 0, got.append, process=_flaky)
    assert got[1]["status"] == "failed" and "ConnectionError: object store went away" in got[1]["message"]


def test_interrupt_leaves_stderr_to_its_message(videos, checkpoint, tmp_path, monkeypatch):
    """Ctrl-C while a thread has MediaPipe's banners silenced: the batch's `interrupted:` line reaches stderr."""
    from vibe.pipeline import batch as batch_module

    blocks_left = []

    def interrupted(*args):
        blocks_left.append(thread_in_a_silenced_block())
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, "process_video", interrupted)
    options = BatchOptions(workers=1, progress=False)
    before = stderr_file()
    try:
        summary = run_batch([str(videos / "a")], str(tmp_path), _config(checkpoint), options)
        after_interrupt = stderr_file()
    finally:
        for end in blocks_left:
            end()
    assert summary.interrupted and after_interrupt == stderr_file() == before
