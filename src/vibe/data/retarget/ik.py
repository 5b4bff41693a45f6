"""Inverse kinematics: fit a body model's poses (and shape) to source joint positions.

For sources whose joint names do not correspond to the body's bones (an
arbitrary BVH, AMASS/SMPL joints): a batched L-BFGS fit of per-frame 6D
rotations and root translation of the body model's skeleton to source joint
positions, through a map from source joints to target joints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import roma
import torch

from vibe.body.base import BodyModel
from vibe.data.mocap.skeleton import forward_kinematics_torch
from vibe.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d

log = logging.getLogger(__name__)

__all__ = ["IKConfig", "IKResult", "fit_to_joint_positions"]


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
