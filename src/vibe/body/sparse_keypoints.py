"""Fast Anny keypoints: skin only what the keypoint sets read, through per-bone moments.

:meth:`vibe.body.anny.Anny.keypoints` of :meth:`~vibe.body.anny.Anny.forward`
poses all ~14k vertices to read a few hundred of them (60 ms for one body).
Synthetic training needs keypoints of ~512 bodies per step, so this module
evaluates the same function without the mesh.

Why it is exact. A keypoint is an affine combination of posed vertices and
bone heads, ``k = Σ_v w_v x'_v + Σ_j u_j h'_j``. Linear blend skinning poses a
vertex as ``x'_v = Σ_j W_vj (R_j x_v + t_j)`` with ``(R_j, t_j)`` the bone
transforms, and the rest vertex is linear in the shape's blendshape
coefficients, ``x_v = x⁰_v + Σ_c β_c D_cv``. Swapping the sums,

    Σ_v w_v x'_v = Σ_j R_j m_j(β) + t_j a_j,
    m_j(β) = Σ_v w_v W_vj x⁰_v + Σ_c β_c Σ_v w_v W_vj D_cv,   a_j = Σ_v w_v W_vj,

so each keypoint only needs one 3-vector ``m_j`` per bone ("moment"), linear
in ``β``, whose two tables are precomputed once (a sparse product over the
vertices). Per body the cost is a (C → K·J·3) matrix product for the shape and
a (K·J) contraction per pose; the skeleton (31 bones) goes through anny's own
rest-skeleton function and a forward kinematics equal to anny's ``local-ref``
one but built from matrix products CPUs do fast (the fit evaluates it ~100
times per track: 41 → 15 ms per 300 frames with gradients). Everything else mirrors
:class:`~vibe.body.anny.Anny` (root head offset, axis change, translation),
so the result equals ``Anny.keypoints(Anny.forward(...), set)`` to round-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # only a type here: anny.py builds its keypoint evaluator from this module
    from vibe.body.anny import Anny

__all__ = ["SparseKeypointsOutput", "SparseKeypoints", "phenotype_coefficients"]


@dataclass
class SparseKeypointsOutput:
    """Keypoints and skeleton of posed bodies, world frame (y up), metres.

    Attributes:
        keypoints: set name → ``(B, *, K, 3)``.
        joints: ``(B, *, J, 3)`` bone heads (as ``BodyOutput.joints``).
    """

    keypoints: dict[str, torch.Tensor]
    joints: torch.Tensor


class SparseKeypoints(nn.Module):
    """Keypoint sets of Anny bodies without posing the mesh.

    Args:
        body: the Anny model whose keypoints to reproduce (its dtype/device are
            used); kept as the submodule ``body``.
        sets: keypoint set names of ``body`` to evaluate.
    """

    def __init__(self, body: Anny, sets: Sequence[str] = ("blazepose33", "eval14")) -> None:
        super().__init__()
        model = body._anny
        if model.bone_orientation != "blender" or model.rest_orientation_refiner is not None:
            raise NotImplementedError("only rigs with Blender-style (head/tail/roll) bone orientations")
        self.body = body
        self.set_names = list(sets)
        for name in self.set_names:
            body._check_keypoint_set(name)
        self._sizes = [len(body.keypoint_sets[name]) for name in self.set_names]
        opts = {"dtype": body.dtype, "device": body.device}

        w_vert = torch.cat([getattr(body, f"_kp_{n}_vert") for n in self.set_names]).double()  # (K, V)
        w_joint = torch.cat([getattr(body, f"_kp_{n}_joint") for n in self.set_names]).double()  # (K, J)
        moment_template, moment_blend, bone_weight = _moment_tables(model, w_vert)
        self.register_buffer("_moment_template", moment_template.to(**opts), persistent=False)  # (K, J, 3)
        self.register_buffer("_moment_blend", moment_blend.to(**opts), persistent=False)  # (C, K, J, 3)
        self.register_buffer("_bone_weight", bone_weight.to(**opts), persistent=False)  # (K, J)
        self.register_buffer("_joint_weight", w_joint.to(**opts), persistent=False)  # (K, J)
        # Total weight of each keypoint (1 for affine combinations): how much of a
        # translation of every vertex and joint the keypoint follows.
        total = w_vert.sum(1) + w_joint.sum(1)
        self.register_buffer("_total_weight", total.to(**opts), persistent=False)  # (K,)

    @property
    def dtype(self) -> torch.dtype:
        """Floating point type of the tables (the body model's)."""
        return self._bone_weight.dtype

    @property
    def keypoint_sets(self) -> dict[str, list[str]]:
        """Evaluated sets: name → ordered keypoint names."""
        return {name: self.body.keypoint_sets[name] for name in self.set_names}

    def forward(
        self, pose_rotmat: torch.Tensor, shape: torch.Tensor | None = None, transl: torch.Tensor | None = None
    ) -> SparseKeypointsOutput:
        """Keypoints of posed bodies, as ``Anny.keypoints(Anny.forward(...))``.

        One shape can serve many poses (e.g. the frames of a window): the
        shape-dependent work runs once per row of ``shape``.

        Args:
            pose_rotmat: ``(B, *, J, 3, 3)`` local rotations (see :class:`~vibe.body.anny.Anny`);
                ``*`` are any extra dims (e.g. time ``T``) sharing one shape.
            shape: ``(B, S)`` or ``(1, S)`` phenotypes; ``None`` → the model's mean shape.
            transl: ``(B, *, 3)`` metres added to every point; ``None`` → zero.

        Returns:
            :class:`SparseKeypointsOutput` with ``(B, *, K, 3)`` per set and joints ``(B, *, J, 3)``.
        """
        model = self.body._anny
        batch = pose_rotmat.shape[0]
        extra = pose_rotmat.shape[1:-3]
        if shape is None:
            shape = self.body.mean_shape(1)
        shape = shape.to(pose_rotmat).expand(batch, -1)

        # --- per shape: rest skeleton and keypoint moments --------------------------
        coeffs, heads, rest_poses = _rest_skeleton(model, shape)
        moments = self._moment_template + torch.einsum("bc,ckjd->bkjd", coeffs, self._moment_blend)
        root_head = heads[:, 0]  # (B, 3), anny frame

        # --- per pose: forward kinematics on the 31 bones ---------------------------
        c = self.body._anny_to_world
        view = (batch,) + (1,) * len(extra)
        rest_poses = rest_poses.reshape(*view, *rest_poses.shape[1:])
        rot, trans, posed_heads = _forward_kinematics(model, rest_poses, pose_rotmat, c)
        # rot, trans: bone transforms (B, *, J, 3, 3), (B, *, J, 3); posed_heads (B, *, J, 3), anny frame

        points = (
            _rotate_moments(rot, moments)
            + torch.einsum("kj,...jd->...kd", self._bone_weight, trans)
            + torch.einsum("kj,...jd->...kd", self._joint_weight, posed_heads)
        )
        root_head = root_head.reshape(*view, 1, 3)
        points = (points + self._total_weight[:, None] * root_head) @ c.transpose(0, 1)
        joints = (posed_heads + root_head) @ c.transpose(0, 1)
        if transl is not None:
            points = points + self._total_weight[:, None] * transl[..., None, :]
            joints = joints + transl[..., None, :]
        return SparseKeypointsOutput(dict(zip(self.set_names, points.split(self._sizes, dim=-2))), joints)


    def bone_rotations(self, pose_rotmat: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, *, J, 3, 3)`` the bones' skinning rotations, world axes (``BodyOutput.joints_rotmat``).

        A rest-pose offset ``δ`` (world axes) that rides on bone ``j`` is ``R_j δ`` once posed.
        ``pose_rotmat`` ``(B, *, J, 3, 3)`` and ``shape`` as in :meth:`forward`.
        """
        model = self.body._anny
        batch, extra = pose_rotmat.shape[0], pose_rotmat.shape[1:-3]
        shape = (self.body.mean_shape(1) if shape is None else shape).to(pose_rotmat).expand(batch, -1)
        _, _, rest_poses = _rest_skeleton(model, shape)
        rest_poses = rest_poses.reshape(batch, *(1,) * len(extra), *rest_poses.shape[1:])
        c = self.body._anny_to_world
        rot, _, _ = _forward_kinematics(model, rest_poses, pose_rotmat, c)
        return c @ rot @ c.transpose(0, 1)


def phenotype_coefficients(model, shape: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` anny's blendshape coefficients of phenotypes ``shape (B, S)`` (no local changes or facial actions)."""
    no_params = shape.new_zeros(shape.shape[0], 0)
    return model._get_phenotype_blendshape_coefficients(shape, no_params, no_params)


def _rest_skeleton(model, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Blendshape coefficients ``(B, C)``, rest bone heads ``(B, J, 3)`` and poses ``(B, J, 4, 4)``, anny frame."""
    coeffs = phenotype_coefficients(model, shape)  # (B, C)
    heads = model.template_bone_heads + torch.einsum("cjd,bc->bjd", model.bone_heads_blendshapes, coeffs)
    tails = model.template_bone_tails + torch.einsum("cjd,bc->bjd", model.bone_tails_blendshapes, coeffs)
    return coeffs, heads, _rest_bone_poses(model, heads, tails)


def _rotate_moments(rot: torch.Tensor, moments: torch.Tensor) -> torch.Tensor:
    """``Σ_j R_j m_kj``: rotations ``(B, *, J, 3, 3)``, moments ``(B, K, J, 3)`` → ``(B, *, K, 3)``.

    One batched matrix product per shape, without copying the moments for every pose.
    """
    batch, extra, num_bones = rot.shape[0], rot.shape[1:-3], rot.shape[-3]
    rot = rot.reshape(batch, -1, num_bones, 3, 3).permute(0, 1, 3, 2, 4)  # (B, E, d, J, e)
    rot = rot.reshape(batch, -1, num_bones * 3)  # (B, E·d, J·e)
    num_kp = moments.shape[1]
    out = torch.bmm(rot, moments.reshape(batch, num_kp, num_bones * 3).transpose(1, 2))  # (B, E·d, K)
    return out.reshape(batch, -1, 3, num_kp).transpose(-1, -2).reshape(batch, *extra, num_kp, 3)


def _moment_tables(model, w_vert: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precompute the moment tables of keypoint vertex weights ``w_vert (K, V)`` (float64).

    Returns ``template (K, J, 3)``, ``blend (C, K, J, 3)`` and ``bone_weight (K, J)``
    (see the module docstring), via one sparse ``(K·J, V)`` product.
    """
    skin = model.vertex_bone_weights.double()  # (V, M) sparse skinning: M bones per vertex
    skin_bones = model.vertex_bone_indices.long()  # (V, M)
    num_bones = len(model.bone_labels)
    k_idx, v_idx = torch.nonzero(w_vert, as_tuple=True)
    num_slots = skin.shape[1]
    k_rep = k_idx.repeat_interleave(num_slots)
    v_rep = v_idx.repeat_interleave(num_slots)
    j_rep = skin_bones[v_idx].reshape(-1)
    values = (w_vert[k_idx, v_idx][:, None] * skin[v_idx]).reshape(-1)
    num_kp = w_vert.shape[0]
    # Rows (k, j), columns v: the weight of vertex v in keypoint k through bone j.
    mixing = torch.sparse_coo_tensor(
        torch.stack([k_rep * num_bones + j_rep, v_rep]),
        values,
        (num_kp * num_bones, w_vert.shape[1]),
        check_invariants=True,
    ).coalesce()
    template = model.template_vertices.double()  # (V, 3)
    blend = model.blendshapes.double()  # (C, V, 3)
    num_blend = blend.shape[0]
    template_m = torch.sparse.mm(mixing, template).reshape(num_kp, num_bones, 3)
    blend_flat = blend.permute(1, 0, 2).reshape(blend.shape[1], num_blend * 3)  # (V, C·3)
    blend_m = torch.sparse.mm(mixing, blend_flat).reshape(num_kp, num_bones, num_blend, 3).permute(2, 0, 1, 3)
    ones = torch.ones(w_vert.shape[1], 1, dtype=torch.float64)
    bone_weight = torch.sparse.mm(mixing, ones).reshape(num_kp, num_bones)
    return template_m, blend_m.contiguous(), bone_weight


def _rest_bone_poses(model, heads: torch.Tensor, tails: torch.Tensor) -> torch.Tensor:
    """Rest bone poses ``(B, J, 4, 4)`` from rest heads and tails ``(B, J, 3)``, as anny's Blender rigs."""
    from anny.utils import kinematics

    poses = kinematics.get_bone_poses(
        heads, tails, model.bone_rolls_rotmat, y_axis=model.y_axis, degenerate_rotation=model.degenerate_rotation
    )
    if model.root_identity_orientation:
        poses[:, 0, :3, :3] = torch.eye(3, dtype=poses.dtype, device=poses.device)
    return poses


def _forward_kinematics(
    model, rest_poses: torch.Tensor, pose_rotmat: torch.Tensor, to_world: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """anny's ``local-ref`` forward kinematics with 3×3 matrix products (no reference orientations).

    For bone ``c`` of parent ``p`` with rest pose ``[R_c | h_c]`` and local
    rotation ``D_c`` (world-aligned axes), the posed pose is ``W_c = W_p K_c`` with
    ``K_c = [R_pᵀ D_c R_c | R_pᵀ (h_c − h_p)]`` and ``W_0 = [R_0ᵀ D_0 R_0 | 0]``;
    the skinning transform is ``T_c = W_c P_c⁻¹``. The same function as
    ``anny.utils.kinematics.forward_kinematic(..., "local-ref")``, whose 4×4
    broadcast sums are ~5× slower on a CPU; the translations of ``K`` depend on
    the shape only, so they are computed once per shape.

    Args:
        rest_poses: ``(B, *1, J, 4, 4)`` rest bone poses, anny frame (one per shape,
            ``*1`` broadcasting over the poses' extra dims).
        pose_rotmat: ``(B, *, J, 3, 3)`` local rotations, world-aligned axes (y up).
        to_world: ``(3, 3)`` anny → world axes (``D = Cᵀ pose C``).

    Returns:
        ``(rot, trans, heads)``: transforms ``T`` as ``(B, *, J, 3, 3)`` and
        ``(B, *, J, 3)``, and the posed heads ``(B, *, J, 3)`` (root head at 0), anny frame.
    """
    if model.reference_bone_orientations is not None:
        raise NotImplementedError("rigs with reference bone orientations")
    levels = model.kinematic_chain_levels
    local, order, inverse, parent = model.kinematic_chain_indices
    rest_rot, rest_head = rest_poses[..., :3, :3], rest_poses[..., :3, 3]
    to_rest = to_world @ rest_rot  # (B, *1, J, 3, 3): C R_c
    # K_c's rotation R_pᵀ Cᵀ P_c C R_c and translation R_pᵀ (h_c − h_p), bones in chain order.
    k_rot = _sandwich(to_rest[..., parent, :, :].transpose(-1, -2), pose_rotmat, to_rest)[..., order, :, :]
    offsets = (rest_head - rest_head[..., parent, :])[..., None]
    k_trans = (rest_rot[..., parent, :, :].transpose(-1, -2) @ offsets)[..., order, :, 0]
    w_rot = [k_rot[..., :1, :, :]]  # the root: parent[0] = 0 makes K_0 = W_0
    w_trans = [torch.zeros_like(k_trans[..., :1, :]).expand(*k_rot.shape[:-3], 1, 3)]
    for first, last in levels[1:]:
        p_rot, p_trans = w_rot[-1][..., local[first:last], :, :], w_trans[-1][..., local[first:last], :]
        w_rot.append(p_rot @ k_rot[..., first:last, :, :])
        w_trans.append((p_rot @ k_trans[..., first:last, :, None])[..., 0] + p_trans)
    posed_rot = torch.cat(w_rot, -3)[..., inverse, :, :]
    heads = torch.cat(w_trans, -2)[..., inverse, :]
    rot = _sandwich(None, posed_rot, rest_rot.transpose(-1, -2))
    trans = heads - (rot @ rest_head[..., None])[..., 0]
    return rot, trans, heads


def _sandwich(left: torch.Tensor | None, middle: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``L_j M_…j R_j`` for per-bone ``L, R (B, *1, J, 3, 3)`` (``L`` may be ``None``: I) and ``M (B, *, J, 3, 3)``.

    As one ``(9 × 9)`` matrix per bone and shape (``vec(L M R) = (L ⊗ Rᵀ) vec(M)``
    in row-major order) applied to every pose: a few large products instead of
    one tiny 3×3 product per bone and frame, which CPUs do slowly.
    """
    eye = torch.eye(3, dtype=middle.dtype, device=middle.device)
    left = eye.expand_as(right) if left is None else left
    kron = (left[..., :, None, :, None] * right.transpose(-1, -2)[..., None, :, None, :]).flatten(-4, -3).flatten(-2, -1)
    batch, num_bones = middle.shape[0], middle.shape[-3]
    flat = middle.reshape(batch, -1, num_bones, 9).transpose(1, 2)  # (B, J, E, 9)
    kron = kron.reshape(batch, num_bones, 9, 9)  # one per bone and shape (*1 all ones)
    out = flat @ kron.transpose(-1, -2)  # (B, J, E, 9)
    return out.transpose(1, 2).reshape(middle.shape)
