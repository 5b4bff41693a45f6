"""prefetched(): order, errors and early stop of the producer thread."""

from __future__ import annotations

import threading
import time

import pytest

from vibe.pipeline.background import prefetched


def test_items_come_in_order():
    assert list(prefetched(lambda: iter(range(50)), depth=3)) == list(range(50))


def test_producer_error_reaches_the_consumer():
    def failing():
        yield 1
        raise OSError("disk gone")

    out = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetched(failing, depth=2):
            out.append(item)
    assert out == [1]


def test_closing_early_stops_and_closes_the_producer():
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    stream = prefetched(endless, depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert closed.wait(timeout=5.0)


def test_producer_runs_ahead_of_the_consumer():
    produced = []

    def slow_source():
        for k in range(4):
            produced.append(k)
            yield k

    stream = prefetched(slow_source, depth=4)
    assert next(stream) == 0
    deadline = time.monotonic() + 5.0
    while len(produced) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert produced == [0, 1, 2, 3]  # filled while the consumer held only the first item
    assert list(stream) == [1, 2, 3]
