"""Left/right label swaps of BlazePose, found over a track and undone.

A person seen from the front and the same person seen from behind with left
and right exchanged project to nearly the same image: BlazePose sometimes
reads one as the other for a few frames (the whole body turns 180° in one
frame, which nobody can do), then switches back. Its world landmarks follow its
reading: they are the true body mirrored in depth, with left and right exchanged.

Per frame, the torso's *facing* ``f`` is the signed width of the shoulders
and hips across the torso's axis (a 2D cross product, in torso lengths:
about +1.2 facing the camera, −1.2 facing away, 0 seen side-on), so it does not
depend on how the body lies in the image. Under a swap ``f`` changes sign. A
real turn passes through side views, where ``f`` is small, so it changes
continuously. :func:`swap_parity` finds, by dynamic programming over the
track, which frames to read swapped (parity 1) so that the corrected facing
``±f`` is as continuous as possible, with a cost per change of parity and a
small one per frame read swapped: of two readings equally continuous the one
closer to BlazePose's wins, and one frame's wobble does not start a swap.
:func:`unswap_landmarks` undoes the swaps: image landmarks exchange left and
right; world landmarks exchange them and come back out of the mirror (z negated).

BlazePose also exchanges the two arms, or the two legs, alone (most often
when they pass close to each other): the left wrist's label jumps onto the
right wrist. :func:`limb_parity` finds those frames the same way, per group
(an arm: elbow, wrist, hand tips; a leg: knee, ankle, heel, toes), with the
group's positions as what stays continuous (in torso lengths; a switch costs
``limb_switch_cost``), after the whole body's swaps are undone.

What this cannot fix: a swap that lasts the whole track (nothing to be
continuous with), nor one that starts while the two sides overlap and lasts
after they part.

BlazePose also reads a person *upside down* (its detector takes the feet
for the head), from a fresh start of its landmark model; the torso axis
then turns by ~180° in one frame. :func:`drop_flips` drops such runs where
they are short against the rest of the track (most often a track's first or
last frames); a long one at the demo's time-range cut is mended by
:mod:`vibe.pipeline.roi_cuts`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vibe.body.anny import BLAZEPOSE33
from vibe.body.joint_sets import flip_permutation
from vibe.geometry.contacts import drop_short_runs
from vibe.pipeline.landmarks import TrackLandmarks, torso_angles, torso_up

__all__ = [
    "SwapConfig", "torso_up", "torso_angles", "torso_turns", "flip_runs", "drop_flips", "torso_facing", "swap_parity",
    "limb_parity", "unswap_landmarks", "exchange_limb", "short_runs", "repair_swaps",
]  # fmt: skip

_LS, _RS, _LH, _RH = (BLAZEPOSE33.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
_FLIP = np.asarray(flip_permutation(BLAZEPOSE33))
_LIMBS = {  # the left side's points of each group; the right's are their mirrors
    "arm": ("left_elbow", "left_wrist", "left_pinky", "left_index", "left_thumb"),
    "leg": ("left_knee", "left_ankle", "left_heel", "left_foot_index"),
}
_LIMB_LEFT = {name: np.array([BLAZEPOSE33.index(n) for n in points]) for name, points in _LIMBS.items()}


@dataclass(frozen=True)
class SwapConfig:
    """Costs of :func:`swap_parity`, in units of the facing (torso lengths).

    Attributes:
        switch_cost: per change of parity between consecutive frames with a pose.
        swapped_cost: per frame read swapped (breaks the tie of the two global readings).
        min_visibility: frames whose four torso points are less visible than this have no facing.
        limb_switch_cost: per change of an arm's or leg's parity (:func:`limb_parity`);
            None: the limbs as read.
        limb_swapped_cost: per frame an arm or leg is read exchanged.
        min_facing: the body's parity changes only between frames whose facings
            are both at least this far from 0 (side-on, a turn and a swap look alike).
        min_limb_gap: a limb group's parity changes only between frames where its
            two sides are at least this far apart (torso lengths; overlapping, they look alike).
        limb_max_run_s: an arm's or leg's exchange lasting longer than this
            (seconds) is left as read. BlazePose's limb label jumps last while
            the two limbs pass each other; a longer exchange is the path of
            least motion following another continuity than BlazePose's reading,
            no likelier right (docs/results.md, session 11). None: no limit.
        max_turn, flip_max_s: a run of at most ``flip_max_s`` seconds whose torso
            turned more than ``max_turn`` degrees in one frame against a longer
            run beside it is read upside down: its frames are dropped
            (:func:`drop_flips`). None: kept.
    """

    switch_cost: float = 0.5
    swapped_cost: float = 0.1
    min_visibility: float = 0.3
    limb_switch_cost: float | None = 0.1
    limb_swapped_cost: float = 0.02
    min_facing: float = 0.0
    min_limb_gap: float = 0.0
    limb_max_run_s: float | None = 1.0
    max_turn: float | None = 120.0
    flip_max_s: float = 0.5


def torso_turns(a_deg: np.ndarray, b_deg: np.ndarray) -> np.ndarray:
    """Unsigned angle between two torso axes, degrees in [0, 180], elementwise."""
    return np.abs((np.asarray(a_deg) - np.asarray(b_deg) + 180.0) % 360.0 - 180.0)


def flip_runs(
    landmarks_img: np.ndarray, found: np.ndarray, max_turn: float, max_len: int, max_gap: int
) -> np.ndarray:
    """Frames ``(n,)`` bool of short runs read upside down against the rest of the track.

    The frames with a pose of ``(n, 33, 3)`` landmarks are cut into runs
    wherever the torso axis turns more than ``max_turn`` degrees between two
    of them at most ``max_gap`` frames apart (nobody turns that fast: one of
    the two readings is wrong) or where more than ``max_gap`` frames have no
    pose. Longest first, each run is checked against the nearest runs kept
    before and after it (within ``max_gap`` frames of it): a run of at most
    ``max_len`` frames that turned so against one of them is the misreading
    (a fresh start of BlazePose that took the feet for the head).
    """
    frames = np.flatnonzero(np.asarray(found, bool) & np.isfinite(landmarks_img[..., :2]).all((1, 2)))
    out = np.zeros(len(landmarks_img), dtype=bool)
    if len(frames) < 2:
        return out
    angles = torso_angles(np.asarray(landmarks_img)[frames])
    near = np.diff(frames) <= max_gap
    cut = ~near | (torso_turns(angles[1:], angles[:-1]) > max_turn)
    starts = np.r_[0, np.flatnonzero(cut) + 1]
    ends = np.r_[starts[1:], len(frames)] - 1  # inclusive
    length = ends - starts + 1
    kept: list[int] = []
    for r in sorted(range(len(starts)), key=lambda r: -length[r]):  # longest first: the others' anchors
        before = max((k for k in kept if ends[k] < starts[r]), key=lambda k: ends[k], default=None)
        after = min((k for k in kept if starts[k] > ends[r]), key=lambda k: starts[k], default=None)
        meets = [(starts[r], ends[k], k) for k in (before,) if k is not None]
        meets += [(ends[r], starts[k], k) for k in (after,) if k is not None]
        turned = any(
            length[k] > length[r] and abs(frames[a] - frames[b]) <= max_gap
            and torso_turns(angles[a], angles[b]) > max_turn
            for a, b, k in meets
        )  # fmt: skip
        if turned and length[r] <= max_len:
            out[frames[starts[r] : ends[r] + 1]] = True
        else:
            kept.append(r)
    return out


def drop_flips(track: TrackLandmarks, config: SwapConfig, fps: float) -> tuple[TrackLandmarks, int]:
    """``track`` without its short upside-down runs (:func:`flip_runs`; those frames have no pose now), and how many.

    Runs up to ``config.flip_max_s`` seconds, turns across gaps up to as long; as it was when ``max_turn`` is None.
    """
    if config.max_turn is None:
        return track, 0
    max_len = max(1, int(round(config.flip_max_s * fps)))
    flipped = flip_runs(track.landmarks_img, track.found, config.max_turn, max_len, max_len)
    if not flipped.any():
        return track, 0
    image, world, found = track.landmarks_img.copy(), track.world.copy(), track.found.copy()
    image[flipped], world[flipped], found[flipped] = np.nan, np.nan, False
    image[flipped, :, 2] = 0.0
    return replace(track, landmarks_img=image, world=world, found=found), int(flipped.sum())


def torso_facing(landmarks_img: np.ndarray, min_visibility: float = 0.3) -> np.ndarray:
    """Signed torso width across its axis ``(n,)`` from ``(n, 33, 3)`` landmarks (pixels, visibility).

    ``(L − R) × up`` of the shoulders plus that of the hips (``up``: hip centre →
    shoulder centre), over the track's median squared torso length, sign chosen
    so that a body facing the camera is positive (its left side on the image's
    right). A torso foreshortened in a frame (bent towards the camera) has a
    short, unsure axis: its facing shrinks towards 0 with it, as a side view's.
    NaN where a torso point is missing or less visible than ``min_visibility``.
    """
    lm = np.asarray(landmarks_img, np.float64)
    up = torso_up(lm)
    seen = (lm[:, [_LS, _RS, _LH, _RH], 2] >= min_visibility).all(-1) & np.isfinite(up).all(-1)
    torso2 = np.median((up[seen] ** 2).sum(-1)) if seen.any() else np.nan
    across = lm[:, _LS, :2] - lm[:, _RS, :2] + lm[:, _LH, :2] - lm[:, _RH, :2]
    facing = (across[:, 1] * up[:, 0] - across[:, 0] * up[:, 1]) / (torso2 if torso2 > 0 else np.nan)
    return np.where(seen, facing, np.nan)


def swap_parity(facing: np.ndarray, config: SwapConfig | None = None) -> np.ndarray:
    """Which frames to read swapped ``(n,)`` bool, from the facing ``(n,)`` (NaN: no pose; keeps the frame before's).

    Viterbi over two states: the cost of a path is Σ ``|s_t f_t − s_{t−1} f_{t−1}|``
    (``s = ±1`` the parity's sign, over consecutive frames with a facing)
    plus ``switch_cost`` per change and ``swapped_cost`` per swapped frame.
    """
    config = config or SwapConfig()
    frames = np.flatnonzero(np.isfinite(facing))
    sign = np.array([1.0, -1.0])
    before, now = facing[frames[:-1], None, None], facing[frames[1:], None, None]
    jumps = np.abs(sign[None, None, :] * now - sign[None, :, None] * before)  # (m-1, previous, current)
    clear = np.minimum(np.abs(before), np.abs(now))[:, 0, 0] >= config.min_facing
    return _best_parity(len(facing), frames, jumps, np.where(clear, config.switch_cost, np.inf), config.swapped_cost)


def limb_parity(landmarks_img: np.ndarray, limb: str, config: SwapConfig | None = None) -> np.ndarray:
    """Frames ``(n,)`` bool where the two arms (``limb="arm"``) or legs (``"leg"``) read exchanged.

    From ``(n, 33, 3)`` landmarks: the path of least motion of the group's
    points, both sides, in torso lengths, over consecutive frames where all
    are found, plus ``limb_switch_cost`` per change of parity and
    ``limb_swapped_cost`` per exchanged frame.
    """
    config = config or SwapConfig()
    lm = np.asarray(landmarks_img, np.float64)
    left = _LIMB_LEFT[limb]
    sides = np.stack([lm[:, left, :2], lm[:, _FLIP[left], :2]], axis=1)  # (n, 2, G, 2): as read
    up = torso_up(lm)
    torso = np.nanmedian(np.linalg.norm(up, axis=-1)) if np.isfinite(up).any() else np.nan
    frames = np.flatnonzero(np.isfinite(sides).all((1, 2, 3)))
    if not torso > 0:
        frames = frames[:0]
    read = sides[frames] / torso
    options = np.stack([read, read[:, ::-1]], axis=1)  # (m, parity, side, G, 2)
    moves = np.linalg.norm(options[1:, None, :] - options[:-1, :, None], axis=-1).mean(-1).sum(-1)  # (m-1, prev, cur)
    gap = np.linalg.norm(read[:, 0] - read[:, 1], axis=-1).mean(-1)  # (m,) the two sides apart
    clear = np.minimum(gap[:-1], gap[1:]) >= config.min_limb_gap
    switch = np.where(clear, config.limb_switch_cost or 0.0, np.inf)
    return _best_parity(len(lm), frames, moves, switch, config.limb_swapped_cost)


def _best_parity(
    n: int, frames: np.ndarray, steps: np.ndarray, switch_cost: np.ndarray, swapped_cost: float
) -> np.ndarray:
    """Viterbi over two parities on ``frames (m,)`` of ``n``, with ``steps (m-1, previous, current)`` the cost of
    each transition, ``switch_cost (m-1,)`` per change there (inf: none) and ``swapped_cost`` per parity-1
    frame → ``(n,)`` bool (frames not in ``frames`` keep the parity of the frame before, those before the first 0)."""
    parity = np.zeros(n, dtype=bool)
    if len(frames) == 0:
        return parity
    change, per_frame = 1.0 - np.eye(2), np.array([0.0, swapped_cost])
    cost, back = per_frame.copy(), np.zeros((len(frames), 2), dtype=np.int64)
    for k in range(1, len(frames)):
        switch = np.where(change > 0, switch_cost[k - 1], 0.0)
        total = cost[:, None] + steps[k - 1] + switch  # [previous, current]
        back[k] = total.argmin(0)
        cost = total.min(0) + per_frame
    state = int(cost.argmin())
    for k in range(len(frames) - 1, -1, -1):
        parity[frames[k]] = bool(state)
        state = int(back[k, state])
    known = np.zeros(n, dtype=bool)
    known[frames] = True
    for i in range(frames[0] + 1, n):
        if not known[i]:
            parity[i] = parity[i - 1]
    return parity


def unswap_landmarks(
    landmarks_img: np.ndarray, world: np.ndarray, swapped: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Undo swaps on the ``swapped (n,)`` frames: ``(n, 33, 3)`` image landmarks left ↔ right (positions and
    visibility), world landmarks ``(n, 33, 3)`` left ↔ right and out of the depth mirror (z negated). Copies."""
    image, metric = np.array(landmarks_img, copy=True), np.array(world, copy=True)
    image[swapped] = image[swapped][:, _FLIP]
    metric[swapped] = metric[swapped][:, _FLIP] * np.array([1.0, 1.0, -1.0], metric.dtype)
    return image, metric


def exchange_limb(landmarks_img: np.ndarray, world: np.ndarray, limb: str, frames: np.ndarray) -> None:
    """Exchange the two arms' (or legs') points, image and world, on ``frames (n,)`` bool, in place."""
    left = _LIMB_LEFT[limb]
    both, other = np.concatenate([left, _FLIP[left]]), np.concatenate([_FLIP[left], left])
    for array in (landmarks_img, world):
        array[np.ix_(frames, both)] = array[np.ix_(frames, other)]


def short_runs(frames: np.ndarray, max_len: int) -> np.ndarray:
    """``frames (n,)`` bool without its runs of consecutive True longer than ``max_len`` (a copy)."""
    frames = np.asarray(frames, dtype=bool)
    return frames & ~drop_short_runs(frames[:, None], max_len + 1)[:, 0]  # without the runs of max_len + 1 and more


def repair_swaps(
    track: TrackLandmarks, config: SwapConfig | None = None, fps: float = 30.0
) -> tuple[TrackLandmarks, dict[str, int]]:
    """``track`` with its swaps undone, and how many frames of each kind (``"body"``, ``"arm"``, ``"leg"``) that was.

    The whole body's first (:func:`swap_parity`), then each limb group's on the
    result (:func:`limb_parity`, unless ``config.limb_switch_cost`` is None),
    keeping only exchanges of at most ``config.limb_max_run_s`` at ``fps``
    (frames of the track's ``frame_ids`` counted as consecutive).
    """
    config = config or SwapConfig()
    swapped = swap_parity(torso_facing(track.landmarks_img, config.min_visibility), config) & track.found
    image, world = unswap_landmarks(track.landmarks_img, track.world, swapped)
    counts = {"body": int(swapped.sum())}
    if config.limb_switch_cost is not None:
        for limb in _LIMBS:
            exchanged = limb_parity(image, limb, config) & track.found
            if config.limb_max_run_s is not None:
                exchanged = short_runs(exchanged, int(round(config.limb_max_run_s * fps)))
            exchange_limb(image, world, limb, exchanged)
            counts[limb] = int(exchanged.sum())
    if not any(counts.values()):
        return track, counts
    image, world = image.astype(track.landmarks_img.dtype), world.astype(track.world.dtype)
    return replace(track, landmarks_img=image, world=world), counts
