"""What the viewer shows, built from a ``vibe demo`` result folder as it is.

The display frame is y up, metres. With the world arrays in ``results.npz``
(``world/R_world_cam (3, 3)``, ``world/cam_position (3,)``, ``world/focal_px``
and per person ``root_rotmat_world (n, 3, 3)``, ``transl_world (n, 3)`` the
root joint's position; see :mod:`vibe.pipeline.outputs`) it is that world
frame: the ground at y = 0, the camera where the world solver put it. Without
them it falls back to the camera frame turned upright (a half turn about x:
camera axes x right, y down, z forward → x right, y up, z backward), the
camera at the origin and the ground drawn under the lowest body point.

Bodies are posed here, server-side, with the body model the run used (the
same ``body(pose_rotmat, shape, transl)`` that drew the overlay), so the page
only streams vertices: per person an int16 array ``(n, V, 3)`` quantised over
the person's bounding cube (``centre + half · q / 32767``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vibe.body.base import BodyModel
from vibe.pipeline.outputs import read_results

__all__ = ["Scene", "PersonData", "load_scene", "load_body", "find_videos", "quantise", "HALF_TURN_X"]

log = logging.getLogger(__name__)

# Camera axes (x right, y down, z forward) → upright display axes (y up): p ↦ diag(1, -1, -1) p.
HALF_TURN_X = np.diag([1.0, -1.0, -1.0])
INT16_MAX = 32767
# World keypoints further than this from the posed body (median over frames) are reported on the page.
WORLD_MISMATCH_M = 0.05
PALETTE = ("#ff8c1a", "#2f8fff", "#3cc45a", "#e83fd0", "#f2d024", "#18c8c8", "#ff4f4f", "#9a6cff")


@dataclass
class PersonData:
    """One person in the display frame.

    Attributes:
        track_id: the track id of ``results.npz``.
        frame_ids: ``(n,)`` video frame of each row.
        vertices_q: ``(n, V, 3)`` int16 vertices, ``centre + half · q / 32767`` metres.
        centre: ``(3,)`` centre of the quantisation cube, metres.
        half: half the cube's side, metres.
        joints_disp: ``(n, J, 3)`` skeleton joints (bone heads), metres.
        colour: CSS colour of the person.
        foot_contact: ``(n, 2)`` bool, left and right foot on the ground (world arrays only), or None.
    """

    track_id: int
    frame_ids: np.ndarray
    vertices_q: np.ndarray
    centre: np.ndarray
    half: float
    joints_disp: np.ndarray
    colour: str
    foot_contact: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready description; vertices are fetched from ``vertices_url``."""
        return {
            "id": self.track_id,
            "frame_ids": self.frame_ids.tolist(),
            "vertices_url": f"data/track{self.track_id}.bin",
            "centre": self.centre.tolist(),
            "half": self.half,
            "joints": np.round(self.joints_disp, 4).reshape(len(self.frame_ids), -1).tolist(),
            "colour": self.colour,
            "foot_contact": None if self.foot_contact is None else self.foot_contact.astype(int).tolist(),
        }


@dataclass
class Scene:
    """Everything the page needs, in the display frame (y up, metres).

    Attributes:
        frame: ``"world"`` or ``"camera"`` (the fallback).
        frame_times_s: ``(N,)`` time of every video frame, seconds.
        width, height: video size, pixels.
        focal_px: the camera's focal length, pixels (principal point at the image centre).
        rotation_disp_cam: ``(3, 3)`` camera axes → display axes.
        cam_position_disp: ``(3,)`` camera centre, metres.
        ground_y: height of the ground plane.
        faces: ``(F, 3)`` triangles of the body mesh.
        parents: ``(J,)`` parent of each skeleton joint (-1 for the root).
        foot_joints: skeleton indices of the left and right foot (contact markers go under them), or None.
        people: one :class:`PersonData` per track.
        videos: label → path of the videos found (overlay first).
        notes: sentences the page shows (fallbacks, mismatches).
    """

    frame: str
    frame_times_s: np.ndarray
    width: int
    height: int
    focal_px: float
    rotation_disp_cam: np.ndarray
    cam_position_disp: np.ndarray
    ground_y: float
    faces: np.ndarray
    parents: np.ndarray
    people: list[PersonData]
    foot_joints: tuple[int, int] | None = None
    videos: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The ``scene.json`` the page reads (binary arrays are separate URLs)."""
        return {
            "frame": self.frame,
            "frame_times_s": self.frame_times_s.tolist(),
            "image": {"width": self.width, "height": self.height},
            "camera": {
                "focal_px": self.focal_px,
                "rotation": self.rotation_disp_cam.tolist(),
                "position": self.cam_position_disp.tolist(),
            },
            "ground_y": self.ground_y,
            "faces_url": "data/faces.bin",
            "num_faces": int(len(self.faces)),
            "parents": self.parents.tolist(),
            "foot_joints": None if self.foot_joints is None else list(self.foot_joints),
            "people": [p.summary() for p in self.people],
            "videos": [{"label": label, "url": f"video/{i}"} for i, label in enumerate(self.videos)],
            "notes": self.notes,
        }


def load_body(meta: dict[str, Any]) -> BodyModel:
    """The body model a run used (``meta.json``'s ``body_model``: ``anny`` or ``smpl``).

    Raises:
        vibe.assets.MissingAssetError: SMPL files not installed.
        ValueError: an unknown body model name.
    """
    name = meta.get("body_model", "anny")
    if name == "anny":
        from vibe.body.anny import Anny

        return Anny()
    if name == "smpl":
        from vibe.body.smpl import SMPL

        return SMPL()
    raise ValueError(f"meta.json names an unknown body model {name!r}")


def foot_joints(joint_names: list[str]) -> tuple[int, int] | None:
    """Indices of the first left and right joints named "…foot…" (Anny's ``LeftFoot``, SMPL's ``left_foot``)."""
    names = [n.lower() for n in joint_names]
    left = [i for i, n in enumerate(names) if "foot" in n and "left" in n]
    right = [i for i, n in enumerate(names) if "foot" in n and "right" in n]
    return (left[0], right[0]) if left and right else None


def find_videos(folder: Path, meta: dict[str, Any]) -> dict[str, Path]:
    """Videos to show beside the 3D view: ``overlay.mp4`` of the folder, then the source video.

    The source path of ``meta.json`` is tried as written (absolute, or relative
    to the directory the demo ran from, taken to be the current one), then
    relative to the result folder's parent.
    """
    found = {}
    overlay = folder / "overlay.mp4"
    if overlay.is_file():
        found["overlay"] = overlay
    source = meta.get("video", {}).get("path")
    if source:
        for candidate in (Path(source), folder.parent / source):
            if candidate.is_file():
                found["source"] = candidate.resolve()
                break
    return found


def quantise(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(..., 3)`` metres → int16 ``q``, ``centre (3,)``, ``half``: ``points ≈ centre + half · q / 32767``."""
    flat = points.reshape(-1, 3)
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    centre = (lo + hi) / 2
    half = float(max((hi - lo).max() / 2, 1e-6))
    q = np.rint((points - centre) / half * INT16_MAX).astype(np.int16)
    return q, centre, half


@torch.no_grad()
def _pose(body: BodyModel, pose_rotmat, shape, transl, keypoint_set: str | None = None, batch: int = 64):
    """Pose ``body`` in the frame of ``transl (n, 3)``; ``pose_rotmat (n, J, 3, 3)``, ``shape (n, S)``.

    Returns vertices ``(n, V, 3)``, skeleton joints ``(n, J, 3)`` and the
    ``keypoint_set`` keypoints ``(n, K, 3)`` (None when no set is asked), float64.
    """
    verts, joints, keypoints = [], [], []
    to_body = {"device": body.device, "dtype": body.dtype}
    for start in range(0, len(pose_rotmat), batch):
        sl = slice(start, start + batch)
        out = body(*(torch.as_tensor(np.asarray(a[sl])).to(**to_body) for a in (pose_rotmat, shape, transl)))
        verts.append(out.vertices.double().cpu().numpy())
        joints.append(out.joints.double().cpu().numpy())
        if keypoint_set is not None:
            keypoints.append(body.keypoints(out, keypoint_set).double().cpu().numpy())
    return np.concatenate(verts), np.concatenate(joints), (np.concatenate(keypoints) if keypoints else None)


def _has_world(npz_globals: dict[str, np.ndarray], people: dict[int, dict[str, np.ndarray]]) -> bool:
    needed = ("root_rotmat_world", "transl_world")
    return "R_world_cam" in npz_globals and all(all(k in p for k in needed) for p in people.values())


def _person_world(body, p, keypoint_set: str | None, notes: list[str], tid: int):
    """World-frame vertices and joints: the body posed with ``root_rotmat_world``, its root joint at ``transl_world``.

    ``transl_world (n, 3)`` is the root joint's (pelvis) world position (unlike
    ``transl_cam``, the body model's translation). When ``joints3d_world`` is
    present, the posed keypoints are checked against it and a gap is reported.
    """
    pose = np.array(p["pose_rotmat"], dtype=np.float64)
    pose[:, 0] = p["root_rotmat_world"]
    world_kp = p.get("joints3d_world")
    check = keypoint_set if world_kp is not None and keypoint_set in body.keypoint_sets else None
    verts, joints, keypoints = _pose(body, pose, p["shape"], np.zeros((len(pose), 3)), check)
    shift = np.asarray(p["transl_world"], np.float64) - joints[:, 0]  # (n, 3): root joint → transl_world
    verts, joints = verts + shift[:, None], joints + shift[:, None]
    if keypoints is not None and keypoints.shape == world_kp.shape:
        gap = float(np.median(np.linalg.norm(keypoints + shift[:, None] - world_kp, axis=-1)))
        if gap > WORLD_MISMATCH_M:
            notes.append(f"person {tid}: joints3d_world is {gap * 100:.1f} cm from the body posed at transl_world")
            log.warning(notes[-1])
    return verts, joints


def _person_camera(body, p) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame vertices and joints turned upright (camera at the origin)."""
    verts, joints, _ = _pose(body, p["pose_rotmat"], p["shape"], np.asarray(p["transl_cam"], dtype=np.float64))
    return verts @ HALF_TURN_X.T, joints @ HALF_TURN_X.T


def _read_globals(path: Path) -> dict[str, np.ndarray]:
    """The ``world/…`` arrays of ``results.npz`` (name without the prefix → array); empty when absent."""
    with np.load(path, allow_pickle=False) as npz:
        return {k.split("/", 1)[1]: npz[k] for k in npz.files if k.startswith("world/")}


FALLBACK_NOTE = (
    "No world arrays in results.npz: showing the camera frame turned upright, camera at the origin, "
    "ground under the lowest body point (depth is the demo's nominal-focal estimate)."
)


def _pose_people(body, people, world: bool, keypoint_set: str | None, notes: list[str]) -> list[PersonData]:
    """Every person posed in the display frame (world, or the camera frame turned upright), quantised."""
    persons = []
    for i, (tid, p) in enumerate(sorted(people.items())):
        if world:
            verts, joints = _person_world(body, p, keypoint_set, notes, tid)
        else:
            verts, joints = _person_camera(body, p)
        q, centre, half = quantise(verts)
        frame_ids = np.asarray(p["frame_ids"], dtype=np.int64)
        contact = np.asarray(p["foot_contact"], bool) if world and "foot_contact" in p else None
        persons.append(PersonData(tid, frame_ids, q, centre, half, joints, PALETTE[i % len(PALETTE)], contact))
    return persons


def _lowest_point(persons: list[PersonData]) -> float:
    """Lowest vertex height (display y) over every person and frame; 0 with nobody."""
    lows = [p.centre[1] + p.half * p.vertices_q[..., 1].min() / INT16_MAX for p in persons]
    return float(min(lows)) if lows else 0.0


def load_scene(folder: Path | str, body: BodyModel | None = None) -> Scene:
    """Read ``results.npz`` and ``meta.json`` of ``folder`` and pose every person in the display frame.

    Args:
        folder: ``OUT/<video-stem>`` as ``vibe demo`` wrote it.
        body: the body model to pose with (None: the one ``meta.json`` names, :func:`load_body`).

    Raises:
        FileNotFoundError: no ``results.npz`` in ``folder``.
    """
    folder = Path(folder)
    results = folder / "results.npz"
    if not results.is_file():
        raise FileNotFoundError(f"{folder}: no results.npz (is it a `vibe demo` output folder?)")
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    body = body if body is not None else load_body(meta)
    frame_times_s, people = read_results(results)
    world = _read_globals(results)
    width, height = int(meta.get("video", {}).get("width", 0)), int(meta.get("video", {}).get("height", 0))
    use_world = _has_world(world, people)
    notes: list[str] = [] if use_world else [FALLBACK_NOTE]
    rows = sum(len(p["frame_ids"]) for p in people.values())
    log.info("posing %d people (%d rows) in the %s frame", len(people), rows, "world" if use_world else "camera")
    persons = _pose_people(body, people, use_world, meta.get("keypoint_set"), notes)
    if use_world:
        rotation, position = np.asarray(world["R_world_cam"], float), np.asarray(world["cam_position"], float)
        focal, ground_y = float(world["focal_px"]), 0.0
    else:
        rotation, position, ground_y = HALF_TURN_X, np.zeros(3), _lowest_point(persons)
        focal = float(meta.get("nominal_focal_px", max(width, height)))
    return Scene(
        frame="world" if use_world else "camera",
        frame_times_s=np.asarray(frame_times_s, dtype=np.float64),
        width=width,
        height=height,
        focal_px=focal,
        rotation_disp_cam=rotation,
        cam_position_disp=position,
        ground_y=ground_y,
        faces=body.faces.cpu().numpy().astype(np.uint32),
        parents=body.parents.cpu().numpy().astype(np.int64),
        people=persons,
        foot_joints=foot_joints(body.joint_names),
        videos=find_videos(folder, meta),
        notes=notes,
    )
