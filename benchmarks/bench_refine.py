"""CPU throughput of temporal SMPLify refinement (``vibe demo --refine``) on one Anny track.

A 300-frame validation clip of the CMU→Anny motion DB (subject 02) is the
ground truth; its ``blazepose33`` keypoints are projected through a crop camera,
jittered by 2 px, and the fit starts from poses perturbed by ~0.1 rad per
joint (a stand-in for the network output). Prints frames/s, wall time and the
mean reprojection error before/after (crop pixels) for the default config
(6 L-BFGS steps × 20 iterations) and any ``--steps``; ``--world-weight`` adds the 3D
term (the true keypoints as landmarks), ``--anny-kinematics`` times the fit
with anny's own forward kinematics (the path before ``vibe.body.sparse_keypoints``
had its own), ``--chunks 1 2`` compares the fit's frames evaluated in one pass
with their split into chunks in parallel threads (``SMPLifyConfig.threads``).
Run ``python benchmarks/bench_refine.py --help``.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np
import roma
import torch

from vibe.body.anny import Anny
from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB
from vibe.fitting.priors import default_pose_prior
from vibe.fitting.temporal_smplify import SMPLifyConfig, TemporalSMPLify, refine_track


def _track(body: Anny, frames: int, seed: int):
    """Network-like start params, observed crop keypoints ``(T, 33, 3)`` and the true 3D keypoints ``(T, 33, 3)``."""
    with resources.as_file(resources.files("vibe").joinpath("resources/motion/cmu_anny.npz")) as path:
        db = MotionDB.load(path).split(VALIDATION_SUBJECTS)
    clip = int(np.argmax(db.clip_length))
    rot, _ = db.clip(clip)
    rot = torch.as_tensor(rot[:frames])
    # Face the camera (OpenCV: y down, z forward): turn the y-up body by 180° about x.
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    rot[:, 0] = flip @ rot[:, 0]
    g = torch.Generator().manual_seed(seed)
    shape = body.mean_shape(1)
    cam = torch.tensor([0.9, 0.0, 0.1]).expand(1, rot.shape[0], 3).clone()
    fitter = TemporalSMPLify(body, SMPLifyConfig(keypoint_set="blazepose33"))
    kp3d = fitter.keypoints3d(rot[None], shape)
    kp2d = fitter.project(kp3d, cam)[0] + 2.0 / 112.0 * torch.randn(rot.shape[0], 33, 2, generator=g)
    obs = torch.cat([kp2d, torch.full((rot.shape[0], 33, 1), 0.9)], -1)
    start = rot @ roma.rotvec_to_rotmat(0.1 * torch.randn(*rot.shape[:2], 3, generator=g))
    params = {"pose_rotmat": start, "shape": shape.expand(rot.shape[0], -1), "cam_crop": cam[0] * 1.05}
    return params, obs, kp3d[0]


def _use_anny_kinematics() -> None:
    """Pose the fit's keypoints through anny's own forward kinematics (4×4 broadcast sums), for comparison."""
    import vibe.body.sparse_keypoints as sparse
    from anny.utils import kinematics

    def anny_fk(model, rest_poses, pose_rotmat, to_world):
        delta = torch.zeros(*pose_rotmat.shape[:-2], 4, 4, dtype=pose_rotmat.dtype)
        delta[..., :3, :3] = to_world.transpose(0, 1) @ pose_rotmat @ to_world
        delta[..., 3, 3] = 1.0
        chain = (model.kinematic_chain_levels, model.kinematic_chain_indices)
        transforms, poses = kinematics.forward_kinematic(chain, rest_poses.expand(*delta.shape), delta, "local-ref")
        return transforms[..., :3, :3], transforms[..., :3, 3], poses[..., :3, 3]

    sparse._forward_kinematics = anny_fk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--world-weight", type=float, default=0.0, help="3D term weight (world landmarks: the truth)")
    parser.add_argument("--anny-kinematics", action="store_true", help="anny's forward kinematics (the old path)")
    parser.add_argument("--steps", type=int, nargs="+", default=[6])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--chunks", type=int, nargs="+", default=[0], help="fit threads (0: the default, --threads)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.anny_kinematics:
        _use_anny_kinematics()

    body = Anny()
    prior = default_pose_prior(body)
    params, obs, truth = _track(body, args.frames, seed=0)
    frames = obs.shape[0]
    probe = TemporalSMPLify(body, SMPLifyConfig(keypoint_set="blazepose33"))

    def error_3d_mm(p: dict) -> float:
        """Mean keypoint error after centring each frame on its keypoints' centroid, mm."""
        kp = probe.keypoints3d(p["pose_rotmat"][None], p["shape"][:1])[0]
        centred = lambda x: x - x.mean(-2, keepdim=True)  # noqa: E731
        return 1000.0 * float((centred(kp) - centred(truth)).norm(dim=-1).mean())

    print(
        f"| temporal SMPLify, Anny, 1 track × {frames} frames, {args.threads} threads "
        "| chunks | frames/s | s | 2D error px before → after | 3D error mm before → after |"
    )
    print("|---|---|---|---|---|---|")
    for steps in args.steps:
        for chunks in args.chunks:
            config = SMPLifyConfig(
                keypoint_set="blazepose33", num_steps=steps, world_weight=args.world_weight, threads=chunks or None
            )
            start = time.perf_counter()
            world = torch.cat([truth, torch.ones_like(truth[..., :1])], -1) if args.world_weight else None
            refined, before, after = refine_track(body, params, obs, config, prior, world)
            seconds = time.perf_counter() - start
            print(
                f"| {steps} L-BFGS steps × {config.max_iter} | {chunks or args.threads} | {frames / seconds:.1f} "
                f"| {seconds:.1f} | {before * 112:.1f} → {after * 112:.1f} "
                f"| {error_3d_mm(params):.1f} → {error_3d_mm(refined):.1f} |"
            )


if __name__ == "__main__":
    main()
