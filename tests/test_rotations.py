"""Rotation conversions against hand-made cases, a hand-written 6D reference, roma and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import roma
import torch
from scipy.spatial.transform import Rotation

from vibe.geometry import rotations as rot


def _reference_rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """The original formula written out step by step (independent of roma)."""
    m = x.reshape(-1, 3, 2)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = a1 / a1.norm(dim=-1, keepdim=True)
    b2 = a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1
    b2 = b2 / b2.norm(dim=-1, keepdim=True)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def _elementary(axis: str, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    mats = {
        "x": [[1, 0, 0], [0, c, -s], [0, s, c]],
        "y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
        "z": [[c, -s, 0], [s, c, 0], [0, 0, 1]],
    }
    return torch.tensor(mats[axis], dtype=torch.float64)


def _random_rotmat(n: int) -> torch.Tensor:
    return torch.from_numpy(Rotation.random(n, random_state=1).as_matrix())


def test_rot6d_hand_made_example() -> None:
    # Row-major 3x2 [[0, 1], [0, 0], [3, 1]]: a1 = (0, 0, 3), a2 = (1, 0, 1).
    # b1 = (0, 0, 1); a2 - (b1·a2) b1 = (1, 0, 0) = b2; b3 = b1 × b2 = (0, 1, 0).
    x = torch.tensor([0.0, 1.0, 0.0, 0.0, 3.0, 1.0], dtype=torch.float64)
    expected = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(rot.rot6d_to_rotmat(x), expected)


def test_rot6d_matches_reference_formula_and_batches() -> None:
    x = torch.randn(4, 5, 6, dtype=torch.float64)
    out = rot.rot6d_to_rotmat(x)
    assert out.shape == (4, 5, 3, 3)
    torch.testing.assert_close(out.reshape(-1, 3, 3), _reference_rot6d_to_rotmat(x))
    eye = torch.eye(3, dtype=torch.float64).expand(4, 5, 3, 3)
    torch.testing.assert_close(out @ out.transpose(-1, -2), eye)
    torch.testing.assert_close(torch.linalg.det(out), torch.ones(4, 5, dtype=torch.float64))


def test_rot6d_round_trip() -> None:
    rotmat = _random_rotmat(20)
    rot6d = rot.rotmat_to_rot6d(rotmat)
    assert rot6d.shape == (20, 6)
    # Layout: the first two columns, read row-major.
    torch.testing.assert_close(rot6d[:, 0::2], rotmat[:, :, 0])
    torch.testing.assert_close(rot6d[:, 1::2], rotmat[:, :, 1])
    torch.testing.assert_close(rot.rot6d_to_rotmat(rot6d), rotmat)


def test_rot6d_gradcheck() -> None:
    x = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rot.rot6d_to_rotmat, (x,))


def test_axis_angle_against_scipy_and_round_trip() -> None:
    rotvec = torch.randn(50, 3, dtype=torch.float64)
    rotvec = rotvec / rotvec.norm(dim=-1, keepdim=True) * torch.rand(50, 1, dtype=torch.float64) * 3.0
    expected = torch.from_numpy(Rotation.from_rotvec(rotvec.numpy()).as_matrix())
    rotmat = rot.axis_angle_to_rotmat(rotvec)
    torch.testing.assert_close(rotmat, expected)
    torch.testing.assert_close(rot.rotmat_to_axis_angle(rotmat), rotvec)


def test_quaternions_are_xyzw_like_scipy() -> None:
    rotmat = _random_rotmat(30)
    quat_scipy = torch.from_numpy(Rotation.from_matrix(rotmat.numpy()).as_quat())  # xyzw
    quat = rot.rotmat_to_quat(rotmat)
    # q and -q are the same rotation: compare up to sign.
    sign = torch.sign((quat * quat_scipy).sum(dim=-1, keepdim=True))
    torch.testing.assert_close(quat * sign, quat_scipy)
    torch.testing.assert_close(rot.quat_to_rotmat(quat_scipy), rotmat)
    # A 90° turn about z is (0, 0, sin 45°, cos 45°) in xyzw.
    q_z90 = rot.axis_angle_to_quat(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    expected = torch.tensor([0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5)], dtype=torch.float64)
    torch.testing.assert_close(q_z90, expected)


def test_quat_axis_angle_round_trip_and_normalisation() -> None:
    rotvec = torch.from_numpy(Rotation.random(10, random_state=2).as_rotvec())
    quat = rot.axis_angle_to_quat(rotvec)
    torch.testing.assert_close(rot.quat_to_axis_angle(quat), rotvec)
    # Denormalised quaternions still give the same rotation.
    torch.testing.assert_close(rot.quat_to_rotmat(3.0 * quat), rot.axis_angle_to_rotmat(rotvec))
    torch.testing.assert_close(rot.quat_to_axis_angle(0.5 * quat), rotvec)


def test_conversions_agree_with_roma() -> None:
    rotvec = roma.random_rotvec(8, dtype=torch.float64)
    torch.testing.assert_close(rot.axis_angle_to_rotmat(rotvec), roma.rotvec_to_rotmat(rotvec))
    torch.testing.assert_close(rot.axis_angle_to_quat(rotvec), roma.rotvec_to_unitquat(rotvec))


def test_bvh_order_means_product_of_elementary_rotations() -> None:
    # BVH "Zrotation Xrotation Yrotation" with angles (a, b, c): R = Rz(a) @ Rx(b) @ Ry(c).
    a, b, c = 0.3, -1.1, 2.0
    expected = _elementary("z", a) @ _elementary("x", b) @ _elementary("y", c)
    angles = torch.tensor([a, b, c], dtype=torch.float64)
    torch.testing.assert_close(rot.euler_to_rotmat(angles, "ZXY"), expected)
    deg = torch.rad2deg(angles)
    torch.testing.assert_close(rot.euler_to_rotmat(deg, "ZXY", degrees=True), expected)
    # Lower case is extrinsic: "xyz" = Rz(c) @ Ry(b) @ Rx(a).
    expected_ext = _elementary("z", c) @ _elementary("y", b) @ _elementary("x", a)
    torch.testing.assert_close(rot.euler_to_rotmat(angles, "xyz"), expected_ext)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX", "zyx", "xyz", "ZYZ"])
def test_euler_against_scipy(order: str) -> None:
    angles = (torch.rand(16, 3, dtype=torch.float64) - 0.5) * 3.0
    expected = torch.from_numpy(Rotation.from_euler(order, angles.numpy()).as_matrix())
    rotmat = rot.euler_to_rotmat(angles, order)
    torch.testing.assert_close(rotmat, expected)
    # rotmat_to_euler returns angles that give back the same matrix.
    torch.testing.assert_close(rot.euler_to_rotmat(rot.rotmat_to_euler(rotmat, order), order), rotmat)


@pytest.mark.parametrize("order", ["ZxY", "XQZ", "", "XYZX"])
def test_euler_rejects_bad_orders(order: str) -> None:
    with pytest.raises(ValueError):
        rot.euler_to_rotmat(torch.zeros(len(order)), order)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_axis_angle_matches_roma_at_every_angle(dtype) -> None:
    angles = torch.cat([torch.linspace(0.0, math.pi, 400), torch.tensor([0.0, 1e-4, math.pi - 1e-4, math.pi])])
    axes = torch.nn.functional.normalize(torch.randn(len(angles), 3, dtype=torch.float64), dim=-1)
    rotmat = roma.rotvec_to_rotmat(axes * angles[:, None].double()).to(dtype)
    got, expected = rot.rotmat_to_axis_angle_fast(rotmat), roma.rotmat_to_rotvec(rotmat)
    # Near a half turn ±aa are the same rotation: compare the rotations there, the vectors elsewhere.
    torch.testing.assert_close(roma.rotvec_to_rotmat(got), rotmat, atol=2e-5 if dtype == torch.float32 else 1e-9, rtol=0)
    away = angles < 2.8
    torch.testing.assert_close(got[away], expected[away], atol=5e-5 if dtype == torch.float32 else 1e-9, rtol=0)


def test_fast_axis_angle_gradients_match_roma() -> None:
    rotmat = roma.rotvec_to_rotmat(torch.randn(64, 3, dtype=torch.float64).clamp(-1.5, 1.5))
    weights = torch.randn(64, 3, dtype=torch.float64)
    grads = []
    for fn in (rot.rotmat_to_axis_angle_fast, roma.rotmat_to_rotvec):
        x = rotmat.clone().requires_grad_(True)
        (fn(x) * weights).sum().backward()
        grads.append(x.grad)
    # Only the tangent (rotation) part of the gradient is defined alike: project both onto it.
    tangent = [rotmat.transpose(-1, -2) @ g for g in grads]
    skew = [(t - t.transpose(-1, -2)) / 2 for t in tangent]
    torch.testing.assert_close(skew[0], skew[1], atol=1e-8, rtol=0)
    identity = torch.eye(3, dtype=torch.float64).expand(4, 3, 3).clone().requires_grad_(True)
    rot.rotmat_to_axis_angle_fast(identity).sum().backward()
    assert torch.isfinite(identity.grad).all()


def test_chordal_mean_against_scipy_mean() -> None:
    """Two and three rotations: the same mean as scipy's (chordal L2, quaternion eigenvector) and
    the exact geodesic midpoint for two."""
    a, b, c = (torch.as_tensor(Rotation.random(6, random_state=s).as_matrix()) for s in (1, 2, 3))
    for group in ((a, b), (a, b, c)):
        stacked = torch.stack(group)  # (N, 6, 3, 3)
        expected = [Rotation.from_matrix(stacked[:, i].numpy()).mean().as_matrix() for i in range(6)]
        assert torch.allclose(rot.chordal_mean(stacked), torch.as_tensor(np.array(expected)), atol=1e-6)
    mid = rot.chordal_mean(torch.stack([a, b]))
    half = roma.rotmat_geodesic_distance(a, b) / 2
    assert torch.allclose(roma.rotmat_geodesic_distance(a, mid), half, atol=1e-6)
    assert torch.allclose(roma.rotmat_geodesic_distance(mid, b), half, atol=1e-6)
