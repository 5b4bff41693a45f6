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
rows and landmarks; :func:`~vibe.pipeline.roi_stitch.stitch_ranges` joins
ranges decoded in parallel. In crowds, :mod:`vibe.pipeline.neighbours` keeps
a starting landmark model off the neighbours and re-finds small people lost,
and :mod:`vibe.pipeline.person_blobs` proposes, on far passes, people the
face-driven detector misses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vibe.geometry.crops import bbox_xyxy_to_cxcys
from vibe.pipeline.detector import (
    Detections,
    DetectorConfig,
    box_iou,
    detector_views,
    far_views,
)
from vibe.pipeline.graph_pool import GraphPool, shared_pool
from vibe.pipeline.landmarks import LandmarkConfig, PoseEstimator
from vibe.pipeline.neighbours import (
    bodies_outside,
    detect_in_views,
    grown,
    head_box,
    heads_to_hide,
    local_views,
)
from vibe.pipeline.person_blobs import with_proposals
from vibe.pipeline.person_boxes import shared_person_boxes
from vibe.pipeline.person_filter import (
    BodyPresenceConfig,
    body_frames,
    landmark_distance,
)
from vibe.pipeline.roi_stitch import FollowedRange, RangeTracks, stitch_ranges
from vibe.pipeline.tracker import PersonTracker, TrackerConfig

__all__ = [
    "PersonPose",
    "RangeTracks",
    "RoiFollower",
    "RoiTrackingConfig",
    "follow_people",
    "landmark_box",
    "stitch_ranges",
]

log = logging.getLogger(__name__)

_HIPS = (23, 24)  # BlazePose left_hip, right_hip
# Segmentation blobs shorter than this fraction of the short side are not sought (43 px at 720p;
# the crowd benchmark scores people from 60 px).
_BLOB_MIN_HEIGHT = 0.06


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
    starts no one small (landmark box narrower than a far tile) multiplies
    the wait for the next by ``far_growth``, up to ``far_max_every`` frames,
    and one that does resets it to ``tiles_every``: a scene where they find
    no one small (one person near the camera) pays for few of them (at
    30 fps: passes at 0, 4, 8, ... s with the defaults). ``roi_scale``: the landmark box's half-side
    over the body radius (the detector's 1.25). ``max_side``: a landmark box
    wider than this many frame long sides counts as lost (landmarks that
    blew up). ``overlap_s``: ranges decoded in parallel start this much
    earlier than their cut, so that a track crossing the cut is matched to
    itself on the shared frames (:func:`stitch_ranges`). ``same_body``: a
    track just started whose landmarks lie within this many torso lengths of
    someone already followed (mean of the 8 body landmarks,
    :func:`~vibe.pipeline.person_filter.landmark_distance`, the duplicate
    rule's 0.25) is that person seen twice, e.g. a far tile taking a torso
    for a small person: it is discarded. ``hide_others``: a landmark model
    that starts on someone (its first crop, or after it lost them) sees the
    other people's heads painted over (:mod:`~vibe.pipeline.neighbours`; the detections'
    face boxes), so that MediaPipe's own face-driven detector in the crop
    does not pick a neighbour. ``local_view``: while a small track (box
    narrower than a far tile) is lost, the passes for it also look at one
    square of this many times its box side around where it was, so a far
    person is re-found at once rather than at the next far pass.
    ``weak_score``: a far pass's detection scoring from this up to the
    tracker's ``new_track_score`` (small people score low) starts a track
    when the landmark model shows a body there (torso landmarks seen) that
    is no one already followed; None: never. ``blob_proposals``: a far pass
    also segments its small tiles (:mod:`~vibe.pipeline.person_blobs`, a
    person segmenter that does not start from a face) and takes each blob
    that is smaller than a far tile and overlaps no detection and no one
    followed as one more weak detection (needs ``weak_score``); off by
    default since the person detector below found everyone it found on the
    rendered crowds (``docs/results.md``) at about the same cost.
    ``box_proposals``: a far pass also asks a whole-body person detector
    (:mod:`~vibe.pipeline.person_boxes`, NanoDet) on the detector's views of
    this many tile levels (:func:`~vibe.pipeline.detector.detector_views`; 0:
    the letterboxed frame, 1: also squares of the short side), and takes
    each person box that no one followed or lost claims as one more weak
    detection, whatever its size (people seen from behind or above, whom
    the face-driven detector misses at any size, or starts on and loses;
    :func:`~vibe.pipeline.person_blobs.with_proposals`); None: never.
    ``hide_bodies``: a landmark model starting on such a proposal also sees
    the followed people's bodies outside the proposal's box painted over
    (:func:`~vibe.pipeline.neighbours.bodies_outside`).
    ``max_turn``, ``agree_s``: where the ranges decoded in parallel read one
    person with torsos more than ``max_turn`` degrees apart on their shared
    frames, the earlier range follows on until the two agree for ``agree_s``
    seconds (:mod:`~vibe.pipeline.roi_cuts`); None: never.
    """

    detect_every: int = 15
    tiles: bool = True
    tiles_every: int = 30
    far_tiles: float | None = 0.4
    far_max_every: int = 120
    far_growth: int = 4
    roi_scale: float = 1.25
    max_side: float = 2.0
    overlap_s: float = 0.4
    stitch_iou: float = 0.5
    same_body: float = 0.25
    hide_others: bool = True
    local_view: float | None = 2.5
    weak_score: float | None = 0.3
    blob_proposals: bool = False
    box_proposals: int | None = 0
    hide_bodies: bool = True
    max_turn: float | None = 120.0
    agree_s: float = 0.5

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
        self._far_reach = 0.0  # far tiles' side on this video's frames (pixels): people narrower are small
        self._proposals: dict[int, np.ndarray] = {}  # this far pass's weak rows → their person box or blob
        self.detector_frames = 0

    def __enter__(self) -> RoiFollower:
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
        followed = {
            tid: (p.bbox_xyxy, float(np.mean(p.landmarks_img[:, 2])), grown(head_box(p.landmarks_img), 1.5))
            for tid, p in found.items()
        }  # fmt: skip
        detections, far = self._detect(frame_id, image_rgb, found)
        live_before = set(self.tracker.live_ids())
        assigned = self.tracker.update(frame_id, detections, followed)
        weak = self._weak(detections, assigned, followed) if far else []
        assigned |= {d: self.tracker.start(frame_id, detections, d) for d in weak}
        self._start_models(image_rgb, detections, assigned, set(weak), found, live_before)
        if far:  # person boxes and blobs where no one is found yet, once the detections' people are
            people = self._person_boxes(image_rgb)
            detections, proposed = self._with_proposals(image_rgb, detections, found, people)
            from_proposals = {d: self.tracker.start(frame_id, detections, d) for d in proposed}
            self._start_models(image_rgb, detections, from_proposals, set(proposed), found, live_before)
            self._proposals = {}  # rows of this frame's detections only
            new = [t for t in [*assigned.values(), *from_proposals.values()] if t in found and t not in live_before]
            self._after_far_pass([found[t] for t in new], len(people) > len(found))
        live = set(self.tracker.live_ids())
        for tid in [t for t in self._poses if t not in live]:
            self._graphs.give_back(self._poses.pop(tid))
        self._rois = {tid: p.bbox_xyxy for tid, p in found.items() if tid in live}
        return found

    def _start_models(
        self, image_rgb: np.ndarray, detections: Detections, assigned: dict[int, int], weak: set[int],
        found: dict[int, PersonPose], live_before: set[int],
    ) -> None:  # fmt: skip
        """Start the landmark models of tracks started or re-found from detection rows (``assigned``: row → id).

        Adds those that show a pose to ``found``. A ``weak`` row needs a body
        that is no one followed (:meth:`_weak_is_someone`); a track on someone
        already followed (:meth:`_same_body`) or without a pose is discarded
        when it is new.
        """
        for d, tid in assigned.items():
            hide = heads_to_hide([p.landmarks_img for p in found.values()], detections.face_xyxy, d)
            if d in self._proposals and self.config.hide_bodies:  # someone's whole box: others' bodies beside it too
                others = bodies_outside([p.landmarks_img for p in found.values()], self._proposals[d])
                hide = np.concatenate([hide, others])
            pose = self._estimate(tid, image_rgb, detections.bbox_xyxy[d], hide)
            if pose is None and d not in weak:
                continue
            # A weak detection needs a body; a part of someone followed (a tile took it for a
            # person, or the landmark model locked onto them) is that someone.
            bad_weak = d in weak and not self._weak_is_someone(pose, detections.bbox_xyxy[d], found.values())
            if pose is None or bad_weak or self._same_body(pose, found.values()):
                if tid not in live_before:
                    self.tracker.discard(tid)
                continue
            found[tid] = pose

    def _weak(self, detections: Detections, assigned: dict[int, int], followed: dict) -> list[int]:
        """Small detections of a far pass, too weak to start a track (``weak_score`` up to the tracker's), no one's."""
        cfg = self.config
        if cfg.weak_score is None:
            return []
        free = set(self.tracker.unfollowed(detections, followed).tolist()) - set(assigned)
        strong, side = self.tracker.config.new_track_score, detections.bbox_xyxy[:, 2] - detections.bbox_xyxy[:, 0]
        small = side < self._far_reach
        return [d for d in sorted(free) if cfg.weak_score <= detections.score[d] < strong and small[d]]

    def _with_proposals(
        self, image_rgb: np.ndarray, detections: Detections, found: dict[int, PersonPose], people: np.ndarray
    ) -> tuple[Detections, list[int]]:
        """``detections`` with the far pass's proposals added as weak rows, and those rows' indices
        (:func:`~vibe.pipeline.person_blobs.with_proposals`: the person detector's boxes ``people (k, 4)``,
        :meth:`_person_boxes`, and the small tiles' segmentation blobs, :meth:`_blobs`)."""
        cfg = self.config
        if cfg.weak_score is None or cfg.far_tiles is None:
            return detections, []
        merged, self._proposals = with_proposals(
            detections, people, self._blobs(image_rgb), [p.landmarks_img for p in found.values()],
            self._lost_boxes(found), cfg.weak_score, cfg.roi_scale, self._far_reach,
        )  # fmt: skip
        return merged, sorted(self._proposals)

    def _blobs(self, image_rgb: np.ndarray) -> np.ndarray:
        """The small far tiles' segmentation blobs ``(k, 4)`` (``blob_proposals``; none when off)."""
        cfg = self.config
        if not cfg.blob_proposals:
            return np.zeros((0, 4))
        h, w = image_rgb.shape[:2]
        tiles = far_views(h, w, cfg.far_tiles)[len(detector_views(h, w, 1)) :]  # the small tiles only
        segmenter = self._graphs.segmenter()  # held for this pass only: far passes are rare
        boxes = segmenter.blobs(image_rgb, tiles, _BLOB_MIN_HEIGHT * min(h, w))
        self._graphs.give_back(segmenter)
        return boxes

    def _person_boxes(self, image_rgb: np.ndarray) -> np.ndarray:
        """The person detector's boxes ``(k, 4)`` on the detector's views of ``box_proposals`` tile levels."""
        levels = self.config.box_proposals
        if levels is None:
            return np.zeros((0, 4))
        return shared_person_boxes().detect(image_rgb, detector_views(*image_rgb.shape[:2], levels))[0]

    def _weak_is_someone(self, pose: PersonPose | None, detection_xyxy: np.ndarray, others: Iterable[PersonPose]) -> bool:
        """Whether a weak detection's landmarks are a new person: a body (torso landmarks seen, the person
        rule's per-frame test) where the detection is (box IoU ≥ 0.3), not inside someone followed (IoU < 0.5)."""
        if pose is None or not body_frames(pose.landmarks_img[None], np.ones(1, bool), BodyPresenceConfig())[0]:
            return False
        if box_iou(pose.bbox_xyxy[None], np.asarray(detection_xyxy, np.float64)[None])[0, 0] < 0.3:
            return False
        boxes = np.array([o.bbox_xyxy for o in others]).reshape(-1, 4)
        return not len(boxes) or box_iou(pose.bbox_xyxy[None], boxes).max() < 0.5

    def _detect(self, frame_id: int, image_rgb: np.ndarray, found: dict[int, PersonPose]) -> tuple[Detections, bool]:
        """The detector pass of this frame, if one is due; the detections and whether it was a far pass."""
        tiles = self.detection_due(frame_id, found)
        self._far_reach = (self.config.far_tiles or 0.0) * min(image_rgb.shape[:2])
        if tiles is None:
            return Detections.empty(), False
        detections = self._detector.detect(image_rgb, tiles=tiles)
        if not isinstance(tiles, float):  # a far pass already looks at small people everywhere
            views = self._local_views(image_rgb.shape[:2], found)
            detections = detect_in_views(self._detector, image_rgb, views, detections) if views else detections
        self.detector_frames += 1
        self._last_detection = frame_id
        far = isinstance(tiles, float)  # far views include the tiles' (level 1)
        self._last_tiled = frame_id if tiles is not False else self._last_tiled
        self._last_far = frame_id if far else self._last_far
        return detections, far

    def _local_views(self, shape: tuple[int, int], found: dict[int, PersonPose]) -> list[tuple[int, int, int]]:
        """Squares ``(x0, y0, side)`` around the live tracks not found on this frame that are small (``local_view``)."""
        cfg = self.config
        if cfg.local_view is None or cfg.far_tiles is None:
            return []
        lost = self._lost_boxes(found)
        return local_views([b for b in lost if 0 < b[2] - b[0] < self._far_reach], shape, cfg.local_view)

    def _lost_boxes(self, found: dict[int, PersonPose]) -> np.ndarray:
        """Predicted boxes ``(q, 4)`` of the live tracks not found on this frame."""
        lost = [self.tracker.predicted_box(t) for t in self.tracker.live_ids() if t not in found]
        return np.asarray(lost, np.float64).reshape(-1, 4)

    def _after_far_pass(self, started: list[PersonPose], unfound: bool) -> None:
        """The wait for the next far pass: reset when this one started someone small or left someone
        ``unfound`` (the person detector saw more people than are followed), else grown ``far_growth``-fold.

        Small: a landmark box narrower than the far tiles (someone the other
        views could miss); a big person found by a far pass does not count.
        Someone unfound is often someone half hidden behind a nearer person,
        who will step out: the next pass looks again soon.
        """
        cfg = self.config
        small = any(p.bbox_xyxy[2] - p.bbox_xyxy[0] < self._far_reach for p in started)
        again = small or unfound
        self._far_wait = cfg.tiles_every if again else min(cfg.far_growth * self._far_wait, cfg.far_max_every)

    def _same_body(self, pose: PersonPose, others: Iterable[PersonPose]) -> bool:
        """Whether ``pose``'s body landmarks lie within ``same_body`` torso lengths of another's."""
        return any(
            landmark_distance(o.landmarks_img[None], pose.landmarks_img[None])[0] <= self.config.same_body
            for o in others
        )

    def _estimate(
        self, track_id: int, image_rgb: np.ndarray, roi_xyxy: np.ndarray, hide_xyxy: np.ndarray | None = None
    ) -> PersonPose | None:
        """The track's landmark model on the crop around ``roi_xyxy (4,)``; None when no pose (or a runaway box).

        ``hide_xyxy (k, 4)``: other people's heads, painted over when the model starts on someone (``hide_others``).
        """
        if track_id not in self._poses:
            self._poses[track_id] = self._graphs.pose(self._landmark_config)
        graph = self._poses[track_id]
        hide = hide_xyxy if self.config.hide_others and not graph.following else None
        result = graph.estimate(image_rgb, bbox_xyxy_to_cxcys(np.asarray(roi_xyxy, np.float64)), hide)
        if result is None:
            return None
        box = landmark_box(result[0], self.config.roi_scale)
        if not np.all(np.isfinite(box)) or box[2] - box[0] > self.config.max_side * max(image_rgb.shape[:2]):
            return None
        return PersonPose(result[0], result[1], box)


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
    with RoiFollower(fps, config, detector_config, tracker_config, landmark_config, graphs=graphs) as follower:
        return FollowedRange(follower).feed(frames).result()
