"""Joining time ranges followed in parallel (:func:`~vibe.pipeline.roi_tracking.follow_people` per range) into whole-video tracks.

The demo's one-pass front end (:mod:`vibe.pipeline.roi_stage`) cuts a video
into time ranges decoded in parallel; range k > 0 starts a little before its
cut, so a track crossing the cut is seen by both ranges on the repeated
frames and :func:`stitch_ranges` matches it to itself there by box overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from vibe.pipeline.detector import box_iou
from vibe.pipeline.landmarks import NUM_LANDMARKS, TrackLandmarks
from vibe.pipeline.tracker import Track

if TYPE_CHECKING:  # roi_tracking imports this module
    from vibe.pipeline.roi_tracking import PersonPose, RoiFollower

__all__ = ["FollowedRange", "RangeTracks", "rows_from", "shifted", "stitch_ranges"]

log = logging.getLogger(__name__)


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


class FollowedRange:
    """A :class:`~vibe.pipeline.roi_tracking.RoiFollower` over a range of frames and what it found; more can follow.

    The one-pass front end keeps a range's follower open after its frames so
    that it can go on past the range's end (:mod:`vibe.pipeline.roi_cuts`).
    """

    def __init__(self, follower: RoiFollower):
        self.follower = follower
        self.times: list[float] = []
        self.poses: dict[int, list[tuple[int, PersonPose]]] = {}

    def feed(self, frames: Iterable[tuple[float, np.ndarray]]) -> FollowedRange:
        """Follow everyone over ``frames`` (``(timestamp_s, image_rgb)``), numbered on from the frames fed before."""
        for t, image in frames:
            self.step(t, image)
        return self

    def step(self, t: float, image_rgb: np.ndarray) -> dict[int, PersonPose]:
        """One more frame; track id → pose found on it."""
        frame_id = len(self.times)
        self.times.append(t)
        found = self.follower.step(frame_id, image_rgb)
        for tid, pose in found.items():
            self.poses.setdefault(tid, []).append((frame_id, pose))
        return found

    def result(self) -> RangeTracks:
        """Tracks, poses and frame times so far (ids local to the range; frames numbered from 0)."""
        log.debug("detector ran on %d of %d frames", self.follower.detector_frames, len(self.times))
        arrays = {
            tid: (
                np.array([f for f, _ in rows], dtype=np.int64),
                np.stack([p.landmarks_img for _, p in rows]),
                np.stack([p.world for _, p in rows]),
            )
            for tid, rows in self.poses.items()
        }
        times = np.asarray(self.times, dtype=np.float64)
        return RangeTracks(times, self.follower.tracker.tracks(), arrays, self.follower.detector_frames)


def _mean_overlap(a: Track, b: Track) -> float:
    """Mean IoU of two tracks' boxes over their shared frames (0 when none)."""
    _, ia, ib = np.intersect1d(a.frame_ids, b.frame_ids, return_indices=True)
    if not ia.size:
        return 0.0
    return float(np.mean([box_iou(a.bbox_xyxy[i : i + 1], b.bbox_xyxy[j : j + 1])[0, 0] for i, j in zip(ia, ib)]))


def shifted(part: RangeTracks, offset: int) -> RangeTracks:
    """``part`` with its frame ids moved by ``offset`` (e.g. to the whole video's numbering)."""
    tracks = [Track(t.track_id, t.frame_ids + offset, t.bbox_xyxy, t.score, t.keypoints_img) for t in part.tracks]
    poses = {tid: (f + offset, lm, w) for tid, (f, lm, w) in part.poses.items()}
    return RangeTracks(part.times_s, tracks, poses, part.detector_frames)


def rows_from(track: Track, first: int) -> Track | None:
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
        part = shifted(part, offset - repeated)
        ids = _match_ids(part, merged, previous, stitch_iou)
        current = {}
        for track in part.tracks:
            own = rows_from(track, offset)
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
