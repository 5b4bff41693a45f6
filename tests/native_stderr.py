"""Helpers for the tests of Ctrl-C while MediaPipe's banners are silenced (fd 2 on /dev/null, issue 12)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from vibe.pipeline import native_stderr_silenced


def stderr_file() -> tuple[int, int]:
    """Which file fd 2 is now: ``(st_dev, st_ino)``."""
    now = os.fstat(2)
    return now.st_dev, now.st_ino


def thread_in_a_silenced_block() -> Callable[[], None]:
    """Start a thread inside a silenced block (as one starting a MediaPipe graph); returns what ends the block."""
    inside, release = threading.Event(), threading.Event()

    def starting_a_graph() -> None:
        with native_stderr_silenced():
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=starting_a_graph, daemon=True)
    thread.start()
    assert inside.wait(30)

    def end() -> None:
        release.set()
        thread.join(30)

    return end
