"""Detection and tracking scores of people against ground-truth boxes (the crowd benchmark).

Per frame, the people found (boxes of tracks) are matched one-to-one to the
ground-truth people by box IoU (Hungarian, a pair counts when its IoU ≥
``min_iou``). A ground-truth person is *scored* on a frame when at least
``min_visible`` of their silhouette is seen (in the image and not behind
someone nearer) and they are at least ``min_height_px`` tall; the others are
"don't care": finding them is neither a hit nor a false positive.

- recall: scored person-frames matched / scored person-frames, per height
  bin and per side seen (front: facing the camera within 45°, back: turned
  away by more than 135°, side between);
- precision: matched found-frames / found-frames, where a found-frame matched
  to a don't-care person, or overlapping one by ``min_iou``, is left out;
- ghost tracks: found tracks whose boxes match a ground-truth person (scored
  or not) on fewer than ``ghost_fraction`` of their frames (MOT's notion
  of a track that is no one);
- identity switches (MOT's IDSW): for each ground-truth person, the times
  the track matched to them differs from the one last matched;
- tracks per person: how many different tracks matched each person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vibe.pipeline.detector import box_iou

__all__ = ["CrowdScoring", "HEIGHT_BINS_PX", "VIEW_BINS", "match_frame", "score_video", "merge_counts", "summarise"]

HEIGHT_BINS_PX = (60.0, 80.0, 120.0, 200.0, 400.0, np.inf)
VIEW_BINS = (("front", 0.0, 45.0), ("side", 45.0, 135.0), ("back", 135.0, 180.1))


@dataclass(frozen=True)
class CrowdScoring:
    """Thresholds of the scores (module docstring)."""

    min_iou: float = 0.5
    min_visible: float = 0.5
    min_height_px: float = 60.0
    ghost_fraction: float = 0.5


def match_frame(truth_xyxy: np.ndarray, found_xyxy: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """One-to-one ``(truth row, found row)`` pairs of one frame with IoU ≥ ``min_iou``, ``(P, 4)`` × ``(Q, 4)``."""
    if not len(truth_xyxy) or not len(found_xyxy):
        return []
    iou = box_iou(np.asarray(truth_xyxy, np.float64), np.asarray(found_xyxy, np.float64))
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]


def _bin_label(lo: float, hi: float) -> str:
    return f"{lo:.0f}+ px" if not np.isfinite(hi) else f"{lo:.0f}-{hi:.0f} px"


def _empty_counts() -> dict:
    bins = [_bin_label(lo, hi) for lo, hi in zip(HEIGHT_BINS_PX[:-1], HEIGHT_BINS_PX[1:])]
    return {
        "height": {b: [0, 0] for b in bins},  # [found, scored]
        "view": {name: [0, 0] for name, _, _ in VIEW_BINS},
        "at_least_80px": [0, 0],
        "found_frames": 0, "true_positive_frames": 0, "ignored_frames": 0,
        "tracks": 0, "ghost_tracks": 0, "identity_switches": 0, "people": 0, "tracks_per_person": [],
    }  # fmt: skip


def _tally(counts: dict, height_px: float, view_deg: float, hit: bool) -> None:
    """Count one scored person-frame in its height and view bins."""
    for lo, hi in zip(HEIGHT_BINS_PX[:-1], HEIGHT_BINS_PX[1:]):
        if lo <= height_px < hi:
            counts["height"][_bin_label(lo, hi)][0] += hit
            counts["height"][_bin_label(lo, hi)][1] += 1
    for name, lo, hi in VIEW_BINS:
        if lo <= view_deg < hi:
            counts["view"][name][0] += hit
            counts["view"][name][1] += 1
    if height_px >= 80.0:
        counts["at_least_80px"][0] += hit
        counts["at_least_80px"][1] += 1


def score_video(
    truth: Mapping[str, np.ndarray], found: Mapping[int, tuple[np.ndarray, np.ndarray]], scoring: CrowdScoring
) -> dict:
    """Counts of one video (sum them over videos with :func:`merge_counts`, rates by :func:`summarise`).

    Args:
        truth: ``boxes_xyxy (T, P, 4)``, ``height_px (T, P)``, ``visible (T, P)``,
            ``view_deg (T, P)`` (a crowd ``.npz``, :mod:`vibe.evaluation.crowd_make`).
        found: track id → ``(frame_ids (n,), boxes_xyxy (n, 4))`` the people found.
        scoring: the thresholds.
    """
    boxes, height, visible, view = (np.asarray(truth[k]) for k in ("boxes_xyxy", "height_px", "visible", "view_deg"))
    num_frames, num_people = height.shape
    scored = (visible >= scoring.min_visible) & (height >= scoring.min_height_px)
    rows_at: dict[int, list[tuple[int, np.ndarray]]] = {}
    for tid, (frame_ids, track_boxes) in found.items():
        for f, box in zip(np.asarray(frame_ids), np.asarray(track_boxes)):
            rows_at.setdefault(int(f), []).append((tid, box))
    counts = _empty_counts()
    matched_of: dict[int, int] = {tid: 0 for tid in found}  # track → frames matched to anyone
    last_track: dict[int, int] = {}
    seen_tracks: dict[int, set[int]] = {p: set() for p in range(num_people)}
    for f in range(num_frames):
        rows = rows_at.get(f, [])
        found_boxes = np.array([b for _, b in rows]).reshape(-1, 4)
        pairs = dict(match_frame(boxes[f], found_boxes, scoring.min_iou))  # truth → found row
        for p in range(num_people):
            if scored[f, p]:
                _tally(counts, float(height[f, p]), float(view[f, p]), p in pairs)
            if p in pairs:
                tid = rows[pairs[p]][0]
                matched_of[tid] += 1
                seen_tracks[p].add(tid)
                counts["identity_switches"] += int(p in last_track and last_track[p] != tid)
                last_track[p] = tid
        _count_found_frames(counts, rows, pairs, scored[f], boxes[f], found_boxes, scoring.min_iou)
    counts["tracks"] = len(found)
    counts["ghost_tracks"] = sum(
        matched_of[tid] < scoring.ghost_fraction * len(np.asarray(fids)) for tid, (fids, _) in found.items()
    )
    counts["people"] = int(np.sum(scored.any(axis=0)))
    counts["tracks_per_person"] = [len(seen_tracks[p]) for p in range(num_people) if scored[:, p].any()]
    return counts


def _count_found_frames(counts, rows, pairs, scored_f, truth_f, found_boxes, min_iou) -> None:
    """Precision counts of one frame: true positives, ignored (don't-care people) and all found rows."""
    by_found = {q: p for p, q in pairs.items()}
    care = np.asarray(scored_f, bool)
    dont_care = truth_f[~care]
    for q in range(len(rows)):
        if q in by_found:
            if care[by_found[q]]:
                counts["true_positive_frames"] += 1
                counts["found_frames"] += 1
            else:
                counts["ignored_frames"] += 1
        elif len(dont_care) and box_iou(found_boxes[q : q + 1], dont_care).max() >= min_iou:
            counts["ignored_frames"] += 1
        else:
            counts["found_frames"] += 1


def merge_counts(parts: list[dict]) -> dict:
    """Sum :func:`score_video` counts over videos."""
    out = _empty_counts()
    for part in parts:
        for group in ("height", "view"):
            for key, (hit, total) in part[group].items():
                out[group][key][0] += hit
                out[group][key][1] += total
        out["at_least_80px"] = [a + b for a, b in zip(out["at_least_80px"], part["at_least_80px"])]
        for key in ("found_frames", "true_positive_frames", "ignored_frames", "tracks", "ghost_tracks",
                    "identity_switches", "people"):  # fmt: skip
            out[key] += part[key]
        out["tracks_per_person"] += part["tracks_per_person"]
    return out


def _rate(hit: int, total: int) -> float | None:
    return round(hit / total, 4) if total else None


def summarise(counts: dict) -> dict:
    """Rates from counts: recall per bin, recall at ≥ 80 px, precision, ghosts, switches."""
    return {
        "recall_by_height": {k: {"recall": _rate(*v), "person_frames": v[1]} for k, v in counts["height"].items()},
        "recall_by_view": {k: {"recall": _rate(*v), "person_frames": v[1]} for k, v in counts["view"].items()},
        "recall_at_least_80px": _rate(*counts["at_least_80px"]),
        "precision": _rate(counts["true_positive_frames"], counts["found_frames"]),
        "false_positive_frames": counts["found_frames"] - counts["true_positive_frames"],
        "tracks": counts["tracks"],
        "ghost_tracks": counts["ghost_tracks"],
        "identity_switches": counts["identity_switches"],
        "people": counts["people"],
        "mean_tracks_per_person": round(float(np.mean(counts["tracks_per_person"])), 3)
        if counts["tracks_per_person"] else None,
    }  # fmt: skip
