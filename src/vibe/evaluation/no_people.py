"""Videos without a person, to measure how often the demo invents one.

Everything is drawn (no photos, so no licences to track), each kind a known
way to fool a face-driven person detector and a landmark model that fits a
whole body to whatever crop it is given:

- ``objects``: still objects on a table (bottles, balls, boxes, a plate with
  two dots and a curve, i.e. a "face"), a slowly drifting camera, sensor noise;
- ``texture``: the synthetic benchmark's room (wall gradient, checkered floor,
  :func:`vibe.evaluation.scenes.floor_background`) seen by a panning camera;
- ``hand``: a skin-coloured hand and forearm (the Anny body's, rendered close
  up, nothing else of the body in view) reaching into a table-top shot.

:func:`write_no_people_video` writes one as H.264 ``.mp4``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["KINDS", "no_people_frames", "write_no_people_video"]

KINDS = ("objects", "texture", "hand")


def _table(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A table top ``(H, W, 3)`` float: a wall above, a wooden-ish gradient below, low-frequency texture."""
    top, bottom = rng.uniform(0.5, 0.9, 3), rng.uniform(0.2, 0.6, 3)
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    image = top * (1 - rows) + bottom * rows
    horizon = int(height * rng.uniform(0.25, 0.45))
    image[horizon:] *= rng.uniform(0.6, 0.9, 3)
    noise = cv2.resize(rng.normal(0, 1, (6, 8)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.broadcast_to(image, (height, width, 3)) * (1 + 0.08 * noise[..., None]) * 255


def _draw_objects(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Bottles, balls, boxes and a face-like plate, drawn in place on ``canvas (H, W, 3)`` float."""
    h, w = canvas.shape[:2]
    for _ in range(int(rng.integers(4, 8))):
        kind = rng.choice(["bottle", "ball", "box", "plate"])
        colour = tuple(float(c) for c in rng.uniform(20, 235, 3))
        cx, base = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.55, 0.95) * h)
        size = int(rng.uniform(0.12, 0.35) * h)
        if kind == "bottle":
            body_w = max(size // 4, 4)
            cv2.rectangle(canvas, (cx - body_w, base - size), (cx + body_w, base), colour, -1)
            cv2.rectangle(canvas, (cx - body_w // 3, base - size - size // 3), (cx + body_w // 3, base - size), colour, -1)
            cv2.rectangle(canvas, (cx - body_w // 3, base - size - size // 3 - 4), (cx + body_w // 3, base - size - size // 3), (30, 30, 30), -1)
        elif kind == "ball":
            cv2.circle(canvas, (cx, base - size // 2), size // 2, colour, -1)
            cv2.circle(canvas, (cx - size // 8, base - size * 5 // 8), size // 8, (250, 250, 250), -1)
        elif kind == "box":
            cv2.rectangle(canvas, (cx - size // 2, base - size), (cx + size // 2, base), colour, -1)
            cv2.rectangle(canvas, (cx - size // 2, base - size), (cx + size // 2, base), (20, 20, 20), 2)
        else:  # two dots and a smile on a plate: pareidolia for a face detector
            centre, r = (cx, base - size // 2), size // 2
            cv2.circle(canvas, centre, r, (235, 225, 210), -1)
            for dx in (-r // 3, r // 3):
                cv2.circle(canvas, (cx + dx, centre[1] - r // 4), max(r // 8, 2), (20, 20, 20), -1)
            cv2.ellipse(canvas, (cx, centre[1] + r // 6), (r // 3, r // 5), 0, 10, 170, (20, 20, 20), max(r // 12, 1))


def _camera_drift(image: np.ndarray, k: int, speed_px: float) -> np.ndarray:
    """Shift ``image`` by a slow sub-pixel drift at frame ``k`` (a hand-held camera)."""
    h, w = image.shape[:2]
    shift = np.float32([[1, 0, speed_px * np.sin(k / 17.0)], [0, 1, speed_px * np.cos(k / 23.0)]])
    return cv2.warpAffine(image, shift, (w, h), borderMode=cv2.BORDER_REFLECT)


def _finish(image: np.ndarray, rng: np.random.Generator, noise_std: float = 2.0) -> np.ndarray:
    return np.clip(image + rng.normal(0, noise_std, image.shape), 0, 255).astype(np.uint8)


def _objects_frames(rng: np.random.Generator, width: int, height: int, frames: int):
    scene = _table(rng, width, height).astype(np.float32)
    _draw_objects(scene, rng)
    for k in range(frames):
        yield _finish(_camera_drift(scene, k, 3.0), rng)


def _texture_frames(rng: np.random.Generator, width: int, height: int, frames: int):
    from vibe.evaluation.scenes import floor_background, sample_style

    style = sample_style(rng, width, height)
    focal = float(max(width, height))
    for k in range(frames):
        yaw = 0.3 * np.sin(k / 20.0)
        c, s = np.cos(yaw), np.sin(yaw)
        # camera-from-world: look along world −z with y up → OpenCV (x right, y down, z forward)
        rot = np.array([[c, 0, -s], [0, -1, 0], [-s, 0, -c]]) @ np.diag([1.0, 1.0, 1.0])
        yield floor_background(style, rot, np.array([0.0, 1.5, 0.0]), focal, width, height, 0.0, rng)


def _hand_frames(rng: np.random.Generator, width: int, height: int, frames: int):
    """A forearm and hand entering from the right edge and reaching to the middle of a table shot."""
    import torch

    from vibe.body.anny import Anny
    from vibe.evaluation.scenes import BodyRenderer, sample_style
    from vibe.render.overlay import PinholeCamera

    body = Anny()
    with torch.no_grad():
        rest = body(torch.eye(3, dtype=body.dtype).expand(1, body.num_joints, 3, 3), None)
    verts = rest.vertices[0].double().numpy()
    hand = rest.joints[0, body.joint_names.index("RightHand")].double().numpy()
    elbow = rest.joints[0, body.joint_names.index("RightForeArm")].double().numpy()
    # Camera looking down at the hand from 0.45 m, the forearm pointing to the image's right edge.
    along = (elbow - hand) / np.linalg.norm(elbow - hand)
    down = np.array([0.0, -1.0, 0.0])
    z = down
    x = along - along.dot(z) * z
    x /= np.linalg.norm(x)
    rot = np.stack([x, np.cross(z, x), z])  # rows: camera axes in body coordinates
    style = sample_style(rng, width, height)
    focal = float(max(width, height))
    camera = PinholeCamera(focal, focal, width / 2, height / 2)
    scene = _table(rng, width, height).astype(np.float32)
    _draw_objects(scene, rng)
    # Only the hand and forearm: faces whose vertices all lie within the forearm's length of the hand.
    faces = body.faces.cpu().numpy()
    near = np.linalg.norm(verts - hand, axis=1) < 1.1 * np.linalg.norm(elbow - hand)
    faces = faces[near[faces].all(axis=1)]
    with BodyRenderer(width, height, faces, body.num_vertices, style) as renderer:
        for k in range(frames):
            reach = 1.0 - min(1.0, k / max(frames * 0.6, 1))  # 1: outside on the right, 0: centred
            shift = np.array([0.35 * reach, 0.02 * np.sin(k / 5.0), 0.45])
            verts_cam = (verts - hand) @ rot.T + shift
            frame, _ = renderer.render(_camera_drift(scene, k, 2.0).astype(np.uint8), verts_cam, camera)
            yield _finish(frame.astype(np.float32), rng)


def no_people_frames(kind: str, width: int = 320, height: int = 240, frames: int = 30, seed: int = 0):
    """``frames`` RGB images ``(H, W, 3)`` uint8 of one people-free clip of ``kind`` (one of :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    make = {"objects": _objects_frames, "texture": _texture_frames, "hand": _hand_frames}[kind]
    return make(rng, width, height, frames)


def write_no_people_video(
    path: str | Path, kind: str, width: int = 320, height: int = 240, frames: int = 30, fps: float = 25.0, seed: int = 0
) -> Path:
    """Write a people-free clip (see :func:`no_people_frames`) as H.264 ``.mp4``; returns ``path``."""
    from vibe.pipeline.video import VideoWriter

    with VideoWriter(path, fps=fps) as writer:
        for image in no_people_frames(kind, width, height, frames, seed):
            writer.write(image)
    return Path(path)
