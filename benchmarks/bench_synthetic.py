"""CPU throughput of synthetic training data: Anny keypoints and whole synthetic windows.

Times (1) the full-mesh reference ``Anny.keypoints(Anny.forward(...))`` and
the fast :class:`~vibe.body.sparse_keypoints.SparseKeypoints` (sets
blazepose33 + eval14) on batches of bodies, one shape each or one shape per
16-frame window, and (2) :class:`~vibe.data.synthetic.SyntheticGenerator` on batches
of 32 windows × 16 frames (shape, camera, projection, person box, detector
noise, features and targets) from smooth random motion. Prints a markdown
table; run ``python benchmarks/bench_synthetic.py --help``.
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
    """Seconds per call of ``fn``: one warm-up call, then the mean over at least ``repeats`` calls and ``min_seconds``."""
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
            rows.append((f"SparseKeypoints, {n} bodies, {n // 16} shapes × 16 frames", f"{n / seconds:,.0f} bodies/s"))
        if n <= 64:
            seconds = _time(lambda: [body.keypoints(body(pose, shape), s) for s in fast.set_names], 1)
            rows.append((f"Anny full mesh, {n} bodies (reference)", f"{n / seconds:,.0f} bodies/s"))
    return rows


def bench_windows(generator: SyntheticGenerator, batch: int, seqlen: int, repeats: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    rotmat, transl = _motion(rng, batch, seqlen, generator.keypoints._body.num_joints)
    seconds = _time(lambda: generator.generate(rotmat, transl, rng), repeats)
    return [
        (f"SyntheticGenerator, {batch} windows × {seqlen} frames", f"{1 / seconds:,.1f} batches/s"),
        ("  = windows", f"{batch / seconds:,.0f} windows/s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seqlen", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
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


if __name__ == "__main__":
    main()
