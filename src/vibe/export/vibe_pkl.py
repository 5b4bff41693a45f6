"""The original demo's ``vibe_output.pkl``: write it, and read it without running arbitrary pickles.

Format (joblib, uncompressed, as the original demo's ``joblib.dump``): a dict
``track id (int) → dict`` with, for the ``n`` frames of the track:

============================  ==============  =======================================
key                           shape           content
============================  ==============  =======================================
``pred_cam``                  ``(n, 3)``      crop camera ``(s, tx, ty)``
``orig_cam``                  ``(n, 4)``      image camera ``(sx, sy, tx, ty)``
``verts``                     ``(n, 6890, 3)`` SMPL vertices, body frame, metres
``pose``                      ``(n, 72)``     SMPL axis-angle pose (24 × 3)
``betas``                     ``(n, 10)``     SMPL shape
``joints3d``                  ``(n, 49, 3)``  ``spin49`` joints, body frame
``joints2d``                  ``None``        (2D keypoints only with keypoint tracking)
``joints2d_img_coord``        ``(n, 49, 2)``  ``spin49`` joints in image pixels
``bboxes``                    ``(n, 4)``      ``(cx, cy, w, h)`` square boxes, pixels
``frame_ids``                 ``(n,)``        frame indices of the track
============================  ==============  =======================================

Reading: :func:`read_vibe_output` never runs pickled code; it goes through
:func:`vibe.io.joblib_arrays.load_joblib_arrays` (numpy arrays, numbers,
strings, ``None`` and containers only).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from vibe.io.joblib_arrays import load_joblib_arrays

__all__ = ["TRACK_KEYS", "validate_track", "write_vibe_output", "read_vibe_output"]

logger = logging.getLogger(__name__)

# key → shape after the frame axis; ints are exact for SMPL, None = any size.
_SMPL_SHAPES: dict[str, tuple[int | None, ...]] = {
    "pred_cam": (3,),
    "orig_cam": (4,),
    "verts": (6890, 3),
    "pose": (72,),
    "betas": (10,),
    "joints3d": (49, 3),
    "joints2d_img_coord": (49, 2),
    "bboxes": (4,),
    "frame_ids": (),
}
_ANY_BODY_SHAPES: dict[str, tuple[int | None, ...]] = {
    **_SMPL_SHAPES,
    "verts": (None, 3),
    "pose": (None,),
    "betas": (None,),
    "joints3d": (None, 3),
    "joints2d_img_coord": (None, 2),
}
TRACK_KEYS = (*_SMPL_SHAPES, "joints2d")


def validate_track(track: Mapping[str, Any], smpl: bool = True) -> int:
    """Check one track's keys and shapes; returns its frame count ``n``.

    Args:
        track: the per-track dict (see the module table).
        smpl: enforce SMPL's sizes (6890 vertices, 72 pose values, 10 betas,
            49 joints); ``False`` only checks ranks and trailing 2/3/4 sizes.

    Raises:
        ValueError: missing/unknown keys or wrong shapes, naming them.
    """
    missing = sorted(set(TRACK_KEYS) - set(track))
    unknown = sorted(set(track) - set(TRACK_KEYS))
    if missing or unknown:
        raise ValueError(f"track keys: missing {missing}, unknown {unknown}")
    expected = _SMPL_SHAPES if smpl else _ANY_BODY_SHAPES
    n = len(np.asarray(track["frame_ids"]))
    for key, tail in expected.items():
        shape = np.shape(track[key])
        ok = len(shape) == 1 + len(tail) and shape[0] == n
        ok = ok and all(want is None or want == got for want, got in zip(tail, shape[1:]))
        if not ok:
            raise ValueError(f"{key}: shape {shape}, expected ({n}, {', '.join(str(t or '*') for t in tail)})")
    joints2d = track["joints2d"]
    if joints2d is not None and (np.ndim(joints2d) != 3 or np.shape(joints2d)[0] != n):
        raise ValueError(f"joints2d: shape {np.shape(joints2d)}, expected None or ({n}, K, 2|3)")
    return n


def write_vibe_output(path: str | os.PathLike, tracks: Mapping[int, Mapping[str, Any]], smpl: bool = True) -> Path:
    """Validate and write ``vibe_output.pkl`` (temp name, then rename).

    Floating arrays are stored as float32 and ``frame_ids`` as int64, as the
    original writes them.
    """
    path = Path(path)
    out: dict[int, dict[str, Any]] = {}
    for track_id, track in tracks.items():
        validate_track(track, smpl=smpl)
        converted = {}
        for key in TRACK_KEYS:
            value = track[key]
            if value is None:
                converted[key] = None
            elif key == "frame_ids":
                converted[key] = np.asarray(value, dtype=np.int64)
            else:
                converted[key] = np.asarray(value, dtype=np.float32)
        out[int(track_id)] = converted
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    joblib.dump(out, tmp)
    os.replace(tmp, path)
    logger.info("wrote %d tracks to %s", len(out), path)
    return path


def read_vibe_output(path: str | os.PathLike) -> dict[int, dict[str, Any]]:
    """Read a ``vibe_output.pkl`` written by the original demo or :func:`write_vibe_output`.

    Only numpy arrays, numbers, strings, ``None`` and containers are accepted.

    Raises:
        pickle.UnpicklingError: the file names anything else.
    """
    path = Path(path)
    data = load_joblib_arrays(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict of tracks, got {type(data).__name__}")
    return data
