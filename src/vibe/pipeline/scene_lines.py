"""The static camera's background and its straight edges, for the scene's up direction.

A static camera sees the same background in every frame: the per-pixel median of
a few frames spread over the video keeps it (people who move are gone), and the
places where people's boxes stay in many of those frames are masked (people who stay). OpenCV's line
segment detector finds the edges, each then refitted to the image's edge to a fraction of a
pixel (:func:`refine_segments`); :func:`vibe.geometry.vanishing.scene_up` reads
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

__all__ = [
    "SceneLinesConfig",
    "background",
    "line_segments",
    "person_mask",
    "refine_segments",
    "scene_gravity",
    "segments_in_background",
    "video_segments",
]  # fmt: skip

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
        refine: refit each segment to the image's edge (:func:`refine_segments`); False: LSD's as found.
    """

    frames: int = 9
    max_angle_deg: float = 35.0
    min_length_diag: float = 1.0
    prior_spread_m: float = 3.0
    refine: bool = True


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


def line_segments(
    image: np.ndarray, mask: np.ndarray, min_length_frac: float = 0.03, refine: bool = True
) -> np.ndarray:
    """``(N, 4)`` segments (x1, y1, x2, y2, pixels) of a grey image ``(H, W)`` outside ``mask``.

    The image's contrast is equalised locally first (CLAHE: faint edges, fog, dim light).
    Segments shorter than ``min_length_frac`` of the image diagonal are dropped (their
    direction is too uncertain), and so are those with any point in the mask; with ``refine``
    the rest are refitted to the image's edges (:func:`refine_segments`).
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
    seg = seg[~mask[y, x].any(axis=1)]
    return refine_segments(image, seg) if refine else seg


def refine_segments(
    image: np.ndarray, segments: np.ndarray, half_width_px: float = 2.0, max_turn_deg: float = 3.0
) -> np.ndarray:
    """``(N, 4)`` segments of a grey image ``(H, W)`` moved onto its edges, each keeping its centre's place along it
    and its length.

    LSD's segments are rectangles fitted to pixels of similar gradient direction: on short
    edges (a floor tile's, ~30 px) they come out turned by up to about a degree, the same way
    along a whole family (measured against the true vanishing points of rendered floors:
    +1.0° and −1.25°), which moves a vanishing point by as much. Here the gradient magnitude
    (the image lightly blurred) is sampled across each segment at points along it, its
    maximum found to a fraction of a pixel (a parabola through the three samples about the
    largest), within ``half_width_px`` of the segment, and a line fitted to those maxima (total
    least squares). A segment with fewer than 4 maxima inside its window, or turned by more
    than ``max_turn_deg`` (the maxima of a neighbouring edge: far tiles lie a few pixels apart),
    is kept as it was.
    """
    import cv2
    from scipy.ndimage import map_coordinates

    seg = np.asarray(segments, np.float64).reshape(-1, 4)
    if not len(seg):
        return seg
    gy, gx = np.gradient(cv2.GaussianBlur(np.asarray(image, np.float64), (0, 0), 0.7))
    magnitude = np.hypot(gx, gy)
    start, along = seg[:, :2], seg[:, 2:] - seg[:, :2]
    length = np.linalg.norm(along, axis=1)
    along = along / np.maximum(length, 1e-9)[:, None]
    normal = np.stack([-along[:, 1], along[:, 0]], axis=1)
    t = np.linspace(0.1, 0.9, 16)[None, :, None, None] * length[:, None, None, None]  # (N, 16, 1, 1)
    offsets = np.linspace(-half_width_px, half_width_px, 9)  # across, pixels
    points = start[:, None, None] + t * along[:, None, None] + offsets[None, None, :, None] * normal[:, None, None]
    values = map_coordinates(magnitude, [points[..., 1].ravel(), points[..., 0].ravel()], order=1, mode="nearest")
    values = values.reshape(points.shape[:3])  # (N, 16, 9)
    peak = values.argmax(axis=2)
    inside = (peak > 0) & (peak < len(offsets) - 1)
    k = np.clip(peak, 1, len(offsets) - 2)
    a, b, c = (np.take_along_axis(values, (k + d)[..., None], axis=2)[..., 0] for d in (-1, 0, 1))
    curvature = a - 2 * b + c
    shift = np.where(curvature < -1e-9, 0.5 * (a - c) / np.where(curvature < -1e-9, curvature, -1.0), 0.0)
    across = offsets[k] + shift * (offsets[1] - offsets[0])  # (N, 16)
    maxima = start[:, None] + t[:, :, 0] * along[:, None] + across[..., None] * normal[:, None]  # (N, 16, 2)
    refined = _fit_segments(maxima, inside, seg, length)
    new = (refined[:, 2:] - refined[:, :2]) / np.maximum(length, 1e-9)[:, None]
    turned = np.abs(new[:, 0] * along[:, 1] - new[:, 1] * along[:, 0]) > np.sin(np.radians(max_turn_deg))
    return np.where(turned[:, None] | (inside.sum(axis=1) < 4)[:, None], seg, refined)


def _fit_segments(points: np.ndarray, use: np.ndarray, segments: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``(N, 4)`` per segment, the segment of its ``length`` on the line through its ``points`` ``(N, M, 2)``
    flagged in ``use`` ``(N, M)`` (total least squares), centred at the projection of its old centre and
    pointing its way."""
    weight = use.astype(np.float64)
    count = np.maximum(weight.sum(axis=1), 1.0)[:, None]
    centre = (weight[..., None] * points).sum(axis=1) / count
    spread = (points - centre[:, None]) * weight[..., None]
    scatter = np.einsum("nmi,nmj->nij", spread, points - centre[:, None])
    direction = np.linalg.eigh(scatter)[1][..., 1]  # (N, 2) the largest eigenvalue's axis
    old = segments[:, 2:] - segments[:, :2]
    direction *= np.where((direction * old).sum(axis=1) >= 0, 1.0, -1.0)[:, None]
    middle = (segments[:, :2] + segments[:, 2:]) / 2
    middle = centre + ((middle - centre) * direction).sum(axis=1, keepdims=True) * direction
    half = direction * length[:, None] / 2
    return np.concatenate([middle - half, middle + half], axis=1)


def video_segments(
    video: Path,
    people: Mapping[int, Mapping[str, np.ndarray]],
    frame_times_s: np.ndarray,
    frames: int = 9,
    refine: bool = True,
) -> np.ndarray:
    """``(N, 4)`` the background's segments of a static-camera video, people masked (module doc).

    Reads ``frames`` frames spread over the video (seeking with the known frame
    times); an unreadable video gives no segments. ``refine``: as in :func:`line_segments`.
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
    return line_segments(background(images), person_mask(people, picks, (width, height)), refine=refine)


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
    future = pool.submit(video_segments, video, people, frame_times_s, config.frames, config.refine)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future
