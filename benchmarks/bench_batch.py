"""Throughput of ``vibe batch``: videos per hour and frames per second, against one ``vibe demo`` per video.

Writes two sets of clips from the bundled videos into a temporary folder:

- **short**: ``--short N`` clips of ``--short-seconds`` each, cut in turn from
  ``assets/pose_1.mp4`` (576², 30 fps, one person) and
  ``assets/people_walking.mp4`` (768×432, 10 fps, two people);
- **long**: ``--long N`` videos of ``--long-seconds`` each, the same two
  videos looped;

then times, for each set, in a fresh process as a user would run it (Python
start-up and imports included), each of ``--modes``:

- ``demo``: ``vibe demo`` once per video, one after the other (what there
  was before ``vibe batch``);
- ``batch``: ``vibe batch`` with its own choice of workers and threads;
- ``batch-1x2``: ``vibe batch --workers 1 --threads 2`` (one video at a
  time, cut into two parallel time ranges);
- ``batch-2x1``: ``vibe batch --workers 2 --threads 1`` (two videos at a
  time in two spawned processes, one thread each);
- ``ray``: ``vibe batch --ray local`` (a Ray instance started on this machine:
  the single-node figure of the cluster mode).

Frames come from each run's ``meta.json``; "steady" is the batch's rate between its first and
last finished video (from the manifest), without start-up and tail. Nothing is rendered
(``--no-render``) and nothing is cached between modes. Prints a markdown
table and the load average around each run (other work on the machine shows
there). Run ``python benchmarks/bench_batch.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIBE = Path(sys.executable).with_name("vibe")
SOURCES = [ROOT / "assets" / "pose_1.mp4", ROOT / "assets" / "people_walking.mp4"]
MODES = ("demo", "batch", "batch-1x2", "batch-2x1", "ray")


def _clip(source: Path, seconds: float, offset: int, out: Path) -> Path:
    """``seconds`` of ``source`` from frame ``offset`` (the video looped as needed), re-encoded."""
    from vibe.pipeline.video import VideoReader, VideoWriter

    reader = VideoReader(source)
    frames = [image for _, _, image in reader]
    count = max(1, round(seconds * reader.fps))
    with VideoWriter(out, reader.fps, preset="veryfast") as writer:
        for k in range(count):
            writer.write(frames[(offset + k) % len(frames)])
    return out


def make_sets(folder: Path, short: int, short_s: float, long: int, long_s: float) -> dict[str, Path]:
    """The two sets of clips, one folder each."""
    sets = {}
    for name, count, seconds in (("short", short, short_s), ("long", long, long_s)):
        if count <= 0:
            continue
        sets[name] = folder / name
        sets[name].mkdir()
        for k in range(count):
            source = SOURCES[k % len(SOURCES)]
            _clip(source, seconds, 17 * k, sets[name] / f"{source.stem}_{k:03d}.mp4")
    return sets


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def time_mode(mode: str, videos: Path, out: Path, extra: list[str], limit: int | None = None) -> dict:
    """Run ``mode`` over the (first ``limit``) videos in ``videos``; wall time, videos and frames done,
    the rate once every worker is going, load averages."""
    files = sorted(videos.glob("*.mp4"))[:limit]
    if limit is not None and limit < len(sorted(videos.glob("*.mp4"))):
        videos = out.with_name(out.name + "-inputs")
        videos.mkdir()
        for video in files:
            (videos / video.name).symlink_to(video)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    if mode == "demo":
        for video in files:
            _run([str(VIBE), "demo", str(video), "--out", str(out), "--no-render", "--quiet", *extra])
    else:
        flags = {"batch": [], "batch-1x2": ["--workers", "1", "--threads", "2"],
                 "batch-2x1": ["--workers", "2", "--threads", "1"], "ray": ["--ray", "local"]}[mode]  # fmt: skip
        _run([str(VIBE), "batch", str(videos), "--out", str(out), "--no-render", "--quiet", *flags, *extra])
    wall = time.perf_counter() - start
    frames = sum(json.loads((out / v.stem / "meta.json").read_text())["video"]["frames_read"] for v in files)
    workers, shares, steady = "", {}, None
    if mode != "demo":
        records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
        workers = str(len({(r["worker"]["host"], r["worker"]["pid"]) for r in records}))
        shares = stage_shares(records)
        steady = steady_rate(records)
    return {"mode": mode, "videos": len(files), "frames": frames, "wall_s": wall, "workers": workers,
            "load": f"{load_before:.1f}→{os.getloadavg()[0]:.1f}", "shares": shares, "steady": steady}  # fmt: skip


def steady_rate(records: list[dict]) -> float | None:
    """Videos per hour between the first and the last video to finish: the rate without the start-up
    (processes, imports, model loading) and the last videos' tail (None with fewer than 4 videos)."""
    if len(records) < 4:
        return None
    ends = sorted(datetime.fromisoformat(r["finished"]).timestamp() for r in records)
    return (len(ends) - 1) / max(ends[-1] - ends[0], 1e-9) * 3600


def stage_shares(records: list[dict]) -> dict[str, float]:
    """Where the workers' time went: each stage's seconds over all videos' seconds (model loading,
    transfers, and the rest: opening the video, the frame-rate probe, writing files)."""
    total = sum(r["seconds"] for r in records)
    shares: dict[str, float] = {}
    for r in records:
        for stage, t in r["stages"].items():
            shares[stage] = shares.get(stage, 0.0) + t["seconds"]
        shares["model load"] = shares.get("model load", 0.0) + r["model_load_s"]
        shares["transfer"] = shares.get("transfer", 0.0) + sum(r["transfer_s"].values())
    shares["rest"] = total - sum(shares.values())
    return {k: v / max(total, 1e-9) for k, v in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=24, help="number of short clips")
    parser.add_argument("--short-seconds", type=float, default=3.0)
    parser.add_argument("--long", type=int, default=2, help="number of long videos")
    parser.add_argument("--long-seconds", type=float, default=60.0)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--checkpoint", type=Path, default=None, help="weights (default: the installed open model)")
    parser.add_argument("--demo-videos", type=int, default=None,
                        help="the `demo` mode on the first N videos of each set only (its rate is per video)")
    args = parser.parse_args()
    extra = ["--checkpoint", str(args.checkpoint)] if args.checkpoint else []
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        sets = make_sets(tmp, args.short, args.short_seconds, args.long, args.long_seconds)
        for name, folder in sets.items():
            for k, mode in enumerate(args.modes):  # a mode may be named twice (interleaved repeats)
                limit = args.demo_videos if mode == "demo" else None
                row = time_mode(mode, folder, tmp / f"out-{name}-{k}-{mode}", extra, limit)
                rows.append({"set": name, **row})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(f"cores: {len(os.sched_getaffinity(0))}, short: {args.short} × {args.short_seconds:g} s, "
          f"long: {args.long} × {args.long_seconds:g} s, no rendering\n")
    print("| set | mode | videos | frames | workers | wall s | videos/hour | frames/s | steady videos/hour | load avg |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        steady = f"{r['steady']:.0f}" if r["steady"] else "–"
        print(f"| {r['set']} | {r['mode']} | {r['videos']} | {r['frames']} | {r['workers'] or '–'} | {r['wall_s']:.1f} "
              f"| {r['videos'] / r['wall_s'] * 3600:.0f} | {r['frames'] / r['wall_s']:.1f} | {steady} | {r['load']} |")
    print("\nShare of the workers' time per stage (batch modes):\n")
    for r in rows:
        if r["shares"]:
            cells = ", ".join(f"{k} {v:.0%}" for k, v in sorted(r["shares"].items(), key=lambda kv: -kv[1]))
            print(f"- {r['set']}, {r['mode']}: {cells}")


if __name__ == "__main__":
    main()
