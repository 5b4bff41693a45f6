"""Per-video costs in a ``vibe batch`` worker: MediaPipe graphs reused or started anew, torch's threads.

One process, as a batch worker: the generator is loaded once, then every
clip runs through :func:`vibe.pipeline.batch.process_video` (the worker's
own per-video function) once in each of two cases, in alternating order so
that both see the same load. ``--compare`` picks the pair:

- ``graphs``: ``anew``, a graph pool that keeps nothing (``max_idle = 0``),
  so every time range starts its detector and every track its ``Pose``, as
  before the pool; against ``reused``, the pool a worker has (its own, kept
  from clip to clip), so after the first clip nothing starts anew (a
  ``Pose`` first forgets its person; ``pipeline/graph_pool.py``);
- ``torch-threads``: the video with torch on one thread (the batch's
  :data:`~vibe.pipeline.batch.TORCH_THREADS`) against two (torch's own
  default on 2 cores, what the batch used before), graphs reused in both.

``--compare graph-starts`` times the graphs alone instead (no clip, one
720p frame, ``--repeats`` times each, medians): a detector started and its
first detection against a reused one's detection; a ``Pose`` started and
its first frame against a forgotten one's (:meth:`~vibe.pipeline.landmarks.PoseEstimator.forget`
and its first frame) and a following one's frame; and the resident memory
each started graph adds (after the process's first graphs, which load the
native libraries).

Clips: ``--clips N`` of ``--seconds`` each cut in turn from
``assets/pose_1.mp4`` (one person) and ``assets/people_walking.mp4`` (two
people), as ``bench_batch.py`` makes them; ``--threads`` range threads per
video (the batch's default on 2 cores). No rendering, no cache. Prints each
case's median seconds per clip and per stage, graphs started per clip,
frames per second, and the paired difference per clip (first case − second)
with its mean and a 95 % interval (Student t over clips), with the load
average before and after. Run ``python benchmarks/bench_worker.py --help``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import make_sets  # noqa: E402  (the benchmarks folder is not a package)

CASES = {"graphs": ("anew", "reused"), "torch-threads": ("torch 2 threads", "torch 1 thread"), "graph-starts": ()}
_FRONT_END = ("people_landmarks", "detect_track", "landmarks")


def _run(clip: Path, out: Path, config, pool, torch_threads: int) -> dict:
    """One clip through the worker's function, ``pool`` as the process's graph pool; its timings."""
    from vibe.pipeline import batch
    from vibe.pipeline.graph_pool import use_pool

    use_pool(pool)
    batch.TORCH_THREADS = torch_threads  # read by process_video for each video
    started = pool.stats.started
    record = batch.process_video(batch.VideoJob(str(clip), clip.stem, str(out)), config)
    if record["status"] != "done":
        raise RuntimeError(f"{clip}: {record['message']}")
    stages = {k: s["seconds"] for k, s in record["stages"].items()}
    return {"seconds": record["seconds"], "frames": record["frames"], "started": pool.stats.started - started,
            "front_s": sum(v for k, v in stages.items() if k in _FRONT_END),
            "generator_s": stages.get("generator_body", 0.0)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", choices=sorted(CASES), default="graphs")
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2, help="range threads per video (the batch default on 2 cores)")
    parser.add_argument("--repeats", type=int, default=5, help="graph-starts: graphs of each kind timed")
    args = parser.parse_args()
    if args.compare == "graph-starts":
        graph_starts(args.repeats)
        return

    from vibe.pipeline.batch import TORCH_THREADS, worker_model
    from vibe.pipeline.demo_config import DemoConfig
    from vibe.pipeline.graph_pool import GraphPool

    config = DemoConfig(render=False, cache=False, progress=False, workers=args.threads, device="cpu")
    first, second = CASES[args.compare]
    if args.compare == "graphs":
        setups = {first: (GraphPool(max_idle=0), TORCH_THREADS), second: (GraphPool(), TORCH_THREADS)}
    else:
        pool = GraphPool()
        setups = {first: (pool, 2), second: (pool, TORCH_THREADS)}
    load_before = os.getloadavg()[0]
    worker_model(config)
    rows: dict[str, list[dict]] = {first: [], second: []}
    with tempfile.TemporaryDirectory(prefix="bench_worker_") as tmp:
        clips = sorted(make_sets(Path(tmp), args.clips, args.seconds, 0, 0.0)["short"].glob("*.mp4"))
        # The process's first graphs (~0.7 s: native libraries) out of the comparison; the reusing
        # pool keeps that clip's graphs, as a worker's pool after its first video.
        _run(clips[0], Path(tmp) / "warm", config, setups[second][0], TORCH_THREADS)
        for k, clip in enumerate(clips):
            for case in (first, second) if k % 2 == 0 else (second, first):
                rows[case].append(_run(clip, Path(tmp) / case.replace(" ", "_"), config, *setups[case]))
    _report(rows, args, load_before)


def _ms(run) -> tuple[float, object]:
    start = time.perf_counter()
    out = run()
    return (time.perf_counter() - start) * 1e3, out


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def graph_starts(repeats: int) -> None:
    """Per-graph costs: started anew against reused, in milliseconds, and memory per started graph."""
    from vibe.pipeline.detector import PersonDetector
    from vibe.pipeline.landmarks import PoseEstimator
    from vibe.pipeline.video import VideoReader

    root = Path(__file__).resolve().parents[1]
    person = next(iter(VideoReader(root / "assets" / "pose_1.mp4")))[2]  # 576², one person
    image = np.zeros((720, 1280, 3), np.uint8)
    image[72:648, 352:928] = person
    box = np.array([640.0, 360.0, 560.0])
    load_before = os.getloadavg()[0]
    first, _ = _ms(lambda: PersonDetector().detect(image, tiles=False))  # the native libraries load here
    rows: dict[str, list[float]] = {k: [] for k in ("detector: start", "detector: first detection",
                                                    "detector: reused, detection", "Pose: start",
                                                    "Pose: first frame", "Pose: forget", "Pose: forgotten, first frame",
                                                    "Pose: following, a frame")}  # fmt: skip
    memory: dict[str, list[float]] = {"detector": [], "Pose": []}
    kept = []  # graphs stay open so that each one's memory shows
    for _ in range(repeats):
        rss = _rss_mb()
        t, detector = _ms(PersonDetector)
        rows["detector: start"].append(t)
        rows["detector: first detection"].append(_ms(lambda: detector.detect(image, tiles=False))[0])
        rows["detector: reused, detection"].append(_ms(lambda: detector.detect(image, tiles=False))[0])
        memory["detector"].append(_rss_mb() - rss)
        rss = _rss_mb()
        t, pose = _ms(PoseEstimator)
        rows["Pose: start"].append(t)
        rows["Pose: first frame"].append(_ms(lambda: pose.estimate(image, box))[0])
        rows["Pose: following, a frame"].append(_ms(lambda: pose.estimate(image, box))[0])
        rows["Pose: forget"].append(_ms(pose.forget)[0])
        rows["Pose: forgotten, first frame"].append(_ms(lambda: pose.estimate(image, box))[0])
        memory["Pose"].append(_rss_mb() - rss)
        kept += [detector, pose]
    print(f"cores: {len(os.sched_getaffinity(0))}, {repeats} graphs of each kind, process's first detector "
          f"{first:.0f} ms, load average {load_before:.2f} → {os.getloadavg()[0]:.2f}\n")
    print("| step | median ms |\n|---|---:|")
    for name, times in rows.items():
        print(f"| {name} | {statistics.median(times):.1f} |")
    print("\n| graph | median resident memory added, MB |\n|---|---:|")
    for name, added in memory.items():
        print(f"| {name} | {statistics.median(added):.0f} |")
    for graph in kept:
        graph.close()


def _report(rows: dict[str, list[dict]], args, load_before: float) -> None:
    """The markdown table and the paired difference."""
    print(f"cores: {len(os.sched_getaffinity(0))}, {args.clips} clips × {args.seconds:g} s, {args.threads} range "
          f"threads, load average {load_before:.2f} → {os.getloadavg()[0]:.2f}\n")
    print("| case | clips | frames | median s / clip | median front end s | median generator s "
          "| graphs started / clip | frames/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for case, runs in rows.items():
        frames, seconds = sum(r["frames"] for r in runs), sum(r["seconds"] for r in runs)
        print(f"| {case} | {len(runs)} | {frames} | {statistics.median(r['seconds'] for r in runs):.3f} "
              f"| {statistics.median(r['front_s'] for r in runs):.3f} "
              f"| {statistics.median(r['generator_s'] for r in runs):.3f} "
              f"| {statistics.mean(r['started'] for r in runs):.1f} | {frames / seconds:.1f} |")
    (first, a), (second, b) = rows.items()
    for label, key in (("whole clip", "seconds"), ("front end", "front_s")):
        saved = np.array([x[key] - y[key] for x, y in zip(a, b)])
        half = _t95(len(saved)) * saved.std(ddof=1) / np.sqrt(len(saved)) if len(saved) > 1 else float("nan")
        share = saved.sum() / max(sum(x[key] for x in a), 1e-9)
        print(f"\n{label}, {first} − {second} per clip (paired): mean {saved.mean():.3f} s ± {half:.3f} (95 %), "
              f"median {np.median(saved):.3f} s; {share:.1%} of the {first} time")


def _t95(n: int) -> float:
    """Two-sided 95 % Student t quantile for ``n - 1`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


if __name__ == "__main__":
    main()
