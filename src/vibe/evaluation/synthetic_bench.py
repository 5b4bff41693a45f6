"""The synthetic benchmark's runner: the demo on rendered Anny videos, scored against their exact ground truth.

The videos and their ground truth (layout, ``video_XXX.npz`` keys) come from
:func:`vibe.evaluation.synthetic_make.make_synthetic_benchmark`.

:func:`run_synthetic_benchmark` runs the demo (:func:`~vibe.pipeline.run.run_demo`,
no rendering) on every video and compares its longest track with the ground
truth on the frames both have. JSON written (and returned)::

    {"dataset": "synthetic", "title": "Synthetic (Anny, <motion label>)", "motion": ..., "licences": [...],
     "bench_dir": ..., "checkpoint": ..., "baselines": {"<name>": "<checkpoint>"}, "n_videos": ...,
     "n_frames": ..., "n_matched_frames": ..., "n_videos_no_person": ..., "videos_no_person": [...],
     "protocol": {"joints": "eval14", "alignment": ..., "pck2d": ...},
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
  elbows, wrists, hips, knees, ankles), ``pa_mpjpe12`` and ``accel_err12``
  against the same 12 GT joints (MediaPipe's hips are not anatomical, so
  its MPJPE is left out); ``pck2d`` of its image landmarks.
  The world landmarks are read from the demo's landmark cache
  (``.cache/landmarks-*.npz``), since ``results.npz`` stores only the image ones.
  Every model row reports ``pa_mpjpe12`` and ``accel_err12`` too
  (hip-centred as MediaPipe's) for a like-for-like comparison;
- smoothed MediaPipe (``mediapipe_smoothed``): the same world landmarks
  through a centred Gaussian over time (σ = 3 frames, within runs of
  consecutive frames, weights renormalised at run ends) and then constant
  bone lengths per video (each limb bone at its median length, from the
  hips outward): what a user would try first; 12-joint metrics only.

The scoring itself (pure functions, checked on hand-made cases) is
:mod:`vibe.evaluation.synthetic_scoring`.

Known limit: the body is an untextured mannequin (no face, hair or clothes),
so a person seen from behind is often taken as facing the camera (MediaPipe
then mirrors left and right), which no real video does as often; such
videos score low for every method.

:func:`pool_results` merges the JSON of several benchmark folders (e.g.
rendered with different seeds) into one table.
"""

from __future__ import annotations

import dataclasses
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

from vibe.body.anny import Anny
from vibe.evaluation.synthetic_scoring import (
    COMMON12,
    PCK2D_THRESHOLD,
    SMOOTH_SIGMA_FRAMES,
    TrackPrediction,
    aggregate,
    pck2d,
    score_video,
)
from vibe.evaluation.synthetic_make import CMU_LABEL
from vibe.evaluation.track_regression import load_open_generator, regress_track
from vibe.fitting.temporal_smplify import SMPLifyConfig
from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.label_swaps import SwapConfig
from vibe.models.vibe import VIBE

__all__ = [
    "COMMON12",
    "bench_motion",
    "bench_title",
    "cached_landmarks",
    "cached_world_landmarks",
    "demo_options",
    "parse_baselines",
    "pck2d",
    "pool_results",
    "posed_eval14",
    "run_synthetic_benchmark",
    "table_rows",
    "write_json",
]

TITLE = "Synthetic (Anny, held-out CMU)"  # the bundled database's set; others name their motion


def bench_motion(bench: Path) -> tuple[str, list[str]]:
    """The motion a benchmark folder shows: its label and licences.

    From ``benchmark.json`` (:func:`~vibe.evaluation.synthetic_make.write_set_summary`);
    folders rendered before it existed are labelled from their videos' JSON
    (``held-out CMU`` when every licence names CMU).
    """
    summary = bench / "benchmark.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        return str(data["label"]), list(data["licences"])
    licences = list(dict.fromkeys(json.loads(p.read_text())["licence"] for p in sorted(bench.glob("video_*.json"))))
    label = CMU_LABEL if licences and all("CMU" in lic for lic in licences) else "unnamed mocap"
    return label, licences


def bench_title(label: str, n_videos: int, n_no_person: int) -> str:
    """``Synthetic (Anny, LABEL)``, with how many videos had nobody found when some had."""
    title = f"Synthetic (Anny, {label})"
    return f"{title}, nobody found in {n_no_person}/{n_videos} videos" if n_no_person else title


def cached_landmarks(out_dir: Path, track_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The demo's cached MediaPipe landmarks of a track, as detected (before any repair of left/right swaps):
    frame ids ``(n,)``, image landmarks ``(n, 33, 3)`` (pixels, visibility), world landmarks ``(n, 33, 3)``."""
    caches = list((out_dir / ".cache").glob("landmarks-*.npz"))
    if not caches:
        return None
    # The run just made wrote or reused the newest one.
    with np.load(max(caches, key=lambda p: p.stat().st_mtime), allow_pickle=False) as npz:
        if f"{track_id}/world" not in npz.files:
            return None
        return npz[f"{track_id}/frame_ids"], npz[f"{track_id}/landmarks_img"], npz[f"{track_id}/world"]


def cached_world_landmarks(out_dir: Path, track_id: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The demo's cached MediaPipe world landmarks of a track: frame ids ``(n,)``, ``(n, 33, 3)``."""
    cached = cached_landmarks(out_dir, track_id)
    return None if cached is None else (cached[0], cached[2])


@torch.no_grad()
def posed_eval14(body: Anny, pose_rotmat: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Predicted eval14 joints ``(n, 14, 3)`` (body frame, metres)."""
    posed = body(torch.as_tensor(pose_rotmat, dtype=body.dtype), torch.as_tensor(shape, dtype=body.dtype))
    return body.keypoints(posed, "eval14").double().numpy()


@torch.no_grad()
def rest_vertices(body: Anny, shape: np.ndarray) -> np.ndarray:
    """The body of shape ``(S,)`` in the rest pose: vertices ``(V, 3)`` metres."""
    shape_t = torch.as_tensor(shape, dtype=body.dtype).reshape(1, -1)
    return body(body.rest_pose(1), shape_t).vertices[0].double().numpy()


def _prediction(
    body: Anny, frame_ids: np.ndarray, pose_rotmat: np.ndarray, shape: np.ndarray, joints2d_img: np.ndarray
) -> TrackPrediction:
    """A track's poses ``(n, J, 3, 3)``, shapes ``(n, S)`` and 2D joints ``(n, 33, 2)`` as a :class:`TrackPrediction`
    (its body at rest: the track's mean shape)."""
    joints = posed_eval14(body, pose_rotmat, shape)  # posed with ``body``, eval14
    rest = rest_vertices(body, np.asarray(shape).mean(0))
    return TrackPrediction(np.asarray(frame_ids), joints, np.asarray(joints2d_img, np.float64), rest)


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
    baselines: Mapping[str, tuple[Path, dict]],
) -> dict:
    """Run the demo on one video with the checkpoint (and each baseline) and score the longest track.

    The baselines' demo runs start from copies of the first run's detection and
    landmark caches, so that every row sees the same tracks and landmarks.
    """
    from vibe.pipeline.outputs import read_results
    from vibe.pipeline.run import run_demo

    gt = dict(np.load(video.with_suffix(".npz")))
    if "shape" in gt:
        gt["vertices_rest"] = rest_vertices(body, gt["shape"])
    started = time.perf_counter()
    result = run_demo(video, work, DemoConfig(checkpoint=checkpoint, render=False, progress=False))
    seconds = time.perf_counter() - started
    _, people = read_results(result.results)
    entry = {"video": video.name, "n_gt_frames": len(gt["frame_ids"]), "seconds": seconds, "metrics": {}}
    if not people:  # counted in the result (n_videos_no_person), never dropped silently
        entry.update(n_matched=0, n_tracks=0)
        return entry
    tid = max(people, key=lambda t: len(people[t]["frame_ids"]))  # the rendered person: the longest track
    track = people[tid]
    entry["n_tracks"] = len(people)
    entry["n_matched"] = len(np.intersect1d(track["frame_ids"], gt["frame_ids"]))
    if not entry["n_matched"]:
        return entry
    predictions = {"model": _prediction(body, track["frame_ids"], track["pose_rotmat"], track["shape"], track["joints2d_img"])}
    # MediaPipe as detected: results.npz keeps the landmarks after the demo's repair of left/right swaps.
    cached = cached_landmarks(result.out_dir, tid)
    same = cached is not None and np.array_equal(cached[0], track["frame_ids"])
    world = None if cached is None else (cached[0], cached[2])

    if per_frame_model is not None:
        # The demo gives its fit the world landmarks whatever the encoder reads: so does this row.
        if not same and per_frame_model.config.keypoint_encoder.use_world:
            raise RuntimeError(f"{video.name}: no cached landmarks for track {tid}")
        w, h = (int(v) for v in gt["image_size"])
        cleanup = DemoConfig()  # the model row's swap repair, mirror average and offline clean-up, applied alike
        pred = regress_track(
            per_frame_model, cached[1] if same else track["landmarks_img"], track["bbox_cxcys"], (w, h), None,
            landmarks_world=cached[2] if same else None, frame_ids=track["frame_ids"],
            centred_sigma=cleanup.centred_sigma, fit_camera=cleanup.fit_camera, refine=cleanup.landmark_fit,
            linear_edges=cleanup.centred_linear_edges, label_swaps=cleanup.label_swaps,
            flip_average=cleanup.flip_average,
        )  # fmt: skip
        predictions["per_frame"] = _prediction(body, track["frame_ids"], pred.pose_rotmat, pred.shape, pred.joints2d_img)

    entry["reused_cache"] = {}
    for name, (ckpt, options) in baselines.items():
        base_work = work / "baselines" / _label_dir(name)
        _seed_cache(result.out_dir, base_work / video.stem)
        base = run_demo(video, base_work, DemoConfig(checkpoint=ckpt, render=False, progress=False, **options))
        entry["reused_cache"][name] = not {"detect_track", "landmarks", "people_landmarks"} & set(base.timings)
        base_track = read_results(base.results)[1].get(tid)
        if base_track is not None:
            predictions[f"baseline:{name}"] = _prediction(
                body, base_track["frame_ids"], base_track["pose_rotmat"], base_track["shape"], base_track["joints2d_img"]
            )

    landmarks = (cached[0], cached[1]) if cached is not None else None
    entry["metrics"], entry["n_matched"] = score_video(gt, predictions, landmarks, world)
    return entry


def parse_baselines(specs: Sequence[str]) -> dict[str, Path | tuple[Path, dict]]:
    """``["NAME=CKPT", "NAME=CKPT,option=value,...", ...]`` (the CLI's ``--baseline``) → ``{NAME: spec}``.

    A spec is the checkpoint's path, or ``(path, demo options)`` when options
    follow (``DemoConfig`` fields: ``centred_sigma=0``, ``fit_camera=false``);
    in order; names must differ.
    """
    out: dict[str, Path | tuple[Path, dict]] = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        path, *pairs = rest.split(",")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"baseline {spec!r}: expected NAME=CHECKPOINT[,option=value...]")
        if name.strip() in out:
            raise ValueError(f"baseline name {name.strip()!r} given twice")
        options = demo_options(pairs)
        out[name.strip()] = (Path(path.strip()), options) if options else Path(path.strip())
    return out


def demo_options(pairs: Sequence[str]) -> dict:
    """``["centred_sigma=0", "refine_steps=6", "fit.world_plane_weight=0.3", ...]`` → ``DemoConfig`` overrides.

    Fit options add up into one ``smplify`` entry (the demo's fit settings with those fields changed),
    ``swaps.FIELD`` options into one ``label_swaps`` entry.
    """
    options: dict = {}
    for pair in pairs:
        key, value = _demo_option(pair)
        if key in _FIELD_OPTIONS.values() and isinstance(value, dict):
            value = dataclasses.replace(options.get(key) or _field_defaults(key), **value)
        options[key] = value
    return options


_YES_NO_OPTIONS = ("fit_camera", "smooth", "refine", "centred_linear_edges", "flip_average")
_PLAIN_OPTIONS = ("centred_sigma", *_YES_NO_OPTIONS, "refine_steps", "fit_points", "fit_extra_weight", "ensemble", "label_swaps")
_FIELD_OPTIONS = {"fit.": "smplify", "swaps.": "label_swaps"}  # prefix → the DemoConfig field it changes
_PARSERS = {"bool": lambda v: _yes(v), "int": int, "float": float, "str": str,
            "float | None": lambda v: None if v.lower() == "none" else float(v)}  # fmt: skip


def _field_defaults(key: str):
    """The demo's settings of the ``smplify`` or ``label_swaps`` field."""
    return DemoConfig().smplify if key == "smplify" else SwapConfig()


def _demo_option(pair: str) -> tuple[str, float | bool | dict | str | tuple | None]:
    """``"centred_sigma=0"`` → ``("centred_sigma", 0.0)``; ``"fit_camera=false"`` → ``("fit_camera", False)``;
    ``"refine_steps=6"`` → ``("smplify", {"num_steps": 6})``; ``"fit_points=tips"`` → ``("fit_points", "tips")``;
    ``"ensemble=A.pt+B.pt"`` → ``("ensemble", (Path("A.pt"), Path("B.pt")))``; ``"label_swaps=false"`` →
    ``("label_swaps", None)``; ``"fit.F=V"`` → ``("smplify", {F: V})`` for a number, yes/no or text field
    ``F`` of the demo's fit settings (:class:`~vibe.fitting.temporal_smplify.SMPLifyConfig`, e.g.
    ``fit.keypoint_set=blazepose33``), ``"swaps.F=V"`` → ``("label_swaps", {F: V})`` for one of
    :class:`~vibe.pipeline.label_swaps.SwapConfig`'s (``swaps.min_facing=0.3``)."""
    key, sep, value = (part.strip() for part in pair.partition("="))
    field = _field_option(key, value) if sep else None
    if field is not None:
        return field
    if not sep or key not in _PLAIN_OPTIONS:
        raise ValueError(
            f"baseline option {pair!r}: expected centred_sigma=N, refine_steps=N, fit.FIELD=V, swaps.FIELD=V, "
            f"fit_points=NAME, fit_extra_weight=N, ensemble=CKPT[+CKPT...] or "
            f"{', '.join((*_YES_NO_OPTIONS, 'label_swaps'))}=true|false"
        )
    if key in ("centred_sigma", "fit_extra_weight"):
        return key, float(value)
    if key == "fit_points":
        return key, value
    if key == "ensemble":
        return key, tuple(Path(p) for p in value.split("+"))
    if key == "label_swaps":
        return key, SwapConfig() if _yes(value) else None
    if key == "refine_steps":
        return "smplify", {"num_steps": int(value)}
    return key, _yes(value)


def _field_option(key: str, value: str) -> tuple[str, dict] | None:
    """``("fit.F", "V")`` / ``("swaps.F", "V")`` → ``(DemoConfig field, {F: parsed V})``; None for other keys."""
    for prefix, target in _FIELD_OPTIONS.items():
        if key.startswith(prefix):
            kinds = {f.name: f.type for f in dataclasses.fields(type(_field_defaults(target)))}
            parse = _PARSERS.get(kinds.get(key[len(prefix):], ""))
            return (target, {key[len(prefix):]: parse(value)}) if parse else None
    return None


def _yes(value: str) -> bool:
    """``"true"``, ``"1"``, ``"yes"``, ``"on"`` (any case) → True, anything else False."""
    return value.lower() in ("1", "true", "yes", "on")


def _baseline_spec(spec: str | os.PathLike | tuple) -> tuple[Path, dict]:
    """A baseline's ``(checkpoint, demo options)``."""
    return (Path(spec[0]), dict(spec[1])) if isinstance(spec, tuple) else (Path(spec), {})


def table_rows(
    videos: Sequence[Mapping], checkpoint_name: str, per_frame: bool, baselines: Sequence[str], title: str = TITLE
) -> list[dict]:
    """The table rows, in order: the model, its per-frame mode, each baseline, MediaPipe raw and smoothed.

    ``videos``: the per-video entries (``n_matched``, ``metrics`` by row key);
    each row's metrics are frame-weighted means over them (:func:`~vibe.evaluation.synthetic_scoring.aggregate`).
    """
    labelled = [("model", checkpoint_name)]
    if per_frame:
        labelled.append(("per_frame", f"{checkpoint_name}, per-frame (1-frame windows)"))
    labelled += [(f"baseline:{name}", name) for name in baselines]
    labelled.append(("mediapipe", "MediaPipe world landmarks (12 joints)"))
    labelled.append(("mediapipe_smoothed", f"MediaPipe world, Gaussian σ={SMOOTH_SIGMA_FRAMES:g} + constant bones (12 joints)"))
    return [_row(videos, key, label, title) for key, label in labelled]


def _row(videos: Sequence[Mapping], key: str, label: str, title: str) -> dict:
    metrics, n_frames = aggregate(videos, key)
    return {"key": key, "label": label, "title": title, "n_frames": n_frames, "metrics": metrics}


def _no_person(videos: Sequence[Mapping]) -> list[str]:
    """The videos where the demo found nobody."""
    return [str(v["video"]) for v in videos if v.get("n_tracks") == 0]


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
    no_person = _no_person(videos)
    labels = list(dict.fromkeys(res.get("motion", CMU_LABEL) for res in results))
    title = bench_title(" + ".join(labels), len(videos), len(no_person))
    pooled.update(
        bench_dir=[res["bench_dir"] for res in results],
        title=title,
        motion=" + ".join(labels),
        licences=list(dict.fromkeys(lic for res in results for lic in res.get("licences", []))),
        n_videos_no_person=len(no_person),
        videos_no_person=no_person,
        n_videos=sum(res["n_videos"] for res in results),
        n_frames=sum(res["n_frames"] for res in results),
        n_matched_frames=sum(res["n_matched_frames"] for res in results),
        videos=videos,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    pooled["rows"] = [_row(videos, key, label, title) for key, label in keys[0]]
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
    checkpoint = Path(checkpoint)
    baselines = {name: _baseline_spec(spec) for name, spec in (baselines or {}).items()}
    for path in (checkpoint, *(ckpt for ckpt, _ in baselines.values())):
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint {path}")
    videos = sorted(bench.glob("video_*.mp4"))
    if not videos:
        raise FileNotFoundError(f"no video_*.mp4 in {bench}")
    body = body or Anny()  # after the checks: building the body takes seconds
    per_frame_model = load_open_generator(checkpoint, body) if per_frame else None
    per_video = [_evaluate_video(v, checkpoint, work, body, per_frame_model, baselines) for v in videos]
    label, licences = bench_motion(bench)
    no_person = _no_person(per_video)
    title = bench_title(label, len(videos), len(no_person))
    result = {
        "dataset": "synthetic",
        "title": title,
        "motion": label,
        "licences": licences,
        "bench_dir": str(bench),
        "checkpoint": str(checkpoint),
        "baselines": {
            name: str(ckpt) + "".join(f",{k}={v}" for k, v in opts.items()) for name, (ckpt, opts) in baselines.items()
        },
        "n_videos": len(videos),
        "n_frames": int(sum(v["n_gt_frames"] for v in per_video)),
        "n_matched_frames": int(sum(v["n_matched"] for v in per_video)),
        "n_videos_no_person": len(no_person),
        "videos_no_person": no_person,
        "protocol": {
            "joints": "eval14",
            "alignment": "mpjpe: pelvis-centred; pa_mpjpe: Procrustes per frame; "
            "pa_mpjpe12 and accel_err12 (all rows; the only metrics of the MediaPipe rows): "
            "12 common limb joints (hip-centred)",
            "mediapipe_smoothed": f"world landmarks, Gaussian sigma {SMOOTH_SIGMA_FRAMES:g} frames within runs of "
            "consecutive frames (weights renormalised at run ends), then each limb bone at its median length",
            "pck2d": f"blazepose33 pixels within {PCK2D_THRESHOLD} x GT box side (visible GT points)",
            "track": "the longest track of the checkpoint's run, frames matched by id; "
            "baselines reuse its detections and landmarks",
            "per_frame": "the checkpoint's GRU on windows of one frame (zero state each frame)",
            "shape": "the track's mean shape and the rendered body in the rest pose: pve_t, mean vertex "
            "distance with both meshes centred; height_err / height_abs_err, vertical extent difference",
        },
        "rows": table_rows(per_video, checkpoint.name, per_frame, list(baselines), title),
        "videos": per_video,
        "units": {"pa_mpjpe": "mm", "pa_mpjpe12": "mm", "mpjpe": "mm", "accel": "mm/frame^2",
                  "accel_err": "mm/frame^2", "accel_err12": "mm/frame^2", "pck2d": "%",
                  "pve_t": "mm", "height_err": "mm", "height_abs_err": "mm"},  # fmt: skip
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if out_json is not None:
        write_json(result, out_json)
    return result
