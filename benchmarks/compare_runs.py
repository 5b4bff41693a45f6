"""Paired comparison of one row across two pooled benchmark runs (e.g. the same model before and after a code change).

    python benchmarks/compare_runs.py AFTER.json BEFORE.json [--row model] [--before-row model]

Both files are outputs of ``benchmarks/eval_synthetic_sets.py`` (``--out``) on
the same rendered sets. Videos pair by set folder and file name; for each
metric the script prints both pooled means (frame-weighted, as the tables) and
the mean per-video difference AFTER − BEFORE with its 95 % bootstrap interval
and the number of videos where AFTER is better (as ``eval_synthetic_sets``
prints within one run). Code changes that are not options (the demo's own
clean-up, say) are compared this way: the same landmarks, two code versions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eval_synthetic_sets import _COMPARED, paired

from vibe.evaluation.synthetic_scoring import aggregate


def _key(video: dict) -> str:
    """A video's identity across runs: its set folder and file name."""
    return f"{Path(video.get('bench_dir', '')).name}/{video['video']}"


def merged_videos(after: dict, before: dict, row: str, before_row: str) -> list[dict]:
    """Videos of both runs with ``row`` of AFTER as ``"after"`` and ``before_row`` of BEFORE as ``"before"``."""
    earlier = {_key(v): v for v in before["videos"]}
    videos = []
    for v in after["videos"]:
        other = earlier.get(_key(v))
        if other is None or row not in v["metrics"] or before_row not in other["metrics"]:
            continue
        metrics = {"after": v["metrics"][row], "before": other["metrics"][before_row]}
        videos.append({"video": _key(v), "n_matched": v["n_matched"], "metrics": metrics})
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("after", type=Path)
    parser.add_argument("before", type=Path)
    parser.add_argument("--row", default="model", help="row key in AFTER (e.g. model, baseline:NAME)")
    parser.add_argument("--before-row", default=None, help="row key in BEFORE (default: --row)")
    args = parser.parse_args()
    after, before = (json.loads(p.read_text()) for p in (args.after, args.before))
    videos = merged_videos(after, before, args.row, args.before_row or args.row)
    if not videos:
        raise SystemExit("no video has both rows")
    means = {side: aggregate(videos, side)[0] for side in ("after", "before")}
    print(f"{len(videos)} videos paired")
    for metric in _COMPARED:
        cmp = paired(videos, "after", "before", metric)
        if cmp is None:
            continue
        print(f"{metric}: {means['after'][metric]:.2f} vs {means['before'][metric]:.2f}; after − before "
              f"{cmp['diff']:+.2f} [{cmp['lo']:+.2f}, {cmp['hi']:+.2f}], after better in {cmp['better']} of {cmp['videos']}")  # fmt: skip


if __name__ == "__main__":
    main()
