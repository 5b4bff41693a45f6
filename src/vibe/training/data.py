"""What the trainer consumes: batches of generator inputs + targets, and windows of real motion.

Two small protocols keep the trainer independent of where data comes from:

- :class:`BatchSource` — ``sample(rng, batch, seqlen) → TrainBatch``: generator
  inputs and :class:`~vibe.losses.GeneratorTargets`. Implementations: synthetic
  windows (:class:`SyntheticSource`, open stack) and the original db files
  (:class:`FrameSetSource` over :mod:`vibe.data.datasets.vibe_db`, smpl stack); :class:`MixedSource` draws
  a fixed number of windows from each of several sources (the released 2D/3D mix).
- :class:`MotionSource` — ``sample(rng, batch, seqlen) → (B, T, J, 3, 3)``:
  local rotations of real motion for D_M and MPoser (:class:`MotionDBSource`).

2D-only windows that temporal SMPLify refines in the training loop come from
finite sets whose window ``i`` is always the same frames, tagged with ``i`` in
:attr:`TrainBatch.window_id` (:class:`WindowBank`: fixed synthetic windows of
the open stack, 3D targets withheld; :class:`FrameSetWindows`: the
non-overlapping windows of a db file's 2D set), so that a window's stored fit
can improve each time it comes back.

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
from vibe.data.motion_db import mirror_motion, tip_motion
from vibe.geometry.rotations import axis_angle_to_rotmat
from vibe.losses import GeneratorTargets

if TYPE_CHECKING:
    from vibe.data.motion_db import MotionDB
    from vibe.training.config import TrainConfig

__all__ = [
    "TrainBatch",
    "BatchSource",
    "MotionSource",
    "MotionDBSource",
    "SyntheticSource",
    "MixedSource",
    "WindowBank",
    "FrameSetSource",
    "FrameSetWindows",
    "two_d_only",
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


def load_training_motion(path: Path, body, mocap: dict) -> MotionDB:
    """``data.motion_db``: a motion database, or mocap files / folders read with the ``data.mocap`` options."""
    from vibe.data.mocap import MocapOptions, npz_kind
    from vibe.data.motion_db import MotionDB

    if path.is_file() and path.suffix.lower() == ".npz" and npz_kind(path) == "motion-db":
        motion_db = MotionDB.load(path)
        if not motion_db.body_model.startswith(body.name):
            raise ValueError(f"{path} holds {motion_db.body_model!r} motion, the generator poses {body.name!r}")
        return motion_db
    from vibe.data.motion_input import load_motion

    options = dict(mocap)
    options["asf"] = tuple(Path(p) for p in options.get("asf", ()))
    if options.get("joint_map"):
        options["joint_map"] = Path(options["joint_map"])
    return load_motion([path], body, MocapOptions(**{"bvh_scale": None, **options})).db


def build_synthetic_data(config: TrainConfig, body) -> tuple[BatchSource, list[TrainBatch], MotionSource]:
    """Open stack: synthetic windows of the motion DB's training subjects (mixed with a landmark
    corpus when ``data.landmark_corpus`` is set), fixed validation windows of the held-out
    subjects, real motion of the training subjects.

    With ``smplify_in_loop.enabled``, a share ``share_2d`` of each batch comes
    from a :class:`WindowBank` of ``windows_2d`` training-subject windows drawn
    once with ``seed + 2`` (2D targets only; the same on every rank, so window
    ids agree).

    Args:
        config: the run.
        body: the :class:`~vibe.body.anny.Anny` model the synthetic landmarks are computed with
            (on the CPU: data are made there).
    """
    from vibe.body.keypoint_offsets import DETECTOR_SET
    from vibe.body.sparse_keypoints import SparseKeypoints
    from vibe.data.synthetic import SyntheticConfig, SyntheticGenerator

    data = config.data
    path = Path(data.motion_db) if data.motion_db else bundled_motion_db()
    motion_db = load_training_motion(path, body, data.mocap)
    train_db = motion_db.split(data.val_subjects, exclude=True)
    val_db = motion_db.split(data.val_subjects)
    logger.info("motion DB %s: %.0f s training, %.0f s validation", path, train_db.seconds(), val_db.seconds())
    synth_config = from_dict(SyntheticConfig, data.synthetic)
    sets = ("blazepose33", "eval14", *([DETECTOR_SET] if synth_config.detector_keypoints else []))
    synth = SyntheticGenerator(SparseKeypoints(body, sets), synth_config)
    use_world = config.model.keypoint_encoder.use_world
    val = fixed_batches(
        SyntheticSource(synth, val_db, use_world), config.seed + 1, config.val_windows, config.seqlen, config.batch_size
    )
    train: BatchSource = SyntheticSource(
        synth, train_db, use_world, data.motion_mirror_prob, data.motion_tip_prob, tuple(data.motion_tip_deg)
    )
    if data.landmark_corpus and data.corpus_share > 0:
        from vibe.training.corpus_source import CorpusSource

        corpus = CorpusSource(
            Path(data.landmark_corpus).expanduser(), body.joint_names, use_world,
            synth.config.features, data.corpus_mirror_prob,
        )  # fmt: skip
        share = data.corpus_share
        train = corpus if share >= 1 else MixedSource([corpus, train], [share, 1 - share])
    in_loop = config.smplify_in_loop
    if in_loop.enabled and in_loop.share_2d > 0:
        bank = WindowBank.from_source(train, config.seed + 2, in_loop.windows_2d, config.seqlen)
        logger.info("2D-only share %.2f from a bank of %d synthetic windows", in_loop.share_2d, len(bank))
        train = bank if in_loop.share_2d >= 1 else MixedSource([bank, train], [in_loop.share_2d, 1 - in_loop.share_2d])
    return train, val, MotionDBSource(train_db)


def _frame_set(path: Path) -> FrameSetSource:
    """The db file read by the reader its name calls for (the original's file names), as a source."""
    from vibe.data.datasets import vibe_db

    name = path.name.lower()
    for key, loader in (("insta", vibe_db.load_insta), ("mpii3d", vibe_db.load_mpii3d), ("3dpw", vibe_db.load_threedpw)):
        if key in name:
            return FrameSetSource(loader(path))
    raise ValueError(f"{path}: cannot tell the dataset from the name (expected insta, mpii3d or 3dpw)")


def _mix_by_size(sets: list[FrameSetSource], sources: list | None = None) -> BatchSource:
    """Several frame sets as one source, each drawn in proportion to its frame count
    (``sources``: how each set is drawn, default the set itself)."""
    sources = sets if sources is None else sources
    if len(sets) == 1:
        return sources[0]
    return MixedSource(sources, [len(s) for s in sets])


def _indexed_2d_sets(sets: list[FrameSetSource], seqlen: int) -> list[FrameSetWindows]:
    """The 2D sets' non-overlapping windows, ids = start row + the frames of the sets before."""
    offsets = np.cumsum([0] + [len(s) for s in sets[:-1]])
    return [FrameSetWindows(s.frame_set, seqlen, int(o)) for s, o in zip(sets, offsets)]


def build_vibe_db_data(config: TrainConfig) -> tuple[BatchSource, list[TrainBatch], MotionSource]:
    """Smpl stack: the original db files (2D share ``ratio_2d`` of each batch), every non-overlapping
    validation window of the validation set (``val_windows`` is not used), AMASS motion.

    With ``smplify_in_loop.enabled`` the 2D sets are drawn as their
    non-overlapping windows, with ids (:class:`FrameSetWindows`).
    """
    from vibe import assets
    from vibe.data.datasets.vibe_db import AmassMotion, load_threedpw

    db = config.data.vibe_db
    root = Path(db.db_dir).expanduser() if db.db_dir else assets.datasets_dir() / "vibe_db"
    resolve = lambda p: Path(p).expanduser() if Path(p).is_absolute() else root / p  # noqa: E731
    needed = [resolve(p) for p in (*db.train_2d, *db.train_3d, db.val, db.motion)]
    assets.require(needed, "Training on the original VIBE db files")
    parts, shares = [], []
    if db.train_2d:
        sets = [_frame_set(resolve(p)) for p in db.train_2d]
        indexed = _indexed_2d_sets(sets, config.seqlen) if config.smplify_in_loop.enabled else None
        parts.append(_mix_by_size(sets, indexed))
        shares.append(db.ratio_2d)
    if db.train_3d:
        parts.append(_mix_by_size([_frame_set(resolve(p)) for p in db.train_3d]))
        shares.append(1.0 - db.ratio_2d if db.train_2d else 1.0)
    if not parts:
        raise ValueError("data.vibe_db needs train_2d or train_3d files")
    train = parts[0] if len(parts) == 1 else MixedSource(parts, shares)
    val = FrameSetSource(load_threedpw(resolve(db.val))).all_windows(config.seqlen, config.batch_size)
    return train, val, AmassMotion(resolve(db.motion))
