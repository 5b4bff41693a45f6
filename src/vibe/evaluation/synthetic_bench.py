"""An open benchmark with exact ground truth: rendered Anny videos of held-out mocap, and its runner.

:func:`make_synthetic_benchmark` renders short videos of the validation
subjects' clips (:data:`~vibe.data.motion_db.VALIDATION_SUBJECTS`, never
trained on; the subjects take turns, video ``i`` from the ``i``-th) through
Anny: a random body shape and perspective camera from
:class:`~vibe.data.synthetic.SyntheticGenerator`'s samplers, a random skin
tone, lighting (intensities and key-light direction) and procedural
background (:mod:`vibe.evaluation.scenes`).
Layout of ``out_dir``::

    video_000.mp4, video_000.npz, video_000.json, ...

Ground truth ``video_XXX.npz`` (float64 unless said; ``T`` frames):

- ``frame_ids (T,)`` int64: index of the frame in the mp4; ``fps ()``;
- ``joints3d_eval14 (T, 14, 3)``: eval14 joints in the camera frame (metres);
- ``keypoints2d_eval14 (T, 14, 2)``, ``keypoints2d_blazepose33 (T, 33, 2)``:
  their projections (pixels, OpenCV; pixel centres at ``+0.5``);
- ``visible_eval14 (T, 14)``, ``visible_blazepose33 (T, 33)`` bool: inside the image;
- ``focal_px ()``, ``principal_point (2,)``, ``image_size (2,)`` (W, H),
  ``cam_rotmat (T, 3, 3)``, ``cam_transl (T, 3)``: camera-from-world (world y up);
- ``pose_rotmat (T, J, 3, 3)``: local rotations, world root (Anny convention);
  ``pose_rotmat_cam``: the same with the root in the camera frame;
  ``root_transl (T, 3)`` world; ``shape (6,)`` Anny phenotype; ``floor_y ()``.

``video_XXX.json``: seed, source clip, subject, first frame, licence note,
scene style (skin, ambient, light intensity, ``key_light_dir`` in the camera
frame, background colours).

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
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from vibe.body.anny import Anny
from vibe.body.anny import BLAZEPOSE33
from vibe.body.joint_sets import EVAL14
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB
from vibe.data.synthetic import SyntheticConfig, SyntheticGenerator
from vibe.evaluation.scenes import BodyRenderer, SceneConfig, floor_background, sample_style
from vibe.evaluation.track_regression import load_open_generator, regress_track
from vibe.metrics import PELVIS_IDX, accel, accel_error, center_on_pelvis, mpjpe, pa_mpjpe
from vibe.models.vibe import VIBE
from vibe.pipeline.video import VideoWriter
from vibe.render.overlay import PinholeCamera

__all__ = [
    "COMMON12",
    "make_synthetic_benchmark",
    "motion_db_from_mocap",
    "parse_baselines",
    "pck2d",
    "pool_results",
    "run_synthetic_benchmark",
    "write_json",
]

logger = logging.getLogger(__name__)

LICENCE_NOTE = (
    "Motion: CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), free for all uses; "
    "retargeted to Anny (Apache-2.0). Backgrounds procedural."
)
# Joints both eval14 and BlazePose-33 have (by name).
COMMON12: tuple[str, ...] = tuple(n for n in EVAL14 if n in BLAZEPOSE33)
_EVAL14_COMMON = [EVAL14.index(n) for n in COMMON12]
_HIPS12 = tuple(COMMON12.index(n) for n in ("right_hip", "left_hip"))  # pelvis of the 12 joints
PCK2D_THRESHOLD = 0.1  # × GT box side
TITLE = "Synthetic (Anny, held-out CMU)"


def _benchmark_camera_config(width: int, height: int) -> SyntheticConfig:
    """The training camera distribution at one image size, people close enough to be detected."""
    return SyntheticConfig(
        image_sizes=((width, height),), distance_m=(2.5, 7.0), min_in_view=0.97, max_camera_tries=30
    )


def motion_db_from_mocap(paths: Sequence[str | os.PathLike], body: Anny, licence: str = "") -> MotionDB:
    """Read mocap files (``.bvh``, ``.asf`` + ``.amc``, AMASS ``.npz``) at 30 fps and retarget them onto ``body``.

    Each clip's subject is its file stem (so no subject filter applies).
    """
    from vibe.data.build_motion_db import ClipInfo, build_db
    from vibe.data.mocap import import_mocap

    clips = [p for p in map(Path, paths) if p.suffix.lower() != ".asf"]
    motions = import_mocap(paths, fps=30.0)
    infos = [ClipInfo(subject=p.stem, source=p.suffix.lower().lstrip("."), licence=licence) for p in clips]
    return build_db(zip(motions, infos), body)


def _load_db(motion, body: Anny) -> tuple[MotionDB, bool]:
    """The db and whether it came from raw mocap files (then every clip is used)."""
    if isinstance(motion, MotionDB):
        return motion, False
    if isinstance(motion, (str, os.PathLike)):
        return MotionDB.load(motion), False
    return motion_db_from_mocap(list(motion), body), True


def _pick_clip(db: MotionDB, rng: np.random.Generator, num_frames: int, index: int) -> tuple[int, int, int]:
    """(clip, start, frames): a random clip with ``num_frames`` frames (or the longest, shortened).

    Video ``index`` takes its clip from the ``index``-th subject in turn (sorted
    names), so every subject gets its share whatever its number of clips.
    """
    subjects = sorted(set(map(str, db.subject)))
    candidates = np.flatnonzero(db.subject == subjects[index % len(subjects)])
    long_enough = candidates[db.clip_length[candidates] >= num_frames]
    if long_enough.size:
        clip = int(rng.choice(long_enough))
        start = int(rng.integers(0, db.clip_length[clip] - num_frames + 1))
        return clip, start, num_frames
    clip = int(candidates[np.argmax(db.clip_length[candidates])])
    return clip, 0, int(db.clip_length[clip])


def _project(points_cam: np.ndarray, focal_px: float, width: int, height: int) -> np.ndarray:
    """``(..., 3)`` camera points → ``(..., 2)`` pixels, principal point at the image centre."""
    return points_cam[..., :2] / points_cam[..., 2:3] * focal_px + np.array([width / 2, height / 2])


def _inside(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return (pixels[..., 0] >= 0) & (pixels[..., 0] < width) & (pixels[..., 1] >= 0) & (pixels[..., 1] < height)


@torch.no_grad()
def _vertices_cam(body: Anny, pose_rotmat, shape, root_transl, cam_rotmat, cam_transl, chunk: int = 32):
    """Yield ``(V, 3)`` camera-frame vertices per frame (posed ``chunk`` frames at a time)."""
    for lo in range(0, len(pose_rotmat), chunk):
        sl = slice(lo, lo + chunk)
        p = torch.as_tensor(pose_rotmat[sl], dtype=body.dtype)
        out = body(p, torch.as_tensor(shape, dtype=body.dtype)[None].expand(len(p), -1),
                   torch.as_tensor(root_transl[sl], dtype=body.dtype))  # fmt: skip
        verts = out.vertices.double().numpy()
        yield from np.einsum("tij,tvj->tvi", cam_rotmat[sl], verts) + cam_transl[sl, None]


def make_synthetic_benchmark(
    motion: MotionDB | str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    n_videos: int = 8,
    seconds: float = 4.0,
    seed: int = 0,
    size: tuple[int, int] = (640, 360),
    subjects: Sequence[str] | None = VALIDATION_SUBJECTS,
    scene: SceneConfig | None = None,
    body: Anny | None = None,
) -> list[Path]:
    """Render ``n_videos`` ground-truth videos (layout in the module docstring).

    Args:
        motion: a :class:`MotionDB`, its ``.npz`` (default use: the bundled
            ``cmu_anny.npz``), or a list of mocap files (:func:`motion_db_from_mocap`;
            all their clips are used, ``subjects`` is ignored).
        out_dir: created if needed.
        seconds: length of each video (shorter when no clip is long enough).
        seed: everything random derives from it (video ``i`` from ``(seed, i)``).
        size: ``(W, H)`` pixels.
        subjects: keep only these subjects' clips (``None``: all clips, e.g. for
            a db built from other mocap files).
        body: an Anny instance to reuse.

    Returns:
        The mp4 paths.
    """
    body = body or Anny()
    db, from_files = _load_db(motion, body)
    if subjects is not None and not from_files:
        db = db.split(subjects)
    if db.num_clips == 0:
        raise ValueError(f"no clip of subjects {subjects}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    width, height = size
    generator = SyntheticGenerator(SparseKeypoints(body, ("blazepose33", "eval14")), _benchmark_camera_config(*size))
    fps = generator.config.fps
    faces = body.faces.numpy()
    videos = []
    for index in range(n_videos):
        rng = np.random.default_rng([seed, index])
        clip, start, num_frames = _pick_clip(db, rng, max(3, int(round(seconds * fps))), index)
        pose_rotmat, root_transl = db.get_windows(np.array([[clip, start]]), num_frames)
        batch = generator.generate(pose_rotmat, root_transl, rng)
        cam_rotmat = batch.cam_rotmat[0].double().numpy()
        cam_transl = batch.cam_transl[0].double().numpy()
        focal = float(batch.focal_px[0])
        kp_cam = batch.keypoints_cam[0].double().numpy()
        eval_cam = batch.joints3d_eval14[0].double().numpy()
        kp_world = np.einsum("tji,tkj->tki", cam_rotmat, kp_cam - cam_transl[:, None])  # R^T (x − t)
        feet = [BLAZEPOSE33.index(n) for n in BLAZEPOSE33 if "heel" in n or "foot_index" in n]
        floor_y = float(kp_world[:, feet, 1].min())
        kp2d, eval2d = _project(kp_cam, focal, width, height), _project(eval_cam, focal, width, height)
        style = sample_style(rng, width, height, scene)
        camera = PinholeCamera(focal, focal, width / 2, height / 2)
        stem = f"video_{index:03d}"
        started = time.perf_counter()
        with VideoWriter(out / f"{stem}.mp4", fps) as writer, BodyRenderer(
            width, height, faces, body.num_vertices, style
        ) as renderer:
            verts = _vertices_cam(body, pose_rotmat[0], batch.shape[0].numpy(), root_transl[0], cam_rotmat, cam_transl)
            for t, verts_cam in enumerate(verts):
                background = floor_background(style, cam_rotmat[t], cam_transl[t], focal, width, height, floor_y, rng)
                frame, _ = renderer.render(background, verts_cam, camera)
                writer.write(frame)
        np.savez_compressed(
            out / f"{stem}.npz",
            frame_ids=np.arange(num_frames, dtype=np.int64),
            fps=np.float64(fps),
            joints3d_eval14=eval_cam,
            keypoints2d_eval14=eval2d,
            keypoints2d_blazepose33=kp2d,
            visible_eval14=_inside(eval2d, width, height),
            visible_blazepose33=_inside(kp2d, width, height),
            focal_px=np.float64(focal),
            principal_point=np.array([width / 2, height / 2]),
            image_size=np.array([width, height], dtype=np.int64),
            cam_rotmat=cam_rotmat,
            cam_transl=cam_transl,
            pose_rotmat=np.asarray(pose_rotmat[0], np.float64),
            pose_rotmat_cam=batch.pose_rotmat[0].double().numpy(),
            root_transl=np.asarray(root_transl[0], np.float64),
            shape=batch.shape[0].double().numpy(),
            floor_y=np.float64(floor_y),
        )
        meta = {
            "seed": [seed, index],
            "clip": str(db.clip_name[clip]),
            "subject": str(db.subject[clip]),
            "first_frame": start,
            "n_frames": num_frames,
            "fps": fps,
            "source": str(db.source[clip]),
            "licence": f"{db.licence[clip]}. {LICENCE_NOTE}",
            "scene": style.to_json(),
        }
        (out / f"{stem}.json").write_text(json.dumps(meta, indent=2) + "\n")
        logger.info("%s: %d frames in %.1f s", stem, num_frames, time.perf_counter() - started)
        videos.append(out / f"{stem}.mp4")
    return videos


# --------------------------------------------------------------------------- evaluation
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
