"""SMPL (Loper et al. 2015) behind the :class:`~vibe.body.base.BodyModel` interface.

The model files are licensed and supplied by the user (see ``vibe.assets``):
``SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` (the official Python-2 pickles, read with
the restricted unpickler, no chumpy needed) or the same arrays as smplx's
``.npz``; ``J_regressor_extra.npy`` (9, 6890) and ``J_regressor_h36m.npy``
(17, 6890) for the keypoint sets; ``smpl_mean_params.npz`` for the
regressor's initial estimate (:func:`load_mean_params`).

Posing is linear blend skinning with shape and pose blend shapes, written out
here so the module also returns the global joint rotations; the numbers match
``smplx.SMPL`` (checked in the tests). The file arrays are kept as
non-persistent buffers so no licensed data ends up in saved state dicts.
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

        buffer("v_template", arrays["v_template"])  # (V, 3)
        buffer("shapedirs", arrays["shapedirs"][:, :, :num_betas])  # (V, 3, S)
        # (V, 3, 207) → (207, V*3) so the pose blend shape is one matmul.
        buffer("posedirs", arrays["posedirs"].reshape(-1, NUM_POSE_BLEND).T)
        buffer("j_regressor", arrays["J_regressor"])  # (24, V)
        buffer("lbs_weights", arrays["weights"])  # (V, 24)
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
        return self.shapedirs.shape[-1]

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def skinning_weights(self) -> torch.Tensor:
        """``(V, 24)`` SMPL's blend weights."""
        return self.lbs_weights

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

        num_vertices = self.num_vertices
        shape_offsets = shape @ self.shapedirs.view(num_vertices * 3, -1).T  # (B, V*3)
        v_shaped = self.v_template + shape_offsets.view(batch, num_vertices, 3)
        joints_rest = self.j_regressor @ v_shaped  # (B, 24, 3)
        eye = torch.eye(3, dtype=pose_rotmat.dtype, device=pose_rotmat.device)
        pose_feature = (pose_rotmat[:, 1:] - eye).reshape(batch, NUM_POSE_BLEND)  # (B, 207)
        v_posed = v_shaped + (pose_feature @ self.posedirs).view(batch, num_vertices, 3)

        joints_rotmat, joints = forward_kinematics(pose_rotmat, joints_rest, self._parent_list)
        # Each joint's skinning transform maps rest-pose points: x ↦ R x + (t − R j_rest).
        offsets = joints - (joints_rotmat @ joints_rest[..., None])[..., 0]  # (B, 24, 3)
        vertex_rotmat = self.lbs_weights @ joints_rotmat.reshape(batch, NUM_JOINTS, 9)  # (B, V, 9)
        vertex_rotmat = vertex_rotmat.view(batch, num_vertices, 3, 3)
        vertex_offset = self.lbs_weights @ offsets  # (B, V, 3)
        # Broadcast-and-sum: far faster than B*V tiny 3x3 matmuls on CPU.
        vertices = (vertex_rotmat * v_posed[:, :, None, :]).sum(-1) + vertex_offset

        if transl is not None:
            if transl.shape != (batch, 3):
                raise ValueError(f"transl must be ({batch}, 3), got {tuple(transl.shape)}")
            vertices = vertices + transl[:, None]
            joints = joints + transl[:, None]
        return BodyOutput(vertices=vertices, joints=joints, joints_rotmat=joints_rotmat)

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
