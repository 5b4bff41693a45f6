"""Who the demo finds in rendered crowds: detection recall/precision, ghost tracks, identity switches.

Runs the demo's front end and body rule (:mod:`vibe.evaluation.crowd_bench`)
on a ``vibe eval make-synthetic --crowd`` folder (people 60-400 px tall at
720p, every side, cameras from eye level to 10 m up), once per detector
setting, and prints one markdown table per setting plus a JSON line each::

    .venv/bin/vibe eval make-synthetic --crowd --out output/crowd --videos 4 --seconds 3
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_crowd.py --data output/crowd --far 0 0.4

``--cost VIDEO`` instead measures what the far tiles cost on one video (e.g.
the one-person 720p clip of the demo's speed target): the front end's wall
and CPU seconds (process CPU time, all threads: less sensitive to other jobs
on the machine than wall time) and the detector views it ran (counted, so
exact whatever the load; local views around lost small tracks, run as
single letterboxed views of a sub-image, count one each) and the tiles the
far passes segment (``blob_proposals``), per setting::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_crowd.py --cost pose_1_1280x720_x3.mp4 --far 0 0.4

``--blobs`` turns on the far passes' segmentation blobs
(:mod:`vibe.pipeline.person_blobs`; off in the demo since its person detector
came); ``--boxes LEVELS|none`` sets that person detector's views
(:mod:`vibe.pipeline.person_boxes`; ``none``: as before it existed).

``--front-end DIR`` caches each video's front-end output (tracks and
landmarks) under ``DIR/far<F>/`` and reuses it on later runs: the body rule
(``--jitter LIMIT QUANTILE``) can then be scored again in
seconds, without MediaPipe.

``--far F``: the tiled pass every ``tiles_every`` frames also looks at tiles
of side F × the short side (``RoiTrackingConfig.far_tiles``; 0: none, the
detector's own one tile level, as before far tiles existed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config(
    far: float, tiles_every: int | None, jitter: tuple[float, float] | None = None, blobs: bool | None = None,
    boxes: str | None = None,
):  # fmt: skip
    """The demo's config with the options asked for (None: the demo's own)."""
    from vibe.pipeline.demo_config import DemoConfig
    from vibe.pipeline.roi_tracking import RoiTrackingConfig

    roi = dataclasses.replace(RoiTrackingConfig(), far_tiles=far or None)
    if blobs is not None:
        roi = dataclasses.replace(roi, blob_proposals=blobs)
    if boxes is not None:
        roi = dataclasses.replace(roi, box_proposals=None if boxes == "none" else int(boxes))
    if tiles_every is not None:
        roi = dataclasses.replace(roi, tiles_every=tiles_every)
    config = DemoConfig(roi_tracking=roi)
    if jitter is not None:
        presence = dataclasses.replace(config.presence, max_jitter=jitter[0], jitter_quantile=jitter[1])
        config = dataclasses.replace(config, presence=presence)
    return config


def _counting_views(counter: list[int]):
    """A context in which every ``PersonDetector.detect`` adds its number of detector views to ``counter[0]``
    and every ``PersonSegmenter.blobs`` its number of segmented tiles to ``counter[1]``."""
    import contextlib

    from vibe.pipeline.detector import PersonDetector, detector_views, far_views
    from vibe.pipeline.person_blobs import PersonSegmenter

    detect, blobs = PersonDetector.detect, PersonSegmenter.blobs

    def segmented(self, image_rgb, views, min_height):
        counter[1] += len(views)
        return blobs(self, image_rgb, views, min_height)

    def counted(self, image_rgb, tiles=True):
        h, w = image_rgb.shape[:2]
        views = far_views(h, w, tiles) if isinstance(tiles, float) else detector_views(
            h, w, self.config.tile_levels if tiles else 0)  # fmt: skip
        counter[0] += len(views)
        return detect(self, image_rgb, tiles)

    @contextlib.contextmanager
    def patched():
        PersonDetector.detect, PersonSegmenter.blobs = counted, segmented
        try:
            yield
        finally:
            PersonDetector.detect, PersonSegmenter.blobs = detect, blobs

    return patched()


def _cost(
    video: Path, far: float, tiles_every: int | None, blobs: bool | None = None, boxes: str | None = None
) -> dict:
    """Front-end wall and CPU seconds and detector views on ``video`` with far tiles ``far`` (the demo's threads)."""
    import time

    from vibe.pipeline.passes import StageTimer
    from vibe.pipeline.roi_stage import followed_people_stage
    from vibe.pipeline.video import VideoReader

    config = dataclasses.replace(_config(far, tiles_every, blobs=blobs, boxes=boxes), progress=False, cache=False)
    views = [0, 0]
    with _counting_views(views):
        wall, cpu = time.perf_counter(), time.process_time()
        tracks, times, _ = followed_people_stage(VideoReader(video), config, None, StageTimer())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"far_tiles": far, "frames": len(times), "tracks": len(tracks), "detector_views": views[0], "segmented_tiles": views[1],
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "cpu_ms_per_frame": round(1000 * cpu / max(len(times), 1), 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a make-synthetic --crowd folder")
    parser.add_argument("--cost", type=Path, help="instead: the front end's cost on this video, per --far")
    parser.add_argument("--far", type=float, nargs="+", default=[0.0, 0.4],
                        help="far tile sides to compare, fractions of the short side (0: no far tiles)")
    parser.add_argument("--tiles-every", type=int, default=None,
                        help="frames between tiled passes (default: the demo's)")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "bench" / "crowd")
    parser.add_argument("--jitter", type=float, nargs=2, default=None, metavar=("LIMIT", "QUANTILE"),
                        help="the body rule's jitter limit and quantile over frames (default: the demo's)")
    parser.add_argument("--blobs", action=argparse.BooleanOptionalAction, default=None,
                        help="far passes with (or --no-blobs without) the segmentation blobs "
                             "(RoiTrackingConfig.blob_proposals; default: the demo's, off)")
    parser.add_argument("--boxes", default=None, metavar="LEVELS|none",
                        help="the person detector's views on far passes (RoiTrackingConfig.box_proposals: "
                             "tile levels, or none; default: the demo's, 0)")
    parser.add_argument("--front-end", type=Path, default=None,
                        help="cache folder of the front end's output (reused when there)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, str(ROOT / "src"))
    from vibe.evaluation.crowd_bench import run_crowd_benchmark, table

    if args.cost is not None:
        for far in args.far:
            print(json.dumps(_cost(args.cost, far, args.tiles_every, args.blobs, args.boxes)))
        return 0
    if args.data is None:
        parser.error("--data or --cost is required")
    for far in args.far:
        cache = None if args.front_end is None else args.front_end / f"far{far}"
        config = _config(far, args.tiles_every, args.jitter, args.blobs, args.boxes)
        summary = run_crowd_benchmark(args.data, args.out / f"far{far}.json", config, front_end_dir=cache)
        every = summary["roi_tracking"]["tiles_every"]
        print(f"\n### far tiles: {far or 'none (the detector tile_levels=1 only)'}, tiled pass every {every} frames\n")
        print(table(summary))
        print(json.dumps({"far_tiles": far, **{k: v for k, v in summary.items() if k != "videos"}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
