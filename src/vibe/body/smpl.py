"""SMPL (Loper et al. 2015) behind the :class:`~vibe.body.base.BodyModel` interface.

The model files are licensed and supplied by the user (see ``vibe.assets``):
``SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` (the official Python-2 pickles, read with
the restricted unpickler, no chumpy needed) or the same arrays as smplx's
``.npz``; ``J_regressor_extra.npy`` (9, 6890) and ``J_regressor_h36m.npy``
(17, 6890) for the keypoint sets; ``smpl_mean_params.npz`` for the
regressor's initial estimate (:func:`load_mean_params`).

Posing is linear blend skinning with shape and pose blend shapes, written out
here so the module also returns the global joint rotations; the numbers match
``smplx.SMPL`` to float rounding (checked in the tests). The file arrays are
kept as non-persistent buffers so no licensed data ends up in saved state dicts.

Speed (``benchmarks/bench_smpl.py`` against ``smplx.SMPL``): the rest joints come
from the betas through the joint regressor applied to the template and shape
directions once at load; shape and pose blend shapes are two matrix products;
vertices are stored coordinate-major ``(3, V)`` inside so every per-vertex step
is a contiguous vector operation; each vertex's blended ``3 × 4`` transform is
one matrix product over all frames' joints, made and applied a few frames at a
time so it stays in the CPU cache (never a ``(B, V, 4, 4)`` array).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vibe import assets
from vibe.body.base import BodyModel, BodyOutput
from vibe.body.joint_sets import EVAL14, H36M17, H36M17_TO_EVAL14, SPIN49
from vibe.io.safe_pickle import load_pickle

__all__ = [
    "SMPL",
    "forward_kinematics",
    "SMPL_JOINT_NAMES",
    "SMPLMeanParams",
    "load_mean_params",
    "load_smpl_arrays",
    "smpl_model_file",
]

log = logging.getLogger(__name__)

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

NUM_JOINTS = 24
NUM_POSE_BLEND = (NUM_JOINTS - 1) * 9  # 207: (R - I) of every non-root joint
# Frames whose per-vertex transforms (B, 12, V) are made and applied together on a CPU:
# 4 frames are 1.3 MB, within one core's L2; the whole batch at once is ~2x slower on one thread.
# With several threads every op waits for all of them, and on shared cores 4-frame ops stalled
# (2 threads: 4.7 s against 1.1 s for 128 frames per step), so threaded runs take large steps.
_SKIN_FRAMES_ONE_THREAD = 4
_SKIN_FRAMES_THREADED = 128
# Frames per pose blend-shape product: (B, 207) @ (207, 3V) re-reads 17 MB of directions per call.
_BLEND_FRAMES = 64

# Mesh vertices used as keypoints, in smplx's VertexJointSelector order (its
# default 'smplh' ids, shared by SMPL): face, feet, then left and right fingertips.
VERTEX_KEYPOINT_IDS: tuple[int, ...] = (
    332, 6260, 2800, 4071, 583,  # nose, right eye, left eye, right ear, left ear
    3216, 3226, 3387, 6617, 6624, 6787,  # left big toe, small toe, heel; right ditto
    2746, 2319, 2445, 2556, 2673,  # left thumb, index, middle, ring, pinky tips
    6191, 5782, 5905, 6016, 6133,  # right thumb, index, middle, ring, pinky tips
)  # fmt: skip

# The original 49 keypoints as indices into [24 joints, 21 vertex keypoints,
# 9 J_regressor_extra joints] (54 sources).
SPIN49_SOURCES: tuple[int, ...] = (
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48,
    49, 50, 51, 52, 53,
    24, 26, 25, 28, 27,
)  # fmt: skip

_GENDERS = ("neutral", "male", "female")
_FLOAT_KEYS = ("v_template", "shapedirs", "posedirs", "weights")
_MODEL_KEYS = (*_FLOAT_KEYS, "J_regressor", "kintree_table", "f")


def _check_gender(gender: str) -> str:
    if gender.lower() not in _GENDERS:
        raise ValueError(f"SMPL gender must be one of {_GENDERS}, got {gender!r}")
    return gender.lower()


def smpl_model_file(folder: Path, gender: str = "neutral") -> Path:
    """Path of the model file for ``gender``: ``SMPL_<GENDER>.pkl``, or ``.npz`` when only that exists."""
    stem = f"SMPL_{_check_gender(gender).upper()}"
    pkl, npz = folder / f"{stem}.pkl", folder / f"{stem}.npz"
    return npz if npz.exists() and not pkl.exists() else pkl


def load_smpl_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read an SMPL model file (official ``.pkl`` or smplx-style ``.npz``) into plain arrays.

    Returns:
        ``v_template (V, 3)``, ``shapedirs (V, 3, S)``, ``posedirs (V, 3, 207)``,
        ``J_regressor (24, V)`` (dense), ``weights (V, 24)`` as float64;
        ``kintree_table (2, 24)`` and ``f (F, 3)`` as int64. Other keys of the
        file are dropped.
    """
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            raw = {k: npz[k] for k in npz.files}
    else:
        raw = load_pickle(path)
    missing = [k for k in _MODEL_KEYS if k not in raw]
    if missing:
        raise ValueError(f"{path}: not an SMPL model file, keys {missing} are missing")
    regressor = raw["J_regressor"]
    if hasattr(regressor, "toarray"):  # the official files store it as a scipy sparse matrix
        regressor = regressor.toarray()
    arrays = {k: np.asarray(raw[k], dtype=np.float64) for k in _FLOAT_KEYS}
    arrays["J_regressor"] = np.asarray(regressor, dtype=np.float64)
    # The root's parent is stored as uint32 max; int64 keeps it representable.
    arrays["kintree_table"] = np.asarray(raw["kintree_table"], dtype=np.int64)
    arrays["f"] = np.asarray(raw["f"], dtype=np.int64)
    _check_model_shapes(arrays, path)
    return arrays


def _check_model_shapes(arrays: dict[str, np.ndarray], path: Path) -> None:
    v = arrays["v_template"].shape[0]
    expected = {
        "v_template": (v, 3),
        "posedirs": (v, 3, NUM_POSE_BLEND),
        "J_regressor": (NUM_JOINTS, v),
        "weights": (v, NUM_JOINTS),
        "kintree_table": (2, NUM_JOINTS),
    }
    wrong = [f"{k} {arrays[k].shape} (expected {s})" for k, s in expected.items() if arrays[k].shape != s]
    if arrays["shapedirs"].ndim != 3 or arrays["shapedirs"].shape[:2] != (v, 3):
        wrong.append(f"shapedirs {arrays['shapedirs'].shape} (expected ({v}, 3, S))")
    if arrays["f"].ndim != 2 or arrays["f"].shape[1] != 3:
        wrong.append(f"f {arrays['f'].shape} (expected (F, 3))")
    if wrong:
        raise ValueError(f"{path}: malformed SMPL arrays: {', '.join(wrong)}")


def _load_regressor(path: Path, rows: int, num_vertices: int) -> np.ndarray:
    regressor = np.load(path, allow_pickle=False)
    if regressor.shape != (rows, num_vertices):
        raise ValueError(f"{path}: expected shape ({rows}, {num_vertices}), got {regressor.shape}")
    return regressor


@dataclass(frozen=True)
class SMPLMeanParams:
    """Mean SMPL parameters from ``smpl_mean_params.npz`` (the regressor's starting point).

    Attributes:
        pose_rot6d: ``(144,)`` = 24 joints × 6D; each joint's 6 numbers are a
            row-major ``(3, 2)`` matrix whose columns are the first two columns
            of the rotation matrix (file key ``pose``).
        shape: ``(10,)`` mean betas (file key ``shape``).
        cam: ``(3,)`` weak-perspective crop camera ``(s, tx, ty)`` (file key ``cam``).
    """

    pose_rot6d: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor


def load_mean_params(folder: str | Path | None = None, dtype: torch.dtype = torch.float32) -> SMPLMeanParams:
    """Load ``smpl_mean_params.npz`` from ``folder`` (default :func:`vibe.assets.smpl_dir`).

    Raises:
        vibe.assets.MissingAssetError: the file is not there.
    """
    path = Path(folder or assets.smpl_dir()) / "smpl_mean_params.npz"
    assets.require([path], "The SMPL regressor's mean parameters")
    expected = {"pose": (144,), "shape": (10,), "cam": (3,)}
    with np.load(path, allow_pickle=False) as npz:
        values = {k: np.asarray(npz[k]).reshape(-1) for k in expected if k in npz.files}
    wrong = [k for k, s in expected.items() if k not in values or values[k].shape != s]
    if wrong:
        raise ValueError(f"{path}: keys {wrong} missing or not of shapes {[expected[k] for k in wrong]}")
    as_tensor = lambda k: torch.as_tensor(values[k], dtype=dtype)  # noqa: E731
    return SMPLMeanParams(pose_rot6d=as_tensor("pose"), shape=as_tensor("shape"), cam=as_tensor("cam"))


def forward_kinematics(
    pose_rotmat: torch.Tensor, joints_rest: torch.Tensor, parents: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose a skeleton whose parents precede their children.

    Args:
        pose_rotmat: ``(B, J, 3, 3)`` local rotations, root first.
        joints_rest: ``(B, J, 3)`` joint positions in the rest pose.
        parents: ``J`` parent indices, ``-1`` for the root.

    Returns:
        ``joints_rotmat (B, J, 3, 3)`` global rotations and ``joints (B, J, 3)``
        posed positions (the root stays at its rest position).
    """
    parents = list(parents)
    bones = joints_rest[:, 1:] - joints_rest[:, parents[1:]]  # (B, J-1, 3) child − parent
    rotations = [pose_rotmat[:, 0]]
    positions = [joints_rest[:, 0]]
    for j in range(1, len(parents)):
        p = parents[j]
        rotations.append(rotations[p] @ pose_rotmat[:, j])
        positions.append(positions[p] + (rotations[p] @ bones[:, j - 1, :, None])[..., 0])
    return torch.stack(rotations, dim=1), torch.stack(positions, dim=1)


class SMPL(BodyModel):
    """The SMPL body model: 6890 vertices, 13776 faces, 24 joints, 10 betas.

    Args:
        folder: folder with the SMPL files; default :func:`vibe.assets.smpl_dir`.
        gender: ``"neutral"``, ``"male"`` or ``"female"``.
        num_betas: number of shape components used (the files hold at least 10).
        dtype: floating dtype of the buffers.

    Raises:
        vibe.assets.MissingAssetError: naming each missing file and where it goes.
    """

    name = "smpl"

    def __init__(
        self,
        folder: str | Path | None = None,
        gender: str = "neutral",
        num_betas: int = 10,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        folder = Path(folder or assets.smpl_dir())
        self.gender = _check_gender(gender)
        model_path = smpl_model_file(folder, self.gender)
        extra_path, h36m_path = folder / "J_regressor_extra.npy", folder / "J_regressor_h36m.npy"
        assets.require([model_path, extra_path, h36m_path], f"The SMPL body model ({self.gender})")
        log.info("loading SMPL (%s) from %s", self.gender, model_path)

        arrays = load_smpl_arrays(model_path)
        if arrays["shapedirs"].shape[2] < num_betas:
            available = arrays["shapedirs"].shape[2]
            raise ValueError(f"{model_path} has {available} shape components, asked for {num_betas}")
        num_vertices = arrays["v_template"].shape[0]
        parents = arrays["kintree_table"][0].copy()
        parents[0] = -1
        if any(not 0 <= p < j for j, p in enumerate(parents[1:], start=1)):
            raise ValueError(f"{model_path}: kinematic tree must list parents before children: {parents}")

        def buffer(name: str, value: np.ndarray, dtype: torch.dtype = dtype) -> None:
            tensor = torch.as_tensor(np.ascontiguousarray(value), dtype=dtype)
            self.register_buffer(name, tensor, persistent=False)

        shapedirs = arrays["shapedirs"][:, :, :num_betas]  # (V, 3, S)
        regressor, template = arrays["J_regressor"], arrays["v_template"]
        # Coordinate-major layouts (module doc): template (3, V), blend directions (S + 207, 3, V).
        buffer("template_cv", template.T)
        blend_dirs = np.concatenate([shapedirs.transpose(2, 1, 0), arrays["posedirs"].transpose(2, 1, 0)])
        buffer("blend_dirs", blend_dirs)
        # Rest joints are linear in the betas: J (v_template + shapedirs β) = J v_template + (J shapedirs) β,
        # both products taken here in float64.
        buffer("joints_template", regressor @ template)  # (24, 3)
        buffer("joint_shapedirs", np.einsum("jv,vcs->sjc", regressor, shapedirs).reshape(num_betas, -1))  # (S, 72)
        buffer("j_regressor", regressor)  # (24, V)
        buffer("weights_jv", arrays["weights"].T)  # (24, V) skinning weights, joint-major
        buffer("j_regressor_extra", _load_regressor(extra_path, 9, num_vertices))  # (9, V)
        buffer("j_regressor_h36m", _load_regressor(h36m_path, 17, num_vertices))  # (17, V)
        buffer("_parents", parents, torch.long)  # (24,)
        self._parent_list = tuple(int(p) for p in parents)
        buffer("_faces", arrays["f"], torch.long)  # (F, 3)
        buffer("vertex_keypoint_ids", np.array(VERTEX_KEYPOINT_IDS), torch.long)  # (21,)
        buffer("spin49_sources", np.array(SPIN49_SOURCES), torch.long)  # (49,)
        buffer("h36m_to_eval14", np.array(H36M17_TO_EVAL14), torch.long)  # (14,)

    # --- description -----------------------------------------------------------
    @property
    def joint_names(self) -> list[str]:
        return list(SMPL_JOINT_NAMES)

    @property
    def parents(self) -> torch.Tensor:
        return self._parents

    @property
    def faces(self) -> torch.Tensor:
        return self._faces

    @property
    def shape_dim(self) -> int:
        return self.joint_shapedirs.shape[0]

    @property
    def num_vertices(self) -> int:
        return self.template_cv.shape[1]

    @property
    def skinning_weights(self) -> torch.Tensor:
        """``(V, 24)`` SMPL's blend weights (a view)."""
        return self.weights_jv.T

    @property
    def v_template(self) -> torch.Tensor:
        """``(V, 3)`` the template mesh (a view)."""
        return self.template_cv.T

    @property
    def shapedirs(self) -> torch.Tensor:
        """``(V, 3, S)`` shape blend directions (a view; the rest joints' own copy is ``joint_shapedirs``)."""
        return self.blend_dirs[: self.shape_dim].permute(2, 1, 0)

    @property
    def posedirs(self) -> torch.Tensor:
        """``(207, 3, V)`` pose blend directions, one per entry of the non-root joints' ``R − I`` (a view)."""
        return self.blend_dirs[self.shape_dim :]

    def extra_repr(self) -> str:
        return f"gender={self.gender}, num_betas={self.shape_dim}"

    # --- posing ------------------------------------------------------------------
    def forward(
        self,
        pose_rotmat: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose SMPL.

        Args:
            pose_rotmat: ``(B, 24, 3, 3)`` local joint rotations, global orientation first.
            shape: ``(B, S)`` betas; ``None`` → zeros.
            transl: ``(B, 3)`` metres; ``None`` → zero.

        Returns:
            vertices ``(B, 6890, 3)``, joints ``(B, 24, 3)``, joints_rotmat ``(B, 24, 3, 3)``.
        """
        if pose_rotmat.ndim != 4 or pose_rotmat.shape[1:] != (NUM_JOINTS, 3, 3):
            raise ValueError(f"pose_rotmat must be (B, {NUM_JOINTS}, 3, 3), got {tuple(pose_rotmat.shape)}")
        batch = pose_rotmat.shape[0]
        if shape is None:
            shape = self.mean_shape(batch)
        if shape.shape != (batch, self.shape_dim):
            raise ValueError(f"shape must be ({batch}, {self.shape_dim}), got {tuple(shape.shape)}")

        joints_rest = self.joints_template + (shape @ self.joint_shapedirs).view(batch, NUM_JOINTS, 3)
        joints_rotmat, joints = forward_kinematics(pose_rotmat, joints_rest, self._parent_list)
        # Each joint's skinning transform maps rest-pose points: x ↦ R x + (t − R j_rest).
        offsets = joints - (joints_rotmat @ joints_rest[..., None])[..., 0]  # (B, 24, 3)
        transforms = torch.cat([joints_rotmat, offsets[..., None]], dim=-1)  # (B, 24, 3, 4)
        vertices = self._skin(self._blend_shapes(pose_rotmat, shape), transforms)

        if transl is not None:
            if transl.shape != (batch, 3):
                raise ValueError(f"transl must be ({batch}, 3), got {tuple(transl.shape)}")
            vertices = vertices + transl[:, None]
            joints = joints + transl[:, None]
        return BodyOutput(vertices=vertices, joints=joints, joints_rotmat=joints_rotmat)

    def _blend_shapes(self, pose_rotmat: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """``(B, 3, V)`` rest-pose vertices with shape and pose blend shapes (coordinate-major)."""
        batch, num_betas = pose_rotmat.shape[0], self.shape_dim
        eye = torch.eye(3, dtype=pose_rotmat.dtype, device=pose_rotmat.device)
        pose_feature = (pose_rotmat[:, 1:] - eye).reshape(batch, NUM_POSE_BLEND)  # (B, 207)
        directions = self.blend_dirs.view(num_betas + NUM_POSE_BLEND, -1)  # (S + 207, 3V)
        shape_dirs, pose_dirs = directions[:num_betas], directions[num_betas:]
        template = self.template_cv.view(-1)
        parts = []
        # Two products, not one over [β, pose]: a one-frame addmm sums the large shape terms and
        # the small pose terms in an order that loses ~10 float32 ulps (1.3e-6 against float64).
        for betas, pose in zip(shape.split(_BLEND_FRAMES), pose_feature.split(_BLEND_FRAMES)):
            parts.append((betas @ shape_dirs).add_(template).add_(pose @ pose_dirs))
        return torch.cat(parts).view(batch, 3, self.num_vertices)

    def _skin(self, v_posed_cv: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
        """Linear blend skinning: ``v_posed_cv (B, 3, V)``, joint ``transforms (B, 24, 3, 4)`` → ``(B, V, 3)``.

        Each vertex's transform is the weight-blended ``3 × 4`` of its joints,
        ``(B·12, 24) @ (24, V)`` for a few frames at a time (module doc), then
        applied coordinate by coordinate: ``x' = T[:, 0] x + T[:, 1] y + T[:, 2] z + T[:, 3]``.
        """
        batch, num_vertices = v_posed_cv.shape[0], self.num_vertices
        # (B, 24, 3, 4) → (B, 12, 24): one row per transform entry, its joints along the row.
        rows = transforms.reshape(batch, NUM_JOINTS, 12).transpose(1, 2).reshape(batch * 12, NUM_JOINTS)
        vertices = v_posed_cv.new_empty(batch, num_vertices, 3)
        step = max(batch, 1)  # a GPU: one step
        if v_posed_cv.device.type == "cpu":
            step = _SKIN_FRAMES_ONE_THREAD if torch.get_num_threads() == 1 else _SKIN_FRAMES_THREADED
        for first in range(0, batch, step):
            v = v_posed_cv[first : first + step]  # (b, 3, V)
            blended = (rows[first * 12 : (first + step) * 12] @ self.weights_jv).view(-1, 3, 4, num_vertices)
            posed = blended[:, :, 0] * v[:, 0:1]  # (b, 3, V)
            posed.add_(blended[:, :, 3]).addcmul_(blended[:, :, 1], v[:, 1:2]).addcmul_(blended[:, :, 2], v[:, 2:3])
            vertices[first : first + step] = posed.transpose(1, 2)
        return vertices

    # --- keypoints ---------------------------------------------------------------
    @property
    def keypoint_sets(self) -> dict[str, list[str]]:
        """``smpl24`` (skeleton), ``spin49`` (original 49), ``eval14`` and ``h36m17`` (evaluation)."""
        return {
            "smpl24": list(SMPL_JOINT_NAMES),
            "spin49": list(SPIN49),
            "eval14": list(EVAL14),
            "h36m17": list(H36M17),
        }

    def keypoints(self, output: BodyOutput, set_name: str) -> torch.Tensor:
        """``(B, K, 3)`` keypoints of ``set_name`` from a posed ``output``.

        The regressor-based joints are applied to ``output.vertices`` (which
        include the translation), as the original does on its posed mesh.
        """
        self._check_keypoint_set(set_name)
        vertices = output.vertices
        if set_name == "smpl24":
            return output.joints
        if set_name in ("h36m17", "eval14"):
            h36m = self.j_regressor_h36m @ vertices  # (B, 17, 3)
            return h36m if set_name == "h36m17" else h36m[:, self.h36m_to_eval14]
        sources = torch.cat(
            [
                output.joints,  # (B, 24, 3)
                vertices[:, self.vertex_keypoint_ids],  # (B, 21, 3)
                self.j_regressor_extra @ vertices,  # (B, 9, 3)
            ],
            dim=1,
        )
        return sources[:, self.spin49_sources]
