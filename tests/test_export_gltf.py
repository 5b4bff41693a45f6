"""glTF export: the .glb loads (pygltflib, trimesh), is consistent, and its skin reproduces the body.

The decisive check evaluates the file independently of the exporter: node
local transforms from the glTF nodes and the animation keyframe at frame t,
global transforms down the node tree, joint matrices = global @ inverse bind
matrix, then linear blend skinning of POSITION with JOINTS_0 / WEIGHTS_0. The
reference is ``Anny.forward`` (its own dense LBS with every influence), and
``SMPL.forward`` on synthetic files with the pose blend shapes zeroed.

Tolerance: 6.4 % of Anny's vertices have 5-7 influences; keeping the 4
largest moves them. Measured on the clip below (a heavy adult, random
rotation vectors of 0.5 rad per joint, far more bent than real motion): mean
0.10-0.15 mm, 99th percentile 2.9-5.1 mm, worst vertex 13-26 mm per frame;
with 0.3 rad: 0.06-0.10 mm, 1.8-3.2 mm, 8-17 mm. The test allows mean 0.5 mm,
99th percentile 8 mm, worst 40 mm, and 1e-5 m on the vertices with at most 4
influences (no truncation there, so any other error shows).
"""

from __future__ import annotations

import numpy as np
import pygltflib
import pytest
import roma
import torch

from smpl_fixtures import write_synthetic_smpl

from vibe.body.anny import Anny, AnnyConfig
from vibe.body.smpl import SMPL
from vibe.export.gltf import export_gltf, skinning_weights, top_influences

_NUMPY = {pygltflib.FLOAT: np.float32, pygltflib.UNSIGNED_SHORT: np.uint16, pygltflib.UNSIGNED_INT: np.uint32,
          pygltflib.UNSIGNED_BYTE: np.uint8}  # fmt: skip
_WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}
FPS = 24.0


def _accessor(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    """The accessor's data as ``(count, width)`` numpy (tightly packed views only)."""
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    assert view.byteStride in (None, 0)
    dtype = np.dtype(_NUMPY[acc.componentType])
    start = view.byteOffset + (acc.byteOffset or 0)
    width = _WIDTH[acc.type]
    data = np.frombuffer(gltf.binary_blob(), dtype=dtype, count=acc.count * width, offset=start)
    return data.reshape(acc.count, width)


def _quat_matrix(xyzw: np.ndarray) -> np.ndarray:
    """3×3 rotation of a unit quaternion (x, y, z, w), written out by hand."""
    x, y, z, w = xyzw / np.linalg.norm(xyzw)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def _skin_frame(gltf: pygltflib.GLTF2, frame: int) -> np.ndarray:
    """``(V, 3)`` vertices of the file's mesh at keyframe ``frame`` (independent LBS)."""
    local = {}
    for i, node in enumerate(gltf.nodes):
        local[i] = {"t": np.array(node.translation or [0.0, 0.0, 0.0]), "r": np.array(node.rotation or [0, 0, 0, 1.0])}
    anim = gltf.animations[0]
    for channel in anim.channels:
        sampler = anim.samplers[channel.sampler]
        value = _accessor(gltf, sampler.output)[frame].astype(np.float64)
        local[channel.target.node]["t" if channel.target.path == "translation" else "r"] = value
    parent = {c: i for i, node in enumerate(gltf.nodes) for c in (node.children or [])}
    glob: dict[int, np.ndarray] = {}

    def global_of(i: int) -> np.ndarray:
        if i not in glob:
            m = np.eye(4)
            m[:3, :3] = _quat_matrix(local[i]["r"])
            m[:3, 3] = local[i]["t"]
            glob[i] = global_of(parent[i]) @ m if i in parent else m
        return glob[i]

    skin = gltf.skins[0]
    ibm = _accessor(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
    joint_mats = np.stack([global_of(n) @ ibm[k] for k, n in enumerate(skin.joints)])
    prim = gltf.meshes[0].primitives[0]
    pos = _accessor(gltf, prim.attributes.POSITION).astype(np.float64)
    joints = _accessor(gltf, prim.attributes.JOINTS_0).astype(np.int64)
    weights = _accessor(gltf, prim.attributes.WEIGHTS_0).astype(np.float64)
    pos_h = np.concatenate([pos, np.ones((len(pos), 1))], axis=1)
    skin_mats = np.einsum("vk,vkij->vij", weights, joint_mats[joints])
    return np.einsum("vij,vj->vi", skin_mats, pos_h)[:, :3]


@pytest.fixture(scope="module")
def anny() -> Anny:
    return Anny(AnnyConfig(dtype=torch.float64))


@pytest.fixture(scope="module")
def clip(anny):
    """A shaped person's 5-frame motion with bent limbs and a moving root."""
    g = torch.Generator().manual_seed(3)
    rotvec = 0.5 * torch.randn(5, anny.num_joints, 3, generator=g, dtype=torch.float64)
    rotvec[:, 0] = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64) * torch.linspace(0, 3.0, 5)[:, None]
    pose = roma.rotvec_to_rotmat(rotvec)
    transl = torch.randn(5, 3, generator=g, dtype=torch.float64)
    shape = torch.tensor([0.2, 0.9, 0.7, 0.6, 0.8, 0.4], dtype=torch.float64)
    return pose, transl, shape


@pytest.fixture(scope="module")
def glb(anny, clip, tmp_path_factory):
    pose, transl, shape = clip
    path = tmp_path_factory.mktemp("gltf") / "person_1.glb"
    assert export_gltf(path, anny, pose, transl, FPS, shape=shape) == path
    return path


@pytest.mark.anny
def test_file_loads_and_is_consistent(anny, clip, glb):
    gltf = pygltflib.GLTF2().load(str(glb))
    num_v, num_j = anny.num_vertices, anny.num_joints
    prim = gltf.meshes[0].primitives[0]
    for name, kind in [("POSITION", "VEC3"), ("NORMAL", "VEC3"), ("JOINTS_0", "VEC4"), ("WEIGHTS_0", "VEC4")]:
        acc = gltf.accessors[getattr(prim.attributes, name)]
        assert (acc.count, acc.type) == (num_v, kind), name
    assert gltf.accessors[prim.indices].count == 3 * anny.faces.shape[0]
    assert gltf.accessors[prim.indices].max[0] == num_v - 1
    skin = gltf.skins[0]
    assert len(skin.joints) == num_j and gltf.accessors[skin.inverseBindMatrices].count == num_j
    assert [gltf.nodes[n].name for n in skin.joints] == anny.joint_names
    assert gltf.nodes[0].skin == 0 and gltf.nodes[0].mesh == 0

    weights = _accessor(gltf, prim.attributes.WEIGHTS_0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert _accessor(gltf, prim.attributes.JOINTS_0).max() < num_j

    anim = gltf.animations[0]
    paths = sorted((c.target.node, c.target.path) for c in anim.channels)
    expected = sorted([(n, "rotation") for n in skin.joints] + [(skin.joints[0], "translation")])
    assert paths == expected
    times = _accessor(gltf, anim.samplers[0].input)[:, 0]
    np.testing.assert_allclose(times, np.arange(5) / FPS, rtol=0, atol=1e-6)
    assert gltf.accessors[anim.samplers[0].input].max[0] == pytest.approx(4 / FPS)


@pytest.mark.anny
def test_trimesh_loads_the_mesh(anny, glb):
    import trimesh  # a dependency of the package (rendering): never skipped
    scene = trimesh.load(str(glb), force="scene")
    meshes = list(scene.geometry.values())
    assert len(meshes) == 1
    assert meshes[0].vertices.shape == (anny.num_vertices, 3)
    assert meshes[0].faces.shape == tuple(anny.faces.shape)


@pytest.mark.anny
def test_rest_mesh_is_the_shaped_rest_body(anny, clip, glb):
    _, _, shape = clip
    gltf = pygltflib.GLTF2().load(str(glb))
    pos = _accessor(gltf, gltf.meshes[0].primitives[0].attributes.POSITION)
    rest = anny(anny.rest_pose(1), shape[None]).vertices[0].numpy()
    np.testing.assert_allclose(pos, rest, atol=1e-5)


@pytest.mark.anny
def test_skinning_the_file_reproduces_the_body(anny, clip, glb):
    pose, transl, shape = clip
    gltf = pygltflib.GLTF2().load(str(glb))
    expected = anny(pose, shape.expand(5, -1), transl).vertices.numpy()
    for t in range(5):
        err = np.linalg.norm(_skin_frame(gltf, t) - expected[t], axis=1)
        assert err.mean() < 5e-4, (t, err.mean())
        assert np.percentile(err, 99) < 8e-3, (t, np.percentile(err, 99))
        assert err.max() < 0.04, (t, err.max())


@pytest.mark.anny
def test_skinning_is_exact_where_four_influences_suffice(anny, clip, glb):
    """Vertices with at most 4 non-zero weights are not truncated: they match to 1e-5 m."""
    pose, transl, shape = clip
    gltf = pygltflib.GLTF2().load(str(glb))
    exact = np.count_nonzero(skinning_weights(anny) > 0, axis=1) <= 4
    assert exact.mean() > 0.5
    expected = anny(pose[2:3], shape[None], transl[2:3]).vertices[0].numpy()
    np.testing.assert_allclose(_skin_frame(gltf, 2)[exact], expected[exact], atol=1e-5, rtol=0)


def test_top_influences_keeps_the_largest():
    weights = np.array([[0.1, 0.4, 0.05, 0.2, 0.25], [0.0, 0.0, 1.0, 0.0, 0.0]])
    idx, w = top_influences(weights, 4)
    assert idx[0].tolist() == [1, 4, 3, 0]
    np.testing.assert_allclose(w[0], np.array([0.4, 0.25, 0.2, 0.1]) / 0.95)
    assert idx[1, 0] == 2 and w[1, 0] == 1.0


def test_smpl_skin_reproduces_lbs(tmp_path):
    """SMPL (synthetic files): with its pose blend shapes zeroed (a skin cannot hold
    them), the file's skinning equals the model's LBS; its weights have <= 4 joints."""
    write_synthetic_smpl(tmp_path / "smpl")
    smpl = SMPL(tmp_path / "smpl", dtype=torch.float64)
    smpl.posedirs.zero_()
    assert np.count_nonzero(skinning_weights(smpl) > 0, axis=1).max() <= 4
    pose = roma.rotvec_to_rotmat(0.4 * torch.randn(3, 24, 3, dtype=torch.float64))
    transl = torch.randn(3, 3, dtype=torch.float64)
    betas = torch.randn(1, 10, dtype=torch.float64)
    path = export_gltf(tmp_path / "smpl.glb", smpl, pose, transl, 30.0, shape=betas[0])
    gltf = pygltflib.GLTF2().load(str(path))
    assert [gltf.nodes[n].name for n in gltf.skins[0].joints] == smpl.joint_names
    expected = smpl(pose, betas.expand(3, -1), transl).vertices.numpy()
    for t in range(3):
        np.testing.assert_allclose(_skin_frame(gltf, t), expected[t], atol=1e-5, rtol=0)
