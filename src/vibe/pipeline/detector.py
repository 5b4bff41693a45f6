"""BlazePose person detector over whole frames: every anchor decoded, tiled views.

Detector. The person detector is MediaPipe's BlazePose detector
(``mediapipe/modules/pose_detection/pose_detection.tflite``, shipped in the
``mediapipe==0.10.21`` wheel). It is an SSD over a 224×224 RGB input in
[-1, 1] with 2254 anchors; each anchor regresses 12 numbers: a face box
(cx, cy, w, h) and four keypoints (x, y): 0 mid-hip centre, 1 a point whose
distance from the mid-hip is the radius of a circle around the whole body,
2 mid-shoulder centre, 3 the same for the upper body. The constants below are
the ones of MediaPipe's own ``PoseDetectionCpu`` subgraph (read from the
expanded graph config in the wheel): SSD anchors with 5 layers, strides
8, 16, 32, 32, 32, one aspect ratio plus one interpolated scale, fixed anchor
size 1; sigmoid scores clipped at ±100, threshold 0.5; weighted NMS at IoU 0.3
on the face box. We run only the network through MediaPipe (its
``InferenceCalculator``, the TFLite interpreter inside the wheel) and decode
*every* anchor here, so that all people are found and the input can be tiled.

Person box. From the keypoints, as MediaPipe's ``pose_detection_to_roi`` does:
a square centred on the mid-hip whose half-side is the distance mid-hip →
keypoint 1, enlarged by 1.25. ``bbox_xyxy`` is that square, i.e. MediaPipe's
pose region of interest without its rotation; it is not a tight box (the
unenlarged square cuts the feet off in about a third of the frames of
``pose_1``, the enlarged one holds every joint).

Tiling. The detector finds people down to about a quarter of its view's side
in height (measured on ``pose_1`` scaled down: 12/12 frames at 25 %, 0/12 at
20 %). The full frame is letterboxed to a square, so in a wide frame people
are small. ``DetectorConfig.tile_levels`` adds square tiles: level 1 has
side ``min(H, W)`` (only for non-square frames), level 2 half that, each level
overlapping by at least 20 %. Detections from all views are merged in image
pixels (:func:`cross_view_nms`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np

from vibe.pipeline import native_stderr_silenced

log = logging.getLogger(__name__)

DETECTOR_INPUT_SIZE = 224
DETECTOR_NUM_ANCHORS = 2254
_DETECTOR_MODEL = "mediapipe/modules/pose_detection/pose_detection.tflite"


@dataclass(frozen=True)
class DetectorConfig:
    """Options of :class:`PersonDetector`.

    ``min_score`` is MediaPipe's threshold (0.5); lower it to feed the
    tracker's low-score association stage. ``nms_iou`` is the IoU over which
    face boxes are merged within one view. ``tile_levels`` adds square tiles
    (0: letterboxed frame only; 1: plus tiles of side min(H, W), 3 views in
    all on 16:9; 2: plus tiles of half that side, for far-away people, 18
    views on 16:9); the cost is per view. ``cross_view_overlap`` is the body-square overlap over which
    detections of different views are one person (see :func:`cross_view_nms`).
    """

    min_score: float = 0.5
    nms_iou: float = 0.3
    tile_levels: int = 1
    roi_scale: float = 1.25
    cross_view_overlap: float = 0.5
    num_threads: int = 0  # 0: let TFLite/XNNPACK decide


@dataclass
class Detections:
    """People found in one image (N detections), image pixels.

    Attributes:
        bbox_xyxy: ``(N, 4)`` square body box: centre mid-hip, half-side
            |keypoint 1 − mid-hip| × ``DetectorConfig.roi_scale``.
        score: ``(N,)`` detector confidence in [0, 1].
        face_xyxy: ``(N, 4)`` face box the detector regresses.
        keypoints_img: ``(N, 4, 2)`` mid-hip, body-circle point, mid-shoulder,
            upper-body-circle point, (x, y) pixels.
    """

    bbox_xyxy: np.ndarray
    score: np.ndarray
    face_xyxy: np.ndarray
    keypoints_img: np.ndarray

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @staticmethod
    def empty() -> "Detections":
        return Detections(np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, 4)), np.zeros((0, 4, 2)))


def ssd_anchor_centers() -> np.ndarray:
    """Centres of the detector's 2254 SSD anchors, ``(2254, 2)`` (x, y) in [0, 1] of the input.

    MediaPipe's ``SsdAnchorsCalculator`` with the PoseDetectionCpu options:
    consecutive layers with the same stride share one feature map, and each
    layer contributes two anchors per cell (aspect ratio 1 and the
    interpolated scale). With ``fixed_anchor_size`` every anchor is 1×1, so
    only the centres matter. Order: feature map, then row, column, anchor.
    """
    strides = [8, 16, 32, 32, 32]
    centers = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        anchors_per_cell = 2 * (same - layer)
        n = int(np.ceil(DETECTOR_INPUT_SIZE / strides[layer]))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centers.append(np.repeat(cell, anchors_per_cell, axis=0))
        layer = same
    out = np.concatenate(centers, axis=0)
    assert out.shape[0] == DETECTOR_NUM_ANCHORS
    return out


def decode_detector_output(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode every anchor whose score passes ``min_score``.

    Args:
        raw_boxes: ``(2254, 12)`` regressions (x, y, w, h, then 4 keypoints x, y),
            in input pixels relative to the anchor centre.
        raw_scores: ``(2254,)`` logits.
        anchors: ``(2254, 2)`` from :func:`ssd_anchor_centers`.
        min_score: probability threshold.

    Returns:
        ``face_xyxy (K, 4)``, ``keypoints (K, 4, 2)`` normalised to [0, 1] of
        the 224 input, and ``score (K,)``.
    """
    score = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -100.0, 100.0)))
    keep = score >= min_score
    raw = raw_boxes[keep] / DETECTOR_INPUT_SIZE
    anc = anchors[keep]
    cxy = raw[:, 0:2] + anc
    half = raw[:, 2:4] / 2.0
    face = np.concatenate([cxy - half, cxy + half], axis=1)
    kps = raw[:, 4:12].reshape(-1, 4, 2) + anc[:, None, :]
    return face, kps, score[keep]


def box_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray, over: str = "union") -> np.ndarray:
    """Pairwise overlap, ``(N, 4)`` × ``(M, 4)`` → ``(N, M)``.

    ``over="union"``: intersection over union; ``over="min"``: intersection
    over the smaller area (1 when one box lies inside the other).
    """
    lt = np.maximum(a_xyxy[:, None, :2], b_xyxy[None, :, :2])
    rb = np.minimum(a_xyxy[:, None, 2:], b_xyxy[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a_xyxy[:, 2:] - a_xyxy[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b_xyxy[:, 2:] - b_xyxy[:, :2], 0, None), axis=1)
    if over == "union":
        denom = area_a[:, None] + area_b[None, :] - inter
    elif over == "min":
        denom = np.minimum(area_a[:, None], area_b[None, :])
    else:
        raise ValueError(f"over must be 'union' or 'min', got {over!r}")
    return np.where(denom > 0, inter / np.maximum(denom, 1e-12), 0.0)


def weighted_nms(
    face_xyxy: np.ndarray, keypoints: np.ndarray, score: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-maximum suppression.

    Candidates are visited by decreasing score; each cluster (the best
    remaining candidate and every remaining one whose face-box IoU with it
    exceeds ``iou_threshold``) becomes one detection whose box and keypoints
    are the score-weighted mean of the cluster, with the best score.

    Shapes: ``face_xyxy (K, 4)``, ``keypoints (K, P, 2)``, ``score (K,)`` →
    the same with M ≤ K rows.
    """
    order = np.argsort(-score, kind="stable")
    remaining = order
    faces, kpss, scores = [], [], []
    while remaining.size:
        best = remaining[0]
        iou = box_iou(face_xyxy[best : best + 1], face_xyxy[remaining])[0]
        cluster = remaining[iou > iou_threshold]
        cluster = cluster if cluster.size else remaining[:1]
        w = score[cluster]
        faces.append((face_xyxy[cluster] * w[:, None]).sum(0) / w.sum())
        kpss.append((keypoints[cluster] * w[:, None, None]).sum(0) / w.sum())
        scores.append(score[best])
        remaining = remaining[~np.isin(remaining, cluster)]
    if not scores:
        return face_xyxy[:0], keypoints[:0], score[:0]
    return np.stack(faces), np.stack(kpss), np.asarray(scores)


def body_square_from_keypoints(keypoints_img: np.ndarray, scale: float = 1.25) -> np.ndarray:
    """Square body box from detector keypoints, ``(N, 4, 2)`` → ``(N, 4)`` xyxy pixels.

    Centre = keypoint 0 (mid-hip); half-side = |keypoint 1 − keypoint 0| ×
    ``scale`` (MediaPipe's alignment-points rectangle and its 1.25 enlargement).
    """
    center = keypoints_img[:, 0]
    radius = scale * np.linalg.norm(keypoints_img[:, 1] - keypoints_img[:, 0], axis=-1)
    return np.concatenate([center - radius[:, None], center + radius[:, None]], axis=1)


def _tile_starts(length: int, side: float, min_overlap: float = 0.2) -> np.ndarray:
    """Evenly spread starts of tiles of ``side`` covering ``[0, length]``, overlapping ≥ ``min_overlap`` × side."""
    if length <= side:
        return np.zeros(1)
    n = int(np.ceil((length - side) / ((1.0 - min_overlap) * side))) + 1
    return np.linspace(0.0, length - side, n)


def detector_views(height: int, width: int, tile_levels: int = 1) -> list[tuple[float, float, float]]:
    """Square regions the detector looks at, as ``(x0, y0, side)`` in pixels.

    The first is the letterboxed full frame (centred, padded to the long side,
    as MediaPipe's ImageToTensorCalculator does). Level ℓ ≥ 1 adds a grid of
    square tiles of side ``min(H, W) / 2**(ℓ - 1)`` covering the frame with
    ≥ 20 % overlap; level 1 is skipped for near-square frames, where it would
    repeat the letterbox view.
    """
    long_side, short_side = max(height, width), min(height, width)
    views = [((width - long_side) / 2.0, (height - long_side) / 2.0, float(long_side))]
    for level in range(1, tile_levels + 1):
        side = short_side / 2 ** (level - 1)
        if level == 1 and long_side <= 1.2 * short_side:
            continue
        for y0 in _tile_starts(height, side):
            for x0 in _tile_starts(width, side):
                views.append((float(x0), float(y0), float(side)))
    return views


def far_views(height: int, width: int, side_fraction: float) -> list[tuple[float, float, float]]:
    """:func:`detector_views` at level 1 plus a grid of tiles of side ``side_fraction`` × ``min(H, W)``.

    For far-away people: the detector finds people down to about a quarter of
    a view's side, and on the rendered crowds (``docs/results.md``) tiles of
    0.4 × 720 = 288 px found 97 % of the people 80-120 px tall on a frame,
    tiles of 360 px (level 2) 60 %.
    """
    side = side_fraction * min(height, width)
    views = detector_views(height, width, 1)
    for y0 in _tile_starts(height, side):
        for x0 in _tile_starts(width, side):
            views.append((float(x0), float(y0), float(side)))
    return views


def crop_square(image_rgb: np.ndarray, view: tuple[float, float, float], size: int) -> np.ndarray:
    """Resample the square ``view = (x0, y0, side)`` of ``image_rgb (H, W, 3)`` to ``(size, size, 3)``, zero padding."""
    x0, y0, side = view
    s = size / side
    affine = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]], dtype=np.float64)
    return cv2.warpAffine(
        image_rgb, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


class _TfliteModel:
    """The detector network run by MediaPipe's InferenceCalculator (CPU, XNNPACK).

    Input ``(224, 224, 3)`` uint8 RGB; output raw boxes ``(2254, 12)`` and
    score logits ``(2254,)``.
    """

    _GRAPH = r"""
input_stream: "image"
output_stream: "boxes"
output_stream: "scores"
node { calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image" output_stream: "TENSORS:input"
  options { [mediapipe.ImageToTensorCalculatorOptions.ext] {
    output_tensor_width: 224 output_tensor_height: 224 keep_aspect_ratio: true
    output_tensor_float_range { min: -1.0 max: 1.0 } border_mode: BORDER_ZERO } } }
node { calculator: "InferenceCalculator" input_stream: "TENSORS:input" output_stream: "TENSORS:output"
  options { [mediapipe.InferenceCalculatorOptions.ext] {
    model_path: "%s" delegate { xnnpack { num_threads: %d } } } } }
node { calculator: "SplitTensorVectorCalculator" input_stream: "output" output_stream: "t_boxes" output_stream: "t_scores"
  options { [mediapipe.SplitVectorCalculatorOptions.ext] { ranges { begin: 0 end: 1 } ranges { begin: 1 end: 2 } } } }
node { calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t_boxes" output_stream: "FLOATS:boxes" }
node { calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t_scores" output_stream: "FLOATS:scores" }
"""

    def __init__(self, num_threads: int = 0):
        import mediapipe as mp
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python._framework_bindings import calculator_graph, resource_util

        self._mp = mp
        # Model paths in MediaPipe graphs are relative to the site-packages root.
        resource_util.set_resource_dir(os.path.dirname(os.path.dirname(os.path.abspath(mp.__file__))))
        config = text_format.Parse(
            self._GRAPH % (_DETECTOR_MODEL, num_threads if num_threads > 0 else -1),
            calculator_pb2.CalculatorGraphConfig(),
        )
        self._outputs: dict[str, list] = {"boxes": [], "scores": []}
        with native_stderr_silenced():
            self._graph = calculator_graph.CalculatorGraph(graph_config=config)
            for name in self._outputs:
                self._graph.observe_output_stream(name, lambda stream, packet, n=name: self._outputs[n].append(packet))
            self._graph.start_run()
            # Calculators open asynchronously (and log while doing so): wait here.
            self._graph.wait_until_idle()
        self._timestamp = 0
        self._first = True

    def __call__(self, image_224: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from mediapipe.python import packet_creator, packet_getter

        packet = packet_creator.create_image_frame(
            image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image_224)
        ).at(self._timestamp)
        self._timestamp += 1
        # The first inference prints TFLite/XNNPACK banners on fd 2.
        with native_stderr_silenced(self._first):
            self._graph.add_packet_to_input_stream("image", packet)
            self._graph.wait_until_idle()
        self._first = False
        boxes = np.asarray(packet_getter.get_float_list(self._outputs["boxes"].pop()), dtype=np.float64)
        scores = np.asarray(packet_getter.get_float_list(self._outputs["scores"].pop()), dtype=np.float64)
        return boxes.reshape(DETECTOR_NUM_ANCHORS, 12), scores.reshape(DETECTOR_NUM_ANCHORS)

    def close(self) -> None:
        if self._graph is not None:
            with native_stderr_silenced():
                self._graph.close()
            self._graph = None


class PersonDetector:
    """BlazePose person detector over whole frames (see module docstring).

    Use as a context manager or call :meth:`close`. ``detect`` is not
    thread-safe (one MediaPipe graph per detector).
    """

    def __init__(self, config: DetectorConfig | None = None):
        self.config = config or DetectorConfig()
        self._anchors = ssd_anchor_centers()
        self._model = _TfliteModel(self.config.num_threads)

    def __enter__(self) -> "PersonDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._model.close()

    def warm_up(self) -> None:
        """One inference on a blank view: its model's first run (memory, kernels; several later ones' time) happens now."""
        self._model(np.zeros((DETECTOR_INPUT_SIZE, DETECTOR_INPUT_SIZE, 3), np.uint8))

    def detect(self, image_rgb: np.ndarray, tiles: bool | float = True) -> Detections:
        """People in ``image_rgb (H, W, 3)`` uint8 RGB → :class:`Detections` in its pixels.

        ``tiles=False`` runs the letterboxed full frame only (one view), which
        finds people at least about a quarter of the frame's long side tall;
        ``True`` adds the config's ``tile_levels``; a float (far tiles, for
        some frames only): level 1 plus tiles of that fraction of the short
        side (:func:`far_views`).
        """
        h, w = image_rgb.shape[:2]
        if isinstance(tiles, float):
            views = far_views(h, w, tiles)
        else:
            views = detector_views(h, w, self.config.tile_levels if tiles else 0)
        faces, kpss, scores = [], [], []
        for view in views:
            x0, y0, side = view
            raw_boxes, raw_scores = self._model(crop_square(image_rgb, view, DETECTOR_INPUT_SIZE))
            face, kps, score = decode_detector_output(raw_boxes, raw_scores, self._anchors, self.config.min_score)
            face, kps, score = weighted_nms(face, kps, score, self.config.nms_iou)
            offset = np.array([x0, y0])
            faces.append(face * side + np.tile(offset, 2))
            kpss.append(kps * side + offset)
            scores.append(score)
        face, kps, score = np.concatenate(faces), np.concatenate(kpss), np.concatenate(scores)
        body = body_square_from_keypoints(kps, self.config.roi_scale)
        if len(scores) > 1 and score.size:
            keep = cross_view_nms(body, face, score, self.config.cross_view_overlap)
            body, face, kps, score = body[keep], face[keep], kps[keep], score[keep]
        if not score.size:
            return Detections.empty()
        return Detections(body, score, face, kps)


def cross_view_nms(
    body_xyxy: np.ndarray, face_xyxy: np.ndarray, score: np.ndarray, body_overlap: float
) -> np.ndarray:
    """Greedy NMS for one person seen in several detector views.

    A lower-scored detection is a duplicate when its body square overlaps a
    kept one by more than ``body_overlap`` (intersection over the smaller
    square: a tile sometimes sees a body part, e.g. a hand holding a sheet,
    as a small person inside the real one) *and* their face boxes intersect.
    Requiring the faces to touch keeps two people standing side by side,
    whose body squares overlap but whose faces do not.

    Shapes: ``(N, 4)``, ``(N, 4)``, ``(N,)`` → indices ``(M,)`` of kept rows,
    by decreasing score.
    """
    order = np.argsort(-score, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        body = box_iou(body_xyxy[best : best + 1], body_xyxy[rest], over="min")[0]
        face = box_iou(face_xyxy[best : best + 1], face_xyxy[rest])[0]
        order = rest[~((body > body_overlap) & (face > 0.0))]
    return np.asarray(keep, dtype=int)
