"""Latency and sustained rate of ``vibe live`` (frame in → body out), one process per case.

Each case runs ``vibe live VIDEO`` in a fresh subprocess and reads its JSON
lines: the per-frame ``latency_ms`` (from the moment the decoder hands the
frame over to the moment its line is ready), the frames processed and
dropped, the sustained rate (processed frames over the time from the first
frame's arrival to the last line) and the subprocess's peak memory.

Cases: ``realtime`` plays the file at its own rate (``--realtime``, frames
the pipeline cannot keep up with are dropped, as with a camera); ``unpaced``
feeds every frame as fast as the pipeline takes them (its throughput).
``--video assets/pose_1.mp4 --canvas 1280x720 --loops 3`` is the one-person
720p case of issue 15 (the 576² clip scaled to 720 rows on a 1280×720 frame,
looped). Run ``python benchmarks/bench_live.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench_demo import ROOT, _looped_video

# The CLI, reporting its own peak resident memory on stderr when it exits.
_CLI = """import resource, sys
try:
    from vibe.cli import app
    app()
finally:
    print("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _run_case(video: Path, realtime: bool, detect_every: int, threads: int) -> dict:
    """One ``vibe live`` run; its summary, per-frame latencies and peak RSS."""
    cmd = [sys.executable, "-c", _CLI, "live", str(video), "--device", "cpu",
           "--detect-every", str(detect_every)] + (["--realtime"] if realtime else [])  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    peak_kb = float(done.stderr.rsplit("peak_rss_kb", 1)[1].split()[0])
    records = [json.loads(line) for line in done.stdout.splitlines()]
    frames = [r for r in records if r["type"] == "frame"]
    end = records[-1]
    latency = np.array([r["latency_ms"] for r in frames])
    return {
        "frames": end["frames"], "dropped": end["dropped"], "fps": end["fps"],
        "latency_median": float(np.median(latency)), "latency_p95": float(np.percentile(latency, 95)),
        "latency_max": float(latency.max()), "people": float(np.mean([len(r["people"]) for r in frames])),
        "peak_rss_mb": peak_kb / 1024.0,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT / "assets" / "pose_1.mp4")
    parser.add_argument("--canvas", default="1280x720",
                        help="WxH: scale the video to this height, centre it (empty: as is)")
    parser.add_argument("--loops", type=int, nargs="+", default=[3], help="video repetitions per case")
    parser.add_argument("--cases", nargs="+", choices=("realtime", "unpaced"), default=["realtime", "unpaced"])
    parser.add_argument("--detect-every", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the live process (torch)")
    args = parser.parse_args()
    canvas = tuple(int(v) for v in args.canvas.split("x")) if args.canvas else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_live_") as tmp:
        for loops in args.loops:
            video = _looped_video(args.video, loops, Path(tmp), canvas)
            for case in args.cases:
                rows.append((loops, case, _run_case(video, case == "realtime", args.detect_every, args.threads)))
    print(f"video: {args.video.name}{f' on a {args.canvas} canvas' if canvas else ''}, detector every "
          f"{args.detect_every} frames, OMP threads {args.threads}\n")
    print("| loops | case | frames processed | dropped | people/frame | sustained fps | latency median ms "
          "| p95 ms | max ms | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for loops, case, r in rows:
        print(f"| {loops} | {case} | {r['frames']} | {r['dropped']} | {r['people']:.2f} | {r['fps']:.1f} | "
              f"{r['latency_median']:.1f} | {r['latency_p95']:.1f} | {r['latency_max']:.1f} | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
