"""The focal length of a video: given, from its metadata (a 35 mm equivalent tag), else a prior.

Depth from a body's size scales with the focal length, so the prior comes with
the relative error it implies over the range of real cameras' fields of view
(:class:`FocalEstimate`). Used by the world stage (:mod:`vibe.pipeline.world`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["FocalEstimate", "FocalPrior", "estimate_focal", "focal_from_metadata", "read_container_tags"]

_FULL_FRAME_DIAGONAL_MM = 43.27  # of a 36 × 24 mm frame: the reference of "35 mm equivalent" focal lengths


class FocalPrior(Protocol):
    """What :func:`estimate_focal` reads of its config (e.g. :class:`vibe.pipeline.world.WorldConfig`)."""

    prior_fov_deg: float  # field of view across the long image side assumed without metadata
    fov_range_deg: tuple[float, float]  # the range of real cameras' long-side fields of view


@dataclass(frozen=True)
class FocalEstimate:
    """The focal length used, where it came from and the relative error it implies.

    Attributes:
        focal_px: pixels.
        source: ``"metadata"`` (35 mm equivalent in the file), ``"option"`` (given) or ``"prior"``.
        rel_error: ``(low, high)`` relative error of depths and of distances
            along the line of sight that the focal's uncertainty implies
            (``(0, 0)`` when known); distances across the image are unaffected.
    """

    focal_px: float
    source: str
    rel_error: tuple[float, float]


def _focal_for_fov(long_side_px: float, fov_deg: float) -> float:
    return long_side_px / 2.0 / np.tan(np.radians(fov_deg) / 2.0)


def focal_from_metadata(tags: Mapping[str, str], width: int, height: int) -> float | None:
    """Focal length in pixels from a 35 mm equivalent focal length among container tags, else None.

    Any tag whose name holds both ``focal`` and ``35`` counts (e.g. QuickTime's
    ``com.apple.quicktime.camera.focal_length.35mm_equivalent``); a 35 mm
    equivalent ``F`` spans the image diagonal as ``F`` spans 43.27 mm.
    """
    for key, value in tags.items():
        name = key.lower()
        if "focal" in name and "35" in name:
            try:
                f35 = float(str(value).split()[0])
            except (ValueError, IndexError):
                continue
            if f35 > 0:
                return f35 / _FULL_FRAME_DIAGONAL_MM * float(np.hypot(width, height))
    return None


def read_container_tags(path: Path) -> dict[str, str]:
    """The container's and its video stream's metadata tags (empty when unreadable)."""
    import av

    try:
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
            if container.streams.video:
                tags.update(container.streams.video[0].metadata)
            return tags
    except (OSError, ValueError, av.FFmpegError):
        return {}


def estimate_focal(
    tags: Mapping[str, str], width: int, height: int, config: FocalPrior, given: float | None = None
) -> FocalEstimate:
    """The focal of a video: ``given``, else the file's metadata, else the prior (with its implied error)."""
    if given:
        return FocalEstimate(float(given), "option", (0.0, 0.0))
    from_tags = focal_from_metadata(tags, width, height)
    if from_tags:
        return FocalEstimate(from_tags, "metadata", (0.0, 0.0))
    long_side = float(max(width, height))
    prior = _focal_for_fov(long_side, config.prior_fov_deg)
    wide, narrow = (_focal_for_fov(long_side, fov) for fov in sorted(config.fov_range_deg, reverse=True))
    # Depth ∝ focal: the true focal over the prior is the depth scale error.
    return FocalEstimate(prior, "prior", (wide / prior - 1.0, narrow / prior - 1.0))
