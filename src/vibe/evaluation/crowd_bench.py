"""The crowd benchmark: the demo's front end on rendered multi-person videos, scored per person-frame.

:func:`run_crowd_benchmark` runs, on every video of a ``vibe eval
make-synthetic --crowd`` folder (:mod:`vibe.evaluation.crowd_make`), what
``vibe demo`` runs to find people: the one-pass front end
(:func:`~vibe.pipeline.roi_stage.followed_people_stage`: detector on its
schedule, landmark models following their people, tracker) and the body
rule that decides which tracks are people
(:func:`~vibe.pipeline.person_filter.select_people`). A person is found on
a frame where their track has landmarks; the box scored is the landmarks'
extent (:func:`landmark_extent`), matched to the true whole-body box
(:mod:`vibe.evaluation.crowd_scoring`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np

from vibe.evaluation.crowd_scoring import CrowdScoring, merge_counts, score_video, summarise
from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.person_filter import landmark_boxes, select_people
from vibe.pipeline.roi_stage import followed_people_stage
from vibe.pipeline.passes import StageTimer
from vibe.pipeline.video import VideoReader

__all__ = ["landmark_extent", "found_people", "run_crowd_benchmark", "table"]

log = logging.getLogger(__name__)


def landmark_extent(landmarks_img: np.ndarray, head_top: float = 0.25) -> np.ndarray:
    """Boxes ``(n, 4)`` xyxy around landmarks ``(n, 33, 3)``, raised to the top of the head.

    BlazePose's highest points are the eyes; the head's top lies about one
    eye-to-shoulder distance above them, ``head_top`` × that
    distance over the topmost landmark here (a conservative reach, so that a
    box scored against a whole-body box is not cut at the eyes).
    """
    xy = np.asarray(landmarks_img, np.float64)[..., :2]
    boxes = landmark_boxes(landmarks_img)
    eyes, shoulders = xy[:, [2, 5]].mean(axis=1), xy[:, [11, 12]].mean(axis=1)
    boxes[:, 1] -= head_top * np.linalg.norm(shoulders - eyes, axis=1)
    return boxes


def found_people(
    reader: VideoReader, config: DemoConfig, caches: tuple[Path, Path] | None = None
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], dict]:
    """The people ``vibe demo`` would keep: track id → ``(frame_ids (n,), boxes_xyxy (n, 4))``, and run facts.

    Facts: candidate tracks, rejected ones (with reasons), front-end seconds and
    frames. ``caches``: the front end's two cache files (people, landmarks),
    written on the first run and reused after, so the body rule can be scored
    again without MediaPipe (None: no cache).
    """
    timer = StageTimer()
    tracks, times, landmarks = followed_people_stage(reader, config, caches, timer)
    kept, rejected = select_people(
        {t: (lm.frame_ids, lm.landmarks_img, lm.found) for t, lm in landmarks.items()}, config.presence, reader.fps
    )
    found = {}
    for tid in kept:
        lm = landmarks[tid]
        found[tid] = (lm.frame_ids[lm.found], landmark_extent(lm.landmarks_img[lm.found]))
    seconds = timer.stages.get("people_landmarks", {}).get("seconds", 0.0)  # absent when read from the cache
    facts = {"candidates": len(tracks), "rejected": rejected, "seconds": seconds, "frames": len(times)}
    return found, facts


def run_crowd_benchmark(
    bench_dir: str | Path, out_json: str | Path | None = None, config: DemoConfig | None = None,
    scoring: CrowdScoring | None = None, front_end_dir: str | Path | None = None,
) -> dict:  # fmt: skip
    """Score the front end on every ``crowd_*.mp4`` of ``bench_dir``; the summary (also written to ``out_json``).

    ``front_end_dir``: where each video's front-end output is cached
    (``<video>-people.npz``, ``<video>-landmarks.npz``); a second run with
    the same folder reuses it and only the body rule and the scores run again.
    Keep one folder per front-end setting: the files are not keyed by it.

    Raises:
        FileNotFoundError: no crowd video in ``bench_dir``.
    """
    config = config or DemoConfig()
    config = dataclasses.replace(config, progress=False, cache=False)
    scoring = scoring or CrowdScoring()
    videos = sorted(Path(bench_dir).glob("crowd_*.mp4"))
    if not videos:
        raise FileNotFoundError(f"no crowd_*.mp4 in {bench_dir} (make them with `vibe eval make-synthetic --crowd`)")
    parts, per_video, seconds, frames = [], {}, 0.0, 0
    for path in videos:
        with np.load(path.with_suffix(".npz")) as npz:
            truth = {k: npz[k] for k in npz.files}
        started = time.perf_counter()
        caches = None
        if front_end_dir is not None:
            Path(front_end_dir).mkdir(parents=True, exist_ok=True)
            caches = tuple(Path(front_end_dir) / f"{path.stem}-{part}.npz" for part in ("people", "landmarks"))
        found, facts = found_people(VideoReader(path), config, caches)
        counts = score_video(truth, found, scoring)
        parts.append(counts)
        seconds, frames = seconds + facts["seconds"], frames + facts["frames"]
        per_video[path.stem] = {**summarise(counts), "candidates": facts["candidates"], "rejected":
                                len(facts["rejected"]), "camera_height_m": float(truth["camera_height_m"])}  # fmt: skip
        log.info("%s: %s (%.1f s)", path.stem, per_video[path.stem], time.perf_counter() - started)
    fps = round(frames / seconds, 2) if seconds > 0 else None  # None: every front end read from the cache
    summary = {**summarise(merge_counts(parts)), "front_end_fps": fps,
               "videos": per_video, "scoring": dataclasses.asdict(scoring),
               "detector": dataclasses.asdict(config.detector),
               "roi_tracking": dataclasses.asdict(config.roi_tracking) if config.roi_tracking else None}  # fmt: skip
    if out_json is not None:
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(out_json).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def table(summary: dict) -> str:
    """Markdown: recall per height and per side, then precision, ghosts and identity switches."""
    fmt = lambda r: "–" if r is None else f"{r:.3f}"  # noqa: E731
    lines = ["| people | person-frames | recall |", "|---|---:|---:|"]
    for group in ("recall_by_height", "recall_by_view"):
        for key, row in summary[group].items():
            lines.append(f"| {key} | {row['person_frames']} | {fmt(row['recall'])} |")
    lines += [
        "",
        f"recall for people >= 80 px: {fmt(summary['recall_at_least_80px'])}; precision {fmt(summary['precision'])} "
        f"({summary['false_positive_frames']} false-positive frames); {summary['tracks']} tracks for "
        f"{summary['people']} people, {summary['ghost_tracks']} ghost tracks, "
        f"{summary['identity_switches']} identity switches; front end "
        + (f"{summary['front_end_fps']} frames/s" if summary["front_end_fps"] else "read from its cache"),
    ]
    return "\n".join(lines)
