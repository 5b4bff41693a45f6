"""How many bodies the demo invents on videos without people, and whether it still finds real ones.

Renders people-free clips (:mod:`vibe.evaluation.no_people`: table-top
objects, a textured room, a hand reaching in), runs the demo on each with the
body-presence rule off, and applies the rule and the duplicate check
(:mod:`vibe.pipeline.person_filter`) to every candidate track's landmarks
afterwards — the same decisions the demo makes — so one run gives the
numbers with and without them. The bundled people
videos (``assets/``) and rendered people (the synthetic benchmark's videos,
``--synthetic-videos``: Anny bodies from any side, 640×360) are run the same
way: their people must stay.

Prints one JSON line per clip and a summary table (markdown) for docs/results.md::

    .venv/bin/python benchmarks/bench_phantoms.py --seeds 0 1 2 --frames 75
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _candidates(video: Path, out: Path, max_frames: int | None) -> tuple[dict, float]:
    """Every candidate track's ``(frame_ids (n,), landmarks_img (n, 33, 3), found (n,))``, rule off; and the fps."""
    from vibe.pipeline.outputs import read_results
    from vibe.pipeline.person_filter import BodyPresenceConfig
    from vibe.pipeline.run import DemoConfig, run_demo

    config = DemoConfig(render=False, progress=False, cache=False, max_frames=max_frames,
                        presence=BodyPresenceConfig(enabled=False))  # fmt: skip
    result = run_demo(video, out, config)
    _, people = read_results(result.results)
    candidates = {
        tid: (p["frame_ids"], p["landmarks_img"], np.isfinite(p["landmarks_img"][:, :, 0]).all(axis=1))
        for tid, p in people.items()
    }
    return candidates, result.timing.fps


def _judge(candidates, config, fps: float) -> dict:
    from vibe.pipeline.person_filter import body_frames, landmark_jitter, select_people

    kept, rejected = select_people(candidates, config, fps)  # as run_demo decides
    tracks = {
        str(t): {"frames": len(found), "body_fraction": round(float(body_frames(lm, found, config).mean()), 3),
                 "jitter": landmark_jitter(lm, found, config.jitter_quantile), "rejected": rejected.get(t)}
        for t, (_, lm, found) in candidates.items()
    }  # fmt: skip
    n = len(candidates)
    return {"candidates": n, "bodies": n - len(rejected), "rejected": len(rejected), "tracks": tracks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--frames", type=int, default=75, help="frames per people-free clip (25 fps)")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--people-frames", type=int, default=150, help="frames of each bundled people video")
    parser.add_argument("--synthetic-videos", type=int, default=0, help="also this many rendered people videos")
    parser.add_argument("--kinds", nargs="+", default=None, help="people-free kinds to run (default: all)")
    parser.add_argument("--no-people-videos", action="store_true", help="skip the bundled people videos")
    args = parser.parse_args()

    from vibe.evaluation.no_people import KINDS, write_no_people_video
    from vibe.pipeline.person_filter import BodyPresenceConfig

    width, height = (int(v) for v in args.size.split("x"))
    rule = BodyPresenceConfig()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_phantoms_") as tmp:
        tmp = Path(tmp)
        clips = [
            (kind, seed, write_no_people_video(tmp / f"{kind}_{seed}.mp4", kind, width, height, args.frames, 25.0, seed))
            for kind in (args.kinds or KINDS) for seed in args.seeds
        ]  # fmt: skip
        if not args.no_people_videos:
            clips += [("people", None, ROOT / "assets" / name) for name in ("pose_1.mp4", "people_walking.mp4")]
        if args.synthetic_videos:
            from vibe.evaluation.synthetic_make import make_synthetic_benchmark

            motion = ROOT / "src" / "vibe" / "resources" / "motion" / "cmu_anny.npz"
            rendered = make_synthetic_benchmark(motion, tmp / "synthetic", n_videos=args.synthetic_videos, seconds=3.0)
            clips += [("rendered people", None, path) for path in rendered]
        for kind, seed, video in clips:
            limit = args.people_frames if kind == "people" else None
            candidates, fps = _candidates(video, tmp / "out", limit)
            row = {"clip": video.name, "kind": kind, "seed": seed,
                   "without_rule": len(candidates), "with_rule": _judge(candidates, rule, fps)}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)

    print("\n| clips | videos | candidate tracks (= bodies without the rule) | bodies with the rule | videos with a body |")
    print("|---|---|---|---|---|")
    for kind in (*KINDS, "people", "rendered people"):
        sel = [r for r in rows if r["kind"] == kind]
        if not sel:
            continue
        cand = sum(r["without_rule"] for r in sel)
        bodies = sum(r["with_rule"]["bodies"] for r in sel)
        with_body = sum(r["with_rule"]["bodies"] > 0 for r in sel)
        print(f"| {kind} | {len(sel)} | {cand} | {bodies} | {with_body} / {len(sel)} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
