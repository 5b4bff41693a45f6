"""Training data from the real landmark detector: rendered Anny videos through the demo's MediaPipe stages.

The synthetic windows of :mod:`vibe.data.synthetic` imitate MediaPipe with a
hand-made noise model. This module records what MediaPipe really answers:
every corpus item is a rendered video of a training subject's motion
(:func:`~vibe.evaluation.synthetic_make.render_video`: random body, camera,
skin, lights and background), run through the demo's detection, tracking and
landmark stages (:func:`~vibe.pipeline.run.run_demo`, no rendering), whose
longest track is kept beside the rendered ground truth of the same frames.

``out_dir/track_XXXXX.npz`` (``n`` frames of the track; float32 unless said):

- ``frame_ids (n,)`` int64, ``fps ()`` float64, ``image_size (2,)`` int64 (W, H);
- detector output: ``landmarks_img (n, 33, 3)`` pixels + visibility (NaN where
  no pose was found), ``world (n, 33, 3)`` MediaPipe's world landmarks
  (metres, hip-centred, NaN where none), ``bbox_cxcys (n, 3)`` the demo's box;
- ground truth: ``keypoints2d (n, 33, 2)`` pixels, ``keypoints3d (n, 33, 3)``
  and ``joints3d_eval14 (n, 14, 3)`` camera frame (metres),
  ``pose_rotmat (n, J, 3, 3)`` with the root in the camera frame, ``shape (S,)``.

Items are written one at a time under a temporary name, so an interrupted run
resumes at the first missing index with the same random draws
(``(seed, index)`` fixes everything). The rendered video and the demo's
folder are deleted once the item is written. Videos where nobody is found
leave an empty marker ``track_XXXXX.none`` so they are not retried.

``python -m vibe.evaluation.landmark_corpus OUT --videos N --seed S`` makes one.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from vibe.body.anny import Anny
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.motion_db import VALIDATION_SUBJECTS
from vibe.data.synthetic import SyntheticConfig, SyntheticGenerator
from vibe.evaluation.synthetic_bench import cached_world_landmarks
from vibe.evaluation.synthetic_make import render_video

__all__ = ["CORPUS_CAMERAS", "make_landmark_corpus", "corpus_camera_config"]

logger = logging.getLogger(__name__)

# Wider than the benchmark's cameras: low and high, close (bodies cut at the
# hips or knees) and far, landscape and portrait.
CORPUS_CAMERAS: dict = {
    "image_sizes": ((640, 360), (360, 640), (480, 480)),
    "distance_m": (1.5, 8.0),
    "camera_height_m": (0.2, 3.0),
    "min_in_view": 0.7,
    "max_camera_tries": 30,
}


def corpus_camera_config() -> SyntheticConfig:
    """The camera distribution of the corpus videos (:data:`CORPUS_CAMERAS`)."""
    return SyntheticConfig(**CORPUS_CAMERAS)


def _track_item(video: Path, work: Path) -> dict | None:
    """Run the demo's stages on ``video`` and pair its longest track with the ground truth."""
    from vibe.pipeline.outputs import read_results
    from vibe.pipeline.run import DemoConfig, run_demo

    result = run_demo(video, work, DemoConfig(render=False, progress=False))
    _, people = read_results(result.results)
    if not people:
        return None
    tid = max(people, key=lambda t: len(people[t]["frame_ids"]))
    track = people[tid]
    world = cached_world_landmarks(result.out_dir, tid)
    if world is None or not np.array_equal(world[0], track["frame_ids"]):
        return None
    with np.load(video.with_suffix(".npz")) as npz:
        gt = dict(npz)
    frames, rows, gt_rows = np.intersect1d(track["frame_ids"], gt["frame_ids"], return_indices=True)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return {
        "frame_ids": frames.astype(np.int64),
        "fps": np.float64(gt["fps"]),
        "image_size": gt["image_size"].astype(np.int64),
        "landmarks_img": f32(track["landmarks_img"][rows]),
        "world": f32(world[1][rows]),
        "bbox_cxcys": f32(track["bbox_cxcys"][rows]),
        "keypoints2d": f32(gt["keypoints2d_blazepose33"][gt_rows]),
        "keypoints3d": f32(gt["keypoints3d_blazepose33"][gt_rows]),
        "joints3d_eval14": f32(gt["joints3d_eval14"][gt_rows]),
        "pose_rotmat": f32(gt["pose_rotmat_cam"][gt_rows]),
        "shape": f32(gt["shape"]),
    }


def make_landmark_corpus(
    out_dir: str | Path,
    n_videos: int,
    seed: int = 0,
    seconds: float = 4.0,
    motion_db: str | Path | None = None,
    subjects_excluded: tuple[str, ...] = tuple(VALIDATION_SUBJECTS),
    deadline_s: float | None = None,
) -> int:
    """Make (or complete) a corpus of ``n_videos`` items (layout in the module docstring).

    Args:
        out_dir: the corpus folder (created; existing items are kept).
        n_videos: items wanted in total (indices ``0 … n_videos − 1``).
        seed: the corpus seed.
        seconds: length of each video.
        motion_db: the motion DB (default: the bundled one), or a mocap file or
            folder read as training reads ``data.motion_db``.
        subjects_excluded: subjects never rendered (the held-out ones).
        deadline_s: stop after this many seconds (resume later).

    Returns:
        The number of tracks in the folder.
    """
    from vibe.training.data import bundled_motion_db, load_training_motion

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    body = Anny()
    db = load_training_motion(Path(motion_db or bundled_motion_db()), body, {})
    db = db.split(subjects_excluded, exclude=True)
    generator = SyntheticGenerator(SparseKeypoints(body, ("blazepose33", "eval14")), corpus_camera_config())
    started = time.monotonic()
    for index in range(n_videos):
        stem = out / f"track_{index:05d}"
        if stem.with_suffix(".npz").exists() or stem.with_suffix(".none").exists():
            continue
        if deadline_s is not None and time.monotonic() - started > deadline_s:
            logger.info("deadline reached at item %d", index)
            break
        work = out / f"work_{index:05d}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        video = render_video(db, body, generator, work / "video", index, seed, seconds)
        item = _track_item(video, work / "demo")
        if item is None:
            stem.with_suffix(".none").touch()
        else:
            tmp = stem.with_name(stem.name + ".tmp.npz")
            np.savez_compressed(tmp, **item)
            tmp.rename(stem.with_suffix(".npz"))
        shutil.rmtree(work)
    return len(list(out.glob("track_*.npz")))


def main() -> None:
    """Command line: ``python -m vibe.evaluation.landmark_corpus OUT --videos N``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--videos", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--motion-db", default=None)
    parser.add_argument("--deadline-s", type=float, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    n = make_landmark_corpus(
        args.out_dir, args.videos, args.seed, args.seconds, args.motion_db, deadline_s=args.deadline_s
    )
    logger.info("%d tracks in %s", n, args.out_dir)


if __name__ == "__main__":
    main()
