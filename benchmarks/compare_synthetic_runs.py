"""Two runs of the synthetic benchmark on the same videos, compared video by video.

    python benchmarks/compare_synthetic_runs.py BEFORE.json AFTER.json --labels "two passes" "one pass"

reads the pooled JSON files that ``benchmarks/eval_synthetic_sets.py --out``
writes (e.g. the same checkpoint before and after a change of the demo's
front end), pairs the ``model`` row's per-video metrics, and prints both means
and the mean difference (after − before) with a 95 % bootstrap interval over
videos and the number of videos where "after" is better
(:func:`eval_synthetic_sets.paired`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eval_synthetic_sets import _COMPARED, paired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--labels", nargs=2, default=["before", "after"])
    parser.add_argument("--row", default="model", help="the row compared (a key of each video's metrics)")
    args = parser.parse_args()
    before = {v["video"]: v for v in json.loads(args.before.read_text())["videos"]}
    after = {v["video"]: v for v in json.loads(args.after.read_text())["videos"]}
    videos = [
        {"video": name,
         "metrics": {"after": after[name]["metrics"][args.row], "before": before[name]["metrics"][args.row]}}
        for name in sorted(before.keys() & after.keys())
        if args.row in before[name]["metrics"] and args.row in after[name]["metrics"]
    ]
    print(f"{len(videos)} videos scored in both; {args.labels[1]} − {args.labels[0]}:")
    for metric in _COMPARED:
        cmp = paired(videos, "after", "before", metric)
        if cmp is None:
            continue
        means = [sum(v["metrics"][k][metric] for v in videos) / len(videos) for k in ("before", "after")]
        print(f"{metric}: {means[0]:.2f} → {means[1]:.2f}, difference {cmp['diff']:+.2f} "
              f"[{cmp['lo']:+.2f}, {cmp['hi']:+.2f}], {args.labels[1]} better in {cmp['better']} of {cmp['videos']}")


if __name__ == "__main__":
    main()
