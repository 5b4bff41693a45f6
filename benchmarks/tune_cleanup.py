"""Choose the demo's centred smoothing on training-subject renders (a landmark corpus), never on the benchmark.

    python benchmarks/tune_cleanup.py --checkpoint CKPT --corpus runs/landmark_corpus --sigmas 0 1 2 3 4

runs the generator on every corpus track exactly as the demo does
(:func:`vibe.evaluation.track_regression.regress_track` with the demo's
windows) and scores, for each ``centred_sigma``, the 14 evaluation joints
(PA-MPJPE, MPJPE, ACCEL_ERR) and the 12 limb joints (PA-MPJPE12,
ACCEL_ERR12) against the rendered ground truth, frame-weighted over tracks.
The corpus holds MediaPipe's real answers on the training subjects' motion,
so the choice is made on data the benchmark never sees.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vibe.body.anny import Anny
from vibe.evaluation.synthetic_bench import posed_eval14
from vibe.evaluation.synthetic_scoring import body_metrics
from vibe.evaluation.track_regression import load_open_generator, regress_track
from vibe.pipeline.demo_config import DemoConfig


def score_sigmas(
    checkpoint: str, corpus: Path, sigmas: list[float], max_tracks: int | None, skip_tracks: int = 0
) -> dict[float, dict]:
    """Frame-weighted metrics per sigma over the corpus tracks (after the first ``skip_tracks``)."""
    body = Anny()
    model = load_open_generator(checkpoint, body)
    windows = DemoConfig().windows
    sums: dict[float, dict[str, float]] = {s: {} for s in sigmas}
    frames = 0
    paths = sorted(corpus.glob("track_*.npz"))[skip_tracks:]
    for path in paths[:max_tracks]:
        with np.load(path) as npz:
            track = dict(npz)
        if len(track["frame_ids"]) < 3:
            continue
        size = tuple(int(v) for v in track["image_size"])
        n = len(track["frame_ids"])
        frames += n
        for sigma in sigmas:
            pred = regress_track(
                model, track["landmarks_img"], track["bbox_cxcys"], size, windows,
                landmarks_world=track["world"], frame_ids=track["frame_ids"], centred_sigma=sigma,
            )  # fmt: skip
            joints = posed_eval14(body, pred.pose_rotmat, pred.shape)
            metrics = body_metrics(joints, track["joints3d_eval14"].astype(np.float64), track["frame_ids"])
            for key, value in metrics.items():
                sums[sigma][key] = sums[sigma].get(key, 0.0) + value * n
    return {s: {k: v / frames for k, v in m.items()} for s, m in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0, 4.0])
    parser.add_argument("--max-tracks", type=int, default=None)
    parser.add_argument(
        "--skip-tracks", type=int, default=0,
        help="score only later tracks (e.g. those rendered after training read the corpus)",
    )
    args = parser.parse_args()
    results = score_sigmas(args.checkpoint, args.corpus, args.sigmas, args.max_tracks, args.skip_tracks)
    keys = ("pa_mpjpe", "mpjpe", "accel_err", "pa_mpjpe12", "accel_err12")
    print("sigma  " + "  ".join(f"{k:>11}" for k in keys))
    for sigma, metrics in results.items():
        print(f"{sigma:5.1f}  " + "  ".join(f"{metrics.get(k, float('nan')):11.1f}" for k in keys))


if __name__ == "__main__":
    main()
