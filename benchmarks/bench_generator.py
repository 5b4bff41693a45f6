"""CPU throughput of the VIBE generator networks and of the ResNet-50 backbone.

Times the released architecture (2-layer GRU 2048→1024 + linear, IEF
regressor with 3 iterations) on precomputed 2048-D features for sequence
lengths 16, 64, 450 and batches 1, 32, and the ResNet-50 on 224² crops.
With ``--body smpl`` the SMPL layer (the user's files) is included.
Prints a markdown table; run ``python benchmarks/bench_generator.py --help``.
"""

from __future__ import annotations

import argparse
import time

import torch

from vibe.models.backbone import HMRBackbone
from vibe.models.regressor import Regressor
from vibe.models.temporal import TemporalEncoder


def _time(fn, repeats: int, min_seconds: float = 0.5) -> float:
    """Seconds per call of ``fn``: one warm-up call, then the mean over at least ``repeats`` calls and ``min_seconds``."""
    fn()
    start, calls = time.perf_counter(), 0
    while calls < repeats or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def bench_generator(seqlens, batches, repeats, body=None) -> list[tuple[str, str]]:
    encoder, regressor = TemporalEncoder().eval(), Regressor(24, 10).eval()
    rows = []
    for batch in batches:
        for seqlen in seqlens:
            features = torch.randn(batch, seqlen, 2048)

            def run():
                y = encoder(features).reshape(batch * seqlen, -1)
                out = regressor(y)
                if body is not None:
                    body(out.pose_rotmat, out.shape)

            seconds = _time(run, repeats)
            rows.append((f"generator B={batch} T={seqlen}", f"{batch * seqlen / seconds:,.0f} frames/s"))
    return rows


def bench_backbone(batch: int, repeats: int) -> list[tuple[str, str]]:
    model = HMRBackbone().eval()
    crops = torch.randn(batch, 3, 224, 224)
    seconds = _time(lambda: model(crops), repeats)
    return [(f"ResNet-50 224² B={batch}", f"{batch / seconds:,.1f} crops/s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqlens", type=int, nargs="+", default=[16, 64, 450])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--crop-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--body", choices=["none", "smpl"], default="none", help="include the SMPL layer")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    body = None
    if args.body == "smpl":
        from vibe.body.smpl import SMPL

        body = SMPL().eval()
    rows = []
    with torch.inference_mode():
        rows += bench_generator(args.seqlens, args.batches, args.repeats, body)
        rows += bench_backbone(args.crop_batch, args.repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, body: {args.body}\n")
    print("| workload | throughput |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
