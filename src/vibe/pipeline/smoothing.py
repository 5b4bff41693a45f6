"""One-Euro filter (Casiez et al., CHI 2012) for vectors and for joint rotations.

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

__all__ = ["OneEuroConfig", "one_euro_vectors", "one_euro_rotations"]


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
