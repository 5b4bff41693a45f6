"""Demo output files: ``results.npz``, ``meta.json``, each written to a temporary name and renamed.

``results.npz`` (numpy, no pickles) holds, for ``P`` people:

- ``track_ids (P,)`` int64, and ``frame_times_s (N,)`` the timestamp of every
  frame read (so variable frame rates are kept);
- per person, under the prefix ``track<id>/``, for its ``n`` frames:
  ``frame_ids (n,)``, ``bbox_cxcys (n, 3)`` square box (centre, side) pixels,
  ``pose_rotmat (n, J, 3, 3)`` local joint rotations (root first, the root in
  camera axes: x right, y down, z forward), ``shape (n, S)``,
  ``cam_crop (n, 3)`` crop camera ``(s, tx, ty)``, ``cam_image (n, 4)`` image
  weak-perspective camera ``(sx, sy, tx, ty)`` (the original's ``orig_cam``),
  ``transl_cam (n, 3)`` body translation in metres for a pinhole camera of the
  focal length in ``meta.json``, ``joints3d (n, K, 3)`` body keypoints
  (body frame, metres), ``joints2d_img (n, K, 2)`` the same in image pixels
  (through ``cam_image``), optional ``vertices (n, V, 3)`` and, on the open
  stack, ``landmarks_img (n, 33, 3)`` the detected BlazePose landmarks.

Read with :func:`read_results`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_path", "write_results", "read_results", "write_meta", "check_writable"]


def atomic_path(path: Path) -> Path:
    """Hidden temporary name beside ``path`` (same folder, so renaming is atomic)."""
    return path.with_name(f".{path.name}.partial")


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check a file can be written there.

    Raises:
        OSError: the folder cannot be created or written (subclass kept).
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
        pass


def write_results(path: Path, frame_times_s: np.ndarray, people: Mapping[int, Mapping[str, np.ndarray]]) -> Path:
    """Write ``results.npz`` (layout in the module doc) to a temporary name, then rename.

    Args:
        path: destination ``.npz``.
        frame_times_s: ``(N,)`` timestamps of the frames read, seconds.
        people: track id → name → array (the per-person keys of the module doc).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "track_ids": np.asarray(sorted(people), dtype=np.int64),
        "frame_times_s": np.asarray(frame_times_s, dtype=np.float64),
    }
    for track_id, values in people.items():
        for name, value in values.items():
            if value is not None:
                arrays[f"track{int(track_id)}/{name}"] = np.asarray(value)
    tmp = atomic_path(path)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_results(path: Path) -> tuple[np.ndarray, dict[int, dict[str, np.ndarray]]]:
    """Read ``results.npz``: ``frame_times_s (N,)`` and track id → name → array."""
    with np.load(path, allow_pickle=False) as npz:
        people: dict[int, dict[str, np.ndarray]] = {int(t): {} for t in npz["track_ids"]}
        for key in npz.files:
            if key.startswith("track") and "/" in key:
                prefix, name = key.split("/", 1)
                people[int(prefix[len("track") :])][name] = npz[key]
        return npz["frame_times_s"], people


def write_meta(path: Path, meta: Mapping[str, Any]) -> Path:
    """Write ``meta.json`` (indented UTF-8 JSON) to a temporary name, then rename."""
    path = Path(path)
    tmp = atomic_path(path)
    try:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=False, default=_plain) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _plain(value: Any) -> Any:
    """JSON form of numpy scalars/arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
