"""Streamed video reading and H.264 writing over PyAV.

Reading decodes one frame at a time (constant memory, nothing written to
disk) and yields ``(frame_index, timestamp_s, image_rgb)``. Timestamps come
from each frame's presentation time, so variable-frame-rate videos keep their
timing; the reader's rate is measured on the first decoded frames' timestamps,
not read from the container header (which can be wrong: an AVI saying 50 fps
for frames 40 ms apart), and :mod:`vibe.pipeline.frame_times` derives the
final rate from every frame's timestamp. Rotation metadata (the display matrix that phones write, which PyAV 18
exposes per frame as ``VideoFrame.rotation``, and the legacy ``rotate`` stream
tag) is applied to the pixels, so frames come out upright.

Damaged files: a file that cannot be opened, holds no video stream, is a
still image, or yields no decodable frame raises :class:`VideoError`. A file
that decodes partly (e.g. a truncated mp4 whose index is intact) yields the
frames that decode and logs a warning when decoding stops on an error or
ends before the container's frame count; the demo then works on the
readable part instead of failing. Each such warning is logged once per
reader, however many passes or parallel ranges decode the file, and kept in
:attr:`VideoReader.warnings`.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vibe.pipeline.background import prefetched

log = logging.getLogger(__name__)

# FFmpeg demuxers that read still images ("png_pipe", "jpeg_pipe", ..., and the
# image-sequence demuxer); animated formats (gif, apng) count as videos.
_IMAGE_FORMAT_SUFFIX = "_pipe"
_IMAGE_FORMATS = {"image2"}
# Frames decoded when opening, to measure the frame rate from their timestamps.
_PROBE_FRAMES = 9


class VideoError(RuntimeError):
    """A video cannot be read; the message says which file and why, in one line."""


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video before decoding it all.

    ``fps`` is measured: 1 / the median interval between the first decoded
    frames' timestamps (the header's rate, ``header_fps``, only when they
    have fewer than two increasing timestamps); ``width``/``height`` are
    after rotation; ``rotation_deg`` is the counter-clockwise angle (0, 90,
    180, 270) applied to decoded pixels; ``frame_count`` is the container's
    count, ``None`` when it does not say; ``start_s`` is the first frame's
    timestamp (``None``: it has none).
    """

    fps: float
    frame_count: int | None
    width: int
    height: int
    rotation_deg: int
    duration_s: float | None
    start_s: float | None = None
    header_fps: float | None = None


def _rotation_from_degrees(angle: float) -> int:
    """Counter-clockwise display angle → one of 0, 90, 180, 270."""
    return int(round(angle / 90.0)) % 4 * 90


def display_rotation(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """The counter-clockwise angle (0, 90, 180, 270) that turns ``stream``'s decoded frames upright.

    From a decoded ``frame``'s display matrix (what phones write; PyAV's
    ``VideoFrame.rotation``), else the stream's legacy ``rotate`` tag.
    """
    rotation = _rotation_from_degrees(frame.rotation)
    if rotation == 0 and "rotate" in stream.metadata:
        rotation = _rotation_from_degrees(-float(stream.metadata["rotate"]))  # the legacy tag is clockwise
    return rotation


def upright(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Rotate ``(H, W, C)`` counter-clockwise by ``rotation_deg`` (a multiple of 90; :func:`display_rotation`)."""
    k = rotation_deg // 90
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


class VideoReader:
    """Iterate a video file as ``(index, timestamp_s, image_rgb (H, W, 3) uint8)``.

    Opening probes the file (first frame only) and raises :class:`VideoError`
    when it is not a readable video. Each iteration re-opens the file and
    streams it, so the reader can be iterated several times and never holds
    decoded frames.
    """

    def __init__(self, path: str | os.PathLike, threads: bool = True):
        self.path = Path(path)
        self._threads = threads
        self.warnings: list[str] = []  # one line per problem, each logged once
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()
        self.info = self._probe()

    @property
    def fps(self) -> float:
        """Frame rate measured on the first frames' timestamps (frames per second)."""
        return self.info.fps

    def warn_once(self, key: str, message: str) -> None:
        """Log ``message`` as a warning and keep it in :attr:`warnings`, unless ``key`` was warned already."""
        with self._warn_lock:
            if key in self._warned:
                return
            self._warned.add(key)
            self.warnings.append(message)
        log.warning(message)

    def check_frames_read(self, count: int, last_time_s: float | None = None) -> None:
        """Warn (once) when a whole pass decoded ``count`` frames, fewer than the container lists.

        With ``last_time_s`` (the last decoded frame's timestamp) and a known
        duration, fewer frames are only a truncation when they also end more
        than two frame intervals before the container's end: AVI files count
        the empty chunks that stand for skipped frames (a 50 fps header over
        frames 40 ms apart lists twice the frames it holds), which is not damage.
        """
        if self.frame_count is None or count >= self.frame_count:
            return
        info = self.info
        if last_time_s is not None and info.duration_s and info.start_s is not None:
            if last_time_s + 3.0 / info.fps >= info.start_s + info.duration_s:
                return
        self.warn_once(
                "truncated",
                f"{self.path}: decoded {count} of the {self.frame_count} frames the container lists (truncated file?)",
            )

    @property
    def frame_count(self) -> int | None:
        return self.info.frame_count

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def height(self) -> int:
        return self.info.height

    def _open(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        if not self.path.exists():
            raise VideoError(f"video file not found: {self.path}")
        if self.path.is_dir():
            raise VideoError(f"expected a video file, got a directory: {self.path}")
        if self.path.stat().st_size == 0:
            raise VideoError(f"video file is empty: {self.path}")
        try:
            container = av.open(str(self.path), mode="r")
        except av.FFmpegError as exc:
            raise VideoError(f"not a readable video file: {self.path} ({_short(exc)})") from None
        fmt = container.format.name
        if fmt.endswith(_IMAGE_FORMAT_SUFFIX) or fmt in _IMAGE_FORMATS:
            container.close()
            raise VideoError(f"this is a still image ({fmt}), not a video: {self.path}")
        if not container.streams.video:
            container.close()
            raise VideoError(f"file has no video stream: {self.path}")
        stream = container.streams.video[0]
        if self._threads:
            stream.thread_type = "AUTO"
        return container, stream

    def _probe(self) -> VideoInfo:
        container, stream = self._open()
        try:
            decoded = self._decode(container, stream)
            first = next(decoded, None)
            if first is None:
                raise VideoError(f"no decodable frame in video (truncated or corrupt?): {self.path}")
            rotation = display_rotation(first, stream)
            header_rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            times = [first.time] + [f.time for _, f in zip(range(_PROBE_FRAMES - 1), decoded)]
            intervals = np.diff([t for t in times if t is not None])
            intervals = intervals[intervals > 0]
            rate = 1.0 / float(np.median(intervals)) if intervals.size else header_rate
            if not rate:
                raise VideoError(f"video has no frame rate: {self.path}")
            w, h = first.width, first.height
            if rotation in (90, 270):
                w, h = h, w
            duration = float(stream.duration * stream.time_base) if stream.duration else None
            if duration is None and container.duration:
                duration = container.duration / av.time_base
            start = float(first.time) if first.time is not None else None
            header_fps = float(header_rate) if header_rate else None
            return VideoInfo(float(rate), stream.frames or None, w, h, rotation, duration, start, header_fps)
        finally:
            container.close()

    def _decode(self, container, stream) -> Iterator[av.VideoFrame]:
        try:
            yield from container.decode(stream)
        except av.FFmpegError as exc:
            self.warn_once(f"decode:{_short(exc)}", f"decoding {self.path} stopped early: {_short(exc)}")

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        return self.frames()

    def frames(
        self,
        start: int = 0,
        stop: int | None = None,
        frame_times: Sequence[float] | None = None,
        prefetch: int = 0,
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        """Frames ``start`` to ``stop - 1`` as ``(index, timestamp_s, image_rgb (H, W, 3) uint8)``.

        Args:
            start, stop: frame index range (indices count decoded frames from 0).
            frame_times: ``(N,)`` every frame's timestamp from an earlier full
                pass. With it, the reader seeks to the key frame before
                ``start`` instead of decoding from the beginning, and maps
                decoded frames back to indices by timestamp; without it, or
                when timestamps do not match, frames before ``start`` are
                decoded and dropped (same result, slower).
            prefetch: decode this many frames ahead in a background thread
                (FFmpeg releases the GIL, so decoding overlaps the caller's work).
        """
        if prefetch > 0:
            return prefetched(lambda: self.frames(start, stop, frame_times), prefetch)
        if start > 0 and frame_times is not None:
            return self._seek_frames(start, stop, np.asarray(frame_times, dtype=np.float64))
        return self._sequential_frames(start, stop)

    def time_range(
        self, t_start: float | None, t_stop: float | None, prefetch: int = 0
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        """Frames with ``t_start <= timestamp < t_stop`` (``None``: open end), numbered from 0 in the range.

        Seeks to the key frame before ``t_start``; when the seek lands after
        ``t_start`` (a container without a usable index), decodes from the
        beginning instead, so consecutive ranges always hold every frame
        exactly once. Raises :class:`VideoError` on a frame without a
        timestamp (such a video cannot be cut by time).
        """
        if prefetch > 0:
            return prefetched(lambda: self.time_range(t_start, t_stop), prefetch)
        return self._time_range(t_start, t_stop, seek=t_start is not None)

    def _time_range(
        self, t_start: float | None, t_stop: float | None, seek: bool
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        container, stream = self._open()
        count = 0
        try:
            if seek:
                container.seek(int(t_start / float(stream.time_base)), stream=stream, backward=True, any_frame=False)
            for frame in self._decode(container, stream):
                if frame.time is None:
                    raise VideoError(f"frames without timestamps, cannot cut by time: {self.path}")
                t = float(frame.time)
                if seek and count == 0 and t > t_start + _TIME_EPS:
                    break  # landed after the range's start: frames may be missing
                if t_start is not None and t < t_start - _TIME_EPS:
                    seek = False  # at or before the start: the seek was good
                    continue
                if t_stop is not None and t >= t_stop - _TIME_EPS:
                    return
                yield count, t, self._image(frame)
                count += 1
            else:
                return
        finally:
            container.close()
        log.debug("%s: seeking to %.3f s landed late, decoding from the start", self.path, t_start)
        yield from self._time_range(t_start, t_stop, seek=False)

    def _sequential_frames(self, start: int, stop: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
        container, stream = self._open()
        try:
            fallback_dt = 1.0 / self.fps
            count, t = 0, None
            for index, frame in enumerate(self._decode(container, stream)):
                count += 1
                if stop is not None and index >= stop:
                    return
                if index < start:
                    continue
                t = frame.time if frame.time is not None else index * fallback_dt
                yield index, float(t), self._image(frame)
            if start == 0 and stop is None:  # a whole pass: its count says whether the file is cut short
                self.check_frames_read(count, None if t is None else float(t))
        finally:
            container.close()

    def _image(self, frame: av.VideoFrame) -> np.ndarray:
        """A decoded frame as upright ``(H, W, 3)`` uint8 RGB."""
        return upright(frame.to_ndarray(format="rgb24"), self.info.rotation_deg)

    def _seek_frames(
        self, start: int, stop: int | None, frame_times: np.ndarray
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        container, stream = self._open()
        next_index = None  # the index the next decoded frame must have, once one matched
        try:
            target = int(round(frame_times[start] / float(stream.time_base)))
            container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in self._decode(container, stream):
                index = _index_of_time(frame_times, frame.time)
                landed_late = next_index is None and index is not None and index > start
                # No or unknown timestamp, a seek past the start, or a frame skipped: decode sequentially.
                if index is None or landed_late or (next_index is not None and index != next_index):
                    break
                next_index = index + 1
                if index < start:
                    continue
                if stop is not None and index >= stop:
                    return
                yield index, float(frame.time), self._image(frame)
            else:
                if next_index is not None and next_index > start:  # the file ended after the range began
                    return
        finally:
            container.close()
        resume = start if next_index is None else max(start, next_index)
        log.debug("%s: seeking to frame %d failed, decoding from the start", self.path, resume)
        yield from self._sequential_frames(resume, stop)


_TIME_EPS = 1e-6  # seconds; timestamps are exact multiples of the time base, far coarser
_TIMED_BASE = Fraction(1, 90000)  # the writer's clock for timed frames (MPEG's 90 kHz)


def _index_of_time(frame_times: np.ndarray, t: float | None) -> int | None:
    """Index of the frame whose timestamp is ``t`` in sorted ``frame_times``, None if none is."""
    if t is None:
        return None
    i = int(np.searchsorted(frame_times, t - _TIME_EPS))
    return i if i < frame_times.size and abs(frame_times[i] - t) <= _TIME_EPS else None


def _short(exc: BaseException) -> str:
    """One-line description of a PyAV/FFmpeg error."""
    return " ".join(str(exc).split())


class VideoWriter:
    """Write RGB frames to an H.264 (yuv420p) video, atomically.

    Frames go to a hidden temporary file beside ``path`` that is renamed to
    ``path`` by :meth:`close`; if the ``with`` block raises, the temporary
    file is deleted and ``path`` is untouched. yuv420p needs even sizes: odd
    frame sizes are padded by one edge pixel at the right/bottom.

    Frames are ``1 / fps`` apart, unless :meth:`write` is given each frame's
    time (then they keep those times, so a variable frame rate is kept, at
    the resolution of a 90 kHz clock).
    """

    def __init__(
        self, path: str | os.PathLike, fps: float, crf: int = 23, preset: str = "medium", background: bool = False
    ):
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        self._rate = Fraction(fps).limit_denominator(1001)
        self._crf, self._preset = crf, preset
        self._container = None
        self._stream = None
        self._count = 0
        self._first_time: float | None = None  # the first frame's time_s, when frames are timed
        # background=True: frames are encoded by a thread (FFmpeg releases the GIL), a few frames behind.
        self._pending: queue.Queue | None = queue.Queue(maxsize=4) if background else None
        self._encoder: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, image_rgb: np.ndarray, time_s: float | None = None) -> None:
        """Append one frame, ``(H, W, 3)`` uint8 RGB; every frame must have the first one's size.

        ``time_s``: the frame's presentation time in seconds (increasing; the
        first frame's time becomes 0). Give it for every frame or for none.
        With ``background=True`` the frame must not be modified afterwards
        (it is encoded later); an encoding error is raised by a later call.
        """
        image_rgb = np.asarray(image_rgb)
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 3) uint8 RGB, got {image_rgb.shape} {image_rgb.dtype}")
        if self._pending is None:
            self._encode((image_rgb, time_s))
            return
        self._raise_encoder_error()
        if self._encoder is None:
            self._encoder = threading.Thread(target=self._encode_pending, name="video-encode", daemon=True)
            self._encoder.start()
        self._pending.put((image_rgb, time_s))

    def _encode_pending(self) -> None:
        while (image := self._pending.get()) is not None:
            if self._error is None:
                try:
                    self._encode(image)
                except BaseException as exc:  # re-raised by the writer's next call
                    self._error = exc

    def _raise_encoder_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _join_encoder(self) -> None:
        if self._encoder is not None:
            self._pending.put(None)
            self._encoder.join()
            self._encoder = None

    def _encode(self, timed_image: tuple[np.ndarray, float | None]) -> None:
        image_rgb, time_s = timed_image
        h, w = image_rgb.shape[:2]
        if self._container is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self._tmp), mode="w", format=None)
            self._stream = self._container.add_stream("libx264", rate=self._rate)
            if time_s is not None:
                self._first_time = float(time_s)
                self._stream.time_base = self._stream.codec_context.time_base = _TIMED_BASE
            self._stream.width, self._stream.height = w + w % 2, h + h % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self._crf), "preset": self._preset}
        if (w + w % 2, h + h % 2) != (self._stream.width, self._stream.height):
            raise ValueError(f"frame size {w}x{h} differs from the first frame's")
        if w % 2 or h % 2:
            image_rgb = np.pad(image_rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(image_rgb, format="rgb24")
        if (time_s is None) != (self._first_time is None):
            raise ValueError("give every frame a time_s, or none")
        if time_s is None:
            frame.pts, frame.time_base = self._count, 1 / self._rate
        else:
            frame.pts, frame.time_base = int(round((time_s - self._first_time) / _TIMED_BASE)), _TIMED_BASE
        self._count += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and move the finished file to ``path``."""
        self._join_encoder()
        if self._error is not None:
            self.abort()
            raise self._error
        if self._container is None:
            if self._count == 0 and not self.path.exists():
                raise VideoError(f"no frames were written to {self.path}")
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop what was written; ``path`` is left as it was."""
        self._join_encoder()
        if self._container is not None:
            self._container.close()
            self._container = None
        self._tmp.unlink(missing_ok=True)
