"""Write a synthetic SMPL folder in the official file layout (the real files are licensed).

The arrays have the real shapes and structure: 6890 vertices on a closed
genus-0 mesh with 13776 faces (a UV sphere stretched to a flat, T-pose-sized
ellipsoid with smooth bumps), the real SMPL kinematic tree, a sparse
``J_regressor`` whose rows average a few dozen vertices near each joint,
smooth blend shapes and smooth 4-joint skinning weights. Values are random,
so nothing here says anything about the real model beyond its format.

The ``.pkl`` is written the way the official files are: a protocol-2 pickle of
a dict whose ``shapedirs`` is a ``chumpy.ch.Ch`` and whose ``J_regressor`` is a
``scipy.sparse.csc.csc_matrix``. Neither chumpy nor that old scipy module path
is needed: look-alike classes are registered in ``sys.modules`` only while
the file is written (:func:`temporary_class_paths`), so the pickle carries
exactly those class paths.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

# Real SMPL kinematic tree (parent of each of the 24 joints; the root's is uint32 max).
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# A T-pose skeleton of roughly human proportions (metres, y up, +x = body's left).
_SKELETON = np.array([
    [0.00, -0.22, 0.02], [0.06, -0.31, 0.01], [-0.06, -0.31, 0.01], [0.00, -0.11, -0.01],
    [0.10, -0.69, 0.01], [-0.10, -0.69, 0.01], [0.00, 0.03, 0.00], [0.09, -1.05, -0.03],
    [-0.09, -1.05, -0.03], [0.00, 0.08, 0.02], [0.11, -1.10, 0.06], [-0.11, -1.10, 0.06],
    [0.00, 0.29, -0.01], [0.08, 0.20, 0.00], [-0.08, 0.20, 0.00], [0.00, 0.36, 0.04],
    [0.19, 0.23, -0.01], [-0.19, 0.23, -0.01], [0.45, 0.21, -0.03], [-0.45, 0.21, -0.03],
    [0.71, 0.22, -0.03], [-0.71, 0.22, -0.03], [0.79, 0.21, -0.04], [-0.79, 0.21, -0.04],
])  # fmt: skip

_RINGS, _SEGMENTS = 84, 82  # 84 * 82 + 2 poles = 6890 vertices, 2 * 84 * 82 = 13776 faces


def _sphere_mesh() -> tuple[np.ndarray, np.ndarray]:
    """Unit UV sphere: directions ``(6890, 3)`` and faces ``(13776, 3)`` (outward winding)."""
    lat = np.pi * (np.arange(1, _RINGS + 1) / (_RINGS + 1))  # polar angle, poles excluded
    lon = 2 * np.pi * np.arange(_SEGMENTS) / _SEGMENTS
    lat, lon = np.meshgrid(lat, lon, indexing="ij")
    ring_dirs = np.stack([np.sin(lat) * np.cos(lon), np.cos(lat), np.sin(lat) * np.sin(lon)], -1)
    dirs = np.concatenate([[[0, 1, 0]], ring_dirs.reshape(-1, 3), [[0, -1, 0]]])
    top, bottom = 0, len(dirs) - 1
    ring = lambda i: 1 + i * _SEGMENTS + np.arange(_SEGMENTS)  # noqa: E731
    nxt = lambda a: np.roll(a, -1)  # noqa: E731
    faces = [np.stack([np.full(_SEGMENTS, top), nxt(ring(0)), ring(0)], -1)]
    for i in range(_RINGS - 1):
        a, b = ring(i), ring(i + 1)
        faces += [np.stack([a, nxt(a), b], -1), np.stack([nxt(a), nxt(b), b], -1)]
    last = ring(_RINGS - 1)
    faces.append(np.stack([np.full(_SEGMENTS, bottom), last, nxt(last)], -1))
    return dirs, np.concatenate(faces)


def _smooth_features(points: np.ndarray) -> np.ndarray:
    """``(N, 16)`` low-frequency functions of ``(N, 3)`` positions (for smooth random fields)."""
    x, y, z = points.T
    feats = [np.ones_like(x), x, y, z, x * x, y * y, z * z, x * y, y * z, x * z]
    feats += [np.sin(2 * x), np.cos(2 * x), np.sin(2 * y), np.cos(2 * y), np.sin(4 * z), np.cos(3 * x * y)]
    return np.stack(feats, -1)


def _local_regressor(
    vertices: np.ndarray, targets: np.ndarray, rng: np.random.Generator, k: int = 30
) -> np.ndarray:
    """``(len(targets), V)`` rows averaging the ``k`` vertices nearest each target; rows sum to 1."""
    dist = np.linalg.norm(vertices[None] - targets[:, None], axis=-1)
    nearest = np.argsort(dist, axis=1)[:, :k]
    regressor = np.zeros((len(targets), len(vertices)))
    rows = np.arange(len(targets))[:, None]
    regressor[rows, nearest] = rng.uniform(0.5, 1.5, size=nearest.shape)
    return regressor / regressor.sum(1, keepdims=True)


def synthetic_smpl_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays of a synthetic SMPL model, keyed and shaped as in the official file.

    ``v_template (6890, 3)``, ``shapedirs (6890, 3, 10)``, ``posedirs (6890, 3, 207)``,
    ``J_regressor (24, 6890)`` dense, ``weights (6890, 24)``, ``kintree_table (2, 24)``
    uint32, ``f (13776, 3)`` uint32, and the two extra regressors
    ``J_regressor_extra (9, 6890)`` and ``J_regressor_h36m (17, 6890)``.
    """
    rng = np.random.default_rng(seed)
    dirs, faces = _sphere_mesh()
    centre, radii = np.array([0.0, -0.3, 0.0]), np.array([0.9, 0.85, 0.15])
    bumps = 1 + 0.03 * _smooth_features(dirs) @ rng.normal(size=16) / 4
    v_template = centre + dirs * radii * bumps[:, None]

    feats = _smooth_features(v_template)
    shapedirs = (feats @ rng.normal(scale=0.01, size=(16, 3 * 10))).reshape(-1, 3, 10)
    posedirs = (feats @ rng.normal(scale=0.002, size=(16, 3 * 207))).reshape(-1, 3, 207)

    j_regressor = _local_regressor(v_template, _SKELETON, rng)
    joints = j_regressor @ v_template
    dist2 = ((v_template[:, None] - joints[None]) ** 2).sum(-1)  # (V, 24)
    logits = -dist2 / (2 * 0.12**2)
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights[weights < np.sort(weights, axis=1)[:, -4:-3]] = 0  # keep the 4 nearest joints
    weights /= weights.sum(1, keepdims=True)

    kintree = np.stack([np.array(SMPL_PARENTS) % 2**32, np.arange(24)]).astype(np.uint32)
    extra_targets = _SKELETON[[2, 1, 12, 15, 0, 9, 6, 15, 15]] + rng.normal(scale=0.02, size=(9, 3))
    h36m_targets = _SKELETON[[0, 1, 4, 7, 2, 5, 8, 6, 12, 15, 15, 16, 18, 20, 17, 19, 21]]
    h36m_targets = h36m_targets + rng.normal(scale=0.02, size=(17, 3))
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": faces.astype(np.uint32),
        "J_regressor_extra": _local_regressor(v_template, extra_targets, rng, k=20),
        "J_regressor_h36m": _local_regressor(v_template, h36m_targets, rng, k=20),
    }


def synthetic_mean_params(seed: int = 0) -> dict[str, np.ndarray]:
    """``pose (144,)`` (24 rotations as row-major (3, 2) first columns), ``shape (10,)``, ``cam (3,)``."""
    rng = np.random.default_rng(seed + 1)
    rotmats = Rotation.from_rotvec(rng.normal(scale=0.2, size=(24, 3))).as_matrix()
    return {
        "pose": rotmats[:, :, :2].reshape(144),
        "shape": rng.normal(scale=0.1, size=10),
        "cam": np.array([0.9, 0.0, 0.2]) + rng.normal(scale=0.01, size=3),
    }


class ChLike:
    """Pickles like ``chumpy.ch.Ch``: class path ``chumpy.ch.Ch``, state = its ``__dict__``."""

    def __init__(self, x: np.ndarray):
        self.x = x

    def __getstate__(self) -> dict:
        # chumpy drops its weak-reference caches and keeps the rest of __dict__.
        return {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {},
                "_make_dense": False, "_make_sparse": False}  # fmt: skip


class OldCscLike:
    """Pickles like an old ``scipy.sparse.csc.csc_matrix``: its attributes as the state."""

    def __init__(self, dense: np.ndarray):
        mask = dense.T != 0  # column-major walk gives CSC order
        self.state = {
            "_shape": dense.shape,
            "maxprint": 50,
            "format": "csc",
            "data": dense.T[mask],
            "indices": np.nonzero(mask)[1].astype(np.int32),
            "indptr": np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int32),
        }

    def __getstate__(self) -> dict:
        return self.state


@contextlib.contextmanager
def temporary_class_paths(classes: dict[str, type]) -> Iterator[None]:
    """Make each ``"module.Name"`` resolve to the given class while the block runs.

    Pickle records a class by its ``__module__`` and ``__qualname__`` and checks
    that importing that path gives the class back; fake modules in
    ``sys.modules`` (and missing parent packages) satisfy that check. Every
    entry of ``sys.modules`` touched is restored afterwards.
    """
    fakes: dict[str, types.ModuleType] = {}
    names = {cls: (cls.__module__, cls.__qualname__, cls.__name__) for cls in classes.values()}
    for path, cls in classes.items():
        module, name = path.rsplit(".", 1)
        parts = module.split(".")
        for i in range(1, len(parts)):  # parent packages the import needs
            parent = ".".join(parts[:i])
            if parent not in sys.modules and parent not in fakes:
                fakes[parent] = types.ModuleType(parent)
        fakes.setdefault(module, types.ModuleType(module))
        cls.__module__, cls.__qualname__, cls.__name__ = module, name, name
        setattr(fakes[module], name, cls)
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for cls, (module, qualname, name) in names.items():
            cls.__module__, cls.__qualname__, cls.__name__ = module, qualname, name


def write_official_pickle(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write model ``arrays`` as an official-layout SMPL ``.pkl``.

    ``shapedirs`` is stored as a chumpy ``Ch`` and ``J_regressor`` as a sparse CSC matrix.
    """
    model = {k: arrays[k] for k in ("v_template", "posedirs", "weights", "kintree_table", "f")}
    model.update(
        shapedirs=ChLike(arrays["shapedirs"]),
        J_regressor=OldCscLike(arrays["J_regressor"]),
        J=arrays["J_regressor"] @ arrays["v_template"],  # extra keys the official files carry
        bs_style="lbs",
        bs_type="lrotmin",
    )
    with temporary_class_paths({"chumpy.ch.Ch": ChLike, "scipy.sparse.csc.csc_matrix": OldCscLike}):
        data = pickle.dumps(model, protocol=2)
    path.write_bytes(data)


def write_synthetic_smpl(
    folder: str | Path, gender: str = "NEUTRAL", seed: int = 0, fmt: str = "pkl"
) -> Path:
    """Write ``SMPL_<GENDER>.<fmt>``, ``J_regressor_extra.npy``, ``J_regressor_h36m.npy``
    and ``smpl_mean_params.npz`` into ``folder``; returns the model file's path.

    ``fmt="pkl"`` writes the official pickle layout, ``fmt="npz"`` smplx's
    ``.npz`` layout (plain arrays, dense ``J_regressor``). Same ``seed`` → same arrays.
    """
    if fmt not in ("pkl", "npz"):
        raise ValueError(f"fmt must be 'pkl' or 'npz', got {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = synthetic_smpl_arrays(seed)
    path = folder / f"SMPL_{gender.upper()}.{fmt}"
    if fmt == "pkl":
        write_official_pickle(path, arrays)
    else:
        keys = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
        np.savez(path, **{k: arrays[k] for k in keys})
    np.save(folder / "J_regressor_extra.npy", arrays["J_regressor_extra"])
    np.save(folder / "J_regressor_h36m.npy", arrays["J_regressor_h36m"])
    np.savez(folder / "smpl_mean_params.npz", **synthetic_mean_params(seed))
    return path
