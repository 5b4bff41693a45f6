"""VideoReader / VideoWriter on tiny videos the tests write with PyAV directly."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vibe.pipeline.video import VideoError, VideoReader, VideoWriter

# Distinct, saturated colours survive yuv420p + lossless-ish H.264 within a few levels.
COLOURS = np.array(
    [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (128, 128, 128)],
    dtype=np.uint8,
)
W, H = 64, 48


def _frame(k: int) -> np.ndarray:
    """Solid colour k with a white top-left quadrant, so orientation is visible."""
    img = np.empty((H, W, 3), np.uint8)
    img[:] = COLOURS[k % len(COLOURS)]
    img[: H // 2, : W // 2] = 255
    return img


def _write(path: Path, pts_ms: list[int], rotation: float | None = None, faststart: bool = False) -> list[np.ndarray]:
    """Write frames at the given presentation times (ms) with PyAV; return the RGB frames written."""
    options = {"movflags": "faststart"} if faststart else {}
    frames = []
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"qp": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for k, pts in enumerate(pts_ms):
            img = _frame(k)
            frames.append(img)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return frames


def _write_with_key_frames(path: Path, frames: int, every: int) -> Path:
    """Constant 30 fps, lossless, a key frame exactly every ``every`` frames (so seeks land before a range)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"qp": "0", "g": str(every), "keyint_min": str(every), "sc_threshold": "0"}
        for k in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(_frame(k), format="rgb24")))
        container.mux(stream.encode())
    return path


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    # yuv420p chroma subsampling blurs colour edges; compare away from the quadrant border.
    mask = np.ones(a.shape[:2], bool)
    for axis, n in ((0, a.shape[0]), (1, a.shape[1])):
        for edge in (n // 2,):
            sl = [slice(None), slice(None)]
            sl[axis] = slice(edge - 2, edge + 2)
            mask[tuple(sl)] = False
    return a.shape == b.shape and np.abs(a.astype(int) - b.astype(int))[mask].max() <= 12


def test_frames_in_order_with_timestamps(tmp_path):
    path = tmp_path / "cfr.mp4"
    written = _write(path, [round(1000 * k / 30) for k in range(7)])
    reader = VideoReader(path)
    assert (reader.width, reader.height) == (W, H)
    assert reader.frame_count == 7
    assert reader.fps == pytest.approx(30.0, rel=0.05)
    out = list(reader)
    assert [i for i, _, _ in out] == list(range(7))
    np.testing.assert_allclose([t for _, t, _ in out], [round(1000 * k / 30) / 1000 for k in range(7)], atol=1e-3)
    for (_, _, img), ref in zip(out, written):
        assert img.dtype == np.uint8 and _close(img, ref)
    # Re-iterable: a second pass yields the same frames.
    assert len(list(reader)) == 7


def test_variable_frame_rate_keeps_timestamps(tmp_path):
    pts_ms = [0, 40, 50, 200, 210, 500]
    path = tmp_path / "vfr.mp4"
    written = _write(path, pts_ms)
    out = list(VideoReader(path))
    np.testing.assert_allclose([t for _, t, _ in out], np.array(pts_ms) / 1000, atol=1e-3)
    assert all(_close(img, ref) for (_, _, img), ref in zip(out, written))


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_display_matrix_rotation_is_applied(tmp_path, rotation):
    # PyAV documents the display rotation as counter-clockwise degrees; np.rot90 rotates
    # counter-clockwise, so it is the independent reference for the upright image.
    path = tmp_path / "rot.mp4"
    written = _write(path, [0, 33, 67], rotation=rotation)
    reader = VideoReader(path)
    expected = [np.rot90(f, k=rotation // 90) for f in written]
    assert (reader.height, reader.width) == expected[0].shape[:2]
    out = list(reader)
    assert all(_close(img, ref) for (_, _, img), ref in zip(out, expected))


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        VideoReader(tmp_path / "nope.mp4")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(VideoError, match="empty"):
        VideoReader(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError, match="not a readable video") as err:
        VideoReader(path)
    assert "\n" not in str(err.value)


def test_still_image(tmp_path):
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), _frame(0))
    with pytest.raises(VideoError, match="still image"):
        VideoReader(path)


def test_truncated_mp4_without_index(tmp_path):
    # Default mp4: the index (moov) is at the end, so a cut file has none.
    path = tmp_path / "cut.mp4"
    _write(path, [round(1000 * k / 30) for k in range(30)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=str(path.name)):
        VideoReader(path)


def test_truncated_mp4_with_index_decodes_readable_part(tmp_path, caplog):
    # faststart puts the index first: the frames before the cut are still readable.
    path = tmp_path / "cut_faststart.mp4"
    written = _write(path, [round(1000 * k / 30) for k in range(30)], faststart=True)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level("WARNING", logger="vibe.pipeline.video"):
        out = list(VideoReader(path))
    assert 0 < len(out) < 30
    assert "truncated" in caplog.text
    assert all(_close(img, written[i]) for i, _, img in out[:-1])


def test_writer_round_trip_odd_size(tmp_path):
    path = tmp_path / "sub" / "out.mp4"
    frames = [np.full((21, 33, 3), COLOURS[k], np.uint8) for k in range(5)]
    with VideoWriter(path, fps=25) as writer:
        for f in frames:
            writer.write(f)
        assert not path.exists()  # written under a temporary name until closed
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.mp4"]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (34, 22)
        assert float(stream.average_rate) == pytest.approx(25.0)
        decoded = [fr.to_ndarray(format="rgb24") for fr in container.decode(stream)]
    assert len(decoded) == 5
    for img, ref in zip(decoded, frames):
        assert np.abs(img[:21, :33].astype(int) - ref.astype(int)).mean() < 6


def test_writer_discards_output_on_error(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=10) as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_frame_range_seeks_and_matches_a_full_pass(tmp_path, monkeypatch):
    # A key frame every 4 frames, so a seek lands before the range's start and must skip forward.
    path = _write_with_key_frames(tmp_path / "gop.mp4", frames=20, every=4)
    reader = VideoReader(path)
    full = list(reader)
    times = [t for _, t, _ in full]

    def no_sequential(*args):
        raise AssertionError("decoded from the start instead of seeking")

    monkeypatch.setattr(reader, "_sequential_frames", no_sequential)
    for start, stop in ((6, 11), (13, None), (19, 20)):
        part = list(reader.frames(start, stop, frame_times=times))
        expected = full[start:stop]
        assert [i for i, _, _ in part] == [i for i, _, _ in expected]
        assert [t for _, t, _ in part] == [t for _, t, _ in expected]
        assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(part, expected))
    monkeypatch.undo()
    # Timestamps that do not belong to the file: same frames, decoded from the start instead.
    for shift in (0.0123, 0.5):  # 0.5 s maps the file's last frames onto its first indices
        wrong = [t + shift for t in times]
        assert [i for i, _, _ in reader.frames(6, 9, frame_times=wrong)] == [6, 7, 8]


def test_prefetched_frames_equal_direct_ones_and_stop_early(tmp_path):
    path = tmp_path / "cfr.mp4"
    _write(path, [round(1000 * k / 30) for k in range(7)])
    reader = VideoReader(path)
    direct = list(reader)
    ahead = list(reader.frames(prefetch=3))
    assert [(i, t) for i, t, _ in ahead] == [(i, t) for i, t, _ in direct]
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(ahead, direct))
    partial = reader.frames(prefetch=2)
    assert next(partial)[0] == 0
    partial.close()  # must not hang on the producer thread


def test_background_writer_matches_and_reports_errors(tmp_path):
    frames = [np.full((16, 24, 3), COLOURS[k], np.uint8) for k in range(6)]
    path = tmp_path / "bg.mp4"
    with VideoWriter(path, fps=25, background=True) as writer:
        for f in frames:
            writer.write(f)
    decoded = [img for _, _, img in VideoReader(path)]
    assert len(decoded) == 6
    assert all(np.abs(a.astype(int) - b.astype(int)).mean() < 6 for a, b in zip(decoded, frames))
    # A frame of another size fails inside the encoder thread: raised at close, nothing left behind.
    bad = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="differs"):
        with VideoWriter(bad, fps=25, background=True) as writer:
            writer.write(frames[0])
            writer.write(np.zeros((8, 8, 3), np.uint8))
    assert not bad.exists() and not list(tmp_path.glob(".bad*"))


def test_time_ranges_hold_every_frame_once(tmp_path):
    path = _write_with_key_frames(tmp_path / "gop.mp4", frames=23, every=5)
    reader = VideoReader(path)
    full = list(reader)
    # Cuts between frames, on a frame, and before a key frame.
    cuts = [None, 0.21, full[12][1], 0.5, None]
    pieces = [list(reader.time_range(a, b, prefetch=k % 2)) for k, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    assert [i for piece in pieces for i, _, _ in piece[:1]] == [0] * len(pieces)  # numbered within each range
    joined = [item for piece in pieces for item in piece]
    assert [t for _, t, _ in joined] == [t for _, t, _ in full]
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(joined, full))
    assert pieces[2][0][1] == full[12][1]  # a cut on a frame's timestamp starts the next range there
    # The last range seeks: it decodes from the key frame before 0.5 s, not from the first frame.
    decoded = []
    original = reader._decode

    def counting(container, stream):
        for frame in original(container, stream):
            decoded.append(frame.time)
            yield frame

    reader._decode = counting
    assert [t for _, t, _ in reader.time_range(0.5, None)] == [t for _, t, _ in full if t >= 0.5]
    assert min(decoded) > 0.2 and len(decoded) < len(full)
