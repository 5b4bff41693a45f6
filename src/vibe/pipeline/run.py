"""The demo as a library: a video → per-person 3D bodies, files in ``OUT/<video-stem>/``.

:func:`run_demo` is the data flow, one stage after another (each stage in
:mod:`vibe.pipeline.stages`, the files in :mod:`vibe.pipeline.outputs`)::

    video ─pass 1─▶ front_end (roi_stage.py), by default one pass: people followed by their
                    landmark model's ROI, the detector every N frames or when a track is lost
                    (roi_tracking.py) ─▶ candidate tracks + landmarks, frame times; or
                    (roi_tracking=None) people_stage: detect + track (people.py)
          ─────────▶ monotonic_frame_times → the true frame rate; smoothed square boxes
          ─pass 2─▶ open: (two-pass only) landmark_stage (BlazePose) → select_people
                          (person_filter.py: only tracks whose body is seen go on) → keypoint_features
                    smpl: resnet_stage (224² crops, scale 1.1, ImageNet norm. → ResNet-50)
          ─────────▶ track_outputs: temporal encoder in cross-faded windows (windows.py)
                     → regressor → crop camera → image camera → body model → (One-Euro)
          ─────────▶ results.npz · meta.json · vibe_output.pkl (smpl) · BVH / glb
          ─pass 3─▶ render_overlay: overlay.mp4 (+ side.mp4), vertices posed per chunk

Memory is flat in video length apart from per-track arrays (about 2 KB per
frame and person; vertices only with ``save_vertices`` or for the smpl
stack's ``vibe_output.pkl``, whose format holds them).

Parallelism (the C/C++ parts release the GIL, so threads use separate
cores): every pass decodes in a thread ahead of its consumer; pass 1 cuts the
video into ``workers`` equal time ranges, each with its own seeking decoder
and detector, and one tracker replays their detections in order; pass 2 cuts
it into ``workers`` ranges of equal person-frames, each with its own decoder
and MediaPipe graphs; pass 3 poses vertices in one thread, draws in the
caller's and encodes in a third.

Caching: passes 1 and 2 (open stack) are saved in ``OUT/<stem>/.cache/``
under a key made of the video's SHA-256, the frame limit and the stage's
configuration, so a re-run with other options (smoothing, rendering,
exports) skips them.

Failures raise a :class:`DemoError` subclass whose ``exit_code`` the CLI
returns and whose message is one line. A video without people is not a
failure: the run writes an empty ``results.npz`` and says so in
:attr:`DemoResult.message`. Every result file is written into a staging
folder beside ``OUT/<stem>/`` that replaces it only when the run is complete
(:mod:`vibe.pipeline.run_folder`), so the folder always holds exactly one
whole run; a failed or interrupted run leaves the previous one. Time is the
decoded frames' (:mod:`vibe.pipeline.frame_times`), never the header's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from vibe.geometry.crops import smooth_square_boxes
from vibe.pipeline import limit_malloc_arenas, release_freed_memory, stderr_restored_on_interrupt
from vibe.pipeline.demo_config import (
    EXIT_MISSING_ASSETS,
    EXIT_NO_WEIGHTS,
    EXIT_OK,
    EXIT_OUTPUT_NOT_WRITABLE,
    EXIT_VIDEO_UNREADABLE,
    DemoConfig,
    DemoError,
    DemoResult,
    MissingAssetsError,
    NoTrainedWeightsError,
    OutputNotWritableError,
    VideoUnreadableError,
    at_frame_rate,
)
from vibe.pipeline.demo_model import (
    DemoModel,
    default_open_weights,
    load_demo_model,
    model_key,
)
from vibe.pipeline.frame_times import FrameTiming, frame_timing, monotonic_frame_times
from vibe.pipeline.graph_pool import shared_pool
from vibe.pipeline.landmarks import TrackLandmarks
from vibe.pipeline.outputs import (
    check_writable,
    export_people,
    render_overlay,
    versions,
    write_meta,
    write_results,
    write_vibe_pkl,
)
from vibe.pipeline.passes import StageTimer, cache_key, file_digest
from vibe.pipeline.person_filter import body_span, select_people
from vibe.pipeline.label_swaps import SwapConfig, drop_flips, repair_swaps
from vibe.pipeline.roi_stage import front_end, one_pass_caches, start_graphs_ahead
from vibe.pipeline.run_folder import CACHE_DIR, RunFolder
from vibe.pipeline.scene_lines import segments_in_background
from vibe.pipeline.stages import (
    ImageGeometry,
    image_cam_to_translation,
    keypoint_features,
    landmark_stage,
    resnet_stage,
    track_outputs,
)
from vibe.pipeline.video import VideoError, VideoReader
from vibe.pipeline.world import world_for_video
from vibe.render.backend import (
    RenderUnavailableError,  # stdlib-only module, no import-time work
)

__all__ = [
    "EXIT_OK",
    "EXIT_VIDEO_UNREADABLE",
    "EXIT_MISSING_ASSETS",
    "EXIT_OUTPUT_NOT_WRITABLE",
    "EXIT_NO_WEIGHTS",
    "DemoError",
    "VideoUnreadableError",
    "MissingAssetsError",
    "OutputNotWritableError",
    "NoTrainedWeightsError",
    "DemoConfig",
    "DemoResult",
    "default_open_weights",
    "image_cam_to_translation",
    "run_demo",
]

log = logging.getLogger(__name__)


@stderr_restored_on_interrupt  # the caller's message about it reaches stderr
def run_demo(
    video: str | Path,
    out_dir: str | Path,
    config: DemoConfig | None = None,
    *,
    name: str | None = None,
    model: DemoModel | None = None,
    keep_graphs: bool = False,
) -> DemoResult:
    """Run the demo on ``video``; files go to ``out_dir/<video stem>/`` (see the module doc).

    ``name``: the result folder's name instead of the video's stem (``vibe
    batch`` tells apart videos of equal stems). ``model``: a generator already
    loaded by :func:`~vibe.pipeline.demo_model.load_demo_model` for the same
    stack, checkpoint and device (a process running many videos loads it once);
    None, or one loaded for other options: loaded here. ``keep_graphs``: leave
    the MediaPipe graphs the front end used in the process's pool for the next
    video (:mod:`vibe.pipeline.graph_pool`; a process running many videos);
    otherwise they are closed once the front end is done, so that the later
    stages do not hold their memory (~115 MB per landmark graph, ~50 MB per detector).

    Raises:
        VideoUnreadableError, MissingAssetsError, NoTrainedWeightsError,
        OutputNotWritableError: see their ``exit_code``; nothing is written
        for the first three, which are checked before any output.
        KeyboardInterrupt: passed on after the staging folder is removed and
        fd 2 is back from MediaPipe's silencing; the output folder holds the
        previous complete result (or nothing).
    """
    config = config or DemoConfig()
    limit_malloc_arenas()
    video = Path(video)
    timer = StageTimer()
    try:
        reader = VideoReader(video)
    except VideoError as exc:
        raise VideoUnreadableError(str(exc)) from exc
    target = Path(out_dir) / (name or video.stem)
    people_cache = _people_cache(video, config, target / CACHE_DIR)
    # The front end's MediaPipe graphs start while the model loads, unless its cache will be reused.
    start_graphs_ahead(reader, config, one_pass_caches(config, people_cache[1], people_cache[0]))
    try:
        if model is None or model.key != model_key(config):
            model = load_demo_model(config, default_open_weights())
        folder = _open_output(target)
    except BaseException:
        shared_pool().wait_ahead()  # starting a graph silences fd 2 a while: the error's message comes after
        raise
    with folder:
        result = _run(video, reader, model.model, model.device, config, folder, timer, people_cache, keep_graphs)
        meta = _meta(video, reader, model.model, model.weights, model.device, config, result)
        meta["files"] = sorted(p.relative_to(folder.staging).as_posix() for p in folder.staging.rglob("*") if p.is_file())
        meta["files"].append("meta.json")
        write_meta(folder.staging / "meta.json", meta)
        folder.commit()
    return result


def _open_output(target: Path) -> RunFolder:
    """The run's output folder, its staging folder created and checked (OutputNotWritableError)."""
    folder = RunFolder(target)
    try:
        folder.open()
        check_writable(folder.staging)
    except OSError as exc:
        folder.discard()
        raise OutputNotWritableError(f"output directory not writable: {target} ({exc.strerror or exc})") from exc
    return folder


def _people_cache(video: Path, config: DemoConfig, cache_dir: Path) -> tuple[str, Path | None]:
    """Pass 1's cache key (the video's digest and the options it depends on) and its file (None: no caching)."""
    digest = file_digest(video) if config.cache else ""
    people_key = cache_key(
        digest, config.max_frames, asdict(config.detector), asdict(config.tracker), asdict(config.detection_schedule)
    )
    return people_key, (cache_dir / f"people-{people_key}.npz" if config.cache else None)


def _run(
    video: Path,
    reader: VideoReader,
    model,
    device,
    config: DemoConfig,
    folder: RunFolder,
    timer: StageTimer,
    people_cache: tuple[str, Path | None],
    keep_graphs: bool = False,
) -> DemoResult:
    """The stages, in data-flow order; result files go to ``folder.staging``.

    ``people_cache``: pass 1's cache key and file (:func:`_people_cache`).
    """
    out = folder.staging
    result = DemoResult(out_dir=folder.target, results=folder.target / "results.npz", meta=folder.target / "meta.json")

    # Pass 1: people, and the true timing of the frames.
    cache_dir = folder.cache if config.cache else None
    people_key, people_file = people_cache
    tracks, decoded_times, followed = front_end(reader, config, people_file, people_key, timer)
    if not keep_graphs:
        shared_pool().close()  # no next video to hand them to: their memory goes back now
    result.frames_read = len(decoded_times)
    _check_frame_count(reader, config, decoded_times)
    frame_times, repaired = monotonic_frame_times(decoded_times)
    timing = frame_timing(frame_times, reader.fps, repaired=repaired)
    result.timing = timing
    _log_timing(reader, timing)
    boxes = {t.track_id: smooth_square_boxes(t.frame_ids, t.bbox_xyxy, timing.fps, config.box_window_s) for t in tracks}

    # Pass 2: landmarks of every candidate (the open stack's features; on the smpl stack only to
    # judge who is a person); only tracks whose body is seen go on.
    landmarks: dict[int, TrackLandmarks] = {}
    if boxes and (config.stack == "open" or config.presence.enabled):
        lm_key = cache_key(people_key, config.box_window_s, asdict(config.landmarks))
        lm_cache = cache_dir / f"landmarks-{lm_key}.npz" if cache_dir else None
        if followed is None:  # the two-pass front end: landmarks in a second pass over the tracks' boxes
            landmarks = landmark_stage(reader, boxes, decoded_times, config, lm_cache, timer)
        else:
            landmarks = followed
        kept, result.rejected = select_people(
            {tid: (lm.frame_ids, lm.landmarks_img, lm.found) for tid, lm in landmarks.items()}, config.presence,
            timing.fps,
        )
        boxes = {tid: boxes[tid] for tid in kept}
        if config.presence.enabled and config.presence.trim_ends:
            boxes, landmarks = _trimmed_to_bodies(boxes, landmarks, config)
        if config.label_swaps is not None:  # dropped after the trim: their frames stay, posed from the others
            landmarks = _without_flips(landmarks, boxes, config.label_swaps, timing.fps)
            landmarks = _unswapped(landmarks, boxes, config, timing.fps)
    clean_up = at_frame_rate(config, timing.fps)  # per-frame smoothing and fit terms at the video's rate
    lines = None if config.world is None else segments_in_background(video, boxes, frame_times, config.world.scene_lines)
    people, refinements = _bodies(model, device, clean_up, reader, boxes, landmarks, timer) if boxes else ({}, {})
    result.track_ids = sorted(people)
    world_arrays: dict[str, np.ndarray] = {}
    if people and config.world is not None:  # adds each person's world arrays (world.py)
        start = time.perf_counter()
        world_arrays, result.world = world_for_video(video, people, model.body, model.config.keypoint_set,
                                                     (reader.width, reader.height), frame_times, config.world,
                                                     config.nominal_focal_px, None if lines is None else lines.result())  # fmt: skip
        timer.add("world", time.perf_counter() - start, sum(len(p["frame_ids"]) for p in people.values()))
    result.message = _message(video, len(people), len(result.rejected))
    log.info(result.message)

    # Files: results, exports, overlay (pass 3).
    saved = {tid: {k: v for k, v in p.items() if k != "vertices" or config.save_vertices} for tid, p in people.items()}
    write_results(out / "results.npz", frame_times, saved, world_arrays)
    if config.stack == "smpl" and people:
        result.vibe_output = folder.final(write_vibe_pkl(people, out))
    for p in people.values():
        p.pop("vertices", None)  # rendering poses vertices per chunk again
    if people and config.export:
        frame = config.export_frame if world_arrays else "camera"
        written = export_people(people, model.body, timing.fps, config.export, out, timer, frame_times, frame,
                                config.rig)  # fmt: skip
        result.exports = [folder.final(p) for p in written]
    if people and config.render:
        try:
            overlay, side = render_overlay(reader, people, model.body, config, out, timer, frame_times, timing.fps)
            result.overlay, result.side = folder.final(overlay), folder.final(side)
        except (ImportError, RenderUnavailableError) as exc:  # pyrender missing / no offscreen OpenGL
            _warn(result, f"rendering skipped: {' '.join(str(exc).split())}")
    result.warnings = reader.warnings + result.warnings  # the reader logged its own, once each
    result.refinements = refinements
    result.timings = timer.stages
    return result


def _bodies(model, device, config: DemoConfig, reader: VideoReader, boxes, landmarks, timer: StageTimer):
    """Per-frame features → generator → body, for each person: ``(people, refinements)`` by track id."""
    w, h = reader.width, reader.height
    if config.stack == "open":
        start = time.perf_counter()
        features, encoder_inputs = keypoint_features(
            model, landmarks, boxes, config.features, (w, h), device, mirrored=config.flip_average
        )
        box_scale = config.features.box_scale
    else:
        features = resnet_stage(reader, boxes, model.backbone, device, config, timer)
        start = time.perf_counter()
        box_scale, encoder_inputs = config.smpl_crop_scale, {}
    geometry = ImageGeometry(w, h, box_scale, config.nominal_focal_px or float(max(w, h)))
    keep_vertices = config.save_vertices or config.stack == "smpl"
    people: dict[int, dict[str, np.ndarray]] = {}
    refinements: dict[int, dict[str, float]] = {}
    for tid, (fids, cxcys) in boxes.items():
        track_features = features.pop(tid).to(device)
        landmarks_box = encoder_inputs.pop(tid, None)
        world = landmarks[tid].world if tid in landmarks and landmarks_box is not None else None
        people[tid], refinement = track_outputs(
            model, track_features, fids, cxcys, geometry, config, keep_vertices, landmarks_box, world
        )
        release_freed_memory()  # torch's per-track temporaries would otherwise stay in glibc's arenas
        if refinement is not None:
            refinements[tid] = refinement
        if tid in landmarks:
            people[tid]["landmarks_img"] = landmarks[tid].landmarks_img.astype(np.float32)
            people[tid]["landmarks_world"] = landmarks[tid].world.astype(np.float32)
    timer.add("generator_body", time.perf_counter() - start, sum(len(f) for f, _ in boxes.values()))
    return people, refinements


def _trimmed_to_bodies(boxes, landmarks: dict[int, TrackLandmarks], config: DemoConfig):
    """Each track's boxes ``(frame_ids, cxcys)`` and landmarks cut to its first-to-last frame showing a body."""
    out_boxes, out_landmarks = {}, dict(landmarks)
    for tid, (fids, cxcys) in boxes.items():
        lm = landmarks[tid]
        span = body_span(lm.frame_ids, lm.landmarks_img, lm.found, config.presence)
        first, last = span if span is not None else (fids[0], fids[-1])
        keep = (fids >= first) & (fids <= last)
        out_boxes[tid] = (fids[keep], cxcys[keep])
        kept_lm = (lm.frame_ids >= first) & (lm.frame_ids <= last)
        out_landmarks[tid] = replace(lm, **{name: getattr(lm, name)[kept_lm] for name in TrackLandmarks.ARRAYS})
        if (~keep).any():
            log.info("track %d: %d frames without a body seen at its ends left out", tid, int((~keep).sum()))
    return out_boxes, out_landmarks


def _without_flips(
    landmarks: dict[int, TrackLandmarks], boxes, config: SwapConfig, fps: float
) -> dict[int, TrackLandmarks]:
    """The landmarks of the tracks in ``boxes`` without their short runs read upside down (``drop_flips``)."""
    out = dict(landmarks)
    for tid in boxes:
        out[tid], dropped = drop_flips(landmarks[tid], config, fps)
        if dropped:
            log.info("track %d: %d frames read upside down against the rest of the track dropped", tid, dropped)
    return out


def _unswapped(
    landmarks: dict[int, TrackLandmarks], boxes, config: DemoConfig, fps: float
) -> dict[int, TrackLandmarks]:
    """The landmarks of the tracks in ``boxes`` with BlazePose's left/right swaps undone (``config.label_swaps``)."""
    out = {}
    for tid in boxes:
        out[tid], counts = repair_swaps(landmarks[tid], config.label_swaps, fps)
        if any(counts.values()):
            done = ", ".join(f"{what} {n}" for what, n in counts.items() if n)
            frames = len(out[tid].found)
            log.info("track %d: left and right read exchanged (frames of %d: %s), undone", tid, frames, done)
    return out


def _check_frame_count(reader: VideoReader, config: DemoConfig, decoded_times: np.ndarray) -> None:
    """Warn (once, whatever the worker count) when pass 1 read fewer frames than the container lists."""
    if reader.frame_count is None or config.max_frames is not None and len(decoded_times) >= config.max_frames:
        return  # a frame limit reached: the rest was not read, whatever it holds
    last = float(np.nanmax(decoded_times)) if len(decoded_times) else None
    reader.check_frames_read(len(decoded_times), last)


def _log_timing(reader: VideoReader, timing: FrameTiming) -> None:
    """Say when the timestamps contradict the header, were repaired or vary."""
    header = reader.info.header_fps
    if header and abs(header - timing.fps) > 0.01 * timing.fps:
        log.info("%s: header says %.3g fps, frames are %.4g s apart: %.4g fps used", reader.path, header,
                 timing.median_interval_s, timing.fps)  # fmt: skip
    if timing.repaired:
        log.info("%s: %d timestamps did not increase and were repaired", reader.path, timing.repaired)
    if timing.variable:
        log.info("%s: variable frame rate; overlay and glb keep each frame's time, BVH uses the median "
                 "interval %.4g s", reader.path, timing.median_interval_s)  # fmt: skip


def _warn(result: DemoResult, message: str) -> None:
    log.warning(message)
    result.warnings.append(message)


def _message(video: Path, people: int, rejected: int) -> str:
    """The run's one line: how many people, and how many candidates were not."""
    found = f"{people} {'person' if people == 1 else 'people'} found" if people else "no person found"
    if rejected:
        found += f" ({rejected} candidate track{'s' if rejected > 1 else ''} rejected: no body seen, or a duplicate)"
    return f"{found} in {video}"


def _meta(video: Path, reader: VideoReader, model, weights: dict, device, config: DemoConfig, result: DemoResult) -> dict:
    """``meta.json``: the video's true timing, the model, the options, people, rejects, timings, versions."""
    w, h, timing = reader.width, reader.height, result.timing
    return {
        "video": {
            "path": str(video), "fps": timing.fps, "header_fps": reader.info.header_fps,
            "frame_interval_median_s": timing.median_interval_s, "variable_frame_rate": timing.variable,
            "timestamps_repaired": timing.repaired, "width": w, "height": h,
            "frames_read": result.frames_read, "rotation_deg": reader.info.rotation_deg,
        },
        "stack": config.stack,
        "body_model": model.body.name,
        "keypoint_set": model.config.keypoint_set,
        "weights": weights,
        "device": str(device),
        "nominal_focal_px": config.nominal_focal_px or float(max(w, h)),
        "options": {"smooth": config.smooth, "one_euro": asdict(config.one_euro), "render": config.render,
                    "side_view": config.side_view, "save_vertices": config.save_vertices,
                    "export": list(config.export), "max_frames": config.max_frames, "refine": config.refine,
                    "windows": asdict(config.windows), "presence": asdict(config.presence),
                    "min_track_s": config.tracker.min_track_s},
        "exports": {"bvh_frame_time_s": timing.median_interval_s, "gltf_keyframes": "each frame's timestamp",
                    "frame": config.export_frame if result.world else "camera", "rig": config.rig},
        "world": result.world,
        "track_ids": result.track_ids,
        "rejected_tracks": {str(tid): why for tid, why in result.rejected.items()},
        "message": result.message,
        "warnings": result.warnings,
        "refinement": {str(tid): r for tid, r in result.refinements.items()},
        "timings": result.timings,
        "versions": versions(),
    }
