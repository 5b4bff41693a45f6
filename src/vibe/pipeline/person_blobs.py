"""Person proposals that do not start from a face: blobs of MediaPipe's person segmentation on the far tiles.

BlazePose's detector starts from a face, so small people seen from the
side, the back or above are found late or never (issue 12's crowds). The
``mediapipe`` wheel also ships a person segmenter (``selfie_segmentation.tflite``,
Apache-2.0, the same wheel and licence as the detector): a 256×256 network
whose mask marks every pixel of a person, whichever way they face. Run on
the far tiles (:func:`~vibe.pipeline.detector.far_views`' small squares,
288 px at 720p, where a person 80-120 px tall fills a good part of the
tile), each connected blob of its mask that its tile sees whole is a
*proposal*: a box where someone may stand (a blob cut by the tile's edge is
mostly part of someone larger). On single frames of the held-out rendered
crowds, the far pass and these blobs together found 0.88 of the people ≥ 80 px
tall, the far pass alone 0.76 and 0.86, with 0.03-0.08 false blobs a frame
(``benchmarks/bench_person_proposals.py``, ``docs/results.md``).

A proposal is not a person: :class:`~vibe.pipeline.roi_tracking.RoiFollower`
takes it as a weak detection, starts a landmark model there and keeps it
only when a body is seen that is no one followed (its ``_weak`` path); the
body rule (:mod:`vibe.pipeline.person_filter`) then judges the whole track.

:func:`blob_detections` turns blob boxes into
:class:`~vibe.pipeline.detector.Detections` rows in the detector's box
definition: a square centred on the blob (a standing person's mid-hip is
near the middle of their extent) of side ``roi_scale`` × its height (the
detector's ROI of a person is about 1.25 × their height), a face box on the
blob's top.
"""

from __future__ import annotations

import cv2
import numpy as np

from vibe.pipeline import native_stderr_silenced
from vibe.pipeline.detector import Detections, box_iou
from vibe.pipeline.person_filter import landmark_boxes

__all__ = [
    "MASK_THRESHOLD", "MERGED_EXTENT", "ONE_EACH", "PersonSegmenter", "blob_boxes", "blob_detections", "cut_by_view",
    "merge_blobs", "unclaimed_blobs", "with_proposals",
]  # fmt: skip

MASK_THRESHOLD = 0.5  # a pixel is the person's where the segmenter's mask exceeds this
# A followed landmark extent this many times taller than a person box inside it reads two people as one:
# it does not claim the box (unclaimed_blobs' max_extent).
MERGED_EXTENT = 1.5
# A followed reading claims one person box: another box half inside it is someone it overlaps
# (NanoDet boxes two overlapping people apart; one landmark model reads one of them).
ONE_EACH = True


def blob_boxes(mask: np.ndarray, threshold: float = MASK_THRESHOLD, min_height: float = 8.0) -> np.ndarray:
    """Boxes ``(k, 4)`` xyxy (mask pixels) of the connected blobs of ``mask (H, W)`` above ``threshold``.

    Blobs less than ``min_height`` pixels tall are left out.
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats((np.asarray(mask) > threshold).astype(np.uint8))
    x, y, w, h = (stats[1:count, k].astype(np.float64) for k in range(4))
    boxes = np.stack([x, y, x + w, y + h], axis=1).reshape(-1, 4)
    return boxes[h >= min_height]


def cut_by_view(boxes_xyxy: np.ndarray, view_xyxy: tuple[int, int, int, int], image_wh: tuple[int, int]) -> np.ndarray:
    """Which boxes ``(k, 4)`` touch an edge of the view ``view_xyxy`` lying inside the image ``(W, H)``: ``(k,)``."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = view_xyxy
    w, h = image_wh
    return (
        ((boxes[:, 0] <= x0) & (x0 > 0)) | ((boxes[:, 1] <= y0) & (y0 > 0))
        | ((boxes[:, 2] >= x1) & (x1 < w)) | ((boxes[:, 3] >= y1) & (y1 < h))
    )  # fmt: skip


def merge_blobs(boxes_xyxy: np.ndarray, overlap: float = 0.5) -> np.ndarray:
    """One box per person seen in overlapping tiles: greedy, tallest first, drop a box covered by a kept one.

    Covered: intersection over the smaller box ≥ ``overlap`` (a tile's blob
    cut at the tile's edge lies inside the neighbouring tile's whole one).
    Shapes: ``(k, 4)`` → ``(m, 4)``.
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    order = np.argsort(-(boxes[:, 3] - boxes[:, 1]), kind="stable")
    kept: list[np.ndarray] = []
    for box in boxes[order]:
        if not kept or box_iou(box[None], np.array(kept), over="min").max() < overlap:
            kept.append(box)
    return np.array(kept).reshape(-1, 4)


def blob_detections(boxes_xyxy: np.ndarray, score: float, roi_scale: float = 1.25) -> Detections:
    """Detector rows for blob boxes ``(k, 4)``: body squares, faces on the blobs' tops, keypoints (see module).

    Keypoints ``(k, 4, 2)``: mid-hip at the blob's centre, the body circle's
    point ``roi_scale`` × half its height above it, mid-shoulder a quarter of
    the height above the centre, the upper-body circle's point at the top.
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    height = boxes[:, 3] - boxes[:, 1]
    half = roi_scale * height / 2.0
    body = np.concatenate([centre - half[:, None], centre + half[:, None]], axis=1)
    head = height / 8.0  # a standing person's head is about an eighth of their height
    face = np.stack([centre[:, 0] - head / 2, boxes[:, 1], centre[:, 0] + head / 2, boxes[:, 1] + head], axis=1)
    up = np.stack([np.zeros_like(height), -height], axis=1)
    keypoints = np.stack([centre, centre + up * roi_scale / 2, centre + up / 4, centre + up / 2], axis=1)
    return Detections(body, np.full(len(boxes), float(score)), face, keypoints)


def unclaimed_blobs(
    blobs_xyxy: np.ndarray, squares_xyxy: np.ndarray, people_xyxy: np.ndarray, taken_xyxy: np.ndarray,
    max_side: float | np.ndarray,
    max_extent: float | np.ndarray = np.inf,
    one_each: bool = False,
) -> np.ndarray:  # fmt: skip
    """Rows ``(m,)`` of the blobs that may be someone not found yet.

    Args:
        blobs_xyxy: ``(k, 4)`` blob boxes; squares_xyxy: ``(k, 4)`` their
            :func:`blob_detections` squares.
        people_xyxy: ``(p, 4)`` the followed people's landmark extents: a blob
            half inside one is theirs (a limb segmented apart).
        taken_xyxy: ``(q, 4)`` boxes looked for otherwise (detections, lost
            tracks' predicted boxes): a square overlapping one by IoU ≥ 0.3 is theirs.
        max_side: squares this wide or wider are left to the detector (far
            passes look for people smaller than their tiles); one for all, or ``(k,)`` one per blob.
        max_extent: a followed extent claims a blob only when it is at most this
            many times the blob's height (one for all, or ``(k,)``): a whole-body
            box inside a much taller extent is someone that reading took in
            with its own body (two people read as one), not part of it.
        one_each: a followed extent claims only the one box that matches it
            best (one-to-one, by IoU); another box half inside it is someone
            overlapping that person (whole-body boxes: two overlapping people
            give two boxes, one reading).
    """
    blobs, squares = np.asarray(blobs_xyxy, np.float64).reshape(-1, 4), np.asarray(squares_xyxy, np.float64)
    free = squares[:, 2] - squares[:, 0] < max_side
    if len(people_xyxy) and len(blobs):
        lo = np.maximum(blobs[:, None, :2], people_xyxy[None, :, :2])
        hi = np.minimum(blobs[:, None, 2:], people_xyxy[None, :, 2:])
        area = np.maximum((blobs[:, 2:] - blobs[:, :2]).prod(axis=1), 1e-9)
        inside = np.clip(hi - lo, 0.0, None).prod(axis=2) / area[:, None]  # (k, p)
        ratio = (people_xyxy[None, :, 3] - people_xyxy[None, :, 1]) / np.maximum(blobs[:, 3:4] - blobs[:, 1:2], 1e-9)
        inside = np.where(ratio <= np.broadcast_to(np.asarray(max_extent, np.float64), len(blobs))[:, None], inside, 0)
        if one_each:
            inside = np.where(_best_pairs(box_iou(blobs, people_xyxy)), inside, 0.0)
        free &= inside.max(axis=1) < 0.5
    if len(taken_xyxy) and len(blobs):
        free &= box_iou(squares, np.asarray(taken_xyxy, np.float64)).max(axis=1) < 0.3
    return np.flatnonzero(free)


def _best_pairs(iou: np.ndarray) -> np.ndarray:
    """``(k, p)`` bool: the one-to-one pairs of rows and columns of largest total ``iou (k, p)`` that overlap."""
    from scipy.optimize import linear_sum_assignment

    pairs = np.zeros(iou.shape, bool)
    rows, cols = linear_sum_assignment(-iou)
    pairs[rows, cols] = iou[rows, cols] > 0
    return pairs


def with_proposals(
    detections: Detections, people_xyxy: np.ndarray, blobs_xyxy: np.ndarray, followed_landmarks: list[np.ndarray],
    lost_xyxy: np.ndarray, score: float, roi_scale: float, blob_max_side: float,
) -> tuple[Detections, dict[int, np.ndarray]]:  # fmt: skip
    """A far pass's ``detections`` with its unclaimed proposals appended as weak rows, and row → proposal box.

    Proposals: whole-body person boxes ``people_xyxy (k, 4)`` (any size;
    :mod:`~vibe.pipeline.person_boxes`) and segmentation blobs ``blobs_xyxy
    (m, 4)`` that no person box covers (smaller than ``blob_max_side``).
    Unclaimed (:func:`unclaimed_blobs`): not half inside a followed person's
    landmark extent (``followed_landmarks``, each ``(33, 3)``; for a person box
    only an extent at most :data:`MERGED_EXTENT` times its height, and only the
    one box that matches that extent best, :data:`ONE_EACH`), their
    square overlapping no lost track's box ``lost_xyxy (q, 4)`` by IoU 0.3,
    nor, for a blob, any detection's. A person box over a detection stays a
    proposal: whoever that detection started is followed (and claims the box
    by the first test); where it started no one, the box is a second chance,
    from the whole body rather than a face. Rows: :func:`blob_detections` at
    ``score`` and ``roi_scale``.
    """
    people = np.asarray(people_xyxy, np.float64).reshape(-1, 4)
    blobs = np.asarray(blobs_xyxy, np.float64).reshape(-1, 4)
    if len(people) and len(blobs):
        blobs = blobs[box_iou(blobs, people, over="min").max(axis=1) < 0.5]
    extents = landmark_boxes(np.asarray(followed_landmarks, np.float64).reshape(-1, 33, 3))
    kinds = (  # boxes, lost or taken boxes, widest square, tallest claiming extent, one box per extent
        (people, lost_xyxy, np.inf, MERGED_EXTENT, ONE_EACH),
        (blobs, np.concatenate([detections.bbox_xyxy, lost_xyxy]), blob_max_side, np.inf, False),
    )
    kept = []
    for boxes, taken, max_side, taller, one_each in kinds:
        squares = blob_detections(boxes, score, roi_scale).bbox_xyxy
        kept.append(boxes[unclaimed_blobs(boxes, squares, extents, taken, max_side, taller, one_each)])
    boxes = np.concatenate(kept)
    rows = blob_detections(boxes, score, roi_scale)
    fields = ("bbox_xyxy", "score", "face_xyxy", "keypoints_img")
    merged = Detections(*(np.concatenate([getattr(detections, k), getattr(rows, k)]) for k in fields))
    return merged, {len(detections) + k: box for k, box in enumerate(boxes)}


class PersonSegmenter:
    """MediaPipe's person segmentation (``selfie_segmentation.tflite``, general model) on square views.

    ``config``: the mask threshold (the key of :class:`~vibe.pipeline.graph_pool.GraphPool`).
    Not thread-safe (one MediaPipe graph); :meth:`close` when done.
    """

    def __init__(self, threshold: float = MASK_THRESHOLD):
        import mediapipe as mp

        self.config = threshold
        with native_stderr_silenced():
            self._graph = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def close(self) -> None:
        with native_stderr_silenced():
            self._graph.close()

    def warm_up(self) -> None:
        """One blank image: the model's first run (about 0.4 s of CPU, ``docs/benchmarks.md``) happens now."""
        with native_stderr_silenced():
            self._graph.process(np.zeros((64, 64, 3), np.uint8))

    def blobs(self, image_rgb: np.ndarray, views: list[tuple[float, float, float]], min_height: float) -> np.ndarray:
        """Merged blob boxes ``(k, 4)`` (image pixels) over the square ``views`` ``(x0, y0, side)`` of ``image_rgb``.

        ``min_height``: in image pixels. A blob touching a view's edge inside
        the image is left out: it is cut, part of someone larger than the view
        (a near person's legs), or seen whole by the overlapping view.
        """
        h, w = image_rgb.shape[:2]
        parts = []
        for view in views:
            x0, y0, side = (max(round(v), 0) for v in view)
            x1, y1 = min(x0 + side, w), min(y0 + side, h)
            mask = self._graph.process(np.ascontiguousarray(image_rgb[y0:y1, x0:x1])).segmentation_mask
            boxes = blob_boxes(mask, self.config, min_height) + [x0, y0] * 2
            parts.append(boxes[~cut_by_view(boxes, (x0, y0, x1, y1), (w, h))])
        return merge_blobs(np.concatenate(parts) if parts else np.zeros((0, 4)))
