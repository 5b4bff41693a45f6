"""The demo's one-pass front end: people and their landmarks together (:mod:`vibe.pipeline.roi_tracking`).

Replaces the two passes of :mod:`vibe.pipeline.stages` (``people_stage``
then ``landmark_stage``) when ``DemoConfig.roi_tracking`` is set: the video
is decoded once, cut into ``workers`` time ranges run in parallel threads
(each with its own decoder, detector, tracker and landmark models; MediaPipe
runs outside the GIL), and :func:`~vibe.pipeline.roi_tracking.stitch_ranges`
joins them. Range k > 0 starts ``overlap_s`` before its cut, so tracks
crossing the cut are matched on the repeated frames.

Cache: the same two files as the two-pass front end (``people-<key>.npz``:
tracks and frame times; ``landmarks-<key>.npz``: landmarks per track), in
the same layout, so readers of the landmark cache work with either.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from vibe.geometry.crops import bbox_xyxy_to_cxcys
from vibe.pipeline.background import map_in_threads
from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.graph_pool import shared_pool
from vibe.pipeline.landmarks import TrackLandmarks
from vibe.pipeline.person_boxes import shared_person_boxes
from vibe.pipeline.passes import (
    StageTimer,
    cache_key,
    frame_total,
    progress_bar,
    save_npz,
    time_ranges,
)
from vibe.pipeline.person_blobs import MASK_THRESHOLD
from vibe.pipeline.roi_cuts import mend_cuts
from vibe.pipeline.roi_stitch import FollowedRange, RangeTracks
from vibe.pipeline.roi_tracking import RoiFollower, stitch_ranges
from vibe.pipeline.stages import people_stage
from vibe.pipeline.tracker import Track
from vibe.pipeline.video import VideoReader

__all__ = ["followed_people_stage", "front_end", "one_pass_caches", "start_graphs_ahead"]

log = logging.getLogger(__name__)


def _one_pass(config: DemoConfig) -> bool:
    """Whether :func:`front_end` runs the one pass (it is set, and the run needs landmarks)."""
    return config.roi_tracking is not None and (config.stack == "open" or config.presence.enabled)


def start_graphs_ahead(reader: VideoReader, config: DemoConfig, caches: tuple[Path, Path] | None = None) -> None:
    """Start the one pass's graphs in the background (a detector, a ``Pose`` and, with blob proposals,
    a person segmenter per time range, :meth:`~vibe.pipeline.graph_pool.GraphPool.start_ahead`; the
    far passes' person detector, :func:`~vibe.pipeline.person_boxes.shared_person_boxes`).

    For a caller with other work before :func:`front_end` (``run_demo`` loads
    its model meanwhile): the ranges then start on graphs that are ready
    (about a second of each range's start at 720p, ``docs/benchmarks.md``).
    Nothing when the front end is not the one pass, or when its ``caches``
    (:func:`one_pass_caches`) are there to be reused.
    """
    if not _one_pass(config) or (caches is not None and all(p.exists() for p in caches)):
        return
    roi = config.roi_tracking
    blobs = roi.blob_proposals and roi.weak_score is not None and roi.far_tiles is not None and roi.tiles
    segmenter = MASK_THRESHOLD if blobs else None
    shared_pool().start_ahead(config.detector, config.landmarks, segmenter, len(time_ranges(reader, config)))
    if roi.box_proposals is not None and roi.far_tiles is not None and roi.tiles:  # the far passes' person boxes
        threading.Thread(target=shared_person_boxes, name="person-boxes", daemon=True).start()


def front_end(
    reader: VideoReader, config: DemoConfig, people_cache: Path | None, people_key: str, timer: StageTimer
) -> tuple[list[Track], np.ndarray, dict[int, TrackLandmarks] | None]:
    """Pass 1: tracks, decoded frame times ``(N,)`` and, from the one-pass front end, landmarks by track.

    The one pass (:func:`followed_people_stage`) runs when ``config.roi_tracking``
    is set and the run needs landmarks (open stack, or the person rule);
    otherwise the detector and tracker alone (:func:`~vibe.pipeline.stages.people_stage`),
    and landmarks are None (a second pass makes them). ``people_cache`` is the
    two-pass cache file; the one pass keys its files by ``people_key`` and its own options.
    """
    if not _one_pass(config):
        return (*people_stage(reader, config, people_cache, timer), None)
    return followed_people_stage(reader, config, one_pass_caches(config, people_cache, people_key), timer)


def one_pass_caches(config: DemoConfig, people_cache: Path | None, people_key: str) -> tuple[Path, Path] | None:
    """The one pass's ``(people, landmarks)`` cache files beside the two-pass ``people_cache``
    (None: no caching, or no one pass)."""
    if people_cache is None or config.roi_tracking is None:
        return None
    key = cache_key(people_key, asdict(config.roi_tracking), asdict(config.landmarks))
    return people_cache.with_name(f"people-{key}.npz"), people_cache.with_name(f"landmarks-{key}.npz")


def followed_people_stage(
    reader: VideoReader, config: DemoConfig, caches: tuple[Path, Path] | None, timer: StageTimer
) -> tuple[list[Track], np.ndarray, dict[int, TrackLandmarks]]:
    """One pass: tracks, every frame's decoded timestamp ``(N,)`` and landmarks by track (cached).

    ``caches``: ``(people file, landmarks file)`` or None (no caching).
    """
    if caches is not None and all(p.exists() for p in caches):
        caches[1].touch()  # the newest landmarks file is this run's (evaluation.synthetic_bench.cached_landmarks)
        log.info("people and landmarks: reused %s", caches[1])
        return (*_load(*caches),)
    start = time.perf_counter()
    cuts = time_ranges(reader, config)
    tracks, times, landmarks = _follow(reader, config, cuts)
    if len(cuts) > 1 and not np.all(np.diff(times) > 0):
        # Cutting by time needs increasing timestamps: decode the video once, in order, instead.
        log.info("%s: timestamps do not increase, following people in one sequential pass", reader.path)
        tracks, times, landmarks = _follow(reader, config, [(None, None)])
    timer.add("people_landmarks", time.perf_counter() - start, len(times))
    if caches is not None:
        _save(*caches, tracks, times, landmarks)
    return tracks, times, landmarks


def _follow(
    reader: VideoReader, config: DemoConfig, cuts: list[tuple[float | None, float | None]]
) -> tuple[list[Track], np.ndarray, dict[int, TrackLandmarks]]:
    """:class:`~vibe.pipeline.roi_tracking.RoiFollower` over the time ranges ``cuts`` in parallel threads, joined
    (:mod:`~vibe.pipeline.roi_cuts` moves a cut where the two sides read someone apart)."""
    stop = threading.Event()
    overlap_s = config.roi_tracking.overlap_s
    with progress_bar(config, "people+landmarks", frame_total(reader, config)) as bar:

        def range_frames(t0: float | None, t1: float | None) -> Iterator[tuple[float, np.ndarray]]:
            if t0 is None and t1 is None:  # the whole video (or its first max_frames)
                frames = reader.frames(0, config.max_frames, prefetch=2)
            else:
                frames = reader.time_range(None if t0 is None else t0 - overlap_s, t1, prefetch=2)
            for _, t, image in frames:
                if stop.is_set():
                    return
                if t0 is None or t >= t0:  # a range's lead-in overlaps the range before: counted there
                    bar.update(1)
                yield t, image

        # Every piece of a track is kept until the ranges are joined; the minimum length applies after.
        tracker_config = dataclasses.replace(config.tracker, min_track_s=0.0)

        def run(bounds: tuple[float | None, float | None]) -> FollowedRange:
            follower = RoiFollower(
                reader.fps, config.roi_tracking, config.detector, tracker_config, config.landmarks
            )  # fmt: skip
            try:  # left open: the range may have to follow on past its end (roi_cuts)
                return FollowedRange(follower).feed(range_frames(*bounds))
            except BaseException:
                follower.close(reuse=False)
                raise

        try:
            ranges = map_in_threads(run, cuts, "follow")
        except BaseException:
            stop.set()
            raise

    parts, starts = _mended(ranges, cuts, reader, config)
    ran, frames = sum(p.detector_frames for p in parts), sum(len(p.times_s) for p in parts)
    log.debug("detector ran on %d of %d frames", ran, frames)
    tracks, landmarks, times = stitch_ranges(parts, starts, config.roi_tracking.stitch_iou)
    min_frames = int(round(config.tracker.min_track_s * reader.fps))
    tracks = [t for t in tracks if t.frame_ids[-1] - t.frame_ids[0] + 1 >= min_frames]
    return tracks, times, {t.track_id: landmarks[t.track_id] for t in tracks}


def _mended(
    ranges: list[FollowedRange], cuts: list[tuple[float | None, float | None]], reader: VideoReader,
    config: DemoConfig,
) -> tuple[list[RangeTracks], list[float | None]]:  # fmt: skip
    """The ranges' tracks and starts for :func:`stitch_ranges`, mended where they read someone apart
    (:func:`~vibe.pipeline.roi_cuts.mend_cuts`, decoding again what it needs); closes the ranges' followers."""

    def frames_between(k: int, t0: float, t1: float | None) -> Iterator[tuple[float, np.ndarray]]:
        return ((s, image) for _, s, image in reader.time_range(t0, cuts[k][1] if t1 is None else t1, prefetch=2))

    graphs, taken = shared_pool(), []

    def fresh_reader() -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
        graph = graphs.pose(config.landmarks)  # follows nobody yet
        taken.append(graph)
        return lambda image_rgb, box_xyxy: graph.estimate(image_rgb, bbox_xyxy_to_cxcys(box_xyxy))

    try:
        return mend_cuts(ranges, [t0 for t0, _ in cuts], frames_between, fresh_reader, config.roi_tracking, reader.fps)
    finally:
        for r in ranges:
            r.follower.close()
        for graph in taken:
            graphs.give_back(graph)


def _save(
    people: Path, landmarks: Path, tracks: list[Track], times: np.ndarray, out: dict[int, TrackLandmarks]
) -> None:
    """Both cache files, in the two-pass front end's layout."""
    arrays = {"frame_times_s": np.asarray(times), "track_ids": np.asarray([t.track_id for t in tracks], np.int64)}
    for t in tracks:
        arrays.update({f"{t.track_id}/{k}": getattr(t, k) for k in Track.ARRAYS})
    save_npz(people, arrays)
    arrays = {"track_ids": np.asarray(sorted(out), dtype=np.int64)}
    for tid, lm in out.items():
        arrays.update({f"{tid}/{k}": getattr(lm, k) for k in TrackLandmarks.ARRAYS})
    save_npz(landmarks, arrays)


def _load(people: Path, landmarks: Path) -> tuple[list[Track], np.ndarray, dict[int, TrackLandmarks]]:
    """What :func:`_save` wrote."""
    with np.load(people, allow_pickle=False) as npz:
        times = npz["frame_times_s"]
        tracks = [Track(int(t), *(npz[f"{t}/{k}"] for k in Track.ARRAYS)) for t in npz["track_ids"]]
    with np.load(landmarks, allow_pickle=False) as npz:
        out = {
            int(t): TrackLandmarks(int(t), *(npz[f"{t}/{k}"] for k in TrackLandmarks.ARRAYS)) for t in npz["track_ids"]
        }
    return tracks, times, out
