"""The demo on awkward input: no people, wrong or variable timing, one-frame people, re-runs, Ctrl-C.

Every video is written here, small: people-free clips drawn by
:mod:`vibe.evaluation.no_people`, and frames of the bundled ``assets/pose_1.mp4``
re-muxed with the timing under test. The generator has fixed random weights
(the checks are about which people, which frames, which times and which files).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from native_stderr import stderr_file, thread_in_a_silenced_block
from open_checkpoint import save_random_open_checkpoint
from vibe import pipeline
from vibe.body.anny import Anny
from vibe.evaluation.no_people import write_no_people_video
from vibe.pipeline import native_stderr_silenced
from vibe.pipeline import run as run_module
from vibe.pipeline.demo_model import DemoModel, default_open_weights, load_demo_model
from vibe.pipeline.outputs import read_results
from vibe.pipeline.person_filter import BodyPresenceConfig
from vibe.pipeline.run import DemoConfig, run_demo
from vibe.pipeline.video import VideoReader, VideoWriter

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "pose_1.mp4"

pytestmark = pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_random_open_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.pt", Anny(), width=128, seed=7)


@pytest.fixture(scope="module")
def person_frames() -> list[np.ndarray]:
    """Frames 30-53 of pose_1 (one person, whole body), halved to 288² to keep the runs short."""
    frames = [im for _, _, im in VideoReader(CLIP).frames(30, 54)]
    return [cv2.resize(im, (288, 288), interpolation=cv2.INTER_AREA) for im in frames]


def _config(checkpoint: Path, **options) -> DemoConfig:
    return DemoConfig(checkpoint=checkpoint, progress=False, **options)


def _mux(path: Path, frames: list[np.ndarray], pts: list[int], time_base: Fraction, rate: int, codec: str) -> Path:
    """Write ``frames`` with the given presentation times (``pts`` in ``time_base``) and header ``rate``."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.time_base = stream.codec_context.time_base = time_base
        for image, t in zip(frames, pts):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _glb_key_times(path: Path) -> np.ndarray:
    """The first animation sampler's keyframe times ``(T,)`` of a .glb."""
    import pygltflib

    gltf = pygltflib.GLTF2().load(str(path))
    accessor = gltf.accessors[gltf.animations[0].samplers[0].input]
    view = gltf.bufferViews[accessor.bufferView]
    offset = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    return np.frombuffer(gltf.binary_blob(), np.float32, count=accessor.count, offset=offset)


def _bvh_frame_time(path: Path) -> float:
    line = next(line for line in path.read_text().splitlines() if line.startswith("Frame Time:"))
    return float(line.split(":")[1])


def _rendered(result) -> bool:
    return not any(w.startswith("rendering skipped") for w in result.warnings)


# --------------------------------------------------------------------------- phantom people
@pytest.mark.parametrize("kind", ["objects", "texture"])
def test_people_free_clip_gives_no_body(kind, tmp_path, checkpoint):
    video = write_no_people_video(tmp_path / f"{kind}.mp4", kind, 320, 240, frames=20, seed=3)
    result = run_demo(video, tmp_path / "out", _config(checkpoint, export=("bvh",), render=False))
    assert result.track_ids == [] and result.exports == []
    assert read_results(result.results)[1] == {}
    assert not list(result.out_dir.glob("person*"))


def test_hand_phantom_is_found_without_the_rule_and_rejected_with_it(tmp_path, checkpoint, caplog):
    """A rendered hand reaching into a table shot: MediaPipe fits a body to it; the rule drops that track."""
    video = write_no_people_video(tmp_path / "hand.mp4", "hand", 640, 360, frames=30, seed=1)
    off = run_demo(video, tmp_path / "out", _config(checkpoint, render=False, presence=BodyPresenceConfig(enabled=False)))
    assert off.track_ids, "the clip no longer fools the detector: choose another seed"
    with caplog.at_level(logging.INFO, logger="vibe.pipeline.person_filter"):
        on = run_demo(video, tmp_path / "out", _config(checkpoint, export=("bvh", "gltf")))
    assert on.track_ids == [] and set(on.rejected) == set(off.track_ids)
    assert "not people" in caplog.text and "rejected" in on.message
    assert read_results(on.results)[1] == {}
    assert sorted(p.name for p in on.out_dir.iterdir() if p.is_file()) == ["meta.json", "results.npz"]
    meta = json.loads(on.meta.read_text())
    assert set(meta["rejected_tracks"]) == {str(t) for t in off.track_ids}


def test_the_bundled_crowd_clip_keeps_its_person(tmp_path, checkpoint):
    video = ROOT / "assets" / "people_walking.mp4"
    result = run_demo(video, tmp_path / "out", _config(checkpoint, render=False, max_frames=30))
    assert result.track_ids and result.rejected == {}


# --------------------------------------------------------------------------- true time
def test_header_rate_is_not_the_frame_rate(tmp_path, checkpoint, person_frames):
    """An AVI whose header says 50 fps over frames 40 ms apart is a 25 fps video everywhere."""
    video = _mux(tmp_path / "wrong_header.avi", person_frames, list(range(len(person_frames))), Fraction(1, 25), 50, "mpeg4")
    assert VideoReader(video).info.header_fps == pytest.approx(50.0)  # the file does lie
    result = run_demo(video, tmp_path / "out", _config(checkpoint, export=("bvh", "gltf")))
    times, people = read_results(result.results)
    np.testing.assert_allclose(np.diff(times), 0.04, atol=1e-6)
    meta = json.loads(result.meta.read_text())
    assert meta["video"]["fps"] == pytest.approx(25.0) and meta["video"]["header_fps"] == pytest.approx(50.0)
    assert not result.warnings  # the AVI's skipped-frame chunks are not a truncation
    (tid,) = result.track_ids
    assert _bvh_frame_time(result.out_dir / f"person{tid}.bvh") == pytest.approx(0.04, abs=1e-6)
    fids = people[tid]["frame_ids"]
    np.testing.assert_allclose(_glb_key_times(result.out_dir / f"person{tid}.glb"), times[fids] - times[fids[0]], atol=1e-5)
    if _rendered(result):
        overlay = [t for _, t, _ in VideoReader(result.overlay)]
        np.testing.assert_allclose(np.diff(overlay), 0.04, atol=1e-3)


def test_timestamps_out_of_order_are_repaired(tmp_path, checkpoint, person_frames):
    """H.264 with B-frames in AVI: PyAV hands out the frames' timestamps in coding order (they go back)."""
    video = tmp_path / "bframes.avi"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = person_frames[0].shape[:2]
        stream.pix_fmt, stream.options = "yuv420p", {"bf": "3", "g": "12"}
        for k, image in enumerate(person_frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    decoded = np.asarray([t for _, t, _ in VideoReader(video)])
    assert np.any(np.diff(decoded) <= 0)  # the file does go back in time
    result = run_demo(video, tmp_path / "out", _config(checkpoint, workers=2, render=False))
    times, _ = read_results(result.results)
    np.testing.assert_allclose(times, np.sort(decoded), atol=1e-9)
    np.testing.assert_allclose(np.diff(times), 0.04, atol=1e-9)
    meta = json.loads(result.meta.read_text())
    assert meta["video"]["timestamps_repaired"] > 0 and meta["video"]["fps"] == pytest.approx(25.0)
    assert len(result.track_ids) == 1


def test_variable_frame_rate_is_kept(tmp_path, checkpoint, person_frames):
    intervals_ms = [33, 50, 33, 67] * 6  # median 41.5 ms, varying
    pts_ms = np.concatenate([[0], np.cumsum(intervals_ms)])[: len(person_frames)].tolist()
    video = _mux(tmp_path / "vfr.mp4", person_frames, pts_ms, Fraction(1, 1000), 30, "libx264")
    result = run_demo(video, tmp_path / "out", _config(checkpoint, export=("bvh", "gltf")))
    times, people = read_results(result.results)
    np.testing.assert_allclose(times, np.asarray(pts_ms) / 1000.0, atol=1e-6)
    meta = json.loads(result.meta.read_text())
    median = float(np.median(np.diff(pts_ms))) / 1000.0
    assert meta["video"]["variable_frame_rate"] is True
    assert meta["video"]["fps"] == pytest.approx(1.0 / median)
    (tid,) = result.track_ids
    assert _bvh_frame_time(result.out_dir / f"person{tid}.bvh") == pytest.approx(median, abs=1e-6)
    fids = people[tid]["frame_ids"]
    np.testing.assert_allclose(_glb_key_times(result.out_dir / f"person{tid}.glb"), times[fids] - times[fids[0]], atol=1e-5)
    if _rendered(result):
        overlay = np.asarray([t for _, t, _ in VideoReader(result.overlay)])
        np.testing.assert_allclose(overlay - overlay[0], times - times[0], atol=1e-3)


@pytest.mark.parametrize("workers", [1, 2])
def test_truncation_is_warned_once_whatever_the_worker_count(workers, tmp_path, checkpoint, person_frames, caplog):
    frames = (person_frames * 3)[:50]  # 5 s at 10 fps: two detection ranges with 2 workers
    video = _mux(tmp_path / "cut.mp4", frames, [100 * k for k in range(50)], Fraction(1, 1000), 10, "libx264")
    faststart = tmp_path / "cut_faststart.mp4"  # index first, so the frames before the cut decode
    with av.open(str(video)) as src, av.open(str(faststart), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = faststart.read_bytes()
    faststart.write_bytes(data[: int(len(data) * 0.7)])
    with caplog.at_level(logging.WARNING):
        result = run_demo(faststart, tmp_path / "out", _config(checkpoint, workers=workers, export=("bvh",)))
    truncated = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(truncated) == 1, [r.getMessage() for r in truncated]
    assert sum("truncated" in w for w in result.warnings) == 1


# --------------------------------------------------------------------------- short tracks
def test_person_seen_in_one_frame_gets_a_body(tmp_path, checkpoint, person_frames):
    empty = np.full_like(person_frames[0], 128)
    video = tmp_path / "flash.mp4"
    with VideoWriter(video, fps=30.0) as writer:  # on frame 1: not one of the detector's every-3rd frames
        for image in [empty, person_frames[0]] + [empty] * 10:
            writer.write(image)
    result = run_demo(video, tmp_path / "out", _config(checkpoint, export=("bvh", "gltf"), render=False))
    assert len(result.track_ids) == 1
    person = read_results(result.results)[1][result.track_ids[0]]
    np.testing.assert_array_equal(person["frame_ids"], [1])
    assert person["pose_rotmat"].shape[0] == 1 and np.isfinite(person["joints2d_img"]).all()
    assert len(result.exports) == 2


# --------------------------------------------------------------------------- the output folder
def _listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerun_leaves_only_its_own_files_and_reuses_the_cache(tmp_path, checkpoint):
    out = tmp_path / "out"
    first = run_demo(CLIP, out, _config(checkpoint, max_frames=12, export=("bvh", "gltf")))
    assert (first.out_dir / "person1.bvh").exists()
    second = run_demo(CLIP, out, _config(checkpoint, max_frames=12, render=False))
    assert not {"people_landmarks", "detect_track", "landmarks"} & set(second.timings)
    files = {p for p in _listing(second.out_dir) if not p.startswith(".cache/")}
    assert files == {"results.npz", "meta.json"}
    assert sorted(json.loads(second.meta.read_text())["files"]) == sorted(files)
    assert [p.name for p in out.iterdir()] == ["pose_1"]  # no staging folder left beside it


def test_interrupted_run_leaves_the_previous_result(tmp_path, checkpoint):
    out = tmp_path / "out"
    before = run_demo(CLIP, out, _config(checkpoint, max_frames=10, render=False))
    kept = {k: v for k, v in _listing(before.out_dir).items() if not k.startswith(".cache/")}
    cache = set(_listing(before.out_dir / ".cache"))
    command = [sys.executable, "-c", "from vibe.cli import app; app()", "demo", str(CLIP), "--out", str(out),
               "--checkpoint", str(checkpoint), "--export", "bvh", "--quiet", "--workers", "1", "--side-view"]  # fmt: skip
    # The whole clip, rendered twice after detection: seconds of work left when the signal comes,
    # even on an idle machine (45 frames without rendering could finish before it).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # As from a terminal: SIGINT at its default, even when the suite itself was started in the
    # background by a shell (which ignores SIGINT there, and Python then keeps it ignored).
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=default_sigint
    )
    try:
        # Interrupt once detection is done (its cache is written), in the middle of the later stages.
        while proc.poll() is None and len(list((out / "pose_1" / ".cache").glob("people-*.npz"))) < 2:
            time.sleep(0.01)
        assert list(out.glob(".pose_1.partial-*")), "the run should be writing into its staging folder"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    # Anywhere on a line: native libraries' threads may still be writing to the same stream.
    lines = [line for line in stderr.splitlines() if "interrupted:" in line]
    assert len(lines) == 1 and str(out / "pose_1") in lines[0], stderr
    now = _listing(before.out_dir)
    assert {k: v for k, v in now.items() if not k.startswith(".cache/")} == kept
    assert cache <= set(_listing(before.out_dir / ".cache"))
    assert [p.name for p in out.iterdir()] == ["pose_1"]


def _interrupted_as_a_block_ends(monkeypatch) -> None:
    """Ctrl-C landing while a silenced block puts fd 2 back (the exception leaves that half done)."""
    real_flush = pipeline._flush_c_stdio

    def flush_then_interrupted() -> None:
        monkeypatch.setattr(pipeline, "_flush_c_stdio", real_flush)  # once
        real_flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_flush_c_stdio", flush_then_interrupted)
    with native_stderr_silenced():
        pass


@pytest.fixture(scope="module")
def demo_model(checkpoint) -> DemoModel:
    """The generator, loaded once for the runs that stop in their front end."""
    return load_demo_model(_config(checkpoint), default_open_weights())


@pytest.mark.parametrize("where", ["in another thread's block", "as a block ends"])
def test_interrupt_leaves_stderr_to_its_message(where, tmp_path, checkpoint, demo_model, monkeypatch):
    """The CLI's "interrupted:" line reaches stderr: fd 2 is not left on MediaPipe's /dev/null (issue 12)."""
    blocks_left = []

    def interrupted_front_end(*args, **kwargs):
        if where == "in another thread's block":
            blocks_left.append(thread_in_a_silenced_block())
            raise KeyboardInterrupt
        _interrupted_as_a_block_ends(monkeypatch)

    monkeypatch.setattr(run_module, "front_end", interrupted_front_end)
    before = stderr_file()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_demo(CLIP, tmp_path / "out", _config(checkpoint, max_frames=5, render=False), model=demo_model)
        after_interrupt = stderr_file()
    finally:
        for end in blocks_left:  # a block that ends after the interrupt must not redirect fd 2 again
            end()
    assert after_interrupt == stderr_file() == before
    assert not list((tmp_path / "out").iterdir())  # the staging folder is gone too
