"""Rest poses of two skeletons put in correspondence: the target skeleton and the rest offsets.

For the bone-for-bone transfer (:mod:`~vibe.data.retarget.transfer`).
Both skeletons use world-aligned rest axes (identity = rest pose) but their
rest poses differ (CMU: T-pose, arms straight; Anny: A-pose, forearms
forward). For every target bone ``j`` with source bone ``s(j)`` a fixed rest
offset ``O_j`` (a rotation) is chosen so that ``O_j`` turns the target's rest
bone direction onto the source's, so that posed target bones point where
their source bones point, whatever the bone lengths. ``O_j`` fixes the direction; its twist about the bone is chosen
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
bending its pelvis or shrugging to the source's.

:func:`fit_shape_to_skeleton` instead moves the target's shape so that its
rest bone lengths match the source's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import roma
import torch

from vibe.body.base import BodyModel
from vibe.data.mocap.skeleton import Skeleton
from vibe.data.retarget.config import RetargetConfig

log = logging.getLogger(__name__)

__all__ = ["TargetSkeleton", "target_skeleton", "swing_rotmat", "RestAlignment", "rest_alignment",
           "fit_shape_to_skeleton"]


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
        offset_rotmat: ``(J_t, 3, 3)`` rest offsets ``O_j`` (see the module docstring).
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
