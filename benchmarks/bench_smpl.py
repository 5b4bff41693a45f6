"""The smpl stack's body model and generator against the original's, side by side in one process.

Two comparisons, each on the same arrays, weights, inputs and threads:

- **skinning**: :class:`vibe.body.smpl.SMPL` against ``smplx.SMPL`` (the body
  layer the original VIBE code wraps), both posing ``--frames`` frames from
  rotation matrices (``pose2rot=False``) with betas; vertices and joints.
- **generator**: the released architecture (2-layer GRU 2048→1024 + linear,
  IEF regressor with 3 iterations) on 2048-D features, then the body and the
  49 keypoints projected into the crop. *Ours* is :class:`vibe.models.vibe.VIBE`
  with our SMPL (``forward_features``, vertices returned). *Original* runs the
  very same encoder and regressor modules, then what the original's SMPL
  layer does after them: ``smplx.SMPL`` with vertices, its 21 vertex joints,
  the 9 ``J_regressor_extra`` joints, the 49-joint selection, and the same
  crop projection. (The original also turns every rotation matrix into
  axis-angle for its ``theta`` output; that step is left out here, which
  only favours the original.) Workloads: one window of ``--seqlen`` frames
  (the original demo's 450-frame chunk) and ``--batch`` windows of 16
  frames (a training batch).

Each repeat times both sides back to back, in alternating order, so both
see the same machine load; the table gives each side's median and range
over ``--repeats``, the ratio of the medians and the median of the per-repeat
ratios, and the load average before and after. Set ``OMP_NUM_THREADS`` to
the same value as ``--threads`` (the script sets torch's threads).

The SMPL arrays: ``--smpl-dir`` (your licensed files, ``SMPL_NEUTRAL.pkl`` or
``.npz`` and ``J_regressor_extra.npy``), else the synthetic model of the
tests (real shapes: 6890 vertices, 24 joints, 10 betas, 207 pose
directions; the timing of dense products does not depend on the values).
Run ``python benchmarks/bench_smpl.py --help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import roma
import torch

from vibe.body.smpl import SMPL, SPIN49_SOURCES, load_smpl_arrays, smpl_model_file
from vibe.geometry.cameras import project_to_crop
from vibe.models.vibe import VIBE, VIBEConfig

_REPO = Path(__file__).resolve().parents[1]


def synthetic_smpl_folder(folder: Path) -> Path:
    """Write the tests' synthetic SMPL files (official ``.pkl`` layout) into ``folder``."""
    sys.path.insert(0, str(_REPO / "tests"))
    from smpl_fixtures import write_synthetic_smpl  # the tests folder is not a package

    write_synthetic_smpl(folder)
    return folder


def smplx_model(folder: Path):
    """``smplx.SMPL`` on the arrays of ``folder``'s neutral model (read by our loader: no chumpy needed)."""
    import smplx

    arrays = load_smpl_arrays(smpl_model_file(folder))
    return smplx.SMPL(model_path=str(folder), data_struct=smplx.utils.Struct(**arrays)).eval()


class OriginalBody(torch.nn.Module):
    """What the original's SMPL layer computes after the regressor: smplx's mesh and the 49 keypoints.

    ``forward(pose_rotmat (N, 24, 3, 3), betas (N, 10))`` → ``vertices (N, 6890, 3)``,
    ``joints49 (N, 49, 3)``: smplx's 24 joints and 21 vertex joints, then the
    ``J_regressor_extra`` joints of the posed mesh, picked in the original's order.
    """

    def __init__(self, folder: Path):
        super().__init__()
        self.smplx = smplx_model(folder)
        extra = np.load(folder / "J_regressor_extra.npy", allow_pickle=False)
        self.register_buffer("extra", torch.as_tensor(extra, dtype=torch.float32))
        self.register_buffer("sources", torch.tensor(SPIN49_SOURCES))

    def forward(self, pose_rotmat: torch.Tensor, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.smplx(
            betas=betas, global_orient=pose_rotmat[:, :1], body_pose=pose_rotmat[:, 1:], pose2rot=False
        )
        extra = torch.einsum("kv,nvc->nkc", self.extra, out.vertices)
        return out.vertices, torch.cat([out.joints, extra], dim=1)[:, self.sources]


def original_generator(model: VIBE, body: OriginalBody, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Our encoder and regressor (the released architecture), then the original's body layer; ``(B, T, F)`` in."""
    b, t = features.shape[:2]
    params = model.regressor(model.encoder(features).reshape(b * t, -1))
    vertices, joints49 = body(params.pose_rotmat, params.shape)
    return vertices, project_to_crop(joints49, params.cam)


def paired_times(first: Callable, second: Callable, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds per call of each, one warm-up call each, then ``repeats`` rounds alternating which goes first."""
    first(), second()
    times_a, times_b = [], []
    for round_ in range(repeats):
        order = [(first, times_a), (second, times_b)]
        for fn, times in order if round_ % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return times_a, times_b


def row(name: str, frames: int, ours: list[float], original: list[float]) -> str:
    """One markdown row: ms and frames/s per side (median, range), ratio of medians, median paired ratio."""
    med_o, med_r = statistics.median(ours), statistics.median(original)
    paired = statistics.median(r / o for o, r in zip(ours, original))

    def cell(times: list[float], median: float) -> str:
        spread = f"{min(times) * 1e3:,.0f}–{max(times) * 1e3:,.0f}"
        return f"{median * 1e3:,.0f} ms ({spread}), {frames / median:,.0f} frames/s"

    ratios = f"{med_r / med_o:.2f}× | {paired:.2f}×"
    return f"| {name} | {frames} | {cell(ours, med_o)} | {cell(original, med_r)} | {ratios} |"


def max_differences(ours_body: SMPL, original: OriginalBody, frames: int) -> tuple[float, float]:
    """Largest vertex and 49-keypoint differences (metres) between the two bodies on random poses."""
    g = torch.Generator().manual_seed(0)
    pose_rotmat = roma.rotvec_to_rotmat(0.5 * torch.randn(frames, 24, 3, generator=g))
    betas = torch.randn(frames, 10, generator=g)
    posed = ours_body(pose_rotmat, betas)
    vertices, joints49 = original(pose_rotmat, betas)
    kp_diff = (ours_body.keypoints(posed, "spin49") - joints49).abs().max()
    return float((posed.vertices - vertices).abs().max()), float(kp_diff)


def run(args: argparse.Namespace, folder: Path) -> tuple[list[str], tuple[float, float]]:
    """The table's rows (skinning, then the generator workloads) and :func:`max_differences`."""
    ours_body, original = SMPL(folder).eval(), OriginalBody(folder).eval()
    model = VIBE(VIBEConfig(), ours_body).eval()
    g = torch.Generator().manual_seed(1)
    pose_rotmat = roma.rotvec_to_rotmat(0.5 * torch.randn(args.frames, 24, 3, generator=g))
    betas = torch.randn(args.frames, 10, generator=g)
    rows = []

    def smplx_skinning() -> None:
        original.smplx(betas=betas, global_orient=pose_rotmat[:, :1], body_pose=pose_rotmat[:, 1:], pose2rot=False)

    a, b = paired_times(lambda: ours_body(pose_rotmat, betas), smplx_skinning, args.repeats)
    rows.append(row("skinning: SMPL vs smplx.SMPL (vertices, joints)", args.frames, a, b))
    for batch, seqlen in ((1, args.seqlen), (args.batch, 16)):
        features = torch.randn(batch, seqlen, 2048, generator=g)
        a, b = paired_times(
            lambda x=features: model.forward_features(x),
            lambda x=features: original_generator(model, original, x),
            args.repeats,
        )
        rows.append(row(f"generator B={batch} T={seqlen} (+ mesh, 49 keypoints, projection)", batch * seqlen, a, b))
    return rows, max_differences(ours_body, original, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smpl-dir", type=Path, default=None, help="your SMPL folder (default: the synthetic model)")
    parser.add_argument("--frames", type=int, default=512, help="frames posed per skinning call")
    parser.add_argument("--seqlen", type=int, default=450, help="frames of the one-window generator workload")
    parser.add_argument("--batch", type=int, default=32, help="16-frame windows of the batched generator workload")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set OMP_NUM_THREADS the same)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        folder = args.smpl_dir or synthetic_smpl_folder(Path(tmp))
        rows, (vertex_diff, keypoint_diff) = run(args, folder)
    load_after = os.getloadavg()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; SMPL: {args.smpl_dir or 'synthetic (tests/smpl_fixtures.py)'}; "
        f"{args.repeats} repeats; load average (1/5/15 min) before {_load(load_before)}, after {_load(load_after)}\n"
    )
    print("| workload | frames | ours: median (range), throughput | original: median (range), throughput "
          "| original / ours (medians) | median paired ratio |")
    print("|---|---:|---|---|---:|---:|")
    print("\n".join(rows))
    print(f"\nlargest difference ours − original: vertices {vertex_diff:.1e} m, 49 keypoints {keypoint_diff:.1e} m")


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
