"""Change the frame rate of a `Motion`: slerp for rotations, lerp for translation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import roma
import torch

from vibe.data.mocap.skeleton import Motion


def resample_times(num_frames: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Fractional source-frame indices of the output frames.

    Output frame ``k`` is at ``k / fps_out`` seconds, covering the clip's
    duration ``(T - 1) / fps_in``; index ``k · fps_in / fps_out`` (any ratio).

    Returns:
        ``(K,)`` float64 indices in ``[0, T - 1]``.
    """
    ratio = fps_in / fps_out
    # The tolerance keeps the last frame when the duration is a whole number of output frames.
    num_out = int(np.floor((num_frames - 1) / ratio + 1e-9)) + 1
    return np.minimum(np.arange(num_out) * ratio, num_frames - 1)


def resample(motion: Motion, fps: float = 30.0) -> Motion:
    """Resample a motion to ``fps``.

    Rotations follow the geodesic (slerp) between the two nearest frames,
    ``R0 @ exp(w · log(R0ᵀ R1))``; translation is linear. Output frames that
    fall on input frames copy them exactly (e.g. 120 → 30 keeps every 4th).

    Args:
        motion: ``(T, J)`` input.
        fps: target frame rate.

    Returns:
        ``(K, J)`` motion with ``K = floor((T - 1) · fps / motion.fps) + 1``.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    times = resample_times(motion.num_frames, motion.fps, fps)
    lo = np.floor(times).astype(np.int64)
    hi = np.minimum(lo + 1, motion.num_frames - 1)
    w = times - lo

    r0 = torch.from_numpy(motion.local_rotmat[lo])
    r1 = torch.from_numpy(motion.local_rotmat[hi])
    delta = roma.rotmat_to_rotvec(r0.transpose(-1, -2) @ r1)
    step = roma.rotvec_to_rotmat(delta * torch.from_numpy(w)[:, None, None])
    local = (r0 @ step).numpy()
    transl = (1.0 - w)[:, None] * motion.root_transl[lo] + w[:, None] * motion.root_transl[hi]

    exact = w == 0.0  # copy instead of multiplying by a near-identity matrix
    local[exact] = motion.local_rotmat[lo[exact]]
    transl[exact] = motion.root_transl[lo[exact]]
    meta = {**motion.meta, "source_fps": motion.meta.get("source_fps", motion.fps)}
    return replace(motion, local_rotmat=local, root_transl=transl, fps=float(fps), meta=meta)
