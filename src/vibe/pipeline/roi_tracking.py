"""People followed by the landmark model's own region tracking; the detector only on a schedule.

MediaPipe's pose pipeline runs its person detector once, then takes the
region of interest (ROI) of frame t + 1 from the landmarks of frame t, and
goes back to the detector only when the landmarks are lost. This module does
the same for several people: each track has its own
:class:`~vibe.pipeline.landmarks.PoseEstimator` whose crop for frame t + 1 is
:func:`landmark_box` of its landmarks at frame t, and the detector
(:class:`~vibe.pipeline.detector.PersonDetector`, any object with its
``detect(image, tiles)``) runs only

- every ``detect_every``-th frame, for people coming in (the letterboxed
  frame only, with tiles once every ``tiles_every`` frames and finer ones
  for small and far people at most that often, :class:`RoiTrackingConfig`);
- on every frame where a live track's landmarks are not found (a track just
  started, or lost: it is looked for on that very frame);
- on every frame while nobody is tracked (a person on screen for one frame
  is found).

The tracker (:class:`~vibe.pipeline.tracker.PersonTracker`) keeps the
identities: followed tracks take their landmark box directly (no
association, so two people crossing keep the ids their landmark models
follow), detections overlapping a followed box are that person, the others
are associated ByteTrack-style with the tracks not followed (a lost track is
re-found under its id) or start new tracks.

The landmark box is the detector's box definition (MediaPipe's pose ROI): a
square centred on the mid-hip whose half-side is ``roi_scale`` × the largest
distance of a landmark from the mid-hip, i.e. the detector's body circle
measured on the landmarks (the synthetic training boxes are built the same
way, see :mod:`vibe.data.synthetic`), so the per-frame boxes the demo
smooths for the encoder keep their distribution.

The detector is pluggable (``RoiFollower(detector=...)``): a stronger or
more finely tiled one costs only on the scheduled frames (e.g. BlazePose's
with two tile levels, ~300 ms a 16:9 frame, every 15 frames: ~20 ms a frame).

:class:`RoiFollower` is the per-frame step (also what ``vibe live`` runs);
:func:`follow_people` runs it over a range of frames and keeps every track's
rows and landmarks; :func:`stitch_ranges` joins ranges decoded in parallel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from vibe.geometry.crops import bbox_xyxy_to_cxcys
from vibe.pipeline.detector import Detections, DetectorConfig, box_iou
from vibe.pipeline.graph_pool import GraphPool, shared_pool
from vibe.pipeline.landmarks import NUM_LANDMARKS, LandmarkConfig, PoseEstimator, TrackLandmarks
from vibe.pipeline.person_filter import landmark_distance
from vibe.pipeline.tracker import PersonTracker, Track, TrackerConfig

__all__ = [
    "RoiTrackingConfig",
    "PersonPose",
    "landmark_box",
    "RoiFollower",
    "RangeTracks",
    "follow_people",
    "stitch_ranges",
]

log = logging.getLogger(__name__)

_HIPS = (23, 24)  # BlazePose left_hip, right_hip


@dataclass(frozen=True)
class RoiTrackingConfig:
    """When the detector runs while the landmark model follows people (module docstring).

    ``detect_every``: a detector frame every this many frames, for newcomers
    (a person walking in is found within ``detect_every`` − 1 frames).
    ``tiles``: detector frames may look at the detector's tiles
    (:class:`~vibe.pipeline.detector.DetectorConfig` ``tile_levels``), not
    only the letterboxed frame; ``tiles_every``: the periodic ones do so
    once every this many frames (the letterboxed view costs a third of the
    three views of a 16:9 frame but finds only people taller than about 0.4
    of its long side, less well beside someone else), the others (someone
    lost, nobody tracked) always. So a newcomer is found within
    ``detect_every`` frames when tall in the frame, within ``tiles_every``
    frames otherwise. ``far_tiles``: the pass once every ``tiles_every``
    frames also looks at tiles of this fraction of the frame's short side
    (:func:`~vibe.pipeline.detector.far_views`; 0.4 on a 720p frame: 21 views,
    down to 288 px squares, for people down to about 80 px tall,
    ``docs/results.md``), the other passes for someone lost or nobody
    tracked, which can come on many frames in a row, at the detector's own
    ``tile_levels``; None: the detector's own everywhere. A far pass that
    starts no one small (landmark box narrower than a far tile) doubles the
    wait for the next, up to ``far_max_every`` frames, and one that does
    resets it to ``tiles_every``: a scene where they find no one small (one
    person near the camera) pays for few of them. ``roi_scale``: the landmark box's half-side
    over the body radius (the detector's 1.25). ``max_side``: a landmark box
    wider than this many frame long sides counts as lost (landmarks that
    blew up). ``overlap_s``: ranges decoded in parallel start this much
    earlier than their cut, so that a track crossing the cut is matched to
    itself on the shared frames (:func:`stitch_ranges`). ``same_body``: a
    track just started whose landmarks lie within this many torso lengths of
    someone already followed (mean of the 8 body landmarks,
    :func:`~vibe.pipeline.person_filter.landmark_distance`, the duplicate
    rule's 0.25) is that person seen twice, e.g. a far tile taking a torso
    for a small person: it is discarded.
    """

    detect_every: int = 15
    tiles: bool = True
    tiles_every: int = 30
    far_tiles: float | None = 0.4
    far_max_every: int = 120
    roi_scale: float = 1.25
    max_side: float = 2.0
    overlap_s: float = 0.4
    stitch_iou: float = 0.5
    same_body: float = 0.25

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")


@dataclass
class PersonPose:
    """One followed person at one frame.

    Attributes:
        landmarks_img: ``(33, 3)`` x, y image pixels and visibility.
        world: ``(33, 3)`` MediaPipe's metric landmarks (metres, hip-centred).
        bbox_xyxy: ``(4,)`` the landmark box (:func:`landmark_box`), pixels.
    """

    landmarks_img: np.ndarray
    world: np.ndarray
    bbox_xyxy: np.ndarray


def landmark_box(landmarks_img: np.ndarray, roi_scale: float = 1.25) -> np.ndarray:
    """Square ROI ``bbox_xyxy (4,)`` from landmarks ``(33, 3)`` (x, y pixels, visibility).

    Centre: the mid-hip; half-side: ``roi_scale`` × the largest distance of
    any landmark from it (every landmark: MediaPipe also places the ones it
    does not see).
    """
    xy = np.asarray(landmarks_img, dtype=np.float64)[:, :2]
    mid_hip = xy[list(_HIPS)].mean(axis=0)
    half = roi_scale * float(np.linalg.norm(xy - mid_hip, axis=1).max())
    return np.concatenate([mid_hip - half, mid_hip + half])


class RoiFollower:
    """The detector on a schedule plus one landmark model per track following its ROI.

    Call :meth:`step` once per frame in order, then :meth:`close` (or use it
    as a context manager). ``detector``: anything with
    ``detect(image_rgb, tiles) -> Detections`` (default: a
    :class:`~vibe.pipeline.detector.PersonDetector` of ``detector_config``),
    so a stronger or more finely tiled detector can run on the same schedule.
    ``graphs``: where the default detector and the landmark models come from
    and go back to (default: the process's :func:`~vibe.pipeline.graph_pool.shared_pool`,
    so later tracks and videos skip their start-up).
    """

    def __init__(
        self,
        fps: float,
        config: RoiTrackingConfig | None = None,
        detector_config: DetectorConfig | None = None,
        tracker_config: TrackerConfig | None = None,
        landmark_config: LandmarkConfig | None = None,
        detector=None,
        graphs: GraphPool | None = None,
    ):
        self.config = config or RoiTrackingConfig()
        self.tracker = PersonTracker(fps, tracker_config)
        self._landmark_config = landmark_config or LandmarkConfig()
        detector_config = detector_config or DetectorConfig(min_score=self.tracker.config.low_score)
        self._graphs = graphs or shared_pool()
        self._own_detector = detector is None
        self._detector = self._graphs.detector(detector_config) if detector is None else detector
        self._poses: dict[int, PoseEstimator] = {}
        self._rois: dict[int, np.ndarray] = {}  # track id → bbox_xyxy for the next frame
        self._last_detection: int | None = None  # frame id of the last detector pass
        self._last_tiled: int | None = None  # ... and of the last one with tiles
        self._last_far: int | None = None  # ... and of the last one with far tiles
        self._far_wait = self.config.tiles_every  # frames from one far pass to the next
        self.detector_frames = 0

    def __enter__(self) -> "RoiFollower":
        return self

    def __exit__(self, *exc) -> None:
        self.close(reuse=exc[0] is None)

    def close(self, reuse: bool = True) -> None:
        """Hand the graphs back to the pool (``reuse``) or close them (after an error they may be broken)."""
        graphs = list(self._poses.values()) + ([self._detector] if self._own_detector else [])
        self._poses.clear()
        self._own_detector = False  # handed back once, even when closed twice
        for graph in graphs:
            if reuse:
                self._graphs.give_back(graph)
            else:
                graph.close()

    def detection_due(self, frame_id: int, followed: Iterable[int]) -> bool | float | None:
        """Whether frame ``frame_id`` gets a detector pass and with tiles: None (no pass), False, True, or a float.

        A pass is due when nobody is tracked, when a live track is not in
        ``followed`` (the ids whose landmarks were found on this frame), or
        every ``detect_every`` frames; only the periodic passes skip the tiles,
        but for one every ``tiles_every`` frames. A pass looks at the far tiles
        (``far_tiles``, the float) once the far passes' wait is over
        (``tiles_every`` frames, longer after far passes that found no one).
        Frame ids count, so a live source's dropped frames count as passed time.
        """
        cfg = self.config
        far_due = cfg.tiles and cfg.far_tiles is not None and (
            self._last_far is None or frame_id - self._last_far >= self._far_wait
        )
        live = self.tracker.live_ids()
        if not live or set(live) - set(followed):  # an empty scene of far people gets its far passes too
            return float(cfg.far_tiles) if far_due else cfg.tiles
        if self._last_detection is not None and frame_id - self._last_detection < cfg.detect_every:
            return None
        if far_due:
            return float(cfg.far_tiles)
        return cfg.tiles and (self._last_tiled is None or frame_id - self._last_tiled >= cfg.tiles_every)

    def step(self, frame_id: int, image_rgb: np.ndarray) -> dict[int, PersonPose]:
        """Follow everyone to frame ``frame_id`` (``image_rgb (H, W, 3)`` uint8); track id → pose found."""
        found = {tid: pose for tid, roi in self._rois.items() if (pose := self._estimate(tid, image_rgb, roi))}
        followed = {tid: (p.bbox_xyxy, float(np.mean(p.landmarks_img[:, 2]))) for tid, p in found.items()}
        detections, far = self._detect(frame_id, image_rgb, found)
        live_before = set(self.tracker.live_ids())
        assigned = self.tracker.update(frame_id, detections, followed)
        for d, tid in assigned.items():  # started or re-found: the landmark model starts from the detection
            if (pose := self._estimate(tid, image_rgb, detections.bbox_xyxy[d])) is None:
                continue
            if self._same_body(pose, found.values()):  # a part of someone followed, seen as a person by a tile
                if tid not in live_before:
                    self.tracker.discard(tid)
                continue
            found[tid] = pose
        if far:
            started = [found[t] for t in assigned.values() if t in found and t not in live_before]
            self._after_far_pass(started, image_rgb)
        live = set(self.tracker.live_ids())
        for tid in [t for t in self._poses if t not in live]:
            self._graphs.give_back(self._poses.pop(tid))
        self._rois = {tid: p.bbox_xyxy for tid, p in found.items() if tid in live}
        return found

    def _detect(self, frame_id: int, image_rgb: np.ndarray, found: dict[int, PersonPose]) -> tuple[Detections, bool]:
        """The detector pass of this frame, if one is due; the detections and whether it was a far pass."""
        tiles = self.detection_due(frame_id, found)
        if tiles is None:
            return Detections.empty(), False
        detections = self._detector.detect(image_rgb, tiles=tiles)
        self.detector_frames += 1
        self._last_detection = frame_id
        far = isinstance(tiles, float)  # far views include the tiles' (level 1)
        self._last_tiled = frame_id if tiles is not False else self._last_tiled
        self._last_far = frame_id if far else self._last_far
        return detections, far

    def _after_far_pass(self, started: list[PersonPose], image_rgb: np.ndarray) -> None:
        """The wait for the next far pass: reset when this one started someone small, else doubled.

        Small: a landmark box narrower than the far tiles (someone the other
        views could miss); a big person found by a far pass does not count.
        """
        cfg = self.config
        reach = cfg.far_tiles * min(image_rgb.shape[:2])
        small = any(p.bbox_xyxy[2] - p.bbox_xyxy[0] < reach for p in started)
        self._far_wait = cfg.tiles_every if small else min(2 * self._far_wait, cfg.far_max_every)

    def _same_body(self, pose: PersonPose, others: Iterable[PersonPose]) -> bool:
        """Whether ``pose``'s body landmarks lie within ``same_body`` torso lengths of another's."""
        return any(
            landmark_distance(o.landmarks_img[None], pose.landmarks_img[None])[0] <= self.config.same_body
            for o in others
        )

    def _estimate(self, track_id: int, image_rgb: np.ndarray, roi_xyxy: np.ndarray) -> PersonPose | None:
        """The track's landmark model on the crop around ``roi_xyxy (4,)``; None when no pose (or a runaway box)."""
        if track_id not in self._poses:
            self._poses[track_id] = self._graphs.pose(self._landmark_config)
        result = self._poses[track_id].estimate(image_rgb, bbox_xyxy_to_cxcys(np.asarray(roi_xyxy, np.float64)))
        if result is None:
            return None
        box = landmark_box(result[0], self.config.roi_scale)
        if not np.all(np.isfinite(box)) or box[2] - box[0] > self.config.max_side * max(image_rgb.shape[:2]):
            return None
        return PersonPose(result[0], result[1], box)


@dataclass
class RangeTracks:
    """What :func:`follow_people` saw over one range of frames (ids local to the range).

    Attributes:
        times_s: ``(N,)`` the range's frame timestamps, in decoding order.
        tracks: the tracker's tracks (rows: landmark boxes where followed,
            detection boxes where (re)started).
        poses: track id → ``(frame_ids (m,), landmarks_img (m, 33, 3), world (m, 33, 3))``.
        detector_frames: how many frames the detector looked at.
    """

    times_s: np.ndarray
    tracks: list[Track]
    poses: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    detector_frames: int = 0


def follow_people(
    frames: Iterable[tuple[float, np.ndarray]],
    fps: float,
    config: RoiTrackingConfig | None = None,
    detector_config: DetectorConfig | None = None,
    tracker_config: TrackerConfig | None = None,
    landmark_config: LandmarkConfig | None = None,
    graphs: GraphPool | None = None,
) -> RangeTracks:
    """:class:`RoiFollower` over ``frames`` (``(timestamp_s, image_rgb)``, numbered from 0); streams.

    Memory: the per-track rows and landmarks (~1 KB per person-frame), never a frame.
    ``graphs``: the MediaPipe graphs' pool (default: the process's).
    """
    times: list[float] = []
    poses: dict[int, list[tuple[int, PersonPose]]] = {}
    with RoiFollower(fps, config, detector_config, tracker_config, landmark_config, graphs=graphs) as follower:
        for frame_id, (t, image) in enumerate(frames):
            times.append(t)
            for tid, pose in follower.step(frame_id, image).items():
                poses.setdefault(tid, []).append((frame_id, pose))
        tracks = follower.tracker.tracks()
        detector_frames = follower.detector_frames
    log.debug("detector ran on %d of %d frames", detector_frames, len(times))
    arrays = {
        tid: (
            np.array([f for f, _ in rows], dtype=np.int64),
            np.stack([p.landmarks_img for _, p in rows]),
            np.stack([p.world for _, p in rows]),
        )
        for tid, rows in poses.items()
    }
    return RangeTracks(np.asarray(times, dtype=np.float64), tracks, arrays, detector_frames)


def _mean_overlap(a: Track, b: Track) -> float:
    """Mean IoU of two tracks' boxes over their shared frames (0 when none)."""
    _, ia, ib = np.intersect1d(a.frame_ids, b.frame_ids, return_indices=True)
    if not ia.size:
        return 0.0
    return float(np.mean([box_iou(a.bbox_xyxy[i : i + 1], b.bbox_xyxy[j : j + 1])[0, 0] for i, j in zip(ia, ib)]))


def _shift(part: RangeTracks, offset: int) -> RangeTracks:
    """``part`` with its frame ids moved by ``offset`` (to the whole video's numbering)."""
    tracks = [Track(t.track_id, t.frame_ids + offset, t.bbox_xyxy, t.score, t.keypoints_img) for t in part.tracks]
    poses = {tid: (f + offset, lm, w) for tid, (f, lm, w) in part.poses.items()}
    return RangeTracks(part.times_s, tracks, poses, part.detector_frames)


def _from_frame(track: Track, first: int) -> Track | None:
    """The rows of ``track`` at frames ≥ ``first`` (None when there are none)."""
    keep = track.frame_ids >= first
    if not keep.any():
        return None
    return Track(track.track_id, *(getattr(track, k)[keep] for k in Track.ARRAYS))


def stitch_ranges(
    parts: list[RangeTracks], starts_s: list[float | None], stitch_iou: float = 0.5
) -> tuple[list[Track], dict[int, TrackLandmarks], np.ndarray]:
    """Join ranges decoded in parallel into whole-video tracks and landmarks.

    Args:
        parts: one :class:`RangeTracks` per range, in video order; range k > 0
            was decoded from a little before its start, so its first frames
            repeat the end of range k − 1.
        starts_s: each range's own start time (None for the first): frames
            of range k earlier than it belong to range k − 1.
        stitch_iou: a track of range k whose boxes overlap a track of range
            k − 1 on their shared frames by this mean IoU continues it.

    Returns:
        tracks by id, landmarks by track id (every frame from the track's
        first to its last row; NaN and ``found`` False where no pose), and
        ``frame_times_s (N,)`` of the whole video.
    """
    merged: dict[int, Track] = {}
    poses: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    times: list[np.ndarray] = []
    offset, next_id, previous = 0, 1, {}  # previous: local id of range k-1 → global id
    for part, start in zip(parts, starts_s):
        repeated = 0 if start is None else int(np.sum(part.times_s < start - 1e-6))
        part = _shift(part, offset - repeated)
        ids = _match_ids(part, merged, previous, stitch_iou)
        current = {}
        for track in part.tracks:
            own = _from_frame(track, offset)
            gid = ids.get(track.track_id)
            if gid is None:
                if own is None:
                    continue
                gid, next_id = next_id, next_id + 1
            current[track.track_id] = gid
            if own is not None:
                merged[gid] = _append(merged.get(gid), gid, own)
                if track.track_id in part.poses:
                    poses[gid] = _append_poses(poses.get(gid), part.poses[track.track_id], offset)
        previous = current
        times.append(part.times_s[repeated:])
        offset += len(part.times_s) - repeated
    tracks = [merged[g] for g in sorted(merged)]
    return tracks, {t.track_id: _dense_landmarks(t, poses.get(t.track_id)) for t in tracks}, np.concatenate(times)


def _match_ids(part: RangeTracks, merged: dict[int, Track], previous: dict[int, int], min_iou: float) -> dict[int, int]:
    """Local id of ``part`` → global id of the range before, for tracks continuing across the cut."""
    ids: dict[int, int] = {}
    candidates = [merged[g] for g in previous.values() if g in merged]
    for track in part.tracks:
        scores = [(_mean_overlap(track, other), other.track_id) for other in candidates]
        best = max(scores, default=(0.0, None))
        if best[0] >= min_iou and best[1] not in ids.values():
            ids[track.track_id] = best[1]
    return ids


def _append(track: Track | None, gid: int, more: Track) -> Track:
    """``track``'s rows followed by ``more``'s, under id ``gid``."""
    if track is None:
        return Track(gid, more.frame_ids, more.bbox_xyxy, more.score, more.keypoints_img)
    return Track(gid, *(np.concatenate([getattr(track, k), getattr(more, k)]) for k in Track.ARRAYS))


def _append_poses(have, more, first: int):
    """Pose rows ``(frame_ids, landmarks_img, world)`` of ``have`` plus those of ``more`` at frames ≥ ``first``."""
    keep = more[0] >= first
    more = tuple(a[keep] for a in more)
    return more if have is None else tuple(np.concatenate([a, b]) for a, b in zip(have, more))


def _dense_landmarks(track: Track, rows) -> TrackLandmarks:
    """A track's landmarks on every frame from its first to its last row (NaN, not found, elsewhere)."""
    frame_ids = np.arange(int(track.frame_ids[0]), int(track.frame_ids[-1]) + 1)
    n = frame_ids.size
    out = TrackLandmarks(
        track.track_id, frame_ids, np.full((n, NUM_LANDMARKS, 3), np.nan), np.full((n, NUM_LANDMARKS, 3), np.nan),
        np.zeros(n, dtype=bool),
    )  # fmt: skip
    out.landmarks_img[..., 2] = 0.0
    if rows is not None:
        k = rows[0] - frame_ids[0]
        inside = (k >= 0) & (k < n)
        out.landmarks_img[k[inside]], out.world[k[inside]] = rows[1][inside], rows[2][inside]
        out.found[k[inside]] = True
    return out
