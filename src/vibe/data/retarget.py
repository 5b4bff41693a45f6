"""Retarget mocap `Motion` clips onto a body model's skeleton.

Two routes:

**Bone-for-bone transfer** (`retarget_motion`), when every target bone has a
source bone of corresponding name (CMU 31-joint clips → Anny ``cmu_mb``).
Both skeletons use world-aligned rest axes (identity = rest pose) but their
rest poses differ (CMU: T-pose, arms straight; Anny: A-pose, forearms
forward). For every target bone ``j`` with source bone ``s(j)`` a fixed rest
offset ``O_j`` (a rotation) is chosen so that ``O_j`` turns the target's rest
bone direction onto the source's, and the posed target global rotation is

    G_t[j] = G_s[s(j)] @ O_j,   locals  L_t[j] = G_t[parent(j)]ᵀ @ G_t[j].

So every posed target bone points where its source bone points, whatever the
bone lengths. ``O_j`` fixes the direction; its twist about the bone is chosen
*hierarchically*: ``O_j = swing(O_parent d_t → d_s) @ O_parent``, the minimal
rotation from the parent-aligned target direction to the source direction.
For the A-pose arm this is the anatomical reading: the upper arm is abducted
about the forward axis, then the forearm is extended about the elbow's hinge,
so a source elbow flexion stays an elbow flexion on the target. Spine, neck,
head and legs point the same way in both rests, so their offsets are nearly
the identity and their twist (e.g. head yaw) passes unchanged. Bones the
config names in ``twist_refs`` (the hands) additionally turn about their own
direction so that a reference child bone (the thumb) lies on the same side as
in the source. The root keeps ``O = I`` (both skeletons face +z, y up), and
``rigid_bones`` (the pelvis-to-hip bones, fixed in the source, and the
collarbones, whose rest directions differ by ~25°) take their parent's
offset, so the target keeps its own hip and shoulder layout instead of
bending its pelvis or shrugging to the source's. The map is invertible: `unretarget_rotations`
recovers the source globals with ``G_s = G_t @ O_jᵀ``.

Root translation: the target root joint follows ``k ×`` the source root
joint, with ``k`` the ratio of standing *leg heights* (`leg_height`: root
joint down to the ball of the foot, thigh and shank counted straight, so the
CMU rest pose's splayed legs do not shorten them) target / source.
Scaling the whole source world about its origin keeps the source floor
(y = 0) at y = 0 and strides in proportion to the legs, so feet neither slide
nor float more than the two skeletons' ankle/toe heights differ.
``root_transl`` is the body model's ``transl`` argument: the root joint is at
``rest_heads[0] + root_transl``.

**Inverse kinematics** (`fit_to_joint_positions`), when names do not
correspond (an arbitrary BVH, AMASS/SMPL joints): a batched L-BFGS fit of per-
frame 6D rotations and root translation of the body model's skeleton to
source joint positions, through a map from source joints to target joints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import roma
import torch

from vibe.body.base import BodyModel
from vibe.data.mocap.skeleton import Motion, Skeleton, forward_kinematics, forward_kinematics_torch
from vibe.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d

log = logging.getLogger(__name__)

__all__ = [
    "ANNY_CMU_MB_TO_CMU",
    "IKConfig",
    "IKResult",
    "RestAlignment",
    "RetargetConfig",
    "RetargetedMotion",
    "SMPL_TO_ANNY_CMU_MB",
    "TargetSkeleton",
    "fit_shape_to_skeleton",
    "fit_to_joint_positions",
    "leg_height",
    "rest_alignment",
    "retarget_motion",
    "swing_rotmat",
    "target_skeleton",
    "unretarget_rotations",
]

# Anny cmu_mb bone name → CMU BVH joint name, where they differ.
ANNY_CMU_MB_TO_CMU: dict[str, str] = {
    "LeftHandFinger1": "LeftHandIndex1",
    "RightHandFinger1": "RightHandIndex1",
}

# SMPL joint → Anny cmu_mb bone whose head is the same anatomical point, for
# `fit_to_joint_positions` (AMASS → Anny). The spine joints sit at different
# heights in the two skeletons and are left out.
SMPL_TO_ANNY_CMU_MB: dict[str, str] = {
    "pelvis": "Hips",
    "neck": "Neck",
    "head": "Head",
    **{
        f"{side}_{smpl}": f"{side.capitalize()}{anny}"
        for side in ("left", "right")
        for smpl, anny in {
            "hip": "UpLeg",
            "knee": "Leg",
            "ankle": "Foot",
            "foot": "ToeBase",
            "collar": "Shoulder",
            "shoulder": "Arm",
            "elbow": "ForeArm",
            "wrist": "Hand",
        }.items()
    },
}


@dataclass(frozen=True)
class RetargetConfig:
    """How target bones correspond to source bones.

    Attributes:
        name_map: target bone name → source joint name where they differ
            (others match by name).
        rigid_bones: target bones that take their parent's rest offset instead
            of matching the source direction (bones the source never moves,
            whose rest layout belongs to each skeleton).
        twist_refs: target bone → child bone whose direction fixes the bone's
            twist (both skeletons must have that child).
        leg_bones: target names of thigh and shank bones, counted at full
            length in `leg_height` (they are straight under a standing body).
    """

    name_map: Mapping[str, str] = field(default_factory=lambda: dict(ANNY_CMU_MB_TO_CMU))
    # The collarbones keep the target's rest layout too: CMU's rest collarbone
    # points ~14° up, Anny's ~10° down, and matching their directions shrugged
    # every retargeted frame by ~25° (shoulders 1–4 cm below the neck base
    # instead of ~9 cm). Taking the parent's offset transfers the source's
    # collarbone motion relative to its rest instead.
    rigid_bones: tuple[str, ...] = ("LHipJoint", "RHipJoint", "LeftShoulder", "RightShoulder")
    twist_refs: Mapping[str, str] = field(
        default_factory=lambda: {"LeftHand": "LThumb", "RightHand": "RThumb"}
    )
    leg_bones: tuple[str, ...] = ("LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg")


@dataclass
class TargetSkeleton:
    """A body model's rest skeleton (world frame, metres).

    Attributes:
        joint_names: ``J`` bone names, root first.
        parents: ``(J,)`` parent indices (root ``-1``).
        rest_heads: ``(J, 3)`` rest bone heads (= the model's rest joints).
        rest_tails: ``(J, 3)`` rest bone tails (where each bone points).
    """

    joint_names: list[str]
    parents: np.ndarray
    rest_heads: np.ndarray
    rest_tails: np.ndarray

    def children(self, joint: int) -> list[int]:
        """Indices of the direct children of ``joint``."""
        return [int(c) for c in np.flatnonzero(self.parents == joint)]


def target_skeleton(body_model: BodyModel, shape: torch.Tensor | None = None) -> TargetSkeleton:
    """The rest skeleton of ``body_model`` for ``shape`` ``(1, S)`` (``None``: mean shape).

    Uses ``rest_bone_ends`` when the model has it (Anny); otherwise heads are
    the rest-pose joints and each tail is the first child's head (leaves
    continue their parent's direction by 5 cm).
    """
    parents = body_model.parents.cpu().numpy().astype(np.int64)
    with torch.no_grad():
        if hasattr(body_model, "rest_bone_ends"):
            heads, tails = (t[0].double().cpu().numpy() for t in body_model.rest_bone_ends(shape))
            return TargetSkeleton(list(body_model.joint_names), parents, heads, tails)
        heads = body_model(body_model.rest_pose(1), shape=shape).joints[0].double().cpu().numpy()
    tails = heads.copy()
    for j in range(len(parents)):
        kids = np.flatnonzero(parents == j)
        if kids.size:
            tails[j] = heads[kids[0]]
        elif parents[j] >= 0:
            d = heads[j] - heads[parents[j]]
            tails[j] = heads[j] + 0.05 * d / max(np.linalg.norm(d), 1e-9)
    return TargetSkeleton(list(body_model.joint_names), parents, heads, tails)


def swing_rotmat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(3, 3)`` minimal rotation turning direction ``a`` onto direction ``b`` (both ``(3,)``)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(a @ b)
    if sin < 1e-12:
        if cos > 0:
            return np.eye(3)
        # Opposite directions: half turn about any axis perpendicular to a.
        helper = np.eye(3)[np.argmin(np.abs(a))]
        axis = np.cross(a, helper)
        sin = 0.0
    angle = np.arctan2(sin, cos)
    rotvec = torch.as_tensor(axis / np.linalg.norm(axis) * angle, dtype=torch.float64)
    return roma.rotvec_to_rotmat(rotvec).numpy()


def _twist_rotmat(axis: np.ndarray, u_from: np.ndarray, u_to: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation about ``axis`` bringing ``u_from``'s perpendicular part onto ``u_to``'s."""
    axis = axis / np.linalg.norm(axis)
    p = u_from - (u_from @ axis) * axis
    q = u_to - (u_to @ axis) * axis
    if np.linalg.norm(p) < 1e-9 or np.linalg.norm(q) < 1e-9:
        return np.eye(3)
    angle = np.arctan2(np.cross(p, q) @ axis, p @ q)
    return roma.rotvec_to_rotmat(torch.as_tensor(axis * angle, dtype=torch.float64)).numpy()


@dataclass
class RestAlignment:
    """Bone correspondence and rest offsets between a source and a target skeleton.

    Attributes:
        source_index: ``(J_t,)`` source joint index of every target bone.
        offset_rotmat: ``(J_t, 3, 3)`` rest offsets ``O_j`` (module docstring).
        direction_matched: ``(J_t,)`` bool, bones whose posed direction
            follows the source bone's (False: the root, rigid bones, and bones
            of zero rest length in either skeleton, which keep their parent's
            offset).
    """

    source_index: np.ndarray
    offset_rotmat: np.ndarray
    direction_matched: np.ndarray


def _source_bone_vector(source: Skeleton, joint: int, child_name: str | None) -> np.ndarray | None:
    """Rest vector of source bone ``joint`` towards child ``child_name`` (or its end site)."""
    if child_name is not None and child_name in source.joint_names:
        child = source.index(child_name)
        if source.parents[child] == joint:
            return source.offsets[child]
    if child_name is None and joint in source.end_sites:
        return source.end_sites[joint]
    return None


def rest_alignment(source: Skeleton, target: TargetSkeleton, config: RetargetConfig | None = None) -> RestAlignment:
    """Match target bones to source joints by name and compute the rest offsets.

    Args:
        source: source skeleton (``J_s`` joints, BVH convention).
        target: target rest skeleton (``J_t`` bones).
        config: name map, rigid bones, twist references.

    Returns:
        The alignment (see `RestAlignment`).

    Raises:
        ValueError: a target bone has no source joint of corresponding name.
    """
    config = config or RetargetConfig()
    names = [config.name_map.get(n, n) for n in target.joint_names]
    missing = [n for n in names if n not in source.joint_names]
    if missing:
        raise ValueError(f"source skeleton lacks joints {missing}; use fit_to_joint_positions")
    source_index = np.array([source.index(n) for n in names], dtype=np.int64)
    num = len(names)
    offsets = np.broadcast_to(np.eye(3), (num, 3, 3)).copy()
    matched = np.zeros(num, dtype=bool)
    for j in range(num):
        parent = int(target.parents[j])
        if parent < 0:
            continue
        offsets[j] = offsets[parent]
        if target.joint_names[j] in config.rigid_bones:
            continue
        d_target = target.rest_tails[j] - target.rest_heads[j]
        kids = target.children(j)
        # The target's tail is one child's head: pair the source bone with that child.
        primary = min(kids, key=lambda c: np.linalg.norm(target.rest_heads[c] - target.rest_tails[j])) if kids else None
        d_source = _source_bone_vector(source, int(source_index[j]), names[primary] if primary is not None else None)
        if d_source is None or np.linalg.norm(d_source) < 1e-6 or np.linalg.norm(d_target) < 1e-6:
            log.debug("bone %s: no usable rest direction, keeping its parent's offset", target.joint_names[j])
            continue
        offsets[j] = swing_rotmat(offsets[parent] @ d_target, d_source) @ offsets[parent]
        matched[j] = True
        ref = config.twist_refs.get(target.joint_names[j])
        if ref is not None:
            t_ref = target.joint_names.index(ref)
            s_ref = source.index(config.name_map.get(ref, ref))
            u_target = target.rest_tails[t_ref] - target.rest_heads[t_ref]
            u_source = source.end_sites.get(s_ref)
            if u_source is None:  # a chain bone: towards its child
                u_source = source.offsets[source.children(s_ref)[0]]
            offsets[j] = _twist_rotmat(d_source, offsets[j] @ u_target, u_source) @ offsets[j]
    return RestAlignment(source_index=source_index, offset_rotmat=offsets, direction_matched=matched)


def leg_height(
    parents: np.ndarray, rest_joints: np.ndarray, names: list[str], leg_bones: tuple[str, ...]
) -> float:
    """Standing height of the root joint above the lowest joint (the ball of a foot).

    Walks from the lowest rest joint up to the root; the bone from joint
    ``p`` to its child ``c`` counts its full length when ``p`` is named in ``leg_bones``
    (thigh, shank: straight and vertical when standing, whatever the rest
    pose's leg splay), else only its vertical extent (pelvis and foot bones
    keep their rest layout when standing).

    Args:
        parents: ``(J,)`` parent indices.
        rest_joints: ``(J, 3)`` rest joint positions (y up).
        names: ``J`` joint names.
        leg_bones: names of the leg bones (their head joint).

    Returns:
        Height in metres.
    """
    joint = int(np.argmin(rest_joints[:, 1]))
    height = 0.0
    while parents[joint] >= 0:
        parent = int(parents[joint])
        bone = rest_joints[joint] - rest_joints[parent]
        height += float(np.linalg.norm(bone)) if names[parent] in leg_bones else float(-bone[1])
        joint = parent
    return height


def _source_rest_joints(source: Skeleton) -> np.ndarray:
    """``(J, 3)`` rest joint positions of ``source`` with the root at its offset."""
    eye = np.broadcast_to(np.eye(3), (source.num_joints, 3, 3))
    return forward_kinematics(source, eye, np.zeros(3))[0]


@dataclass
class RetargetedMotion:
    """A clip on the target skeleton.

    Attributes:
        local_rotmat: ``(T, J, 3, 3)`` local rotations, target convention.
        root_transl: ``(T, 3)`` body-model ``transl`` (root joint at
            ``rest_heads[0] + root_transl``), metres.
        scale: ``k``, target / source `leg_height`.
        fps: frames per second.
        name: clip name.
    """

    local_rotmat: np.ndarray
    root_transl: np.ndarray
    scale: float
    fps: float
    name: str = ""


def retarget_motion(
    motion: Motion, target: TargetSkeleton, config: RetargetConfig | None = None
) -> RetargetedMotion:
    """Bone-for-bone transfer of ``motion`` onto ``target`` (module docstring).

    Args:
        motion: source clip, ``T`` frames, names corresponding to ``target``'s.
        target: target rest skeleton (e.g. ``target_skeleton(anny)``).
        config: correspondence settings.

    Returns:
        ``(T, J_t, 3, 3)`` locals and ``(T, 3)`` root translation.
    """
    align = rest_alignment(motion.skeleton, target, config)
    source_joints, source_glob = forward_kinematics(motion.skeleton, motion.local_rotmat, motion.root_transl)
    glob = source_glob[:, align.source_index] @ align.offset_rotmat
    local = _globals_to_locals(glob, target.parents)

    config = config or RetargetConfig()
    source_legs = tuple(config.name_map.get(n, n) for n in config.leg_bones)
    scale = leg_height(target.parents, target.rest_heads, target.joint_names, config.leg_bones) / leg_height(
        motion.skeleton.parents, _source_rest_joints(motion.skeleton), motion.skeleton.joint_names, source_legs
    )
    root_joint = scale * source_joints[:, align.source_index[0]]
    root_transl = root_joint - target.rest_heads[0]
    return RetargetedMotion(local, root_transl, scale, motion.fps, motion.name)


def unretarget_rotations(
    local_rotmat: np.ndarray, target: TargetSkeleton, source: Skeleton, config: RetargetConfig | None = None
) -> np.ndarray:
    """Inverse of the rotation transfer: target locals → source locals.

    Source joints without a target counterpart (none for CMU ↔ Anny) keep
    the identity local rotation.

    Args:
        local_rotmat: ``(T, J_t, 3, 3)`` target locals.
        target, source, config: as for `retarget_motion`.

    Returns:
        ``(T, J_s, 3, 3)`` source locals.
    """
    align = rest_alignment(source, target, config)
    glob_t = _locals_to_globals(local_rotmat, target.parents)
    glob_s = np.broadcast_to(np.eye(3), local_rotmat.shape[:1] + (source.num_joints, 3, 3)).copy()
    covered = np.zeros(source.num_joints, dtype=bool)
    glob_s[:, align.source_index] = glob_t @ np.swapaxes(align.offset_rotmat, -1, -2)
    covered[align.source_index] = True
    for j in range(source.num_joints):  # uncovered joints move rigidly with their parent
        if not covered[j] and source.parents[j] >= 0:
            glob_s[:, j] = glob_s[:, source.parents[j]]
    return _globals_to_locals(glob_s, source.parents)


def _globals_to_locals(glob: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``(..., J, 3, 3)`` globals → locals ``L_j = G_pᵀ G_j`` (root: ``L_0 = G_0``)."""
    local = glob.copy()
    has_parent = parents >= 0
    p = parents[has_parent]
    local[..., has_parent, :, :] = np.swapaxes(glob[..., p, :, :], -1, -2) @ glob[..., has_parent, :, :]
    return local


def _locals_to_globals(local: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``(..., J, 3, 3)`` locals → globals (parents listed before children)."""
    glob = local.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            glob[..., j, :, :] = glob[..., p, :, :] @ local[..., j, :, :]
    return glob


# --- inverse kinematics -------------------------------------------------------


@dataclass(frozen=True)
class IKConfig:
    """Settings of `fit_to_joint_positions`.

    Attributes:
        iterations: L-BFGS iterations (each may evaluate the loss a few times).
        rest_weight: weight of the mean ``‖R_j − I‖²`` over non-root locals
            (the data term is a mean squared distance in m²): small, it only
            settles the twist that joint positions leave free.
        smooth_weight: weight of the squared second difference of the fitted
            joints over frames (0 for independent frames).
        fit_shape: also fit one shape vector shared by all frames.
        shape_bounds: range the fitted shape is clamped to (``(0, 1)`` for
            Anny's phenotypes), or ``None``.
        stiff_joints: body joints held near their rest rotation with
            ``stiff_weight`` (e.g. Anny's pelvis-to-hip bones, which no real
            pelvis bends, when another rig's hip joints sit elsewhere on the pelvis).
        stiff_weight: weight of their mean ``‖R_j − I‖²``.
    """

    iterations: int = 200
    rest_weight: float = 1e-6
    stiff_joints: tuple[str, ...] = ()
    stiff_weight: float = 1.0
    smooth_weight: float = 0.0
    fit_shape: bool = False
    shape_bounds: tuple[float, float] | None = None


@dataclass
class IKResult:
    """Output of `fit_to_joint_positions`.

    Attributes:
        pose_rotmat: ``(T, J, 3, 3)`` local rotations of the body model.
        transl: ``(T, 3)`` body-model translation, metres.
        shape: ``(1, S)`` shape used (fitted if asked).
        joints: ``(T, J, 3)`` fitted joint positions.
        error_m: ``(T, K)`` distance of every mapped joint to its target, metres.
    """

    pose_rotmat: torch.Tensor
    transl: torch.Tensor
    shape: torch.Tensor
    joints: torch.Tensor
    error_m: torch.Tensor


def _rest_joints(body_model: BodyModel, shape: torch.Tensor) -> torch.Tensor:
    """``(J, 3)`` rest joints of ``body_model`` for ``shape`` ``(1, S)`` (differentiable)."""
    return body_model(body_model.rest_pose(1), shape=shape).joints[0]


def _kabsch(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """``(T, 3, 3)`` rotations R minimising ``Σ‖R src_k − dst_k‖²`` of centred ``(T, K, 3)`` sets."""
    return _kabsch_uncentred(src - src.mean(1, keepdim=True), dst - dst.mean(1, keepdim=True))


def _kabsch_uncentred(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """``(T, 3, 3)`` rotations R minimising ``Σ‖R src_k − dst_k‖²`` for ``(T, K, 3)`` vectors."""
    u, _, vt = torch.linalg.svd(dst.transpose(1, 2) @ src)
    d = torch.sign(torch.linalg.det(u @ vt))
    fix = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return u @ fix @ vt


def _swing_init(
    root_rot: torch.Tensor, rest: torch.Tensor, parents, targets: torch.Tensor, dst_idx: torch.Tensor
) -> torch.Tensor:
    """``(T, J, 3, 3)`` starting locals: each bone swung onto its mapped child's target direction.

    Bones whose head and several non-collinear children are mapped get the
    Kabsch rotation of their child vectors; with one mapped child, the
    minimal rotation (from the parent's posed frame) pointing it where the
    targets say; the others stay at rest relative to their parent.
    """
    num_joints = len(parents)
    where = {int(j): k for k, j in enumerate(dst_idx.tolist())}
    glob = [root_rot] + [None] * (num_joints - 1)
    local = [root_rot] + [None] * (num_joints - 1)
    for j in range(1, num_joints):
        p = int(parents[j])
        g = glob[p]
        kids = [c for c in range(j + 1, num_joints) if parents[c] == j and c in where]
        child = kids[0] if kids else None
        rest_vecs = torch.stack([rest[c] - rest[j] for c in kids]) if kids else None
        spread = torch.linalg.matrix_rank(rest_vecs.double(), atol=1e-3).item() if len(kids) >= 2 else 0
        if j in where and spread >= 2:  # several children fix the twist too: rigid fit
            target_vecs = torch.stack([targets[:, where[c]] - targets[:, where[j]] for c in kids], 1)
            glob[j] = _kabsch_uncentred(rest_vecs.expand(len(g), -1, -1), target_vecs)
        elif j in where and child is not None:
            a = (g @ (rest[child] - rest[j]))  # (T, 3) rest bone carried by the parent
            b = targets[:, where[child]] - targets[:, where[j]]
            a = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-9)
            b = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-9)
            axis = torch.linalg.cross(a, b)
            angle = torch.atan2(axis.norm(dim=-1), (a * b).sum(-1))
            swing = roma.rotvec_to_rotmat(axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-9) * angle[:, None])
            glob[j] = swing @ g
        else:
            glob[j] = g
        local[j] = g.transpose(-1, -2) @ glob[j]
    return torch.stack(local, dim=1)


def fit_to_joint_positions(
    body_model: BodyModel,
    target_joints: torch.Tensor,
    joint_map: Mapping[int, str],
    shape: torch.Tensor | None = None,
    config: IKConfig | None = None,
) -> IKResult:
    """Fit body-model poses to joint positions (batched over frames).

    The body model is posed through its skeleton (rest joints from a rest-pose
    forward pass, then `forward_kinematics_torch`), which is what its own
    ``joints`` output is, without skinning the mesh every step. The root
    orientation starts at the Kabsch rotation between the rest and target
    positions of the mapped joints near the root (at most two bones away),
    every other bone at the minimal rotation pointing it at
    its mapped child (`_swing_init`), then L-BFGS refines all of them.

    Args:
        body_model: target body model.
        target_joints: ``(T, K, 3)`` source joint positions, metres, body-model world axes.
        joint_map: source index ``k`` → target joint name, for the joints to fit.
        shape: ``(1, S)`` initial / fixed shape; ``None`` → mean shape.
        config: optimisation settings.

    Returns:
        Fitted poses (see `IKResult`).
    """
    config = config or IKConfig()
    dtype, device = body_model.dtype, body_model.device
    work = torch.float64  # float32 stalls L-BFGS at millimetres
    target_joints = target_joints.to(dtype=work, device=device)
    src_idx = torch.tensor(list(joint_map.keys()), dtype=torch.long, device=device)
    dst_idx = torch.tensor([body_model.joint_names.index(n) for n in joint_map.values()], device=device)
    targets = target_joints[:, src_idx]
    num_frames, num_joints = target_joints.shape[0], body_model.num_joints
    parents = body_model.parents.cpu().numpy()

    shape = (body_model.mean_shape(1) if shape is None else shape.to(dtype=dtype, device=device)).detach()
    shape = shape.clone().requires_grad_(config.fit_shape)
    with torch.no_grad():
        rest = _rest_joints(body_model, shape).to(work)
        # Root orientation from the joints nearest the root (limbs bend, the pelvis does not).
        depth = np.zeros(num_joints, dtype=np.int64)
        for j in range(1, num_joints):
            depth[j] = depth[parents[j]] + 1
        near = [k for k, j in enumerate(dst_idx.tolist()) if depth[j] <= 2]
        near = near if len(near) >= 3 else list(range(len(dst_idx)))
        root_rot = _kabsch(rest[dst_idx[near]].expand(num_frames, -1, -1), targets[:, near])
        if 0 in dst_idx.tolist():  # the root joint is mapped: put it there
            transl0 = targets[:, dst_idx.tolist().index(0)] - rest[0]
        else:  # centroids coincide
            rotated = rest[dst_idx[near]] @ root_rot.transpose(1, 2)  # about the world origin
            transl0 = targets[:, near].mean(1) - rotated.mean(1) - rest[0] + rest[0] @ root_rot.transpose(1, 2)
    init = _swing_init(root_rot, rest, parents, targets, dst_idx)
    pose_6d = rotmat_to_rot6d(init).detach().requires_grad_(True)
    transl = transl0.detach().clone().requires_grad_(True)
    params = [pose_6d, transl] + ([shape] if config.fit_shape else [])
    eye = torch.eye(3, dtype=work, device=device)
    stiff = [body_model.joint_names.index(n) for n in config.stiff_joints if n in body_model.joint_names]

    def bounded(values: torch.Tensor) -> torch.Tensor:
        return values if config.shape_bounds is None else values.clamp(*config.shape_bounds)

    def pose_joints() -> tuple[torch.Tensor, torch.Tensor]:
        # A fixed shape's rest joints are computed once.
        rest_j = _rest_joints(body_model, bounded(shape)).to(work) if config.fit_shape else rest
        offsets = rest_j - rest_j[parents.clip(0)]
        offsets[0] = rest_j[0]
        rotmat = rot6d_to_rotmat(pose_6d)
        return forward_kinematics_torch(parents, offsets, rotmat, transl)[0], rotmat

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        joints, rotmat = pose_joints()
        loss = ((joints[:, dst_idx] - targets) ** 2).sum(-1).mean()
        loss = loss + config.rest_weight * ((rotmat[:, 1:] - eye) ** 2).sum((-1, -2)).mean()
        if stiff:
            loss = loss + config.stiff_weight * ((rotmat[:, stiff] - eye) ** 2).sum((-1, -2)).mean()
        if config.smooth_weight > 0 and num_frames > 2:
            accel = joints[2:] - 2 * joints[1:-1] + joints[:-2]
            loss = loss + config.smooth_weight * (accel**2).sum(-1).mean()
        loss.backward()
        return loss

    # L-BFGS with line search: the problem is small and smooth, and first-order
    # steps crawl along the long kinematic chains.
    optimiser = torch.optim.LBFGS(
        params, lr=1.0, max_iter=config.iterations, history_size=50,
        tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe",
    )  # fmt: skip
    optimiser.step(closure)

    with torch.no_grad():
        joints, rotmat = pose_joints()
        error = (joints[:, dst_idx] - targets).norm(dim=-1)
    final_shape = bounded(shape).detach()
    log.info("IK fit of %d frames: mean error %.4f m", num_frames, error.mean().item())
    return IKResult(rotmat.to(dtype), transl.detach().to(dtype), final_shape, joints.to(dtype), error.to(dtype))


def fit_shape_to_skeleton(
    body_model: BodyModel,
    source: Skeleton,
    config: RetargetConfig | None = None,
    shape: torch.Tensor | None = None,
    labels: tuple[str, ...] = ("height", "proportions"),
    iterations: int = 100,
    lr: float = 0.02,
) -> torch.Tensor:
    """Fit some shape parameters so the model's rest bone lengths match ``source``'s.

    Compares the lengths of the direction-matched bones (limbs, spine, neck)
    in metres; the other parameters stay at ``shape``'s values and every
    parameter is kept in [0, 1]. Needs a body model with ``phenotype_labels``
    (Anny).

    Args:
        body_model: target body model.
        source: source skeleton with names corresponding to the model's bones.
        config: correspondence settings.
        shape: ``(1, S)`` starting shape; ``None`` → mean shape.
        labels: names of the shape parameters to fit.
        iterations, lr: Adam steps and learning rate.

    Returns:
        ``(1, S)`` fitted shape.
    """
    config = config or RetargetConfig()
    base = body_model.mean_shape(1) if shape is None else shape.to(body_model.dtype)
    target = target_skeleton(body_model, base)
    align = rest_alignment(source, target, config)
    names = [config.name_map.get(n, n) for n in target.joint_names]
    # Bones between two corresponding joints: target (parent, child) ↔ source lengths.
    pairs = [
        (int(target.parents[j]), j)
        for j in range(len(names))
        if target.parents[j] >= 0
        and align.direction_matched[int(target.parents[j])]
        and source.parents[align.source_index[j]] == align.source_index[target.parents[j]]
    ]
    src_len = torch.tensor(
        [np.linalg.norm(source.offsets[align.source_index[c]]) for _, c in pairs], dtype=base.dtype
    )
    keep = src_len > 1e-3
    free = torch.tensor([body_model.phenotype_labels.index(n) for n in labels])
    values = base[0, free].clone().requires_grad_(True)
    optimiser = torch.optim.Adam([values], lr=lr)
    par = torch.tensor([p for p, _ in pairs])
    child = torch.tensor([c for _, c in pairs])
    for _ in range(iterations):
        optimiser.zero_grad()
        current = base.clone()
        current[0, free] = values.clamp(0, 1)
        heads, _ = body_model.rest_bone_ends(current)
        lengths = (heads[0, child] - heads[0, par]).norm(dim=-1)
        loss = ((lengths - src_len)[keep] ** 2).mean()
        loss.backward()
        optimiser.step()
    fitted = base.clone()
    fitted[0, free] = values.detach().clamp(0, 1)
    return fitted
