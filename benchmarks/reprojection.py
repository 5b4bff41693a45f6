"""Does the mesh sit on the person? The body's own landmarks against the detected ones, on real video.

    python benchmarks/reprojection.py VIDEO... [--checkpoint CKPT] [--json OUT]

runs ``vibe demo`` (no rendering) on each video and compares, per track and
frame, the body's BlazePose-33 points reprojected into the image
(``joints2d_img``) with the landmarks MediaPipe detected (``landmarks_img``),
on the points whose definitions agree between Anny and MediaPipe
(:data:`vibe.pipeline.track_fit.FIT_LANDMARKS`) that are confidently visible
(visibility ≥ 0.5) and inside the image. Distances are in units of the
demo's square person box side (the tracker's box), so people of any size
weigh the same:

- ``error``: mean distance (the issue's target: ≤ 1.5 %);
- ``offset_x``, ``offset_y``: mean signed difference body − landmark (target:
  |offset| ≤ 0.5 %; positive = body drawn right of / below the person);
- ``error_px``: the same mean distance in pixels.

``results.npz`` keeps the landmarks after the demo's repair of BlazePose's
left/right swaps (:mod:`vibe.pipeline.label_swaps`: the same points, labels
exchanged where they were read the wrong way round); ``--as-detected`` scores
against MediaPipe's own labels (the demo's cache) instead.

``--points detector`` scores the body's ``blazepose33_detector`` keypoints
instead (:mod:`vibe.body.keypoint_offsets`: ``blazepose33`` moved to where
BlazePose puts its landmarks on bodies whose keypoints are known), the points
the demo fits to the landmarks: ``joints2d_img`` measures the gap between the
two keypoint definitions as well as the fit.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from pathlib import Path

import numpy as np

from vibe.evaluation.synthetic_bench import demo_options
from vibe.pipeline.track_fit import fit_index

_POINTS = fit_index("core")


def track_reprojection(track: dict, image_size: tuple[int, int], min_visibility: float = 0.5) -> dict:
    """Error statistics of one track of ``results.npz`` (module docstring); empty when nothing is visible."""
    body = np.asarray(track["joints2d_img"], np.float64)[:, _POINTS]
    lm = np.asarray(track["landmarks_img"], np.float64)[:, _POINTS]
    side = np.asarray(track["bbox_cxcys"], np.float64)[:, 2:3]  # (n, 1)
    w, h = image_size
    inside = (lm[..., 0] >= 0) & (lm[..., 0] < w) & (lm[..., 1] >= 0) & (lm[..., 1] < h)
    use = (lm[..., 2] >= min_visibility) & inside & np.isfinite(lm[..., :2]).all(-1)
    if not use.any():
        return {}
    diff = body[..., :2] - lm[..., :2]  # (n, K, 2) pixels
    rel = diff / side[..., None]
    return {
        "frames": int(use.any(-1).sum()),
        "points": int(use.sum()),
        "error": float(np.linalg.norm(rel, axis=-1)[use].mean()),
        "offset_x": float(rel[..., 0][use].mean()),
        "offset_y": float(rel[..., 1][use].mean()),
        "error_px": float(np.linalg.norm(diff, axis=-1)[use].mean()),
    }


@functools.cache
def _detector_evaluator():
    """The ``blazepose33_detector`` keypoint evaluator of the default Anny body (built once)."""
    from vibe.body.anny import Anny
    from vibe.body.keypoint_offsets import DETECTOR_SET

    return Anny().keypoint_evaluator([DETECTOR_SET])


def detector_points_img(track: dict, image_size: tuple[int, int]) -> np.ndarray:
    """``(n, 33, 2)`` the track's ``blazepose33_detector`` keypoints in image pixels (its pose, shape, camera)."""
    import torch

    from vibe.body.keypoint_offsets import DETECTOR_SET
    from vibe.geometry.cameras import image_cam_to_pixels

    evaluator = _detector_evaluator()
    pose = torch.as_tensor(track["pose_rotmat"], dtype=evaluator.dtype)
    shape = torch.as_tensor(track["shape"], dtype=evaluator.dtype).reshape(len(pose), -1)
    with torch.no_grad():
        points = evaluator(pose, shape).keypoints[DETECTOR_SET]
    w, h = image_size
    return image_cam_to_pixels(points.double().numpy(), np.asarray(track["cam_image"], np.float64), w, h)


def video_reprojection(
    video: Path, checkpoint: str | None, work: Path, options: dict | None = None, points: str = "model",
    as_detected: bool = False,
) -> list[dict]:
    """Run the demo on ``video`` (with ``DemoConfig`` overrides ``options``) and score every track's ``points``
    (``as_detected``: against the landmarks as MediaPipe labelled them, from the demo's cache, instead of
    ``results.npz``'s, whose left/right swaps the demo has undone)."""
    from vibe.evaluation.synthetic_bench import cached_landmarks
    from vibe.pipeline.outputs import read_results
    from vibe.pipeline.run import DemoConfig, run_demo
    from vibe.pipeline.video import VideoReader

    overrides = {**(options or {}), **({"checkpoint": checkpoint} if checkpoint else {})}
    config = DemoConfig(render=False, progress=False, **overrides)
    result = run_demo(video, work / video.stem, config)
    _, people = read_results(result.results)
    reader = VideoReader(video)
    size = (reader.width, reader.height)
    if points == "detector":
        people = {tid: {**t, "joints2d_img": detector_points_img(t, size)} for tid, t in people.items()}
    if as_detected:
        people = {tid: {**t, "landmarks_img": cached_landmarks(result.out_dir, tid)[1]} for tid, t in people.items()}
    return [{"video": video.name, "track": int(tid), **track_reprojection(t, size)} for tid, t in people.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None, help="keep the demo's outputs and caches here (reruns reuse them)")
    parser.add_argument(
        "--option", action="append", default=[],
        help="demo option as the benchmark's baselines take it: centred_sigma=N, refine_steps=N, fit.FIELD=N, refine=false",
    )  # fmt: skip
    parser.add_argument("--points", choices=("model", "detector"), default="model",
                        help="the body's points scored: joints2d_img (model) or blazepose33_detector (module doc)")
    parser.add_argument("--as-detected", action="store_true",
                        help="score against the landmarks as MediaPipe labelled them (before the demo's swap repair)")
    args = parser.parse_args()
    options = demo_options(args.option)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        for video in args.videos:
            rows += video_reprojection(video, args.checkpoint, work, options, args.points, args.as_detected)
    print(f"{'video':<40} {'track':>5} {'frames':>6} {'error %':>8} {'dx %':>6} {'dy %':>6} {'px':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['video']:<40} {r['track']:>5} {r['frames']:>6} {100 * r['error']:>8.2f} "
                  f"{100 * r['offset_x']:>6.2f} {100 * r['offset_y']:>6.2f} {r['error_px']:>6.1f}")  # fmt: skip
    scored = [r for r in rows if "error" in r]
    if scored:
        weight = np.array([r["points"] for r in scored], np.float64)
        mean = {k: float(np.average([r[k] for r in scored], weights=weight)) for k in ("error", "offset_x", "offset_y")}
        print(f"{'all (point-weighted)':<53} {100 * mean['error']:>8.2f} {100 * mean['offset_x']:>6.2f} "
              f"{100 * mean['offset_y']:>6.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
