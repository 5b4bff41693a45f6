"""Person tracking over detections: identities kept through short occlusions.

Tracking is ByteTrack-style (two-stage IoU association of high- then
low-score detections to constant-velocity Kalman tracks), written here because
``supervision`` 0.31 no longer ships ``ByteTrack``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from vibe.geometry.crops import bbox_xyxy_to_cxcys
from vibe.pipeline.detector import Detections, box_iou

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerConfig:
    """Options of :class:`PersonTracker` (ByteTrack-style).

    Detections scoring ≥ ``high_score`` are associated first (with every live
    track, lost ones included, IoU ≥ ``match_iou_high``); those in
    [``low_score``, ``high_score``) only extend tracks seen in the previous
    frame (IoU ≥ ``match_iou_low``), which carries a person through blur and
    partial occlusion without starting tracks on weak false positives. Only a
    detection ≥ ``new_track_score`` starts a track. A track unseen for
    ``max_lost_s`` seconds ends. Tracks with fewer than ``min_track_s`` × fps
    detected frames are dropped (the original demo drops tracks shorter than
    25 frames at 25–30 fps; 25/30 s keeps that rule at other frame rates).
    A detection overlapping a followed track's box (see :meth:`PersonTracker.update`)
    by IoU ≥ ``followed_iou`` is that person.
    """

    high_score: float = 0.6
    low_score: float = 0.3
    new_track_score: float = 0.7
    match_iou_high: float = 0.2
    match_iou_low: float = 0.5
    max_lost_s: float = 1.0
    min_track_s: float = 25.0 / 30.0
    followed_iou: float = 0.3


@dataclass
class Track:
    """One person over time (n frames where the detector found them).

    Attributes:
        track_id: identity, unique within one tracker run.
        frame_ids: ``(n,)`` increasing frame indices.
        bbox_xyxy: ``(n, 4)`` detected square body boxes, pixels.
        score: ``(n,)`` detector scores.
        keypoints_img: ``(n, 4, 2)`` detector keypoints (see :class:`Detections`).
    """

    track_id: int
    frame_ids: np.ndarray
    bbox_xyxy: np.ndarray
    score: np.ndarray
    keypoints_img: np.ndarray

    ARRAYS: ClassVar[tuple[str, ...]] = ("frame_ids", "bbox_xyxy", "score", "keypoints_img")  # per-frame fields, in order


class _SquareKalman:
    """Constant-velocity Kalman filter on a square box state (cx, cy, side, and their rates).

    Noise scales with the box side, as in SORT/ByteTrack, so one setting works
    for near and far people.
    """

    _POS_STD = 1.0 / 20.0
    _VEL_STD = 1.0 / 160.0

    def __init__(self, cxcys: np.ndarray):
        self.x = np.concatenate([cxcys, np.zeros(3)])
        side = cxcys[2]
        self.P = np.diag(np.r_[np.full(3, 2 * self._POS_STD * side), np.full(3, 10 * self._VEL_STD * side)] ** 2)
        self.F = np.eye(6)
        self.F[:3, 3:] = np.eye(3)
        self.H = np.eye(3, 6)

    def predict(self) -> None:
        side = max(self.x[2], 1.0)
        q = np.r_[np.full(3, self._POS_STD * side), np.full(3, self._VEL_STD * side)] ** 2
        self.x = self.F @ self.x
        self.P = self.F @ self.P @ self.F.T + np.diag(q)

    def update(self, cxcys: np.ndarray) -> None:
        r = np.full(3, (self._POS_STD * max(self.x[2], 1.0)) ** 2)
        # F, Q, H and the first P act on each coordinate and its own rate only, so P never couples two
        # coordinates and S = H P Hᵀ + R is diagonal: K = P Hᵀ S⁻¹ in closed form, the same numbers as
        # np.linalg.inv gives. (That 3×3 inverse took 2 ms a call in the demo's range threads, 0.05 ms with
        # OPENBLAS_NUM_THREADS=1: OpenBLAS waits on its own threads while MediaPipe keeps the cores busy.)
        s_diag = np.diagonal(self.P)[:3] + r
        k = self.P[:, :3] * (1.0 / s_diag)
        self.x = self.x + k @ (cxcys - self.H @ self.x)
        self.P = (np.eye(6) - k @ self.H) @ self.P

    def bbox_xyxy(self) -> np.ndarray:
        cx, cy, side = self.x[:3]
        return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


@dataclass
class _LiveTrack:
    track_id: int
    kalman: _SquareKalman
    last_frame: int
    rows: list = field(default_factory=list)  # (frame_id, bbox_xyxy, score, keypoints)
    # Frames this track covers: detections plus the frames the detector skipped between
    # two consecutive detector frames that both found it (so a detector stride does not
    # shorten tracks for the min-length rule).
    covered: int = 1


def _match(tracks_xyxy: np.ndarray, dets_xyxy: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """Hungarian matching on 1 − IoU; pairs below ``min_iou`` are rejected."""
    if tracks_xyxy.shape[0] == 0 or dets_xyxy.shape[0] == 0:
        return []
    iou = box_iou(tracks_xyxy, dets_xyxy)
    rows, cols = linear_sum_assignment(1.0 - iou)
    return [(r, c) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]


class PersonTracker:
    """Associates per-frame :class:`Detections` into :class:`Track` s.

    Call :meth:`update` once per frame, in frame order, then :meth:`tracks`.
    """

    def __init__(self, fps: float, config: TrackerConfig | None = None):
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.config = config or TrackerConfig()
        self.fps = float(fps)
        self._max_lost = max(1, int(round(self.config.max_lost_s * self.fps)))
        self._live: list[_LiveTrack] = []
        self._ended: list[_LiveTrack] = []
        self._next_id = 1
        self._prev_frame: int | None = None  # the last frame given to update

    def update(
        self, frame_id: int, detections: Detections, followed: dict[int, tuple] | None = None
    ) -> dict[int, int]:
        """Advance all tracks to ``frame_id`` and assign ``detections`` to them.

        Frames may be skipped (a detector stride): the Kalman filters then
        predict over the gap, and the low-score stage extends the tracks seen
        at the previous updated frame.

        ``followed``: track id → ``(bbox_xyxy (4,), score)`` of live tracks
        whose person was followed to this frame by other means (the landmark
        model's region tracking, :mod:`vibe.pipeline.roi_tracking`), or
        ``(bbox_xyxy, score, head_xyxy (4,))`` with their head's box. They take
        that box without association, so their identity is the follower's;
        detections overlapping one of them by IoU ≥ ``followed_iou`` (and,
        where the head is given, whose face box touches it: in a crowd a
        neighbour's box overlaps too) are the same person and start nothing.

        Returns:
            detection index → track id, for the detections that extended or
            started a track.
        """
        prev = frame_id - 1 if self._prev_frame is None else self._prev_frame
        if frame_id <= prev:
            raise ValueError(f"frames must increase: {frame_id} after {prev}")
        for t in self._live:
            for _ in range(frame_id - prev):
                t.kalman.predict()
        followed = followed or {}
        for t in self._live:
            if t.track_id in followed:
                box, box_score = followed[t.track_id][:2]
                self._extend(t, frame_id, prev, np.asarray(box, dtype=np.float64), box_score, np.full((4, 2), np.nan))
        free = self.unfollowed(detections, followed)
        assigned = self._associate(frame_id, prev, detections, free, followed)
        self._end_lost(frame_id)
        return {d: t.track_id for d, t in assigned.items()}

    def unfollowed(self, detections: Detections, followed: dict) -> np.ndarray:
        """Indices ``(k,)`` of ``detections`` that are no followed person (see :meth:`update`'s ``followed``).

        No followed box overlaps them by ``followed_iou``, or those that do have their head away from the detection's face.
        """
        free = np.arange(len(detections))
        if not followed or not len(detections):
            return free
        boxes = np.array([np.asarray(f[0], dtype=np.float64) for f in followed.values()]).reshape(-1, 4)
        same = box_iou(detections.bbox_xyxy, boxes) >= self.config.followed_iou  # (detections, followed)
        for j, entry in enumerate(followed.values()):
            if len(entry) > 2 and entry[2] is not None:
                same[:, j] &= box_iou(detections.face_xyxy, np.asarray(entry[2], np.float64)[None])[:, 0] > 0.0
        return free[~same.any(axis=1)]

    def _associate(
        self, frame_id: int, prev: int, detections: Detections, free: np.ndarray, followed: dict
    ) -> dict[int, _LiveTrack]:
        """ByteTrack's two stages over the tracks not followed, then new tracks; detection index → track."""
        cfg = self.config
        score = detections.score
        high = free[score[free] >= cfg.high_score]
        low = free[(score[free] >= cfg.low_score) & (score[free] < cfg.high_score)]
        open_tracks = [t for t in self._live if t.track_id not in followed]
        assigned: dict[int, _LiveTrack] = {}  # detection index → track

        predicted = np.array([t.kalman.bbox_xyxy() for t in open_tracks]).reshape(-1, 4)
        for r, c in _match(predicted, detections.bbox_xyxy[high], cfg.match_iou_high):
            assigned[high[c]] = open_tracks[r]
        taken = {id(t) for t in assigned.values()}
        recent = [i for i, t in enumerate(open_tracks) if id(t) not in taken and t.last_frame == prev]
        for r, c in _match(predicted[recent], detections.bbox_xyxy[low], cfg.match_iou_low):
            assigned[low[c]] = open_tracks[recent[r]]

        for d, t in assigned.items():
            self._extend(t, frame_id, prev, detections.bbox_xyxy[d], score[d], detections.keypoints_img[d])
        for d in high:
            if d not in assigned and score[d] >= cfg.new_track_score:
                assigned[d] = self._new_track(frame_id, detections, d)
        return assigned

    def _new_track(self, frame_id: int, detections: Detections, d: int) -> _LiveTrack:
        """A live track started by detection ``d`` at ``frame_id``."""
        t = _LiveTrack(self._next_id, _SquareKalman(bbox_xyxy_to_cxcys(detections.bbox_xyxy[d])), frame_id)
        t.rows.append((frame_id, detections.bbox_xyxy[d], detections.score[d], detections.keypoints_img[d]))
        self._live.append(t)
        self._next_id += 1
        return t

    def start(self, frame_id: int, detections: Detections, d: int) -> int:
        """Start a track from detection ``d`` of the frame just updated, whatever its score; its id.

        For a caller that confirmed a detection too weak to start one
        (e.g. the landmark model saw a body there).
        """
        if frame_id != self._prev_frame:
            raise ValueError(f"start a track on the frame just updated ({self._prev_frame}), not {frame_id}")
        return self._new_track(frame_id, detections, d).track_id

    @staticmethod
    def _extend(t: _LiveTrack, frame_id: int, prev: int, bbox_xyxy: np.ndarray, score, keypoints) -> None:
        """Add one observation ``bbox_xyxy (4,)`` to track ``t`` at ``frame_id``."""
        t.kalman.update(bbox_xyxy_to_cxcys(bbox_xyxy))
        t.covered += frame_id - prev if t.last_frame == prev else 1
        t.last_frame = frame_id
        t.rows.append((frame_id, bbox_xyxy, score, keypoints))

    def _end_lost(self, frame_id: int) -> None:
        """End the tracks unseen for more than ``max_lost_s``."""
        still = []
        for t in self._live:
            (self._ended if frame_id - t.last_frame > self._max_lost else still).append(t)
        self._live = still
        self._prev_frame = frame_id

    def discard(self, track_id: int) -> None:
        """Forget live track ``track_id`` entirely, rows and all (it was never anyone, e.g. a second view of a body)."""
        self._live = [t for t in self._live if t.track_id != track_id]

    def forget_history(self) -> None:
        """Drop ended tracks and all but the last row of live ones (a live stream's memory stays flat).

        :meth:`tracks` then returns only what is left; identities and the
        Kalman states are kept.
        """
        self._ended.clear()
        for t in self._live:
            t.rows = t.rows[-1:]

    def live_ids(self) -> list[int]:
        """Ids of the live tracks (not ended), in creation order."""
        return [t.track_id for t in self._live]

    def missed_ids(self) -> list[int]:
        """Ids of the live tracks not seen at the last update."""
        return [t.track_id for t in self._live if t.last_frame != self._prev_frame]

    def predicted_box(self, track_id: int) -> np.ndarray:
        """The live track's Kalman-predicted ``bbox_xyxy (4,)`` at the last update."""
        return next(t.kalman.bbox_xyxy() for t in self._live if t.track_id == track_id)

    def needs_every_frame(self, confirm_hits: int) -> bool:
        """Whether a live track is unconfirmed (fewer than ``confirm_hits`` detections) or was missed at the last update."""
        return any(len(t.rows) < confirm_hits or t.last_frame != self._prev_frame for t in self._live)

    def min_live_side(self) -> float:
        """Smallest predicted box side (pixels) among live tracks, ``inf`` when there is none."""
        return min((float(t.kalman.x[2]) for t in self._live), default=float("inf"))

    def tracks(self) -> list[Track]:
        """Tracks so far (ended and live) covering at least ``min_track_s`` × fps frames, by id.

        A track covers its detected frames and the frames the detector skipped
        between two detector frames that both found it; with a detector on
        every frame that is its number of detections.
        """
        min_frames = max(1, int(round(self.config.min_track_s * self.fps)))
        out, dropped = [], 0
        for t in sorted(self._ended + self._live, key=lambda t: t.track_id):
            if t.covered < min_frames:
                dropped += 1
                continue
            frame_ids, boxes, scores, kps = zip(*t.rows)
            out.append(Track(t.track_id, np.asarray(frame_ids), np.stack(boxes), np.asarray(scores), np.stack(kps)))
        log.debug("%d tracks kept, %d shorter than %d frames dropped", len(out), dropped, min_frames)
        return out
