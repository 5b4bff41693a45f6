"""Where a world benchmark's root drift comes from: the feet's place, or the hips' depth against the feet.

Usage::

    python benchmarks/world_drift_split.py BENCH_VIDEOS DEMO_DIR [--videos stand_10s wash_09 ...]

``BENCH_VIDEOS``: a ``vibe eval make-world`` folder; ``DEMO_DIR``: the ``demo/`` folder
``vibe eval world`` wrote beside its JSON. Reads each video's saved ``results.npz`` (the
demo's world output, its prior focal) and prints one markdown row per video:

- **drift**: the benchmark's root drift (the mid-hip's displacement from frame 0 against the
  truth's, turned by the rigid alignment of the first two frames' limbs,
  :func:`vibe.evaluation.world_metrics.root_drift`);
- **drift, cameras' turn**: the same turned by the rotation between the estimated and the true
  world frames that the two cameras give (a body turned front to back in the first frames
  turns the first alignment by up to 180°);
- **feet drift**: the same for the midpoint of both feet (mean of heel and toe): whether the
  person's place holds;
- **hips against feet along sight**: the error of the mid-hip's offset from the feet's midpoint
  along the ground's axis on the camera's line of sight (the depth a single view sees least),
  its standard deviation and range over the clip, for the network's body (as turned to the
  camera's line of sight by the world stage) and for MediaPipe's world landmarks;
- **front/back**: the share of frames whose hip line points more than 90° from the truth's
  on the ground (the body turned front to back);
- **root moved**: the largest displacement of the true mid-hip from frame 0.

docs/results.md quotes it for the standing people's drift.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tune_world import saved_runs

from vibe.evaluation import world_metrics as wm
from vibe.evaluation.world_bench import LIMBS12, _feet, _indices, _mid_hip
from vibe.geometry.cameras import ray_rotation
from vibe.pipeline.outputs import read_world


def _along_sight(up_cam: np.ndarray) -> np.ndarray:
    """``(3,)`` the ground's unit axis along the camera's optical axis, camera frame (``up_cam`` unit)."""
    along = np.array([0.0, 0.0, 1.0]) - up_cam[2] * up_cam
    return along / np.linalg.norm(along)


def _hips_over_feet(points: np.ndarray) -> np.ndarray:
    """``(T, 3)`` mid-hip minus the feet's midpoint of BlazePose-33 points ``(T, 33, 3)``."""
    return _mid_hip(points) - _feet(points).mean(axis=1)


def _heading(points: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``(T, 2)`` the hip line (left → right) on the ground plane of ``up`` ``(3,)``, unit."""
    line = points[:, _indices(("right_hip",))[0]] - points[:, _indices(("left_hip",))[0]]
    line = line - (line @ up)[:, None] * up
    return line / np.maximum(np.linalg.norm(line, axis=1, keepdims=True), 1e-9)


def _displacement_error(pred: np.ndarray, true: np.ndarray, rot: np.ndarray) -> float:
    """Largest distance (m) between displacements from frame 0 of ``pred`` (turned by ``rot``) and ``true``."""
    return float(np.linalg.norm((pred - pred[0]) @ rot.T - (true - true[0]), axis=1).max())


def split(results: Path, people: dict, gt) -> dict[str, float]:
    """The row of one video (module doc): its longest track against the ground truth ``gt``."""
    p = max(people.values(), key=lambda q: len(q["frame_ids"]))
    fids = p["frame_ids"][p["frame_ids"] < len(gt["frame_ids"])]
    n = len(fids)
    world = read_world(results)
    pred_world = p["joints3d_world"][:n].astype(np.float64)
    true_world = gt["keypoints3d_blazepose33_world"][fids]
    true_cam = gt["keypoints3d_blazepose33"][fids]
    cameras_turn = gt["cam_rotmat"][0].T @ world["R_world_cam"].T  # true world ← estimated world
    limbs = _indices(LIMBS12)
    up_cam = gt["cam_rotmat"][0][:, 1]
    along = _along_sight(up_cam)
    turn = ray_rotation(p["bbox_cxcys"][:n, :2], float(world["focal_px"]), gt["image_size"] / 2.0)
    row = {
        "drift": wm.root_drift(pred_world[:, limbs], true_world[:, limbs], _mid_hip(pred_world), _mid_hip(true_world)),
        "drift_cameras": _displacement_error(_mid_hip(pred_world), _mid_hip(true_world), cameras_turn),
        "feet_drift": _displacement_error(_feet(pred_world).mean(1), _feet(true_world).mean(1), cameras_turn),
        "root_moved": float(np.linalg.norm(_mid_hip(true_world) - _mid_hip(true_world)[0], axis=1).max()),
    }  # fmt: skip
    for label, key in (("net", "joints3d"), ("mediapipe", "landmarks_world")):
        body_cam = np.einsum("nij,nkj->nki", turn, np.asarray(p[key][:n], np.float64))
        error = (_hips_over_feet(body_cam) - _hips_over_feet(true_cam)) @ along
        row[f"{label}_std"], row[f"{label}_range"] = float(error.std()), float(np.ptp(error))
    body_cam = np.einsum("nij,nkj->nki", turn, np.asarray(p["joints3d"][:n], np.float64))
    agree = (_heading(body_cam, up_cam) * _heading(true_cam, up_cam)).sum(axis=1)
    row["front_back"] = float((agree < 0).mean())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("demo", type=Path)
    parser.add_argument("--videos", dest="names", nargs="*", default=None, help="Only these videos (stems).")
    args = parser.parse_args()
    print("| video | drift cm | drift, cameras' turn cm | feet drift cm | hips against feet along sight, network: "
          "std / range cm | the same, MediaPipe | front/back % | root moved cm |")
    print("|---|---|---|---|---|---|---|---|")
    for name, results, _, people, gt in saved_runs(args.videos, args.demo, args.names):
        r = split(results, people, gt)
        print(f"| {name} | {100 * r['drift']:.1f} | {100 * r['drift_cameras']:.1f} | {100 * r['feet_drift']:.1f} | "
              f"{100 * r['net_std']:.1f} / {100 * r['net_range']:.1f} | "
              f"{100 * r['mediapipe_std']:.1f} / {100 * r['mediapipe_range']:.1f} | {100 * r['front_back']:.0f} | "
              f"{100 * r['root_moved']:.1f} |")


if __name__ == "__main__":
    main()
