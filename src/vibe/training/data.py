"""What the trainer consumes: batches of generator inputs + targets, and windows of real motion.

Two small protocols keep the trainer independent of where data comes from:

- :class:`BatchSource` — ``sample(rng, batch, seqlen) → TrainBatch``: generator
  inputs and :class:`~vibe.losses.GeneratorTargets`. Implementations: synthetic
  windows (:class:`SyntheticSource`, open stack) and the original db files
  (:mod:`vibe.data.datasets.vibe_db`, smpl stack); :class:`MixedSource` draws
  a fixed number of windows from each of several sources (the released 2D/3D mix).
- :class:`MotionSource` — ``sample(rng, batch, seqlen) → (B, T, J, 3, 3)``:
  local rotations of real motion for D_M and MPoser (:class:`MotionDBSource`).

All randomness comes from the ``numpy.random.Generator`` passed in, so the
trainer can save and restore it and a resumed run draws the same windows.

:func:`build_synthetic_data` and :func:`build_vibe_db_data` assemble the
training source, the fixed validation windows and the motion source of a
:class:`~vibe.training.config.TrainConfig`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from vibe.config import from_dict
from vibe.losses import GeneratorTargets

if TYPE_CHECKING:
    from vibe.training.config import TrainConfig

__all__ = [
    "TrainBatch",
    "BatchSource",
    "MotionSource",
    "MotionDBSource",
    "SyntheticSource",
    "MixedSource",
    "concat_batches",
    "fixed_batches",
    "bundled_motion_db",
    "build_synthetic_data",
    "build_vibe_db_data",
]

logger = logging.getLogger(__name__)


@dataclass
class TrainBatch:
    """``B`` windows of ``T`` frames for the generator.

    Attributes:
        inputs: ``(B, T, ...)`` per the feature source: ``(B, T, F)`` features,
            ``(B, T, K, 3)`` landmarks or ``(B, T, 3, H, W)`` crops.
        targets: the ground truth (``None`` fields where the data has none).
        keypoints_world: ``(B, T, K, 3)`` world landmarks (keypoint encoder with ``use_world``), or ``None``.
    """

    inputs: torch.Tensor
    targets: GeneratorTargets
    keypoints_world: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def to(self, device: torch.device | str) -> "TrainBatch":
        """A copy with every tensor on ``device``."""
        move = lambda x: None if x is None else x.to(device, non_blocking=True)  # noqa: E731
        targets = GeneratorTargets(**{f.name: move(getattr(self.targets, f.name)) for f in fields(self.targets)})
        return TrainBatch(move(self.inputs), targets, move(self.keypoints_world))

    def slice(self, start: int, stop: int) -> "TrainBatch":
        """Windows ``start:stop``."""
        cut = lambda x: None if x is None else x[start:stop]  # noqa: E731
        targets = GeneratorTargets(**{f.name: cut(getattr(self.targets, f.name)) for f in fields(self.targets)})
        return TrainBatch(cut(self.inputs), targets, cut(self.keypoints_world))


class BatchSource(Protocol):
    """Anything that draws generator batches."""

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """``batch`` windows of ``seqlen`` frames, all randomness from ``rng``."""
        ...


class MotionSource(Protocol):
    """Anything that draws windows of real motion."""

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> torch.Tensor:
        """Local rotations ``(B, T, J, 3, 3)`` float32, root first, all randomness from ``rng``."""
        ...


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
    """

    def __init__(self, generator, motion_db, use_world: bool = False) -> None:
        self.generator = generator
        self.motion_db = motion_db
        self.use_world = use_world

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """``batch`` synthetic windows: landmarks ``(B, T, 33, 3)`` and their targets."""
        synth = self.generator.sample(self.motion_db, rng, batch, seqlen)
        world = synth.keypoints_world if self.use_world else None
        return TrainBatch(inputs=synth.keypoints.float(), targets=synth.to_generator_targets(), keypoints_world=world)


def _fill(value: torch.Tensor | None, like: torch.Tensor | None, leading: tuple[int, int]) -> torch.Tensor | None:
    """``value``, or zeros shaped like ``like`` but with leading dims ``leading`` when ``value`` is missing."""
    if value is not None:
        return value
    if like is None:
        return None
    return like.new_zeros(leading + tuple(like.shape[2:]))


def concat_batches(batches: Sequence[TrainBatch]) -> TrainBatch:
    """Concatenate batches along windows; a target one batch lacks is zero-filled with its mask False.

    E.g. a 2D-only batch (``kp_3d=None``) next to a 3D batch gets zero 3D
    keypoints and ``has_3d = False``, so the masked losses skip it.
    """
    if len(batches) == 1:
        return batches[0]
    names = [f.name for f in fields(GeneratorTargets)]
    masks = {"kp_3d": "has_3d", "pose_rotmat": "has_body", "shape": "has_body"}
    template = {n: next((getattr(b.targets, n) for b in batches if getattr(b.targets, n) is not None), None) for n in names}
    filled = []
    for b in batches:
        lead = tuple(b.inputs.shape[:2])
        values = {n: _fill(getattr(b.targets, n), template[n], lead) for n in names}
        for data, mask in masks.items():
            if template[data] is not None and getattr(b.targets, data) is None:
                values[mask] = torch.zeros(lead, dtype=torch.bool)
            elif template[data] is not None and values[mask] is None:
                values[mask] = torch.ones(lead, dtype=torch.bool)
        filled.append(replace(b, targets=GeneratorTargets(**values)))
    cat = lambda xs: None if xs[0] is None else torch.cat(xs)  # noqa: E731
    targets = GeneratorTargets(**{n: cat([getattr(b.targets, n) for b in filled]) for n in names})
    worlds = [b.keypoints_world for b in filled]
    world = None if any(w is None for w in worlds) else torch.cat(worlds)
    return TrainBatch(torch.cat([b.inputs for b in filled]), targets, world)


class MixedSource:
    """A fixed share of each batch from each source (released: 60 % 2D-only, 40 % 3D windows).

    Args:
        sources: the sources.
        fractions: their shares of a batch (normalised); the last source takes
            the rounding remainder, as the released code rounds the 3D share up.
    """

    def __init__(self, sources: Sequence[BatchSource], fractions: Sequence[float]) -> None:
        if len(sources) != len(fractions) or not sources:
            raise ValueError("give one fraction per source")
        total = float(sum(fractions))
        self.sources = list(sources)
        self.fractions = [f / total for f in fractions]

    def counts(self, batch: int) -> list[int]:
        """Windows per source for a batch of ``batch``."""
        counts = [int(batch * f) for f in self.fractions[:-1]]
        return counts + [batch - sum(counts)]

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """Concatenation of each source's share (see :func:`concat_batches`)."""
        parts = [s.sample(rng, n, seqlen) for s, n in zip(self.sources, self.counts(batch)) if n > 0]
        return concat_batches(parts)


def fixed_batches(source: BatchSource, seed: int, windows: int, seqlen: int, batch: int) -> list[TrainBatch]:
    """A fixed validation set: ``windows`` windows drawn once with ``seed``, in chunks of ``batch``."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, windows, batch):
        out.append(source.sample(rng, min(batch, windows - start), seqlen))
    return out


# ----------------------------------------------------------------------------- from a config
def bundled_motion_db() -> Path:
    """The motion DB shipped with the package (retargeted CMU mocap for Anny)."""
    return Path(str(resources.files("vibe").joinpath("resources/motion/cmu_anny.npz")))


def build_synthetic_data(config: TrainConfig, body) -> tuple[BatchSource, list[TrainBatch], MotionSource]:
    """Open stack: synthetic windows of the motion DB's training subjects, fixed validation windows of
    the held-out subjects, real motion of the training subjects.

    Args:
        config: the run.
        body: the :class:`~vibe.body.anny.Anny` model the synthetic landmarks are computed with
            (on the CPU: data are made there).
    """
    from vibe.body.sparse_keypoints import SparseKeypoints
    from vibe.data.motion_db import MotionDB
    from vibe.data.synthetic import SyntheticConfig, SyntheticGenerator

    data = config.data
    path = Path(data.motion_db) if data.motion_db else bundled_motion_db()
    motion_db = MotionDB.load(path)
    if not motion_db.body_model.startswith(body.name):
        raise ValueError(f"{path} holds {motion_db.body_model!r} motion, the generator poses {body.name!r}")
    train_db = motion_db.split(data.val_subjects, exclude=True)
    val_db = motion_db.split(data.val_subjects)
    logger.info("motion DB %s: %.0f s training, %.0f s validation", path, train_db.seconds(), val_db.seconds())
    synth = SyntheticGenerator(SparseKeypoints(body), from_dict(SyntheticConfig, data.synthetic))
    use_world = config.model.keypoint_encoder.use_world
    val = fixed_batches(
        SyntheticSource(synth, val_db, use_world), config.seed + 1, config.val_windows, config.seqlen, config.batch_size
    )
    return SyntheticSource(synth, train_db, use_world), val, MotionDBSource(train_db)


def _frame_set(path: Path):
    """The db reader for a file, chosen by the original's file names."""
    from vibe.data.datasets import vibe_db

    name = path.name.lower()
    for key, loader in (("insta", vibe_db.load_insta), ("mpii3d", vibe_db.load_mpii3d), ("3dpw", vibe_db.load_threedpw)):
        if key in name:
            return loader(path)
    raise ValueError(f"{path}: cannot tell the dataset from the name (expected insta, mpii3d or 3dpw)")


def _mix_by_size(sets: list) -> BatchSource:
    """Several frame sets as one source, each drawn in proportion to its frame count."""
    if len(sets) == 1:
        return sets[0]
    return MixedSource(sets, [len(s.features) for s in sets])


def build_vibe_db_data(config: TrainConfig) -> tuple[BatchSource, list[TrainBatch], MotionSource]:
    """Smpl stack: the original db files (2D share ``ratio_2d`` of each batch), every non-overlapping
    validation window of the validation set (``val_windows`` is not used), AMASS motion."""
    from vibe import assets
    from vibe.data.datasets.vibe_db import AmassMotion, load_threedpw

    db = config.data.vibe_db
    root = Path(db.db_dir).expanduser() if db.db_dir else assets.datasets_dir() / "vibe_db"
    resolve = lambda p: Path(p).expanduser() if Path(p).is_absolute() else root / p  # noqa: E731
    needed = [resolve(p) for p in (*db.train_2d, *db.train_3d, db.val, db.motion)]
    assets.require(needed, "Training on the original VIBE db files")
    parts, shares = [], []
    if db.train_2d:
        parts.append(_mix_by_size([_frame_set(resolve(p)) for p in db.train_2d]))
        shares.append(db.ratio_2d)
    if db.train_3d:
        parts.append(_mix_by_size([_frame_set(resolve(p)) for p in db.train_3d]))
        shares.append(1.0 - db.ratio_2d if db.train_2d else 1.0)
    if not parts:
        raise ValueError("data.vibe_db needs train_2d or train_3d files")
    train = parts[0] if len(parts) == 1 else MixedSource(parts, shares)
    val = load_threedpw(resolve(db.val)).all_windows(config.seqlen, config.batch_size)
    return train, val, AmassMotion(resolve(db.motion))
