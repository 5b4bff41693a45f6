"""Which candidate tracks are people: the body must be seen, not only detected.

The person detector (BlazePose's, face-driven) fires on faces, hands and
face-like objects, and MediaPipe's landmark model then fits a full body to
whatever it is given, so neither a detection nor a landmark set proves a body.
What does is MediaPipe's per-landmark *visibility* (the model's estimate that
the landmark is in view and not occluded): on a real person the shoulders and
hips score high, and on a crop without a body they usually score low.

Visibility alone is not enough: on a rendered hand reaching into a table
shot, MediaPipe fitted a contorted body with shoulders and hips at
visibility 1.0 in 84 % of the frames. Such a body does not hold together
over time: its landmarks jump from frame to frame, where a real body's move
smoothly. So the rule has two parts, both over the whole track
(:func:`judge_tracks`):

1. *seen*: a frame shows a body when MediaPipe found a pose there and at
   least ``min_torso_landmarks`` of the four torso landmarks (both
   shoulders, both hips) have visibility ≥ ``min_visibility``; at least
   ``min_body_fraction`` of the track's frames, and ``min_body_frames`` of
   them, must show one;
2. *coherent*: the landmark jitter — per frame, the mean second difference
   in time of 8 landmarks (shoulders, elbows, hips, knees) in units of the
   frame's torso length; over the track, its ``jitter_quantile`` quantile
   (the lower quartile) — is at most ``max_jitter`` (scaled by
   ``(10 / fps)²`` below 10 fps, since real motion's second differences
   grow with the frame interval squared). A phantom's landmarks jump on
   nearly every frame; a real person's jump in bursts (a limb lost for a
   few frames, more often for small people, whose landmarks are noisier in
   torso lengths) between calm stretches, so the lower quartile separates
   them where the median did not: on the rendered crowds (issue 12, 30 fps)
   the people's tracks with a median over 0.1 (0.11-0.38, torsos 23-84 px)
   had lower quartiles of 0.045-0.07 (one 0.18), the hand phantoms
   (``benchmarks/bench_phantoms.py``; 25 fps, 320×180 to 1280×720) 0.097
   and over; the people of the bundled videos and of the synthetic
   benchmark have medians of 0.015-0.05. The limit also allows
   ``jitter_noise_px`` (1 px) of the landmarks' own noise over the track's
   median torso length in pixels: on the rendered crowds, people with torsos
   of 23-55 px were rejected at 0.082-0.100 (limits with the noise term
   0.098-0.123), while the hand phantoms sit at 1.1 times their limit or
   more at every size. A track with
   fewer than three consecutive frames with a pose cannot be measured: it
   must instead show a body in at least ``unmeasured_body_fraction`` of its
   frames (all, by default: a real person glimpsed for a frame or two is
   seen whole, a 4-frame phantom on a hand was seen in half), and its torso
   may not change length by more than ``unmeasured_max_scale_step`` from one
   frame to the next (a 2-frame phantom on a rendered hand, seen whole with
   torso visibilities of 0.99, shrank 21 % in one frame: nobody's distance
   changes that fast).

A third check removes *ghost* tracks (:func:`duplicate_tracks`): two tracks
whose landmarks are the same body — MediaPipe, given two overlapping boxes,
locks onto the same person in both crops, e.g. when the detector reports one
person twice — would give one person two bodies. A track is a duplicate of a
longer one when, on at least ``duplicate_min_shared`` of its frames with a
pose, both have a pose and their 8 landmarks above lie within
``duplicate_max_distance`` torso lengths of each other (median over those
frames). On a rendered one-person video of the synthetic benchmark, the
tracker's two extra tracks (65 and 3 frames) were 0.04 torso lengths from
the person's own. A track too short to be judged by its jitter (a pose on at
most ``part_max_frames`` frames) whose landmarks lie inside a longer track's
(``part_min_inside`` of its landmark box, median over shared frames) is a
body drawn on part of that person — MediaPipe given a box on someone's legs
fits a whole small body there (seen on a real clip: 2 frames) — and goes too;
so does one whose landmark box overlaps the longer track's by IoU ≥
``part_min_iou``: the same person's body drawn again, larger or shifted (a
1-frame track on a rendered crowd). So does one whose every pose lies within
``part_near_frames`` frames of a longer track's, their landmark boxes
overlapping by IoU ≥ ``part_near_iou`` (or ``part_min_inside`` of its box
inside): that person read once more, by a track that took over or handed over
(on a rendered crowd, a start read upside down and lost the next frame, where
another track took the person up upright).

Rejected tracks are dropped before the generator: they are never written,
exported or drawn; the run logs how many there were and, per track, the
numbers that decided. MediaPipe's legacy pose solution leaves the
landmarks' separate ``presence`` field empty, so visibility is the one
per-landmark confidence there is.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TORSO_LANDMARKS",
    "BodyPresenceConfig",
    "body_frames",
    "jitter_limit",
    "landmark_jitter",
    "torso_scale_step",
    "judge_tracks",
    "landmark_boxes",
    "box_overlaps",
    "duplicate_tracks",
    "select_people",
]

log = logging.getLogger(__name__)

# BlazePose indices: left/right shoulder, left/right hip.
TORSO_LANDMARKS = (11, 12, 23, 24)
# The rate the torso's largest step between frames is given at (unmeasured_max_scale_step).
_SCALE_REFERENCE_FPS = 30.0
# Shoulders, elbows, hips, knees: the joints whose motion the jitter measure follows.
_JITTER_LANDMARKS = (11, 12, 13, 14, 23, 24, 25, 26)
_JITTER_REFERENCE_FPS = 10.0


@dataclass(frozen=True)
class BodyPresenceConfig:
    """Thresholds of the person rule (module docstring).

    Attributes:
        enabled: apply the rule (False: every track is a person, as before).
        min_visibility: a landmark is seen when its visibility is at least this.
        min_torso_landmarks: torso landmarks (of 4) that must be seen in a frame.
        min_body_fraction: fraction of the track's frames that must show a body.
        min_body_frames: frames that must show a body (at least 1).
        max_jitter: largest landmark jitter (torso lengths per frame², the
            ``jitter_quantile`` quantile over frames) of a person at ≥ 10 fps;
            None: not checked.
        jitter_quantile: which quantile over frames of the per-frame jitter
            is compared with ``max_jitter`` (0.25, the lower quartile; 0.5
            and ``max_jitter`` 0.1: the median rule before issue 12's crowds).
        jitter_noise_px: the landmarks' own noise (pixels), added to
            ``max_jitter`` over the track's median torso length in pixels
            (:func:`jitter_limit`): a few pixels weigh more on a small person.
        unmeasured_body_fraction: for tracks too short to measure the jitter,
            the fraction of frames that must show a body (replaces
            ``min_body_fraction`` when larger).
        unmeasured_max_scale_step: for those tracks too, the largest change of
            the torso's length between consecutive frames with a pose
            (fraction, at ≥ 30 fps; scaled by ``30 / fps`` below); None: unchecked.
        duplicate_max_distance: landmarks closer than this (torso lengths,
            median over shared frames) are the same body; None: no duplicate check.
        duplicate_min_shared: fraction of the shorter track's frames with a
            pose that must be shared with the longer track.
        part_max_frames: a track with a pose on at most this many frames is
            checked for lying inside a longer track (module docstring); None: not checked.
        part_min_inside: the fraction of its landmark box inside the longer
            track's (median over shared frames) that makes it part of that person.
        part_min_iou: the overlap (IoU, median over shared frames) of the two
            landmark boxes that makes it that person again.
        part_near_frames: such a short track whose every pose lies within this
            many frames of a pose of the longer track, overlapping it by
            ``part_near_iou``, is that person read once more; None: not checked.
        part_near_iou: the landmark boxes' IoU (or ``part_min_inside``) that
            makes a short track beside a longer one that person.
        box_min_shared: a track of any length that shares at least this
            fraction of its frames with a pose with a longer track and whose
            landmark box overlaps that track's by ``part_min_iou`` is that
            person again, read another way (seen from behind, the landmarks
            mirrored: too far apart for ``duplicate_max_distance``); None: not checked.
        trim_ends: a kept track starts at its first frame showing a body and
            ends at its last (:func:`body_span`): before and after, the tracker
            held a box where nobody was seen, and a body drawn there is a phantom.
    """

    enabled: bool = True
    min_visibility: float = 0.5
    min_torso_landmarks: int = 3
    min_body_fraction: float = 0.5
    min_body_frames: int = 1
    max_jitter: float | None = 0.08
    jitter_quantile: float = 0.25
    jitter_noise_px: float = 1.0
    unmeasured_body_fraction: float = 1.0
    unmeasured_max_scale_step: float | None = 0.15
    duplicate_max_distance: float | None = 0.25
    duplicate_min_shared: float = 0.5
    part_max_frames: int | None = 2
    part_min_inside: float = 0.9
    part_min_iou: float = 0.5
    part_near_frames: int | None = 2
    part_near_iou: float = 0.3
    box_min_shared: float | None = 0.9
    trim_ends: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_visibility <= 1.0:
            raise ValueError(f"min_visibility must be in [0, 1], got {self.min_visibility}")
        if not 1 <= self.min_torso_landmarks <= len(TORSO_LANDMARKS):
            raise ValueError(f"min_torso_landmarks must be in [1, 4], got {self.min_torso_landmarks}")
        if not 0.0 <= self.min_body_fraction <= 1.0:
            raise ValueError(f"min_body_fraction must be in [0, 1], got {self.min_body_fraction}")
        if self.min_body_frames < 1:
            raise ValueError(f"min_body_frames must be at least 1, got {self.min_body_frames}")
        if not 0.0 <= self.jitter_quantile <= 1.0:
            raise ValueError(f"jitter_quantile must be in [0, 1], got {self.jitter_quantile}")
        for name in ("part_min_inside", "part_min_iou", "part_near_iou"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.part_max_frames is not None and self.part_max_frames < 0:
            raise ValueError(f"part_max_frames must be at least 0, got {self.part_max_frames}")
        if self.unmeasured_max_scale_step is not None and self.unmeasured_max_scale_step <= 0:
            raise ValueError(f"unmeasured_max_scale_step must be positive, got {self.unmeasured_max_scale_step}")


def body_frames(landmarks_img: np.ndarray, found: np.ndarray, config: BodyPresenceConfig) -> np.ndarray:
    """Which frames of a track show a body.

    Args:
        landmarks_img: ``(n, 33, 3)`` BlazePose landmarks (x, y pixels, visibility).
        found: ``(n,)`` bool, whether MediaPipe found a pose in the frame.

    Returns:
        ``(n,)`` bool.
    """
    visibility = np.nan_to_num(np.asarray(landmarks_img)[:, TORSO_LANDMARKS, 2], nan=0.0)
    seen = (visibility >= config.min_visibility).sum(axis=1)
    return np.asarray(found, dtype=bool) & (seen >= config.min_torso_landmarks)


def body_span(frame_ids: np.ndarray, landmarks_img: np.ndarray, found: np.ndarray, config: BodyPresenceConfig):
    """The ids ``(first, last)`` of a track's first and last frames showing a body (:func:`body_frames`),
    from ``frame_ids (n,)``, ``(n, 33, 3)`` landmarks and ``found (n,)``; None when no frame shows one."""
    shown = np.flatnonzero(body_frames(landmarks_img, found, config))
    return None if len(shown) == 0 else (int(frame_ids[shown[0]]), int(frame_ids[shown[-1]]))


def _torso_lengths(landmarks_img: np.ndarray) -> np.ndarray:
    """Per frame, the distance ``(n,)`` (pixels) from the hips' centre to the shoulders' in ``(n, 33, ≥2)`` landmarks."""
    lm = np.asarray(landmarks_img, dtype=np.float64)
    return np.linalg.norm(lm[:, [11, 12], :2].mean(axis=1) - lm[:, [23, 24], :2].mean(axis=1), axis=1)


def _second_differences(landmarks_img: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per measurable frame, the 8 landmarks' mean second difference (pixels) and the torso length (pixels).

    Args:
        landmarks_img: ``(n, 33, 3)`` landmarks of consecutive frames (x, y pixels, visibility).
        found: ``(n,)`` bool, whether MediaPipe found a pose in the frame.

    Returns:
        ``(second_px (k,), torso_px (k,))`` over the k frames with a pose at
        t - 1, t and t + 1 and a torso longer than zero (k may be 0).
    """
    lm = np.asarray(landmarks_img, dtype=np.float64)
    found = np.asarray(found, dtype=bool)
    if len(lm) < 3:
        return np.zeros(0), np.zeros(0)
    usable = found[:-2] & found[1:-1] & found[2:]  # frame t has a pose at t - 1, t, t + 1
    xy = lm[:, _JITTER_LANDMARKS, :2]
    second = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=2).mean(axis=1)
    torso = _torso_lengths(lm[1:-1])
    usable &= np.isfinite(second) & (torso > 1e-6)
    return second[usable], torso[usable]


def torso_scale_step(landmarks_img: np.ndarray, found: np.ndarray) -> float | None:
    """The largest relative change of the torso's length ``|l_{t+1} / l_t − 1|`` between consecutive frames that
    both have a pose, from ``(n, 33, 3)`` landmarks and ``found (n,)``; None without such a pair."""
    torso, found = _torso_lengths(landmarks_img), np.asarray(found, dtype=bool)
    pairs = found[:-1] & found[1:] & (torso[:-1] > 1e-6)
    if not pairs.any():
        return None
    return float(np.max(np.abs(torso[1:][pairs] / torso[:-1][pairs] - 1.0)))


def landmark_jitter(landmarks_img: np.ndarray, found: np.ndarray, quantile: float = 0.5) -> float | None:
    """A quantile (default the median) over frames of the landmarks' mean second difference in time, in torso lengths.

    Args:
        landmarks_img: ``(n, 33, 3)`` landmarks of consecutive frames (x, y pixels, visibility).
        found: ``(n,)`` bool, whether MediaPipe found a pose in the frame.
        quantile: in [0, 1].

    Returns:
        The jitter, or None with fewer than three consecutive frames with a pose.
    """
    second, torso = _second_differences(landmarks_img, found)
    return float(np.quantile(second / torso, quantile)) if second.size else None


def jitter_limit(config: BodyPresenceConfig, landmarks_img: np.ndarray, found: np.ndarray, fps: float) -> float | None:
    """The largest jitter (torso lengths per frame²) of a person for a track's ``(n, 33, 3)`` landmarks and
    ``found (n,)``: ``max_jitter`` (scaled up below 10 fps) plus ``jitter_noise_px`` over the median torso
    length in pixels; None when the jitter is not checked."""
    if config.max_jitter is None:
        return None
    torso = _torso_lengths(np.asarray(landmarks_img)[np.asarray(found, dtype=bool)])
    torso = torso[np.isfinite(torso)]  # a NaN median would make the limit NaN and pass every jitter
    noise = config.jitter_noise_px / max(float(np.median(torso)), 1.0) if torso.size else 0.0
    return config.max_jitter * max(1.0, (_JITTER_REFERENCE_FPS / fps) ** 2) + noise


def judge_tracks(
    tracks: Mapping[int, tuple[np.ndarray, np.ndarray]], config: BodyPresenceConfig, fps: float = 30.0
) -> tuple[list[int], dict[int, str]]:
    """Split candidate tracks into people and rejects.

    Args:
        tracks: track id → ``(landmarks_img (n, 33, 3), found (n,))`` over consecutive frames.
        config: the rule's thresholds.
        fps: the video's frame rate (scales ``max_jitter`` below 10 fps).

    Returns:
        ``(people, rejected)``: the ids kept, sorted, and id → one-line reason
        for each rejected track.
    """
    if not config.enabled:
        return sorted(tracks), {}
    people, rejected = [], {}
    for tid in sorted(tracks):
        landmarks_img, found = tracks[tid]
        max_jitter = jitter_limit(config, landmarks_img, found, fps)
        shown = body_frames(landmarks_img, found, config)
        n, k = int(shown.size), int(shown.sum())
        jitter = None if max_jitter is None else landmark_jitter(landmarks_img, found, config.jitter_quantile)
        fraction = config.min_body_fraction
        if max_jitter is not None and jitter is None:  # too short to check coherence: seen whole instead
            fraction = max(fraction, config.unmeasured_body_fraction)
        step = None if jitter is not None else torso_scale_step(landmarks_img, found)
        max_step = config.unmeasured_max_scale_step
        if k < config.min_body_frames or k < fraction * n:
            rejected[tid] = (
                f"body seen in {k} of {n} frames (needs {fraction:.0%} and "
                f"{config.min_body_frames}; pose found in {int(np.sum(found))})"
            )
        elif step is not None and max_step is not None and step > max_step * max(1.0, _SCALE_REFERENCE_FPS / fps):
            rejected[tid] = f"torso length changes {step:.0%} in one frame (a body seen too briefly to be coherent)"
        elif jitter is not None and jitter > max_jitter:
            rejected[tid] = f"landmarks incoherent over time (jitter {jitter:.3f} > {max_jitter:.3f} torso lengths)"
        else:
            people.append(tid)
    if rejected:
        log.info(
            "%d of %d candidate tracks are not people: %s",
            len(rejected), len(tracks), "; ".join(f"track {t}: {why}" for t, why in rejected.items()),
        )
    return people, rejected


def landmark_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per frame, mean distance of the 8 body landmarks of ``a`` and ``b`` ``(k, 33, 3)`` in ``a``'s torso lengths ``(k,)``."""
    torso = _torso_lengths(a)
    gap = np.linalg.norm(a[:, _JITTER_LANDMARKS, :2] - b[:, _JITTER_LANDMARKS, :2], axis=2).mean(axis=1)
    return gap / np.maximum(torso, 1e-6)


def landmark_boxes(landmarks_img: np.ndarray) -> np.ndarray:
    """Per frame, the extent ``(n, 4)`` (x0, y0, x1, y1, pixels) of the 33 landmarks ``(n, 33, 3)``; NaN without a pose."""
    xy = np.asarray(landmarks_img, dtype=np.float64)[..., :2]
    boxes = np.full((len(xy), 4), np.nan)
    seen = np.isfinite(xy).all(axis=(1, 2))
    boxes[seen] = np.concatenate([xy[seen].min(axis=1), xy[seen].max(axis=1)], axis=1)
    return boxes


def box_overlaps(inner: np.ndarray, outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of boxes ``(n, 4)`` xyxy: the fraction of ``inner``'s area inside ``outer``, and their IoU (``(n,)``
    each; 0 for empty boxes)."""
    size = np.clip(np.minimum(inner[:, 2:], outer[:, 2:]) - np.maximum(inner[:, :2], outer[:, :2]), 0.0, None)
    common = size.prod(axis=1)
    area_in, area_out = (np.clip(b[:, 2:] - b[:, :2], 0.0, None).prod(axis=1) for b in (inner, outer))
    union = area_in + area_out - common
    return (np.where(area_in > 0, common / np.maximum(area_in, 1e-12), 0.0),
            np.where(union > 0, common / np.maximum(union, 1e-12), 0.0))  # fmt: skip


def _same_body(
    short: tuple[np.ndarray, np.ndarray, np.ndarray], long: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: BodyPresenceConfig,
) -> str | None:
    """Why track ``short`` (``frame_ids, landmarks_img, found``) is the body of the longer track ``long``, or None."""
    fids, lm, found = short
    ofids, olm, ofound = long
    _, rows, orows = np.intersect1d(fids, ofids, return_indices=True)
    both = found[rows] & ofound[orows]
    n_both, n_found = int(both.sum()), int(found.sum())
    if n_both == 0:
        return _read_beside(short, long, config)
    a, b = olm[orows][both], lm[rows][both]
    if config.duplicate_max_distance is not None and n_both >= config.duplicate_min_shared * max(n_found, 1):
        distance = float(np.median(landmark_distance(a, b)))
        if distance <= config.duplicate_max_distance:
            return f"same landmarks within {distance:.2f} torso lengths on {n_both} shared frames"
    short_part = config.part_max_frames is not None and n_found <= config.part_max_frames
    within = config.box_min_shared is not None and n_both >= config.box_min_shared * n_found
    if not (short_part or within):
        return None
    inside, iou = (float(np.median(v)) for v in box_overlaps(landmark_boxes(b), landmark_boxes(a)))
    if short_part and inside >= config.part_min_inside:
        return f"its landmarks {inside:.0%} inside on {n_both} shared frames: a body drawn on part of that person"
    if iou >= config.part_min_iou:
        return f"its landmarks' box overlaps by IoU {iou:.2f} on {n_both} shared frames: that person again"
    return _read_beside(short, long, config)


def _read_beside(
    short: tuple[np.ndarray, np.ndarray, np.ndarray], long: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: BodyPresenceConfig,
) -> str | None:
    """Why the short track ``short`` is the longer track ``long``'s person read once more beside it in time, or None:
    each of its poses overlaps one of ``long``'s within ``part_near_frames`` frames."""
    fids, lm, found = short
    ofids, olm, ofound = long
    n_found = int(found.sum())
    if config.part_near_frames is None or config.part_max_frames is None or not 0 < n_found <= config.part_max_frames:
        return None
    other_frames, other_boxes = ofids[ofound], landmark_boxes(olm[ofound])
    worst = (1.0, 1.0)  # the least of the poses' largest overlaps (inside, IoU) with the other's poses nearby
    for frame, box in zip(fids[found], landmark_boxes(lm[found])):
        near = np.abs(other_frames - frame) <= config.part_near_frames
        if not near.any():
            return None
        inside, iou = box_overlaps(np.repeat(box[None], near.sum(), axis=0), other_boxes[near])
        if not np.any((iou >= config.part_near_iou) | (inside >= config.part_min_inside)):
            return None
        worst = (min(worst[0], float(inside.max())), min(worst[1], float(iou.max())))
    return (f"its landmarks' box {worst[0]:.0%} inside, IoU {worst[1]:.2f}, within {config.part_near_frames} "
            "frames: that person read once more")


def duplicate_tracks(
    tracks: Mapping[int, tuple[np.ndarray, np.ndarray, np.ndarray]], config: BodyPresenceConfig,
    phantoms: Collection[int] = (),
) -> dict[int, str]:
    """Tracks whose landmarks are another, longer track's body, or lie on part of it (module docstring).

    Args:
        tracks: track id → ``(frame_ids (n,), landmarks_img (n, 33, 3), found (n,))``.
        config: ``duplicate_max_distance``, ``duplicate_min_shared`` and the ``part_*`` thresholds.
        phantoms: ids in ``tracks`` already found not to be people (:func:`judge_tracks`):
            never returned, but a track that is one of their bodies again is that phantom too.

    Returns:
        id → one-line reason, for each duplicate (the longest of a group is kept).
    """
    if not config.enabled or (config.duplicate_max_distance is None and config.part_max_frames is None):
        return {}
    by_length = sorted(tracks, key=lambda t: (-int(np.sum(tracks[t][2])), t))
    kept: list[int] = []
    duplicates: dict[int, str] = {}
    for tid in by_length:
        if tid not in phantoms:  # a phantom is only compared with, never judged again
            why, other = next(((w, o) for o in kept if (w := _same_body(tracks[tid], tracks[o], config))), (None, None))
            if other in phantoms:
                duplicates[tid] = f"track {other}'s body again, not a person ({why.replace('person', 'body')})"
                continue
            if why is not None:
                duplicates[tid] = f"duplicate of track {other} ({why})"
                continue
        kept.append(tid)
    if duplicates:
        log.info("%d candidate tracks duplicate another track: %s", len(duplicates),
                 "; ".join(f"track {t}: {why}" for t, why in duplicates.items()))  # fmt: skip
    return duplicates


def select_people(
    tracks: Mapping[int, tuple[np.ndarray, np.ndarray, np.ndarray]], config: BodyPresenceConfig, fps: float = 30.0
) -> tuple[list[int], dict[int, str]]:
    """The demo's decision over candidate tracks: :func:`judge_tracks`, then :func:`duplicate_tracks`.

    Args:
        tracks: track id → ``(frame_ids (n,), landmarks_img (n, 33, 3), found (n,))``.

    Returns:
        ``(people, rejected)``: the ids kept, sorted, and id → one-line reason for every other.
    """
    _, rejected = judge_tracks({t: (lm, found) for t, (_, lm, found) in tracks.items()}, config, fps)
    rejected |= duplicate_tracks(tracks, config, phantoms=set(rejected))
    return sorted(t for t in tracks if t not in rejected), rejected
