"""Does the landmark fit get the body's shape right? Phenotype errors on landmark-corpus tracks (training subjects).

    python benchmarks/shape_fit.py --corpus runs/landmark_corpus --tracks 15

runs the generator on the last ``--tracks`` corpus tracks as the demo does
(:func:`vibe.evaluation.track_regression.regress_track`) without the fit, with
the demo's fit, with a 10× shape prior and with the shape kept from the network
(``fit_shape=False``), and prints PA-MPJPE12 (frame-weighted) and, per
phenotype value, the mean absolute error and the mean signed error (bias)
against the rendered body's phenotypes.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from vibe.body.anny import Anny
from vibe.evaluation.synthetic_bench import posed_eval14
from vibe.evaluation.synthetic_scoring import body_metrics
from vibe.evaluation.track_regression import load_open_generator, regress_track
from vibe.pipeline.demo_config import DemoConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--checkpoint", default="src/vibe/resources/weights/open_anny.pt")
    parser.add_argument("--tracks", type=int, default=15)
    args = parser.parse_args()
    body = Anny()
    model = load_open_generator(args.checkpoint, body)
    demo = DemoConfig()
    variants = {
        "network only": None,
        "fit (demo)": demo.smplify,
        "fit, shape prior x10": dataclasses.replace(demo.smplify, shape_prior_weight=10 * demo.smplify.shape_prior_weight),
        "fit, network's shape": dataclasses.replace(demo.smplify, fit_shape=False),
    }
    errors: dict[str, list[np.ndarray]] = {k: [] for k in variants}
    pa12 = dict.fromkeys(variants, 0.0)
    frames = 0
    for path in sorted(args.corpus.glob("track_*.npz"))[-args.tracks :]:
        track = dict(np.load(path))
        n = len(track["frame_ids"])
        if n < 3:
            continue
        frames += n
        size = tuple(int(v) for v in track["image_size"])
        for name, fit in variants.items():
            pred = regress_track(
                model, track["landmarks_img"], track["bbox_cxcys"], size, demo.windows,
                landmarks_world=track["world"], frame_ids=track["frame_ids"], centred_sigma=demo.centred_sigma, refine=fit,
            )  # fmt: skip
            errors[name].append(pred.shape[0] - track["shape"])
            joints = posed_eval14(body, pred.pose_rotmat, pred.shape)
            pa12[name] += body_metrics(joints, track["joints3d_eval14"].astype(np.float64), track["frame_ids"])["pa_mpjpe12"] * n
    print("phenotypes:", ", ".join(body.phenotype_labels))
    for name, diffs in errors.items():
        d = np.array(diffs)
        print(f"{name:22s} PA-MPJPE12 {pa12[name] / frames:6.1f}  |error| {np.abs(d).mean(0).round(2)}  bias {d.mean(0).round(2)}")


if __name__ == "__main__":
    main()
