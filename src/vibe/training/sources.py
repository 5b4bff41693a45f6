"""The batch and motion sources the trainer draws from (:mod:`vibe.training.batches` protocols).

- :class:`MotionDBSource`: real motion windows of a motion DB (D_M, MPoser);
- :class:`SyntheticSource`: synthetic landmark windows of a motion DB (open stack);
- :class:`FrameSetSource`: windows of an original VIBE db file (smpl stack).

2D-only windows that temporal SMPLify refines in the training loop come from
finite sets whose window ``i`` is always the same frames, tagged with ``i`` in
:attr:`~vibe.training.batches.TrainBatch.window_id` (:class:`WindowBank`: fixed
synthetic windows of the open stack, 3D targets withheld;
:class:`FrameSetWindows`: the non-overlapping windows of a db file's 2D set),
so that a window's stored fit can improve each time it comes back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from vibe.data.motion_db import mirror_motion, tip_motion
from vibe.geometry.rotations import axis_angle_to_rotmat
from vibe.losses import GeneratorTargets
from vibe.training.batches import BatchSource, TrainBatch, concat_batches, fixed_batches, two_d_only

__all__ = ["MotionDBSource", "SyntheticSource", "WindowBank", "FrameSetSource", "FrameSetWindows"]


class MotionDBSource:
    """Real motion windows of a :class:`~vibe.data.motion_db.MotionDB` (uniform over window starts)."""

    def __init__(self, motion_db) -> None:
        self.motion_db = motion_db

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> torch.Tensor:
        """Rotations ``(B, T, J, 3, 3)`` of ``batch`` random windows."""
        rotmat, _ = self.motion_db.sample_windows(rng, batch, seqlen)
        return torch.from_numpy(np.ascontiguousarray(rotmat, dtype=np.float32))


class SyntheticSource:
    """Synthetic landmark windows (:class:`~vibe.data.synthetic.SyntheticGenerator`) from a motion DB.

    Args:
        generator: the synthesiser.
        motion_db: where motion windows are drawn.
        use_world: also return the world landmarks (keypoint encoder with ``use_world``).
        mirror_prob: chance of mirroring each motion window
            (:func:`~vibe.data.motion_db.mirror_motion`); 0 draws exactly as before.
        tip_prob: chance of tipping each window over (:func:`~vibe.data.motion_db.tip_motion`)
            by an angle uniform in ``tip_deg``; 0 draws exactly as before.
    """

    def __init__(
        self,
        generator,
        motion_db,
        use_world: bool = False,
        mirror_prob: float = 0.0,
        tip_prob: float = 0.0,
        tip_deg: tuple[float, float] = (60.0, 100.0),
    ) -> None:
        self.generator = generator
        self.motion_db = motion_db
        self.use_world = use_world
        self.mirror_prob = mirror_prob
        self.tip_prob = tip_prob
        self.tip_deg = tuple(tip_deg)

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """``batch`` synthetic windows: landmarks ``(B, T, 33, 3)`` and their targets."""
        if self.mirror_prob > 0 or self.tip_prob > 0:
            rotmat, transl = self.motion_db.sample_windows(rng, batch, seqlen)
            if self.mirror_prob > 0:
                flip = rng.random(batch) < self.mirror_prob
                rotmat[flip], transl[flip] = mirror_motion(rotmat[flip], transl[flip], self.motion_db.joint_names)
            if self.tip_prob > 0:
                tipped = rng.random(batch) < self.tip_prob
                angle = rng.uniform(*self.tip_deg, size=int(tipped.sum()))
                azimuth = rng.uniform(0.0, 360.0, size=angle.size)
                rotmat[tipped], transl[tipped] = tip_motion(rotmat[tipped], transl[tipped], angle, azimuth)
            synth = self.generator.generate(rotmat, transl, rng)
        else:
            synth = self.generator.sample(self.motion_db, rng, batch, seqlen)
        world = synth.keypoints_world if self.use_world else None
        return TrainBatch(inputs=synth.keypoints.float(), targets=synth.to_generator_targets(), keypoints_world=world)


def _check_seqlen(name: str, have: int, asked: int) -> None:
    if have != asked:
        raise ValueError(f"{name} holds windows of {have} frames, {asked} were asked for")


class WindowBank:
    """A finite set of windows held in memory; ``sample`` draws ids uniformly and tags the batch with them.

    Window ``i`` is always row ``i`` of ``windows``, so a window drawn again is
    the same inputs and targets (the open stack's 2D-only set: see
    :meth:`from_source`).

    Args:
        windows: ``N`` windows of ``T`` frames (their ``window_id`` is ignored).
    """

    def __init__(self, windows: TrainBatch) -> None:
        self.windows = replace(windows, window_id=torch.arange(len(windows), dtype=torch.int64))

    def __len__(self) -> int:
        return len(self.windows)

    @classmethod
    def from_source(cls, source: BatchSource, seed: int, windows: int, seqlen: int, chunk: int = 64) -> "WindowBank":
        """``windows`` windows of ``source`` drawn once with ``seed``, 3D and body targets withheld
        (:func:`two_d_only`); the same arguments give the same bank (e.g. after a resume)."""
        drawn = concat_batches(fixed_batches(source, seed, windows, seqlen, chunk))
        return cls(two_d_only(drawn))

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """``batch`` windows drawn uniformly with replacement, ``window_id`` = their rows."""
        _check_seqlen("the window bank", int(self.windows.inputs.shape[1]), seqlen)
        return self.windows.take(rng.integers(0, len(self), size=batch))


class FrameSetSource:
    """A db frame set (:class:`~vibe.data.datasets.vibe_db.FrameSet`) as a :class:`BatchSource`:
    its windows as generator batches (features as inputs, poses as rotation matrices).

    Args:
        frame_set: the per-frame data.
    """

    def __init__(self, frame_set) -> None:
        self.frame_set = frame_set

    def __len__(self) -> int:
        """Frames in the set."""
        return len(self.frame_set.features)

    def batch(self, starts: np.ndarray, seqlen: int) -> TrainBatch:
        """The windows starting at rows ``starts (B,)``: inputs ``(B, T, F)``; targets ``kp_2d (B, T, 49, 3)``,
        and where the set has them ``kp_3d``, ``has_3d``, ``pose_rotmat (B, T, 24, 3, 3)``, ``shape``, ``has_body``."""
        arrays = {k: torch.as_tensor(v) for k, v in self.frame_set.window_arrays(starts, seqlen).items()}
        inputs = arrays.pop("features")
        pose_aa = arrays.pop("pose_aa", None)
        if pose_aa is not None:
            arrays["pose_rotmat"] = axis_angle_to_rotmat(pose_aa.reshape(*pose_aa.shape[:2], -1, 3))
        return TrainBatch(inputs=inputs, targets=GeneratorTargets(**arrays))

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """``batch`` windows drawn uniformly (with replacement) among the set's windows at stride 1."""
        starts = self.frame_set.windows(seqlen, stride=1)
        if starts.size == 0:
            raise ValueError(f"{self.frame_set.name}: no video has {seqlen} frames")
        return self.batch(starts[rng.integers(0, starts.size, size=batch)], seqlen)

    def all_windows(self, seqlen: int, batch: int) -> list[TrainBatch]:
        """Every non-overlapping window (the original's evaluation), in chunks of ``batch``."""
        starts = self.frame_set.windows(seqlen)
        return [self.batch(starts[i : i + batch], seqlen) for i in range(0, starts.size, batch)]


class FrameSetWindows:
    """The non-overlapping windows of a db frame set (:class:`~vibe.data.datasets.vibe_db.FrameSet`),
    tagged with ``id_offset`` + their start row (the smpl stack's 2D-only sets).

    Args:
        frame_set: the per-frame data.
        seqlen: window length (windows start every ``seqlen`` frames inside a video).
        id_offset: added to start rows, so that several sets' ids stay distinct.
    """

    def __init__(self, frame_set, seqlen: int, id_offset: int = 0) -> None:
        self.frame_set = frame_set
        self.source = FrameSetSource(frame_set)
        self.seqlen = seqlen
        self.id_offset = id_offset
        self.starts = frame_set.windows(seqlen)
        if self.starts.size == 0:
            raise ValueError(f"{frame_set.name}: no video has {seqlen} frames")

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """``batch`` windows drawn uniformly with replacement among the non-overlapping ones."""
        _check_seqlen(self.frame_set.name, self.seqlen, seqlen)
        starts = self.starts[rng.integers(0, self.starts.size, size=batch)]
        drawn = self.source.batch(starts, seqlen)
        return replace(drawn, window_id=torch.as_tensor(starts + self.id_offset, dtype=torch.int64))

