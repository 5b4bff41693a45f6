"""Frames from a live or played source, handed over with bounded latency.

Sources (:func:`open_source`): a webcam index (``"0"``, OpenCV), an RTSP /
HTTP / other FFmpeg URL, ``"-"`` (a pipe on stdin, any streamable container:
Matroska, MPEG-TS, NUT, Y4M, MJPEG) or a file. Decoding runs in a thread
ahead of the consumer (FFmpeg and OpenCV release the GIL).

Hand-over (:class:`FrameQueue`): at most ``depth`` frames wait. Paced
sources (cameras and network streams always; files and pipes with
``realtime``) deliver frames on their own clock, and when the consumer is
behind the *oldest* waiting frame is dropped and counted, so a frame is
never older than ``depth`` frames of processing when its turn comes, and
memory stays flat. Unpaced sources (files and pipes by default) block the
decoder instead: every frame is processed, as fast as the consumer goes.
A played file waits until each frame's timestamp (relative to the first)
has passed on the wall clock before handing it over. Decoding starts with the
first iteration, once the consumer has loaded its models (a file, pipe or
stream decodes its first frame at opening: its display matrix says how the
frames turn upright, as ``vibe demo`` turns them, :func:`~vibe.pipeline.video.display_rotation`).
"""

from __future__ import annotations

import collections
import itertools
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["SourceFrame", "FrameQueue", "LiveSource", "open_source"]

log = logging.getLogger(__name__)


@dataclass
class SourceFrame:
    """One decoded frame.

    Attributes:
        index: position in the source (frames dropped later keep their numbers).
        time_s: the source's timestamp (seconds; arrival time for sources without one).
        image_rgb: ``(H, W, 3)`` uint8.
        arrival_s: ``time.perf_counter()`` when the frame was handed over (latency starts here).
    """

    index: int
    time_s: float
    image_rgb: np.ndarray
    arrival_s: float = 0.0


class FrameQueue:
    """A bounded hand-over between the decoding thread and the consumer (module docstring).

    ``drop``: when full, :meth:`put` discards the oldest frame (counted in
    :attr:`dropped`) instead of waiting.
    """

    def __init__(self, depth: int = 1, drop: bool = True):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.depth, self.drop = depth, drop
        self.dropped = 0
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: SourceFrame) -> bool:
        """Hand ``item`` over (stamping its arrival); False when the queue was closed by the consumer."""
        with self._cond:
            while not self.drop and len(self._items) >= self.depth and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            if len(self._items) >= self.depth:
                self._items.popleft()
                self.dropped += 1
            item.arrival_s = time.perf_counter()
            self._items.append(item)
            self._cond.notify_all()
            return True

    def finish(self) -> None:
        """The producer's end of stream: :meth:`get` returns None once the waiting frames are taken."""
        with self._cond:
            self._items.append(None)
            self._cond.notify_all()

    def get(self) -> SourceFrame | None:
        """The oldest waiting frame (blocks until one arrives); None at the end of the stream."""
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            if item is None:
                self._items.appendleft(None)  # the end stays the end for any further get
            self._cond.notify_all()
            return item

    def close(self) -> None:
        """The consumer stops: the producer's next :meth:`put` returns False."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()


class LiveSource:
    """A source decoded in a thread into a :class:`FrameQueue`; iterate for :class:`SourceFrame` s.

    Use as a context manager (or call :meth:`close`), which stops the thread.
    Attributes ``fps`` (nominal, the container's or the camera's), ``paced``
    and ``dropped`` (frames discarded so far).
    """

    def __init__(self, frames: Iterator[SourceFrame], fps: float, paced: bool, played: bool, depth: int = 1):
        self.fps, self.paced = fps, paced
        self.queue = FrameQueue(depth, drop=paced)
        self.error: BaseException | None = None
        # Started by the first iteration, so frames do not pile up (and drop) while the consumer loads.
        self._thread = threading.Thread(target=self._produce, args=(frames, played), name="live-decode", daemon=True)

    @property
    def dropped(self) -> int:
        return self.queue.dropped

    def _produce(self, frames: Iterator[SourceFrame], played: bool) -> None:
        start_wall = start_t = None
        try:
            for frame in frames:
                if played:  # wait for the frame's time, relative to the first frame's
                    if start_wall is None:
                        start_wall, start_t = time.perf_counter(), frame.time_s
                    delay = start_wall + (frame.time_s - start_t) - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                if not self.queue.put(frame):
                    return
        except BaseException as exc:  # reported by the consumer's iteration
            self.error = exc
        finally:
            self.queue.finish()

    def __iter__(self) -> Iterator[SourceFrame]:
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        while (frame := self.queue.get()) is not None:
            yield frame
        if self.error is not None:
            raise self.error

    def __enter__(self) -> "LiveSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.queue.close()
        if self._thread.ident is not None:
            self._thread.join(timeout=2.0)


def _pyav_frames(target, container_format: str | None = None) -> tuple[Iterator[SourceFrame], float, tuple[int, int]]:
    """Upright frames of a file, URL or file object through PyAV; also the nominal fps and upright ``(W, H)``.

    The first frame is decoded here: its display matrix (or the stream's
    ``rotate`` tag) gives the rotation, which every frame then gets.
    """
    import av

    from vibe.pipeline.video import display_rotation, upright

    container = av.open(target, format=container_format, timeout=10.0 if isinstance(target, str) else None)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    fps = float(stream.average_rate or stream.guessed_rate or 30.0)
    decoded = container.decode(stream)
    first = next(decoded, None)
    rotation = display_rotation(first, stream) if first is not None else 0
    size = (stream.width, stream.height) if rotation in (0, 180) else (stream.height, stream.width)

    def frames() -> Iterator[SourceFrame]:
        try:
            for index, frame in enumerate(itertools.chain([first] if first is not None else [], decoded)):
                t = float(frame.time) if frame.time is not None else index / fps
                yield SourceFrame(index, t, upright(frame.to_ndarray(format="rgb24"), rotation))
        finally:
            container.close()

    return frames(), fps, size


def _camera_frames(index: int) -> tuple[Iterator[SourceFrame], float, tuple[int, int]]:
    """Frames of webcam ``index`` through OpenCV; timestamps are arrival times."""
    import cv2

    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise OSError(f"cannot open camera {index}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def frames() -> Iterator[SourceFrame]:
        start, index_out = time.perf_counter(), 0
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield SourceFrame(index_out, time.perf_counter() - start, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                index_out += 1
        finally:
            capture.release()

    return frames(), float(fps), size


def open_source(source: str, realtime: bool = False, depth: int = 1) -> tuple[LiveSource, tuple[int, int]]:
    """Start decoding ``source`` (module docstring); returns the :class:`LiveSource` and ``(W, H)``.

    ``realtime``: play a file, pipe or URL at its timestamps, dropping frames
    the consumer cannot keep up with (cameras and URLs always drop; a URL
    without ``realtime`` is taken as a live stream, whose frames come at its rate).

    Raises:
        OSError, av.error.FFmpegError: the source cannot be opened.
    """
    if source.isdigit():
        frames, fps, size = _camera_frames(int(source))
        return LiveSource(frames, fps, paced=True, played=False, depth=depth), size
    if source == "-":
        frames, fps, size = _pyav_frames(sys.stdin.buffer)
        return LiveSource(frames, fps, paced=realtime, played=realtime, depth=depth), size
    if "://" in source:  # a live stream comes at its own rate; a stored file behind a URL is played with realtime
        frames, fps, size = _pyav_frames(source)
        return LiveSource(frames, fps, paced=True, played=realtime, depth=depth), size
    frames, fps, size = _pyav_frames(source)
    return LiveSource(frames, fps, paced=realtime, played=realtime, depth=depth), size
