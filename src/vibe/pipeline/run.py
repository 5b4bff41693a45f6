"""The demo as a library: a video → per-person 3D bodies, files in ``OUT/<video-stem>/``.

:func:`run_demo` is the data flow, one stage after another (each stage in
:mod:`vibe.pipeline.stages`, the files in :mod:`vibe.pipeline.outputs`)::

    video ─pass 1─▶ people_stage: detect + track (people.py) ─▶ smoothed square boxes
          ─pass 2─▶ open: landmark_stage (BlazePose) → keypoint_features
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
:attr:`DemoResult.message`. Every file is written under a temporary name and
renamed when complete.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from vibe.pipeline import limit_malloc_arenas, release_freed_memory
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
)
from vibe.pipeline.demo_model import build_model, default_open_weights
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
from vibe.pipeline.people import smooth_square_boxes
from vibe.pipeline.stages import (
    ImageGeometry,
    StageTimer,
    cache_key,
    file_digest,
    image_cam_to_translation,
    keypoint_features,
    landmark_stage,
    people_stage,
    resnet_stage,
    resolve_device,
    track_outputs,
)
from vibe.pipeline.video import VideoError, VideoReader
from vibe.render.backend import RenderUnavailableError  # stdlib-only module, no import-time work

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


def run_demo(video: str | Path, out_dir: str | Path, config: DemoConfig | None = None) -> DemoResult:
    """Run the demo on ``video``; files go to ``out_dir/<video stem>/`` (see the module doc).

    Raises:
        VideoUnreadableError, MissingAssetsError, NoTrainedWeightsError,
        OutputNotWritableError: see their ``exit_code``; nothing is written
        for the first three, which are checked before any output.
    """
    config = config or DemoConfig()
    limit_malloc_arenas()
    video = Path(video)
    timer = StageTimer()
    try:
        reader = VideoReader(video)
    except VideoError as exc:
        raise VideoUnreadableError(str(exc)) from exc
    device = resolve_device(config.device)
    model, weights = build_model(config, device, default_open_weights())
    body = model.body
    target = Path(out_dir) / video.stem
    try:
        check_writable(target)
    except OSError as exc:
        raise OutputNotWritableError(f"output directory not writable: {target} ({exc.strerror or exc})") from exc
    w, h, fps = reader.width, reader.height, reader.fps

    cache_dir = target / ".cache" if config.cache else None
    digest = file_digest(video) if config.cache else ""
    people_key = cache_key(
        digest, config.max_frames, asdict(config.detector), asdict(config.tracker), asdict(config.detection_schedule)
    )
    people_cache = cache_dir / f"people-{people_key}.npz" if cache_dir else None
    tracks, frame_times = people_stage(reader, config, people_cache, timer)
    boxes = {t.track_id: smooth_square_boxes(t.frame_ids, t.bbox_xyxy, fps, config.box_window_s) for t in tracks}

    result = DemoResult(out_dir=target, results=target / "results.npz", meta=target / "meta.json")
    people: dict[int, dict[str, np.ndarray]] = {}
    refinements: dict[int, dict[str, float]] = {}
    if not tracks:
        result.message = f"no person found in {video}"
        log.info(result.message)
    else:
        landmarks: dict[int, TrackLandmarks] = {}
        if config.stack == "open":
            lm_key = cache_key(people_key, config.box_window_s, asdict(config.landmarks))
            lm_cache = cache_dir / f"landmarks-{lm_key}.npz" if cache_dir else None
            landmarks = landmark_stage(reader, boxes, frame_times, config, lm_cache, timer)
            start = time.perf_counter()
            features, encoder_inputs = keypoint_features(model, landmarks, boxes, config.features, (w, h), device)
            box_scale = config.features.box_scale
        else:
            features = resnet_stage(reader, boxes, model.backbone, device, config, timer)
            start = time.perf_counter()
            box_scale = config.smpl_crop_scale
            encoder_inputs = {}
        geometry = ImageGeometry(w, h, box_scale, config.nominal_focal_px or float(max(w, h)))
        keep_vertices = config.save_vertices or config.stack == "smpl"
        for tid, (fids, cxcys) in boxes.items():
            track_features = features.pop(tid).to(device)
            refine_kp = encoder_inputs.pop(tid) if config.refine else None
            people[tid], refinement = track_outputs(
                model, track_features, fids, cxcys, geometry, config, keep_vertices, refine_kp
            )
            release_freed_memory()  # torch's per-track temporaries would otherwise stay in glibc's arenas
            if refinement is not None:
                refinements[tid] = refinement
            if tid in landmarks:
                people[tid]["landmarks_img"] = landmarks[tid].landmarks_img.astype(np.float32)
        timer.add("generator_body", time.perf_counter() - start, sum(len(f) for f, _ in boxes.values()))
        result.track_ids = sorted(people)
        result.message = f"{len(people)} {'person' if len(people) == 1 else 'people'} found in {video}"

    saved = {
        tid: {k: v for k, v in p.items() if k != "vertices" or config.save_vertices} for tid, p in people.items()
    }
    write_results(result.results, frame_times, saved)
    if config.stack == "smpl" and people:
        result.vibe_output = write_vibe_pkl(people, target)
    for p in people.values():
        p.pop("vertices", None)  # rendering poses vertices per chunk again

    if people and config.export:
        result.exports = export_people(people, body, fps, config.export, target, timer)
    if people and config.render:
        try:
            result.overlay, result.side = render_overlay(reader, people, body, config, target, timer)
        except (ImportError, RenderUnavailableError) as exc:  # pyrender missing / no offscreen OpenGL
            result.warnings.append(f"rendering skipped: {' '.join(str(exc).split())}")
    for warning in result.warnings:
        log.warning(warning)

    result.timings = timer.stages
    meta = {
        "video": {"path": str(video), "fps": fps, "width": w, "height": h, "frames_read": int(len(frame_times)),
                  "rotation_deg": reader.info.rotation_deg},
        "stack": config.stack,
        "body_model": body.name,
        "keypoint_set": model.config.keypoint_set,
        "weights": weights,
        "device": str(device),
        "nominal_focal_px": config.nominal_focal_px or float(max(w, h)),
        "options": {"smooth": config.smooth, "one_euro": asdict(config.one_euro), "render": config.render,
                    "side_view": config.side_view, "save_vertices": config.save_vertices,
                    "export": list(config.export), "max_frames": config.max_frames, "refine": config.refine,
                    "windows": asdict(config.windows)},
        "track_ids": result.track_ids,
        "message": result.message,
        "warnings": result.warnings,
        "refinement": {str(tid): r for tid, r in refinements.items()},
        "timings": timer.stages,
        "versions": versions(),
    }
    write_meta(result.meta, meta)
    return result