"""Demo output files: ``results.npz``, ``meta.json``, each written to a temporary name and renamed.

``results.npz`` (numpy, no pickles) holds, for ``P`` people:

- ``track_ids (P,)`` int64, and ``frame_times_s (N,)`` the timestamp of every
  frame read (so variable frame rates are kept);
- per person, under the prefix ``track<id>/``, for its ``n`` frames:
  ``frame_ids (n,)``, ``bbox_cxcys (n, 3)`` square box (centre, side) pixels,
  ``pose_rotmat (n, J, 3, 3)`` local joint rotations (root first, the root in
  camera axes: x right, y down, z forward), ``shape (n, S)``,
  ``cam_crop (n, 3)`` crop camera ``(s, tx, ty)``, ``cam_image (n, 4)`` image
  weak-perspective camera ``(sx, sy, tx, ty)`` (the original's ``orig_cam``),
  ``transl_cam (n, 3)`` body translation in metres for a pinhole camera of the
  focal length in ``meta.json``, ``joints3d (n, K, 3)`` body keypoints
  (body frame, metres), ``joints2d_img (n, K, 2)`` the same in image pixels
  (through ``cam_image``), optional ``vertices (n, V, 3)`` and, when the
  landmark pass ran (open stack; smpl stack with the person rule on),
  ``landmarks_img (n, 33, 3)`` the detected BlazePose landmarks and
  ``landmarks_world (n, 33, 3)`` their metric 3D landmarks (MediaPipe's world
  landmarks: metres, origin between the hips, y down; NaN where no pose was
  found), which the world stage uses as a second estimate of the body's vertical;
- per person, from the world stage (:mod:`vibe.pipeline.world`; world frame:
  y up, metres, the ground at y = 0, z towards the camera):
  ``transl_world (n, 3)`` the root joint (pelvis) position, ``root_rotmat_world
  (n, 3, 3)`` the root's orientation (body axes → world), ``joints3d_world
  (n, K, 3)`` the ``joints3d`` keypoints placed in the world, ``foot_contact
  (n, 2)`` bool, left and right foot on the ground;
- once per video, from the world stage: ``world/R_world_cam (3, 3)`` the
  rotation taking camera-axis vectors (x right, y down, z forward) to the
  world, ``world/cam_position (3,)`` the camera centre in the world (metres),
  ``world/focal_px ()`` the focal length used (its source, implied error and
  the ground fit are in ``meta.json["world"]``). A camera-frame point ``p``
  is at ``R_world_cam @ p + cam_position`` in the world.

Read with :func:`read_results` (and :func:`read_world` for the ``world/`` arrays).

Besides these, the module writes the run's other files: ``overlay.mp4`` /
``side.mp4`` (:func:`render_overlay`, the third pass over the video), one
BVH / glb per person (:func:`export_people`) and the smpl stack's
``vibe_output.pkl`` (:func:`write_vibe_pkl`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import roma
import torch

from vibe.pipeline.background import prefetched
from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.passes import StageTimer, stage_frames
from vibe.pipeline.video import VideoWriter

__all__ = [
    "atomic_path",
    "write_results",
    "read_results",
    "read_world",
    "write_meta",
    "check_writable",
    "versions",
    "render_overlay",
    "export_people",
    "write_vibe_pkl",
]


def atomic_path(path: Path) -> Path:
    """Hidden temporary name beside ``path`` (same folder, so renaming is atomic)."""
    return path.with_name(f".{path.name}.partial")


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check a file can be written there.

    Raises:
        OSError: the folder cannot be created or written (subclass kept).
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
        pass


def write_results(
    path: Path,
    frame_times_s: np.ndarray,
    people: Mapping[int, Mapping[str, np.ndarray]],
    world: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write ``results.npz`` (layout in the module doc) to a temporary name, then rename.

    Args:
        path: destination ``.npz``.
        frame_times_s: ``(N,)`` timestamps of the frames read, seconds.
        people: track id → name → array (the per-person keys of the module doc).
        world: the ``world/...`` arrays, or None.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "track_ids": np.asarray(sorted(people), dtype=np.int64),
        "frame_times_s": np.asarray(frame_times_s, dtype=np.float64),
        **{name: np.asarray(value) for name, value in (world or {}).items()},
    }
    for track_id, values in people.items():
        for name, value in values.items():
            if value is not None:
                arrays[f"track{int(track_id)}/{name}"] = np.asarray(value)
    tmp = atomic_path(path)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_results(path: Path) -> tuple[np.ndarray, dict[int, dict[str, np.ndarray]]]:
    """Read ``results.npz``: ``frame_times_s (N,)`` and track id → name → array."""
    with np.load(path, allow_pickle=False) as npz:
        people: dict[int, dict[str, np.ndarray]] = {int(t): {} for t in npz["track_ids"]}
        for key in npz.files:
            if key.startswith("track") and "/" in key:
                prefix, name = key.split("/", 1)
                people[int(prefix[len("track") :])][name] = npz[key]
        return npz["frame_times_s"], people


def read_world(path: Path) -> dict[str, np.ndarray]:
    """The ``world/...`` arrays of ``results.npz`` by their name without the prefix (empty: no world stage)."""
    with np.load(path, allow_pickle=False) as npz:
        return {key.split("/", 1)[1]: npz[key] for key in npz.files if key.startswith("world/")}


def write_meta(path: Path, meta: Mapping[str, Any]) -> Path:
    """Write ``meta.json`` (indented UTF-8 JSON) to a temporary name, then rename."""
    path = Path(path)
    tmp = atomic_path(path)
    try:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=False, default=_plain) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _plain(value: Any) -> Any:
    """JSON form of numpy scalars/arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def versions() -> dict[str, str]:
    out = {}
    for dist in ("vibe-hmr", "torch", "numpy", "mediapipe", "av", "anny", "pyrender"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


# --------------------------------------------------------------------------- rendering
class _TrackVertices:
    """Vertices of one track posed a chunk at a time, in frame order (memory: one chunk)."""

    def __init__(self, body, first_frame: int, pose_rotmat: torch.Tensor, shape: torch.Tensor, chunk: int):
        self.body, self.first, self.pose, self.shape, self.chunk = body, first_frame, pose_rotmat, shape, chunk
        self._start, self._verts = -1, None

    def __call__(self, frame_id: int) -> np.ndarray:
        row = frame_id - self.first
        if self._verts is None or not self._start <= row < self._start + self.chunk:
            self._start = row
            sl = slice(row, row + self.chunk)
            with torch.no_grad():
                to_body = {"device": self.body.device, "dtype": self.body.dtype}
                posed = self.body(self.pose[sl].to(**to_body), self.shape[sl].to(**to_body))
            self._verts = posed.vertices.float().cpu().numpy()
        return self._verts[row - self._start]


def render_overlay(
    reader, people, body, config: DemoConfig, out_dir: Path, timer: StageTimer, frame_times_s: np.ndarray, fps: float
) -> tuple[Path | None, Path | None]:
    """Pass 3: ``overlay.mp4`` (and ``side.mp4``). Raises the render module's errors.

    Each overlay frame keeps its source frame's time (``frame_times_s (N,)``,
    the repaired decoded timestamps), so the overlay plays at the video's true,
    possibly variable, rate; ``fps`` is the nominal rate given to the encoder.
    """
    from vibe.render.overlay import OverlayRenderer, PersonMesh

    start = time.perf_counter()
    faces = body.faces.cpu().numpy()
    streams = {
        tid: _TrackVertices(
            body,
            int(p["frame_ids"][0]),
            torch.as_tensor(p["pose_rotmat"]),
            torch.as_tensor(p["shape"]),
            config.batch_frames,
        )
        for tid, p in people.items()
    }
    overlay_path = out_dir / "overlay.mp4"
    side_path = out_dir / "side.mp4" if config.side_view else None
    count = 0

    def frames_with_meshes() -> Iterator[tuple[int, np.ndarray, list[PersonMesh]]]:
        for frame_id, image in stage_frames(reader, config, "render"):
            meshes = []
            for tid, p in people.items():
                row = frame_id - int(p["frame_ids"][0])
                if 0 <= row < len(p["frame_ids"]):
                    meshes.append(PersonMesh(tid, streams[tid](frame_id), p["cam_image"][row]))
            yield frame_id, image, meshes

    # Decoding + posing (thread), drawing (here) and encoding (thread) overlap.
    writer = functools.partial(VideoWriter, fps=fps, preset="veryfast", background=True)
    last = len(frame_times_s) - 1
    with OverlayRenderer(reader.width, reader.height, faces, body.num_vertices) as renderer:
        side_writer = writer(side_path) if side_path else _Null()
        with writer(overlay_path) as overlay, side_writer as side:
            for frame_id, image, meshes in prefetched(frames_with_meshes, depth=4):
                # A frame past the first pass's count (it cannot be, but never index out): one interval on.
                t = frame_times_s[frame_id] if frame_id <= last else frame_times_s[last] + (frame_id - last) / fps
                overlay.write(renderer.render(image, meshes), time_s=t)
                if side_path:
                    side.write(renderer.render(None, meshes, side_view=True), time_s=t)
                count += 1
    timer.add("render", time.perf_counter() - start, count)
    return overlay_path, side_path


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


# --------------------------------------------------------------------------- exports
def export_people(
    people,
    body,
    fps: float,
    formats: tuple[str, ...],
    out_dir: Path,
    timer: StageTimer,
    frame_times_s: np.ndarray,
    frame: str = "world",
    rig: str | None = None,
) -> list[Path]:
    """One BVH / glb per person: y up, root translation in metres, the video's true timing.

    ``frame``: ``"world"`` takes the world stage's motion (ground at y = 0,
    ``transl_world``, ``root_rotmat_world``); ``"camera"`` turns the camera
    frame upright (the camera at the origin). ``rig``: another of Anny's rigs
    (:mod:`vibe.export.rigs`; None: the body's own).
    BVH holds one constant ``Frame Time``: ``1 / fps``, the median interval
    between frames; glb keyframes keep each frame's own time (``frame_times_s
    (N,)`` at the person's frame ids), so a variable frame rate is kept there.
    """
    from vibe.export.bvh import export_bvh

    start, written = time.perf_counter(), []
    target = body
    if rig and rig != getattr(getattr(body, "config", None), "rig", rig):
        from vibe.export.rigs import rig_body

        target = rig_body(rig, body)
    for tid, p in people.items():
        shape = np.asarray(p["shape"]).mean(axis=0)
        pose_up, transl_up = _motion_up(p, body, target, shape, frame)
        if "bvh" in formats:
            written.append(export_bvh(out_dir / f"person{tid}.bvh", target, pose_up, transl_up, fps, shape))
        if "gltf" in formats:
            from vibe.export.gltf import export_gltf

            path = out_dir / f"person{tid}.glb"
            times = np.asarray(frame_times_s)[np.asarray(p["frame_ids"])]
            written.append(
                export_gltf(path, target, pose_up, transl_up, fps, shape, name=f"person{tid}", times_s=times)
            )
    timer.add("export", time.perf_counter() - start, sum(len(p["frame_ids"]) for p in people.values()))
    return written


def _motion_up(p, body, target, shape: np.ndarray, frame: str) -> tuple[np.ndarray, np.ndarray]:
    """A person's ``(T, J, 3, 3)`` local rotations and ``(T, 3)`` translation, y up, on ``target``'s rig."""
    from vibe.export.bvh import camera_to_y_up, rest_joints, world_motion

    root_rest = rest_joints(body, shape)[0]
    if frame == "world":
        pose_up, transl_up = world_motion(p["pose_rotmat"], p["root_rotmat_world"], p["transl_world"], root_rest)
    else:
        pose_up, transl_up = camera_to_y_up(p["pose_rotmat"], p["transl_cam"], root_rest)
    if target is not body:
        from vibe.export.rigs import retarget_motion

        pose_up, transl_up = retarget_motion(body, target, pose_up, transl_up, shape)
    return pose_up, transl_up


def write_vibe_pkl(people, out_dir: Path) -> Path:
    """The original demo's ``vibe_output.pkl`` (smpl stack)."""
    from vibe.export.vibe_pkl import write_vibe_output

    tracks = {}
    for tid, p in people.items():
        n = len(p["frame_ids"])
        bbox = np.asarray(p["bbox_cxcys"])
        pose_aa = roma.rotmat_to_rotvec(torch.as_tensor(p["pose_rotmat"], dtype=torch.float64))
        tracks[tid] = {
            "pred_cam": p["cam_crop"],
            "orig_cam": p["cam_image"],
            "verts": p["vertices"],
            "pose": pose_aa.reshape(n, -1).numpy(),  # axis-angle only at the file boundary
            "betas": p["shape"],
            "joints3d": p["joints3d"],
            "joints2d": None,
            "joints2d_img_coord": p["joints2d_img"],
            "bboxes": np.concatenate([bbox, bbox[:, 2:3]], axis=1),  # (cx, cy, w, h), square
            "frame_ids": p["frame_ids"],
        }
    return write_vibe_output(out_dir / "vibe_output.pkl", tracks, smpl=True)
