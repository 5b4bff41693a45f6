"""BlazePose landmarks of the people of :class:`~vibe.data.datasets.release_frames.ReleaseFrames` (the ``open`` stack).

Each video (a run of equal ``vid_name``) is one track: MediaPipe follows the
person through the frames in order, on crops around the ground-truth square
box (:func:`vibe.pipeline.landmarks.estimate_landmarks`), as the demo does
around the tracker's box. The encoder input is then made by the one shared
map :func:`vibe.data.features.keypoints_to_encoder_input`.

The boxes are the readers' ground-truth boxes (1.1 × the 2D joints'
extent), not the demo's MediaPipe regions of interest the open model was
trained to expect; the landmark crop adds its own margin
(:attr:`~vibe.pipeline.landmarks.LandmarkConfig.crop_scale`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from vibe.data.datasets.release_frames import ReleaseFrames, runs_of_equal
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.evaluation.release_crops import iter_frame_images
from vibe.pipeline.landmarks import NUM_LANDMARKS, LandmarkConfig, estimate_landmarks

__all__ = ["VideoLandmarks", "video_runs", "release_landmarks", "encoder_inputs"]

logger = logging.getLogger(__name__)


@dataclass
class VideoLandmarks:
    """Landmarks of every row of a :class:`ReleaseFrames`.

    Attributes:
        landmarks_img: ``(N, 33, 3)`` x, y image pixels and visibility; NaN where no pose was found.
        world: ``(N, 33, 3)`` MediaPipe's metric world landmarks (NaN where none).
        image_size: ``(N, 2)`` width and height of each row's image.
    """

    landmarks_img: np.ndarray
    world: np.ndarray
    image_size: np.ndarray


def video_runs(vid_name: np.ndarray) -> list[np.ndarray]:
    """Row indices ``(n_i,)`` of each video (run of equal consecutive ``vid_name``), in order."""
    return [np.arange(run.start, run.stop) for run in runs_of_equal(vid_name)]


def release_landmarks(
    frames: ReleaseFrames, config: LandmarkConfig | None = None, progress: bool = True
) -> VideoLandmarks:
    """33 BlazePose landmarks of every row, one MediaPipe track per video."""
    n = len(frames)
    out = VideoLandmarks(
        np.full((n, NUM_LANDMARKS, 3), np.nan), np.full((n, NUM_LANDMARKS, 3), np.nan), np.zeros((n, 2))
    )
    runs = video_runs(frames.vid_name)
    for rows in tqdm(runs, desc="landmarks", disable=not progress, leave=False):

        def images(rows=rows):
            for row, image in iter_frame_images(frames, rows):
                out.image_size[row] = (image.shape[1], image.shape[0])
                yield int(row - rows[0]), image

        track = estimate_landmarks(images(), {0: (np.arange(rows.size), frames.bbox_cxcys[rows])}, config)[0]
        out.landmarks_img[rows] = track.landmarks_img
        out.world[rows] = track.world
    found = np.isfinite(out.landmarks_img[..., 0]).all(axis=1)
    logger.info("landmarks: a pose in %d of %d frames of %d videos", found.sum(), n, len(runs))
    return out


def encoder_inputs(
    frames: ReleaseFrames, landmarks: VideoLandmarks, config: FeatureConfig | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The keypoint encoder's ``(N, 33, 3)`` input (box-square coordinates, visibility) and world landmarks
    ``(N, 33, 3)`` (NaN → 0), each video prepared with its own image size."""
    inputs = torch.zeros(len(frames), NUM_LANDMARKS, 3)
    for rows in video_runs(frames.vid_name):
        size = landmarks.image_size[rows[0]]
        inputs[rows] = keypoints_to_encoder_input(
            landmarks.landmarks_img[rows], frames.bbox_cxcys[rows], config, image_size=(float(size[0]), float(size[1]))
        )
    world = torch.as_tensor(np.nan_to_num(landmarks.world, nan=0.0), dtype=torch.float32)
    return inputs, world
