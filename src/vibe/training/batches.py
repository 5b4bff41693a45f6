"""The trainer's data contract: :class:`TrainBatch`, the two source protocols, and combining batches.

- :class:`BatchSource` — ``sample(rng, batch, seqlen) → TrainBatch``: generator
  inputs and :class:`~vibe.losses.GeneratorTargets`;
- :class:`MotionSource` — ``sample(rng, batch, seqlen) → (B, T, J, 3, 3)``:
  local rotations of real motion for D_M and MPoser.

:func:`concat_batches` joins batches whose targets differ (missing ones are
masked), :class:`MixedSource` draws a fixed share of each batch from each of
several sources, :func:`fixed_batches` draws a validation set once.
All randomness comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Protocol

import numpy as np
import torch

from vibe.losses import GeneratorTargets

__all__ = ["TrainBatch", "BatchSource", "MotionSource", "concat_batches", "MixedSource", "two_d_only",
           "fixed_batches"]


@dataclass
class TrainBatch:
    """``B`` windows of ``T`` frames for the generator.

    Attributes:
        inputs: ``(B, T, ...)`` per the feature source: ``(B, T, F)`` features,
            ``(B, T, K, 3)`` landmarks or ``(B, T, 3, H, W)`` crops.
        targets: the ground truth (``None`` fields where the data has none).
        keypoints_world: ``(B, T, K, 3)`` world landmarks (keypoint encoder with ``use_world``), or ``None``.
        window_id: ``(B,)`` int64 stable id of each window inside its finite
            2D-only set (the key of its stored in-loop fit), ``-1`` for windows
            without one; ``None`` = all ``-1``.
    """

    inputs: torch.Tensor
    targets: GeneratorTargets
    keypoints_world: torch.Tensor | None = None
    window_id: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def ids(self) -> torch.Tensor:
        """``(B,)`` int64 window ids (``-1`` where there is none), on the CPU."""
        if self.window_id is None:
            return torch.full((len(self),), -1, dtype=torch.int64)
        return self.window_id.cpu()

    def _map(self, fn) -> "TrainBatch":
        """A copy with ``fn`` applied to every tensor (``None`` stays ``None``)."""
        apply = lambda x: None if x is None else fn(x)  # noqa: E731
        targets = GeneratorTargets(**{f.name: apply(getattr(self.targets, f.name)) for f in fields(self.targets)})
        return TrainBatch(apply(self.inputs), targets, apply(self.keypoints_world), apply(self.window_id))

    def to(self, device: torch.device | str) -> "TrainBatch":
        """A copy with every tensor on ``device``."""
        return self._map(lambda x: x.to(device, non_blocking=True))

    def slice(self, start: int, stop: int) -> "TrainBatch":
        """Windows ``start:stop``."""
        return self._map(lambda x: x[start:stop])

    def take(self, rows: torch.Tensor | np.ndarray) -> "TrainBatch":
        """Windows ``rows`` (``(B',)`` indices, repeats allowed)."""
        index = torch.as_tensor(np.asarray(rows), dtype=torch.int64)
        return self._map(lambda x: x[index])


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
    keypoints and ``has_3d = False``, so the masked losses skip it. Window ids
    are ``-1`` for batches without them.
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
    ids = None if all(b.window_id is None for b in filled) else torch.cat([b.ids() for b in filled])
    return TrainBatch(torch.cat([b.inputs for b in filled]), targets, world, ids)


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


def two_d_only(batch: TrainBatch) -> TrainBatch:
    """``batch`` with its 3D and body-model targets withheld (2D keypoints only, as SPIN's 2D datasets)."""
    return TrainBatch(batch.inputs, GeneratorTargets(kp_2d=batch.targets.kp_2d), batch.keypoints_world, batch.window_id)


def fixed_batches(source: BatchSource, seed: int, windows: int, seqlen: int, batch: int) -> list[TrainBatch]:
    """A fixed validation set: ``windows`` windows drawn once with ``seed``, in chunks of ``batch``."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, windows, batch):
        out.append(source.sample(rng, min(batch, windows - start), seqlen))
    return out

