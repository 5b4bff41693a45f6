"""Smoothing of vectors and joint rotations over time: causal One-Euro and centred Gaussian.

Centred Gaussian (:func:`gaussian_vectors`, :func:`gaussian_rotations`), for
offline use: every output frame is the Gaussian-weighted mean of the frames
within ``3σ`` on both sides (weights renormalised where the track starts or
ends, or a gap in its frame ids cuts it), so smoothing adds no lag inside a
run. Near a run's ends that mean is one-sided and trails a steady motion
(a person walking out of the picture); with ``linear_edges`` each frame is
instead the value at its centre of a Gaussian-weighted straight-line fit to
its neighbours (local linear regression), which follows a steady motion to
the last frame and equals the plain mean wherever the neighbours are
symmetric (the equivalent weights sum to 1 and may be negative). Rotations
are averaged as unit quaternions, each flipped to the hemisphere of the
centre frame's before the weighted sum, then normalised: the chordal mean,
which stays a rotation and keeps every bone rigid.

One-Euro filter (Casiez et al., CHI 2012), causal, for live use and the
original demo's ``--smooth``:

The filter is an exponential smoother whose cutoff frequency rises with the
signal's (smoothed) speed: ``cutoff = min_cutoff + beta·|ẋ|``, and
``α = r/(r + 1)`` with ``r = 2π·cutoff·Δt``. Slow motion is smoothed hard
(little jitter), fast motion lightly (little lag).

Units. The original demo feeds the *frame index* as time, so its defaults
(``min_cutoff = 0.004``, ``beta = 0.7``, derivative cutoff 1) are in cycles
per frame and radians per frame; they are kept here with time in frames, so
the filter behaves the same at any frame rate as in the original.

Rotations. The original filters the 72-D axis-angle pose coordinate-wise,
which misbehaves where axis-angle wraps (near π) and does not keep the
result a rotation consistently. Here each joint's rotation is filtered on
SO(3): the "difference" between the previous estimate ``R̂`` and the new
measurement ``R`` is the rotation vector ``ω = log(R̂ᵀ R)`` (``roma``); the
speed is ``|ω|/Δt`` (rad per frame); the estimate moves by the fraction
``α`` of that rotation, ``R̂ ← R̂·exp(α ω)`` — the geodesic form of
``x̂ ← x̂ + α (x − x̂)``. The angular velocity ``ω/Δt`` is smoothed as a
vector (expressed in the previous estimate's frame, which moves little per
step) and the cutoff is per joint from its norm: the rotation-invariant
analogue of the original's per-coordinate cutoff. About a fixed axis this is
exactly the scalar filter on the angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import roma
import torch

__all__ = ["OneEuroConfig", "gaussian_rotations", "gaussian_vectors", "one_euro_vectors", "one_euro_rotations"]


@dataclass(frozen=True)
class OneEuroConfig:
    """One-Euro parameters, time in frames (the original's defaults).

    Attributes:
        min_cutoff: cutoff at rest, cycles per frame.
        beta: how fast the cutoff grows with speed (per unit of speed per frame).
        d_cutoff: cutoff of the speed estimate, cycles per frame.
    """

    min_cutoff: float = 0.004
    beta: float = 0.7
    d_cutoff: float = 1.0


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    r = 2.0 * math.pi * np.asarray(cutoff) * dt
    return r / (r + 1.0)


def _time_steps(num_frames: int, times: np.ndarray | None) -> np.ndarray:
    """``(T,)`` time of each sample (frames); default ``0, 1, 2, ...``."""
    if times is None:
        return np.arange(num_frames, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    if times.shape[0] != num_frames or np.any(np.diff(times) <= 0):
        raise ValueError("times must be increasing, one per sample")
    return times


def one_euro_vectors(x: np.ndarray, config: OneEuroConfig | None = None, times: np.ndarray | None = None) -> np.ndarray:
    """Filter a signal ``(T, D)`` coordinate-wise (the original's filter); returns ``(T, D)`` float64.

    Args:
        x: ``(T, D)`` samples.
        config: filter parameters.
        times: ``(T,)`` increasing sample times in frames (default ``0..T-1``).
    """
    config = config or OneEuroConfig()
    x = np.asarray(x, dtype=np.float64)
    t = _time_steps(x.shape[0], times)
    out = np.empty_like(x)
    if x.shape[0] == 0:
        return out
    out[0] = x[0]
    speed = np.zeros_like(x[0])
    for k in range(1, x.shape[0]):
        dt = t[k] - t[k - 1]
        raw_speed = (x[k] - out[k - 1]) / dt
        speed = speed + _alpha(config.d_cutoff, dt) * (raw_speed - speed)
        a = _alpha(config.min_cutoff + config.beta * np.abs(speed), dt)
        out[k] = out[k - 1] + a * (x[k] - out[k - 1])
    return out


def one_euro_rotations(
    rotmat: torch.Tensor | np.ndarray, config: OneEuroConfig | None = None, times: np.ndarray | None = None
) -> torch.Tensor:
    """Filter per-joint rotations ``(T, J, 3, 3)`` on SO(3) (see module doc); returns ``(T, J, 3, 3)``.

    Args:
        rotmat: ``(T, J, 3, 3)`` rotation matrices of one person over time.
        config: filter parameters (time in frames).
        times: ``(T,)`` increasing sample times in frames (default ``0..T-1``).

    Returns:
        Filtered rotations, float tensor of ``rotmat``'s dtype (torch).
    """
    config = config or OneEuroConfig()
    rotmat = torch.as_tensor(rotmat)
    dtype = rotmat.dtype if rotmat.is_floating_point() else torch.float64
    r = rotmat.detach().cpu().double()
    t = _time_steps(r.shape[0], times)
    out = torch.empty_like(r)
    if r.shape[0] == 0:
        return out.to(dtype)
    out[0] = r[0]
    velocity = torch.zeros(r.shape[1], 3, dtype=torch.float64)  # (J, 3) rad per frame
    for k in range(1, r.shape[0]):
        dt = float(t[k] - t[k - 1])
        omega = roma.rotmat_to_rotvec(out[k - 1].transpose(-1, -2) @ r[k])  # (J, 3)
        velocity = velocity + float(_alpha(config.d_cutoff, dt)) * (omega / dt - velocity)
        speed = velocity.norm(dim=-1)
        a = torch.as_tensor(_alpha(config.min_cutoff + config.beta * speed.numpy(), dt))
        out[k] = out[k - 1] @ roma.rotvec_to_rotmat(a[:, None] * omega)
    return out.to(dtype)


def _gaussian_taps(frame_ids: np.ndarray, sigma: float, linear_edges: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``(D,)`` within ``3σ`` and normalised weights ``(T, D)`` of each sample's neighbours.

    A neighbour outside the track or across a gap in ``frame_ids`` weighs 0;
    each row sums to 1 (the sample itself always counts). ``linear_edges``:
    local linear regression's equivalent weights (module docstring).
    """
    frame_ids = np.asarray(frame_ids, dtype=np.int64)
    num = len(frame_ids)
    run = np.concatenate([[0], np.cumsum(np.diff(frame_ids) != 1)])  # run index of each sample
    reach = int(np.floor(3 * sigma))
    offsets = np.arange(-reach, reach + 1)
    index = np.arange(num)[:, None] + offsets[None, :]  # (T, D)
    inside = (index >= 0) & (index < num)
    index = np.clip(index, 0, num - 1)
    same_run = inside & (run[index] == run[:, None]) & (frame_ids[index] - frame_ids[:, None] == offsets[None, :])
    weights = np.where(same_run, np.exp(-0.5 * (offsets / sigma) ** 2)[None, :], 0.0)
    if linear_edges:
        return offsets, _local_linear(weights, offsets.astype(np.float64))
    return offsets, weights / weights.sum(1, keepdims=True)


def _local_linear(weights: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Equivalent weights ``(T, D)`` of a weighted line fit ``a + b·d`` evaluated at ``d = 0``.

    ``a = Σ w (S2 − S1 d) x / (S0 S2 − S1²)`` with ``Sk = Σ w dᵏ``; a row whose
    neighbours cannot fix a line (a lone sample) keeps the plain normalised weights.
    """
    s0, s1, s2 = ((weights * offsets**k).sum(1, keepdims=True) for k in (0, 1, 2))
    det = s0 * s2 - s1 * s1
    ok = det > 1e-9 * np.maximum(s0 * s2, 1e-300)
    linear = weights * (s2 - s1 * offsets[None, :]) / np.where(ok, det, 1.0)
    return np.where(ok, linear, weights / s0)


def _neighbours(num: int, offsets: np.ndarray) -> np.ndarray:
    """``(T, D)`` clipped sample index of each offset."""
    return np.clip(np.arange(num)[:, None] + offsets[None, :], 0, num - 1)


def gaussian_vectors(
    x: np.ndarray, sigma: float, frame_ids: np.ndarray | None = None, linear_edges: bool = False
) -> np.ndarray:
    """Centred Gaussian smoothing of ``(T, ...)`` samples along time; returns float64 of the same shape.

    Args:
        x: ``(T, ...)`` samples.
        sigma: standard deviation in frames (``< 1/3``: unchanged).
        frame_ids: ``(T,)`` increasing frame indices; a jump cuts the smoothing (default ``0..T-1``).
        linear_edges: local linear weights, no trailing near run ends (module docstring).
    """
    x = np.asarray(x, dtype=np.float64)
    if sigma * 3 < 1 or x.shape[0] < 2:
        return x.copy()
    ids = np.arange(x.shape[0]) if frame_ids is None else frame_ids
    offsets, weights = _gaussian_taps(ids, sigma, linear_edges)
    index = _neighbours(x.shape[0], offsets)
    return np.einsum("td,td...->t...", weights, x[index])


def gaussian_rotations(
    rotmat: torch.Tensor | np.ndarray, sigma: float, frame_ids: np.ndarray | None = None, linear_edges: bool = False
) -> torch.Tensor:
    """Centred Gaussian smoothing of rotations ``(T, J, 3, 3)`` (chordal quaternion mean, module doc).

    Args:
        rotmat: ``(T, J, 3, 3)`` rotation matrices of one person over time.
        sigma: standard deviation in frames (``< 1/3``: unchanged).
        frame_ids: ``(T,)`` increasing frame indices; a jump cuts the smoothing.
        linear_edges: local linear weights on the aligned quaternions (no trailing near run ends).

    Returns:
        ``(T, J, 3, 3)`` rotations, float tensor of ``rotmat``'s dtype.
    """
    rotmat = torch.as_tensor(rotmat)
    dtype = rotmat.dtype if rotmat.is_floating_point() else torch.float64
    if sigma * 3 < 1 or rotmat.shape[0] < 2:
        return rotmat.clone().to(dtype)
    ids = np.arange(rotmat.shape[0]) if frame_ids is None else frame_ids
    offsets, weights = _gaussian_taps(ids, sigma, linear_edges)
    quat = roma.rotmat_to_unitquat(rotmat.detach().cpu().double())  # (T, J, 4)
    near = quat[torch.from_numpy(_neighbours(len(quat), offsets))]  # (T, D, J, 4)
    sign = torch.sign((near * quat[:, None]).sum(-1, keepdim=True))  # same hemisphere as the centre
    sign[sign == 0] = 1.0
    mean = torch.einsum("td,tdjq->tjq", torch.from_numpy(weights), near * sign)
    return roma.unitquat_to_rotmat(mean / mean.norm(dim=-1, keepdim=True)).to(dtype)
