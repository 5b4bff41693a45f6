"""The evaluation datasets' own release layouts: how each is recognised under a folder, and its reader."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vibe.data.datasets import h36m, mpi_inf_3dhp, threedpw
from vibe.data.datasets.release_frames import ReleaseFrames

__all__ = ["ReleaseLayout", "RELEASE_LAYOUTS", "find_release"]


@dataclass(frozen=True)
class ReleaseLayout:
    """One dataset's release layout.

    Attributes:
        description: the files looked for, for messages.
        find: folder → the release root inside it (itself or a known child), or ``None``.
        read: release root → :class:`ReleaseFrames` of the test frames.
    """

    description: str
    find: Callable[[Path], Path | None]
    read: Callable[[Path], ReleaseFrames]


RELEASE_LAYOUTS: dict[str, ReleaseLayout] = {
    "3dpw": ReleaseLayout(
        "sequenceFiles/test/*.pkl and imageFiles/<sequence>/image_%05d.jpg",
        threedpw.find_release_root,
        threedpw.read_threedpw,
    ),
    "mpi-inf-3dhp": ReleaseLayout(
        "mpi_inf_3dhp_test_set/TS1..TS6/annot_data.mat and TS<k>/imageSequence/img_%06d.jpg",
        mpi_inf_3dhp.find_release_root,
        mpi_inf_3dhp.read_mpi_inf_3dhp,
    ),
    "h36m": ReleaseLayout(
        "S9, S11/MyPoseFeatures/{D3_Positions_mono,D2_Positions}/<action>.<camera>.cdf and "
        "S<k>/Videos/<action>.<camera>.mp4",
        h36m.find_release_root,
        h36m.read_h36m,
    ),
}


def find_release(protocol: str, root: str | os.PathLike) -> Path | None:
    """The release root of ``protocol``'s dataset under ``root``, or ``None`` (also for unknown protocols)."""
    layout = RELEASE_LAYOUTS.get(protocol)
    return None if layout is None else layout.find(Path(root))
