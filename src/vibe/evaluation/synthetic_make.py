"""The synthetic benchmark's videos: rendered Anny videos of held-out mocap, with exact ground truth.

:func:`make_synthetic_benchmark` renders short videos of the validation
subjects' clips (:data:`~vibe.data.motion_db.VALIDATION_SUBJECTS`, never
trained on; the subjects take turns, video ``i`` from the ``i``-th) through
Anny: a random body shape and perspective camera from
:class:`~vibe.data.synthetic.SyntheticGenerator`'s samplers, a random skin
tone, lighting (intensities and key-light direction) and procedural
background (:mod:`vibe.evaluation.scenes`).
Layout of ``out_dir``::

    video_000.mp4, video_000.npz, video_000.json, ..., benchmark.json

``benchmark.json`` (:func:`write_set_summary`): the motion's label (for
result titles) and licences, the length asked, and the videos whose clip was
shorter than that (rendered whole, not padded).

Ground truth ``video_XXX.npz`` (float64 unless said; ``T`` frames):

- ``frame_ids (T,)`` int64: index of the frame in the mp4; ``fps ()``;
- ``joints3d_eval14 (T, 14, 3)``: eval14 joints in the camera frame (metres);
- ``keypoints3d_blazepose33 (T, 33, 3)``: Anny's BlazePose-33 points, camera frame (metres);
- ``keypoints2d_eval14 (T, 14, 2)``, ``keypoints2d_blazepose33 (T, 33, 2)``:
  their projections (pixels, OpenCV; pixel centres at ``+0.5``);
- ``visible_eval14 (T, 14)``, ``visible_blazepose33 (T, 33)`` bool: inside the image;
- ``focal_px ()``, ``principal_point (2,)``, ``image_size (2,)`` (W, H),
  ``cam_rotmat (T, 3, 3)``, ``cam_transl (T, 3)``: camera-from-world (world y up);
- ``pose_rotmat (T, J, 3, 3)``: local rotations, world root (Anny convention);
  ``pose_rotmat_cam``: the same with the root in the camera frame;
  ``root_transl (T, 3)`` world; ``shape (6,)`` Anny phenotype; ``floor_y ()``
  the floor's height (the lowest foot keypoint of the clip, or with
  ``floor_from_mesh`` the lowest mesh vertex: the soles);
- world ground truth (world: y up, metres, the frame of ``cam_rotmat``):
  ``joints3d_eval14_world (T, 14, 3)``, ``keypoints3d_blazepose33_world (T, 33, 3)``,
  ``root_joint_world (T, 3)`` the root joint (pelvis) position.

``video_XXX.json``: seed, source clip, subject, first frame, licence note
(``licence``; the motion's own licence alone in ``motion_licence``), scene
style (skin, ambient, light intensity, ``key_light_dir`` in the camera frame,
background colours).

:mod:`vibe.evaluation.synthetic_bench` runs the demo on them and scores it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33, Anny
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.mocap import MocapOptions
from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB
from vibe.data.motion_input import load_motion
from vibe.data.synthetic import SyntheticConfig, SyntheticGenerator
from vibe.evaluation.scenes import BodyRenderer, SceneConfig, floor_background, sample_style
from vibe.pipeline.video import VideoWriter
from vibe.render.overlay import PinholeCamera

__all__ = [
    "CMU_LABEL",
    "licence_note",
    "make_synthetic_benchmark",
    "motion_db_from_mocap",
    "render_video",
    "select_motion",
    "write_set_summary",
]

logger = logging.getLogger(__name__)

CMU_LABEL = "held-out CMU"  # the label of the bundled database's validation subjects


def licence_note(licence: str) -> str:
    """The licence line of a rendered video: its motion's licence, then the body's and the scene's."""
    return f"Motion: {licence}; retargeted to Anny (Apache-2.0). Backgrounds procedural."


def _benchmark_camera_config(width: int, height: int) -> SyntheticConfig:
    """The training camera distribution at one image size, people close enough to be detected."""
    return SyntheticConfig(
        image_sizes=((width, height),), distance_m=(2.5, 7.0), min_in_view=0.97, max_camera_tries=30
    )


def motion_db_from_mocap(
    paths: Sequence[str | os.PathLike], body: Anny, licence: str = "", options: MocapOptions | None = None
) -> MotionDB:
    """Motion databases and mocap files (:func:`vibe.data.motion_input.load_motion`) on ``body`` at 30 fps."""
    options = options or MocapOptions(bvh_scale=None, licence=licence)
    return load_motion(list(paths), body, options).db


def _load_db(motion, body: Anny) -> MotionDB:
    """``motion`` as a database: as given, its ``.npz``, or any input :func:`motion_db_from_mocap` reads."""
    if isinstance(motion, MotionDB):
        return motion
    if isinstance(motion, (str, os.PathLike)):
        return MotionDB.load(motion)
    return motion_db_from_mocap(list(motion), body)


def _subject_turns(db: MotionDB, num_frames: int) -> list[str]:
    """Subjects in the order videos take turns: those with a clip of ``num_frames`` first, then by name."""
    subjects = sorted(set(map(str, db.subject)))
    longest = {s: int(db.clip_length[db.subject == s].max()) for s in subjects}
    return sorted(subjects, key=lambda s: longest[s] < num_frames)


@torch.no_grad()
def _lowest_vertex_y(body: Anny, pose_rotmat, shape, root_transl, chunk: int = 32) -> float:
    """The lowest world height any vertex of the clip reaches (the soles on the floor)."""
    lowest = np.inf
    for lo in range(0, len(pose_rotmat), chunk):
        p = torch.as_tensor(pose_rotmat[lo : lo + chunk], dtype=body.dtype)
        s = torch.as_tensor(shape, dtype=body.dtype)[None].expand(len(p), -1)
        out = body(p, s, torch.as_tensor(root_transl[lo : lo + chunk], dtype=body.dtype))
        lowest = min(lowest, float(out.vertices[..., 1].min()))
    return lowest


@torch.no_grad()
def _root_joint_world(body: Anny, shape, root_transl) -> np.ndarray:
    """``(T, 3)`` the root joint's world position: its rest head (it turns about it) plus the translation."""
    rest = body(body.rest_pose(1), torch.as_tensor(shape, dtype=body.dtype)[None]).joints[0, 0].double().numpy()
    return np.asarray(root_transl, np.float64) + rest


def _pick_clip(db: MotionDB, rng: np.random.Generator, num_frames: int, index: int) -> tuple[int, int, int]:
    """(clip, start, frames): a random clip with ``num_frames`` frames (or the longest, whole and shorter).

    Video ``index`` takes its clip from the ``index``-th subject in turn
    (`_subject_turns`), so every subject gets its share whatever its number of
    clips; subjects without a clip that long come last, and give a shorter
    video (listed in ``benchmark.json``) only when there are more videos than
    subjects with long clips.
    """
    subjects = _subject_turns(db, num_frames)
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
    label: str = CMU_LABEL,
) -> list[Path]:
    """Render ``n_videos`` ground-truth videos (layout in the module docstring) and ``benchmark.json``.

    Args:
        motion: a :class:`MotionDB`, its ``.npz`` (default use: the bundled
            ``cmu_anny.npz``), or a list of motion files (:func:`motion_db_from_mocap`;
            all their clips are used, ``subjects`` is ignored).
        out_dir: created if needed.
        seconds: length of each video (a video is shorter, and listed as such,
            when its subject has no clip that long).
        seed: everything random derives from it (video ``i`` from ``(seed, i)``).
        size: ``(W, H)`` pixels.
        subjects: keep only these subjects' clips (``None``: all clips, e.g. for
            a db built from other mocap files).
        body: an Anny instance to reuse.
        label: what the motion is, for result titles (``"held-out CMU"``, ``"HDM05"``).

    Returns:
        The mp4 paths.
    """
    body = body or Anny()
    if not isinstance(motion, (MotionDB, str, os.PathLike)):
        subjects = None
    db = select_motion(motion, body, subjects)
    generator = SyntheticGenerator(SparseKeypoints(body, ("blazepose33", "eval14")), _benchmark_camera_config(*size))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    videos = [
        render_video(db, body, generator, out / f"video_{index:03d}", index, seed, seconds, scene)
        for index in range(n_videos)
    ]
    write_set_summary(out, videos, label, seconds)
    return videos


def write_set_summary(out: Path, videos: Sequence[Path], label: str, seconds: float) -> dict:
    """``out/benchmark.json``: the motion's label and licences, and which ``videos`` are shorter than ``seconds``.

    Returns:
        The written dict: ``label``, ``licences``, ``seconds``, ``videos``
        (video, clip, subject, seconds), ``short_videos`` (the same, for videos
        with fewer frames than asked).
    """
    metas = {p.stem: json.loads(p.with_suffix(".json").read_text()) for p in videos}
    entries = [
        {"video": stem, "clip": m["clip"], "subject": m["subject"], "seconds": round(m["n_frames"] / m["fps"], 3)}
        for stem, m in metas.items()
    ]
    wanted = {stem: max(3, int(round(seconds * m["fps"]))) for stem, m in metas.items()}
    short = [v for v, m in zip(entries, metas.values()) if m["n_frames"] < wanted[v["video"]]]
    summary = {
        "label": label,
        "licences": list(dict.fromkeys(m.get("motion_licence", m["licence"]) for m in metas.values())),
        "seconds": seconds,
        "videos": entries,
        "short_videos": short,
    }
    (out / "benchmark.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    for video in short:
        logger.warning("%s: clip %s lasts %.2f s, shorter than the %.2f s asked", video["video"], video["clip"],
                       video["seconds"], seconds)  # fmt: skip
    return summary


def select_motion(
    motion: MotionDB | str | os.PathLike | Sequence[str | os.PathLike], body: Anny, subjects: Sequence[str] | None
) -> MotionDB:
    """The clips to render: ``motion`` (a db, its ``.npz`` or mocap files) restricted to ``subjects``.

    Raises:
        ValueError: no clip is left.
    """
    db = _load_db(motion, body)
    if subjects is not None:
        db = db.split(subjects)
    if db.num_clips == 0:
        raise ValueError(f"no clip of subjects {subjects}")
    return db


def render_video(
    db: MotionDB,
    body: Anny,
    generator: SyntheticGenerator,
    stem: Path,
    index: int,
    seed: int,
    seconds: float,
    scene: SceneConfig | None = None,
    floor_from_mesh: bool = False,
) -> Path:
    """Render video ``index`` of a set: ``stem.mp4``, ``stem.npz`` (ground truth) and ``stem.json``.

    The clip, body shape, camera (``generator``'s distribution, one image size
    drawn from its ``image_sizes``) and scene all derive from ``(seed, index)``.

    Returns:
        The mp4 path.
    """
    rng = np.random.default_rng([seed, index])
    fps = generator.config.fps
    clip, start, num_frames = _pick_clip(db, rng, max(3, int(round(seconds * fps))), index)
    pose_rotmat, root_transl = db.get_windows(np.array([[clip, start]]), num_frames)
    batch = generator.generate(pose_rotmat, root_transl, rng)
    width, height = (int(v) for v in batch.image_size[0])
    cam_rotmat = batch.cam_rotmat[0].double().numpy()
    cam_transl = batch.cam_transl[0].double().numpy()
    focal = float(batch.focal_px[0])
    kp_cam = batch.keypoints_cam[0].double().numpy()
    eval_cam = batch.joints3d_eval14[0].double().numpy()
    kp_world = np.einsum("tji,tkj->tki", cam_rotmat, kp_cam - cam_transl[:, None])  # R^T (x − t)
    feet = [BLAZEPOSE33.index(n) for n in BLAZEPOSE33 if "heel" in n or "foot_index" in n]
    floor_y = float(kp_world[:, feet, 1].min())
    if floor_from_mesh:
        floor_y = _lowest_vertex_y(body, pose_rotmat[0], batch.shape[0].numpy(), root_transl[0])
    eval_world = np.einsum("tji,tkj->tki", cam_rotmat, eval_cam - cam_transl[:, None])
    kp2d, eval2d = _project(kp_cam, focal, width, height), _project(eval_cam, focal, width, height)
    style = sample_style(rng, width, height, scene)
    camera = PinholeCamera(focal, focal, width / 2, height / 2)
    started = time.perf_counter()
    with VideoWriter(stem.with_suffix(".mp4"), fps) as writer, BodyRenderer(
        width, height, body.faces.numpy(), body.num_vertices, style
    ) as renderer:
        verts = _vertices_cam(body, pose_rotmat[0], batch.shape[0].numpy(), root_transl[0], cam_rotmat, cam_transl)
        for t, verts_cam in enumerate(verts):
            background = floor_background(style, cam_rotmat[t], cam_transl[t], focal, width, height, floor_y, rng)
            frame, _ = renderer.render(background, verts_cam, camera)
            writer.write(frame)
    np.savez_compressed(
        stem.with_suffix(".npz"),
        frame_ids=np.arange(num_frames, dtype=np.int64),
        fps=np.float64(fps),
        joints3d_eval14=eval_cam,
        keypoints3d_blazepose33=kp_cam,
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
        joints3d_eval14_world=eval_world,
        keypoints3d_blazepose33_world=kp_world,
        root_joint_world=_root_joint_world(body, batch.shape[0].numpy(), root_transl[0]),
    )
    meta = {
        "seed": [seed, index],
        "clip": str(db.clip_name[clip]),
        "subject": str(db.subject[clip]),
        "first_frame": start,
        "n_frames": num_frames,
        "fps": fps,
        "source": str(db.source[clip]),
        "licence": licence_note(str(db.licence[clip])),
        "motion_licence": str(db.licence[clip]),
        "scene": style.to_json(),
    }
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    logger.info("%s: %d frames in %.1f s", stem.name, num_frames, time.perf_counter() - started)
    return stem.with_suffix(".mp4")
