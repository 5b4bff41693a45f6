"""The open Anny body model (``anny`` package, Apache-2.0) behind :class:`BodyModel`.

Frames and units
    World frame: metres, **y up**, the person faces **+z**, their left is **+x**
    (SMPL's convention). Anny itself is z up, facing -y (Blender); the wrapper
    rotates everything by ``ANNY_TO_WORLD`` (x → x, z → y, -y → z).

Skeleton
    The bones of the rig (default ``cmu_mb``: 31 bones with CMU BVH names,
    ``Hips`` first). ``joints`` are the bone heads: ``LeftUpLeg`` head = left
    hip, ``LeftLeg`` = knee, ``LeftFoot`` = ankle, ``LeftArm`` = shoulder,
    ``LeftForeArm`` = elbow, ``LeftHand`` = wrist, ``Neck`` = base of the neck.

Pose: ``pose_rotmat[:, j]`` is a rotation in **world-aligned rest axes**, like
    a BVH file whose rest (all-zero) pose is the model's rest pose: the global
    rotation of bone ``j`` is ``G_j = G_parent(j) @ pose_rotmat[:, j]`` and
    ``G_root = pose_rotmat[:, 0]``, every vector of the rest skeleton or mesh
    attached to bone ``j`` being mapped to ``G_j @ v`` (about the posed bone
    head). So ``pose_rotmat[:, j]`` is bone ``j``'s rotation relative to its
    parent, with axes those of the world frame in rest pose; identity
    everywhere is anny's rest pose, with the root joint at its rest position.
    That rest pose is not a T-pose: upper arms ~48° below horizontal, elbows
    flexed ~43° with the forearms pointing forward, legs slightly apart; mocap
    retargeting compares rest bone directions (``rest_bone_ends``).
    ``joints_rotmat`` returns the ``G_j``. This is anny's ``local-ref`` pose
    parameterization (bone rest orientations cancel out), conjugated into the
    y-up frame; the root bone's rest orientation is the identity in this rig.

Shape: the anny phenotype parameters, in ``Anny.phenotype_labels`` order; for
    ``phenotypes="default"``: gender (0 male … 1 female), age (0 baby, 1/3
    child, 2/3 young adult ≈ 16 years, 1 old; adults from ≈ 0.77), muscle,
    weight, height, proportions (each 0 … 1, 0.5 average). Values are meant in
    [0, 1]; outside that anny clamps its interpolation. ``mean_shape`` is anny's
    default body (every parameter 0.5: height ≈ 1.63 m) unless
    ``AnnyConfig.mean_phenotype`` overrides some entries.

Keypoints: affine combinations (weights summing to 1) of posed vertices and
    joints. ``coco17`` is anny's own COCO regressor (``anny/data/keypoints``);
    ``blazepose33`` reuses it for the COCO points and heels and takes the
    other points from ``resources/anny/keypoints.json`` (rules in
    ``make_keypoints.py`` there); ``eval14`` uses bone heads for limbs and mesh
    vertices for neck and head top.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from vibe.body.base import BodyModel, BodyOutput
from vibe.body.joint_sets import COCO17, EVAL14
from vibe.body.keypoint_offsets import DETECTOR_SET, load_detector_offsets, offset_vertex_weights
from vibe.body.sparse_keypoints import SparseKeypoints, phenotype_coefficients

logger = logging.getLogger(__name__)

__all__ = ["ANNY_TO_WORLD", "AnnyConfig", "Anny", "KEYPOINT_SOURCES"]

# Anny's z-up, -y-forward axes → the project's y-up, +z-forward world axes.
ANNY_TO_WORLD = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))

# BlazePose landmark order (MediaPipe ``PoseLandmark``), lower case.
BLAZEPOSE33: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_pinky", "right_pinky",
    "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip

# How each keypoint is made: ("coco", anny COCO-WholeBody label), ("mesh", key of
# resources/anny/keypoints.json) or ("joint", bone name = its head).
_COCO_SOURCES = {name: ("coco", name) for name in COCO17}
KEYPOINT_SOURCES: dict[str, dict[str, tuple[str, str]]] = {
    "coco17": _COCO_SOURCES,
    "blazepose33": {
        **_COCO_SOURCES,
        "left_heel": ("coco", "left_heel"),
        "right_heel": ("coco", "right_heel"),
        **{
            name: ("mesh", name)
            for name in BLAZEPOSE33
            if name not in COCO17 and not name.endswith("heel")
        },
    },
    "eval14": {
        "right_ankle": ("joint", "RightFoot"),
        "right_knee": ("joint", "RightLeg"),
        "right_hip": ("joint", "RightUpLeg"),
        "left_hip": ("joint", "LeftUpLeg"),
        "left_knee": ("joint", "LeftLeg"),
        "left_ankle": ("joint", "LeftFoot"),
        "right_wrist": ("joint", "RightHand"),
        "right_elbow": ("joint", "RightForeArm"),
        "right_shoulder": ("joint", "RightArm"),
        "left_shoulder": ("joint", "LeftArm"),
        "left_elbow": ("joint", "LeftForeArm"),
        "left_wrist": ("joint", "LeftHand"),
        "neck": ("mesh", "neck"),
        "head_top": ("mesh", "head_top"),
    },
}
_SET_ORDER = {"coco17": COCO17, "blazepose33": BLAZEPOSE33, "eval14": EVAL14}

# The detector set's float64 vertex weights (K, V), by ``Anny._detector_key``: building them sums
# anny's blendshapes over the whole mesh (most of a model's construction, docs/benchmarks.md),
# and they are the same for every model of one configuration.
_DETECTOR_WEIGHTS: dict[tuple, torch.Tensor] = {}


@dataclass(frozen=True)
class AnnyConfig:
    """How to build :class:`Anny`.

    Attributes:
        rig: anny rig spec (``"cmu_mb"``: CMU BVH bone names; the ``eval14``
            set needs its bone names).
        phenotypes: anny phenotype set, ``"default"`` (6 parameters) or ``"all"`` (11).
        mean_phenotype: overrides of anny's 0.5 defaults for ``mean_shape``,
            e.g. ``{"age": 0.8}`` for an adult.
        dtype, device: of every buffer and output.
        cache_dir: folder for anny's built model data (about 0.8 GB, built in
            ~1 min once). ``None``: ``$VIBE_CACHE_DIR/anny`` if that variable is
            set, else anny's own default (``$ANNY_CACHE_DIR`` or ``~/.cache/anny``).
    """

    rig: str = "cmu_mb"
    phenotypes: str = "default"
    mean_phenotype: dict[str, float] = field(default_factory=dict)
    dtype: torch.dtype = torch.float32
    device: str = "cpu"
    cache_dir: str | Path | None = None


def resolve_cache_dir(config: AnnyConfig) -> Path | None:
    """Folder anny should cache into, or ``None`` to keep anny's default."""
    if config.cache_dir is not None:
        return Path(config.cache_dir).expanduser()
    env = os.environ.get("VIBE_CACHE_DIR")
    return Path(env).expanduser() / "anny" if env else None


@contextlib.contextmanager
def _anny_cache_at(path: Path | None) -> Iterator[None]:
    """Point anny's (process-global) cache at ``path`` for the block, then restore it."""
    import anny.paths

    if path is None:
        yield
        return
    previous = anny.paths.get_anny_cache_path()
    anny.paths.set_anny_cache_path(path)
    try:
        yield
    finally:
        anny.paths.set_anny_cache_path(previous)


def _load_mesh_keypoints() -> dict[str, dict]:
    text = resources.files("vibe").joinpath("resources/anny/keypoints.json").read_text()
    return json.loads(text)


class Anny(BodyModel):
    """Anny as a :class:`BodyModel` (see the module docstring for every convention)."""

    name = "anny"

    def __init__(self, config: AnnyConfig | None = None) -> None:
        super().__init__()
        import anny

        self.config = config or AnnyConfig()
        start = time.perf_counter()
        with _anny_cache_at(resolve_cache_dir(self.config)):
            # Dense LBS: plain torch, differentiable, no warp kernels to compile.
            model = anny.Anny(
                rig=self.config.rig,
                phenotypes=self.config.phenotypes,
                pose_parameterization="local-ref",
                skinning_method="lbs",
            )
        logger.info("anny model %r ready in %.1f s", self.config.rig, time.perf_counter() - start)
        self._anny = model.to(dtype=self.config.dtype, device=self.config.device)

        faces = model.faces if model.faces.shape[-1] == 3 else model.get_triangular_faces()
        # Non-persistent buffers: derived from anny's data, kept out of checkpoints.
        self.register_buffer(
            "_faces", torch.as_tensor(faces, dtype=torch.long, device=self.config.device), persistent=False
        )
        self.register_buffer(
            "_parents",
            torch.tensor(model.bone_parents, dtype=torch.long, device=self.config.device),
            persistent=False,
        )
        self.register_buffer(
            "_anny_to_world",
            torch.tensor(ANNY_TO_WORLD, dtype=self.config.dtype, device=self.config.device),
            persistent=False,
        )
        self._joint_names = list(model.bone_labels)
        self._phenotype_labels = list(model.phenotype_labels)
        unknown = set(self.config.mean_phenotype) - set(self._phenotype_labels)
        if unknown:
            raise ValueError(f"mean_phenotype has unknown labels {sorted(unknown)}")
        mean = [self.config.mean_phenotype.get(k, 0.5) for k in self._phenotype_labels]
        self.register_buffer(
            "_mean_shape",
            torch.tensor(mean, dtype=self.config.dtype, device=self.config.device),
            persistent=False,
        )

        self._sets: dict[str, list[str]] = {}
        mesh_kp = _load_mesh_keypoints()
        if mesh_kp["num_vertices"] != self.num_vertices:
            raise ValueError("resources/anny/keypoints.json was made for another mesh topology")
        for set_name, sources in KEYPOINT_SOURCES.items():
            bones = {src for kind, src in sources.values() if kind == "joint"}
            if not bones <= set(self._joint_names):
                logger.info("rig %r lacks bones for keypoint set %s", self.config.rig, set_name)
                continue
            names = list(_SET_ORDER[set_name])
            w_vert, w_joint = self._regressor(model, [sources[n] for n in names], mesh_kp["keypoints"])
            self.register_buffer(f"_kp_{set_name}_vert", w_vert, persistent=False)
            self.register_buffer(f"_kp_{set_name}_joint", w_joint, persistent=False)
            self._sets[set_name] = names
        self._add_detector_set()

    def _regressor(
        self, model, sources: list[tuple[str, str]], mesh_kp: dict[str, dict]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(K, V)`` vertex and ``(K, J)`` joint weights of the keypoints ``sources``."""
        from anny.keypoints import KeypointsRegressor

        opts = {"dtype": self.config.dtype, "device": self.config.device}
        w_vert = torch.zeros(len(sources), self.num_vertices, **opts)
        w_joint = torch.zeros(len(sources), self.num_joints, **opts)
        coco_labels = [src for kind, src in sources if kind == "coco"]
        coco = KeypointsRegressor.coco(model, labels=coco_labels) if coco_labels else None
        for k, (kind, src) in enumerate(sources):
            if kind == "coco":
                w_vert[k] = coco.regression_weights[coco_labels.index(src)].to(**opts)
                # Sums are 1 only to 1e-3 in anny's file; exactly 1 keeps keypoints
                # translation-equivariant.
                w_vert[k] /= w_vert[k].sum()
            elif kind == "mesh":
                entry = mesh_kp[src]
                w_vert[k, entry["vertices"]] = torch.tensor(entry["weights"], **opts)
            else:
                w_joint[k, self._joint_names.index(src)] = 1.0
        return w_vert, w_joint

    def _add_detector_set(self) -> None:
        """``blazepose33`` moved to where BlazePose puts its landmarks (:mod:`vibe.body.keypoint_offsets`).

        Skipped when the offsets file is absent or the rig lacks their bones.
        """
        offsets = load_detector_offsets()
        if "blazepose33" not in self._sets or not offsets:
            return
        if not {bone for bone, _ in offsets.values()} <= set(self._joint_names):
            logger.info("rig %r lacks bones for keypoint set %s", self.config.rig, DETECTOR_SET)
            return
        key = self._detector_key(offsets)
        w_vert = _DETECTOR_WEIGHTS.get(key)
        if w_vert is None:
            # In float64 on one thread: weights that differed in the last bits with the thread count
            # would change every fit after (L-BFGS amplifies them), e.g. a batch worker's from the demo's.
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                w_vert = self._detector_weights(offsets)
            finally:
                torch.set_num_threads(threads)
            _DETECTOR_WEIGHTS[key] = w_vert
        names = self._sets["blazepose33"]
        opts = {"dtype": self.config.dtype, "device": self.config.device}
        # A copy: the cached weights must not share storage with this model's buffer.
        self.register_buffer(f"_kp_{DETECTOR_SET}_vert", w_vert.to(**opts, copy=True), persistent=False)
        self.register_buffer(f"_kp_{DETECTOR_SET}_joint", self._kp_blazepose33_joint.clone(), persistent=False)
        self._sets[DETECTOR_SET] = list(names)

    def _detector_key(self, offsets: dict) -> tuple:
        """What the detector set's weights depend on besides anny's data files: the model (rig,
        phenotypes, cache), the mean shape, the dtype and device ``blazepose33``'s weights live in,
        and the offsets."""
        cfg = self.config
        offset_items = tuple(sorted((name, bone, tuple(offset)) for name, (bone, offset) in offsets.items()))
        return (cfg.rig, cfg.phenotypes, tuple(sorted(cfg.mean_phenotype.items())), str(cfg.dtype),
                str(cfg.device), str(resolve_cache_dir(cfg)), offset_items)  # fmt: skip

    def _detector_weights(self, offsets: dict) -> torch.Tensor:
        """``(K, V)`` float64 vertex weights of ``blazepose33`` plus each offset's zero-sum weights."""
        model = self._anny
        rest = self._mean_rest_vertices()
        skin = (model.vertex_bone_weights.cpu(), model.vertex_bone_indices.cpu().long())
        w_vert = self._kp_blazepose33_vert.cpu().double().clone()
        for k, name in enumerate(self._sets["blazepose33"]):
            if name in offsets:
                bone, offset = offsets[name]
                w_vert[k] += offset_vertex_weights(rest, *skin, self._joint_names.index(bone), torch.tensor(offset))
        return w_vert

    def _mean_rest_vertices(self) -> torch.Tensor:
        """``(V, 3)`` float64 rest mesh of the mean shape, world axes, from anny's template and blendshapes."""
        model = self._anny
        with torch.no_grad():
            coeffs = phenotype_coefficients(model, self.mean_shape(1))
            blend = torch.einsum("c,cvd->vd", coeffs[0].double().cpu(), model.blendshapes.double().cpu())
            return (model.template_vertices.double().cpu() + blend) @ self._anny_to_world.double().cpu().T

    # --- description ----------------------------------------------------------
    @property
    def joint_names(self) -> list[str]:
        return list(self._joint_names)

    @property
    def parents(self) -> torch.Tensor:
        return self._parents

    @property
    def faces(self) -> torch.Tensor:
        return self._faces

    @property
    def shape_dim(self) -> int:
        return len(self._phenotype_labels)

    @property
    def num_vertices(self) -> int:
        return int(self._anny.template_vertices.shape[0])

    def keypoint_evaluator(self, set_names: list[str]) -> nn.Module:
        """Keypoints through per-bone moments, without the mesh (:mod:`vibe.body.sparse_keypoints`)."""
        return SparseKeypoints(self, set_names)

    @property
    def skinning_weights(self) -> torch.Tensor:
        """``(V, J)`` anny's dense bone weights; its bone labels are our joint names, in order."""
        return self._anny.dense_vertex_bone_weights

    @property
    def phenotype_labels(self) -> list[str]:
        """Meaning of each entry of the shape vector, in order."""
        return list(self._phenotype_labels)

    def mean_shape(self, batch_size: int = 1) -> torch.Tensor:
        """``(B, S)`` phenotype vector of the default body (see ``AnnyConfig.mean_phenotype``)."""
        return self._mean_shape.expand(batch_size, -1).clone()

    # --- posing -----------------------------------------------------------------
    def forward(
        self,
        pose_rotmat: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose the body; conventions in the module docstring.

        Args:
            pose_rotmat: ``(B, J, 3, 3)`` local rotations in world-aligned rest axes, root first.
            shape: ``(B, S)`` or ``(1, S)`` phenotype parameters; ``None`` → ``mean_shape``.
            transl: ``(B, 3)`` metres, added to every output point; ``None`` → zero.

        Returns:
            ``BodyOutput`` with vertices ``(B, V, 3)``, joints (bone heads)
            ``(B, J, 3)`` and global joint rotations ``(B, J, 3, 3)``, world frame.
        """
        batch = pose_rotmat.shape[0]
        if shape is None:
            shape = self.mean_shape(batch)
        c = self._anny_to_world
        delta = torch.zeros(*pose_rotmat.shape[:-2], 4, 4, dtype=pose_rotmat.dtype, device=pose_rotmat.device)
        delta[..., :3, :3] = c.transpose(0, 1) @ pose_rotmat @ c
        delta[..., 3, 3] = 1.0
        # The root's delta translation is its posed head; zero here, the rest head is
        # added below so that the root rotates about its own head (like SMPL's pelvis).
        out = self._anny(pose_parameters=delta, phenotype_kwargs=shape, pose_parameterization="local-ref")
        root_head = out["rest_bone_heads"][:, :1]
        vertices = out["vertices"] + root_head
        joints = out["bone_poses"][..., :3, 3] + root_head
        rest_rot = out["rest_bone_poses"][..., :3, :3]
        global_rot = out["bone_poses"][..., :3, :3] @ rest_rot.transpose(-1, -2)

        vertices = vertices @ c.transpose(0, 1)
        joints = joints @ c.transpose(0, 1)
        global_rot = c @ global_rot @ c.transpose(0, 1)
        if transl is not None:
            vertices = vertices + transl[:, None]
            joints = joints + transl[:, None]
        return BodyOutput(vertices=vertices, joints=joints, joints_rotmat=global_rot)

    def rest_bone_ends(self, shape: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Rest-pose bone heads and tails, ``(B, J, 3)`` each, world frame.

        The tail of a bone is where its rest direction points (the child's head
        for chain bones); mocap retargeting compares these rest directions with
        the source skeleton's.
        """
        if shape is None:
            shape = self.mean_shape(1)
        out = self._anny(phenotype_kwargs=shape, return_bone_ends=True)
        c_t = self._anny_to_world.transpose(0, 1)
        return out["rest_bone_heads"] @ c_t, out["rest_bone_tails"] @ c_t

    # --- keypoints --------------------------------------------------------------
    @property
    def keypoint_sets(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self._sets.items()}

    def keypoints(self, output: BodyOutput, set_name: str) -> torch.Tensor:
        """``(B, K, 3)`` keypoints of ``set_name`` from a posed ``output`` (same frame)."""
        self._check_keypoint_set(set_name)
        w_vert = getattr(self, f"_kp_{set_name}_vert")
        w_joint = getattr(self, f"_kp_{set_name}_joint")
        return torch.einsum("kv,bvd->bkd", w_vert, output.vertices) + torch.einsum(
            "kj,bjd->bkd", w_joint, output.joints
        )
