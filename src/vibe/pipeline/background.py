"""Running an iterator ahead of its consumer in a thread.

The demo's stages are chains of C-heavy steps (FFmpeg decoding, MediaPipe
graphs, torch, OpenGL, x264) that release the GIL, so a producer thread and
its consumer use two cores.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

__all__ = ["prefetched"]


def prefetched(make: Callable[[], Iterator[T]], depth: int) -> Iterator[T]:
    """Run the iterator ``make()`` in a background thread, ``depth`` items ahead of the consumer.

    Exceptions raised by the producer are re-raised in the consumer; closing
    the returned generator early stops the producer.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        source = make()
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((done, None))
        except BaseException as exc:  # handed to the consumer
            items.put((done, exc))
        finally:
            if hasattr(source, "close"):
                source.close()  # e.g. a generator holding an open video file

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = items.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                items.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
