"""Motion-capture importers: ASF/AMC, BVH and AMASS files → `Motion` clips.

`read_clips` (module `readers`) is the entry point every command uses; the
per-format readers live in `asf_amc`, `bvh` and `amass`, the shared
representation in `skeleton`, the naming conventions of foreign skeletons in
`joint_names`.
"""

from __future__ import annotations

from vibe.data.mocap.amass import AmassClip, load_amass
from vibe.data.mocap.asf_amc import CMU_ASF_TO_BVH, load_asf_amc
from vibe.data.mocap.bvh import CMU_MAX_TO_MB_NAMES, read_bvh, write_bvh
from vibe.data.mocap.readers import MocapOptions, expand_paths, find_asf, import_mocap, npz_kind, read_clips
from vibe.data.mocap.resample import resample
from vibe.data.mocap.skeleton import Motion, Skeleton, forward_kinematics, forward_kinematics_torch

__all__ = [
    "AmassClip",
    "CMU_ASF_TO_BVH",
    "CMU_MAX_TO_MB_NAMES",
    "MocapOptions",
    "Motion",
    "Skeleton",
    "expand_paths",
    "find_asf",
    "forward_kinematics",
    "forward_kinematics_torch",
    "import_mocap",
    "load_amass",
    "load_asf_amc",
    "npz_kind",
    "read_bvh",
    "read_clips",
    "resample",
    "write_bvh",
]
