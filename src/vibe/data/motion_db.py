"""The motion database: retargeted mocap clips of one body model in one ``.npz``.

File format (``format_version`` 1, written with ``np.savez_compressed``; all
clips concatenated along frames, ``N`` frames, ``C`` clips, ``J`` joints):

=================  ==============  ===============================================
key                shape, dtype    meaning
=================  ==============  ===============================================
format_version     () int32        1
body_model         () str          e.g. ``"anny/cmu_mb"``
joint_names        (J,) str        the body model's joint order, root first
quat_xyzw          (N, J, 4) f16   local joint rotations in the body model's
                                   convention (identity = rest pose), xyzw
root_transl        (N, 3) f32      the body model's ``transl`` argument, metres,
                                   body-model world (y up, floor at y = 0 for
                                   the clip's ``shape``)
clip_start         (C,) int64      first frame of each clip in ``N``
clip_length        (C,) int64      frames of each clip
clip_name          (C,) str        e.g. ``"02_01"``
subject            (C,) str        e.g. ``"02"``
description        (C,) str        free text
source             (C,) str        ``"cmu-asf-amc"``, ``"bvh"``, ``"amass"``
licence            (C,) str        e.g. ``"CMU mocap: free to use, not to resell"``
fps                (C,) float32    frames per second (30 after resampling)
shape              (C, S) f32      body shape the clip was retargeted to
=================  ==============  ===============================================

Quaternions are stored with ``w >= 0`` and re-normalised on load (float16
keeps ~3 decimal digits: about 0.05° per rotation).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from vibe.body.mirror import mirror_rotations
from vibe.geometry.rotations import axis_angle_to_rotmat, quat_to_rotmat, rotmat_to_quat

log = logging.getLogger(__name__)

__all__ = ["FORMAT_VERSION", "VALIDATION_SUBJECTS", "MotionDB", "mirror_motion", "mirror_rotations", "tip_motion"]

FORMAT_VERSION = 1
# CMU subjects held out for validation (walk, run, jump, punch, swordplay,
# washing, cartwheels, dance); every other subject trains.
VALIDATION_SUBJECTS: tuple[str, ...] = ("02", "49")

_CLIP_STR_KEYS = ("clip_name", "subject", "description", "source", "licence")


def mirror_motion(
    rotmat: np.ndarray, root_transl: np.ndarray, joint_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The motion seen in a mirror across the world's x = 0 plane.

    Left and right joints swap, every local rotation ``R`` becomes ``M R M``
    with ``M = diag(−1, 1, 1)`` and the translation's x changes sign. Exact for
    a skeleton whose rest pose is symmetric about x = 0 with world-aligned rest
    axes (Anny ``cmu_mb``: bone heads mirror to within 1.5 mm).

    Args:
        rotmat: ``(..., J, 3, 3)`` local rotations; root_transl: ``(..., 3)``.
        joint_names: the ``J`` joint names (``Left…``/``Right…``, ``L…``/``R…``).

    Returns:
        Mirrored ``(..., J, 3, 3)`` and ``(..., 3)``, float32.
    """
    transl = np.asarray(root_transl, np.float32) * np.array([-1.0, 1.0, 1.0], np.float32)
    return mirror_rotations(rotmat, joint_names), transl


def tip_motion(
    rotmat: np.ndarray, root_transl: np.ndarray, angle_deg: np.ndarray, azimuth_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Windows tipped over as a whole: the body turned about a horizontal axis (world y up).

    Standing motion tipped by 60–100° looks, from a camera, like motion on the
    floor (lying, crawling, reaching while reclined), which mocap of upright
    people has little of. Only the root turns; the trajectory turns about each
    window's first root position, so speeds and the local pose are unchanged.

    Args:
        rotmat: ``(B, T, J, 3, 3)`` local rotations (root first).
        root_transl: ``(B, T, 3)`` the body model's ``transl``.
        angle_deg: ``(B,)`` tip angles; azimuth_deg: ``(B,)`` direction of the
            horizontal axis, about world y.

    Returns:
        Tipped ``(B, T, J, 3, 3)`` and ``(B, T, 3)``, float32.
    """
    azimuth = np.deg2rad(np.asarray(azimuth_deg, np.float64))
    axis = np.stack([np.cos(azimuth), np.zeros_like(azimuth), np.sin(azimuth)], axis=-1)  # (B, 3)
    tip = torch.from_numpy(axis * np.deg2rad(np.asarray(angle_deg, np.float64))[:, None])
    turn = axis_angle_to_rotmat(tip).numpy().astype(np.float32)  # (B, 3, 3)
    rotmat = np.array(rotmat, np.float32, copy=True)
    rotmat[:, :, 0] = turn[:, None] @ rotmat[:, :, 0]
    transl = np.asarray(root_transl, np.float32)
    start = transl[:, :1]
    transl = start + np.einsum("bij,btj->bti", turn, transl - start)
    return rotmat, transl.astype(np.float32)


def quat_xyzw_to_rotmat(quat_xyzw: np.ndarray) -> np.ndarray:
    """``(..., 4)`` xyzw quaternions (any norm > 0) → ``(..., 3, 3)`` float32 rotation matrices."""
    return quat_to_rotmat(torch.as_tensor(np.asarray(quat_xyzw, dtype=np.float32))).numpy()


def rotmat_to_quat_xyzw(rotmat: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation matrices → ``(..., 4)`` float32 xyzw unit quaternions with ``w >= 0``."""
    q = rotmat_to_quat(torch.as_tensor(np.asarray(rotmat, dtype=np.float64))).numpy()
    q = np.where(q[..., 3:] < 0, -q, q)
    return q.astype(np.float32)


@dataclass
class MotionDB:
    """Clips of one body model's motion (fields as in the module docstring).

    ``quat_xyzw`` is float32 and unit-norm in memory; it is float16 on disk.
    """

    body_model: str
    joint_names: list[str]
    quat_xyzw: np.ndarray
    root_transl: np.ndarray
    clip_start: np.ndarray
    clip_length: np.ndarray
    clip_name: np.ndarray
    subject: np.ndarray
    description: np.ndarray
    source: np.ndarray
    licence: np.ndarray
    fps: np.ndarray
    shape: np.ndarray

    def __post_init__(self) -> None:
        self.joint_names = [str(n) for n in self.joint_names]
        q = np.asarray(self.quat_xyzw, dtype=np.float32)
        self.quat_xyzw = q / np.linalg.norm(q, axis=-1, keepdims=True)
        self.root_transl = np.asarray(self.root_transl, dtype=np.float32)
        self.clip_start = np.asarray(self.clip_start, dtype=np.int64)
        self.clip_length = np.asarray(self.clip_length, dtype=np.int64)
        for key in _CLIP_STR_KEYS:
            setattr(self, key, np.asarray(getattr(self, key), dtype=str))
        self.fps = np.asarray(self.fps, dtype=np.float32)
        self.shape = np.asarray(self.shape, dtype=np.float32)
        num, clips = self.quat_xyzw.shape[0], self.clip_start.shape[0]
        if self.quat_xyzw.shape[1:] != (len(self.joint_names), 4) or self.root_transl.shape != (num, 3):
            raise ValueError(f"quat_xyzw {self.quat_xyzw.shape} / root_transl {self.root_transl.shape} mismatch")
        for key in ("clip_length", *_CLIP_STR_KEYS, "fps"):
            if getattr(self, key).shape != (clips,):
                raise ValueError(f"{key} has shape {getattr(self, key).shape}, expected ({clips},)")
        if self.shape.ndim != 2 or self.shape.shape[0] != clips:
            raise ValueError(f"shape has shape {self.shape.shape}, expected ({clips}, S)")
        ends = self.clip_start + self.clip_length
        if np.any(self.clip_length <= 0) or np.any(self.clip_start < 0) or np.any(ends > num):
            raise ValueError("clip ranges must be non-empty and inside the frames")

    # --- construction and files -------------------------------------------------
    @classmethod
    def from_clips(
        cls,
        body_model: str,
        joint_names: Sequence[str],
        rotmats: Sequence[np.ndarray],
        root_transls: Sequence[np.ndarray],
        clip_name: Sequence[str],
        subject: Sequence[str],
        description: Sequence[str],
        source: Sequence[str],
        licence: Sequence[str],
        fps: Sequence[float],
        shape: Sequence[np.ndarray],
    ) -> MotionDB:
        """Concatenate clips.

        Args:
            body_model, joint_names: as in the file.
            rotmats: per clip ``(T_c, J, 3, 3)`` local rotation matrices.
            root_transls: per clip ``(T_c, 3)`` translations, metres.
            clip_name, subject, description, source, licence, fps: one per clip.
            shape: per clip ``(S,)`` body shape.
        """
        lengths = np.array([len(r) for r in rotmats], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls(
            body_model=body_model,
            joint_names=list(joint_names),
            quat_xyzw=rotmat_to_quat_xyzw(np.concatenate(rotmats)),
            root_transl=np.concatenate(root_transls),
            clip_start=starts,
            clip_length=lengths,
            clip_name=list(clip_name),
            subject=list(subject),
            description=list(description),
            source=list(source),
            licence=list(licence),
            fps=list(fps),
            shape=np.stack([np.asarray(s, dtype=np.float32) for s in shape]),
        )

    @classmethod
    def load(cls, path: Path | str) -> MotionDB:
        """Read a database file (no pickles)."""
        with np.load(Path(path), allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != FORMAT_VERSION:
                raise ValueError(f"{path}: motion DB format {version}, this code reads {FORMAT_VERSION}")
            fields = {k: data[k] for k in ("quat_xyzw", "root_transl", "clip_start", "clip_length",
                                          *_CLIP_STR_KEYS, "fps", "shape")}  # fmt: skip
            return cls(body_model=str(data["body_model"]), joint_names=list(data["joint_names"]), **fields)

    def save(self, path: Path | str) -> None:
        """Write the database (float16 quaternions, compressed; temp name, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        q = np.where(self.quat_xyzw[..., 3:] < 0, -self.quat_xyzw, self.quat_xyzw)
        np.savez_compressed(
            tmp,
            format_version=np.int32(FORMAT_VERSION),
            body_model=np.array(self.body_model),
            joint_names=np.array(self.joint_names, dtype=str),
            quat_xyzw=q.astype(np.float16),
            root_transl=self.root_transl.astype(np.float32),
            clip_start=self.clip_start,
            clip_length=self.clip_length,
            **{k: getattr(self, k) for k in _CLIP_STR_KEYS},
            fps=self.fps,
            shape=self.shape,
        )
        os.replace(tmp, path)
        log.info("wrote motion DB %s: %d clips, %d frames", path, self.num_clips, self.num_frames)

    # --- description -------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        """``N``: frames over all clips."""
        return int(self.quat_xyzw.shape[0])

    @property
    def num_clips(self) -> int:
        """``C``: number of clips."""
        return int(self.clip_start.shape[0])

    @property
    def num_joints(self) -> int:
        """``J``: joints per frame."""
        return len(self.joint_names)

    def seconds(self) -> float:
        """Total duration, ``Σ clip_length / fps``."""
        return float(np.sum(self.clip_length / self.fps))

    # --- access -------------------------------------------------------------------
    def rotmat(self, frames: np.ndarray | slice | None = None) -> np.ndarray:
        """``(..., J, 3, 3)`` float32 local rotations of ``frames`` (default: all ``N``)."""
        return quat_xyzw_to_rotmat(self.quat_xyzw if frames is None else self.quat_xyzw[frames])

    def clip(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Clip ``index``: rotations ``(T_c, J, 3, 3)`` float32 and root_transl ``(T_c, 3)``."""
        frames = slice(int(self.clip_start[index]), int(self.clip_start[index] + self.clip_length[index]))
        return self.rotmat(frames), self.root_transl[frames]

    def select(self, clips: Iterable[int]) -> MotionDB:
        """A database of the given clips only (frames copied, re-indexed)."""
        clips = np.asarray(list(clips), dtype=np.int64)
        frames = [np.arange(s, s + n) for s, n in zip(self.clip_start[clips], self.clip_length[clips])]
        frames = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int64)
        lengths = self.clip_length[clips]
        return replace(
            self,
            quat_xyzw=self.quat_xyzw[frames],
            root_transl=self.root_transl[frames],
            clip_start=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)[: len(clips)],
            clip_length=lengths,
            **{k: getattr(self, k)[clips] for k in (*_CLIP_STR_KEYS, "fps", "shape")},
        )

    def split(self, subjects: Iterable[str], exclude: bool = False) -> MotionDB:
        """The clips of ``subjects`` (``exclude=True``: of every other subject).

        ``db.split(VALIDATION_SUBJECTS)`` is the validation set and
        ``db.split(VALIDATION_SUBJECTS, exclude=True)`` the training set.
        """
        chosen = np.isin(self.subject, np.asarray(list(subjects), dtype=str))
        return self.select(np.flatnonzero(chosen != exclude))

    # --- windows -----------------------------------------------------------------
    def windows(self, seqlen: int = 16, stride: int | None = None) -> np.ndarray:
        """Every window of ``seqlen`` frames inside one clip, ``stride`` apart (default ``seqlen``).

        Returns:
            ``(W, 2)`` int64 rows ``(clip index, start frame within the clip)``,
            clip by clip; clips shorter than ``seqlen`` give none.
        """
        stride = seqlen if stride is None else stride
        if seqlen < 1 or stride < 1:
            raise ValueError("seqlen and stride must be positive")
        rows = [
            np.stack([np.full_like(starts, c), starts], -1)
            for c, n in enumerate(self.clip_length)
            if (starts := np.arange(0, int(n) - seqlen + 1, stride, dtype=np.int64)).size
        ]
        return np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)

    def sample_window_starts(self, rng: np.random.Generator, batch: int, seqlen: int) -> np.ndarray:
        """Draw ``batch`` windows uniformly over every possible window start.

        Returns:
            ``(B, 2)`` int64 rows ``(clip index, start frame within the clip)``.
        """
        count = np.maximum(self.clip_length - seqlen + 1, 0)
        if count.sum() == 0:
            raise ValueError(f"no clip has {seqlen} frames")
        flat = rng.integers(0, int(count.sum()), size=batch)
        clip = np.searchsorted(np.cumsum(count), flat, side="right")
        start = flat - (np.cumsum(count) - count)[clip]
        return np.stack([clip, start], -1).astype(np.int64)

    def get_windows(self, starts: np.ndarray, seqlen: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames of windows.

        Args:
            starts: ``(B, 2)`` rows ``(clip index, start frame within the clip)``.
            seqlen: ``T`` frames per window.

        Returns:
            rotations ``(B, T, J, 3, 3)`` float32 and root_transl ``(B, T, 3)`` float32.
        """
        starts = np.asarray(starts, dtype=np.int64).reshape(-1, 2)
        if np.any(starts[:, 1] + seqlen > self.clip_length[starts[:, 0]]) or np.any(starts[:, 1] < 0):
            raise ValueError("a window leaves its clip")
        frames = (self.clip_start[starts[:, 0]] + starts[:, 1])[:, None] + np.arange(seqlen)
        return self.rotmat(frames), self.root_transl[frames]

    def sample_windows(self, rng: np.random.Generator, batch: int, seqlen: int) -> tuple[np.ndarray, np.ndarray]:
        """Random windows: rotations ``(B, T, J, 3, 3)`` float32 and root_transl ``(B, T, 3)``.

        The same ``rng`` state gives the same windows. Use
        `sample_window_starts` + `get_windows` to know which clips were drawn
        (e.g. for ``shape[clip]``).
        """
        return self.get_windows(self.sample_window_starts(rng, batch, seqlen), seqlen)
