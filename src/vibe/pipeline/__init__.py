"""The demo pipeline: streamed video → people → landmarks → VIBE → bodies → files.

- :mod:`vibe.pipeline.video` — :class:`VideoReader` / :class:`VideoWriter` over PyAV.
- :mod:`vibe.pipeline.detector` — BlazePose person detector (every anchor, tiled views).
- :mod:`vibe.pipeline.tracker` — ByteTrack-style tracker.
- :mod:`vibe.pipeline.people` — detector on a schedule + tracker over a video, smoothed boxes.
- :mod:`vibe.pipeline.landmarks` — 33 BlazePose landmarks per tracked person.
- :mod:`vibe.pipeline.roi_tracking` — people followed by their landmark model's ROI, the detector on a schedule.
- :mod:`vibe.pipeline.graph_pool` — MediaPipe graphs reused across tracks and videos in a process.
- :mod:`vibe.pipeline.roi_stage` — the demo's default front end: that in one pass over parallel ranges.
- :mod:`vibe.pipeline.windows` — the generator over a whole track, seamless windows (also frame by frame).
- :mod:`vibe.pipeline.smoothing` — One-Euro filter on rotations.
- :mod:`vibe.pipeline.frame_times` — true frame times and rate from decoded timestamps.
- :mod:`vibe.pipeline.person_filter` — which tracks are people (landmark visibility and coherence over the track).
- :mod:`vibe.pipeline.run_folder` — one consistent output folder per run (staged, swapped in).
- :mod:`vibe.pipeline.demo_config` — the demo's options, result, errors and exit codes.
- :mod:`vibe.pipeline.demo_model` — the generator of either stack, loaded and checked.
- :mod:`vibe.pipeline.passes` — what the passes share: stage timer, progress, time ranges, cache files.
- :mod:`vibe.pipeline.stages` — the demo's stages: people, landmarks / crops, the generator per track.
- :mod:`vibe.pipeline.outputs` — ``results.npz``, ``meta.json``, overlay, BVH / glb, written atomically.
- :mod:`vibe.pipeline.background` — iterators run ahead in a thread (decode, pose, encode overlap).
- :mod:`vibe.pipeline.run` — :func:`run_demo`, what ``vibe demo`` calls: the stages in order.
- :mod:`vibe.pipeline.live_source` — frames from a camera, stream, pipe or file, dropped when behind.
- :mod:`vibe.pipeline.live` — ``vibe live``: bodies frame by frame, JSON lines.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C runtime symbols (non-glibc platforms)
        pass


def release_freed_memory() -> None:
    """Hand memory freed by native code back to the OS (glibc ``malloc_trim``; no-op elsewhere).

    Each MediaPipe graph allocates and frees many blocks; glibc keeps freed
    blocks in its arenas, so a long video whose people come and go (one graph
    per track) would grow in resident memory without this.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (``M_ARENA_MAX``; no-op elsewhere) for threads created from now on.

    glibc gives each new thread its own arena (up to 8 per core) and keeps
    what the thread freed there; the demo's decode, detection, landmark and
    encode threads would each hold on to their own, so resident memory crept
    up with video length (~20 % over 10 minutes) instead of staying flat.
    """
    try:
        ctypes.CDLL(None).mallopt(-8, int(arenas))  # -8 = M_ARENA_MAX
    except (OSError, AttributeError):
        pass


# One redirection of fd 2 for the whole process, held while any thread is inside a silenced block.
# `_silence_generation` counts redirections ended early by `restore_native_stderr`: a block opened
# before that leaves without touching the state of the blocks opened after it.
_silence_lock = threading.Lock()
_silence_depth = 0
_silence_generation = 0
_saved_stderr_fd: int | None = None


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while the block runs (thread-safe).

    MediaPipe's C++ side (absl/glog, TFLite) writes banners such as "Created
    TensorFlow Lite XNNPACK delegate" straight to fd 2, which Python's
    ``sys.stderr`` cannot intercept. Python-level errors raised inside the block
    still propagate normally; only native writes during the block are lost
    (from every thread: fd 2 is per process, so it is restored when the last
    thread leaves its block).

    A Ctrl-C can leave the block with fd 2 still silenced (see
    :func:`restore_native_stderr`): code that catches ``KeyboardInterrupt``
    around silenced blocks calls that first, or is wrapped in
    :func:`stderr_restored_on_interrupt`.
    """
    if not enabled:
        yield
        return
    generation = _enter_silence()
    try:
        yield
    finally:
        _leave_silence(generation)


def _enter_silence() -> int:
    """Count one more silenced block (fd 2 to /dev/null on the first); the generation it belongs to."""
    global _silence_depth, _saved_stderr_fd
    with _silence_lock:
        if _saved_stderr_fd is None:
            sys.stderr.flush()
            # Saved before the redirection: restore_native_stderr undoes whatever part of it was done.
            _saved_stderr_fd = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _silence_depth += 1
        return _silence_generation


def _leave_silence(generation: int) -> None:
    """One silenced block of ``generation`` is done; fd 2 back when it was the last one."""
    global _silence_depth
    with _silence_lock:
        if generation != _silence_generation:
            return  # restore_native_stderr ended it already
        _silence_depth -= 1
        if _silence_depth == 0:
            _unsilence()


def _unsilence() -> None:
    """Point fd 2 back at the saved one (the lock held)."""
    global _saved_stderr_fd
    if _saved_stderr_fd is None:
        return
    # Native code may leave the text in C stdio buffers; flush them while
    # fd 2 still points at /dev/null, or it surfaces at interpreter exit.
    _flush_c_stdio()
    saved = _saved_stderr_fd
    os.dup2(saved, 2)
    _saved_stderr_fd = None  # after the dup2: interrupted before, a restore redoes it
    os.close(saved)


def restore_native_stderr() -> None:
    """Point fd 2 back at the real stderr now, even while silenced blocks are open (after Ctrl-C).

    Ctrl-C raises ``KeyboardInterrupt`` at the main thread's next Python
    step: after a long native call inside a silenced block (closing a
    MediaPipe graph) that is the block's exit, before it restores fd 2,
    and the suspended block is then kept alive by the exception's
    traceback. Threads left running (graphs being started in the
    background) may also still be inside their blocks. Either way the
    message that reports the interruption went to /dev/null. Blocks
    still open then leave without redirecting anything again.
    """
    global _silence_depth, _silence_generation
    with _silence_lock:
        if _saved_stderr_fd is None:
            return
        _unsilence()
        _silence_depth = 0
        _silence_generation += 1


def stderr_restored_on_interrupt(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn``, calling :func:`restore_native_stderr` before a ``KeyboardInterrupt`` leaves it."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            restore_native_stderr()
            raise

    return wrapper
