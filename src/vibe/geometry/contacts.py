"""Foot contacts: which foot rests on the ground in which frame, from heights and speeds.

A foot is in contact when it is low (``height`` under a threshold: above the
ground plane, or above the person's lowest foot point before the ground is
known) and still (``speed`` under a threshold, in whatever unit the caller
measured: metres or box sides per second). Speeds are centred differences
(no lag; the caller smooths the positions first). Runs of
contact shorter than ``min_frames`` are dropped (a foot passing through
the low, slow part of a swing).
"""

from __future__ import annotations

import numpy as np

__all__ = ["centred_share", "centred_speed", "foot_contacts", "drop_short_runs", "long_runs"]


def centred_speed(positions: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Speed ``(n, ...)`` of positions ``(n, ..., D)`` over time ``(n,)`` (units of positions per second).

    The speed at frame ``k`` is ``|x[k+1] − x[k−1]| / (t[k+1] − t[k−1])``
    (one-sided at the ends); smooth noisy positions first. One frame: zero.
    """
    x = np.asarray(positions, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    if len(x) < 2:
        return np.zeros(x.shape[:-1])
    prev = np.concatenate([[0], np.arange(len(x) - 1)])
    nxt = np.concatenate([np.arange(1, len(x)), [len(x) - 1]])
    dt = (t[nxt] - t[prev]).reshape((-1,) + (1,) * (x.ndim - 2))
    return np.linalg.norm(x[nxt] - x[prev], axis=-1) / np.maximum(dt, 1e-9)


def drop_short_runs(mask: np.ndarray, min_frames: int) -> np.ndarray:
    """``(n, C)`` bool with the runs of True shorter than ``min_frames`` (per column) set False."""
    out = np.asarray(mask, dtype=bool).copy()
    for c in range(out.shape[1]):
        col = out[:, c]
        edges = np.diff(np.concatenate([[0], col.astype(np.int8), [0]]))
        for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if stop - start < min_frames:
                col[start:stop] = False
    return out


def foot_contacts(
    height: np.ndarray, speed: np.ndarray, max_height: float, max_speed: float, min_frames: int = 3
) -> np.ndarray:
    """``(n, F)`` bool contact per frame and foot from heights and speeds ``(n, F)``.

    Args:
        height: foot height above the ground (or above the lowest foot point), metres.
        speed: foot speed (the caller's unit per second).
        max_height, max_speed: thresholds (inclusive).
        min_frames: shortest run of contact kept.
    """
    low_and_still = (np.asarray(height) <= max_height) & (np.asarray(speed) <= max_speed)
    return drop_short_runs(low_and_still, min_frames)


def centred_share(mask: np.ndarray, times_s: np.ndarray, window_s: float) -> np.ndarray:
    """``(n,)`` the share of True in ``mask`` over a centred window of ``window_s`` seconds (shorter at the ends)."""
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 1.0
    half = max(1, int(round(window_s / step / 2)))
    kernel = np.ones(2 * half + 1)
    # "full" then the centred slice: "same" would return the kernel's length when it is the longer.
    counts = np.convolve(np.ones(len(mask)), kernel)[half : half + len(mask)]
    return np.convolve(np.asarray(mask, np.float64), kernel)[half : half + len(mask)] / counts


def long_runs(mask: np.ndarray, times_s: np.ndarray, min_s: float) -> np.ndarray:
    """``(n,)`` bool: the runs of ``mask`` lasting at least ``min_s`` seconds."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    out = np.zeros(len(mask), bool)
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if times_s[stop - 1] - times_s[start] >= min_s:
            out[start:stop] = True
    return out
