"""The synthetic benchmark over several rendered folders, pooled, with paired intervals.

    python benchmarks/eval_synthetic_sets.py --checkpoint NEW.pt \\
        --baseline "v1=OLD.pt" --baseline "v1, no clean-up=OLD.pt,centred_sigma=0,fit_camera=false" \\
        --sets bench/synthetic_s1 bench/synthetic_s2 bench/synthetic_s3 --work bench/runs_new --out bench/pooled.json

runs :func:`vibe.evaluation.synthetic_bench.run_synthetic_benchmark` on every
folder (the demo once per video with the checkpoint, then each baseline on the
same detections and landmarks), pools the folders (frame-weighted means over
all videos) and prints the markdown rows of ``docs/results.md`` and paired
comparisons: the difference of per-video means between the model and every
other row, with a 95 % bootstrap interval over videos (10 000 resamples,
seed 0) and the number of videos where the model is better.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vibe.evaluation.report import table_header, table_row
from vibe.evaluation.synthetic_bench import parse_baselines, pool_results, run_synthetic_benchmark, write_json

# Lower is better for every metric compared but the 2D PCK.
_COMPARED = ("pa_mpjpe", "mpjpe", "accel_err", "pa_mpjpe12", "accel_err12", "pck2d", "pve_t", "height_abs_err")


def paired(videos: list[dict], row: str, other: str, metric: str, seed: int = 0) -> dict | None:
    """Mean per-video difference ``row − other`` of ``metric``, its 95 % bootstrap interval and the win count."""
    pairs = [
        (v["metrics"][row][metric], v["metrics"][other][metric])
        for v in videos
        if v["metrics"].get(row, {}).get(metric) is not None and v["metrics"].get(other, {}).get(metric) is not None
    ]
    if len(pairs) < 2:
        return None
    diff = np.array([a - b for a, b in pairs])
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(10_000, len(diff)))].mean(1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    better = int((diff > 0).sum() if metric == "pck2d" else (diff < 0).sum())
    return {"diff": float(diff.mean()), "lo": float(lo), "hi": float(hi), "better": better, "videos": len(diff)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--baseline", action="append", default=[])
    parser.add_argument("--sets", nargs="+", required=True, type=Path)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--no-per-frame", action="store_true", help="skip the checkpoint's per-frame row (saves a fit per video)")
    args = parser.parse_args()
    baselines = parse_baselines(args.baseline)
    runs = []
    for folder in args.sets:
        json_path = args.work / f"{folder.name}.json"
        if json_path.exists():  # resume: a folder already scored
            runs.append(json.loads(json_path.read_text()))
            continue
        work = args.work / folder.name
        runs.append(run_synthetic_benchmark(
            folder, args.checkpoint, json_path, work, baselines=baselines, per_frame=not args.no_per_frame
        ))
    pooled = pool_results(runs)
    write_json(pooled, args.out)
    print(table_header())
    for row in pooled["rows"]:
        print(table_row(row))
    print()
    for row in pooled["rows"][1:]:
        for metric in _COMPARED:
            cmp = paired(pooled["videos"], "model", row["key"], metric)
            if cmp is not None:
                print(f"model − {row['label']}: {metric} {cmp['diff']:+.1f} [{cmp['lo']:+.1f}, {cmp['hi']:+.1f}], "
                      f"model better in {cmp['better']} of {cmp['videos']}")  # fmt: skip


if __name__ == "__main__":
    main()
