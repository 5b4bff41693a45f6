"""33 BlazePose landmarks per tracked person.

MediaPipe's legacy ``mp.solutions.pose`` (BlazePose full, ``model_complexity=1``,
shipped in the ``mediapipe==0.10.21`` wheel) finds one person per image. To
handle several people, each track gets its own square crop around its
(smoothed) box and its own ``Pose`` instance, so MediaPipe's internal
landmark-to-ROI tracking follows that person only. Landmarks are mapped from
the crop back to image pixels.

Outputs per track (n frames): ``landmarks_img (n, 33, 3)`` = x, y in image
pixels and visibility in [0, 1]; ``world (n, 33, 3)`` MediaPipe's metric
world landmarks (metres, origin between the hips, y down as in the image);
frames where MediaPipe finds no pose hold NaN coordinates and visibility 0.

A new person's first reading can come out upside down: MediaPipe's detector
inside the crop takes raised arms for legs (or the feet for the head) and
gives the landmark model a region turned over, which it then follows for the
track's life (on the rendered crowds, 5 of 6 tracks read upside down from
their start were upright people). So a start whose torso points more than
``LandmarkConfig.turn_check`` degrees from image-up is read again on the crop
turned over (180°): a person truly upside down reads upside down both ways
(all the handstands and cartwheels checked), a misreading reads upright on the
turned crop, and that reading is kept when it spans the body as far as the
first did (``TURN_MIN_SPAN``); the graph then follows the person in turned
crops (:attr:`PoseEstimator.turned`), which changes nothing once it follows,
since each region comes from the previous landmarks.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vibe.pipeline import native_stderr_silenced, release_freed_memory
from vibe.pipeline.background import map_in_threads
from vibe.pipeline.detector import crop_square

log = logging.getLogger(__name__)

NUM_LANDMARKS = 33
# BlazePose topology order (mediapipe ``PoseLandmark``).
BLAZEPOSE_LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip


@dataclass(frozen=True)
class LandmarkConfig:
    """Options of the landmark stage.

    ``crop_scale`` multiplies the track's square body box (already MediaPipe's
    pose region of interest, see :mod:`vibe.pipeline.detector`) to get the crop
    given to MediaPipe, leaving room for its own detector and ROI tracking;
    ``crop_size`` is the crop's resolution in pixels. ``static_image_mode``
    runs MediaPipe's detector on every crop instead of tracking its ROI
    (slower, no temporal coupling). ``smooth_landmarks`` is MediaPipe's own
    filter, off by default because it filters in crop coordinates, which move
    with the person. ``turn_check``: a start read with its torso more than
    this many degrees from image-up is read again on the crop turned over
    (module docstring); None: never.
    """

    crop_scale: float = 1.2
    crop_size: int = 256
    model_complexity: int = 1
    static_image_mode: bool = False
    smooth_landmarks: bool = False
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    turn_check: float | None = 120.0


_LS, _RS, _LH, _RH = (
    BLAZEPOSE_LANDMARK_NAMES.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
)


def torso_up(lm: np.ndarray) -> np.ndarray:
    """Torso axis ``(n, 2)``, pixels, hip centre → shoulder centre (image y down), of landmarks ``(n, 33, 3)``."""
    return lm[:, [_LS, _RS], :2].mean(1) - lm[:, [_LH, _RH], :2].mean(1)


def torso_angles(landmarks_img: np.ndarray) -> np.ndarray:
    """Torso axis (hip centre → shoulder centre) of ``(n, 33, 3)`` landmarks, degrees from image-up ``(n,)``
    (positive: leaning to the image's right; ±180: upside down)."""
    up = torso_up(np.asarray(landmarks_img, np.float64))
    return np.degrees(np.arctan2(up[:, 0], -up[:, 1]))


# A turned reading that shrinks the body is no better reading: on a real clip (a woman seen from behind
# at a table) the only turned reading taken that spanned less than the first (0.80 of it) was a body
# squeezed onto her back; the right ones on the rendered crowds spanned 1.04-1.22 of theirs.
TURN_MIN_SPAN = 0.9


def _extent(landmarks_img: np.ndarray) -> float:
    """The larger side of the box around ``(33, 3)`` landmarks, pixels."""
    xy = landmarks_img[:, :2]
    return float(np.max(xy.max(axis=0) - xy.min(axis=0)))


@dataclass
class TrackLandmarks:
    """Landmarks of one track over its n frames.

    Attributes:
        track_id: the track's identity.
        frame_ids: ``(n,)`` frame indices.
        landmarks_img: ``(n, 33, 3)`` x, y image pixels and visibility.
        world: ``(n, 33, 3)`` metric landmarks (metres, hip-centred).
        found: ``(n,)`` bool, False where MediaPipe found no pose.
    """

    track_id: int
    frame_ids: np.ndarray
    landmarks_img: np.ndarray
    world: np.ndarray
    found: np.ndarray

    ARRAYS: ClassVar[tuple[str, ...]] = ("frame_ids", "landmarks_img", "world", "found")  # per-frame fields, in order


def crop_view(bbox_cxcys: np.ndarray, crop_scale: float) -> tuple[float, float, float]:
    """Square crop ``(x0, y0, side)`` pixels around a square box ``(cx, cy, side)`` enlarged by ``crop_scale``."""
    cx, cy, side = (float(v) for v in bbox_cxcys)
    side = side * crop_scale
    return cx - side / 2.0, cy - side / 2.0, side


def paint_over(crop: np.ndarray, view: tuple[float, float, float], boxes_xyxy: np.ndarray) -> np.ndarray:
    """``crop (S, S, 3)`` of the square ``view = (x0, y0, side)`` with image boxes ``(k, 4)`` filled by its mean colour."""
    x0, y0, side = view
    size = crop.shape[0]
    out = crop.copy()
    fill = crop.reshape(-1, 3).mean(axis=0).astype(crop.dtype)
    cells = np.round((boxes_xyxy - np.array([x0, y0, x0, y0])) * (size / side)).astype(int)
    for a, b, c, d in np.clip(cells, 0, size):
        out[b:d, a:c] = fill
    return out


class PoseEstimator:
    """One MediaPipe ``Pose`` instance, i.e. one person followed over time.

    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, config: LandmarkConfig | None = None):
        import mediapipe as mp

        self.config = config or LandmarkConfig()
        c = self.config
        with native_stderr_silenced():
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=c.static_image_mode,
                model_complexity=c.model_complexity,
                smooth_landmarks=c.smooth_landmarks,
                enable_segmentation=False,
                min_detection_confidence=c.min_detection_confidence,
                min_tracking_confidence=c.min_tracking_confidence,
            )
        self._first = True
        self._following = False  # MediaPipe takes the next frame's region from this frame's landmarks
        self._turned = False  # crops given turned over (180°): this person's start read upside down

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pose is not None:
            with native_stderr_silenced():
                self._pose.close()
            self._pose = None
            release_freed_memory()

    def warm_up(self) -> None:
        """One blank crop through a graph that follows no one: its models' first run happens now, and it
        still follows no one (nobody on a blank crop; a graph that finds someone there is restarted)."""
        if self._following:
            raise RuntimeError("warm_up is for a graph that follows no one: forget() first")
        blank = np.zeros((self.config.crop_size, self.config.crop_size, 3), dtype=np.uint8)
        with native_stderr_silenced(self._first):  # the first call opens the calculators, which log to fd 2
            if self._pose.process(blank).pose_landmarks is not None:
                self._pose.reset()
        self._first = False

    def forget(self) -> None:
        """Drop the person followed: the next :meth:`estimate` starts from MediaPipe's detector, as a new instance's.

        While MediaPipe follows someone it takes each frame's region from the
        previous landmarks; one blank crop (no landmarks on it) drops that
        region, which costs about one frame's inference, where a new
        instance's first frame costs about six (its models load then;
        ``docs/benchmarks.md``). Same landmarks afterwards as a new
        instance's (``tests/test_graph_pool.py``). A blank crop with
        landmarks (never seen) restarts the graph instead.
        """
        self._turned = False
        if not self._following:
            return
        blank = np.zeros((self.config.crop_size, self.config.crop_size, 3), dtype=np.uint8)
        if self._pose.process(blank).pose_landmarks is not None:
            self._pose.reset()
        self._following = False

    @property
    def following(self) -> bool:
        """Whether MediaPipe follows a person (the next crop's region comes from its landmarks, no detector)."""
        return self._following

    @property
    def turned(self) -> bool:
        """Whether the crops are given turned over (the person's start read upside down; module docstring)."""
        return self._turned

    def estimate(
        self, image_rgb: np.ndarray, bbox_cxcys: np.ndarray, hide_xyxy: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Landmarks of the person in the square box ``bbox_cxcys (3,)`` of ``image_rgb (H, W, 3)``.

        ``hide_xyxy (k, 4)``: image boxes painted over in the crop (with
        the crop's mean colour), e.g. the heads of other people, so that
        MediaPipe's own detector, which starts from a face, does not pick
        one of them. Returns ``landmarks_img (33, 3)`` (x, y pixels,
        visibility) and ``world (33, 3)`` metres, or None when no pose is found.
        """
        view = crop_view(bbox_cxcys, self.config.crop_scale)
        crop = crop_square(image_rgb, view, self.config.crop_size)
        if hide_xyxy is not None and len(hide_xyxy):
            crop = paint_over(crop, view, np.asarray(hide_xyxy, np.float64))
        if self._following:
            return self._read(crop, view)
        self._turned = False
        first = self._read(crop, view)
        limit = self.config.turn_check
        if first is None or limit is None or abs(torso_angles(first[0][None])[0]) <= limit:
            return first
        return self._read_turned(crop, view, first[0])

    def _read_turned(
        self, crop: np.ndarray, view: tuple[float, float, float], first_img: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A start read upside down (``first_img (33, 3)``) read again on the crop turned over; that reading when
        its torso is within 90° of image-up and it spans ``TURN_MIN_SPAN`` of the first reading's extent (the
        graph then follows in turned crops), else the first reading again."""
        self.forget()
        self._turned = True
        turned = self._read(crop, view)
        if turned is not None and abs(torso_angles(turned[0][None])[0]) < 90.0 and (
            _extent(turned[0]) >= TURN_MIN_SPAN * _extent(first_img)
        ):
            return turned
        self.forget()  # MediaPipe is deterministic: the same first reading, and the graph following it
        return self._read(crop, view)

    def _read(self, crop: np.ndarray, view: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray] | None:
        """MediaPipe on ``crop (S, S, 3)`` of the square ``view = (x0, y0, side)`` (turned over when
        :attr:`turned`); ``(landmarks_img (33, 3), world (33, 3))`` in the image's axes, or None."""
        if self._turned:
            crop = np.ascontiguousarray(crop[::-1, ::-1])
        # The first call opens the graph's calculators, which log to fd 2.
        with native_stderr_silenced(self._first):
            result = self._pose.process(crop)
        self._first = False
        self._following = result.pose_landmarks is not None and not self.config.static_image_mode
        if result.pose_landmarks is None:
            return None
        x0, y0, side = view
        lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        if self._turned:  # back from the turned crop: x, y mirrored in the crop; world turned about its depth axis
            lm[:, :2] = 1.0 - lm[:, :2]
            world[:, :2] = -world[:, :2]
        landmarks_img = np.stack([x0 + lm[:, 0] * side, y0 + lm[:, 1] * side, lm[:, 2]], axis=1)
        return landmarks_img, world


def estimate_landmarks(
    frames: Iterable[tuple[int, np.ndarray]],
    track_boxes: dict[int, tuple[np.ndarray, np.ndarray]],
    config: LandmarkConfig | None = None,
) -> dict[int, TrackLandmarks]:
    """Landmarks of every track, in one streamed pass over the video.

    Args:
        frames: ``(frame_id, image_rgb (H, W, 3))`` in increasing frame order.
        track_boxes: track id → ``(frame_ids (n,), bbox_cxcys (n, 3))``, e.g.
            from :func:`vibe.pipeline.people.smooth_square_boxes`.
        config: landmark options.

    Returns:
        track id → :class:`TrackLandmarks` over the same frames. A ``Pose``
        instance lives only while its track does, so memory stays bounded by
        the number of people visible at once.
    """
    return _log_missing(_one_pass(frames, track_boxes, config or LandmarkConfig()))


def _one_pass(
    frames: Iterable[tuple[int, np.ndarray]],
    track_boxes: dict[int, tuple[np.ndarray, np.ndarray]],
    config: LandmarkConfig,
) -> dict[int, TrackLandmarks]:
    """:func:`estimate_landmarks` without its log line (a parallel range is only part of a track)."""
    if not track_boxes:
        return {}
    out = {
        tid: TrackLandmarks(
            tid,
            np.asarray(fids),
            np.full((len(fids), NUM_LANDMARKS, 3), np.nan),
            np.full((len(fids), NUM_LANDMARKS, 3), np.nan),
            np.zeros(len(fids), dtype=bool),
        )
        for tid, (fids, _) in track_boxes.items()
    }
    for t in out.values():
        t.landmarks_img[..., 2] = 0.0
    position = {tid: {int(f): k for k, f in enumerate(fids)} for tid, (fids, _) in track_boxes.items()}
    last_frame = {tid: int(fids[-1]) for tid, (fids, _) in track_boxes.items()}
    live: dict[int, PoseEstimator] = {}
    try:
        for frame_id, image in frames:
            for tid, (_, boxes) in track_boxes.items():
                k = position[tid].get(int(frame_id))
                if k is None:
                    continue
                if tid not in live:
                    live[tid] = PoseEstimator(config)
                found = live[tid].estimate(image, boxes[k])
                if found is not None:
                    out[tid].landmarks_img[k], out[tid].world[k] = found
                    out[tid].found[k] = True
            for tid in [t for t in live if last_frame[t] <= frame_id]:
                live.pop(tid).close()
    finally:
        for est in live.values():
            est.close()
    return out


def _log_missing(out: dict[int, TrackLandmarks]) -> dict[int, TrackLandmarks]:
    """Say which tracks have frames without a pose; returns ``out``."""
    for t in out.values():
        if not t.found.all():
            log.info("track %d: no pose in %d of %d frames", t.track_id, (~t.found).sum(), t.found.size)
    return out


def split_frames(
    track_boxes: dict[int, tuple[np.ndarray, np.ndarray]], parts: int, min_frames: int
) -> list[tuple[int, int]]:
    """Cut the frames the tracks cover into at most ``parts`` ranges of equal person-frames.

    Args:
        track_boxes: track id → ``(frame_ids (n,), ...)``.
        parts: wanted number of ranges (one per worker).
        min_frames: no range shorter than this many frames (each range starts
            MediaPipe's person search anew, which costs a detection).

    Returns:
        ``[(start, stop), ...]`` consecutive, covering ``0 .. last frame + 1``.
    """
    stop = max(int(f[-1]) for f, _ in track_boxes.values()) + 1
    work = np.zeros(stop)
    for fids, _ in track_boxes.values():
        work[np.asarray(fids, dtype=np.int64)] += 1.0
    parts = max(1, min(parts, stop // max(min_frames, 1)))
    cumulative = np.cumsum(work)
    cuts = [int(np.searchsorted(cumulative, cumulative[-1] * k / parts)) + 1 for k in range(1, parts)]
    bounds = [0, *sorted({c for c in cuts if 0 < c < stop}), stop]
    return list(itertools.pairwise(bounds))


def _restrict(
    track_boxes: dict[int, tuple[np.ndarray, np.ndarray]], start: int, stop: int
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The part of every track inside frames ``start .. stop - 1`` (tracks outside are left out)."""
    out = {}
    for tid, (fids, boxes) in track_boxes.items():
        fids = np.asarray(fids)
        inside = (fids >= start) & (fids < stop)
        if inside.any():
            out[tid] = (fids[inside], np.asarray(boxes)[inside])
    return out


def estimate_landmarks_parallel(
    frames_between: Callable[[int, int], Iterable[tuple[int, np.ndarray]]],
    track_boxes: dict[int, tuple[np.ndarray, np.ndarray]],
    config: LandmarkConfig | None = None,
    workers: int = 2,
    min_frames: int = 60,
) -> dict[int, TrackLandmarks]:
    """:func:`estimate_landmarks` with the video cut into ranges run in parallel threads.

    MediaPipe runs its graphs outside the GIL, so threads use separate cores.
    Each range has its own decoder (``frames_between(start, stop)`` yields
    ``(frame_id, image_rgb)`` for those frames, e.g. a seeking
    :meth:`~vibe.pipeline.video.VideoReader.frames`) and its own ``Pose``
    instances; a track crossing a cut is picked up by MediaPipe's detector
    again on the first frame after it, which is how a single pass starts it.

    Returns the same as :func:`estimate_landmarks` over the whole tracks.
    """
    if not track_boxes:
        return {}
    config = config or LandmarkConfig()
    ranges = split_frames(track_boxes, workers, min_frames)

    def run(bounds: tuple[int, int]) -> dict[int, TrackLandmarks]:
        start, stop = bounds
        return _one_pass(frames_between(start, stop), _restrict(track_boxes, start, stop), config)

    pieces = map_in_threads(run, ranges, "landmarks")
    out = {}
    for tid in track_boxes:
        parts = [p[tid] for p in pieces if tid in p]
        out[tid] = TrackLandmarks(
            tid, *(np.concatenate([getattr(p, k) for p in parts]) for k in TrackLandmarks.ARRAYS)
        )
    return _log_missing(out)
