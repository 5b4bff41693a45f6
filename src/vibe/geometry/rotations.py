"""Rotation representations and conversions (thin, documented wrappers over roma).

Formats, all batched over arbitrary leading dimensions ``...``:

- rotation matrix ``rotmat``: ``(..., 3, 3)``, acting on column vectors
  (``x' = R @ x``). The internal representation everywhere in ``vibe``.
- 6D ``rot6d``: ``(..., 6)``, the first two columns of ``R`` in the memory
  layout of the original VIBE/SPIN regressor head (see :func:`rot6d_to_rotmat`).
- axis-angle ``aa``: ``(..., 3)``, unit axis times angle in radians
  (= roma's "rotvec"); used only at file boundaries (SMPL ``pose (72,)``).
- quaternion ``quat``: ``(..., 4)`` in **xyzw** order (scalar last), roma's and
  scipy's convention. Beware: many file formats (e.g. glTF is xyzw, but
  Blender/pytorch3d are wxyz) differ; convert explicitly at the boundary.
- Euler angles: ``(..., 3)`` with an explicit axis ``order`` (see
  :func:`euler_to_rotmat`).
"""

from __future__ import annotations

import roma
import torch

__all__ = [
    "rot6d_to_rotmat",
    "rotmat_to_rot6d",
    "axis_angle_to_rotmat",
    "rotmat_to_axis_angle",
    "rotmat_to_axis_angle_fast",
    "quat_to_rotmat",
    "rotmat_to_quat",
    "axis_angle_to_quat",
    "quat_to_axis_angle",
    "euler_to_rotmat",
    "rotmat_to_euler",
    "chordal_mean",
]


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """6D rotation ``(..., 6)`` → rotation matrix ``(..., 3, 3)``.

    Exactly the original VIBE/SPIN mapping: the 6 numbers are read row-major
    as a ``3x2`` matrix (``x.view(-1, 3, 2)``), so ``a1 = x[..., 0::2]`` is
    column 0 and ``a2 = x[..., 1::2]`` is column 1. Then
    ``b1 = a1 / |a1|``, ``b2 = normalize(a2 - (b1·a2) b1)``, ``b3 = b1 × b2``
    and ``R = [b1 b2 b3]`` (as columns). This is Gram-Schmidt on the two
    columns, i.e. ``roma.special_gramschmidt``.
    """
    return roma.special_gramschmidt(x.unflatten(-1, (3, 2)))


def rotmat_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` → 6D ``(..., 6)``.

    Keeps the first two columns in the layout :func:`rot6d_to_rotmat` reads
    (row-major ``3x2``: ``[R00, R01, R10, R11, R20, R21]``), so that
    ``rot6d_to_rotmat(rotmat_to_rot6d(R)) == R`` for any rotation ``R``.
    """
    return rotmat[..., :, :2].flatten(-2)


def axis_angle_to_rotmat(aa: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``(..., 3)`` (radians) → rotation matrix ``(..., 3, 3)`` (Rodrigues)."""
    return roma.rotvec_to_rotmat(aa)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` → axis-angle ``(..., 3)``, angle in ``[0, π]``."""
    return roma.rotmat_to_rotvec(rotmat)


def chordal_mean(rotmats: torch.Tensor) -> torch.Tensor:
    """Mean of ``N`` rotations ``(N, ..., 3, 3)`` → ``(..., 3, 3)``: the rotation nearest (Frobenius)
    to their arithmetic mean, the chordal L2 mean (exact midpoint for two rotations under π apart)."""
    return roma.special_procrustes(rotmats.mean(dim=0))


# Below this cosine (angle above ~2.9 rad) the skew part no longer fixes the axis well.
_NEAR_PI_COS = -0.97


def rotmat_to_axis_angle_fast(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` → axis-angle ``(..., 3)``, as :func:`rotmat_to_axis_angle`, ~4× cheaper.

    ``θ = acos((tr R − 1)/2)`` and ``aa = θ / (2 sin θ) · vee(R − Rᵀ)``: a few
    elementwise operations instead of roma's quaternion branches, which made
    the fit's pose prior its costliest term. The cosine is clamped just inside
    ``[−1, 1]``, so the identity gives 0 with a finite gradient (``½ vee``);
    rotations within ~0.24 rad of a half turn, where ``sin θ`` vanishes, go
    through :func:`rotmat_to_axis_angle`.
    """
    cos = ((rotmat.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0 + 1e-6, 1.0 - 1e-6)
    angle = torch.acos(cos)
    skew = torch.stack(
        (rotmat[..., 2, 1] - rotmat[..., 1, 2], rotmat[..., 0, 2] - rotmat[..., 2, 0], rotmat[..., 1, 0] - rotmat[..., 0, 1]),
        dim=-1,
    )
    aa = (angle / (2.0 * torch.sin(angle)))[..., None] * skew
    near_pi = cos < _NEAR_PI_COS
    if bool(near_pi.any()):
        aa = aa.clone()
        aa[near_pi] = roma.rotmat_to_rotvec(rotmat[near_pi])
    return aa


def quat_to_rotmat(quat_xyzw: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(..., 4)`` in **xyzw** order → rotation matrix ``(..., 3, 3)``.

    The quaternion is normalised first, so slightly denormalised inputs
    (e.g. after interpolation or float32 storage) still give a rotation.
    """
    return roma.unitquat_to_rotmat(roma.quat_normalize(quat_xyzw))


def rotmat_to_quat(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` → unit quaternion ``(..., 4)`` in **xyzw** order.

    ``q`` and ``-q`` are the same rotation; the sign returned is unspecified.
    """
    return roma.rotmat_to_unitquat(rotmat)


def axis_angle_to_quat(aa: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``(..., 3)`` → unit quaternion ``(..., 4)`` in **xyzw** order."""
    return roma.rotvec_to_unitquat(aa)


def quat_to_axis_angle(quat_xyzw: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(..., 4)`` in **xyzw** order → axis-angle ``(..., 3)``, angle in ``[0, π]``."""
    return roma.unitquat_to_rotvec(roma.quat_normalize(quat_xyzw))


def _check_euler_order(order: str) -> None:
    if not (1 <= len(order) <= 3) or set(order.lower()) - set("xyz"):
        raise ValueError(f"Euler order must be 1-3 letters among x, y, z; got {order!r}")
    if not (order.isupper() or order.islower()):
        raise ValueError(
            f"Euler order must be all upper case (intrinsic) or all lower case (extrinsic); got {order!r}"
        )


def euler_to_rotmat(angles: torch.Tensor, order: str, degrees: bool = False) -> torch.Tensor:
    """Euler angles ``(..., D)`` → rotation matrix ``(..., 3, 3)``; ``D = len(order)``.

    ``angles[..., i]`` is the angle about axis ``order[i]``. The case of
    ``order`` selects the convention (the same as scipy's ``Rotation.from_euler``
    and roma):

    - upper case, **intrinsic** (axes attached to the rotating body):
      ``"ZXY"`` gives ``R = Rz(a0) @ Rx(a1) @ Ry(a2)``. This is what a BVH
      ``CHANNELS ... Zrotation Xrotation Yrotation`` line means (angles in the
      order of the channels) and what ASF/AMC ``order`` fields mean.
    - lower case, **extrinsic** (fixed world axes, applied left to right in
      time): ``"xyz"`` gives ``R = Rz(a2) @ Ry(a1) @ Rx(a0)``.

    Matrices act on column vectors. Angles are radians unless ``degrees``.
    """
    _check_euler_order(order)
    return roma.euler_to_rotmat(order, angles, degrees=degrees)


def rotmat_to_euler(rotmat: torch.Tensor, order: str, degrees: bool = False) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` → Euler angles ``(..., 3)``, inverse of :func:`euler_to_rotmat`.

    ``order`` has 3 letters, consecutive axes different; conventions as in
    :func:`euler_to_rotmat`. At gimbal lock the third angle is set to 0.
    """
    _check_euler_order(order)
    if len(order) != 3:
        raise ValueError(f"rotmat_to_euler needs a 3-axis order; got {order!r}")
    return roma.rotmat_to_euler(order, rotmat, degrees=degrees)
