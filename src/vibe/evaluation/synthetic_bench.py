"""The synthetic benchmark's runner: the demo on rendered Anny videos, scored against their exact ground truth.

The videos and their ground truth (layout, ``video_XXX.npz`` keys) come from
:func:`vibe.evaluation.synthetic_make.make_synthetic_benchmark`.

:func:`run_synthetic_benchmark` runs the demo (:func:`~vibe.pipeline.run.run_demo`,
no rendering) on every video and compares its longest track with the ground
truth on the frames both have. JSON written (and returned)::

    {"dataset": "synthetic", "title": "Synthetic (Anny, held-out CMU)", "bench_dir": ...,
     "checkpoint": ..., "baselines": {"<name>": "<checkpoint>"}, "n_videos": ..., "n_frames": ...,
     "n_matched_frames": ..., "protocol": {"joints": "eval14", "alignment": ..., "pck2d": ...},
     "rows": [{"key": ..., "label": ..., "title": ..., "n_frames": ..., "metrics": {...}}, ...],
     "videos": [{"video": ..., "n_gt_frames": ..., "n_matched": ..., "n_tracks": ..., "seconds": ...,
                 "reused_cache": {"<name>": true}, "metrics": {"<row key>": {...}}}, ...],
     "units": {...}, "created": ...}

Rows (``vibe.evaluation.report.table_row`` takes each), in this order, with
their ``key``:

- the generator (full demo pipeline): PA-MPJPE, MPJPE (pelvis-centred), ACCEL,
  ACCEL_ERR on eval14 (mm, mm/frame²), and ``pck2d``: percent of GT-visible
  blazepose33 points whose reprojection (the demo's ``joints2d_img``) lies
  within 0.1 × the GT person box (the longer side of the box around the
  visible GT 2D points) — PCK@0.1·box (``model``);
- the same checkpoint in per-frame mode, its GRU run on windows of one frame
  on the same landmarks and boxes (``per_frame``; why this is the paper's
  frame-based baseline: :mod:`vibe.evaluation.track_regression`);
- each baseline checkpoint (``baseline:NAME``, e.g. G-only): the demo run
  again with it, starting from copies of the first run's detection and
  landmark caches, so every row sees the same tracks and landmarks, scored on
  the same track;
- MediaPipe world landmarks (``mediapipe``): the 12 limb joints both sets have (shoulders,
  elbows, wrists, hips, knees, ankles), PA-MPJPE and ACCEL_ERR on those
  against the same 12 GT joints (MediaPipe's hips are not anatomical, so
  its MPJPE is left out); ``pck2d`` of its image landmarks.
  The world landmarks are read from the demo's landmark cache
  (``.cache/landmarks-*.npz``), since ``results.npz`` stores only the image ones.
  The generator's 12-joint PA-MPJPE and ACCEL_ERR are reported too
  (``pa_mpjpe12``, ``accel_err12``, hip-centred as MediaPipe's) for a
  like-for-like comparison.

Known limit: the body is an untextured mannequin (no face, hair or clothes),
so a person seen from behind is often taken as facing the camera (MediaPipe
then mirrors left and right), which no real video does as often; such
videos score low for every method.

:func:`pool_results` merges the JSON of several benchmark folders (e.g.
rendered with different seeds) into one table.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33, Anny
from vibe.body.joint_sets import EVAL14
from vibe.evaluation.track_regression import load_open_generator, regress_track
from vibe.metrics import PELVIS_IDX, accel, accel_error, center_on_pelvis, mpjpe, pa_mpjpe
from vibe.models.vibe import VIBE

__all__ = [
    "COMMON12",
    "parse_baselines",
    "pck2d",
    "pool_results",
    "run_synthetic_benchmark",
    "write_json",
]

# Joints both eval14 and BlazePose-33 have (by name).
COMMON12: tuple[str, ...] = tuple(n for n in EVAL14 if n in BLAZEPOSE33)
_EVAL14_COMMON = [EVAL14.index(n) for n in COMMON12]
_HIPS12 = tuple(COMMON12.index(n) for n in ("right_hip", "left_hip"))  # pelvis of the 12 joints
PCK2D_THRESHOLD = 0.1  # × GT box side
TITLE = "Synthetic (Anny, held-out CMU)"


def pck2d(pred_px: np.ndarray, target_px: np.ndarray, visible: np.ndarray, threshold: float = PCK2D_THRESHOLD) -> float:
    """Percent of visible points ``(T, K)`` whose prediction ``(T, K, 2)`` is within ``threshold`` × the box side.

    The box of frame ``t`` bounds its visible target points; its side is the longer one.
    """
    big = np.where(visible[..., None], target_px, np.nan)
    side = np.nanmax(np.nanmax(big, 1) - np.nanmin(big, 1), axis=-1)  # (T,)
    dist = np.linalg.norm(pred_px - target_px, axis=-1)
    hits = (dist <= threshold * side[:, None]) & visible
    return float(100.0 * hits.sum() / max(int(visible.sum()), 1))


def _runs(frame_ids: np.ndarray) -> list[np.ndarray]:
    """Split sorted positions into runs of consecutive frame ids (index arrays)."""
    breaks = np.flatnonzero(np.diff(frame_ids) != 1) + 1
    return [r for r in np.split(np.arange(len(frame_ids)), breaks)]


def _joint_metrics(
    pred: np.ndarray, target: np.ndarray, frame_ids: np.ndarray, with_mpjpe: bool, pelvis_idx=PELVIS_IDX
) -> dict:
    """Per-frame means over ``(n, J, 3)`` metres; acceleration over runs of consecutive frames.

    Acceleration is of pelvis-centred joints (``pelvis_idx``: the two hips), as
    the paper's evaluation does: the prediction has no global translation.
    """
    p, g = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(target, dtype=torch.float64)
    out = {"pa_mpjpe": float(pa_mpjpe(p, g).mean())}
    if with_mpjpe:
        out["mpjpe"] = float(mpjpe(p, g, pelvis_idx).mean())
    p, g = center_on_pelvis(p, pelvis_idx), center_on_pelvis(g, pelvis_idx)
    acc, err = [], []
    for run in _runs(frame_ids):
        if len(run) >= 3:
            acc.append(accel(p[run]))
            err.append(accel_error(p[run], g[run]))
    if acc:
        if with_mpjpe:
            out["accel"] = float(torch.cat(acc).mean())
        out["accel_err"] = float(torch.cat(err).mean())
    return out


def _world_landmarks(out_dir: Path, track_id: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The demo's cached MediaPipe world landmarks of a track: frame ids ``(n,)``, ``(n, 33, 3)``."""
    caches = list((out_dir / ".cache").glob("landmarks-*.npz"))
    if not caches:
        return None
    # The run just made wrote or reused the newest one.
    with np.load(max(caches, key=lambda p: p.stat().st_mtime), allow_pickle=False) as npz:
        if f"{track_id}/world" not in npz.files:
            return None
        return npz[f"{track_id}/frame_ids"], npz[f"{track_id}/world"]


@torch.no_grad()
def _eval14(body: Anny, pose_rotmat: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Predicted eval14 joints ``(n, 14, 3)`` (body frame, metres)."""
    posed = body(torch.as_tensor(pose_rotmat, dtype=body.dtype), torch.as_tensor(shape, dtype=body.dtype))
    return body.keypoints(posed, "eval14").double().numpy()


def _score_track(
    body: Anny, gt: dict, frame_ids: np.ndarray, pose_rotmat: np.ndarray, shape: np.ndarray, joints2d_img: np.ndarray
) -> tuple[dict, int]:
    """Metrics of one predicted track against the ground truth, and the number of frames both have.

    Args:
        gt: the video's ground truth (``video_XXX.npz``).
        frame_ids: ``(n,)`` the track's frames; pose_rotmat ``(n, J, 3, 3)``,
            shape ``(n, S)``, joints2d_img ``(n, 33, 2)`` blazepose33 pixels.
    """
    frames, pred_idx, gt_idx = np.intersect1d(frame_ids, gt["frame_ids"], return_indices=True)
    if len(frames) == 0:
        return {}, 0
    target = gt["joints3d_eval14"][gt_idx]
    pred = _eval14(body, pose_rotmat[pred_idx], shape[pred_idx])
    metrics = _joint_metrics(pred, target, frames, with_mpjpe=True)
    like_mediapipe = _joint_metrics(pred[:, _EVAL14_COMMON], target[:, _EVAL14_COMMON], frames, False, _HIPS12)
    metrics["pa_mpjpe12"] = like_mediapipe["pa_mpjpe"]
    metrics["accel_err12"] = like_mediapipe.get("accel_err")
    visible = gt["visible_blazepose33"][gt_idx]
    target2d = gt["keypoints2d_blazepose33"][gt_idx]
    metrics["pck2d"] = pck2d(np.asarray(joints2d_img[pred_idx], np.float64), target2d, visible)
    return metrics, len(frames)


def _score_mediapipe(gt: dict, track: dict, world: tuple[np.ndarray, np.ndarray] | None) -> dict:
    """MediaPipe's own landmarks of the track: 2D PCK of the image ones, 12-joint 3D metrics of the world ones."""
    _, pred_idx, gt_idx = np.intersect1d(track["frame_ids"], gt["frame_ids"], return_indices=True)
    out = {}
    if "landmarks_img" in track:
        lm = track["landmarks_img"][pred_idx].astype(np.float64)
        found = np.isfinite(lm[..., :2]).all(-1)
        pred = np.where(found[..., None], lm[..., :2], np.inf)
        out["pck2d"] = pck2d(pred, gt["keypoints2d_blazepose33"][gt_idx], gt["visible_blazepose33"][gt_idx])
    if world is None:
        return out
    wf, wl = world
    both, wi, gi = np.intersect1d(wf, gt["frame_ids"], return_indices=True)
    ok = np.isfinite(wl[wi]).all((1, 2))
    both, wi, gi = both[ok], wi[ok], gi[ok]
    if len(both):
        mp_common = [BLAZEPOSE33.index(n) for n in COMMON12]
        target = gt["joints3d_eval14"][gi][:, _EVAL14_COMMON]
        out.update(_joint_metrics(wl[wi][:, mp_common], target, both, False, _HIPS12))
        out["n_frames"] = int(len(both))
    return out


def _seed_cache(done_dir: Path, new_dir: Path) -> None:
    """Copy a finished run's detection and landmark caches so that another run of the same video reuses them."""
    cache = new_dir / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    for path in (done_dir / ".cache").glob("*.npz"):
        shutil.copy2(path, cache / path.name)


def _label_dir(label: str) -> str:
    """A folder name for a row label."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "baseline"


def _evaluate_video(
    video: Path,
    checkpoint: Path,
    work: Path,
    body: Anny,
    per_frame_model: VIBE | None,
    baselines: Mapping[str, Path],
) -> dict:
    """Run the demo on one video with the checkpoint (and each baseline) and score the longest track.

    The baselines' demo runs start from copies of the first run's detection and
    landmark caches, so that every row sees the same tracks and landmarks.
    """
    from vibe.pipeline.outputs import read_results
    from vibe.pipeline.run import DemoConfig, run_demo

    gt = dict(np.load(video.with_suffix(".npz")))
    started = time.perf_counter()
    result = run_demo(video, work, DemoConfig(checkpoint=checkpoint, render=False, progress=False))
    seconds = time.perf_counter() - started
    _, people = read_results(result.results)
    entry = {"video": video.name, "n_gt_frames": len(gt["frame_ids"]), "seconds": seconds, "metrics": {}}
    if not people:
        entry["n_matched"] = 0
        return entry
    tid = max(people, key=lambda t: len(people[t]["frame_ids"]))  # the rendered person: the longest track
    track = people[tid]
    entry["n_tracks"] = len(people)
    model, entry["n_matched"] = _score_track(
        body, gt, track["frame_ids"], track["pose_rotmat"], track["shape"], track["joints2d_img"]
    )
    if not model:
        return entry
    entry["metrics"]["model"] = model
    world = _world_landmarks(result.out_dir, tid)

    if per_frame_model is not None:
        world_lm = None
        if per_frame_model.config.keypoint_encoder.use_world:
            if world is None or not np.array_equal(world[0], track["frame_ids"]):
                raise RuntimeError(f"{video.name}: no cached world landmarks for track {tid}")
            world_lm = world[1]
        w, h = (int(v) for v in gt["image_size"])
        pred = regress_track(
            per_frame_model, track["landmarks_img"], track["bbox_cxcys"], (w, h), None, landmarks_world=world_lm
        )
        entry["metrics"]["per_frame"] = _score_track(
            body, gt, track["frame_ids"], pred.pose_rotmat, pred.shape, pred.joints2d_img
        )[0]

    entry["reused_cache"] = {}
    for name, ckpt in baselines.items():
        base_work = work / "baselines" / _label_dir(name)
        _seed_cache(result.out_dir, base_work / video.stem)
        base = run_demo(video, base_work, DemoConfig(checkpoint=ckpt, render=False, progress=False))
        entry["reused_cache"][name] = not {"detect_track", "landmarks"} & set(base.timings)
        base_track = read_results(base.results)[1].get(tid)
        if base_track is not None:
            entry["metrics"][f"baseline:{name}"] = _score_track(
                body, gt, base_track["frame_ids"], base_track["pose_rotmat"], base_track["shape"],
                base_track["joints2d_img"],
            )[0]  # fmt: skip

    entry["metrics"]["mediapipe"] = _score_mediapipe(gt, track, world)
    return entry


def _aggregate(videos: list[dict], key: str) -> tuple[dict, int]:
    """Frame-weighted means of each metric over the videos that have it."""
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    total = 0
    for v in videos:
        m = v["metrics"].get(key)
        if not m:
            continue
        n = m.get("n_frames", v["n_matched"])
        total += n
        for name, value in m.items():
            if name != "n_frames" and value is not None:
                sums[name] = sums.get(name, 0.0) + value * n
                weights[name] = weights.get(name, 0.0) + n
    return {k: sums[k] / weights[k] for k in sums if weights[k] > 0}, total


def parse_baselines(specs: Sequence[str]) -> dict[str, Path]:
    """``["NAME=CKPT", ...]`` (the CLI's ``--baseline``) → ``{NAME: Path(CKPT)}``, in order; names must differ."""
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"baseline {spec!r}: expected NAME=CHECKPOINT")
        if name.strip() in out:
            raise ValueError(f"baseline name {name.strip()!r} given twice")
        out[name.strip()] = Path(path.strip())
    return out


def _rows(videos: list[dict], checkpoint: Path, per_frame: bool, baselines: Mapping[str, Path]) -> list[dict]:
    """The table rows, in order: the model, its per-frame mode, each baseline, MediaPipe."""
    title = TITLE
    labelled = [("model", checkpoint.name)]
    if per_frame:
        labelled.append(("per_frame", f"{checkpoint.name}, per-frame (1-frame windows)"))
    labelled += [(f"baseline:{name}", name) for name in baselines]
    labelled.append(("mediapipe", "MediaPipe world landmarks (12 joints)"))
    rows = []
    for key, label in labelled:
        metrics, n_frames = _aggregate(videos, key)
        rows.append({"key": key, "label": label, "title": title, "n_frames": n_frames, "metrics": metrics})
    return rows


def pool_results(results: Sequence[dict]) -> dict:
    """One result from several runs' JSON (e.g. benchmarks rendered with different seeds): rows over all videos.

    The runs must have the same rows (same checkpoint and baselines); each video
    entry gets its run's ``bench_dir``.
    """
    if not results:
        raise ValueError("nothing to pool")
    keys = [[(r["key"], r["label"]) for r in res["rows"]] for res in results]
    if any(k != keys[0] for k in keys):
        raise ValueError("the runs have different rows")
    videos = [dict(v, bench_dir=res["bench_dir"]) for res in results for v in res["videos"]]
    pooled = dict(results[0])
    pooled.update(
        bench_dir=[res["bench_dir"] for res in results],
        n_videos=sum(res["n_videos"] for res in results),
        n_frames=sum(res["n_frames"] for res in results),
        n_matched_frames=sum(res["n_matched_frames"] for res in results),
        videos=videos,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    pooled["rows"] = []
    for key, label in keys[0]:
        metrics, n_frames = _aggregate(videos, key)
        pooled["rows"].append({"key": key, "label": label, "title": TITLE, "n_frames": n_frames, "metrics": metrics})
    return pooled


def write_json(result: dict, path: str | os.PathLike) -> Path:
    """Write a benchmark result (indented JSON) under a temporary name, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)
    return path


def run_synthetic_benchmark(
    bench_dir: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out_json: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    body: Anny | None = None,
    baselines: Mapping[str, str | os.PathLike] | None = None,
    per_frame: bool = True,
) -> dict:
    """Run the demo on every ``video_*.mp4`` of ``bench_dir`` and score it (JSON in the module docstring).

    Args:
        checkpoint: one of our open-stack checkpoints.
        out_json: where to write the JSON (``None``: not written).
        work_dir: the demo's outputs (default ``bench_dir/runs``; baselines
            under ``work_dir/baselines/NAME``).
        baselines: row label → another open-stack checkpoint (e.g. G-only),
            run through the demo on the same detections and landmarks.
        per_frame: add the checkpoint's per-frame row (:mod:`vibe.evaluation.track_regression`).

    Returns:
        The JSON dict; ``result["rows"]`` go to :func:`vibe.evaluation.report.table_row`.
    """
    bench = Path(bench_dir)
    work = Path(work_dir) if work_dir is not None else bench / "runs"
    body = body or Anny()
    checkpoint = Path(checkpoint)
    baselines = {name: Path(path) for name, path in (baselines or {}).items()}
    for path in (checkpoint, *baselines.values()):
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint {path}")
    videos = sorted(bench.glob("video_*.mp4"))
    if not videos:
        raise FileNotFoundError(f"no video_*.mp4 in {bench}")
    per_frame_model = load_open_generator(checkpoint, body) if per_frame else None
    per_video = [_evaluate_video(v, checkpoint, work, body, per_frame_model, baselines) for v in videos]
    result = {
        "dataset": "synthetic",
        "title": TITLE,
        "bench_dir": str(bench),
        "checkpoint": str(checkpoint),
        "baselines": {name: str(path) for name, path in baselines.items()},
        "n_videos": len(videos),
        "n_frames": int(sum(v["n_gt_frames"] for v in per_video)),
        "n_matched_frames": int(sum(v["n_matched"] for v in per_video)),
        "protocol": {
            "joints": "eval14",
            "alignment": "mpjpe: pelvis-centred; pa_mpjpe: Procrustes per frame; "
            "mediapipe, pa_mpjpe12 and accel_err12: 12 common limb joints (hip-centred)",
            "pck2d": f"blazepose33 pixels within {PCK2D_THRESHOLD} x GT box side (visible GT points)",
            "track": "the longest track of the checkpoint's run, frames matched by id; "
            "baselines reuse its detections and landmarks",
            "per_frame": "the checkpoint's GRU on windows of one frame (zero state each frame)",
        },
        "rows": _rows(per_video, checkpoint, per_frame, baselines),
        "videos": per_video,
        "units": {"pa_mpjpe": "mm", "pa_mpjpe12": "mm", "mpjpe": "mm", "accel": "mm/frame^2",
                  "accel_err": "mm/frame^2", "accel_err12": "mm/frame^2", "pck2d": "%"},  # fmt: skip
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if out_json is not None:
        write_json(result, out_json)
    return result
