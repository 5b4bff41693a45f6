"""Neck proportion of the training inputs against MediaPipe's on real people.

The 2D "neck ratio" of a frame is |mid-ear − mid-shoulder| / |mid-shoulder − mid-hip|
of the BlazePose-33 landmarks in the image. A retargeting that shrugs the
shoulders (collarbones turned up) lowers it in every training frame, and a
model trained on such inputs places real people's shoulders too high.

    python benchmarks/neck_ratio.py --db src/vibe/resources/motion/cmu_anny.npz --videos assets/pose_1.mp4

prints the median and 10–90 % range for noise-free synthetic windows of the
database (random shapes and cameras, the training distribution) and for the
landmarks MediaPipe finds on each video (frames whose four points are visible).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from vibe.body.anny import BLAZEPOSE33

_EARS = [BLAZEPOSE33.index("left_ear"), BLAZEPOSE33.index("right_ear")]
_SHOULDERS = [BLAZEPOSE33.index("left_shoulder"), BLAZEPOSE33.index("right_shoulder")]
_HIPS = [BLAZEPOSE33.index("left_hip"), BLAZEPOSE33.index("right_hip")]


def neck_ratio(points_img: np.ndarray) -> np.ndarray:
    """``(..., 33, ≥2)`` landmarks in pixels → ``(...)`` ear–shoulder over shoulder–hip distance."""
    ear, shoulder, hip = (points_img[..., idx, :2].mean(-2) for idx in (_EARS, _SHOULDERS, _HIPS))
    return np.linalg.norm(ear - shoulder, axis=-1) / np.linalg.norm(shoulder - hip, axis=-1)


def database_ratios(db_path: str, windows: int, seed: int) -> np.ndarray:
    """Neck ratios of ``windows`` noise-free synthetic windows (16 frames) of the database's training clips."""
    from vibe.body.anny import Anny
    from vibe.body.sparse_keypoints import SparseKeypoints
    from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB
    from vibe.data.synthetic import SyntheticConfig, SyntheticGenerator

    db = MotionDB.load(db_path).split(VALIDATION_SUBJECTS, exclude=True)
    generator = SyntheticGenerator(SparseKeypoints(Anny(), ("blazepose33", "eval14")), SyntheticConfig.noise_free())
    rng = np.random.default_rng(seed)
    ratios = [neck_ratio(generator.sample(db, rng, 64).landmarks_img.numpy()) for _ in range(max(1, windows // 64))]
    return np.concatenate([r.ravel() for r in ratios])


def video_ratios(video: str, min_visibility: float = 0.8) -> np.ndarray:
    """Neck ratios of the landmarks the demo finds on ``video`` (every track, confident frames)."""
    from vibe.pipeline.outputs import read_results
    from vibe.pipeline.run import DemoConfig, run_demo

    with tempfile.TemporaryDirectory() as out:
        _, people = read_results(run_demo(video, out, DemoConfig(render=False)).results)
    tracks = [person["landmarks_img"] for person in people.values()]
    points = np.concatenate(tracks) if tracks else np.zeros((0, 33, 3))
    confident = (points[:, _EARS + _SHOULDERS + _HIPS, 2] >= min_visibility).all(-1)
    return neck_ratio(points[confident])


def _summary(name: str, ratios: np.ndarray) -> str:
    lo, med, hi = np.percentile(ratios, [10, 50, 90]) if ratios.size else (np.nan,) * 3
    return f"{name:<40} median {med:.3f}  10-90 % {lo:.3f}-{hi:.3f}  ({ratios.size} frames)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", default=[], help="motion database(s) to check")
    parser.add_argument("--videos", nargs="*", default=[], help="real videos to run MediaPipe on")
    parser.add_argument("--windows", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for db in args.db:
        print(_summary(f"db {Path(db).name}", database_ratios(db, args.windows, args.seed)))
    for video in args.videos:
        print(_summary(f"MediaPipe {Path(video).name}", video_ratios(video)))


if __name__ == "__main__":
    main()
