"""Choose the demo's clean-up (landmark fit, centred smoothing) on training-subject renders, never on the benchmark.

    python benchmarks/tune_cleanup.py --checkpoint CKPT --corpus runs/landmark_corpus --sigmas 0 1 2 3 4
    python benchmarks/tune_cleanup.py --checkpoint CKPT --corpus runs/landmark_corpus --sigmas 3 \\
        --world-weights off 0 1e4 3e4 --max-tracks 40
    python benchmarks/tune_cleanup.py --checkpoint CKPT --corpus runs/landmark_corpus --sigmas 3 \\
        --world-weights 1e4 3e4 --plane-weights 1 0.3 0.1

runs the generator on every corpus track exactly as the demo does
(:func:`vibe.evaluation.track_regression.regress_track` with the demo's
windows) and scores, for each variant, the 14 evaluation joints (PA-MPJPE,
MPJPE, ACCEL_ERR), the 12 limb joints (PA-MPJPE12, ACCEL_ERR12) against the
rendered ground truth, the 2D PCK@0.1 of the BlazePose points in the image
(``mp_pck2d``: MediaPipe's own landmarks), frame-weighted over tracks, and the
fit's time per frame. A variant is a ``centred_sigma`` and a landmark fit:
``off`` (none) or the weight of its 3D world-landmark term (``0``: 2D landmarks
only) and the weight of that term's image-plane residuals. The corpus
holds MediaPipe's real answers on the training subjects' motion, so the choice
is made on data the benchmark never sees.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vibe.body.anny import Anny
from vibe.evaluation.synthetic_bench import posed_eval14
from vibe.evaluation.synthetic_scoring import body_metrics, pck2d
from vibe.evaluation.track_regression import TrackPrediction, load_open_generator, regress_track
from vibe.fitting.temporal_smplify import SMPLifyConfig
from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.track_fit import LandmarkFit

KEYS = ("pa_mpjpe", "mpjpe", "accel_err", "pa_mpjpe12", "accel_err12", "pck2d", "mp_pck2d", "fit_ms")
Variant = tuple[float, str, float]  # (centred sigma, world weight or "off", image-plane weight)


def _refine_config(world_weight: str, plane_weight: float, base: SMPLifyConfig) -> SMPLifyConfig | None:
    """``"off"`` → no fit; a number → the demo's fit settings with that 3D-term weight and plane weight."""
    if world_weight == "off":
        return None
    return dataclasses.replace(base, world_weight=float(world_weight), world_plane_weight=plane_weight)


def _pck_in_image(pred_px: np.ndarray, track: dict) -> float:
    """PCK@0.1 of ``(n, 33, 2)`` image points against the track's rendered ones that fall inside the image."""
    truth = track["keypoints2d"].astype(np.float64)
    size = track["image_size"].astype(np.float64)
    visible = ((truth >= 0) & (truth < size)).all(-1)
    return pck2d(np.asarray(pred_px, np.float64), truth, visible)


def corpus_tracks(corpus: Path, skip: int = 0, limit: int | None = None) -> Iterator[dict]:
    """The corpus tracks (``track_*.npz`` in name order, after the first ``skip``, at most ``limit``) of ≥ 3 frames."""
    for path in sorted(corpus.glob("track_*.npz"))[skip:][:limit]:
        with np.load(path) as npz:
            track = dict(npz)
        if len(track["frame_ids"]) >= 3:
            yield track


def regress_and_score(
    model, body: Anny, track: dict, centred_sigma: float, refine: SMPLifyConfig | None
) -> tuple[TrackPrediction, dict[str, float]]:
    """One corpus track through the demo's regression (windows, clean-up, ``refine`` fit), its 3D metrics
    and ``fit_ms``, the regression's time per frame."""
    size = tuple(int(v) for v in track["image_size"])
    start = time.perf_counter()
    pred = regress_track(
        model, track["landmarks_img"], track["bbox_cxcys"], size, DemoConfig().windows,
        landmarks_world=track["world"], frame_ids=track["frame_ids"], centred_sigma=centred_sigma,
        refine=None if refine is None else LandmarkFit(refine),  # the core points, as when it was tuned
    )  # fmt: skip
    fit_ms = 1000.0 * (time.perf_counter() - start) / len(track["frame_ids"])
    joints = posed_eval14(body, pred.pose_rotmat, pred.shape)
    metrics = body_metrics(joints, track["joints3d_eval14"].astype(np.float64), track["frame_ids"])
    return pred, {**metrics, "fit_ms": fit_ms}


def score_variants(
    checkpoint: str,
    corpus: Path,
    sigmas: list[float],
    world_weights: list[str],
    max_tracks: int | None,
    skip_tracks: int = 0,
    fit_steps: int | None = None,
    plane_weights: tuple[float, ...] = (1.0,),
) -> dict[Variant, dict]:
    """Frame-weighted metrics per ``(sigma, world weight, plane weight)`` over the corpus tracks (after the first ``skip_tracks``)."""
    body = Anny()
    model = load_open_generator(checkpoint, body)
    demo = DemoConfig()
    base = demo.smplify if fit_steps is None else dataclasses.replace(demo.smplify, num_steps=fit_steps)
    variants = list(itertools.product(sigmas, world_weights, plane_weights))
    sums: dict[Variant, dict[str, float]] = {v: {} for v in variants}
    frames = 0
    for track in corpus_tracks(corpus, skip_tracks, max_tracks):
        n = len(track["frame_ids"])
        frames += n
        for variant in variants:
            sigma, weight, plane = variant
            pred, metrics = regress_and_score(model, body, track, sigma, _refine_config(weight, plane, base))
            metrics["pck2d"] = _pck_in_image(pred.joints2d_img, track)
            metrics["mp_pck2d"] = _pck_in_image(track["landmarks_img"][..., :2], track)
            for key, value in metrics.items():
                sums[variant][key] = sums[variant].get(key, 0.0) + value * n
    return {v: {k: s / frames for k, s in m.items()} for v, m in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0, 4.0])
    parser.add_argument("--world-weights", nargs="+", default=["off"], help="'off' (no landmark fit) or numbers")
    parser.add_argument("--plane-weights", type=float, nargs="+", default=[1.0], help="the 3D term's x/y weight")
    parser.add_argument("--fit-steps", type=int, default=None, help="L-BFGS steps of the fit (default: the demo's)")
    parser.add_argument("--max-tracks", type=int, default=None)
    parser.add_argument(
        "--skip-tracks", type=int, default=0,
        help="score only later tracks (e.g. those rendered after training read the corpus)",
    )
    args = parser.parse_args()
    results = score_variants(
        args.checkpoint, args.corpus, args.sigmas, args.world_weights, args.max_tracks, args.skip_tracks,
        args.fit_steps, tuple(args.plane_weights),
    )  # fmt: skip
    print("sigma  fit(world)  plane  " + "  ".join(f"{k:>11}" for k in KEYS))
    for (sigma, weight, plane), metrics in results.items():
        row = "  ".join(f"{metrics.get(k, float('nan')):11.1f}" for k in KEYS)
        print(f"{sigma:5.1f}  {weight:>10}  {plane:5.2f}  {row}")


if __name__ == "__main__":
    main()
