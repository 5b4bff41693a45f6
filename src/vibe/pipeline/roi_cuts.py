"""Time ranges that read one person differently at their cut: the earlier range follows on past it.

The one-pass front end (:mod:`vibe.pipeline.roi_stage`) cuts a video into
time ranges followed in parallel, each starting with fresh landmark models,
and a fresh start is where BlazePose misreads most: on a figure seen from
behind its face-driven detector can take the feet for the head, and the
landmark model then reads the person upside down and stays so, since each
next region comes from those landmarks (the rendered CMU set's
``synthetic_s4/video_007``: upright up to the cut, upside down for the two
seconds after it; followed in one range, upright throughout). The earlier
range followed the same person through the shared frames with their history.

So where the two ranges' readings of one person (boxes overlapping by
``stitch_iou`` on the shared frames) point their torsos more than
``max_turn`` degrees apart, and the earlier reading is the more upright
(people are upright far more often than upside down), the earlier range's
follower goes on over the later range's frames until the readings agree
for ``agree_s`` seconds (or the later range ends), and the cut moves there.
Costs a second decode and reading of those frames, only where it happens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np

from vibe.pipeline.detector import box_iou
from vibe.pipeline.label_swaps import torso_up
from vibe.pipeline.roi_stitch import FollowedRange, RangeTracks
from vibe.pipeline.roi_tracking import RoiTrackingConfig
from vibe.pipeline.tracker import Track

__all__ = ["torso_angles", "torso_turns", "split_readings", "follow_on", "from_time", "mend_cuts"]

log = logging.getLogger(__name__)

_MIN_SHARED = 3  # frames both ranges read the person on, for a verdict


def torso_angles(landmarks_img: np.ndarray) -> np.ndarray:
    """Torso axis (hip centre → shoulder centre) of ``(n, 33, 3)`` landmarks, degrees from image-up ``(n,)``
    (positive: leaning to the image's right; ±180: upside down)."""
    up = torso_up(np.asarray(landmarks_img, np.float64))
    return np.degrees(np.arctan2(up[:, 0], -up[:, 1]))


def torso_turns(a_deg: np.ndarray, b_deg: np.ndarray) -> np.ndarray:
    """Unsigned angle between two torso axes, degrees in [0, 180], elementwise."""
    return np.abs((np.asarray(a_deg) - np.asarray(b_deg) + 180.0) % 360.0 - 180.0)


def _readings_at(part: RangeTracks, track_id: int, times_s: np.ndarray) -> np.ndarray:
    """Torso angles ``(m,)`` of a track at the frames of ``part`` with timestamps ``times_s (m,)`` (NaN: no pose)."""
    out = np.full(len(times_s), np.nan)
    if track_id not in part.poses:
        return out
    frames, landmarks_img, _ = part.poses[track_id]
    at = {int(f): k for k, f in enumerate(frames)}
    index = np.searchsorted(part.times_s, times_s)
    for i, (j, t) in enumerate(zip(index, times_s)):
        if j < len(part.times_s) and abs(part.times_s[j] - t) < 1e-6 and int(j) in at:
            out[i] = torso_angles(landmarks_img[at[int(j)]][None])[0]
    return out


def _boxes_at(part: RangeTracks, track_id: int, times_s: np.ndarray) -> np.ndarray:
    """A track's boxes ``(m, 4)`` at the frames of ``part`` with timestamps ``times_s (m,)`` (NaN: no row)."""
    track = next(t for t in part.tracks if t.track_id == track_id)
    out = np.full((len(times_s), 4), np.nan)
    frames = np.searchsorted(part.times_s, times_s)
    rows = {int(f): k for k, f in enumerate(track.frame_ids)}
    for i, j in enumerate(frames):
        if j < len(part.times_s) and int(j) in rows:
            out[i] = track.bbox_xyxy[rows[int(j)]]
    return out


def split_readings(
    earlier: RangeTracks, later: RangeTracks, start_s: float, stitch_iou: float, max_turn: float
) -> list[tuple[int, int]]:
    """Pairs ``(earlier id, later id)`` of one person read more than ``max_turn`` degrees apart, the earlier upright.

    ``later`` was decoded from before its cut ``start_s``: its frames before
    it repeat the end of ``earlier``. A pair: boxes overlapping by mean IoU ≥
    ``stitch_iou`` there, median torso turn between the readings above
    ``max_turn`` over at least 3 frames, and the earlier reading's median
    angle from image-up smaller than the later's.
    """
    shared = later.times_s[later.times_s < start_s - 1e-6]
    pairs = []
    for a in earlier.tracks:
        box_a, angle_a = _boxes_at(earlier, a.track_id, shared), _readings_at(earlier, a.track_id, shared)
        for b in later.tracks:
            box_b = _boxes_at(later, b.track_id, shared)
            both = np.flatnonzero(np.isfinite(box_a).all(1) & np.isfinite(box_b).all(1))
            if not both.size or np.mean([box_iou(box_a[k : k + 1], box_b[k : k + 1])[0, 0] for k in both]) < stitch_iou:
                continue
            angle_b = _readings_at(later, b.track_id, shared)
            read = np.isfinite(angle_a) & np.isfinite(angle_b)
            if read.sum() < _MIN_SHARED or np.median(torso_turns(angle_a[read], angle_b[read])) <= max_turn:
                continue
            if np.median(np.abs(angle_a[read])) < np.median(np.abs(angle_b[read])):
                pairs.append((a.track_id, b.track_id))
    return pairs


def follow_on(
    earlier: FollowedRange, later: RangeTracks, pairs: list[tuple[int, int]],
    frames: Iterable[tuple[float, np.ndarray]], max_turn: float, agree_frames: int,
) -> float | None:  # fmt: skip
    """Feed ``earlier`` the later range's ``frames`` past the cut until every pair's readings agree.

    Agree: torsos within ``max_turn`` degrees on ``agree_frames`` frames in a
    row. Returns the new cut: the timestamp of the first frame not fed (the
    later range's frames from it on are its own; past its last when every
    frame was fed), or None when there was no frame to feed.
    """
    run, t = {pair: 0 for pair in pairs}, None
    for t, image in frames:
        found = earlier.step(t, image)
        for a, b in pairs:
            angle_b = _readings_at(later, b, np.array([t]))[0]
            agree = a in found and np.isfinite(angle_b)
            agree = agree and torso_turns(torso_angles(found[a].landmarks_img[None])[0], angle_b) <= max_turn
            run[(a, b)] = run[(a, b)] + 1 if agree else 0
        if all(n >= agree_frames for n in run.values()):
            break
    if t is None:
        return None
    after = later.times_s[later.times_s > t + 1e-6]
    return float(after[0]) if len(after) else t + 1.0


def from_time(part: RangeTracks, t_from: float) -> RangeTracks:
    """``part`` without its frames before ``t_from`` (frames renumbered from 0; tracks left without rows dropped)."""
    first = int(np.searchsorted(part.times_s, t_from - 1e-6))
    tracks = []
    for t in part.tracks:
        keep = t.frame_ids >= first
        if keep.any():
            rows = [getattr(t, k)[keep] for k in Track.ARRAYS]
            tracks.append(Track(t.track_id, rows[0] - first, *rows[1:]))
    poses = {}
    for tid, (frames, landmarks_img, world) in part.poses.items():
        keep = frames >= first
        if keep.any():
            poses[tid] = (frames[keep] - first, landmarks_img[keep], world[keep])
    return RangeTracks(part.times_s[first:], tracks, poses, part.detector_frames)


def mend_cuts(
    ranges: list[FollowedRange], starts_s: list[float | None],
    frames_from: Callable[[int, float], Iterable[tuple[float, np.ndarray]]], config: RoiTrackingConfig, fps: float,
) -> tuple[list[RangeTracks], list[float | None]]:  # fmt: skip
    """The ranges' tracks and their starts, with each cut where two readings split moved (:func:`split_readings`).

    ``ranges``: the ranges' followers, still open, in video order; ``starts_s``:
    each range's own start (None for the first); ``frames_from(k, t)``: range
    k's frames ``(timestamp_s, image_rgb)`` from ``t`` to its end (decoded
    again). Returns what :func:`~vibe.pipeline.roi_stitch.stitch_ranges` takes.
    """
    parts, starts = [r.result() for r in ranges], list(starts_s)
    if config.max_turn is None:
        return parts, starts
    agree_frames = max(1, int(round(config.agree_s * fps)))
    for k in range(1, len(parts)):
        pairs = split_readings(parts[k - 1], parts[k], starts[k], config.stitch_iou, config.max_turn)
        if not pairs:
            continue
        cut = follow_on(ranges[k - 1], parts[k], pairs, frames_from(k, starts[k]), config.max_turn, agree_frames)
        if cut is None:
            continue
        log.info("the ranges read %d person(s) %s° apart at %.2f s: the earlier range followed on to %.2f s",
                 len(pairs), config.max_turn, starts[k], cut)  # fmt: skip
        parts[k - 1], parts[k] = ranges[k - 1].result(), from_time(parts[k], cut - config.agree_s)
        starts[k] = cut
    return parts, starts
