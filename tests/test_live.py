"""`vibe live`: the windows frame by frame, the bounded hand-over, a played file and a pipe end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import mediapipe as mp
import numpy as np
import pytest
import torch

from pose_1_reference import COCO13_NAMES, load_pose_1_keypoints
from vibe.models.temporal import TemporalEncoder
from vibe.pipeline.live import LiveConfig, run_live
from vibe.pipeline.live_source import FrameQueue, SourceFrame, open_source
from vibe.pipeline.tracker import PersonTracker, TrackerConfig
from vibe.pipeline.video import VideoReader
from vibe.pipeline.windows import CausalWindows, WindowConfig, encode_in_windows, window_starts

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MP_INDEX = [mp.solutions.pose.PoseLandmark[n.upper()].value for n in COCO13_NAMES]


def _write_clip(
    path: Path, frames: list[np.ndarray], fps: int, codec: str = "libx264", fmt: str | None = None, rotation: int = 0
) -> Path:
    """``frames`` (RGB) into a small video file (``rotation``: its display matrix, counter-clockwise degrees)."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def pose_1_frames():
    return [img for _, _, img in VideoReader(ASSETS / "pose_1.mp4")]


@pytest.fixture(scope="module")
def open_model():
    from vibe.pipeline.demo_config import DemoConfig
    from vibe.pipeline.demo_model import build_model, default_open_weights

    model, _ = build_model(DemoConfig(device="cpu"), torch.device("cpu"), default_open_weights())
    return model


def test_gru_steps_give_the_forward_pass():
    torch.manual_seed(0)
    encoder = TemporalEncoder(12, 10, n_layers=2).eval()
    features = torch.randn(3, 20, 12)
    with torch.no_grad():
        hidden, steps = None, []
        for t in range(20):
            out, hidden = encoder.step(features[:, t], hidden)
            steps.append(out)
        torch.testing.assert_close(torch.stack(steps, dim=1), encoder(features))


@pytest.mark.parametrize("seqlen, overlap", [(16, 8), (10, 3)])
def test_causal_windows_equal_the_offline_windows_before_the_last(seqlen, overlap):
    # The offline pass aligns its last window to the track's end (it knows the end); every
    # frame before that window starts comes out the same frame by frame.
    torch.manual_seed(1)
    encoder = TemporalEncoder(12, 10, n_layers=2).eval()
    features = torch.randn(61, 12)
    config = WindowConfig(seqlen=seqlen, overlap=overlap)
    with torch.no_grad():
        offline = encode_in_windows(encoder, features, config)
        windows = CausalWindows(encoder, config)
        live = torch.stack([windows.push(f) for f in features])
    last = window_starts(61, seqlen, overlap)[-1]
    torch.testing.assert_close(live[:last], offline[:last], atol=1e-5, rtol=1e-5)
    assert len(windows._windows) <= -(-seqlen // (seqlen - overlap))  # bounded state: the open windows only


def test_causal_windows_without_windows_carry_one_state():
    torch.manual_seed(2)
    encoder = TemporalEncoder(12, 10, n_layers=2).eval()
    features = torch.randn(40, 12)
    with torch.no_grad():
        windows = CausalWindows(encoder, WindowConfig(seqlen=None))
        live = torch.stack([windows.push(f) for f in features])
        torch.testing.assert_close(live, encoder(features[None])[0], atol=1e-5, rtol=1e-5)


def test_queue_drops_the_oldest_frame_when_full():
    queue = FrameQueue(depth=2, drop=True)
    for k in range(5):
        assert queue.put(SourceFrame(k, k / 30, np.zeros((1, 1, 3), np.uint8)))
    queue.finish()
    assert [f.index for f in iter(queue.get, None)] == [3, 4] and queue.dropped == 3


def test_queue_without_dropping_blocks_the_producer():
    queue = FrameQueue(depth=1, drop=False)

    def produce():
        for k in range(6):
            queue.put(SourceFrame(k, 0.0, np.zeros((1, 1, 3), np.uint8)))
        queue.finish()

    thread = threading.Thread(target=produce)
    thread.start()
    got = []
    while (frame := queue.get()) is not None:
        time.sleep(0.01)  # a slow consumer
        got.append(frame.index)
    thread.join()
    assert got == list(range(6)) and queue.dropped == 0


def test_tracker_forgets_its_history():
    tracker = PersonTracker(30.0, TrackerConfig(min_track_s=0.0, max_lost_s=0.1))
    from vibe.pipeline.detector import Detections

    box = np.array([[0.0, 0.0, 100.0, 100.0]])
    for f in range(50):
        tracker.update(f, Detections(box + f, np.array([0.9]), box.copy(), np.zeros((1, 4, 2))))
    tracker.update(60, Detections.empty())  # the person is gone
    tracker.update(61, Detections(box + 500, np.array([0.9]), box.copy(), np.zeros((1, 4, 2))))
    tracker.forget_history()
    assert [(t.track_id, len(t.frame_ids)) for t in tracker.tracks()] == [(2, 1)]


def test_played_file_keeps_its_rate_and_drops_what_a_slow_consumer_misses(tmp_path):
    frames = [np.full((32, 32, 3), 10 * k, np.uint8) for k in range(20)]
    clip = _write_clip(tmp_path / "clip.mp4", frames, fps=20)  # 1 s
    source, size = open_source(str(clip), realtime=True)
    assert size == (32, 32)
    start, seen = time.perf_counter(), []
    with source:
        for frame in source:
            seen.append(frame.index)
            time.sleep(0.12)  # ~8 fps against 20: the source drops the frames it cannot hand over
    elapsed = time.perf_counter() - start
    assert 0.9 < elapsed < 1.6 and seen == sorted(seen)
    assert source.dropped == 20 - len(seen) and 6 <= len(seen) <= 12
    with open_source(str(clip), realtime=False)[0] as unpaced:  # a file, not played: every frame
        assert [f.index for f in unpaced] == list(range(20)) and unpaced.dropped == 0


@pytest.mark.parametrize("rotation", [90, 180])
def test_a_rotation_tag_turns_frames_upright_as_the_demo_does(tmp_path, pose_1_frames, rotation):
    # A phone's portrait clip: stored 480 wide × 576 high with a display matrix. The live source
    # hands over the frames and size the demo's reader gives (its rotation has its own tests).
    clip = _write_clip(tmp_path / "phone.mp4", [f[:, :480] for f in pose_1_frames[:4]], fps=30, rotation=rotation)
    reader = VideoReader(clip)
    source, size = open_source(str(clip))
    with source:
        frames = [f.image_rgb for f in source]
    assert size == (reader.width, reader.height) == ((576, 480) if rotation == 90 else (480, 576))
    assert frames[0].shape == (size[1], size[0], 3)
    for got, (_, _, expected) in zip(frames, reader, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_live_bodies_from_a_played_file(tmp_path, pose_1_frames, open_model):
    keypoints_ref = load_pose_1_keypoints()
    clip = _write_clip(tmp_path / "pose.mp4", pose_1_frames[:45], fps=30)
    source, size = open_source(str(clip), realtime=True)
    lines: list[str] = []
    with source:
        stats = run_live(source, size, open_model, torch.device("cpu"), lines.append, LiveConfig())
    records = [json.loads(line) for line in lines]
    assert records[0]["type"] == "stream" and records[0]["width"] == size[0] and records[-1]["type"] == "end"
    frames = [r for r in records if r["type"] == "frame"]
    assert len(frames) == stats.processed and stats.processed + stats.dropped == 45
    assert [r["frame"] for r in frames] == sorted({r["frame"] for r in frames})
    assert sum(len(r["people"]) == 1 for r in frames) >= 0.9 * len(frames)
    person = next(r for r in frames if r["people"])["people"][0]
    assert np.asarray(person["pose_aa"]).shape[1] == 3 and np.asarray(person["joints2d_img"]).shape == (33, 2)
    # The body's 2D joints land on the person (camera fitted to the frame's landmarks).
    errors = [
        np.linalg.norm(np.asarray(r["people"][0]["joints2d_img"])[MP_INDEX] - keypoints_ref[r["frame"]], axis=-1)
        for r in frames if r["people"]
    ]  # fmt: skip
    assert np.median(np.concatenate(errors)) < 40.0  # pixels, the person ~400 px tall
    assert all(r["latency_ms"] > 0 for r in frames)


def _vibe(*args: str, **kwargs) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from vibe.cli import app; app()", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=False, timeout=240, env=env, **kwargs)


def test_live_from_a_pipe(tmp_path, pose_1_frames):
    # Matroska (MJPEG) streams through a pipe; every frame is processed (a pipe is not paced).
    clip = _write_clip(tmp_path / "pose.mkv", pose_1_frames[:20], fps=30, codec="mjpeg", fmt="matroska")
    with open(clip, "rb") as stdin:
        done = _vibe("live", "-", "--device", "cpu", stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r["type"] for r in records] == ["stream"] + ["frame"] * 20 + ["end"]
    assert [r["frame"] for r in records[1:-1]] == list(range(20)) and records[-1]["dropped"] == 0
    assert all(len(r["people"]) == 1 for r in records[5:-1])


def test_live_source_that_cannot_be_opened(tmp_path):
    done = _vibe("live", str(tmp_path / "missing.mp4"), "--device", "cpu")
    assert done.returncode == 3 and done.stdout == b""
    assert b"cannot open" in done.stderr
