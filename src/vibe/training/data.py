"""What the trainer consumes: batches of generator inputs + targets, and windows of real motion.

Two small protocols keep the trainer independent of where data comes from:

- :class:`BatchSource` — ``sample(rng, batch, seqlen) → TrainBatch``: generator
  inputs and :class:`~vibe.losses.GeneratorTargets`. Implementations: synthetic
  windows (:class:`SyntheticSource`, open stack) and the original db files
  (:class:`FrameSetSource` over :mod:`vibe.data.datasets.vibe_db`, smpl stack);
  :class:`MixedSource` draws a fixed number of windows from each of several
  sources (the released 2D/3D mix).
- :class:`MotionSource` — ``sample(rng, batch, seqlen) → (B, T, J, 3, 3)``:
  local rotations of real motion for D_M and MPoser (:class:`MotionDBSource`).

2D-only windows that temporal SMPLify refines in the training loop come from
finite sets with stable window ids (:class:`WindowBank`, :class:`FrameSetWindows`).

All randomness comes from the ``numpy.random.Generator`` passed in, so the
trainer can save and restore it and a resumed run draws the same windows.

The contract and the ways of combining batches are in
:mod:`vibe.training.batches`, the sources in :mod:`vibe.training.sources`
(both re-exported here). This module assembles them for a
:class:`~vibe.training.config.TrainConfig`: :func:`build_synthetic_data` and
:func:`build_vibe_db_data` return the training source, the fixed validation
windows and the motion source.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vibe.config import from_dict
from vibe.training.batches import (
    BatchSource,
    MixedSource,
    MotionSource,
    TrainBatch,
    concat_batches,
    fixed_batches,
    two_d_only,
)
from vibe.training.sources import FrameSetSource, FrameSetWindows, MotionDBSource, SyntheticSource, WindowBank

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
