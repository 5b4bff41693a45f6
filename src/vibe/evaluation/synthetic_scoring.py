"""Scores of the synthetic benchmark: predictions of one video against its exact ground truth.

Pure functions on arrays (no demo run, no body model), so that every column of
the table can be checked on hand-made cases; :mod:`vibe.evaluation.synthetic_bench`
runs the demo and feeds them. Units: joints in metres in, errors in mm and
mm/frame² out, PCK in percent.

Rows scored per video (keys of :func:`score_video`):

- one per model track prediction (``model``, ``per_frame``, ``baseline:NAME``):
  PA-MPJPE, MPJPE (pelvis-centred), ACCEL, ACCEL_ERR on eval14, the same
  PA-MPJPE and ACCEL_ERR on the 12 limb joints MediaPipe also has
  (``pa_mpjpe12``, ``accel_err12``, hip-centred), ``pck2d``, and, when the
  prediction and the ground truth carry the body at rest, the body shape's
  errors (:func:`shape_metrics`: ``pve_t``, ``height_err``, ``height_abs_err``);
- ``mediapipe``: MediaPipe's world landmarks on those 12 joints
  (``pa_mpjpe12``, ``accel_err12``) and its image landmarks' ``pck2d``;
- ``mediapipe_smoothed``: the same world landmarks through
  :func:`smooth_over_time` (centred Gaussian, σ = 3 frames, within runs of
  consecutive frames, weights renormalised at run edges) and then
  :func:`constant_bone_lengths` (each limb bone at its median length over the
  video), on the 12 joints; no ``pck2d`` (the image landmarks are not
  smoothed, it would repeat the raw row's).

Acceleration metrics are computed within runs of consecutive frames of at
least 3 frames (a missing frame splits a run) and averaged over their
interior frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33
from vibe.body.joint_sets import EVAL14
from vibe.metrics import PELVIS_IDX, accel, accel_error, center_on_pelvis, mpjpe, pa_mpjpe
from vibe.pipeline.smoothing import gaussian_vectors

__all__ = [
    "COMMON12",
    "LIMB_BONES12",
    "PCK2D_THRESHOLD",
    "SMOOTH_SIGMA_FRAMES",
    "TrackPrediction",
    "aggregate",
    "body_metrics",
    "constant_bone_lengths",
    "consecutive_runs",
    "joint_metrics",
    "pck2d",
    "score_mediapipe",
    "score_mediapipe_smoothed",
    "score_track",
    "score_video",
    "shape_metrics",
    "smooth_over_time",
]

# Joints both eval14 and BlazePose-33 have (by name), in eval14 order.
COMMON12: tuple[str, ...] = tuple(n for n in EVAL14 if n in BLAZEPOSE33)
EVAL14_COMMON: tuple[int, ...] = tuple(EVAL14.index(n) for n in COMMON12)
BLAZEPOSE_COMMON: tuple[int, ...] = tuple(BLAZEPOSE33.index(n) for n in COMMON12)
HIPS12: tuple[int, int] = (COMMON12.index("right_hip"), COMMON12.index("left_hip"))  # pelvis of the 12 joints
PCK2D_THRESHOLD = 0.1  # × GT box side
SMOOTH_SIGMA_FRAMES = 3.0
# The limb bones of the 12 joints as (parent, child) names, parents first: from the hips
# outward (hip → knee → ankle; hip → shoulder → elbow → wrist). The hips hang off their midpoint.
LIMB_BONES12: tuple[tuple[str, str], ...] = tuple(
    (parent.format(side), child.format(side))
    for side in ("right", "left")
    for parent, child in (
        ("{}_hip", "{}_knee"),
        ("{}_knee", "{}_ankle"),
        ("{}_hip", "{}_shoulder"),
        ("{}_shoulder", "{}_elbow"),
        ("{}_elbow", "{}_wrist"),
    )
)


@dataclass(frozen=True)
class TrackPrediction:
    """One method's prediction of the scored track.

    Attributes:
        frame_ids: ``(n,)`` increasing frame indices.
        joints_eval14: ``(n, 14, 3)`` metres, any frame (alignment is per metric).
        joints2d_img: ``(n, 33, 2)`` BlazePose-33 pixels.
        vertices_rest: ``(V, 3)`` metres, the track's body shape in the rest pose
            (the same body model as the ground truth's), or ``None``: no shape columns.
    """

    frame_ids: np.ndarray
    joints_eval14: np.ndarray
    joints2d_img: np.ndarray
    vertices_rest: np.ndarray | None = None


def pck2d_hits(
    pred_px: np.ndarray, target_px: np.ndarray, visible: np.ndarray, threshold: float = PCK2D_THRESHOLD
) -> np.ndarray:
    """``(T, K)`` visible points whose prediction ``(T, K, 2)`` is within ``threshold`` × the box side.

    The box of frame ``t`` bounds its visible target points; its side is the longer one.
    """
    big = np.where(visible[..., None], target_px, np.nan)
    side = np.nanmax(np.nanmax(big, 1) - np.nanmin(big, 1), axis=-1)  # (T,)
    dist = np.linalg.norm(pred_px - target_px, axis=-1)
    return (dist <= threshold * side[:, None]) & visible


def pck2d(pred_px: np.ndarray, target_px: np.ndarray, visible: np.ndarray, threshold: float = PCK2D_THRESHOLD) -> float:
    """Percent of visible points ``(T, K)`` hit (:func:`pck2d_hits`)."""
    hits = pck2d_hits(pred_px, target_px, visible, threshold)
    return float(100.0 * hits.sum() / max(int(visible.sum()), 1))


def consecutive_runs(frame_ids: np.ndarray) -> list[np.ndarray]:
    """Positions ``(k,)`` of each run of consecutive ids in sorted ``frame_ids (n,)``."""
    breaks = np.flatnonzero(np.diff(frame_ids) != 1) + 1
    return list(np.split(np.arange(len(frame_ids)), breaks))


def joint_metrics(
    pred: np.ndarray, target: np.ndarray, frame_ids: np.ndarray, with_mpjpe: bool, pelvis_idx: Sequence[int] = PELVIS_IDX
) -> dict[str, float]:
    """Per-frame means over joints ``(n, J, 3)`` m: ``pa_mpjpe`` (+ ``mpjpe``, ``accel``), ``accel_err``.

    Acceleration is of pelvis-centred joints (``pelvis_idx``: the two hips), as
    the paper's evaluation does (the prediction has no global translation),
    within runs of consecutive ``frame_ids``; no run of 3 frames: no acceleration keys.
    """
    p, g = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(target, dtype=torch.float64)
    out = {"pa_mpjpe": float(pa_mpjpe(p, g).mean())}
    if with_mpjpe:
        out["mpjpe"] = float(mpjpe(p, g, pelvis_idx).mean())
    p, g = center_on_pelvis(p, pelvis_idx), center_on_pelvis(g, pelvis_idx)
    runs = [r for r in consecutive_runs(frame_ids) if len(r) >= 3]
    if runs:
        if with_mpjpe:
            out["accel"] = float(torch.cat([accel(p[r]) for r in runs]).mean())
        out["accel_err"] = float(torch.cat([accel_error(p[r], g[r]) for r in runs]).mean())
    return out


def _twelve(metrics: Mapping[str, float]) -> dict[str, float]:
    """12-joint metrics under their column names (``pa_mpjpe12``, ``accel_err12``)."""
    return {f"{k}12": v for k, v in metrics.items() if k in ("pa_mpjpe", "accel_err")}


def body_metrics(joints: np.ndarray, target: np.ndarray, frame_ids: np.ndarray) -> dict[str, float]:
    """Metrics of predicted eval14 joints ``(n, 14, 3)`` against ``target``: the 14-joint ones (pelvis-centred
    MPJPE, PA-MPJPE, ACCEL, ACCEL_ERR) and the 12 limb joints' (``pa_mpjpe12``, ``accel_err12``, hip-centred)."""
    metrics = joint_metrics(joints, target, frame_ids, with_mpjpe=True)
    common = list(EVAL14_COMMON)
    metrics.update(_twelve(joint_metrics(joints[:, common], target[:, common], frame_ids, False, HIPS12)))
    return metrics


def shape_metrics(vertices_rest: np.ndarray, target_rest: np.ndarray) -> dict[str, float]:
    """Errors of a body shape, both bodies in the rest pose ``(V, 3)`` metres, same mesh; mm.

    ``pve_t``: mean vertex distance once both meshes are centred on their mean
    vertex (the pose cannot hide a wrong build, only the shape is compared);
    ``height_err``: signed difference of the vertical (y) extents, prediction − truth
    (its mean over videos is the bias), ``height_abs_err`` its size.
    """
    pred, target = np.asarray(vertices_rest, np.float64), np.asarray(target_rest, np.float64)
    aligned = (pred - pred.mean(0)) - (target - target.mean(0))
    height = np.ptp(pred[:, 1]) - np.ptp(target[:, 1])
    pve_t = float(1000.0 * np.linalg.norm(aligned, axis=-1).mean())
    return {"pve_t": pve_t, "height_err": float(1000.0 * height), "height_abs_err": float(1000.0 * abs(height))}


def score_track(gt: Mapping[str, np.ndarray], pred: TrackPrediction) -> tuple[dict[str, float], int]:
    """Metrics of one predicted track on the frames it shares with the ground truth, and their number.

    ``gt``: a ``video_XXX.npz`` of :mod:`vibe.evaluation.synthetic_make`
    (``frame_ids``, ``joints3d_eval14``, ``keypoints2d_blazepose33``, ``visible_blazepose33``),
    optionally with ``vertices_rest (V, 3)``, its body in the rest pose (for :func:`shape_metrics`).
    """
    frames, pi, gi = np.intersect1d(pred.frame_ids, gt["frame_ids"], return_indices=True)
    if len(frames) == 0:
        return {}, 0
    metrics = body_metrics(np.asarray(pred.joints_eval14[pi], np.float64), gt["joints3d_eval14"][gi], frames)
    visible = gt["visible_blazepose33"][gi]
    metrics["pck2d"] = pck2d(np.asarray(pred.joints2d_img[pi], np.float64), gt["keypoints2d_blazepose33"][gi], visible)
    if pred.vertices_rest is not None and "vertices_rest" in gt:
        metrics.update(shape_metrics(pred.vertices_rest, gt["vertices_rest"]))
    return metrics, len(frames)


def _finite_world(gt: Mapping[str, np.ndarray], world: tuple[np.ndarray, np.ndarray]):
    """Frames with finite world landmarks that the ground truth has: ids ``(m,)``, 12 joints ``(m, 12, 3)``, GT ``(m, 12, 3)``."""
    frame_ids, landmarks = world
    both, wi, gi = np.intersect1d(frame_ids, gt["frame_ids"], return_indices=True)
    joints = np.asarray(landmarks[wi][:, list(BLAZEPOSE_COMMON)], np.float64)
    ok = np.isfinite(joints).all((1, 2))
    return both[ok], joints[ok], gt["joints3d_eval14"][gi[ok]][:, list(EVAL14_COMMON)]


def score_mediapipe(
    gt: Mapping[str, np.ndarray],
    frame_ids: np.ndarray,
    landmarks_img: np.ndarray | None,
    world: tuple[np.ndarray, np.ndarray] | None,
) -> dict[str, float]:
    """MediaPipe's own landmarks of the track: ``pck2d`` of the image ones, 12-joint metrics of the world ones.

    Args:
        frame_ids: ``(n,)`` the track's frames; landmarks_img ``(n, 33, 3)`` pixels
            (x, y, visibility), NaN where MediaPipe found no pose (a miss).
        world: world landmarks ``(frame_ids (m,), (m, 33, 3) metres)``; frames
            where they are not finite are left out (``n_frames`` counts the rest).
    """
    out: dict[str, float] = {}
    if landmarks_img is not None:
        _, pi, gi = np.intersect1d(frame_ids, gt["frame_ids"], return_indices=True)
        lm = np.asarray(landmarks_img[pi], np.float64)
        pred = np.where(np.isfinite(lm[..., :2]).all(-1)[..., None], lm[..., :2], np.inf)
        out["pck2d"] = pck2d(pred, gt["keypoints2d_blazepose33"][gi], gt["visible_blazepose33"][gi])
    if world is not None:
        frames, joints, target = _finite_world(gt, world)
        if len(frames):
            out.update(_twelve(joint_metrics(joints, target, frames, False, HIPS12)))
            out["n_frames"] = int(len(frames))
    return out


def smooth_over_time(frame_ids: np.ndarray, values: np.ndarray, sigma: float = SMOOTH_SIGMA_FRAMES) -> np.ndarray:
    """Centred Gaussian over time of ``values (n, ...)``, within each run of consecutive ``frame_ids (n,)``.

    The demo's own smoother (:func:`vibe.pipeline.smoothing.gaussian_vectors`):
    weights ``exp(−k²/2σ²)`` for offsets ``|k| ≤ 3σ``; near the ends of a run
    the weights that fall outside it are dropped and the rest renormalised
    (no reflection: a run's end is not mirrored motion).
    """
    return gaussian_vectors(values, sigma, np.asarray(frame_ids))


def constant_bone_lengths(joints12: np.ndarray) -> np.ndarray:
    """Joints ``(n, 12, 3)`` (COMMON12 order) with every limb bone at its median length over the ``n`` frames.

    Bones are rebuilt from the hips outward (:data:`LIMB_BONES12`): each child
    is placed along its original direction from its already rebuilt parent;
    the hips keep their midpoint and direction, at the median half-distance.
    """
    j = np.asarray(joints12, np.float64)
    out = np.empty_like(j)
    index = {name: COMMON12.index(name) for name in COMMON12}
    mid = j[:, list(HIPS12)].mean(axis=1)  # (n, 3)
    for hip in ("right_hip", "left_hip"):
        arm = j[:, index[hip]] - mid
        length = np.linalg.norm(arm, axis=-1, keepdims=True)
        out[:, index[hip]] = mid + arm / length * np.median(length)
    for parent, child in LIMB_BONES12:
        bone = j[:, index[child]] - j[:, index[parent]]
        length = np.linalg.norm(bone, axis=-1, keepdims=True)
        out[:, index[child]] = out[:, index[parent]] + bone / length * np.median(length)
    return out


def score_mediapipe_smoothed(
    gt: Mapping[str, np.ndarray], world: tuple[np.ndarray, np.ndarray] | None, sigma: float = SMOOTH_SIGMA_FRAMES
) -> dict[str, float]:
    """The smoothed-MediaPipe baseline: world landmarks smoothed over time, then constant bones; 12-joint metrics."""
    if world is None:
        return {}
    frames, joints, target = _finite_world(gt, world)
    if not len(frames):
        return {}
    smoothed = constant_bone_lengths(smooth_over_time(frames, joints, sigma))
    return {**_twelve(joint_metrics(smoothed, target, frames, False, HIPS12)), "n_frames": int(len(frames))}


def score_video(
    gt: Mapping[str, np.ndarray],
    predictions: Mapping[str, TrackPrediction],
    landmarks: tuple[np.ndarray, np.ndarray] | None = None,
    world: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, dict[str, float]], int]:
    """Every row's metrics for one video, and the number of frames the ``"model"`` prediction matched.

    Args:
        predictions: row key (``"model"`` first, then ``"per_frame"``,
            ``"baseline:NAME"``) → its prediction of the scored track.
        landmarks: the track's MediaPipe image landmarks ``(frame_ids (n,), (n, 33, 3))``.
        world: its MediaPipe world landmarks ``(frame_ids (m,), (m, 33, 3))``.

    Returns:
        ``({row key: metrics}, n_matched)``; no row when the model matched no frame.
    """
    model, n_matched = score_track(gt, predictions["model"])
    if not model:
        return {}, 0
    rows = {"model": model}
    for key, pred in predictions.items():
        if key != "model":
            rows[key] = score_track(gt, pred)[0]
    lm_frames, lm = landmarks if landmarks is not None else (predictions["model"].frame_ids, None)
    rows["mediapipe"] = score_mediapipe(gt, lm_frames, lm, world)
    rows["mediapipe_smoothed"] = score_mediapipe_smoothed(gt, world)
    return rows, n_matched


# Older result files named MediaPipe's 12-joint metrics like the eval14 ones.
_LEGACY_NAMES = {"mediapipe": {"pa_mpjpe": "pa_mpjpe12", "accel_err": "accel_err12"}}


def aggregate(videos: Sequence[Mapping], key: str) -> tuple[dict[str, float], int]:
    """Frame-weighted means of row ``key``'s metrics over the videos that have it, and its frame total.

    A video weighs by its row's ``n_frames`` when given (MediaPipe's frames
    with world landmarks), else by its ``n_matched``; a metric a video lacks
    (e.g. acceleration of a track without 3 consecutive frames) is averaged
    over the videos that have it.
    """
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    total = 0
    for v in videos:
        m = v["metrics"].get(key)
        if not m:
            continue
        rename = _LEGACY_NAMES.get(key, {})
        if any(new in m for new in rename.values()):
            rename = {}
        n = m.get("n_frames", v["n_matched"])
        total += n
        for name, value in m.items():
            name = rename.get(name, name)
            if name != "n_frames" and value is not None:
                sums[name] = sums.get(name, 0.0) + value * n
                weights[name] = weights.get(name, 0.0) + n
    return {k: sums[k] / weights[k] for k in sums if weights[k] > 0}, total
