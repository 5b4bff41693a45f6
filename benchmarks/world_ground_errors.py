"""Where the world stage's camera-height error comes from, per video of a world benchmark.

Usage::

    python benchmarks/world_ground_errors.py BENCH_VIDEOS DEMO_DIR [--focal prior|true|stage] [--no-scene-lines]
        [--videos ...]

``BENCH_VIDEOS``: a ``vibe eval make-world`` folder; ``DEMO_DIR``: the ``demo/`` folder
``vibe eval world`` wrote beside its JSON. The world stage runs again (the current code)
on each video's ``results.npz`` with the prior focal (``prior``: what the demo does for
a file without a focal tag) or the true one (``true``), or the saved world arrays are
read as they are (``stage``), and the error of the camera's height above the floor is
split exactly into three parts. ``--no-scene-lines``: gravity from the bodies alone (the
stage before :mod:`vibe.pipeline.scene_lines`). docs/results.md quotes it.

The fitted ground passes through the final contact points (their centroid ``c``, camera
frame) with normal ``n``: ``h = −n·c + a`` (``a``: the contact points' height above the
soles). The truth is ``h* = −n*·c* + a*`` with ``c*`` the same feet's true positions in
the same frames and ``a*`` their true height above the floor. With ``s`` the depth scale
of the estimate (median over the contact points of estimated over true distance to the
camera)::

    h − h* = −(n − n*)·c                      tilt: the ground's normal wrong
           + (s − 1)(h* − a*)                  scale: the scene too far or too near
           + [−n*·(c − s c*) + a − a*]         offset: the contacts' height beyond the scale

The scale is further split into the focal's share ``f / f*`` and the body's height
``H / H*`` (the rest of ``s`` is the pose's and the image fit's).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from tune_world import saved_runs

from vibe.body.anny import BLAZEPOSE33, Anny
from vibe.evaluation.world_bench import body_height_m
from vibe.pipeline.outputs import read_results, read_world, write_results
from vibe.pipeline.scene_lines import video_segments
from vibe.pipeline.world import FocalEstimate, WorldConfig, estimate_focal, world_stage

_FEET = [[BLAZEPOSE33.index(f"{s}_{p}") for p in ("heel", "foot_index")] for s in ("left", "right")]


def _feet(points: np.ndarray) -> np.ndarray:
    """``(T, 2, 3)`` the mean of each foot's heel and toe of BlazePose-33 points ``(T, 33, 3)``."""
    return np.stack([points[:, idx].mean(axis=1) for idx in _FEET], axis=1)


def decompose(results: Path, gt_npz: Path, body) -> dict[str, float]:
    """The camera-height error (cm) of the longest track's video and its parts (module doc)."""
    _, people = read_results(results)
    world = read_world(results)
    gt = dict(np.load(gt_npz))
    p = max(people.values(), key=lambda q: len(q["frame_ids"]))
    fids = p["frame_ids"]
    r_wc, cam = world["R_world_cam"], world["cam_position"]
    feet_cam = (_feet(p["joints3d_world"].astype(np.float64)) - cam) @ r_wc  # R^T (p_world - cam)
    r_true = gt["cam_rotmat"][0]
    feet_true = _feet(gt["keypoints3d_blazepose33_world"][fids]) @ r_true.T + gt["cam_transl"][0]
    contact = p["foot_contact"].astype(bool)
    if not contact.any():
        contact = np.ones_like(contact)
    c_est, c_true = feet_cam[contact], feet_true[contact]
    n, n_true = r_wc[1], r_true[:, 1]  # up in camera axes
    h_est = float(cam[1])
    h_true = float((-r_true.T @ gt["cam_transl"][0])[1] - gt["floor_y"])
    a_true = float(np.mean(c_true @ n_true + h_true))
    a_est = float(np.mean(c_est @ n + h_est))
    s = float(np.median(np.linalg.norm(c_est, axis=-1) / np.linalg.norm(c_true, axis=-1)))
    tilt = float(-np.mean(c_est, 0) @ (n - n_true))
    scale = (s - 1.0) * (h_true - a_true)
    offset = float(-n_true @ (np.mean(c_est, 0) - s * np.mean(c_true, 0))) + a_est - a_true
    body_ratio = body_height_m(body, np.asarray(p["shape"]).mean(0)) / body_height_m(body, gt["shape"])
    focal_ratio = float(world["focal_px"]) / float(gt["focal_px"])
    return {"height_err_cm": 100 * (h_est - h_true), "tilt_cm": 100 * tilt, "scale_cm": 100 * scale,
            "offset_cm": 100 * offset, "angle_deg": float(np.degrees(np.arccos(np.clip(n @ n_true, -1, 1)))),
            "depth_scale": s, "focal_ratio": focal_ratio, "body_ratio": body_ratio,
            "other_ratio": s / focal_ratio / body_ratio, "camera_height_m": h_true,
            "distance_m": float(np.linalg.norm(np.mean(c_true, 0)))}  # fmt: skip


def _focal(kind: str, gt, config: WorldConfig) -> FocalEstimate:
    width, height = (int(v) for v in gt["image_size"])
    if kind == "true":
        return FocalEstimate(float(gt["focal_px"]), "metadata", (0.0, 0.0))
    return estimate_focal({}, width, height, config)


def run(videos: Path, demo: Path, kind: str, names: list[str] | None, config: WorldConfig | None = None):
    """Per video: :func:`decompose` of the world stage re-run with the ``kind`` focal on the saved results."""
    body, config, rows = Anny(), config or WorldConfig(), {}
    for name, results, times, people, gt in saved_runs(videos, demo, names):
        size = tuple(int(v) for v in gt["image_size"])
        if kind == "stage":  # the demo's own world arrays, as saved
            rows[name] = decompose(results, videos / f"{name}.npz", body)
            continue
        lines = config.scene_lines
        segments = video_segments(videos / f"{name}.mp4", people, times, lines.frames, lines.refine) if lines else None
        world = world_stage(people, body, "blazepose33", size, times, _focal(kind, gt, config), float(max(size)),
                            config, segments)  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            path = write_results(Path(tmp) / "results.npz", times, people, world.arrays)
            rows[name] = decompose(path, videos / f"{name}.npz", body)
    return rows


_COLUMNS = (("height_err_cm", "height error cm", 1), ("tilt_cm", "tilt cm", 1), ("scale_cm", "scale cm", 1),
            ("offset_cm", "offset cm", 1), ("angle_deg", "ground °", 1), ("depth_scale", "depth scale", 3),
            ("focal_ratio", "focal f/f*", 3), ("body_ratio", "body height H/H*", 3),
            ("other_ratio", "rest of the scale", 3), ("camera_height_m", "true camera height m", 2),
            ("distance_m", "distance m", 2))  # fmt: skip


def table(rows: dict[str, dict]) -> str:
    """Markdown table of :func:`run`'s rows, with the mean absolute value of each column."""
    head = "| video | " + " | ".join(label for _, label, _ in _COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(_COLUMNS) + 1)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[k]:.{d}f}" for k, _, d in _COLUMNS) + " |")
    means = [f"{np.mean([abs(r[k]) for r in rows.values()]):.{d}f}" for k, _, d in _COLUMNS]
    lines.append("| mean abs | " + " | ".join(means) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("demo", type=Path)
    parser.add_argument("--focal", choices=("prior", "true", "stage"), default="prior",
                        help="prior: the stage without a focal tag; true: the video's; stage: the saved results.")
    parser.add_argument("--videos", dest="names", nargs="*", default=None, help="Only these videos (stems).")
    parser.add_argument("--no-scene-lines", action="store_true", help="Gravity from the bodies alone (as before).")
    args = parser.parse_args()
    config = WorldConfig(scene_lines=None) if args.no_scene_lines else WorldConfig()
    print(table(run(args.videos, args.demo, args.focal, args.names, config)))


if __name__ == "__main__":
    main()
