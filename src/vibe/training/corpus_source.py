"""Training windows from a landmark corpus: what MediaPipe really answered on rendered bodies.

A corpus folder (made by :mod:`vibe.evaluation.landmark_corpus`) holds one
``track_XXXXX.npz`` per rendered video: the demo's landmarks, world landmarks
and box of the rendered person's track, and the ground truth of the same
frames. :class:`CorpusSource` draws windows of consecutive frames from it and
prepares them exactly as :class:`~vibe.training.sources.SyntheticSource` prepares
synthetic ones (:func:`~vibe.data.features.keypoints_to_encoder_input`), so the
two mix in one batch (:class:`~vibe.training.batches.MixedSource`).

Mirror augmentation (``mirror_prob``): the window seen in a mirror. Image x
flips about the image centre, camera-frame x changes sign, left and right
landmarks, joints and bones swap, and every local rotation ``R`` becomes
``M R M`` with ``M = diag(−1, 1, 1)``: exact for a body whose rest skeleton is
symmetric with world-aligned rest axes (Anny ``cmu_mb``: bone heads mirror to
within 1.5 mm).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33
from vibe.body.joint_sets import EVAL14, flip_permutation
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.data.motion_db import mirror_rotations
from vibe.losses import GeneratorTargets
from vibe.training.batches import TrainBatch

__all__ = ["CorpusSource", "load_corpus"]

logger = logging.getLogger(__name__)

_PER_FRAME = ("landmarks_img", "world", "bbox_cxcys", "keypoints2d", "keypoints3d", "joints3d_eval14", "pose_rotmat")


def load_corpus(root: str | Path) -> dict[str, np.ndarray]:
    """Every track of a corpus folder, concatenated: per-frame arrays ``(N, ...)``, plus
    ``track (N,)`` int64 track index, ``shape (N, S)``, ``image_size (N, 2)`` and ``frame_ids (N,)``.

    Raises:
        FileNotFoundError: the folder holds no track.
    """
    paths = sorted(Path(root).glob("track_*.npz"))
    paths = [p for p in paths if ".tmp" not in p.name]
    if not paths:
        raise FileNotFoundError(f"no track_*.npz in {root}")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (*_PER_FRAME, "track", "shape", "image_size", "frame_ids")}
    for index, path in enumerate(paths):
        with np.load(path) as npz:
            n = len(npz["frame_ids"])
            for key in _PER_FRAME:
                parts[key].append(npz[key])
            parts["frame_ids"].append(npz["frame_ids"])
            parts["track"].append(np.full(n, index, np.int64))
            parts["shape"].append(np.broadcast_to(npz["shape"], (n, len(npz["shape"]))))
            parts["image_size"].append(np.broadcast_to(npz["image_size"], (n, 2)))
    return {k: np.concatenate(v) for k, v in parts.items()}


def _window_starts(track: np.ndarray, frame_ids: np.ndarray, seqlen: int) -> np.ndarray:
    """Rows where ``seqlen`` consecutive frames of one track begin."""
    if len(track) < seqlen:
        return np.zeros(0, np.int64)
    last = np.arange(len(track) - seqlen + 1) + seqlen - 1
    first = last - seqlen + 1
    same = (track[first] == track[last]) & (frame_ids[last] - frame_ids[first] == seqlen - 1)
    return first[same]


class CorpusSource:
    """Windows of a landmark corpus as :class:`~vibe.training.batches.TrainBatch` es.

    Args:
        root: the corpus folder.
        joint_names: the body model's joints (for mirroring the pose).
        use_world: also return MediaPipe's world landmarks.
        features: the demo's landmark preparation.
        mirror_prob: chance of mirroring each window.
    """

    def __init__(
        self,
        root: str | Path,
        joint_names: Sequence[str],
        use_world: bool = False,
        features: FeatureConfig | None = None,
        mirror_prob: float = 0.5,
    ) -> None:
        self.data = load_corpus(root)
        self.use_world = use_world
        self.features = features or FeatureConfig()
        self.mirror_prob = mirror_prob
        self._starts: dict[int, np.ndarray] = {}
        self._perm = {
            "landmarks": flip_permutation(BLAZEPOSE33),
            "eval14": flip_permutation(EVAL14),
        }
        self.joint_names = list(joint_names)
        logger.info("landmark corpus %s: %d tracks, %d frames", root, self.data["track"].max() + 1, len(self))

    def __len__(self) -> int:
        return len(self.data["track"])

    def starts(self, seqlen: int) -> np.ndarray:
        """Rows where a window of ``seqlen`` consecutive frames begins (cached)."""
        if seqlen not in self._starts:
            self._starts[seqlen] = _window_starts(self.data["track"], self.data["frame_ids"], seqlen)
        return self._starts[seqlen]

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        """``batch`` random windows (uniform over window starts), mirrored with ``mirror_prob``."""
        starts = self.starts(seqlen)
        if starts.size == 0:
            raise ValueError(f"the corpus has no window of {seqlen} consecutive frames")
        rows = rng.choice(starts, size=batch)[:, None] + np.arange(seqlen)  # (B, T)
        window = {k: self.data[k][rows].astype(np.float32) for k in (*_PER_FRAME, "shape", "image_size")}
        mirrored = rng.random(batch) < self.mirror_prob
        if mirrored.any():
            self._mirror(window, mirrored)
        return self._batch(window)

    def _mirror(self, w: dict[str, np.ndarray], which: np.ndarray) -> None:
        """Mirror windows ``which`` ``(B,)`` bool of ``w`` in place (module docstring)."""
        width = w["image_size"][which][..., :1]  # (b, T, 1)
        for key in ("landmarks_img", "keypoints2d"):  # pixels: x flips about the image's width
            points = w[key][which][:, :, self._perm["landmarks"]]
            points[..., 0] = width - points[..., 0]
            w[key][which] = points
        box = w["bbox_cxcys"][which]
        box[..., 0] = width[..., 0] - box[..., 0]
        w["bbox_cxcys"][which] = box
        for key, perm in (("world", "landmarks"), ("keypoints3d", "landmarks"), ("joints3d_eval14", "eval14")):
            points = w[key][which][:, :, self._perm[perm]]
            points[..., 0] *= -1.0
            w[key][which] = points
        w["pose_rotmat"][which] = mirror_rotations(w["pose_rotmat"][which], self.joint_names)

    def _batch(self, w: dict[str, np.ndarray]) -> TrainBatch:
        """Encoder inputs and targets of prepared windows (as the synthetic source makes them)."""
        size = w["image_size"][:, 0]  # (B, 2)
        inputs = keypoints_to_encoder_input(w["landmarks_img"], w["bbox_cxcys"], self.features, size)
        clean = np.concatenate([w["keypoints2d"], np.ones_like(w["keypoints2d"][..., :1])], axis=-1)
        keep_all = dataclasses.replace(self.features, drop_outside_image=False, min_visibility=0.0)
        kp_2d = keypoints_to_encoder_input(clean, w["bbox_cxcys"], keep_all)
        b, t = inputs.shape[:2]
        valid = torch.ones(b, t, dtype=torch.bool)
        targets = GeneratorTargets(
            kp_2d=kp_2d,
            kp_3d=torch.from_numpy(w["joints3d_eval14"]),
            has_3d=valid,
            pose_rotmat=torch.from_numpy(w["pose_rotmat"]),
            shape=torch.from_numpy(w["shape"]),
            has_body=valid.clone(),
        )
        world = torch.from_numpy(w["world"]) if self.use_world else None
        return TrainBatch(inputs=inputs, targets=targets, keypoints_world=world)
