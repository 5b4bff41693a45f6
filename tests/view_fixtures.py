"""A small synthetic ``vibe demo`` result folder for the viewer's tests, with or without world arrays.

The body is :class:`BoxBody`: the toy kinematic tree with a 10 cm box around
every joint, so it has faces to draw. One person stands 3 m in front of a
320×240 camera (focal 300 px), right of the image centre, and swings two
joints over 12 frames at 10 fps. The world version places the camera 1.6 m
up, pitched and turned; its world arrays are the camera-frame body moved by
that rigid transform, so the body's image position is the same in both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from toy_body import ToyBody
from vibe.body.base import BodyOutput
from vibe.pipeline.outputs import write_results
from vibe.pipeline.video import VideoWriter

WIDTH, HEIGHT, FOCAL_PX, FPS, FRAMES = 320, 240, 300.0, 10.0, 12
HALF_TURN_X = np.diag([1.0, -1.0, -1.0])
# World from camera: a camera 1.6 m up, pitched 15° down, turned 30° about the vertical.
R_WORLD_CAM = Rotation.from_euler("yx", [30, -15], degrees=True).as_matrix() @ HALF_TURN_X
CAM_POSITION = np.array([0.3, 1.6, -0.2])
ROOT_REST = (0.05, 0.9, 0.02)  # the box body's rest root joint position, metres
_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
_BOX_FACES = np.array(
    [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
     [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
)  # fmt: skip


class BoxBody(ToyBody):
    """:class:`ToyBody` with a box of half side ``half`` metres (8 vertices, 12 triangles) at every joint.

    Its root joint rests at ``ROOT_REST`` (not at the origin, as SMPL's and
    Anny's do not), so the body's translation and its root position differ.
    """

    def __init__(self, num_joints: int = 12, half: float = 0.05, seed: int = 3):
        super().__init__(num_joints=num_joints, shape_dim=4, verts_per_joint=8, seed=seed)
        self.bone_offsets.mul_(2.0)  # a body about a metre tall
        self.vertex_offsets.copy_(torch.as_tensor(half * _CORNERS).expand(num_joints, 8, 3))
        faces = torch.as_tensor(_BOX_FACES)[None] + 8 * torch.arange(num_joints)[:, None, None]
        self.register_buffer("_faces", faces.reshape(-1, 3))

    @property
    def faces(self) -> torch.Tensor:
        return self._faces

    @property
    def joint_names(self) -> list[str]:
        names = super().joint_names
        names[3:5] = ["left_foot", "right_foot"]  # where the viewer's contact markers go
        return names

    def forward(self, pose_rotmat, shape=None, transl=None) -> BodyOutput:
        out = super().forward(pose_rotmat, shape)
        offset = torch.as_tensor(ROOT_REST, dtype=out.joints.dtype)
        if transl is not None:
            offset = offset + transl[:, None]
        return BodyOutput(vertices=out.vertices + offset, joints=out.joints + offset, joints_rotmat=out.joints_rotmat)


def motion(body: BoxBody) -> dict[str, np.ndarray]:
    """Camera-frame arrays of the person: ``pose_rotmat (n, J, 3, 3)``, ``shape``, ``transl_cam``, ``frame_ids``."""
    n, j = FRAMES, body.num_joints
    pose = np.tile(np.eye(3), (n, j, 1, 1))
    pose[:, 0] = HALF_TURN_X @ Rotation.from_euler("y", 20, degrees=True).as_matrix()  # upright in camera axes
    swing = Rotation.from_euler("z", np.linspace(0, 110, n)[:, None], degrees=True).as_matrix()
    pose[:, 1], pose[:, 2] = swing, swing.transpose(0, 2, 1)
    transl = np.stack([np.linspace(0.45, 0.6, n), np.full(n, -0.85), np.full(n, 3.0)], axis=1)
    return {
        "frame_ids": np.arange(n),
        "pose_rotmat": pose.astype(np.float32),
        "shape": np.zeros((n, body.shape_dim), np.float32),
        "transl_cam": transl.astype(np.float32),
    }


def posed(body: BoxBody, arrays: dict[str, np.ndarray], transl_key: str = "transl_cam") -> tuple:
    """``body``'s vertices and joints ``(n, ·, 3)`` float64 for ``arrays`` (posed as the viewer must)."""
    with torch.no_grad():
        out = body(*(torch.as_tensor(arrays[k], dtype=torch.float32) for k in ("pose_rotmat", "shape", transl_key)))
    return out.vertices.double().numpy(), out.joints.double().numpy()


def world_arrays(body: BoxBody, arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """(global ``world/…`` arrays, the person's world arrays): the camera-frame body moved to the world.

    As :mod:`vibe.pipeline.outputs` documents them: ``transl_world`` is the root
    joint's world position, ``joints3d_world`` the keypoints in the world.
    """
    _, joints_cam = posed(body, arrays)
    person = {
        "root_rotmat_world": (R_WORLD_CAM @ arrays["pose_rotmat"][:, 0]).astype(np.float32),
        "transl_world": (joints_cam[:, 0] @ R_WORLD_CAM.T + CAM_POSITION).astype(np.float32),
        "joints3d_world": (joints_cam @ R_WORLD_CAM.T + CAM_POSITION).astype(np.float32),
        "foot_contact": np.stack([np.arange(FRAMES) < FRAMES // 2, np.arange(FRAMES) % 2 == 0], axis=1),
    }
    globals_ = {"R_world_cam": R_WORLD_CAM, "cam_position": CAM_POSITION, "focal_px": np.float64(FOCAL_PX)}
    return globals_, person


def write_video(path: Path) -> Path:
    """A 12-frame grey ramp, 320×240 at 10 fps (H.264, like the demo's overlay)."""
    with VideoWriter(path, fps=FPS) as writer:
        for i in range(FRAMES):
            writer.write(np.full((HEIGHT, WIDTH, 3), 40 + 15 * i, np.uint8), time_s=i / FPS)
    return path


def write_result_folder(folder: Path, body: BoxBody, world: bool, video: str = "overlay") -> dict[str, np.ndarray]:
    """``results.npz`` and ``meta.json`` as ``vibe demo`` lays them out, and a video.

    ``video``: ``"overlay"`` (``overlay.mp4`` in the folder), ``"source"`` (the
    ``source.mp4`` of ``meta.json``, beside the folder) or ``"none"``.
    Returns the person's camera-frame arrays (track id 1).
    """
    folder.mkdir(parents=True, exist_ok=True)
    arrays = motion(body)
    person = dict(arrays)
    person["joints3d"] = posed(body, {**arrays, "transl_cam": np.zeros((FRAMES, 3), np.float32)})[1]
    times = np.arange(FRAMES) / FPS
    path = write_results(folder / "results.npz", times, {1: person})
    if world:
        globals_, person_world = world_arrays(body, arrays)
        with np.load(path) as npz:
            saved = dict(npz)
        saved.update({f"world/{k}": v for k, v in globals_.items()})
        saved.update({f"track1/{k}": v for k, v in person_world.items()})
        np.savez(path, **saved)
    meta = {
        "video": {"path": "source.mp4", "fps": FPS, "width": WIDTH, "height": HEIGHT, "frames_read": FRAMES},
        "body_model": "toy",
        "keypoint_set": "joints",
        "nominal_focal_px": FOCAL_PX,
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    if video != "none":
        write_video(folder / "overlay.mp4" if video == "overlay" else folder.parent / "source.mp4")
    return arrays


def project(points_cam: np.ndarray) -> np.ndarray:
    """Pinhole projection ``(..., 3)`` camera frame → ``(..., 2)`` pixels of the 320×240 image."""
    return FOCAL_PX * points_cam[..., :2] / points_cam[..., 2:] + np.array([WIDTH / 2, HEIGHT / 2])
