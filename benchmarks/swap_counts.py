"""Frames whose landmarks read left and right the wrong way round, per body group, on rendered sets.

    python benchmarks/swap_counts.py WORK/SET BENCH/SET [WORK/SET BENCH/SET ...]

``WORK/SET`` is a set's work folder of ``benchmarks/eval_synthetic_sets.py``
(``video_XXX/results.npz``; a baseline's is ``WORK/SET/baselines/NAME``),
``BENCH/SET`` the rendered set (``video_XXX.npz`` with the truth). For the
longest track of each video (the benchmark's), a group (torso: shoulders and
hips; arms: elbows and wrists; legs: knees and ankles) counts as exchanged in
a frame when its ``landmarks_img`` points, left and right exchanged, sit at
least ``--margin`` × the true box side closer to the true points than as
read. ``results.npz`` keeps the landmarks the body was fitted to: with the
demo's ``label_swaps`` on, those after the repair (:mod:`vibe.pipeline.label_swaps`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vibe.body.anny import BLAZEPOSE33
from vibe.body.joint_sets import flip_permutation

FLIP = np.asarray(flip_permutation(BLAZEPOSE33))
GROUPS: dict[str, list[int]] = {
    name: [BLAZEPOSE33.index(f"{side}_{part}") for part in parts for side in ("left", "right")]
    for name, parts in (("torso", ("shoulder", "hip")), ("arms", ("elbow", "wrist")), ("legs", ("knee", "ankle")))
}


def exchanged_frames(results: Path, truth: Path, margin: float) -> dict[str, np.ndarray]:
    """Per group, ``(n,)`` bool over the frames the longest track shares with the truth."""
    gt, res = np.load(truth), np.load(results)
    tid = max(res["track_ids"], key=lambda t: len(res[f"track{t}/frame_ids"]))
    _, pi, gi = np.intersect1d(res[f"track{tid}/frame_ids"], gt["frame_ids"], return_indices=True)
    read = res[f"track{tid}/landmarks_img"][pi][..., :2].astype(np.float64)  # (n, 33, 2)
    true = gt["keypoints2d_blazepose33"][gi]
    side = np.ptp(true, axis=1).max(-1)  # (n,) the true box side
    out = {}
    for name, idx in GROUPS.items():
        as_read = np.linalg.norm(read[:, idx] - true[:, idx], axis=-1).mean(1) / side
        other_way = np.linalg.norm(read[:, FLIP[idx]] - true[:, idx], axis=-1).mean(1) / side
        out[name] = other_way < as_read - margin
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path, nargs="+", help="WORK/SET BENCH/SET, repeated")
    parser.add_argument("--margin", type=float, default=0.02)
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give WORK/SET BENCH/SET pairs")
    totals, frames = dict.fromkeys(GROUPS, 0), 0
    for work, bench in zip(args.pairs[::2], args.pairs[1::2]):
        for results in sorted(work.glob("video_*/results.npz")):
            if not np.load(results)["track_ids"].size:
                continue
            counts = exchanged_frames(results, bench / f"{results.parent.name}.npz", args.margin)
            n = len(next(iter(counts.values())))
            frames += n
            for name, hit in counts.items():
                totals[name] += int(hit.sum())
            print(bench.name, results.parent.name, n, *(f"{k} {int(v.sum())}" for k, v in counts.items()))
    print(f"all: {frames} frames;", ", ".join(f"{k} {v}" for k, v in totals.items()))


if __name__ == "__main__":
    main()
