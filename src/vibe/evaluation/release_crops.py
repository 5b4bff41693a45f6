"""ResNet-50 features of the person crops of :class:`~vibe.data.datasets.release_frames.ReleaseFrames` (the ``smpl`` stack).

The same crop as the demo and the original preprocessing: ``crop_scale ×``
the square box around its centre, resampled to 224², RGB, ImageNet
normalisation (:func:`vibe.geometry.crops.crop_image`,
:func:`vibe.models.backbone.imagenet_normalize`). Images are read once each;
frames inside a video file are decoded in one streamed pass per file. The
same image iterator feeds the open stack's landmarks (:mod:`.release_landmarks`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from tqdm import tqdm

from vibe.data.datasets.release_frames import ReleaseFrames, runs_of_equal
from vibe.geometry.crops import crop_image
from vibe.models.backbone import imagenet_normalize
from vibe.pipeline.video import VideoReader

__all__ = ["CropFeatureConfig", "iter_frame_images", "crop_features"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CropFeatureConfig:
    """Feature extraction settings: crops per forward pass, device, progress bar."""

    batch_size: int = 64
    crop_size: int = 224
    device: str = "cpu"
    progress: bool = True


def _read_rgb(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def iter_frame_images(frames: ReleaseFrames, rows: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(row, image_rgb (H, W, 3) uint8)`` for ``rows`` of ``frames`` (default all), in their order.

    Consecutive rows of one file are read together: an image once, a video
    in one streamed pass (its rows must then have increasing frame indices).

    Raises:
        FileNotFoundError: an image cannot be read, or a video ends before a requested frame.
    """
    rows = np.arange(len(frames)) if rows is None else np.asarray(rows, dtype=np.int64)
    for run in runs_of_equal(frames.image_file[rows]):
        run_rows = rows[run]
        file = str(frames.image_file[run_rows[0]])
        if frames.frame_index[run_rows[0]] < 0:
            image = _read_rgb(file)
            for row in run_rows:
                yield int(row), image
            continue
        pending = list(zip(frames.frame_index[run_rows].tolist(), run_rows.tolist()))
        for index, _, image in VideoReader(file):
            while pending and pending[0][0] == index:
                yield pending.pop(0)[1], image
            if not pending:
                break
        if pending:
            raise FileNotFoundError(f"{file}: video ends before frame {pending[0][0]}")


@torch.no_grad()
def crop_features(
    frames: ReleaseFrames, backbone: torch.nn.Module, config: CropFeatureConfig | None = None
) -> np.ndarray:
    """Features ``(N, F)`` float32 of every row's crop through ``backbone`` (``(B, 3, 224, 224) → (B, F)``)."""
    config = config or CropFeatureConfig()
    device = torch.device(config.device)
    backbone = backbone.to(device).eval()
    features: np.ndarray | None = None
    pending_rows: list[int] = []
    pending_crops: list[np.ndarray] = []

    def flush() -> None:
        nonlocal features
        crops = torch.from_numpy(np.stack(pending_crops)).to(device)
        out = backbone(imagenet_normalize(crops.permute(0, 3, 1, 2).float() / 255.0)).float().cpu().numpy()
        if features is None:
            features = np.zeros((len(frames), out.shape[1]), dtype=np.float32)
        features[pending_rows] = out
        pending_rows.clear()
        pending_crops.clear()

    images = iter_frame_images(frames)
    for row, image in tqdm(images, total=len(frames), desc="crop features", disable=not config.progress, leave=False):
        pending_rows.append(row)
        pending_crops.append(crop_image(image, frames.bbox_cxcys[row], frames.crop_scale, config.crop_size))
        if len(pending_rows) >= config.batch_size:
            flush()
    if pending_rows:
        flush()
    if features is None:
        raise ValueError("no frames to compute features for")
    logger.info("computed %d crop features of width %d", *features.shape)
    return features
