"""Multi-person rendered scenes with ground-truth boxes: the detection benchmark's videos.

:func:`make_crowd_benchmark` renders ``n_videos`` short videos (``vibe eval
make-synthetic --crowd``), each a static camera at one of
:data:`CAMERA_HEIGHTS_M` (eye level to a 10 m mast, pitched down at the
scene) over a procedural floor (:mod:`vibe.evaluation.scenes`) with
``people`` held-out CMU clips (:data:`~vibe.data.motion_db.VALIDATION_SUBJECTS`)
on Anny bodies of random shape and skin. Each person is placed so that its
height in the image is a draw, log-uniform in ``height_px`` (60–400 px at
720p), and turned to a uniform random heading: seen from the front, the
side and the back. A walker keeps its clip's path (centred on its place), so
people move, cross and leave the frame.

Layout of ``out_dir``::

    crowd_000.mp4, crowd_000.npz, crowd_000.json, ..., crowd.json

Ground truth ``crowd_XXX.npz`` (``T`` frames, ``P`` people, float64 unless said):

- ``frame_ids (T,)`` int64, ``fps ()``;
- ``boxes_xyxy (T, P, 4)``: the person's whole-body box, from its projected
  mesh vertices (pixels, not clipped to the image);
- ``height_px (T, P)``: that box's height;
- ``inside (T, P)``: fraction of the mesh vertices inside the image;
- ``visible (T, P)``: fraction of the person's silhouette that is seen
  (not covered by someone nearer) times ``inside``;
- ``view_deg (T, P)``: angle between the way the person faces and the
  direction to the camera, on the floor (0: facing the camera, 180: back to it);
- ``keypoints2d_blazepose33 (T, P, 33, 2)``: Anny's BlazePose-33 points, pixels;
- ``focal_px ()``, ``image_size (2,)`` (W, H), ``cam_rotmat (3, 3)``,
  ``cam_transl (3,)``: camera-from-world (world y up, floor at y = 0),
  ``camera_height_m ()``.

``crowd_XXX.json``: seed, camera, the people's clips, subjects and licence.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33, Anny
from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB
from vibe.data.synthetic import sample_phenotypes
from vibe.evaluation.synthetic_make import licence_note
from vibe.evaluation.scenes import SKIN_TONES_SRGB, BodyRenderer, SceneConfig, floor_background, sample_style
from vibe.pipeline.video import VideoWriter
from vibe.render.overlay import PinholeCamera

__all__ = ["CAMERA_HEIGHTS_M", "CrowdConfig", "make_crowd_benchmark", "render_crowd_video", "look_down_camera"]

log = logging.getLogger(__name__)

CAMERA_HEIGHTS_M = (1.6, 3.5, 6.0, 10.0)  # video i uses height i mod 4: eye level to a mast
_NOSE, _LEFT_HIP, _RIGHT_HIP = (BLAZEPOSE33.index(n) for n in ("nose", "left_hip", "right_hip"))


@dataclass(frozen=True)
class CrowdConfig:
    """What one crowd video looks like.

    ``height_px``: range of the people's image heights (drawn log-uniform);
    ``fov_long_side_deg``: the camera's field of view across the long side;
    ``look_distance_m``: the floor distance the optical axis meets the floor at
    (elevated cameras); ``min_gap_m``: people's places at least this far apart.
    """

    size: tuple[int, int] = (1280, 720)
    seconds: float = 3.0
    people: int = 6
    height_px: tuple[float, float] = (60.0, 400.0)
    fov_long_side_deg: tuple[float, float] = (50.0, 65.0)
    look_distance_m: tuple[float, float] = (10.0, 16.0)
    min_gap_m: float = 1.0
    max_tries: int = 200


def look_down_camera(height_m: float, floor_distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera-from-world ``(R (3, 3), t (3,))`` of a camera at ``(0, height_m, 0)`` looking along +z.

    It is pitched down so that its optical axis meets the floor (y = 0) at
    ``floor_distance_m``; no roll. OpenCV axes (x right, y down, z forward).
    """
    pitch = np.arctan2(height_m, floor_distance_m)
    forward = np.array([0.0, -np.sin(pitch), np.cos(pitch)])
    right = np.array([-1.0, 0.0, 0.0])  # looking along +z with y up, the camera's right is -x
    down = np.cross(forward, right)
    rotmat = np.stack([right, down, forward])
    return rotmat, -rotmat @ np.array([0.0, height_m, 0.0])


def _floor_point_at(rotmat: np.ndarray, transl: np.ndarray, u_px: float, depth: float, focal: float,
                    width: int) -> np.ndarray | None:  # fmt: skip
    """The floor point ``(3,)`` seen in column ``u_px`` at camera depth ``depth`` (None if it is behind the horizon)."""
    centre = -rotmat.T @ transl
    x_cam = (u_px - width / 2) / focal * depth
    # world y of R^T (x, y, z) + centre is linear in y: solve it for the floor, y = 0.
    a = rotmat.T[1]
    if abs(a[1]) < 1e-9:
        return None
    y_cam = -(centre[1] + a[0] * x_cam + a[2] * depth) / a[1]
    return rotmat.T @ np.array([x_cam, y_cam, depth]) + centre


@torch.no_grad()
def _posed_clip(body: Anny, db: MotionDB, clip: int, start: int, frames: int, shape: np.ndarray):
    """A clip's vertices ``(T, V, 3)`` and BlazePose points ``(T, 33, 3)``, world, soles at y = 0, path centred."""
    pose_rotmat, root_transl = db.get_windows(np.array([[clip, start]]), frames)
    out = body(torch.as_tensor(pose_rotmat[0], dtype=body.dtype),
               torch.as_tensor(shape, dtype=body.dtype)[None].expand(frames, -1),
               torch.as_tensor(root_transl[0], dtype=body.dtype))  # fmt: skip
    verts, points = out.vertices.double().numpy(), body.keypoints(out, "blazepose33").double().numpy()
    offset = np.array([verts[..., 0].mean(), verts[..., 1].min(), verts[..., 2].mean()])
    return verts - offset, points - offset


def _yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _facing_deg(points_world: np.ndarray, camera_centre: np.ndarray) -> np.ndarray:
    """``(T,)`` floor angle between where a body faces and the direction to the camera, from ``(T, 33, 3)`` points."""
    hips = points_world[:, _LEFT_HIP] - points_world[:, _RIGHT_HIP]
    forward = np.cross(hips, [0.0, 1.0, 0.0])
    mid_hip = 0.5 * (points_world[:, _LEFT_HIP] + points_world[:, _RIGHT_HIP])
    forward *= np.sign(np.sum(forward * (points_world[:, _NOSE] - mid_hip), axis=1, keepdims=True) + 1e-12)
    to_camera = camera_centre - mid_hip
    f, c = forward[:, [0, 2]], to_camera[:, [0, 2]]
    cos = np.sum(f * c, axis=1) / np.maximum(np.linalg.norm(f, axis=1) * np.linalg.norm(c, axis=1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _project(points_cam: np.ndarray, focal: float, width: int, height: int) -> np.ndarray:
    """``(..., 3)`` camera points → ``(..., 2)`` pixels (principal point at the image centre)."""
    return points_cam[..., :2] / points_cam[..., 2:3] * focal + np.array([width / 2, height / 2])


@dataclass
class _Person:
    """One placed person: world vertices ``(T, V, 3)`` and points ``(T, 33, 3)``, skin, where it came from."""

    verts_world: np.ndarray
    points_world: np.ndarray
    skin_srgb: np.ndarray
    meta: dict


def _place_people(rng, body, db, cfg: CrowdConfig, rotmat, transl, focal, frames) -> list[_Person]:
    """Draw ``cfg.people`` people: clip, shape, skin, heading, and a place giving a drawn image height."""
    width, height = cfg.size
    clips = np.flatnonzero(db.clip_length >= frames)
    people: list[_Person] = []
    places: list[np.ndarray] = []
    for _ in range(cfg.max_tries):
        if len(people) == cfg.people:
            break
        clip = int(rng.choice(clips))
        start = int(rng.integers(0, db.clip_length[clip] - frames + 1))
        shape = sample_phenotypes(rng, 1)[0]
        target_px = float(np.exp(rng.uniform(*np.log(cfg.height_px))))
        u_px = float(rng.uniform(0.08, 0.92) * width)
        heading = float(rng.uniform(0.0, 2.0 * np.pi))
        skin = np.asarray(SKIN_TONES_SRGB[rng.integers(len(SKIN_TONES_SRGB))])
        verts, points = _posed_clip(body, db, clip, start, frames, shape)
        stature = float(np.ptp(verts[0, :, 1]))
        place = _floor_point_at(rotmat, transl, u_px, focal * stature / target_px, focal, width)
        if place is None or any(np.linalg.norm((place - p)[[0, 2]]) < cfg.min_gap_m for p in places):
            continue
        turn = _yaw(heading)
        verts, points = verts @ turn.T + place, points @ turn.T + place
        box = _project(verts[0] @ rotmat.T + transl, focal, width, height)
        if box[:, 1].min() < 0 or box[:, 1].max() > height or (verts[0] @ rotmat.T + transl)[:, 2].min() < 0.5:
            continue  # the first frame's body is cut by the top or bottom of the image
        places.append(place)
        meta = {"clip": str(db.clip_name[clip]), "subject": str(db.subject[clip]), "first_frame": start,
                "licence": str(db.licence[clip]), "target_height_px": round(target_px, 1),
                "heading_deg": round(float(np.degrees(heading)), 1)}  # fmt: skip
        people.append(_Person(verts, points, skin, meta))
    if len(people) < cfg.people:
        log.warning("placed %d of %d people", len(people), cfg.people)
    return people


def _composite(background: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Layers ``(rgb (H, W, 3), alpha (H, W))`` over ``background``, first = farthest.

    Returns the frame ``(H, W, 3)`` uint8 and each layer's alpha left seen ``(P, H, W)``.
    """
    frame = background.astype(np.float32)
    seen = np.zeros((len(layers), *background.shape[:2]), np.float32)
    for k, (rgb, alpha) in enumerate(layers):
        frame = rgb * alpha[..., None] + frame * (1.0 - alpha[..., None])
        seen[:k] *= 1.0 - alpha
        seen[k] = alpha
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), seen


def _frame_truth(people: list[_Person], t: int, rotmat, transl, focal, size) -> dict[str, np.ndarray]:
    """Boxes ``(P, 4)``, in-image fractions ``(P,)`` and 2D points ``(P, 33, 2)`` of frame ``t``."""
    width, height = size
    boxes, inside, points = [], [], []
    for p in people:
        pixels = _project(p.verts_world[t] @ rotmat.T + transl, focal, width, height)
        boxes.append(np.concatenate([pixels.min(axis=0), pixels.max(axis=0)]))
        in_x, in_y = (pixels[:, 0] >= 0) & (pixels[:, 0] < width), (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
        inside.append(np.mean(in_x & in_y))
        points.append(_project(p.points_world[t] @ rotmat.T + transl, focal, width, height))
    return {"boxes_xyxy": np.array(boxes), "inside": np.array(inside), "keypoints2d_blazepose33": np.array(points)}


def _render_frame(renderer: BodyRenderer, camera: PinholeCamera, people: list[_Person], t: int, rotmat, transl,
                  background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Frame ``t`` ``(H, W, 3)`` uint8, bodies drawn far to near, and each person's seen fraction ``(P,)``."""
    centre = -rotmat.T @ transl
    order = np.argsort([-np.linalg.norm(p.points_world[t].mean(axis=0) - centre) for p in people])  # farthest first
    layers = [renderer.layer(people[k].verts_world[t] @ rotmat.T + transl, camera, people[k].skin_srgb)
              for k in order]  # fmt: skip
    frame, seen = _composite(background, layers)
    shown = np.zeros(len(people))
    for layer, k in enumerate(order):
        full = layers[layer][1].sum()
        shown[k] = seen[layer].sum() / full if full > 0 else 0.0
    return frame, shown


def render_crowd_video(body: Anny, db: MotionDB, stem: Path, index: int, seed: int, cfg: CrowdConfig) -> Path:
    """Render crowd video ``index`` of a set (``stem.mp4/.npz/.json``); everything derives from ``(seed, index)``."""
    rng = np.random.default_rng([seed, index, 12])
    width, height = cfg.size
    fps = 30.0  # the motion database's rate
    frames = max(3, int(round(cfg.seconds * fps)))
    camera_height = CAMERA_HEIGHTS_M[index % len(CAMERA_HEIGHTS_M)]
    focal = width / 2 / np.tan(np.radians(rng.uniform(*cfg.fov_long_side_deg)) / 2)
    rotmat, transl = look_down_camera(camera_height, float(rng.uniform(*cfg.look_distance_m)))
    people = _place_people(rng, body, db, cfg, rotmat, transl, focal, frames)
    style = sample_style(rng, width, height, SceneConfig(fog_m=(40.0, 90.0)))  # far people stand on a seen floor
    background = floor_background(dataclasses.replace(style, noise_std=0.0), rotmat, transl, focal, width, height,
                                  0.0, rng)  # fmt: skip
    camera = PinholeCamera(focal, focal, width / 2, height / 2)
    centre = -rotmat.T @ transl
    truth: dict[str, list] = {"boxes_xyxy": [], "inside": [], "keypoints2d_blazepose33": [], "visible": []}
    started = time.perf_counter()
    with VideoWriter(stem.with_suffix(".mp4"), fps) as writer, BodyRenderer(
        width, height, body.faces.numpy(), body.num_vertices, style
    ) as renderer:
        for t in range(frames):
            noise = rng.normal(0.0, style.noise_std, background.shape) if style.noise_std else 0.0
            noisy = np.clip(background + noise, 0, 255)
            frame, shown = _render_frame(renderer, camera, people, t, rotmat, transl, noisy)
            writer.write(frame)
            row = _frame_truth(people, t, rotmat, transl, focal, cfg.size)
            row["visible"] = shown * row["inside"]
            for key, value in row.items():
                truth[key].append(value)
    arrays = {k: np.asarray(v, np.float64) for k, v in truth.items()}
    boxes = arrays["boxes_xyxy"]
    np.savez_compressed(
        stem.with_suffix(".npz"), frame_ids=np.arange(frames, dtype=np.int64), fps=np.float64(fps), **arrays,
        height_px=boxes[..., 3] - boxes[..., 1],
        view_deg=np.stack([_facing_deg(p.points_world, centre) for p in people], axis=1),
        focal_px=np.float64(focal), image_size=np.array([width, height], np.int64), cam_rotmat=rotmat,
        cam_transl=transl, camera_height_m=np.float64(camera_height),
    )  # fmt: skip
    meta = {"seed": [seed, index], "n_frames": frames, "fps": fps, "camera_height_m": camera_height,
            "focal_px": round(float(focal), 2), "people": [p.meta for p in people],
            "licence": licence_note("; ".join(sorted({p.meta["licence"] for p in people}))),
            "scene": style.to_json()}  # fmt: skip
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info("%s: %d frames, %d people in %.1f s", stem.name, frames, len(people), time.perf_counter() - started)
    return stem.with_suffix(".mp4")


def make_crowd_benchmark(
    out_dir: str | Path, n_videos: int = 4, seed: int = 0, config: CrowdConfig | None = None,
    db: MotionDB | None = None, body: Anny | None = None,
) -> list[Path]:  # fmt: skip
    """Render ``n_videos`` crowd videos into ``out_dir`` (layout in the module docstring) and ``crowd.json``.

    ``db``: the motion (default: the bundled database's held-out subjects).
    Returns the mp4 paths.
    """
    cfg = config or CrowdConfig()
    body = body or Anny()
    if db is None:
        db = MotionDB.load(str(resources.files("vibe") / "resources" / "motion" / "cmu_anny.npz"))
        db = db.split(VALIDATION_SUBJECTS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    videos = [render_crowd_video(body, db, out / f"crowd_{i:03d}", i, seed, cfg) for i in range(n_videos)]
    summary = {"kind": "crowd", "seed": seed, "config": dataclasses.asdict(cfg), "videos": [v.stem for v in videos]}
    (out / "crowd.json").write_text(json.dumps(summary, indent=2) + "\n")
    return videos
