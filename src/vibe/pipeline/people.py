"""People in a video: the detector on a schedule, the tracker, smoothed square boxes.

The detector is :mod:`vibe.pipeline.detector` (BlazePose, every anchor, tiled
views), the tracker :mod:`vibe.pipeline.tracker` (ByteTrack-style); this
module runs them over a video and turns tracks into per-frame boxes.

Schedule. Detection is the demo's most expensive stage (3 detector views per
16:9 frame), so :class:`DetectionScheduleConfig` lets :func:`detect_and_track`
skip work: the detector runs on every ``stride``-th frame, and on every frame
while a track is unconfirmed or was missed at the last detector frame (a new
track needs a few consecutive detections for its Kalman velocity, without
which a 3-frame gap breaks it; a missed track is looked for at once). Frames
in between get no detection: the tracker's Kalman filters predict over the
gap, and :func:`smooth_square_boxes` fills their boxes by interpolation; the
video's last frame is always looked at, so tracks reach the end of the video. The
tile views are skipped while every live track is confirmed, was found at the
last detector frame and is large (box side ≥ ``large_side`` × the long side;
the letterboxed view alone finds people down to about 1/4 of the long side),
except once every ``full_scan_s`` seconds so newcomers are still found. On
the bundled clips (stride 3, ``large_side`` 0.45) the tracks and ids are those
of the every-frame, every-view detector; a track that ends inside the video
may end up to ``stride`` − 1 frames earlier (its last frames are not looked
at), and a newcomer is found up to ``stride`` − 1 frames (small ones:
``full_scan_s``) later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from vibe.geometry.crops import smooth_square_boxes
from vibe.pipeline.background import map_in_threads
from vibe.pipeline.detector import Detections, DetectorConfig, PersonDetector
from vibe.pipeline.tracker import PersonTracker, Track, TrackerConfig

__all__ = [
    "DetectionScheduleConfig",
    "scheduled_detections",
    "detect_and_track",
    "detect_and_track_ranges",
    "smooth_square_boxes",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectionScheduleConfig:
    """When the detector runs and on which views (see "Schedule" in the module docstring).

    ``stride``: the detector runs on every ``stride``-th frame (1: every
    frame), and on every frame while a live track has fewer than
    ``confirm_hits`` detections or was missed at the last detector frame,
    and — with ``every_frame_when_empty`` — while nobody is tracked, so that
    a person on screen for a single frame is looked at (the frames without
    anyone then cost ``stride`` times more detection).
    ``large_side``: when every live track is confirmed, was found at the last
    detector frame and has a box side of at least this fraction of the
    frame's long side, only the letterboxed full frame is run (no tiles),
    except on one detector frame every ``full_scan_s`` seconds, which looks
    at all views for newcomers; None: always all views.
    """

    stride: int = 1
    confirm_hits: int = 3
    large_side: float | None = None
    full_scan_s: float = 0.5
    every_frame_when_empty: bool = False

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")


def scheduled_detections(
    frames: Iterable[tuple[int, np.ndarray]],
    tracker: PersonTracker,
    detector_config: DetectorConfig,
    schedule: DetectionScheduleConfig,
) -> Iterator[tuple[int, Detections]]:
    """The detector over ``frames`` (``(frame_id, image_rgb (H, W, 3))``) on ``schedule``.

    ``tracker`` steers the schedule and is updated here with every detection;
    yields ``(frame_id, detections)`` of the frames the detector looked at.
    Streams: only the current frame (and the last skipped one) is held.
    """
    full_every = max(1, int(round(schedule.full_scan_s * tracker.fps)))
    last_full = None
    runs = views_full = 0
    skipped = None  # the last frame, while the detector has not looked at it
    with PersonDetector(detector_config) as det:
        for frame_id, image in frames:
            unsure = tracker.needs_every_frame(schedule.confirm_hits)
            # min_live_side is inf exactly when no track is live.
            unsure = unsure or (schedule.every_frame_when_empty and tracker.min_live_side() == float("inf"))
            if frame_id % schedule.stride and not unsure:
                skipped = (frame_id, image)
                continue
            skipped = None
            tiles = (
                schedule.large_side is None
                or unsure
                or last_full is None
                or frame_id - last_full >= full_every
                or tracker.min_live_side() < schedule.large_side * max(image.shape[:2])
            )
            if tiles:
                last_full = frame_id
                views_full += 1
            detections = det.detect(image, tiles=tiles)
            tracker.update(frame_id, detections)
            runs += 1
            yield frame_id, detections
        if skipped is not None:
            # Look at the last frame too, so tracks run to the end of the video.
            detections = det.detect(skipped[1], tiles=True)
            tracker.update(skipped[0], detections)
            runs += 1
            yield skipped[0], detections
    log.debug("detector ran on %d frames, %d of them with tiles", runs, views_full)


def detect_and_track(
    frames: Iterable[tuple[int, np.ndarray]],
    fps: float,
    detector_config: DetectorConfig | None = None,
    tracker_config: TrackerConfig | None = None,
    schedule: DetectionScheduleConfig | None = None,
) -> list[Track]:
    """Run the detector and tracker over ``frames``, an iterable of ``(frame_id, image_rgb (H, W, 3))``.

    Streams: only the current frame is held. By default the detector keeps
    scores down to the tracker's ``low_score`` so the second association
    stage has candidates, and runs on every frame with all its views;
    ``schedule`` skips frames and views. Returns the kept tracks, by id.
    """
    tracker_config = tracker_config or TrackerConfig()
    tracker = PersonTracker(fps, tracker_config)
    detector_config = detector_config or DetectorConfig(min_score=tracker_config.low_score)
    for _ in scheduled_detections(frames, tracker, detector_config, schedule or DetectionScheduleConfig()):
        pass
    return tracker.tracks()


def detect_and_track_ranges(
    ranges: Sequence[Callable[[], Iterable[tuple[float, np.ndarray]]]],
    fps: float,
    detector_config: DetectorConfig | None = None,
    tracker_config: TrackerConfig | None = None,
    schedule: DetectionScheduleConfig | None = None,
) -> tuple[list[Track], np.ndarray]:
    """:func:`detect_and_track` over consecutive ranges of one video, the ranges in parallel threads.

    Args:
        ranges: one callable per range, in video order; each returns an
            iterable of ``(timestamp_s, image_rgb (H, W, 3))`` over its range
            (e.g. :meth:`~vibe.pipeline.video.VideoReader.time_range`).

    Each range has its own detector, steered by its own tracker (MediaPipe
    graphs run outside the GIL, so the threads use separate cores); one
    tracker then replays every range's detections in video order, so
    identities run across the cuts. A range starts with nobody tracked,
    which makes its detector look at every frame until its people are
    confirmed: a few extra detector runs per cut.

    Returns:
        the kept tracks (frame ids count the frames of all ranges from 0) and
        ``frame_times_s (N,)``, every frame's timestamp.
    """
    tracker_config = tracker_config or TrackerConfig()
    detector_config = detector_config or DetectorConfig(min_score=tracker_config.low_score)
    schedule = schedule or DetectionScheduleConfig()

    def run(source: Callable[[], Iterable[tuple[float, np.ndarray]]]) -> tuple[list[float], list]:
        times: list[float] = []

        def frames() -> Iterator[tuple[int, np.ndarray]]:
            for k, (t, image) in enumerate(source()):
                times.append(t)
                yield k, image

        found = list(scheduled_detections(frames(), PersonTracker(fps, tracker_config), detector_config, schedule))
        return times, found

    parts = map_in_threads(run, ranges, "detect")
    tracker = PersonTracker(fps, tracker_config)
    offset = 0
    for times, found in parts:
        for k, detections in found:
            tracker.update(offset + k, detections)
        offset += len(times)
    return tracker.tracks(), np.asarray([t for times, _ in parts for t in times], dtype=np.float64)
