"""Per person of a demo result: how low the feet go in the world frame, and the camera the world stage found.

Usage: ``python tools/world_feet.py OUT/people_walking [OUT2/people_walking ...]`` (folders written
by ``vibe demo``). For each person: frames, the lowest foot contact point (mean of heel and toe,
2-3 cm above the soles; the ground, at the soles, is y = 0) over the frames and its 5th percentile,
and the root's height range. docs/results.md quotes it for ``assets/people_walking.mp4``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from vibe.body.anny import BLAZEPOSE33
from vibe.pipeline.outputs import read_results

FEET = [[BLAZEPOSE33.index(f"{side}_{part}") for part in ("heel", "foot_index")] for side in ("left", "right")]


def main(folders: list[str]) -> None:
    for folder in map(Path, folders):
        camera = json.loads((folder / "meta.json").read_text())["world"]["camera"]
        pitch = camera["pitch_down_deg"]
        print(f"{folder}: camera {camera['height_m']:.2f} m above the ground, pitched {pitch:.1f}° down")
        _, people = read_results(folder / "results.npz")
        for tid, p in sorted(people.items()):
            joints = p["joints3d_world"]
            lowest = np.min([joints[:, idx, 1].mean(axis=1) for idx in FEET], axis=0)  # (n,) y up
            root_y = p["transl_world"][:, 1]
            print(f"  person {tid}: {len(joints)} frames, lowest foot {lowest.min():+.2f} m "
                  f"(5th percentile {np.percentile(lowest, 5):+.2f} m), "
                  f"root height {root_y.min():.2f}-{root_y.max():.2f} m")


if __name__ == "__main__":
    main(sys.argv[1:])
