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

from tune_cleanup import corpus_tracks, regress_and_score  # the benchmarks folder is not a package

from vibe.body.anny import Anny
from vibe.evaluation.track_regression import load_open_generator
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
    last = max(len(list(args.corpus.glob("track_*.npz"))) - args.tracks, 0)
    for track in corpus_tracks(args.corpus, skip=last):
        n = len(track["frame_ids"])
        frames += n
        for name, fit in variants.items():
            pred, metrics = regress_and_score(model, body, track, demo.centred_sigma, fit)
            errors[name].append(pred.shape[0] - track["shape"])
            pa12[name] += metrics["pa_mpjpe12"] * n
    print("phenotypes:", ", ".join(body.phenotype_labels))
    for name, diffs in errors.items():
        d = np.array(diffs)
        print(f"{name:22s} PA-MPJPE12 {pa12[name] / frames:6.1f}  |error| {np.abs(d).mean(0).round(2)}  bias {d.mean(0).round(2)}")


if __name__ == "__main__":
    main()
