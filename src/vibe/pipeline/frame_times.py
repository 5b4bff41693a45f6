"""A video's true timing, from the decoded frames' timestamps (never the container header).

Containers lie about their rate: an AVI header may say 50 fps while its
frames are 40 ms apart, phones record variable frame rates, and some files
carry timestamps that go backwards (B-frames muxed without presentation
times). The demo therefore times everything by what it decoded:

- :func:`monotonic_frame_times` repairs timestamps that do not increase. The
  frames are kept in decoding order (which is presentation order); what is
  wrong is the timestamp each carries. Two repairs are tried and the one with
  the more regular intervals is kept: (a) the longest increasing run of
  timestamps is trusted and the others are placed evenly between their
  trusted neighbours (or a median interval beyond them) — right for a few
  stray or repeated stamps; (b) the same after sorting the timestamps — right
  for B-frames in a container without presentation times (H.264 in AVI),
  whose decoder hands out the right timestamps in coding order;
- :class:`FrameTiming` summarises them: the frame rate is 1 / the median
  interval, and the rate is called variable when intervals differ from it by
  more than ``vfr_tolerance``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

__all__ = ["FrameTiming", "monotonic_frame_times", "frame_timing"]


def _longest_increasing(values: np.ndarray) -> np.ndarray:
    """Indices ``(k,)`` of one longest strictly increasing subsequence of ``values (n,)`` (O(n log n))."""
    tails: list[float] = []  # smallest tail value of an increasing run of each length
    tail_index: list[int] = []
    previous = np.full(values.size, -1, dtype=np.int64)
    for i, v in enumerate(values):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_index.append(i)
        else:
            tails[k], tail_index[k] = v, i
        previous[i] = tail_index[k - 1] if k else -1
    out = []
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        out.append(i)
        i = previous[i]
    return np.asarray(out[::-1], dtype=np.int64)


def monotonic_frame_times(times_s: np.ndarray) -> tuple[np.ndarray, int]:
    """Strictly increasing timestamps for frames in decoding order (repairs in the module doc).

    Args:
        times_s: ``(N,)`` decoded timestamps, seconds (NaN: unknown).

    Returns:
        ``(times (N,), repaired)``: the timestamps, and how many frames got
        another timestamp than the one they were decoded with.
    """
    decoded = np.asarray(times_s, dtype=np.float64)
    known = np.isfinite(decoded)
    if known.all() and np.all(np.diff(decoded) > 0):
        return decoded.copy(), 0
    resorted = decoded.copy()
    resorted[known] = np.sort(decoded[known])
    candidates = [_fill_from_increasing_run(decoded), _fill_from_increasing_run(resorted)]
    best = min(candidates, key=_irregularity)
    return best, int(np.sum(~np.isclose(best, decoded, rtol=0.0, atol=1e-9)))


def _irregularity(times: np.ndarray) -> float:
    """Sum of the intervals' absolute deviations from their median (0: a constant rate)."""
    intervals = np.diff(times)
    return float(np.abs(intervals - np.median(intervals)).sum()) if intervals.size else 0.0


def _fill_from_increasing_run(times_s: np.ndarray) -> np.ndarray:
    """``(N,)``: the longest strictly increasing run of known timestamps kept, the rest evenly in between."""
    times = np.asarray(times_s, dtype=np.float64).copy()
    n = times.size
    known = np.flatnonzero(np.isfinite(times))
    good = known[_longest_increasing(times[known])] if known.size else np.zeros(0, dtype=np.int64)
    if good.size == n:
        return times
    if good.size == 0:
        return np.arange(n, dtype=np.float64)  # nothing usable: frame counts, 1 s apart
    steps = np.diff(times[good]) / np.diff(good) if good.size > 1 else np.ones(1)
    step = float(np.median(steps))
    # Between trusted frames: linear in the frame index (their spacing divided evenly).
    inner = np.interp(np.arange(n), good, times[good])
    before, after = np.arange(n) < good[0], np.arange(n) > good[-1]
    inner[before] = times[good[0]] - (good[0] - np.arange(n)[before]) * step
    inner[after] = times[good[-1]] + (np.arange(n)[after] - good[-1]) * step
    return inner


@dataclass(frozen=True)
class FrameTiming:
    """What the decoded timestamps say about a video's rate.

    Attributes:
        fps: 1 / the median interval between consecutive frames (the header's
            rate when fewer than two frames were read).
        median_interval_s: that median interval, seconds.
        variable: True when some interval differs from the median by more
            than the tolerance (a variable frame rate).
        repaired: timestamps replaced because they did not increase.
    """

    fps: float
    median_interval_s: float
    variable: bool
    repaired: int


def frame_timing(times_s: np.ndarray, fallback_fps: float, vfr_tolerance: float = 0.1, repaired: int = 0) -> FrameTiming:
    """Summarise increasing timestamps ``(N,)`` (see :class:`FrameTiming`).

    Args:
        times_s: ``(N,)`` strictly increasing timestamps (:func:`monotonic_frame_times`).
        fallback_fps: the rate to report when ``N < 2`` (e.g. the header's).
        vfr_tolerance: relative deviation from the median interval that makes a rate variable.
        repaired: passed through from :func:`monotonic_frame_times`.
    """
    intervals = np.diff(np.asarray(times_s, dtype=np.float64))
    if intervals.size == 0:
        return FrameTiming(float(fallback_fps), 1.0 / float(fallback_fps), False, repaired)
    median = float(np.median(intervals))
    variable = bool(np.any(np.abs(intervals - median) > vfr_tolerance * median))
    return FrameTiming(1.0 / median, median, variable, repaired)
