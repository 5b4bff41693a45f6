"""What every pass of the demo over a video shares: timing, progress, parallel ranges, caching.

The front ends (:mod:`vibe.pipeline.stages`' two passes and
:mod:`vibe.pipeline.roi_stage`'s one pass) and the render pass
(:mod:`vibe.pipeline.outputs`) each stream the video; they share

- :class:`StageTimer`: each stage's wall time and frame count (``meta.json``);
- :func:`progress_bar`, :func:`frame_total`, :func:`stage_frames`: one
  progress bar per pass, over the frames it reads;
- :func:`range_workers`, :func:`time_ranges`: the video cut into one time
  range per thread (the C/C++ parts release the GIL, so threads use cores);
- :func:`file_digest`, :func:`cache_key`, :func:`save_npz`: a pass's cache
  file, keyed by the video's content and the options, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.video import VideoReader

__all__ = [
    "StageTimer",
    "range_workers",
    "time_ranges",
    "progress_bar",
    "frame_total",
    "stage_frames",
    "file_digest",
    "cache_key",
    "save_npz",
]

# Bump when a cached pass's content changes meaning: older cache files then miss.
_CACHE_VERSION = 1


class StageTimer:
    """Per-stage wall time and frame counts: ``stages[name] = {"seconds", "frames", "fps"}``."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    def add(self, name: str, seconds: float, frames: int) -> None:
        fps = round(frames / max(seconds, 1e-9), 2)
        self.stages[name] = {"seconds": round(seconds, 4), "frames": int(frames), "fps": fps}


def range_workers(config: DemoConfig) -> int:
    """Threads of a parallel pass: ``config.workers``, or one per CPU core (at most 4) when 0."""
    return config.workers if config.workers > 0 else max(1, min(4, os.cpu_count() or 1))


def time_ranges(reader: VideoReader, config: DemoConfig, min_range_s: float = 2.0) -> list[tuple[float | None, float | None]]:
    """Consecutive time ranges ``(t0, t1)`` (seconds; None: the video's start or end), one per worker.

    One range (``[(None, None)]``) with ``max_frames``, when the container
    gives no duration or first timestamp, or for a video shorter than two
    ``min_range_s``; otherwise no range is shorter than ``min_range_s``.
    """
    info = reader.info
    if config.max_frames is not None or not info.duration_s or info.start_s is None:
        return [(None, None)]
    parts = max(1, min(range_workers(config), int(info.duration_s // min_range_s)))
    cuts = [info.start_s + info.duration_s * k / parts for k in range(1, parts)]
    return list(zip([None, *cuts], [*cuts, None]))


def progress_bar(config: DemoConfig, desc: str, total: int | None) -> tqdm:
    """A stage's progress bar over frames (silent unless ``config.progress``)."""
    return tqdm(total=total, desc=desc, unit="frame", disable=not config.progress, leave=False)


def frame_total(reader: VideoReader, config: DemoConfig) -> int | None:
    """Frames a full pass reads: the container's count capped by ``max_frames`` (None: unknown)."""
    total = reader.frame_count
    if config.max_frames is not None:
        total = min(total, config.max_frames) if total else config.max_frames
    return total


def stage_frames(reader: VideoReader, config: DemoConfig, desc: str) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame_id, image_rgb (H, W, 3))`` of the first ``max_frames`` frames, with a progress bar."""
    with progress_bar(config, desc, frame_total(reader, config)) as bar:
        for index, _, image in reader.frames(0, config.max_frames, prefetch=2):
            bar.update(1)
            yield index, image


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content (hex), read in 1 MiB blocks."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def cache_key(*parts: object) -> str:
    """20 hex digits naming a cache file: a hash of ``parts`` (JSON, dataclasses as dicts first)."""
    text = json.dumps([_CACHE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` through a partial file renamed at the end (never a half-written cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)
