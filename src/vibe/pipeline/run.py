"""The demo as a library: a video → per-person 3D bodies, files in ``OUT/<video-stem>/``.

Stages (each streams the video; nothing per frame is kept but arrays per track)::

    video ─pass 1─▶ detect + track (people.py) ─▶ smoothed square boxes
          ─pass 2─▶ open: BlazePose landmarks → features.keypoints_to_encoder_input
                    smpl: 224² crops (scale 1.1, ImageNet norm.) → ResNet-50
          ─────────▶ temporal encoder in cross-faded windows (windows.py) → regressor
          ─────────▶ crop camera → image camera (orig_cam) → body model → (One-Euro)
          ─────────▶ results.npz · meta.json · vibe_output.pkl (smpl) · BVH / glb
          ─pass 3─▶ overlay.mp4 (+ side.mp4), vertices posed per chunk while rendering

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

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import roma
import torch
from tqdm.auto import tqdm

from vibe import assets
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.geometry.cameras import crop_cam_to_image_cam, image_cam_to_pixels
from vibe.pipeline import limit_malloc_arenas, release_freed_memory
from vibe.pipeline.background import prefetched
from vibe.pipeline.landmarks import LandmarkConfig, TrackLandmarks, estimate_landmarks_parallel
from vibe.pipeline.outputs import check_writable, write_meta, write_results
from vibe.pipeline.detector import DetectorConfig
from vibe.pipeline.people import DetectionScheduleConfig, detect_and_track_ranges, smooth_square_boxes
from vibe.pipeline.tracker import Track, TrackerConfig
from vibe.fitting.temporal_smplify import SMPLifyConfig, refine_track
from vibe.pipeline.smoothing import OneEuroConfig, one_euro_rotations
from vibe.pipeline.video import VideoError, VideoReader, VideoWriter
from vibe.pipeline.windows import WindowConfig, encode_in_windows
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

# Exit codes of `vibe demo` (2 is typer's usage error).
EXIT_OK = 0
EXIT_VIDEO_UNREADABLE = 3
EXIT_MISSING_ASSETS = 4
EXIT_OUTPUT_NOT_WRITABLE = 5
EXIT_NO_WEIGHTS = 6

OPEN_WEIGHTS_FILE = "open_anny.pt"
_CACHE_VERSION = 1


class DemoError(RuntimeError):
    """A demo run that cannot go on; ``exit_code`` for the CLI, the message is one line."""

    exit_code = 1


class VideoUnreadableError(DemoError):
    """The input is missing, empty, corrupt, a still image, or has no decodable frame."""

    exit_code = EXIT_VIDEO_UNREADABLE


class MissingAssetsError(DemoError):
    """Files the chosen stack needs (SMPL files, checkpoints) are not there; names each and where."""

    exit_code = EXIT_MISSING_ASSETS

    def __init__(self, missing: list[Path], purpose: str):
        self.missing = list(missing)
        where = "; ".join(f"{p.name} (put it at {p})" for p in self.missing)
        super().__init__(f"{purpose} needs missing files: {where}")


class OutputNotWritableError(DemoError):
    """The output directory cannot be created or written."""

    exit_code = EXIT_OUTPUT_NOT_WRITABLE


class NoTrainedWeightsError(DemoError):
    """The open stack has no trained weights installed and none were given."""

    exit_code = EXIT_NO_WEIGHTS


@dataclass
class DemoConfig:
    """Options of :func:`run_demo` (the CLI's flags map onto these).

    Attributes:
        stack: ``"open"`` (BlazePose landmarks → Anny, open weights) or
            ``"smpl"`` (ResNet-50 crops → released VIBE → SMPL; user files).
        checkpoint: open: one of our checkpoints (default: the installed open
            weights); smpl: the released ``vibe_model_w(o)_3dpw.pth.tar``
            (default: ``$VIBE_DATA_DIR/checkpoints/vibe_model_wo_3dpw.pth.tar``).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
        smooth: One-Euro filter on the joint rotations (``one_euro``).
        refine: temporal SMPLify of each track to its landmarks (open stack;
            ``smplify``); reprojection errors before/after go to ``meta.json``.
        render: write ``overlay.mp4`` (skipped with a warning when no OpenGL).
        side_view: also write ``side.mp4``.
        save_vertices: store vertices in ``results.npz``.
        export: any of ``"bvh"``, ``"gltf"``: one file per person.
        max_frames: read only the first frames (``None``: all).
        cache: reuse/save the detection and landmark stages in ``.cache/``.
        progress: tqdm progress bars.
        detection_schedule: on which frames and views the person detector
            runs (``people.DetectionScheduleConfig``; ``stride=1``,
            ``large_side=None``: every frame, every view).
        nominal_focal_px: focal length for ``transl_cam`` and exports
            (``None``: ``max(W, H)``, ≈ 53° field of view).
        batch_frames: frames per batch of the regressor, body model, ResNet.
        workers: parallel threads of the detection and landmark passes
            (0: one per CPU core, at most 4); each takes a range of frames.
    """

    stack: Literal["open", "smpl"] = "open"
    checkpoint: Path | None = None
    device: str = "auto"
    smooth: bool = False
    one_euro: OneEuroConfig = field(default_factory=OneEuroConfig)
    refine: bool = False
    smplify: SMPLifyConfig = field(default_factory=lambda: SMPLifyConfig(keypoint_set="blazepose33"))
    render: bool = True
    side_view: bool = False
    save_vertices: bool = False
    export: tuple[str, ...] = ()
    max_frames: int | None = None
    cache: bool = True
    progress: bool = True
    detector: DetectorConfig = field(default_factory=lambda: DetectorConfig(min_score=TrackerConfig().low_score))
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    # Detector on every 3rd frame (every frame around unsure tracks), tiles skipped while
    # everyone tracked is large: 4-5x faster detection, same tracks on the bundled clips.
    detection_schedule: DetectionScheduleConfig = field(
        default_factory=lambda: DetectionScheduleConfig(stride=3, large_side=0.45)
    )
    box_window_s: float = 0.5
    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)
    smpl_crop_scale: float = 1.1
    nominal_focal_px: float | None = None
    batch_frames: int = 64
    workers: int = 0

    def __post_init__(self) -> None:
        if self.stack not in ("open", "smpl"):
            raise ValueError(f"stack must be 'open' or 'smpl', got {self.stack!r}")
        if self.refine and self.stack != "open":
            raise ValueError("refine fits 2D landmarks, which only the open stack detects")
        unknown = set(self.export) - {"bvh", "gltf"}
        if unknown:
            raise ValueError(f"unknown export format(s) {sorted(unknown)}; use bvh, gltf")


@dataclass
class DemoResult:
    """What a run wrote.

    Attributes:
        out_dir: ``OUT/<video-stem>``.
        results: ``results.npz``; meta: ``meta.json``.
        overlay, side: videos, or ``None`` when not rendered.
        vibe_output: ``vibe_output.pkl`` (smpl stack) or ``None``.
        exports: BVH / glb files.
        track_ids: the people found.
        message: one line for the user (e.g. that no person was found).
        warnings: things skipped (e.g. rendering unavailable), one line each.
        timings: stage → ``{"seconds", "frames", "fps"}``.
    """

    out_dir: Path
    results: Path
    meta: Path
    overlay: Path | None = None
    side: Path | None = None
    vibe_output: Path | None = None
    exports: list[Path] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)


def default_open_weights() -> Path:
    """Where the committed open model lives: ``vibe/resources/weights/open_anny.pt``."""
    return Path(str(resources.files("vibe") / "resources" / "weights" / OPEN_WEIGHTS_FILE))


def image_cam_to_translation(orig_cam: np.ndarray, img_width: float, focal_px: float) -> np.ndarray:
    """Image camera ``(N, 4)`` ``(sx, sy, tx, ty)`` → body translation ``(N, 3)`` for a pinhole camera.

    A pinhole camera of focal ``focal_px`` centred on the image shows the
    body translated by ``(tx, ty, 2·focal_px/(sx·W))`` as the weak-perspective
    camera does (pixels per metre ``sx·W/2 = focal/depth``). Metres, OpenCV axes.
    """
    orig_cam = np.asarray(orig_cam, dtype=np.float64)
    depth = 2.0 * focal_px / (orig_cam[:, 0] * img_width)
    return np.stack([orig_cam[:, 2], orig_cam[:, 3], depth], axis=1)


# --------------------------------------------------------------------------- helpers
class _Timer:
    """Per-stage wall time and frame counts."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    def add(self, name: str, seconds: float, frames: int) -> None:
        fps = round(frames / max(seconds, 1e-9), 2)
        self.stages[name] = {"seconds": round(seconds, 4), "frames": int(frames), "fps": fps}


def _workers(config: DemoConfig) -> int:
    return config.workers if config.workers > 0 else max(1, min(4, os.cpu_count() or 1))


def _time_ranges(reader: VideoReader, config: DemoConfig, min_range_s: float = 2.0) -> list[tuple[float | None, float | None]]:
    """Consecutive time ranges for the detection pass, one per worker (one with ``max_frames``
    or when the container gives no duration or first timestamp)."""
    info = reader.info
    if config.max_frames is not None or not info.duration_s or info.start_s is None:
        return [(None, None)]
    parts = max(1, min(_workers(config), int(info.duration_s // min_range_s)))
    cuts = [info.start_s + info.duration_s * k / parts for k in range(1, parts)]
    return list(zip([None, *cuts], [*cuts, None]))


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _progress(config: DemoConfig, desc: str, total: int | None) -> tqdm:
    """A stage's progress bar over frames (silent unless ``config.progress``)."""
    return tqdm(total=total, desc=desc, unit="frame", disable=not config.progress, leave=False)


def _frame_total(reader: VideoReader, config: DemoConfig) -> int | None:
    """Frames a full pass reads: the container's count capped by ``max_frames`` (None: unknown)."""
    total = reader.frame_count
    if config.max_frames is not None:
        total = min(total, config.max_frames) if total else config.max_frames
    return total


def _frames(reader: VideoReader, config: DemoConfig, desc: str) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame_id, image_rgb)`` of the first ``max_frames`` frames, with a progress bar."""
    with _progress(config, desc, _frame_total(reader, config)) as bar:
        for index, _, image in reader.frames(0, config.max_frames, prefetch=2):
            bar.update(1)
            yield index, image


def _file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _cache_key(*parts: object) -> str:
    text = json.dumps([_CACHE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("vibe-hmr", "torch", "numpy", "mediapipe", "av", "anny", "pyrender"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


# --------------------------------------------------------------------------- stages
def _people_stage(
    reader: VideoReader, config: DemoConfig, cache: Path | None, timer: _Timer
) -> tuple[list[Track], np.ndarray]:
    """Pass 1: tracks and the timestamp of every frame read (cached)."""
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            times = npz["frame_times_s"]
            tracks = [
                Track(int(t), *(npz[f"{t}/{k}"] for k in Track.ARRAYS))
                for t in npz["track_ids"]
            ]
        log.info("detection and tracking: reused %s", cache)
        return tracks, times
    start = time.perf_counter()
    with _progress(config, "people", _frame_total(reader, config)) as bar:

        def range_frames(t0: float | None, t1: float | None) -> Iterator[tuple[float, np.ndarray]]:
            if t0 is None and t1 is None:  # the whole video (or its first max_frames)
                frames = reader.frames(0, config.max_frames, prefetch=2)
            else:
                frames = reader.time_range(t0, t1, prefetch=2)
            for _, t, image in frames:
                bar.update(1)
                yield t, image

        ranges = [functools.partial(range_frames, t0, t1) for t0, t1 in _time_ranges(reader, config)]
        tracks, times = detect_and_track_ranges(
            ranges, reader.fps, config.detector, config.tracker, config.detection_schedule
        )
    timer.add("detect_track", time.perf_counter() - start, len(times))
    if cache is not None:
        track_ids = np.asarray([t.track_id for t in tracks], dtype=np.int64)
        arrays = {"frame_times_s": np.asarray(times), "track_ids": track_ids}
        for t in tracks:
            for k in Track.ARRAYS:
                arrays[f"{t.track_id}/{k}"] = getattr(t, k)
        _save_npz(cache, arrays)
    return tracks, np.asarray(times)


def _landmark_stage(
    reader: VideoReader,
    boxes: dict[int, tuple[np.ndarray, np.ndarray]],
    frame_times: np.ndarray,
    config: DemoConfig,
    cache: Path | None,
    timer: _Timer,
) -> dict[int, TrackLandmarks]:
    """Pass 2 (open stack): 33 BlazePose landmarks per track, ranges of frames in parallel (cached)."""
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            out = {
                int(t): TrackLandmarks(int(t), *(npz[f"{t}/{k}"] for k in TrackLandmarks.ARRAYS))
                for t in npz["track_ids"]
            }
        log.info("landmarks: reused %s", cache)
        return out
    start = time.perf_counter()
    last = max(int(f[-1]) for f, _ in boxes.values())
    with _progress(config, "landmarks", last + 1) as bar:

        def frames_between(first: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
            for index, _, image in reader.frames(first, stop, frame_times, prefetch=2):
                bar.update(1)
                yield index, image

        out = estimate_landmarks_parallel(
            frames_between, boxes, config.landmarks, _workers(config), min_frames=int(2 * reader.fps)
        )
    timer.add("landmarks", time.perf_counter() - start, last + 1)
    if cache is not None:
        arrays = {"track_ids": np.asarray(sorted(out), dtype=np.int64)}
        for t, lm in out.items():
            for k in TrackLandmarks.ARRAYS:
                arrays[f"{t}/{k}"] = getattr(lm, k)
        _save_npz(cache, arrays)
    return out


@torch.no_grad()
def _resnet_stage(
    reader: VideoReader,
    boxes: dict[int, tuple[np.ndarray, np.ndarray]],
    backbone: torch.nn.Module,
    device: torch.device,
    config: DemoConfig,
    timer: _Timer,
) -> dict[int, torch.Tensor]:
    """Pass 2 (smpl stack): ResNet-50 features ``(n, 2048)`` of each track's 224² crops."""
    from vibe.geometry.crops import crop_image
    from vibe.models.backbone import imagenet_normalize

    start = time.perf_counter()
    first = {tid: int(f[0]) for tid, (f, _) in boxes.items()}
    last_frame = max(int(f[-1]) for f, _ in boxes.values())
    feats = {tid: torch.zeros(len(f), 2048) for tid, (f, _) in boxes.items()}
    pending: list[tuple[int, int, np.ndarray]] = []  # (track, row, crop)

    def flush() -> None:
        if not pending:
            return
        crops = torch.from_numpy(np.stack([c for _, _, c in pending])).to(device)
        crops = imagenet_normalize(crops.permute(0, 3, 1, 2).float() / 255.0)
        out = backbone(crops).float().cpu()
        for (tid, row, _), f in zip(pending, out):
            feats[tid][row] = f
        pending.clear()

    for frame_id, image in _frames(reader, config, "crops+resnet"):
        if frame_id > last_frame:
            break
        for tid, (fids, cxcys) in boxes.items():
            row = frame_id - first[tid]
            if 0 <= row < len(fids):
                pending.append((tid, row, crop_image(image, cxcys[row], config.smpl_crop_scale, 224)))
        if len(pending) >= config.batch_frames:
            flush()
    flush()
    timer.add("resnet_features", time.perf_counter() - start, last_frame + 1)
    return feats


def _build_model(config: DemoConfig, device: torch.device):
    """The generator (eval mode, on ``device``) and a description of its weights.

    Raises:
        NoTrainedWeightsError: open stack, no installed weights and no checkpoint.
        MissingAssetsError: smpl stack files, or a given checkpoint, not found.
    """
    from vibe.models.checkpoints import load_checkpoint, load_generator_weights
    from vibe.models.vibe import VIBE

    if config.stack == "open":
        path = Path(config.checkpoint) if config.checkpoint else default_open_weights()
        if not path.exists():
            if config.checkpoint:
                raise MissingAssetsError([path], "the --checkpoint option")
            raise NoTrainedWeightsError(
                f"no trained open weights are installed (expected {path}); pass a checkpoint with --checkpoint FILE"
            )
        ckpt = load_checkpoint(path, map_location="cpu")
        if ckpt.body_model == "anny":
            from vibe.body.anny import Anny

            body = Anny()
        elif ckpt.body_model == "smpl":
            from vibe.body.smpl import SMPL

            body = _smpl_or_raise(lambda: SMPL(), "the checkpoint's SMPL body")
        else:
            raise ValueError(f"{path}: unknown body model {ckpt.body_model!r}")
        model_config = ckpt.config
        model_config.return_vertices = False  # vertices are posed later, only where needed
        model = VIBE(model_config, body)
        load_generator_weights(model, ckpt)
        weights = {"checkpoint": str(path), "format": "vibe-hmr", "versions": ckpt.versions}
    else:
        from vibe.body.smpl import SMPL, load_mean_params
        from vibe.models.checkpoints import load_released_vibe, load_spin
        from vibe.models.regressor import RegressorInit
        from vibe.models.vibe import VIBEConfig

        smpl, ckpts = assets.smpl_dir(), assets.checkpoints_dir()
        vibe_path = Path(config.checkpoint) if config.checkpoint else ckpts / "vibe_model_wo_3dpw.pth.tar"
        spin_path = ckpts / "spin_model_checkpoint.pth.tar"
        needed = [
            smpl / "SMPL_NEUTRAL.pkl",
            smpl / "J_regressor_extra.npy",
            smpl / "J_regressor_h36m.npy",
            smpl / "smpl_mean_params.npz",
            vibe_path,
            spin_path,
        ]
        missing = [p for p in needed if not p.exists()]
        if missing:
            raise MissingAssetsError(missing, "the smpl stack")
        body = _smpl_or_raise(lambda: SMPL(), "the smpl stack")
        init = RegressorInit.from_mean_params(load_mean_params())
        model = VIBE(VIBEConfig(feature_source="resnet", keypoint_set="spin49", return_vertices=False), body, init)
        info = load_released_vibe(vibe_path, model)
        load_spin(spin_path, backbone=model.backbone)
        weights = {"checkpoint": str(vibe_path), "spin": str(spin_path), "format": "released", "epoch": info["epoch"]}
    return model.to(device).eval(), weights


def _smpl_or_raise(make, purpose: str):
    try:
        return make()
    except assets.MissingAssetError as exc:
        raise MissingAssetsError(exc.missing, purpose) from exc


@torch.no_grad()
def _regress(model, features: torch.Tensor, config: DemoConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-frame features ``(n, F)`` → ``pose_rotmat (n, J, 3, 3)``, ``shape (n, S)``, ``cam (n, 3)`` (CPU)."""
    encoded = encode_in_windows(model.encoder, features, config.windows) if model.config.temporal else features
    poses, shapes, cams = [], [], []
    for chunk in encoded.split(config.batch_frames * 8):
        out = model.regressor(chunk)
        poses.append(out.pose_rotmat.cpu())
        shapes.append(out.shape.cpu())
        cams.append(out.cam.cpu())
    return torch.cat(poses), torch.cat(shapes), torch.cat(cams)


@torch.no_grad()
def _pose_body(body, pose_rotmat: torch.Tensor, shape: torch.Tensor, keypoint_set: str, batch: int, vertices: bool):
    """Keypoints ``(n, K, 3)`` (and vertices ``(n, V, 3)`` when asked) in batches, numpy float32."""
    device = body.device
    joints, verts = [], []
    for p, s in zip(pose_rotmat.split(batch), shape.split(batch)):
        posed = body(p.to(device, body.dtype), s.to(device, body.dtype))
        joints.append(body.keypoints(posed, keypoint_set).float().cpu().numpy())
        if vertices:
            verts.append(posed.vertices.float().cpu().numpy())
    return np.concatenate(joints), (np.concatenate(verts) if vertices else None)


@torch.no_grad()
def _keypoint_features(
    model, landmarks, boxes, feature_config: FeatureConfig, image_size, device
) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """Open stack, per track: landmarks → encoder input ``(n, K, 3)`` (the one shared map) → features ``(n, F)``.

    Returns ``(features, encoder_inputs)``; the inputs are also the crop keypoints refinement fits.
    """
    features, inputs = {}, {}
    for tid, (_, cxcys) in boxes.items():
        kp = keypoints_to_encoder_input(landmarks[tid].landmarks_img, cxcys, feature_config, image_size=image_size)
        world = None
        if model.config.keypoint_encoder.use_world:
            world = torch.as_tensor(landmarks[tid].world, dtype=torch.float32)[None].to(device)
        features[tid] = model.encode_frames(kp[None].to(device), world)[0]
        inputs[tid] = kp
    return features, inputs


@dataclass(frozen=True)
class _ImageGeometry:
    """Image size, the crop camera's box scale (its [-1, 1] spans ``box_scale`` × the box side), nominal focal."""

    width: int
    height: int
    box_scale: float
    focal_px: float


def _track_outputs(
    model,
    features: torch.Tensor,
    frame_ids: np.ndarray,
    bbox_cxcys: np.ndarray,
    geometry: _ImageGeometry,
    config: DemoConfig,
    keep_vertices: bool,
    refine_keypoints: torch.Tensor | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float] | None]:
    """One track's arrays (``results.npz`` keys, plus ``vertices`` or None) from its features ``(n, F)``.

    With ``refine_keypoints`` (``(n, K, 3)`` crop keypoints) the network output is
    refined by temporal SMPLify first; the second value then holds the mean
    reprojection errors before and after, in pixels of the 224 crop.
    """
    pose_rotmat, shape, cam = _regress(model, features, config)
    refinement = None
    if refine_keypoints is not None:
        params = {"pose_rotmat": pose_rotmat, "shape": shape, "cam_crop": cam}
        params, before, after = refine_track(model.body, params, refine_keypoints.cpu(), config.smplify)
        pose_rotmat, shape, cam = params["pose_rotmat"], params["shape"], params["cam_crop"]
        half_crop = model.config.crop_size / 2  # crop [-1, 1] units → crop pixels
        refinement = {"reproj_err_before_px": before * half_crop, "reproj_err_after_px": after * half_crop}
    if config.smooth:
        pose_rotmat = one_euro_rotations(pose_rotmat, config.one_euro, times=frame_ids)
    joints3d, vertices = _pose_body(
        model.body, pose_rotmat, shape, model.config.keypoint_set, config.batch_frames, keep_vertices
    )
    w, h = geometry.width, geometry.height
    box = np.concatenate([bbox_cxcys[:, :2], geometry.box_scale * bbox_cxcys[:, 2:3]], axis=1)
    cam_crop = cam.double().numpy()
    cam_image = crop_cam_to_image_cam(cam_crop, box, w, h)
    return {
        "frame_ids": np.asarray(frame_ids, dtype=np.int64),
        "bbox_cxcys": bbox_cxcys.astype(np.float32),
        "pose_rotmat": pose_rotmat.float().numpy(),
        "shape": shape.float().numpy(),
        "cam_crop": cam_crop.astype(np.float32),
        "cam_image": cam_image.astype(np.float32),
        "transl_cam": image_cam_to_translation(cam_image, w, geometry.focal_px).astype(np.float32),
        "joints3d": joints3d,
        "joints2d_img": image_cam_to_pixels(joints3d.astype(np.float64), cam_image, w, h).astype(np.float32),
        "vertices": vertices,
    }, refinement


# --------------------------------------------------------------------------- rendering
class _TrackVertices:
    """Vertices of one track posed a chunk at a time, in frame order (memory: one chunk)."""

    def __init__(self, body, first_frame: int, pose_rotmat: torch.Tensor, shape: torch.Tensor, chunk: int):
        self.body, self.first, self.pose, self.shape, self.chunk = body, first_frame, pose_rotmat, shape, chunk
        self._start, self._verts = -1, None

    def __call__(self, frame_id: int) -> np.ndarray:
        row = frame_id - self.first
        if self._verts is None or not self._start <= row < self._start + self.chunk:
            self._start = row
            sl = slice(row, row + self.chunk)
            with torch.no_grad():
                to_body = {"device": self.body.device, "dtype": self.body.dtype}
                posed = self.body(self.pose[sl].to(**to_body), self.shape[sl].to(**to_body))
            self._verts = posed.vertices.float().cpu().numpy()
        return self._verts[row - self._start]


def _render(reader, people, body, config: DemoConfig, out_dir: Path, timer: _Timer) -> tuple[Path | None, Path | None]:
    """Pass 3: ``overlay.mp4`` (and ``side.mp4``). Raises the render module's errors."""
    from vibe.render.overlay import OverlayRenderer, PersonMesh

    start = time.perf_counter()
    faces = body.faces.cpu().numpy()
    streams = {
        tid: _TrackVertices(
            body,
            int(p["frame_ids"][0]),
            torch.as_tensor(p["pose_rotmat"]),
            torch.as_tensor(p["shape"]),
            config.batch_frames,
        )
        for tid, p in people.items()
    }
    overlay_path = out_dir / "overlay.mp4"
    side_path = out_dir / "side.mp4" if config.side_view else None
    count = 0

    def frames_with_meshes() -> Iterator[tuple[np.ndarray, list[PersonMesh]]]:
        for frame_id, image in _frames(reader, config, "render"):
            meshes = []
            for tid, p in people.items():
                row = frame_id - int(p["frame_ids"][0])
                if 0 <= row < len(p["frame_ids"]):
                    meshes.append(PersonMesh(tid, streams[tid](frame_id), p["cam_image"][row]))
            yield image, meshes

    # Decoding + posing (thread), drawing (here) and encoding (thread) overlap.
    writer = functools.partial(VideoWriter, fps=reader.fps, preset="veryfast", background=True)
    with OverlayRenderer(reader.width, reader.height, faces, body.num_vertices) as renderer:
        side_writer = writer(side_path) if side_path else _Null()
        with writer(overlay_path) as overlay, side_writer as side:
            for image, meshes in prefetched(frames_with_meshes, depth=4):
                overlay.write(renderer.render(image, meshes))
                if side_path:
                    side.write(renderer.render(None, meshes, side_view=True))
                count += 1
    timer.add("render", time.perf_counter() - start, count)
    return overlay_path, side_path


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


# --------------------------------------------------------------------------- exports
def _export(people, body, fps: float, formats: tuple[str, ...], out_dir: Path, timer: _Timer) -> list[Path]:
    """One BVH / glb per person: y up, root translation in metres, the video's frame rate."""
    from vibe.export.bvh import camera_to_y_up, export_bvh, rest_joints

    start, written = time.perf_counter(), []
    for tid, p in people.items():
        shape = np.asarray(p["shape"]).mean(axis=0)
        pose_up, transl_up = camera_to_y_up(p["pose_rotmat"], p["transl_cam"], rest_joints(body, shape)[0])
        if "bvh" in formats:
            written.append(export_bvh(out_dir / f"person{tid}.bvh", body, pose_up, transl_up, fps, shape))
        if "gltf" in formats:
            from vibe.export.gltf import export_gltf

            path = out_dir / f"person{tid}.glb"
            written.append(export_gltf(path, body, pose_up, transl_up, fps, shape, name=f"person{tid}"))
    timer.add("export", time.perf_counter() - start, sum(len(p["frame_ids"]) for p in people.values()))
    return written


def _write_vibe_pkl(people, out_dir: Path) -> Path:
    """The original demo's ``vibe_output.pkl`` (smpl stack)."""
    from vibe.export.vibe_pkl import write_vibe_output

    tracks = {}
    for tid, p in people.items():
        n = len(p["frame_ids"])
        bbox = np.asarray(p["bbox_cxcys"])
        pose_aa = roma.rotmat_to_rotvec(torch.as_tensor(p["pose_rotmat"], dtype=torch.float64))
        tracks[tid] = {
            "pred_cam": p["cam_crop"],
            "orig_cam": p["cam_image"],
            "verts": p["vertices"],
            "pose": pose_aa.reshape(n, -1).numpy(),  # axis-angle only at the file boundary
            "betas": p["shape"],
            "joints3d": p["joints3d"],
            "joints2d": None,
            "joints2d_img_coord": p["joints2d_img"],
            "bboxes": np.concatenate([bbox, bbox[:, 2:3]], axis=1),  # (cx, cy, w, h), square
            "frame_ids": p["frame_ids"],
        }
    return write_vibe_output(out_dir / "vibe_output.pkl", tracks, smpl=True)


# --------------------------------------------------------------------------- the run
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
    timer = _Timer()
    try:
        reader = VideoReader(video)
    except VideoError as exc:
        raise VideoUnreadableError(str(exc)) from exc
    device = _resolve_device(config.device)
    model, weights = _build_model(config, device)
    body = model.body
    target = Path(out_dir) / video.stem
    try:
        check_writable(target)
    except OSError as exc:
        raise OutputNotWritableError(f"output directory not writable: {target} ({exc.strerror or exc})") from exc
    w, h, fps = reader.width, reader.height, reader.fps

    cache_dir = target / ".cache" if config.cache else None
    digest = _file_digest(video) if config.cache else ""
    people_key = _cache_key(
        digest, config.max_frames, asdict(config.detector), asdict(config.tracker), asdict(config.detection_schedule)
    )
    people_cache = cache_dir / f"people-{people_key}.npz" if cache_dir else None
    tracks, frame_times = _people_stage(reader, config, people_cache, timer)
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
            lm_key = _cache_key(people_key, config.box_window_s, asdict(config.landmarks))
            lm_cache = cache_dir / f"landmarks-{lm_key}.npz" if cache_dir else None
            landmarks = _landmark_stage(reader, boxes, frame_times, config, lm_cache, timer)
            start = time.perf_counter()
            features, encoder_inputs = _keypoint_features(model, landmarks, boxes, config.features, (w, h), device)
            box_scale = config.features.box_scale
        else:
            features = _resnet_stage(reader, boxes, model.backbone, device, config, timer)
            start = time.perf_counter()
            box_scale = config.smpl_crop_scale
            encoder_inputs = {}
        geometry = _ImageGeometry(w, h, box_scale, config.nominal_focal_px or float(max(w, h)))
        keep_vertices = config.save_vertices or config.stack == "smpl"
        for tid, (fids, cxcys) in boxes.items():
            track_features = features.pop(tid).to(device)
            refine_kp = encoder_inputs.pop(tid) if config.refine else None
            people[tid], refinement = _track_outputs(
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
        result.vibe_output = _write_vibe_pkl(people, target)
    for p in people.values():
        p.pop("vertices", None)  # rendering poses vertices per chunk again

    if people and config.export:
        result.exports = _export(people, body, fps, config.export, target, timer)
    if people and config.render:
        try:
            result.overlay, result.side = _render(reader, people, body, config, target, timer)
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
        "versions": _versions(),
    }
    write_meta(result.meta, meta)
    return result
