"""Time ranges that read one person differently at their cut: the upright reading is carried across it.

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
(people are upright far more often than upside down; not so below a
steeply tilted camera, where the truth itself can point down in the image:
there the scene's own "up" would be the better judge), the earlier range's
follower goes on over the later range's frames until the readings agree
for ``agree_s`` seconds (or the later range ends), and the cut moves there.
Where the later reading is the upright one, a fresh landmark model starts
in the box where that reading started and reads the earlier range again
backwards (:func:`read_back`) until it agrees with the range's own reading.
Costs a second decode and reading of those frames, only where it happens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from vibe.pipeline.detector import box_iou
from vibe.pipeline.label_swaps import torso_angles, torso_turns
from vibe.pipeline.roi_stitch import FollowedRange, RangeTracks, rows_from, shifted
from vibe.pipeline.roi_tracking import RoiTrackingConfig, landmark_box
from vibe.pipeline.tracker import Track

__all__ = [
    "split_readings", "follow_on", "from_time", "read_back", "with_readings",
    "later_start", "mend_cuts",
]  # fmt: skip

log = logging.getLogger(__name__)

_MIN_SHARED = 3  # frames both ranges read the person on, for a verdict
_SAME_S = 1e-6  # two ranges' timestamps of one frame agree to this (seconds)


def _frames_at(times_s: np.ndarray, at_s: np.ndarray) -> np.ndarray:
    """Indices ``(m,)`` into a range's frame times ``times_s (n,)`` of timestamps ``at_s (m,)`` (−1: not there)."""
    at_s = np.atleast_1d(np.asarray(at_s, np.float64))
    index = np.searchsorted(times_s, at_s - _SAME_S)
    there = (index < len(times_s)) & (np.abs(times_s[np.minimum(index, len(times_s) - 1)] - at_s) < _SAME_S)
    return np.where(there, index, -1)


def _readings_at(part: RangeTracks, track_id: int, times_s: np.ndarray) -> np.ndarray:
    """Torso angles ``(m,)`` of a track at the frames of ``part`` with timestamps ``times_s (m,)`` (NaN: no pose)."""
    out = np.full(len(times_s), np.nan)
    if track_id not in part.poses:
        return out
    frames, landmarks_img, _ = part.poses[track_id]
    at = {int(f): k for k, f in enumerate(frames)}
    for i, j in enumerate(_frames_at(part.times_s, times_s)):
        if int(j) in at:
            out[i] = torso_angles(landmarks_img[at[int(j)]][None])[0]
    return out


def _boxes_at(part: RangeTracks, track_id: int, times_s: np.ndarray) -> np.ndarray:
    """A track's boxes ``(m, 4)`` at the frames of ``part`` with timestamps ``times_s (m,)`` (NaN: no row)."""
    track = next(t for t in part.tracks if t.track_id == track_id)
    out = np.full((len(times_s), 4), np.nan)
    rows = {int(f): k for k, f in enumerate(track.frame_ids)}
    for i, j in enumerate(_frames_at(part.times_s, times_s)):
        if int(j) in rows:
            out[i] = track.bbox_xyxy[rows[int(j)]]
    return out


def split_readings(
    earlier: RangeTracks, later: RangeTracks, start_s: float, stitch_iou: float, max_turn: float
) -> list[tuple[int, int, bool]]:
    """One person read more than ``max_turn`` degrees apart: ``(earlier id, later id, whether the earlier is upright)``.

    ``later`` was decoded from before its cut ``start_s``: its frames before
    it repeat the end of ``earlier``. A pair: boxes overlapping by mean IoU ≥
    ``stitch_iou`` there, a median torso turn between the two readings
    above ``max_turn`` over at least 3 frames, the upright one (the smaller
    median angle from image-up) read alike by no track of the other range
    (else the upright reading goes on there, and the misread one is a
    second track on the person, left to the duplicate rule).
    """
    shared = later.times_s[later.times_s < start_s - _SAME_S]
    seen_later = {b.track_id: (_boxes_at(later, b.track_id, shared), _readings_at(later, b.track_id, shared))
                  for b in later.tracks}  # fmt: skip
    turns = {}
    for a in earlier.tracks:
        box_a, angle_a = _boxes_at(earlier, a.track_id, shared), _readings_at(earlier, a.track_id, shared)
        for b, (box_b, angle_b) in seen_later.items():
            both = np.flatnonzero(np.isfinite(box_a).all(1) & np.isfinite(box_b).all(1))
            if not both.size or np.mean([box_iou(box_a[k : k + 1], box_b[k : k + 1])[0, 0] for k in both]) < stitch_iou:
                continue
            read = np.isfinite(angle_a) & np.isfinite(angle_b)
            if read.sum() >= _MIN_SHARED:
                upright = np.median(np.abs(angle_a[read])) < np.median(np.abs(angle_b[read]))
                turns[(a.track_id, b)] = (np.median(torso_turns(angle_a[read], angle_b[read])), bool(upright))
    alike = {side for pair, (turn, _) in turns.items() if turn <= max_turn for side in ((0, pair[0]), (1, pair[1]))}
    return [
        (a, b, upright) for (a, b), (turn, upright) in turns.items()
        if turn > max_turn and ((0, a) if upright else (1, b)) not in alike
    ]  # fmt: skip


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
    later_deg = {b: _readings_at(later, b, later.times_s) for _, b in pairs}  # per frame of the later range
    for t, image in frames:
        found = earlier.step(t, image)
        j = int(_frames_at(later.times_s, t)[0])
        for a, b in pairs:
            angle_b = later_deg[b][j] if j >= 0 else np.nan
            agree = a in found and np.isfinite(angle_b)
            agree = agree and torso_turns(torso_angles(found[a].landmarks_img[None])[0], angle_b) <= max_turn
            run[(a, b)] = run[(a, b)] + 1 if agree else 0
        if all(n >= agree_frames for n in run.values()):
            break
    if t is None:
        return None
    after = later.times_s[later.times_s > t + _SAME_S]
    return float(after[0]) if len(after) else t + 1.0


def from_time(part: RangeTracks, t_from: float) -> RangeTracks:
    """``part`` without its frames before ``t_from`` (frames renumbered from 0; tracks left without rows dropped)."""
    first = int(np.searchsorted(part.times_s, t_from - _SAME_S))
    tracks = [t for t in (rows_from(t, first) for t in part.tracks) if t is not None]
    poses = {
        tid: tuple(a[f >= first] for a in (f, lm, w)) for tid, (f, lm, w) in part.poses.items() if (f >= first).any()
    }
    return shifted(RangeTracks(part.times_s[first:], tracks, poses, part.detector_frames), -first)


Reading = tuple[np.ndarray, np.ndarray, np.ndarray]  # landmarks_img (33, 3), world (33, 3), box_xyxy (4,)
Reader = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]  # (image_rgb, box_xyxy) → reading


def read_back(
    read: Reader,
    frames: Iterable[tuple[int, np.ndarray]],
    box_xyxy: np.ndarray,
    first_deg: float,
    own_deg: Callable[[int], float],
    max_turn: float,
    agree_frames: int,
    roi_scale: float,
) -> dict[int, Reading]:
    """One person read again backwards in time, from the frame where a trusted reading started.

    ``read(image_rgb, box_xyxy)``: a fresh landmark model's (landmarks_img,
    world) in that box, or None. ``frames``: ``(frame id, image_rgb)``,
    latest first; the first is read in ``box_xyxy`` and must come out within
    ``max_turn`` of ``first_deg`` (the trusted reading's torso angle there:
    a start like the trusted one's), else nothing is returned; each next in
    the landmark box of the one before, as a followed person is. Stops where
    the person is lost, or where the reading agrees with the range's own
    (``own_deg(frame id)``) on ``agree_frames`` frames in a row (those kept as
    they were). Returns frame id → reading.
    """
    out: dict[int, Reading] = {}
    run = 0
    for fid, image in frames:
        result = read(image, box_xyxy)
        if result is None:
            break
        angle = torso_angles(result[0][None])[0]
        if not out and torso_turns(angle, first_deg) > max_turn:
            return {}
        box_xyxy = landmark_box(result[0], roi_scale)
        if not np.all(np.isfinite(box_xyxy)):
            break
        run = run + 1 if torso_turns(angle, own_deg(fid)) <= max_turn else 0
        out[fid] = (result[0], result[1], box_xyxy)
        if run >= agree_frames:
            break
    for fid in sorted(out)[:run]:  # the last frames read agree with the range's own: left as they were
        del out[fid]
    return out


def with_readings(part: RangeTracks, track_id: int, readings: dict[int, Reading | None]) -> RangeTracks:
    """``part`` with the track's poses and boxes replaced or added at the frames of ``readings`` (None: no pose)."""
    frames, landmarks_img, world = part.poses[track_id]
    poses = {int(f): (landmarks_img[k], world[k]) for k, f in enumerate(frames)}
    poses.update({f: (r[0], r[1]) for f, r in readings.items() if r is not None})
    for f in [f for f, r in readings.items() if r is None]:
        poses.pop(f, None)
    readings = {f: r for f, r in readings.items() if r is not None}
    order = sorted(poses)
    new_poses = dict(part.poses)
    new_poses[track_id] = (
        np.asarray(order, np.int64), np.stack([poses[f][0] for f in order]), np.stack([poses[f][1] for f in order])
    )  # fmt: skip
    tracks = []
    for t in part.tracks:
        if t.track_id == track_id:
            rows = {int(f): (t.bbox_xyxy[k], t.score[k], t.keypoints_img[k]) for k, f in enumerate(t.frame_ids)}
            for f, r in readings.items():
                score, keypoints = rows[f][1:] if f in rows else (1.0, np.zeros((4, 2)))
                rows[f] = (r[2], score, keypoints)
            ids = sorted(rows)
            t = Track(t.track_id, np.asarray(ids, np.int64), *(np.stack([rows[f][k] for f in ids]) for k in range(3)))
        tracks.append(t)
    return RangeTracks(part.times_s, tracks, new_poses, part.detector_frames)


def _latest_first(
    frames_between: Callable[[int, float, float], Iterable[tuple[float, np.ndarray]]], k: int, times_s: np.ndarray,
    last: int, chunk: int,
) -> Iterator[tuple[int, np.ndarray]]:  # fmt: skip
    """Range k's frames ``(frame id, image_rgb)`` from frame ``last`` back to its first, decoded ``chunk`` at a time."""
    while last >= 0:
        first = max(0, last - chunk + 1)
        batch = list(frames_between(k, float(times_s[first]) - _SAME_S, float(times_s[last]) + _SAME_S))
        for t, image in reversed(batch):
            f = int(_frames_at(times_s, t)[0])
            if f >= 0:  # a frame of this range (always, unless the decoder's seek went astray)
                yield f, image
        last = first - 1


def _mend_back(
    part: RangeTracks, later: RangeTracks, a: int, b: int, frames: Iterator[tuple[int, np.ndarray]],
    read: Reader, config: RoiTrackingConfig, agree_frames: int,
) -> RangeTracks:  # fmt: skip
    """The earlier range ``part`` with person ``a`` read again backwards from where ``later``'s ``b`` starts."""
    b_frames, b_landmarks, b_world = later.poses[b]
    b_times = later.times_s[b_frames]
    own = {int(f): torso_angles(lm[None])[0] for f, lm in zip(*part.poses[a][:2])}
    track_b = next(t for t in later.tracks if t.track_id == b)
    row = np.flatnonzero(track_b.frame_ids == b_frames[0])  # where b started: the box its landmark model started in
    box = track_b.bbox_xyxy[row[0]] if row.size else landmark_box(b_landmarks[0], config.roi_scale)
    readings = read_back(
        read, frames, box, torso_angles(b_landmarks[:1])[0], lambda f: own.get(f, np.nan),
        config.max_turn, agree_frames, config.roi_scale,
    )  # fmt: skip
    if not readings:
        return part
    start = max(readings) + 1
    for f, k in enumerate(_frames_at(b_times, part.times_s[start:]), start):  # after b's start, to the cut:
        lm = b_landmarks[k] if k >= 0 else None  # b's own reading, or none
        readings[f] = None if lm is None else (lm, b_world[k], landmark_box(lm, config.roi_scale))
    log.info("person %d read again backwards over %d frames before a cut", a, len(readings))
    return with_readings(part, a, readings)


def mend_cuts(
    ranges: list[FollowedRange], starts_s: list[float | None],
    frames_between: Callable[[int, float, float | None], Iterable[tuple[float, np.ndarray]]],
    fresh_reader: Callable[[], Reader], config: RoiTrackingConfig, fps: float,
) -> tuple[list[RangeTracks], list[float | None]]:  # fmt: skip
    """The ranges' tracks and their starts, mended where two readings of one person split at a cut.

    Where the earlier range's reading is the upright one (:func:`split_readings`),
    its follower goes on past the cut (:func:`follow_on`) and the cut moves;
    else, where the later one is, the person is read again backwards over
    the earlier range from where the later reading starts (:func:`read_back`).
    A cut with both kinds only gets the first.

    ``ranges``: the ranges' followers, still open, in video order; ``starts_s``:
    each range's own start (None for the first); ``frames_between(k, t0, t1)``:
    range k's frames ``(timestamp_s, image_rgb)`` with ``t0 ≤ t < t1`` (None:
    to its end; decoded again); ``fresh_reader()``: a fresh landmark model's
    ``read(image_rgb, box_xyxy)`` (:func:`read_back`). Returns what
    :func:`~vibe.pipeline.roi_stitch.stitch_ranges` takes.
    """
    parts, starts = [r.result() for r in ranges], list(starts_s)
    if config.max_turn is None:
        return parts, starts
    agree_frames = max(1, int(round(config.agree_s * fps)))
    lead_in: dict[int, float] = {}  # range → where its part now starts (a cut moved into it)
    for k in range(1, len(parts)):
        pairs = split_readings(parts[k - 1], parts[k], starts[k], config.stitch_iou, config.max_turn)
        forward = [(a, b) for a, b, upright in pairs if upright]
        if forward:
            frames = frames_between(k, starts[k], None)
            cut = follow_on(ranges[k - 1], parts[k], forward, frames, config.max_turn, agree_frames)
            if cut is not None:
                log.info("the ranges read %d person(s) over %s° apart at %.2f s: the earlier followed on to %.2f s",
                         len(forward), config.max_turn, starts[k], cut)  # fmt: skip
                parts[k - 1] = ranges[k - 1].result()
                if k - 1 in lead_in:  # its own start moved at the cut before: the same lead-in again
                    parts[k - 1] = from_time(parts[k - 1], lead_in[k - 1])
                lead_in[k] = cut - config.agree_s
                parts[k], starts[k] = from_time(parts[k], lead_in[k]), cut
            continue
        for a, b, _ in pairs:
            start = later_start(parts[k - 1], parts[k], b)
            if start is not None:
                frames = _latest_first(frames_between, k - 1, parts[k - 1].times_s, start, max(1, int(2 * fps)))
                parts[k - 1] = _mend_back(parts[k - 1], parts[k], a, b, frames, fresh_reader(), config, agree_frames)
    return parts, starts


def later_start(earlier: RangeTracks, later: RangeTracks, track_id: int) -> int | None:
    """The earlier range's frame id of the later range's track's first pose (None: not among its frames)."""
    t = later.times_s[later.poses[track_id][0][0]]
    f = int(_frames_at(earlier.times_s, t)[0])
    return f if f >= 0 else None
