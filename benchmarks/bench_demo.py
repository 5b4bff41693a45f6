"""Per-stage speed and peak memory of the demo (``vibe.pipeline.run.run_demo``).

Runs the demo on a video (default: the bundled ``assets/people_walking.mp4``)
in a fresh subprocess per case, so each case's peak resident memory
(``ru_maxrss``) is its own, and prints a markdown table: frames, per-stage
frames per second (from ``meta.json``), end-to-end fps, peak memory.

``--loops 1 20`` also runs the video looped 20 times (written once to a
temporary file, streamed, never held), to show that memory is flat in video
length. Weights: ``--checkpoint FILE``, else the installed open weights, else
(``--random``, or when none are installed) a generator of the released open
architecture (``configs/open.yaml``) with random weights — the same cost.

``--video assets/pose_1.mp4 --canvas 1280x720`` is the one-person 720p case of the
demo issue's targets. ``--front-ends roi two`` runs each case with the one-pass
front end (people followed by their landmark model, the detector every
``--detect-every`` frames; :mod:`vibe.pipeline.roi_tracking`) and with the two-pass
one (detector + tracker, then landmarks), and prints the one pass's end-to-end
rate over the two-pass run's landmark stage (decode + BlazePose landmarks over
every person-frame, the same threads): how close the demo comes to the landmark
model alone. Run ``python benchmarks/bench_demo.py --help``; no caching between cases.

``--baseline DIR --repeats N``: an A/B on a shared machine. ``DIR`` is a
checkout of another commit (``git worktree add /tmp/base <commit>``); each
case runs N times with this tree and N times with ``DIR``'s ``src/`` and its
own copy of this script, interleaved (this, base, base, this, ...), each run
with the 1-minute load average beside it, and the medians follow the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _looped_video(src: Path, loops: int, folder: Path, canvas: tuple[int, int] | None = None) -> Path:
    """``src`` repeated ``loops`` times, streamed frame by frame into a new H.264 file.

    ``canvas=(W, H)``: each frame scaled to height ``H`` and centred on a grey
    ``W × H`` frame (e.g. the one-person 576² clip as a 1280×720 video).
    """
    import cv2
    import numpy as np

    from vibe.pipeline.video import VideoReader, VideoWriter

    reader = VideoReader(src)
    suffix = f"_{canvas[0]}x{canvas[1]}" if canvas else ""
    out = folder / f"{src.stem}{suffix}_x{loops}.mp4"
    with VideoWriter(out, reader.fps, preset="veryfast") as writer:
        for _ in range(loops):
            for _, _, image in reader:
                if canvas:
                    w, h = canvas
                    scaled = cv2.resize(image, (round(image.shape[1] * h / image.shape[0]), h))
                    frame = np.full((h, w, 3), 90, np.uint8)
                    x0 = (w - scaled.shape[1]) // 2
                    frame[:, x0 : x0 + scaled.shape[1]] = scaled
                    image = frame
                writer.write(image)
    return out


def _random_checkpoint(folder: Path) -> Path:
    """The open architecture of configs/open.yaml with random weights."""
    import torch

    from vibe.body.anny import Anny
    from vibe.config import load_config
    from vibe.models.checkpoints import save_checkpoint
    from vibe.models.vibe import VIBE
    from vibe.training.config import TrainConfig

    torch.manual_seed(0)
    model_config = load_config(TrainConfig, ROOT / "configs" / "open.yaml").model
    return save_checkpoint(folder / "random_open.pt", VIBE(model_config, Anny()))


def _worker(args: argparse.Namespace) -> None:
    """One demo run; prints a JSON line with timings and peak memory."""
    import torch

    from vibe.pipeline.people import DetectionScheduleConfig
    from vibe.pipeline.roi_tracking import RoiTrackingConfig
    from vibe.pipeline.run import DemoConfig, run_demo

    torch.set_num_threads(args.threads)
    fit = DemoConfig().smplify
    if args.fit_steps is not None:
        fit = replace(fit, num_steps=args.fit_steps)
    config = DemoConfig(
        refine=args.fit_steps != 0,
        smplify=fit,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        render=args.render,
        max_frames=args.max_frames,
        cache=False,
        progress=False,
        device=args.device,
        workers=args.workers,
        detection_schedule=DetectionScheduleConfig(
            stride=args.detect_stride, large_side=args.large_side if args.large_side > 0 else None
        ),
        roi_tracking=replace(RoiTrackingConfig(detect_every=args.detect_every),
                             **({} if args.far_tiles is None else {"far_tiles": args.far_tiles or None}))
        if args.front_end == "roi" else None,
    )
    start = time.perf_counter()
    result = run_demo(args.video, args.out, config)
    total = time.perf_counter() - start
    meta = json.loads(result.meta.read_text())
    print(json.dumps({
        "frames": meta["video"]["frames_read"],
        "people": len(result.track_ids),
        "seconds": total,
        "timings": result.timings,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "warnings": result.warnings,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT / "assets" / "people_walking.mp4")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--random", action="store_true", help="random weights of the open architecture")
    parser.add_argument("--loops", type=int, nargs="+", default=[1], help="video repetitions per case")
    parser.add_argument("--render", action="store_true", help="also render overlay.mp4")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--canvas", default=None, help="WxH: scale the video to this height, centre it on a WxH frame")
    parser.add_argument("--workers", type=int, default=0, help="landmark threads (0: one per core, at most 4)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--detect-stride", type=int, default=3, help="detector every N frames (1: every frame)")
    parser.add_argument("--large-side", type=float, default=0.45,
                        help="skip detector tiles while tracked boxes exceed this fraction of the long side (0: never)")
    parser.add_argument("--front-ends", nargs="+", choices=("roi", "two"), default=["roi"],
                        help="roi: one pass, people followed by their landmark model; "
                             "two: detector pass + landmark pass")
    parser.add_argument("--detect-every", type=int, default=15, help="one pass: a detector frame every N frames")
    parser.add_argument("--far-tiles", type=float, default=None,
                        help="one pass: far tiles' side over the short side (0: none; default: the demo's)")
    parser.add_argument("--fit-steps", type=int, default=None,
                        help="L-BFGS steps of the landmark fit (0: no fit; default: the demo's)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of another commit: each case also runs with its src/, interleaved")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each case (and tree)")
    parser.add_argument("--front-end", default="roi", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return

    from vibe.pipeline.run import default_open_weights

    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        tmp = Path(tmp)
        checkpoint = args.checkpoint
        if checkpoint is None and (args.random or not default_open_weights().exists()):
            checkpoint = _random_checkpoint(tmp)
            print("weights: random (open architecture)", file=sys.stderr)
        rows = []
        canvas = tuple(int(v) for v in args.canvas.split("x")) if args.canvas else None
        trees = [("this", ROOT)] + ([("base", args.baseline.resolve())] if args.baseline else [])
        for loops in args.loops:
            video = args.video if loops == 1 and not canvas else _looped_video(args.video, loops, tmp, canvas)
            for front in args.front_ends:
                for k in range(args.repeats):
                    for name, tree in trees if k % 2 == 0 else trees[::-1]:  # alternate which tree runs first
                        out = tmp / f"out{loops}_{name}"
                        run = _run_worker(args, tree, video, out, front, checkpoint)
                        rows.append((loops, front, run | {"tree": name}))

    stages = sorted({s for _, _, r in rows for s in r["timings"]})
    print(f"video: {args.video.name}{f' on a {args.canvas} canvas' if canvas else ''}, render: {args.render}, "
          f"threads: {args.threads}, workers: {args.workers or 'auto'}, two-pass detector stride: "
          f"{args.detect_stride}, large side: {args.large_side}; one-pass detector every {args.detect_every} frames, "
          f"far tiles {'default' if args.far_tiles is None else args.far_tiles or 'none'}; "
          f"landmark fit steps: {'default' if args.fit_steps is None else args.fit_steps}\n")
    ab = args.baseline is not None or args.repeats > 1
    print("| loops | front end | " + ("tree | load | " if ab else "") + "frames | people | "
          + " | ".join(f"{s} fps" for s in stages) + " | end-to-end fps | peak RSS MB |")
    print("|" + "---|" * (len(stages) + 6 + 2 * ab))
    for loops, front, r in rows:
        cells = [f"{r['timings'][s]['fps']:.1f}" if s in r["timings"] else "–" for s in stages]
        print(f"| {loops} | {front} | " + (f"{r['tree']} | {r['load']:.1f} | " if ab else "")
              + f"{r['frames']} | {r['people']} | " + " | ".join(cells)
              + f" | {r['frames'] / r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |")
    if ab:
        _print_medians(rows, stages)
    _print_ratios(rows)
    for loops, front, r in rows:
        for w in r["warnings"]:
            print(f"loops {loops}, {front}: {w}")


def _run_worker(args: argparse.Namespace, tree: Path, video: Path, out: Path, front: str, checkpoint) -> dict:
    """One demo run in a fresh process on ``tree``'s ``src/`` (its own copy of this script): its JSON line, the load."""
    cmd = [sys.executable, str(tree / "benchmarks" / Path(__file__).name), "--worker", "--video", str(video),
           "--out", str(out), "--threads", str(args.threads), "--device", args.device, "--workers", str(args.workers),
           "--detect-stride", str(args.detect_stride), "--large-side", str(args.large_side),
           "--front-end", front, "--detect-every", str(args.detect_every)]
    cmd += ["--far-tiles", str(args.far_tiles)] if args.far_tiles is not None else []
    cmd += ["--checkpoint", str(checkpoint)] if checkpoint else []
    cmd += ["--render"] if args.render else []
    cmd += ["--max-frames", str(args.max_frames)] if args.max_frames else []
    cmd += ["--fit-steps", str(args.fit_steps)] if args.fit_steps is not None else []
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"load": load}


def _print_medians(rows: list[tuple[int, str, dict]], stages: list[str]) -> None:
    """Per case and tree: the median of each stage's fps and of the end-to-end fps over the repeats."""
    for case in sorted({(loops, front, r["tree"]) for loops, front, r in rows}):
        runs = [r for loops, front, r in rows if (loops, front, r["tree"]) == case]
        fps = {s: statistics.median(r["timings"][s]["fps"] for r in runs if s in r["timings"]) for s in stages}
        end_to_end = statistics.median(r["frames"] / r["seconds"] for r in runs)
        loads = [r["load"] for r in runs]
        print(f"loops {case[0]}, {case[1]}, {case[2]}: median of {len(runs)}: "
              + ", ".join(f"{s} {v:.1f}" for s, v in fps.items())
              + f", end to end {end_to_end:.1f} fps (load {min(loads):.1f}-{max(loads):.1f})")


def _print_ratios(rows: list[tuple[int, str, dict]]) -> None:
    """The one pass's end-to-end rate over the two-pass run's landmark stage, per case run both ways."""
    for loops in sorted({loops for loops, _, _ in rows}):
        roi = [r for n, f, r in rows if n == loops and f == "roi"]
        two = [r for n, f, r in rows if n == loops and f == "two" and "landmarks" in r["timings"]]
        if roi and two:
            end_to_end = roi[0]["frames"] / roi[0]["seconds"]
            alone = two[0]["timings"]["landmarks"]["fps"]
            print(f"loops {loops}: one pass end to end {end_to_end:.1f} fps = {end_to_end / alone:.2f} × "
                  f"the landmark stage alone ({alone:.1f} fps)")


if __name__ == "__main__":
    main()
