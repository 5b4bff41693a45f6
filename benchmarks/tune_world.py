"""The world stage's options compared on a world benchmark's saved demo results (no demo re-run).

Usage::

    python benchmarks/tune_world.py BENCH_VIDEOS DEMO_DIR [--videos stand_10s walk_low ...] [--focal true|prior]
        [--variants default "LSD segments as found"]

``BENCH_VIDEOS``: a ``vibe eval make-world`` folder; ``DEMO_DIR``: the ``demo/``
folder ``vibe eval world`` wrote beside its JSON. For each variant the world
stage runs again on every video's ``results.npz`` with the video's true focal
(``--focal prior``: the demo's prior, as for a file without a focal tag),
and the mean absolute metrics over the videos are printed (one line per
variant), with the ground angle, the camera-height error and root drift per video. docs/results.md
quotes it for the choice of ``contact_speed_box_s``, ``accel_m_s2``, ``ray_correction``,
``landmark_vertical``, ``support_rounds``, ``standing_min_s``, ``scene_lines`` (and its
``refine``), ``lowest_sole`` and ``below_weight``. The results must hold
``landmarks_world`` (a demo run since that array was added) for the landmark
vertical to count.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from vibe.body.anny import Anny
from vibe.evaluation.world_bench import score_world_video
from vibe.geometry.trajectory import TrajectoryWeights
from vibe.pipeline.outputs import read_results, write_results
from vibe.pipeline.scene_lines import SceneLinesConfig, video_segments
from vibe.pipeline.world import FocalEstimate, WorldConfig, estimate_focal, world_stage

KEYS = ("w_mpjpe_mm", "wa_mpjpe_mm", "root_drift_cm", "foot_sliding_cm", "jitter_m_s3", "ground_angle_deg",
        "ground_height_err_cm")  # fmt: skip

VARIANTS = {
    "default": WorldConfig(),
    "no scene lines (gravity from the bodies)": WorldConfig(scene_lines=None),
    "no landmark vertical": WorldConfig(landmark_vertical=False),
    "no support (feet may sink)": WorldConfig(support_rounds=0),
    "no standing (root depth free)": WorldConfig(standing_min_s=None),
    "none of the three (the stage before)": WorldConfig(landmark_vertical=False, support_rounds=0,
                                                         standing_min_s=None),
    "contact_speed_box_s=0.3": WorldConfig(contact_speed_box_s=0.3),
    "accel_m_s2=2": WorldConfig(weights=TrajectoryWeights(accel_m_s2=2.0)),
    "0.3 and 2 (before tuning)": WorldConfig(contact_speed_box_s=0.3, weights=TrajectoryWeights(accel_m_s2=2.0)),
    "no ray correction": WorldConfig(ray_correction=False),
    "prior_spread_m=1.0": WorldConfig(prior_spread_m=1.0),
    "ground through the mean soles": WorldConfig(lowest_sole=False),
    "every plane point counted": WorldConfig(below_weight=0.0),
    "LSD segments as found": WorldConfig(scene_lines=SceneLinesConfig(refine=False)),
    "before (LSD segments as found, the mean soles, every plane point counted)": WorldConfig(
        scene_lines=SceneLinesConfig(refine=False), lowest_sole=False, below_weight=0.0),
}


def saved_runs(videos: Path, demo: Path, names: list[str] | None):
    """The demo's saved results with someone in them: ``(name, results path, frame times, people, ground truth)``."""
    for results in sorted(demo.glob("*/results.npz")):
        name = results.parent.name
        if names and name not in names:
            continue
        times, people = read_results(results)
        if people:
            yield name, results, times, people, np.load(videos / f"{name}.npz")


def score(config: WorldConfig, videos: Path, demo: Path, names: list[str] | None, body: Anny,
          focal_kind: str = "true") -> dict[str, dict]:  # fmt: skip
    """Per video: the world metrics of the world stage run with ``config`` and the true (or the prior) focal."""
    rows = {}
    for name, _, times, people, gt in saved_runs(videos, demo, names):
        width, height = (int(v) for v in gt["image_size"])
        focal = FocalEstimate(float(gt["focal_px"]), "metadata", (0.0, 0.0))
        if focal_kind == "prior":
            focal = estimate_focal({}, width, height, config)
        lines = config.scene_lines
        segments = video_segments(videos / f"{name}.mp4", people, times, lines.frames, lines.refine) if lines else None
        world = world_stage(people, body, "blazepose33", (width, height), times, focal, float(max(width, height)),
                            config, segments)  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            path = write_results(Path(tmp) / "results.npz", times, people, world.arrays)
            rows[name] = score_world_video(path, videos / f"{name}.npz")["world"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("demo", type=Path)
    parser.add_argument("--videos", dest="names", nargs="*", default=None, help="Only these videos (stems).")
    parser.add_argument("--focal", choices=("true", "prior"), default="true", help="The focal the stage is given.")
    parser.add_argument("--variants", nargs="*", default=None, help="Only these variants (labels).")
    args = parser.parse_args()
    body = Anny()
    for label, config in VARIANTS.items():
        if args.variants and label not in args.variants:
            continue
        rows = score(dataclasses.replace(config), args.videos, args.demo, args.names, body, args.focal)
        means = {k: np.nanmean([abs(r[k]) for r in rows.values()]) for k in KEYS}
        within = sum(abs(r["ground_height_err_cm"]) <= 5.0 for r in rows.values())
        per_video = {k: {name: round(r[k], 1) for name, r in rows.items()}
                     for k in ("ground_angle_deg", "ground_height_err_cm", "root_drift_cm")}  # fmt: skip
        print(f"{label:28s} " + " ".join(f"{k}={v:.2f}" for k, v in means.items())
              + f" height within 5 cm {within}/{len(rows)}"
              + f" | ground ° {per_video['ground_angle_deg']} | camera height error cm "
              f"{per_video['ground_height_err_cm']} | root drift cm {per_video['root_drift_cm']}")


if __name__ == "__main__":
    main()
