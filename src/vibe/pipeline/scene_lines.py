"""The static camera's background and its straight edges, for the scene's up direction.

A static camera sees the same background in every frame: the per-pixel median of
a few frames spread over the video keeps it (people who move are gone), and the
places where people's boxes stay in many of those frames are masked (people who stay). OpenCV's line
segment detector finds the edges; :func:`vibe.geometry.vanishing.scene_up` reads
gravity from them (:mod:`vibe.pipeline.world`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vibe.geometry.vanishing import SceneUp, scene_up, vanishing_directions

__all__ = ["SceneLinesConfig", "background", "person_mask", "line_segments", "scene_gravity", "segments_in_background",
           "video_segments"]  # fmt: skip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SceneLinesConfig:
    """When the scene's lines decide gravity.

    Attributes:
        frames: frames read for the background.
        max_angle_deg: line families further than this from the bodies' horizontal (or
            vertical) are not used, nor an up further than this from the bodies' (a sloping
            scene: stairs, ramps); wide, as the bodies' vertical itself errs by up to ~30°
            (18° from the network's body alone on a hopping person, 21° on a handstand, 28°
            for people seen from above and behind), the ground fit's own tilt limit.
        min_length_diag: the families used must total at least this many image diagonals of length.
        prior_spread_m: the ground fit's prior strength (:mod:`vibe.geometry.ground`) with the
            lines' up: far stronger than the bodies' (contacts spread over metres barely move it).
    """

    frames: int = 9
    max_angle_deg: float = 35.0
    min_length_diag: float = 1.0
    prior_spread_m: float = 3.0


def background(frames: list[np.ndarray]) -> np.ndarray:
    """``(H, W)`` float grey per-pixel median of RGB frames ``(H, W, 3)`` uint8."""
    grey = np.stack([f.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) for f in frames])
    return np.median(grey, axis=0)


def person_mask(
    people: Mapping[int, Mapping[str, np.ndarray]],
    frame_ids: np.ndarray,
    size: tuple[int, int],
    grow: float = 1.15,
    share: float = 0.3,
) -> np.ndarray:
    """``(H, W)`` bool: inside people's boxes (side × ``grow``) in at least ``share`` of the frames ``frame_ids``.

    The median of the frames shows the background wherever people cover a pixel in
    fewer than half of them: only the places where someone stays are masked.
    """
    width, height = size
    count = np.zeros((height, width), np.int32)
    for p in people.values():
        rows = np.isin(np.asarray(p["frame_ids"]), frame_ids)
        for cx, cy, side in np.asarray(p["bbox_cxcys"], np.float64)[rows, :3]:
            half = side * grow / 2.0
            x0, x1 = int(max(cx - half, 0)), int(min(cx + half, width))
            y0, y1 = int(max(cy - half, 0)), int(min(cy + half, height))
            count[y0:y1, x0:x1] += 1
    return count >= max(1, share * len(frame_ids))


def line_segments(image: np.ndarray, mask: np.ndarray, min_length_frac: float = 0.03) -> np.ndarray:
    """``(N, 4)`` segments (x1, y1, x2, y2, pixels) of a grey image ``(H, W)`` outside ``mask``.

    The image's contrast is equalised locally first (CLAHE: faint edges, fog, dim light).
    Segments shorter than ``min_length_frac`` of the image diagonal are dropped (their
    direction is too uncertain), and so are those with any point in the mask.
    """
    import cv2

    grey = np.clip(image, 0, 255).astype(np.uint8)
    grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
    lines = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(grey)[0]
    if lines is None:
        return np.zeros((0, 4))
    seg = lines.reshape(-1, 4).astype(np.float64)
    height, width = grey.shape
    long_enough = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) >= min_length_frac * np.hypot(width, height)
    seg = seg[long_enough]
    t = np.linspace(0.0, 1.0, 9)[None, :, None]
    points = seg[:, None, :2] * (1 - t) + seg[:, None, 2:] * t  # (N, 9, 2) along each segment
    x = np.clip(points[..., 0].round().astype(int), 0, width - 1)
    y = np.clip(points[..., 1].round().astype(int), 0, height - 1)
    return seg[~mask[y, x].any(axis=1)]


def video_segments(
    video: Path, people: Mapping[int, Mapping[str, np.ndarray]], frame_times_s: np.ndarray, frames: int = 9
) -> np.ndarray:
    """``(N, 4)`` the background's segments of a static-camera video, people masked (module doc).

    Reads ``frames`` frames spread over the video (seeking with the known frame
    times); an unreadable video gives no segments.
    """
    from vibe.pipeline.video import VideoError, VideoReader

    picks = np.unique(np.linspace(0, len(frame_times_s) - 1, frames).round().astype(int))
    images = []
    try:
        reader = VideoReader(video, threads=False)
        for index in picks:
            images += [img for _, _, img in reader.frames(int(index), int(index) + 1, frame_times=frame_times_s)]
    except (VideoError, OSError) as exc:
        log.warning("scene lines: cannot read %s (%s)", video, exc)
        return np.zeros((0, 4))
    if not images:
        return np.zeros((0, 4))
    height, width = images[0].shape[:2]
    return line_segments(background(images), person_mask(people, picks, (width, height)))


def scene_gravity(
    segments_px: np.ndarray, focal_px: float, size: tuple[int, int], up_prior_cam: np.ndarray, config: SceneLinesConfig
) -> tuple[SceneUp | None, str]:
    """The lines' up direction when it is usable (both tilts fixed, enough length, near the bodies'), and why (not).

    Returns:
        ``(SceneUp or None, reason)``; ``reason`` is ``"used"`` or what failed.
    """
    principal = np.array([size[0] / 2.0, size[1] / 2.0])
    found = scene_up(vanishing_directions(segments_px, focal_px, principal), up_prior_cam, config.max_angle_deg)
    if found is None:
        return None, "no horizontal or vertical line family"
    if not found.full:
        return None, "the lines fix one tilt only"
    if found.length_px < config.min_length_diag * float(np.hypot(*size)):
        return None, f"too little line length ({found.length_px:.0f} px)"
    if found.angle_to_prior_deg > config.max_angle_deg:
        return None, f"{found.angle_to_prior_deg:.1f}° from the bodies' up"
    return found, "used"


def segments_in_background(
    video: Path,
    boxes: Mapping[int, tuple[np.ndarray, np.ndarray]],
    frame_times_s: np.ndarray,
    config: SceneLinesConfig | None,
) -> Future | None:
    """Start :func:`video_segments` in a thread; None when the scene lines are off or nobody was tracked.

    Its seeks and decoding (~1 s at 720p) then overlap the network and the fit,
    which leave a core idle part of the time, instead of adding to the world stage.

    Args:
        boxes: track id → ``(frame_ids (n,), bbox_cxcys (n, 3))``, the people's boxes.
    """
    if config is None or not boxes:
        return None
    people = {tid: {"frame_ids": fids, "bbox_cxcys": cxcys} for tid, (fids, cxcys) in boxes.items()}
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scene-lines")
    future = pool.submit(video_segments, video, people, frame_times_s, config.frames)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future
