"""One reader for every command: mocap files and folders → `Motion` clips.

`read_clips` is what ``vibe mocap import``, ``vibe eval make-synthetic`` and
training (through `vibe.data.motion_input`) call, with one `MocapOptions`:

- ``.amc`` clips with their ``.asf`` skeleton (`find_asf`; ``--asf`` gives
  candidates), ``.bvh`` files (length unit given, or detected from the rest
  skeleton's size, `detect_bvh_scale`), AMASS ``.npz`` files;
- folders are searched recursively (`expand_paths`);
- every `Motion` gets ``meta["subject"]`` (the ASF stem for AMC clips, the
  folder for other files) and ``meta["licence"]`` (the option, as given).

Motion databases (``.npz`` written by ``vibe mocap import``) are told apart
from AMASS files by their keys (`npz_kind`) and are loaded above this
package, in `vibe.data.motion_input`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vibe.data.mocap.amass import load_amass
from vibe.data.mocap.asf_amc import CMU_ASF_TO_BVH, load_asf_amc
from vibe.data.mocap.bvh import CMU_MAX_TO_MB_NAMES, read_bvh
from vibe.data.mocap.resample import resample
from vibe.data.mocap.skeleton import Motion, Skeleton, forward_kinematics

__all__ = [
    "MOCAP_SUFFIXES",
    "MocapOptions",
    "detect_bvh_scale",
    "expand_paths",
    "find_asf",
    "import_mocap",
    "npz_kind",
    "read_clips",
]

log = logging.getLogger(__name__)

MOCAP_SUFFIXES = (".amc", ".asf", ".bvh", ".npz")

# Length units a BVH file may be written in: name → metres per unit. CMU's ASF
# unit (inches / 0.45) is what CMU's BVH releases use.
BVH_UNITS: dict[str, float] = {
    "metres": 1.0,
    "decimetres": 0.1,
    "centimetres": 0.01,
    "millimetres": 0.001,
    "inches": 0.0254,
    "CMU ASF units (inches / 0.45)": 0.0254 / 0.45,
}
# Rest-pose extent of an adult skeleton (head to feet, or T-pose arm span), metres.
TYPICAL_EXTENT_M = 1.7


@dataclass(frozen=True)
class MocapOptions:
    """How mocap files are read (the same options on every command).

    Attributes:
        asf: candidate ``.asf`` skeletons for ``.amc`` clips (`find_asf` picks
            per clip); empty: the ones beside each clip.
        bvh_scale: metres per BVH length unit; ``None``: detected per file
            from its rest skeleton (`detect_bvh_scale`, logged).
        fps: frame rate every clip is resampled to; ``None`` keeps each file's.
        licence: the source's licence, stored with every clip.
        joint_map: YAML file of source joint → body joint names, overriding
            the automatic correspondence (`vibe.data.correspondence`).
    """

    asf: tuple[Path, ...] = ()
    bvh_scale: float | None = None
    fps: float | None = 30.0
    licence: str = ""
    joint_map: Path | None = None


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files of ``paths``: files as given, folders searched recursively for `MOCAP_SUFFIXES`.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MOCAP_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    return files


def npz_kind(path: Path | str) -> str:
    """``"motion-db"`` (a `vibe.data.motion_db.MotionDB` file) or ``"amass"`` (``poses`` array).

    Raises:
        ValueError: neither.
    """
    with np.load(Path(path), allow_pickle=False) as npz:
        keys = set(npz.files)
    if {"format_version", "quat_xyzw"} <= keys:
        return "motion-db"
    if "poses" in keys:
        return "amass"
    raise ValueError(f"{path}: neither a motion database nor an AMASS clip (keys {sorted(keys)})")


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


def rest_extent(skeleton: Skeleton) -> float:
    """Largest side of the rest pose's bounding box (joints and end sites), in the skeleton's units."""
    eye = np.broadcast_to(np.eye(3), (skeleton.num_joints, 3, 3))
    joints, glob = forward_kinematics(skeleton, eye, np.zeros(3))
    tips = [joints[j] + glob[j] @ offset for j, offset in skeleton.end_sites.items()]
    points = np.concatenate([joints, np.reshape(tips, (-1, 3))])
    return float(np.ptp(points, axis=0).max())


def detect_bvh_scale(skeleton: Skeleton) -> tuple[float, str, float]:
    """Metres per unit of a BVH skeleton read with unit 1, from its rest size.

    The unit of `BVH_UNITS` that makes the rest pose's largest extent (height,
    or arm span in a T-pose; both about 1.7 m for an adult) closest to
    `TYPICAL_EXTENT_M` on a log scale. Neighbouring units differ by a factor
    of 2.2 or more, so a skeleton from 0.9 to 2.6 m tall is read right.

    Returns:
        ``(metres per unit, unit name, extent in file units)``.
    """
    extent = rest_extent(skeleton)
    if not extent > 0:
        return 1.0, "metres", extent
    name = min(BVH_UNITS, key=lambda n: abs(np.log(extent * BVH_UNITS[n] / TYPICAL_EXTENT_M)))
    return BVH_UNITS[name], name, extent


def _scaled(motion: Motion, scale: float) -> Motion:
    """The motion with every length multiplied by ``scale``."""
    skeleton = dataclasses.replace(
        motion.skeleton,
        offsets=motion.skeleton.offsets * scale,
        end_sites={j: v * scale for j, v in motion.skeleton.end_sites.items()},
    )
    meta = dict(motion.meta, scale=motion.meta.get("scale", 1.0) * scale)
    return dataclasses.replace(motion, skeleton=skeleton, root_transl=motion.root_transl * scale, meta=meta)


def _read_bvh(path: Path, scale: float | None) -> Motion:
    """A BVH file in metres: ``scale`` metres per unit, or detected (logged)."""
    motion = read_bvh(path, scale=1.0 if scale is None else scale)
    if scale is None:
        scale, unit, extent = detect_bvh_scale(motion.skeleton)
        log.info(
            "%s: rest skeleton %.3g units across → read as %s (%.6g m per unit; --bvh-scale to override)",
            path.name, extent, unit, scale,
        )  # fmt: skip
        motion = _scaled(motion, scale)
    return _with_mb_names(motion)


def _with_mb_names(motion: Motion) -> Motion:
    """CMU's "3ds Max friendly" BVH release, or a BVH converted from CMU/HDM05 ASF (bone names) →
    the MotionBuilder names the rest of the project uses."""
    names = set(motion.skeleton.joint_names)
    for mapping, marks, what in (
        (CMU_MAX_TO_MB_NAMES, {"LeftHip", "Chest2", "LeftCollar"}, "CMU 3ds-Max"),
        (CMU_ASF_TO_BVH, {"lfemur", "rtibia", "lhumerus"}, "ASF bone"),
    ):
        if marks <= names:
            log.info("%s: %s joint names, renamed to the MotionBuilder names", motion.name, what)
            return dataclasses.replace(motion, skeleton=motion.skeleton.renamed(mapping))
    return motion


def _read_one(path: Path, options: MocapOptions, asf_files: Sequence[Path]) -> Motion:
    """One clip file as a `Motion` at its own rate, ``meta`` with subject and licence."""
    suffix = path.suffix.lower()
    if suffix == ".amc":
        asf = find_asf(path, [*options.asf, *asf_files])
        motion = load_asf_amc(asf, path)
        subject = asf.stem
    elif suffix == ".bvh":
        motion, subject = _read_bvh(path, options.bvh_scale), path.parent.name
    elif suffix == ".npz" and npz_kind(path) == "amass":
        motion, subject = load_amass(path).to_template_motion(), path.parent.name
    else:
        raise ValueError(f"not a mocap clip: {path} (.amc, .bvh or AMASS .npz)")
    motion.meta.update(subject=subject, licence=options.licence, source=str(path))
    return motion


def read_clips(paths: Iterable[Path | str], options: MocapOptions | None = None) -> list[Motion]:
    """Read every clip of ``paths`` (files or folders), resampled to ``options.fps``.

    ``.asf`` files among the paths are skeleton candidates, not clips; motion
    databases are refused here (load them with `vibe.data.motion_input`).

    Returns:
        One `Motion` per clip, in the order found.
    """
    options = options or MocapOptions()
    files = expand_paths(paths)
    asf_files = [p for p in files if p.suffix.lower() == ".asf"]
    motions = []
    for path in files:
        if path.suffix.lower() == ".asf":
            continue
        motion = _read_one(path, options, asf_files)
        log.info("read %s: %d frames at %g fps", path, motion.num_frames, motion.fps)
        motions.append(resample(motion, options.fps) if options.fps and options.fps != motion.fps else motion)
    return motions


def import_mocap(
    paths: Iterable[Path | str],
    fps: float | None = 30.0,
    bvh_scale: float | None = 1.0,
    asf: Path | str | None = None,
) -> list[Motion]:
    """`read_clips` with the options as arguments (``bvh_scale=None`` detects the unit)."""
    options = MocapOptions(asf=(Path(asf),) if asf else (), bvh_scale=bvh_scale, fps=fps)
    return read_clips(paths, options)
