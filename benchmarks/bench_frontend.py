"""CPU throughput of the demo front end: decode, detect, track, landmarks.

Runs each stage over the bundled clip (``assets/people_walking.mp4``, 300
frames, 768×432) or ``--video``, timing it alone: decoding only; detection
(tile levels 0 and 1, see ``vibe.pipeline.detector``) on decoded
frames; tracking on the stored detections; smoothing; landmarks for every
kept track. Prints a markdown table of frames per second and the tracks found.
Run ``python benchmarks/bench_frontend.py --help``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vibe.pipeline.landmarks import LandmarkConfig, estimate_landmarks
from vibe.pipeline.detector import DetectorConfig, PersonDetector, detector_views
from vibe.pipeline.people import smooth_square_boxes
from vibe.pipeline.tracker import PersonTracker, TrackerConfig
from vibe.pipeline.video import VideoReader

DEFAULT_VIDEO = Path(__file__).resolve().parents[1] / "assets" / "people_walking.mp4"


def _frames(reader: VideoReader, limit: int | None):
    for index, _, image in reader:
        if limit is not None and index >= limit:
            return
        yield index, image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--frames", type=int, default=None, help="use only the first N frames")
    parser.add_argument("--static", action="store_true", help="landmarks without MediaPipe's ROI tracking")
    args = parser.parse_args()

    reader = VideoReader(args.video)
    rows = []

    start = time.perf_counter()
    n = sum(1 for _ in _frames(reader, args.frames))
    rows.append(("decode (PyAV, RGB)", n, time.perf_counter() - start))

    tracker_cfg = TrackerConfig()
    detections = {}
    for levels in (0, 1):
        with PersonDetector(DetectorConfig(min_score=tracker_cfg.low_score, tile_levels=levels)) as det:
            det.detect(np.zeros((reader.height, reader.width, 3), np.uint8))  # warm-up
            elapsed = 0.0
            for index, image in _frames(reader, args.frames):
                start = time.perf_counter()
                detections[index] = det.detect(image)
                elapsed += time.perf_counter() - start
        views = len(detector_views(reader.height, reader.width, levels))
        rows.append((f"detect (tile_levels={levels}, {views} view{'s' * (views > 1)})", n, elapsed))

    tracker = PersonTracker(reader.fps, tracker_cfg)
    start = time.perf_counter()
    for index in sorted(detections):
        tracker.update(index, detections[index])
    tracks = tracker.tracks()
    rows.append(("track", n, time.perf_counter() - start))

    start = time.perf_counter()
    boxes = {t.track_id: smooth_square_boxes(t.frame_ids, t.bbox_xyxy, reader.fps) for t in tracks}
    rows.append(("smooth boxes", n, time.perf_counter() - start))

    # Time the model, not the decoding: decode into a list first (a benchmark-only shortcut).
    frames = list(_frames(reader, args.frames))
    start = time.perf_counter()
    landmarks = estimate_landmarks(frames, boxes, LandmarkConfig(static_image_mode=args.static))
    elapsed = time.perf_counter() - start
    person_frames = sum(len(f) for f, _ in boxes.values())
    rows.append((f"landmarks ({person_frames} person-frames)", person_frames, elapsed))

    print(f"{args.video.name}: {n} frames, {reader.width}x{reader.height}, {reader.fps:g} fps\n")
    print("| stage | items | seconds | items/s |")
    print("|---|---:|---:|---:|")
    for name, count, seconds in rows:
        print(f"| {name} | {count} | {seconds:.2f} | {count / max(seconds, 1e-9):.1f} |")
    print()
    for t in tracks:
        lm = landmarks[t.track_id]
        print(
            f"track {t.track_id}: frames {t.frame_ids[0]}–{t.frame_ids[-1]}, {len(t.frame_ids)} detected, "
            f"mean score {t.score.mean():.2f}, pose found in {lm.found.mean():.0%}"
        )


if __name__ == "__main__":
    main()
