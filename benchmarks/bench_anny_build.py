"""Time building the Anny body model: the first model of a process and the ones after.

    python benchmarks/bench_anny_build.py --repeats 10 --threads 1

prints the median wall time of ``Anny()`` (anny's model data already cached on
disk), of its ``blazepose33_detector`` weights built afresh
(``Anny._detector_weights`` on one thread, as the model builds them), and of the
first ``Anny()`` of the process. Models after the first of one configuration take
the detector weights from a process-wide cache (:mod:`vibe.body.anny`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from vibe.body.anny import Anny
from vibe.body.keypoint_offsets import load_detector_offsets


def _seconds(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    body = Anny()
    first = time.perf_counter() - start
    offsets = load_detector_offsets()

    def detector_weights() -> None:
        torch.set_num_threads(1)
        try:
            body._detector_weights(offsets)
        finally:
            torch.set_num_threads(args.threads)

    rows = [
        ("first Anny() of the process", first),
        ("Anny() after the first", _seconds(Anny, args.repeats)),
        ("blazepose33_detector weights built afresh", _seconds(detector_weights, args.repeats)),
    ]
    for label, seconds in rows:
        print(f"{label:45s} {1000 * seconds:8.1f} ms")


if __name__ == "__main__":
    main()
