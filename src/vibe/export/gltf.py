"""An animated, skinned binary glTF (``.glb``) per person, for Blender and other DCC tools.

Contents (glTF 2.0: y up, metres, +z is the asset's front, as the body models):

- the person's mesh in the rest pose for their shape (Anny: the shaped rest
  mesh in its A-pose) with vertex normals;
- a skin: one node per body-model joint, named as the rig (Anny ``cmu_mb``:
  CMU names), parented as the skeleton, rest translation = bone-head offset
  from the parent (the root: its rest head), rest rotation identity; inverse
  bind matrices = translations by minus the rest heads (rest axes are world
  aligned, so the bind pose has no rotation);
- skinning weights: the model's, the ``max_influences`` (glTF: 4) largest per
  vertex renormalised to sum 1 (``JOINTS_0`` / ``WEIGHTS_0``);
- one animation: per joint a rotation channel (the body-model local rotation
  as a quaternion), on the root also a translation channel (rest head + body
  translation), keyframes at ``k / fps`` seconds (or at given times, so a variable
  frame rate is kept), linear interpolation.

Skinning this reproduces the body model's linear blend skinning exactly up to
the weight truncation (Anny has no pose-dependent correctives). SMPL's pose
blend shapes cannot be expressed in a skin and are left out; for SMPL the
file's mesh is plain LBS of the shaped template.

Bodies estimated from video are in camera axes (y down); turn them upright
first (:func:`vibe.export.bvh.camera_to_y_up`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pygltflib
import roma
import torch

from vibe.body.base import BodyModel
from vibe.export.bvh import shape_row

__all__ = ["export_gltf", "skinning_weights", "top_influences", "vertex_normals"]

_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def skinning_weights(body: BodyModel) -> np.ndarray:
    """``(V, J)`` float64 linear-blend skinning weights of a body model, columns in joint order.

    From :attr:`BodyModel.skinning_weights`, checked against the model's sizes.
    """
    weights = body.skinning_weights.detach().double().cpu().numpy()
    if weights.shape != (body.num_vertices, body.num_joints):
        raise ValueError(f"skinning weights {weights.shape}, expected {(body.num_vertices, body.num_joints)}")
    return weights


def top_influences(weights: np.ndarray, max_influences: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Keep each vertex's ``max_influences`` largest weights, renormalised.

    Args:
        weights: ``(V, J)`` non-negative weights.

    Returns:
        joints ``(V, K)`` int (descending weight) and weights ``(V, K)`` summing to 1.
    """
    k = min(max_influences, weights.shape[1])
    idx = np.argsort(-weights, axis=1, kind="stable")[:, :k]
    kept = np.take_along_axis(weights, idx, axis=1)
    total = kept.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("a vertex has no positive skinning weight")
    return idx, kept / total


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(V, 3)`` unit area-weighted vertex normals of a triangle mesh ``(V, 3)``, ``(F, 3)``."""
    tri = vertices[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_n)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(norm, 1e-12)


class _Blob:
    """Accumulates the binary chunk: one buffer view + accessor per array."""

    def __init__(self, gltf: pygltflib.GLTF2) -> None:
        self.gltf = gltf
        self.data = bytearray()

    def add(self, array: np.ndarray, accessor_type: str, target: int | None = None, minmax: bool = False) -> int:
        """Append ``array`` (float32, uint16 or uint32) and return its accessor index."""
        component = {
            np.dtype(np.float32): pygltflib.FLOAT,
            np.dtype(np.uint16): pygltflib.UNSIGNED_SHORT,
            np.dtype(np.uint32): pygltflib.UNSIGNED_INT,
        }[array.dtype]
        while len(self.data) % 4:  # accessors must be aligned to their component size
            self.data.append(0)
        raw = np.ascontiguousarray(array).tobytes()
        self.gltf.bufferViews.append(
            pygltflib.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw), target=target)
        )
        self.data.extend(raw)
        flat = array.reshape(array.shape[0], -1)
        accessor = pygltflib.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1,
            componentType=component,
            count=int(array.shape[0]),
            type=accessor_type,
        )
        if minmax:
            accessor.min = flat.min(axis=0).astype(float).tolist()
            accessor.max = flat.max(axis=0).astype(float).tolist()
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


def _continuous_quaternions(rotmat: np.ndarray) -> np.ndarray:
    """``(T, J, 4)`` xyzw unit quaternions of ``(T, J, 3, 3)``, signs kept continuous over time."""
    quat = roma.rotmat_to_unitquat(torch.as_tensor(rotmat, dtype=torch.float64)).numpy()  # xyzw
    for t in range(1, len(quat)):
        flip = np.sum(quat[t] * quat[t - 1], axis=-1) < 0
        quat[t, flip] *= -1.0
    return quat


@torch.no_grad()
def export_gltf(
    path: Path | str,
    body: BodyModel,
    pose_rotmat: np.ndarray | torch.Tensor,
    transl: np.ndarray | torch.Tensor,
    fps: float,
    shape: torch.Tensor | np.ndarray | None = None,
    max_influences: int = 4,
    name: str = "person",
    times_s: np.ndarray | None = None,
) -> Path:
    """Write one person's motion as an animated skinned ``.glb`` (see the module docstring).

    Args:
        path: output file (written to a temp name, then renamed).
        body: the body model.
        pose_rotmat: ``(T, J, 3, 3)`` body-model local rotations, root first.
        transl: ``(T, 3)`` body translation, metres.
        fps: frames per second of the video (keyframe ``k`` at ``k / fps`` s).
        shape: ``(S,)`` the person's shape; ``None`` → the mean shape.
        max_influences: joints per vertex kept (glTF ``JOINTS_0``: 4).
        name: name of the mesh and its node.
        times_s: ``(T,)`` increasing keyframe times in seconds, e.g. the video
            frames' timestamps (variable frame rate kept); shifted to start at
            0. ``None``: ``k / fps``.

    Returns:
        The written path.
    """
    path = Path(path)
    local = torch.as_tensor(pose_rotmat).detach().cpu().double().numpy()
    transl = torch.as_tensor(transl).detach().cpu().double().numpy()
    num_frames, num_joints = local.shape[:2]
    if num_joints != body.num_joints or transl.shape != (num_frames, 3):
        raise ValueError(
            f"pose {local.shape} / transl {transl.shape} do not fit {body.name}'s {body.num_joints} joints"
        )
    if max_influences > 4:
        raise ValueError("glTF JOINTS_0 / WEIGHTS_0 hold at most 4 influences")

    rest = body(body.rest_pose(1), shape_row(body, shape))
    verts = rest.vertices[0].double().cpu().numpy()
    heads = rest.joints[0].double().cpu().numpy()
    faces = body.faces.cpu().numpy()
    parents = body.parents.cpu().numpy()
    joint_idx, joint_w = top_influences(skinning_weights(body), max_influences)
    if joint_idx.shape[1] < 4:  # pad to the VEC4 the attributes require
        pad = 4 - joint_idx.shape[1]
        joint_idx = np.pad(joint_idx, ((0, 0), (0, pad)))
        joint_w = np.pad(joint_w, ((0, 0), (0, pad)))

    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(generator="vibe", version="2.0"))
    blob = _Blob(gltf)
    attributes = pygltflib.Attributes(
        POSITION=blob.add(verts.astype(np.float32), pygltflib.VEC3, _ARRAY_BUFFER, minmax=True),
        NORMAL=blob.add(vertex_normals(verts, faces).astype(np.float32), pygltflib.VEC3, _ARRAY_BUFFER),
        JOINTS_0=blob.add(joint_idx.astype(np.uint16), pygltflib.VEC4, _ARRAY_BUFFER),
        WEIGHTS_0=blob.add(joint_w.astype(np.float32), pygltflib.VEC4, _ARRAY_BUFFER),
    )
    indices = blob.add(faces.reshape(-1).astype(np.uint32), pygltflib.SCALAR, _ELEMENT_ARRAY_BUFFER, minmax=True)
    gltf.meshes.append(
        pygltflib.Mesh(name=name, primitives=[pygltflib.Primitive(attributes=attributes, indices=indices)])
    )

    # Node 0: the skinned mesh; nodes 1..J: the joints (node = joint index + 1).
    offsets = heads.copy()
    offsets[1:] = heads[1:] - heads[parents[1:]]
    gltf.nodes.append(pygltflib.Node(name=name, mesh=0, skin=0))
    for j, joint_name in enumerate(body.joint_names):
        children = [int(c) + 1 for c in np.flatnonzero(parents == j)]
        gltf.nodes.append(pygltflib.Node(name=joint_name, translation=offsets[j].tolist(), children=children))
    inverse_bind = np.tile(np.eye(4), (num_joints, 1, 1))
    inverse_bind[:, :3, 3] = -heads
    # glTF matrices are column-major: write each matrix transposed.
    ibm = blob.add(np.swapaxes(inverse_bind, 1, 2).reshape(num_joints, 16).astype(np.float32), pygltflib.MAT4)
    gltf.skins.append(pygltflib.Skin(inverseBindMatrices=ibm, joints=list(range(1, num_joints + 1)), skeleton=1))
    gltf.scenes.append(pygltflib.Scene(nodes=[0, 1]))
    gltf.scene = 0

    if times_s is None:
        key_times = np.arange(num_frames) / float(fps)
    else:
        key_times = np.asarray(times_s, dtype=np.float64)
        if key_times.shape != (num_frames,) or (num_frames > 1 and not np.all(np.diff(key_times) > 0)):
            raise ValueError(f"times_s must be ({num_frames},) increasing, got shape {key_times.shape}")
        key_times = key_times - key_times[0]
    times = blob.add(key_times.astype(np.float32), pygltflib.SCALAR, minmax=True)
    quats = _continuous_quaternions(local).astype(np.float32)
    animation = pygltflib.Animation(name=f"{name}_motion")
    for j in range(num_joints):
        output = blob.add(np.ascontiguousarray(quats[:, j]), pygltflib.VEC4)
        animation.samplers.append(pygltflib.AnimationSampler(input=times, output=output, interpolation="LINEAR"))
        target = pygltflib.AnimationChannelTarget(node=j + 1, path="rotation")
        animation.channels.append(pygltflib.AnimationChannel(sampler=len(animation.samplers) - 1, target=target))
    root_track = blob.add((heads[0] + transl).astype(np.float32), pygltflib.VEC3)
    animation.samplers.append(pygltflib.AnimationSampler(input=times, output=root_track, interpolation="LINEAR"))
    target = pygltflib.AnimationChannelTarget(node=1, path="translation")
    animation.channels.append(pygltflib.AnimationChannel(sampler=len(animation.samplers) - 1, target=target))
    gltf.animations.append(animation)

    while len(blob.data) % 4:
        blob.data.append(0)
    gltf.buffers.append(pygltflib.Buffer(byteLength=len(blob.data)))
    gltf.set_binary_blob(bytes(blob.data))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        gltf.save_binary(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
