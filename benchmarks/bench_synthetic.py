"""CPU throughput of synthetic training data: Anny keypoints and whole synthetic windows.

Times (1) the full-mesh reference ``Anny.keypoints(Anny.forward(...))`` and
the fast :class:`~vibe.body.sparse_keypoints.SparseKeypoints` (sets
blazepose33 + eval14) on batches of bodies, one shape each or one shape per
16-frame window, and (2) :class:`~vibe.data.synthetic.SyntheticGenerator` on batches
of 32 windows × 16 frames (shape, camera, projection, person box, detector
noise, features and targets) from smooth random motion. Prints a markdown
table; run ``python benchmarks/bench_synthetic.py --help``.

With ``--compare-video VIDEO`` it also runs the demo's people and landmark
stages (MediaPipe) on a video and prints the same landmark statistics for the
real tracks and for synthetic windows, to check the noise defaults of
:class:`~vibe.data.synthetic.SyntheticConfig` against real detections.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import Anny
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.synthetic import SyntheticGenerator


def _time(fn, repeats: int, min_seconds: float = 0.5) -> float:
    """Seconds per call of ``fn``: warm-up (≥ 0.3 s), then the mean over ≥ ``repeats`` calls, ≥ ``min_seconds``.

    On a shared machine the numbers vary with the load: compare runs, keep the best.
    """
    start = time.perf_counter()
    fn()
    while time.perf_counter() - start < 0.3:
        fn()
    start, calls = time.perf_counter(), 0
    while calls < repeats or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def _motion(rng: np.random.Generator, batch: int, frames: int, joints: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random motion about the rest pose, ``(B, T, J, 3, 3)`` and ``(B, T, 3)``."""
    t = np.arange(frames)[None, :, None, None] / 30.0
    rotvec = rng.uniform(0, 0.5, (batch, 1, joints, 3)) * np.sin(
        2 * np.pi * rng.uniform(0.3, 2.0, (batch, 1, joints, 3)) * t + rng.uniform(0, 6.3, (batch, 1, joints, 3))
    )
    rotmat = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(batch, frames, joints, 3, 3)
    transl = np.zeros((batch, frames, 3), dtype=np.float32)
    return rotmat.astype(np.float32), transl


def bench_keypoints(body: Anny, fast: SparseKeypoints, bodies: list[int], repeats: int) -> list[tuple[str, str]]:
    rows = []
    rng = np.random.default_rng(0)
    for n in bodies:
        pose = torch.from_numpy(_motion(rng, n, 1, body.num_joints)[0][:, 0])
        shape = torch.rand(n, body.shape_dim)
        seconds = _time(lambda: fast(pose, shape), repeats)
        rows.append((f"SparseKeypoints, {n} bodies, {n} shapes", f"{n / seconds:,.0f} bodies/s"))
        if n % 16 == 0:  # training layout: one shape per window of 16 frames
            windows = pose.reshape(n // 16, 16, *pose.shape[1:])
            seconds = _time(lambda: fast(windows, shape[: n // 16]), repeats)
            name = f"SparseKeypoints, {n} bodies, {n // 16} shapes × 16 frames"
            rows.append((name, f"{n / seconds:,.0f} bodies/s"))
        if n <= 64:
            seconds = _time(lambda: [body.keypoints(body(pose, shape), s) for s in fast.set_names], 1)
            rows.append((f"Anny full mesh, {n} bodies (reference)", f"{n / seconds:,.0f} bodies/s"))
    return rows


def bench_windows(generator: SyntheticGenerator, batch: int, seqlen: int, repeats: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    rotmat, transl = _motion(rng, batch, seqlen, generator.keypoints.body.num_joints)
    seconds = _time(lambda: generator.generate(rotmat, transl, rng), repeats)
    return [
        (f"SyntheticGenerator, {batch} windows × {seqlen} frames", f"{1 / seconds:,.1f} batches/s"),
        ("  = windows", f"{batch / seconds:,.0f} windows/s"),
    ]


# BlazePose landmark groups: face, shoulders + elbows, wrists + hands, hips + knees, ankles + feet.
_GROUPS = {
    "face": slice(0, 11), "arms": slice(11, 15), "hands": slice(15, 23), "legs": slice(23, 27), "feet": slice(27, 33)
}  # fmt: skip


def landmark_stats(landmarks_img: np.ndarray, bbox_cxcys: np.ndarray, image_size) -> dict[str, float]:
    """Statistics of one track's landmarks ``(n, 33, 3)`` in its boxes ``(n, 3)`` (frames with a pose only).

    ``box/body``: box half-side over 1.25 × the landmarks' largest distance
    from the mid-hip (the detector's body-radius factor); ``centre``: box
    centre to landmark mid-hip, in box sides; ``hf``: std of the landmarks
    minus their Savitzky–Golay (7 frames, order 2) smoothing, in box sides,
    scaled to white-noise std (includes fast real motion); ``vis <group>``:
    median visibility of in-image points.
    """
    from scipy.signal import savgol_filter

    found = np.isfinite(landmarks_img[..., 0]).all(-1)
    lm, box = landmarks_img[found], bbox_cxcys[found]
    mid = lm[:, 23:25, :2].mean(1)
    body = np.linalg.norm(lm[:, :, :2] - mid[:, None], axis=-1).max(1)
    out = {
        "box/body": float(np.median(box[:, 2] / 2 / 1.25 / body)),
        "centre": float(np.median(np.linalg.norm(box[:, :2] - mid, axis=-1) / box[:, 2])),
    }
    if len(lm) >= 13:
        residual = (lm[..., :2] - savgol_filter(lm[..., :2], 7, 2, axis=0)) / box[:, None, None, 2]
        out["hf"] = float(residual[3:-3].std() / np.sqrt(2.0 / 3.0))  # 1 - centre tap (1/3) of the filter
    in_image = ((lm[..., :2] >= 0) & (lm[..., :2] <= np.asarray(image_size))).all(-1)
    for name, group in _GROUPS.items():
        vis = lm[:, group, 2][in_image[:, group]]
        out[f"vis {name}"] = float(np.median(vis)) if vis.size else float("nan")
    return out


def video_stats(path: str) -> list[tuple[str, dict[str, float]]]:
    """Landmark statistics of the demo's tracks in the video ``path``."""
    from vibe.pipeline.landmarks import estimate_landmarks
    from vibe.pipeline.people import detect_and_track, smooth_square_boxes
    from vibe.pipeline.video import VideoReader

    reader = VideoReader(path)
    frames = [(i, image) for i, _, image in reader]
    tracks = detect_and_track(iter(frames), reader.fps)
    boxes = {t.track_id: smooth_square_boxes(t.frame_ids, t.bbox_xyxy, reader.fps) for t in tracks}
    size = (frames[0][1].shape[1], frames[0][1].shape[0])
    rows = []
    for tid, track in estimate_landmarks(iter(frames), boxes).items():
        stats = landmark_stats(track.landmarks_img, boxes[tid][1], size)
        rows.append((f"{path} track {tid} ({reader.fps:.0f} fps)", stats))
    return rows


def synthetic_stats(generator: SyntheticGenerator) -> list[tuple[str, dict[str, float]]]:
    """Median landmark statistics of 32 synthetic windows."""
    rng = np.random.default_rng(2)
    out = generator.generate(*_motion(rng, 32, 16, generator.keypoints.body.num_joints), rng)
    per_window = [
        landmark_stats(out.landmarks_img[b].numpy(), out.bbox_cxcys[b].numpy(), out.image_size[b].numpy())
        for b in range(out.landmarks_img.shape[0])
    ]
    median = {k: float(np.nanmedian([w[k] for w in per_window])) for k in per_window[0]}
    return [("synthetic (median of 32 windows, 30 fps)", median)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seqlen", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--compare-video", nargs="*", default=[], help="videos to compare landmark statistics with")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    body = Anny()
    fast = SparseKeypoints(body)
    rows = []
    with torch.inference_mode():
        rows += bench_keypoints(body, fast, args.bodies, args.repeats)
        rows += bench_windows(SyntheticGenerator(fast), args.batch, args.seqlen, args.repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| workload | throughput |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if args.compare_video:
        stats = [row for video in args.compare_video for row in video_stats(video)]
        stats += synthetic_stats(SyntheticGenerator(fast))
        keys = list(stats[-1][1])
        print("\n| landmarks | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 1) + "|")
        for name, values in stats:
            print(f"| {name} | " + " | ".join(f"{values.get(k, float('nan')):.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
