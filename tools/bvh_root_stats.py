"""Root statistics of exported BVH files: hip height, root motion, lowest foot, and meta.json's world entry.

Usage: ``python tools/bvh_root_stats.py OUT/pose_1 [OUT2/pose_1 ...]`` (folders written by
``vibe demo ... --export bvh``; the first person's ``person<id>.bvh`` is read). docs/results.md
quotes its output for ``assets/pose_1.mp4`` before and after the world stage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from vibe.data.mocap.bvh import read_bvh
from vibe.data.mocap.skeleton import forward_kinematics


def main(folders: list[str]) -> None:
    for folder in map(Path, folders):
        bvh = sorted(folder.glob("person*.bvh"))[0]
        motion = read_bvh(bvh)
        positions, _ = forward_kinematics(motion.skeleton, motion.local_rotmat, motion.root_transl)
        names = motion.skeleton.joint_names
        root = positions[:, 0]
        feet = positions[:, [i for i, n in enumerate(names) if "Foot" in n or "ToeBase" in n]]
        horizontal = np.linalg.norm(root[:, [0, 2]] - root[0, [0, 2]], axis=1)
        print(f"{bvh}: {len(root)} frames at {motion.fps:g} fps")
        height = root[:, 1]
        print(f"  hip height median {np.median(height):.3f} m (min {height.min():.3f}, max {height.max():.3f})")
        print("  root range x {:.3f} y {:.3f} z {:.3f} m".format(*np.ptp(root, axis=0)))
        print(f"  root horizontal drift first->last {horizontal[-1]:.3f} m, "
              f"largest distance from the first {horizontal.max():.3f} m")
        lowest = feet[..., 1].min(1)
        print(f"  lowest foot joint height: median {np.median(lowest):.3f} m, min {lowest.min():.3f} m")
        world = json.loads((folder / "meta.json").read_text()).get("world")
        if world:
            keys = ("focal_px", "focal_source", "focal_rel_error", "ground", "camera")
            print("  world:", json.dumps({k: world[k] for k in keys}))


if __name__ == "__main__":
    main(sys.argv[1:])
