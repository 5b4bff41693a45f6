"""The demo pipeline: streamed video → people → landmarks → VIBE → bodies → files.

- :mod:`vibe.pipeline.video` — :class:`VideoReader` / :class:`VideoWriter` over PyAV.
- :mod:`vibe.pipeline.people` — BlazePose person detector, tracker, box smoothing.
- :mod:`vibe.pipeline.landmarks` — 33 BlazePose landmarks per tracked person.
- :mod:`vibe.pipeline.windows` — the generator over a whole track, seamless windows.
- :mod:`vibe.pipeline.smoothing` — One-Euro filter on rotations.
- :mod:`vibe.pipeline.outputs` — ``results.npz`` and ``meta.json``, written atomically.
- :mod:`vibe.pipeline.run` — :func:`run_demo`, what ``vibe demo`` calls.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C runtime symbols (non-glibc platforms)
        pass


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while the block runs.

    MediaPipe's C++ side (absl/glog, TFLite) writes banners such as "Created
    TensorFlow Lite XNNPACK delegate" straight to fd 2, which Python's
    ``sys.stderr`` cannot intercept. Python-level errors raised inside the block
    still propagate normally; only native writes during the block are lost.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        # Native code may leave the text in C stdio buffers; flush them while
        # fd 2 still points at /dev/null, or it surfaces at interpreter exit.
        _flush_c_stdio()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
