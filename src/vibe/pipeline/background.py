"""Running an iterator ahead of its consumer in a thread.

The demo's stages are chains of C-heavy steps (FFmpeg decoding, MediaPipe
graphs, torch, OpenGL, x264) that release the GIL, so a producer thread and
its consumer use two cores.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["prefetched", "map_in_threads"]


def map_in_threads(fn: Callable[[T], R], items: Sequence[T], name: str) -> list[R]:
    """``[fn(item) for item in items]``, one thread per item (in the caller's thread when there is one).

    When the caller is interrupted (Ctrl-C raises ``KeyboardInterrupt`` in the
    main thread) or an item fails, this returns at once instead of waiting
    for the other threads: they are left to finish in the background, so the
    caller should make them stop (e.g. an event their frame source checks).
    """
    if len(items) == 1:
        return [fn(items[0])]
    pool = ThreadPoolExecutor(len(items), thread_name_prefix=name)
    try:
        out = list(pool.map(fn, items))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return out


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
