"""Motion-capture importers: ASF/AMC, BVH and AMASS files → `Motion` clips.

`import_mocap` is the entry point the CLI uses; the per-format readers live in
`asf_amc`, `bvh` and `amass`, the shared representation in `skeleton`.
"""

from __future__ import annotations

import dataclasses

import logging
from collections.abc import Iterable
from pathlib import Path

from vibe.data.mocap.amass import AmassClip, load_amass
from vibe.data.mocap.asf_amc import CMU_ASF_TO_BVH, load_asf_amc
from vibe.data.mocap.bvh import CMU_MAX_TO_MB_NAMES, read_bvh, write_bvh
from vibe.data.mocap.resample import resample
from vibe.data.mocap.skeleton import Motion, Skeleton, forward_kinematics, forward_kinematics_torch

__all__ = [
    "AmassClip",
    "CMU_ASF_TO_BVH",
    "CMU_MAX_TO_MB_NAMES",
    "Motion",
    "Skeleton",
    "find_asf",
    "forward_kinematics",
    "forward_kinematics_torch",
    "import_mocap",
    "load_amass",
    "load_asf_amc",
    "read_bvh",
    "resample",
    "write_bvh",
]

log = logging.getLogger(__name__)


def find_asf(amc_path: Path, candidates: Iterable[Path] = ()) -> Path:
    """The ASF skeleton of an AMC clip.

    Among the given candidate ``.asf`` files if any, else the ``.asf`` files in
    the clip's folder: the one whose stem is the longest prefix of the clip's
    stem, ending at a separator (CMU ``02_01.amc`` → ``02.asf``; HDM05
    ``HDM_bd_walk_01_120.amc`` → ``HDM_bd.asf`` beside ``HDM_bk.asf``), else
    the only one (a candidate in the clip's folder first).

    Raises:
        FileNotFoundError: no skeleton, or several and none is a prefix (the
            message names them).
    """
    candidates = list(candidates)
    pool = candidates or sorted(amc_path.parent.glob("*.asf"))
    prefixed = [c for c in pool if _is_stem_prefix(c.stem, amc_path.stem)]
    if prefixed:
        return max(prefixed, key=lambda c: (len(c.stem), c.parent == amc_path.parent))
    same_dir = [c for c in pool if c.parent == amc_path.parent]
    for group in (same_dir, pool):
        if len(group) == 1:
            return group[0]
    names = ", ".join(str(c) for c in pool) or "none found"
    raise FileNotFoundError(f"no unambiguous .asf skeleton for {amc_path} (candidates: {names}); pass it with --asf")


def _is_stem_prefix(prefix: str, stem: str) -> bool:
    """``prefix`` starts ``stem`` and ends at a separator (or is the whole stem), case-insensitively."""
    prefix, stem = prefix.lower(), stem.lower()
    return stem.startswith(prefix) and (len(stem) == len(prefix) or not stem[len(prefix)].isalnum())


def import_mocap(
    paths: Iterable[Path | str],
    fps: float | None = 30.0,
    bvh_scale: float = 1.0,
    asf: Path | str | None = None,
) -> list[Motion]:
    """Read motion files, dispatching on the extension, and resample them.

    ``.amc`` clips use ``asf`` if given, else an ``.asf`` listed in ``paths``,
    else their subject's ``.asf`` next to them (see `find_asf`); ``.asf`` files
    alone produce nothing. ``.bvh`` files are read with ``bvh_scale`` metres
    per unit; ``.npz`` files are AMASS clips (`AmassClip.to_motion`: SMPL
    joint tree, offsets unknown, z up).

    Args:
        paths: files to import.
        fps: target frame rate; ``None`` keeps each file's own.
        bvh_scale: metres per BVH length unit.
        asf: skeleton for every ``.amc`` in ``paths``.

    Returns:
        One `Motion` per clip, in the order given.
    """
    paths = [Path(p) for p in paths]
    asf_files = [p for p in paths if p.suffix.lower() == ".asf"]
    motions: list[Motion] = []
    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".asf":
            continue
        if suffix == ".amc":
            motion = load_asf_amc(Path(asf) if asf else find_asf(path, asf_files), path)
        elif suffix == ".bvh":
            motion = _with_mb_names(read_bvh(path, scale=bvh_scale))
        elif suffix == ".npz":
            motion = load_amass(path).to_motion()
        else:
            raise ValueError(f"unknown motion file type: {path}")
        log.info("read %s: %d frames at %g fps", path, motion.num_frames, motion.fps)
        motions.append(resample(motion, fps) if fps and fps != motion.fps else motion)
    return motions


def _with_mb_names(motion: Motion) -> Motion:
    """CMU's "3ds Max friendly" BVH release → the MotionBuilder names the rest of the project uses."""
    names = set(motion.skeleton.joint_names)
    if {"LeftHip", "Chest2", "LeftCollar"} <= names:
        log.info("%s: CMU 3ds-Max joint names, renamed to the MotionBuilder names", motion.name)
        return dataclasses.replace(motion, skeleton=motion.skeleton.renamed(CMU_MAX_TO_MB_NAMES))
    return motion
