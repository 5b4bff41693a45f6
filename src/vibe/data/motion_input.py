"""Any motion a user has → one `MotionDB` on the body: the reader every command shares.

``vibe mocap import``, ``vibe eval make-synthetic`` and training
(``data.motion_db``, with ``data.mocap`` options) all call `load_motion`
with the same `~vibe.data.mocap.readers.MocapOptions`:

- motion databases (``.npz`` written by ``vibe mocap import`` or the bundled
  ``cmu_anny.npz``) are loaded as they are (``--licence`` replaces their
  stored licence; they are not resampled);
- mocap files and folders (ASF/AMC, BVH, AMASS ``.npz``) are read
  (`~vibe.data.mocap.readers.read_clips`) and retargeted
  (`~vibe.data.build_motion_db.build_db`: bone for bone, or IK on matched
  joints, `vibe.data.correspondence`), each clip tagged with its subject,
  format and licence (`UNKNOWN_LICENCE` when none is given).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vibe.body.base import BodyModel
from vibe.data.build_motion_db import ClipInfo, build_db
from vibe.data.correspondence import ClipFit, load_joint_map
from vibe.data.mocap import MocapOptions, expand_paths, npz_kind, read_clips
from vibe.data.motion_db import MotionDB

__all__ = ["UNKNOWN_LICENCE", "MotionInput", "input_label", "load_motion"]

log = logging.getLogger(__name__)

UNKNOWN_LICENCE = "licence not given (pass --licence)"
_SOURCE_OF_FORMAT = {"asf/amc": "asf-amc", "bvh": "bvh", "amass": "amass"}


@dataclass
class MotionInput:
    """What `load_motion` read.

    Attributes:
        db: every clip on the body.
        fits: one `~vibe.data.correspondence.ClipFit` per retargeted mocap
            clip (none for clips that came from a database).
        label: a short name of the input for titles (file or folder names).
    """

    db: MotionDB
    fits: list[ClipFit] = field(default_factory=list)
    label: str = ""

    def licences(self) -> list[str]:
        """The distinct licences of the clips, in first-seen order."""
        return list(dict.fromkeys(map(str, self.db.licence)))


def input_label(paths: Sequence[Path | str]) -> str:
    """``"hdm05_bd_bk"`` for one path, ``"a.bvh + 2 more"`` for several (file stems, folder names)."""
    names = [Path(p).stem if Path(p).is_file() else Path(p).name for p in paths]
    return names[0] if len(names) == 1 else f"{names[0]} + {len(names) - 1} more"


def _load_database(path: Path, body: BodyModel, options: MocapOptions) -> MotionDB:
    """A motion database file, checked against ``body``, its licence replaced by ``options.licence`` if given."""
    db = MotionDB.load(path)
    if not db.body_model.startswith(body.name) or list(db.joint_names) != list(body.joint_names):
        raise ValueError(f"{path} holds {db.body_model!r} motion, not motion of this {body.name!r} body")
    if options.licence:
        db = replace(db, licence=np.full(db.num_clips, options.licence))
    if options.fps and np.any(db.fps != options.fps):
        log.warning("%s: clips at %s fps are kept as they are (databases are not resampled)", path, sorted(set(db.fps)))
    log.info("read motion database %s: %d clips, %.0f s", path, db.num_clips, db.seconds())
    return db


def _retargeted(files: Iterable[Path], body: BodyModel, options: MocapOptions, fits: list[ClipFit]) -> MotionDB:
    """Mocap files read with ``options`` and retargeted onto ``body``."""
    motions = read_clips(files, options)
    if not motions:
        raise ValueError("no clip among the mocap files (.asf files are skeletons, not clips)")
    infos = [
        ClipInfo(
            subject=str(m.meta.get("subject", "")),
            source=_SOURCE_OF_FORMAT.get(str(m.meta.get("format")), str(m.meta.get("format", ""))),
            licence=options.licence or UNKNOWN_LICENCE,
        )
        for m in motions
    ]
    joint_map = load_joint_map(options.joint_map) if options.joint_map else None
    return build_db(zip(motions, infos, strict=True), body, joint_map=joint_map, fits=fits)


def _concatenated(dbs: Sequence[MotionDB]) -> MotionDB:
    """One database of several on the same body (clips in order)."""
    if len(dbs) == 1:
        return dbs[0]
    clips = [(db, c) for db in dbs for c in range(db.num_clips)]
    poses = [db.clip(c) for db, c in clips]

    def column(key: str) -> list:
        return [getattr(db, key)[c] for db, c in clips]

    return MotionDB.from_clips(
        body_model=dbs[0].body_model, joint_names=dbs[0].joint_names,
        rotmats=[r for r, _ in poses], root_transls=[t for _, t in poses],
        clip_name=column("clip_name"), subject=column("subject"), description=column("description"),
        source=column("source"), licence=column("licence"), fps=column("fps"), shape=column("shape"),
    )  # fmt: skip


def load_motion(paths: Sequence[Path | str], body: BodyModel, options: MocapOptions | None = None) -> MotionInput:
    """Read motion databases and mocap files (module docstring) into one database on ``body``.

    Args:
        paths: files or folders (searched recursively).
        body: the body model (Anny ``cmu_mb``).
        options: reading options (``MocapOptions()``: 30 fps, BVH unit detected).

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: nothing to read, a database of another body, or a
            skeleton whose joints could not be matched.
    """
    options = options or MocapOptions(bvh_scale=None)
    files = expand_paths(paths)
    databases = [f for f in files if f.suffix.lower() == ".npz" and npz_kind(f) == "motion-db"]
    mocap = [f for f in files if f not in databases]
    if not databases and not any(f.suffix.lower() != ".asf" for f in mocap):
        raise ValueError("no .amc, .bvh, AMASS .npz or motion database among the paths")
    parts = [_load_database(f, body, options) for f in databases]
    fits: list[ClipFit] = []
    if mocap:
        parts.append(_retargeted(mocap, body, options, fits))
    return MotionInput(_concatenated(parts), fits, input_label(paths))
