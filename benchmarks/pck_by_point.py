"""2D PCK per BlazePose point on a rendered set: the demo's body against MediaPipe's landmarks.

    python benchmarks/pck_by_point.py WORK/SET BENCH/SET

``WORK/SET`` is a set's work folder of ``benchmarks/eval_synthetic_sets.py``
(``video_XXX/results.npz`` per video, the model row; a baseline's folder is
``WORK/SET/baselines/NAME``), ``BENCH/SET`` the rendered set
(``video_XXX.npz`` with the truth). For every visible true point, the body's
``joints2d_img`` and MediaPipe's ``landmarks_img`` count as correct within
0.1 × the box of the visible true points
(:func:`~vibe.evaluation.synthetic_scoring.pck2d_hits`, the benchmark's ``pck2d``); printed per point and
overall, so a gap to MediaPipe can be traced to the points that make it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vibe.body.anny import BLAZEPOSE33
from vibe.evaluation.synthetic_scoring import pck2d_hits


def video_hits(results: Path, truth: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visible ``(n, 33)``, body hits ``(n, 33)``, MediaPipe hits ``(n, 33)`` of one video (the benchmark's ``pck2d``)."""
    gt, res = np.load(truth), np.load(results)
    track = f"track{res['track_ids'][0]}"
    rows = np.searchsorted(gt["frame_ids"], res[f"{track}/frame_ids"])
    points_gt, visible = gt["keypoints2d_blazepose33"][rows], gt["visible_blazepose33"][rows]
    body = pck2d_hits(res[f"{track}/joints2d_img"], points_gt, visible)
    landmarks = pck2d_hits(res[f"{track}/landmarks_img"][..., :2], points_gt, visible)  # NaN landmarks: misses
    return visible, body, landmarks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("bench", type=Path)
    args = parser.parse_args()
    hits = [video_hits(r, args.bench / f"{r.parent.name}.npz") for r in sorted(args.work.glob("video_*/results.npz"))]
    visible, body, landmarks = (np.concatenate(parts) for parts in zip(*hits))
    print(f"{'point':<18} {'body %':>7} {'MediaPipe %':>12}")
    for k, name in enumerate(BLAZEPOSE33):
        seen = visible[:, k]
        print(f"{name:<18} {100 * body[seen, k].mean():>7.1f} {100 * landmarks[seen, k].mean():>12.1f}")
    print(f"{'all':<18} {100 * body[visible].mean():>7.1f} {100 * landmarks[visible].mean():>12.1f}")


if __name__ == "__main__":
    main()
