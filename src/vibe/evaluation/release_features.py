"""Per-frame features for the paper protocols when the data is a dataset's own release layout.

The db files carry precomputed ResNet-50 features; a release layout carries
only images or videos, so the features are computed here, for each stack:

- ``smpl``: ResNet-50 features of the ground-truth-box crops
  (:mod:`vibe.evaluation.release_crops`), with SPIN's weights
  (``spin_model_checkpoint.pth.tar``) unless a backbone is given;
- ``open``: BlazePose landmarks followed per video on the same boxes
  (:mod:`vibe.evaluation.release_landmarks`), prepared by the shared map
  and passed through the model's keypoint encoder.

What costs time and does not depend on the checkpoint (the SPIN crop
features, the landmarks) is cached in a folder, under a digest of the
frames (images, frame indices, boxes, crop scale) and of what produced it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vibe import assets
from vibe.evaluation.release_crops import CropFeatureConfig, crop_features
from vibe.evaluation.release_landmarks import VideoLandmarks, encoder_inputs, release_landmarks, video_runs
from vibe.data.datasets.release_frames import ReleaseFrames
from vibe.pipeline.landmarks import LandmarkConfig

__all__ = ["FeatureSource", "frames_key", "release_features"]

logger = logging.getLogger(__name__)


@dataclass
class FeatureSource:
    """Where the features of release-layout frames come from.

    Attributes:
        model: an open-stack generator (``feature_source == "keypoints"``):
            landmarks through its keypoint encoder; ``None``: ResNet-50 crops.
        backbone: ResNet-50 for the crops (``(B, 3, 224, 224) → (B, F)``);
            ``None``: SPIN's, loaded from ``spin_checkpoint``.
        spin_checkpoint: SPIN's file (default in :func:`vibe.assets.checkpoints_dir`).
        landmarks: MediaPipe options of the open stack.
        batch_size, device, progress: as the runner's.
    """

    model: Any | None = None
    backbone: torch.nn.Module | None = None
    spin_checkpoint: str | os.PathLike | None = None
    landmarks: LandmarkConfig | None = None
    batch_size: int = 32
    device: str = "cpu"
    progress: bool = True


def frames_key(frames: ReleaseFrames, producer: str) -> str:
    """Digest of what per-frame inputs depend on: images, frame indices, boxes, crop scale and ``producer``."""
    digest = hashlib.sha256(producer.encode())
    digest.update("\0".join(map(str, frames.image_file)).encode())
    for array in (frames.frame_index.astype(np.int64), frames.bbox_cxcys.astype(np.float32)):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr(frames.crop_scale).encode())
    return digest.hexdigest()[:20]


def _cached(path: Path | None, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, read from ``path`` when it exists, else written there (temp name, then renamed)."""
    if path is not None and path.is_file():
        logger.info("reused %s", path)
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    arrays = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    return arrays


def _resnet_features(frames: ReleaseFrames, source: FeatureSource, cache_dir: Path | None) -> tuple[np.ndarray, str]:
    crop_config = CropFeatureConfig(batch_size=source.batch_size, device=source.device, progress=source.progress)
    if source.backbone is not None:
        return crop_features(frames, source.backbone, crop_config), "ResNet-50 crops (given backbone)"
    spin = Path(source.spin_checkpoint or assets.checkpoints_dir() / "spin_model_checkpoint.pth.tar")
    assets.require([spin], "Features of the release layout's images (SPIN's ResNet-50)")

    def compute() -> dict[str, np.ndarray]:
        from vibe.models.backbone import HMRBackbone
        from vibe.models.checkpoints import load_spin

        backbone = HMRBackbone()
        load_spin(spin, backbone=backbone)
        return {"features": crop_features(frames, backbone, crop_config)}

    stat = spin.stat()
    key = frames_key(frames, f"spin:{spin.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    path = cache_dir / f"crop_features_{key}.npz" if cache_dir is not None else None
    return _cached(path, compute)["features"], "ResNet-50 crops (SPIN)"


@torch.no_grad()
def _landmark_features(frames: ReleaseFrames, source: FeatureSource, cache_dir: Path | None) -> tuple[np.ndarray, str]:
    config = source.landmarks or LandmarkConfig()

    def compute() -> dict[str, np.ndarray]:
        found = release_landmarks(frames, config, source.progress)
        return {"landmarks_img": found.landmarks_img, "world": found.world, "image_size": found.image_size}

    producer = f"blazepose:{importlib.metadata.version('mediapipe')}:{config!r}"
    path = cache_dir / f"landmarks_{frames_key(frames, producer)}.npz" if cache_dir is not None else None
    landmarks = VideoLandmarks(**_cached(path, compute))
    inputs, world = encoder_inputs(frames, landmarks)
    model, device = source.model, torch.device(source.device)
    use_world = model.config.keypoint_encoder.use_world
    features = []
    for rows in video_runs(frames.vid_name):
        w = world[rows][None].to(device) if use_world else None
        features.append(model.encode_frames(inputs[rows][None].to(device), w)[0].float().cpu())
    return torch.cat(features).numpy(), "BlazePose landmarks"


def release_features(
    frames: ReleaseFrames, source: FeatureSource, cache_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, str]:
    """Features ``(N, F)`` float32 of every row of ``frames`` and a description of where they come from.

    Raises:
        vibe.assets.MissingAssetError: ResNet-50 features without a backbone and no SPIN file.
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    if source.model is not None:
        return _landmark_features(frames, source, cache)
    return _resnet_features(frames, source, cache)
