"""Crowd helpers of the one-pass front end (:mod:`vibe.pipeline.roi_tracking`): people beside people.

In a crowd the crop of a small person also holds their neighbours, and two
things then go wrong (``docs/results.md``, crowd section):

- MediaPipe's landmark model, starting on a crop, runs its own face-driven
  detector there and may pick a neighbour's face: the new track is that
  neighbour (and is discarded as a second view of them) and the person is
  missed. :func:`heads_to_hide` lists the other people's heads (the
  followed people's :func:`head_box`, the other detections' face boxes) so
  that the crop shows only the person's own; and when the model starts on
  a whole-body proposal (a person box, :mod:`~vibe.pipeline.person_boxes`)
  of someone half hidden beside or behind a nearer person,
  :func:`bodies_outside` lists the followed people's bodies outside that
  box, painted over too, so that the crop shows the person rather than the
  nearer body beside them;
- a small person's track, once lost, waits for the next far pass: the usual
  passes' views are too coarse for them. :func:`local_views` gives one
  square around each lost small track, which :func:`detect_in_views` looks at.

Boxes are ``xyxy`` image pixels.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vibe.pipeline.detector import Detections, box_iou, cross_view_nms
from vibe.pipeline.person_filter import landmark_boxes

__all__ = ["bodies_outside", "detect_in_views", "grown", "head_box", "heads_to_hide", "local_views", "rect_minus"]

_FACE_GROWTH = 1.2  # the detector's face box and the landmark head box, both a little enlarged


def head_box(landmarks_img: np.ndarray) -> np.ndarray:
    """Square ``bbox_xyxy (4,)`` around the head of BlazePose landmarks ``(33, 3)``, centred on the face landmarks (0-10).

    Half-side: 1.5 × the face landmarks' spread, at least 0.6 × the distance
    from their centre to the mid-shoulder (a small or turned-away head's
    face landmarks nearly coincide).
    """
    xy = np.asarray(landmarks_img, dtype=np.float64)[:, :2]
    centre = xy[:11].mean(axis=0)
    spread = float(np.linalg.norm(xy[:11] - centre, axis=1).max())
    neck = float(np.linalg.norm(centre - xy[[11, 12]].mean(axis=0)))
    half = max(1.5 * spread, 0.6 * neck)
    return np.concatenate([centre - half, centre + half])


def grown(box_xyxy: np.ndarray, factor: float) -> np.ndarray:
    """``box_xyxy (4,)`` scaled by ``factor`` about its centre."""
    box = np.asarray(box_xyxy, dtype=np.float64)
    centre, half = (box[:2] + box[2:]) / 2, factor * (box[2:] - box[:2]) / 2
    return np.concatenate([centre - half, centre + half])


def heads_to_hide(followed_landmarks: Iterable[np.ndarray], faces_xyxy: np.ndarray, own: int) -> np.ndarray:
    """Heads ``(k, 4)`` to paint over when a landmark model starts on detection ``own``.

    Args:
        followed_landmarks: the landmarks ``(33, 3)`` of the people already followed on this frame.
        faces_xyxy: ``(N, 4)`` the frame's detections' face boxes.
        own: the row of ``faces_xyxy`` the model starts on; heads touching its face are kept
            (hiding them would hide the person's own).
    """
    heads = [head_box(lm) for lm in followed_landmarks]
    heads += [grown(f, _FACE_GROWTH) for k, f in enumerate(np.asarray(faces_xyxy)) if k != own]
    boxes = np.asarray(heads, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return boxes
    mine = grown(np.asarray(faces_xyxy)[own], _FACE_GROWTH)[None]
    return boxes[box_iou(boxes, mine)[:, 0] <= 0.0]


def rect_minus(box_xyxy: np.ndarray, keep_xyxy: np.ndarray) -> np.ndarray:
    """The part of ``box_xyxy (4,)`` outside ``keep_xyxy (4,)`` as at most 4 disjoint boxes ``(k, 4)``
    (above, below, left, right of ``keep``)."""
    x0, y0, x1, y1 = np.asarray(box_xyxy, np.float64)
    k0, l0, k1, l1 = np.asarray(keep_xyxy, np.float64)
    if k0 >= x1 or k1 <= x0 or l0 >= y1 or l1 <= y0:  # no overlap: all of it
        return np.array([[x0, y0, x1, y1]])
    top, bottom = max(y0, l0), min(y1, l1)
    parts = [[x0, y0, x1, l0], [x0, l1, x1, y1], [x0, top, k0, bottom], [k1, top, x1, bottom]]
    parts = np.array(parts)
    return parts[(parts[:, 2] > parts[:, 0]) & (parts[:, 3] > parts[:, 1])].reshape(-1, 4)


def bodies_outside(followed_landmarks: Iterable[np.ndarray], keep_xyxy: np.ndarray) -> np.ndarray:
    """The followed people's landmark extents ``(k, 4)``, less what lies inside the proposal box ``keep_xyxy (4,)``."""
    extents = landmark_boxes(np.asarray(list(followed_landmarks), np.float64).reshape(-1, 33, 3))
    parts = [rect_minus(extent, keep_xyxy) for extent in extents]
    return np.concatenate(parts) if parts else np.zeros((0, 4))


def local_views(
    boxes_xyxy: Iterable[np.ndarray], shape: tuple[int, int], scale: float, min_side: int = 96
) -> list[tuple[int, int, int]]:
    """One square ``(x0, y0, side)`` (integer pixels, inside the frame) around each box.

    Side: ``scale`` × the box's side (at least ``min_side``, at most the
    frame's short side); the detector finds people down to about a quarter
    of its view's side, so ``scale`` 2.5 on a landmark box (about the body's
    height) leaves room for the person's motion since they were lost.
    """
    height, width = shape
    views = []
    for box in boxes_xyxy:
        side = int(min(max(scale * (box[2] - box[0]), min_side), min(height, width)))
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0 = int(np.clip(cx - side / 2, 0, width - side))
        y0 = int(np.clip(cy - side / 2, 0, height - side))
        views.append((x0, y0, side))
    return views


def detect_in_views(detector, image_rgb: np.ndarray, views: list[tuple[int, int, int]], detections: Detections
                    ) -> Detections:  # fmt: skip
    """``detections`` plus ``detector``'s finds in each square view of ``image_rgb (H, W, 3)``, one person once.

    Each view is given to ``detector.detect`` as an image of its own (its
    letterboxed view only, ``tiles=False``); people seen in several views
    are merged as the detector merges its tiles (:func:`~vibe.pipeline.detector.cross_view_nms`).
    """
    parts = [detections]
    for x0, y0, side in views:
        found = detector.detect(np.ascontiguousarray(image_rgb[y0 : y0 + side, x0 : x0 + side]), tiles=False)
        offset = np.array([x0, y0, x0, y0], dtype=np.float64)
        parts.append(Detections(found.bbox_xyxy + offset, found.score, found.face_xyxy + offset,
                                found.keypoints_img + offset[:2]))  # fmt: skip
    fields = ("bbox_xyxy", "score", "face_xyxy", "keypoints_img")
    merged = Detections(*(np.concatenate([getattr(p, k) for p in parts]) for k in fields))
    if len(merged) < 2:
        return merged
    keep = cross_view_nms(merged.bbox_xyxy, merged.face_xyxy, merged.score, 0.5)
    return Detections(*(getattr(merged, k)[keep] for k in fields))
