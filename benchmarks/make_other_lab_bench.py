"""Rendered benchmark videos of motion from another lab (HDM05 by default), for evaluation only.

    python benchmarks/make_other_lab_bench.py HDM05_ROOT --out bench/hdm05_s1 --videos 16 --seed 1

reads every ``.amc`` under ``HDM05_ROOT`` with its actor's skeleton (the
``.asf`` whose stem prefixes the clip's, e.g. ``HDM_bd.asf``), retargets the
clips onto Anny (the same bone-for-bone transfer as the CMU database), groups
them by actor (the second ``_`` field of HDM05 names; the file's folder
otherwise) so that videos alternate between actors, and renders them with
:func:`vibe.evaluation.synthetic_make.make_synthetic_benchmark`. Score with
``vibe eval --dataset synthetic --data OUT``.

HDM05 is CC BY-SA 3.0 ("HDM05 motion capture database, M. Müller, T. Röder,
M. Clausen, B. Eberhardt, B. Krüger, A. Weber"): never train on it, since
adapted material must be shared alike. The licence is written into every
video's JSON.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

HDM05_LICENCE = (
    "HDM05 motion capture database (M. Müller, T. Röder, M. Clausen, B. Eberhardt, B. Krüger, A. Weber), "
    "CC BY-SA 3.0: evaluation only"
)


def _actor(amc: Path) -> str:
    """``HDM_bd_walk_01_120`` → ``bd``; other names: the folder."""
    parts = amc.stem.split("_")
    return parts[1] if len(parts) > 2 and parts[0].upper() == "HDM" else amc.parent.name


def build_db(root: Path, fps: float = 30.0, licence: str = HDM05_LICENCE):
    """Every clip under ``root`` on Anny, subject = actor, description = the clip's motion."""
    from vibe.body.anny import Anny
    from vibe.data.build_motion_db import ClipInfo
    from vibe.data.build_motion_db import build_db as retarget_clips
    from vibe.data.mocap import find_asf, load_asf_amc, resample

    def clips():
        for amc in sorted(root.rglob("*.amc")):
            motion = resample(load_asf_amc(find_asf(amc), amc), fps)
            motion_name = amc.stem.split("_")[2] if amc.stem.count("_") >= 3 else amc.stem
            yield motion, ClipInfo(_actor(amc), motion_name, "asf-amc", licence)

    return retarget_clips(clips(), Anny())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, default=None, help="save/reuse the retargeted database here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    from vibe.data.motion_db import MotionDB
    from vibe.evaluation.synthetic_make import make_synthetic_benchmark

    if args.db is not None and args.db.exists():
        db = MotionDB.load(args.db)
    else:
        db = build_db(args.root)
        if args.db is not None:
            db.save(args.db)
    make_synthetic_benchmark(db, args.out, args.videos, args.seconds, args.seed, subjects=None, label="HDM05")


if __name__ == "__main__":
    main()
