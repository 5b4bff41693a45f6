"""The demo's stages, each on its own: people, landmarks or crops, the generator per track.

Every stage takes what the one before produced and the run's
:class:`~vibe.pipeline.demo_config.DemoConfig`; :func:`vibe.pipeline.run.run_demo`
calls them in order, so the data flow reads there as one path::

    people_stage      video ─pass 1─▶ detect + track → Track per candidate, frame times
    landmark_stage    video ─pass 2─▶ 33 BlazePose landmarks per track (open stack)
    resnet_stage      video ─pass 2─▶ ResNet-50 features of 224² crops (smpl stack)
    keypoint_features landmarks → encoder input → per-frame features (open stack; track_features per track)
    track_outputs     features → windows → regressor (regress_features) → body → cameras, joints (per track)

Passes 1 and 2 stream the video and may be cached (``cache`` paths come from
the run); each stage adds its wall time to a :class:`~vibe.pipeline.passes.StageTimer`
(what the passes share is in :mod:`vibe.pipeline.passes`).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33
from vibe.body.mirror import average_with_mirror, mirror_points
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.geometry.cameras import crop_cam_to_image_cam, image_cam_to_pixels
from vibe.pipeline.demo_config import DemoConfig
from vibe.pipeline.landmarks import TrackLandmarks, estimate_landmarks_parallel
from vibe.pipeline.passes import (
    StageTimer,
    frame_total,
    progress_bar,
    range_workers,
    save_npz,
    stage_frames,
    time_ranges,
)
from vibe.pipeline.people import detect_and_track_ranges
from vibe.pipeline.smoothing import one_euro_rotations
from vibe.pipeline.track_fit import camera_keypoint_set, fit_to_landmarks, fit_track_camera, smooth_track
from vibe.pipeline.tracker import Track
from vibe.pipeline.video import VideoReader
from vibe.pipeline.windows import WindowConfig, encode_in_windows

__all__ = [
    "ImageGeometry",
    "image_cam_to_translation",
    "resolve_device",
    "people_stage",
    "landmark_stage",
    "resnet_stage",
    "keypoint_features",
    "track_features",
    "regress_features",
    "track_outputs",
]

log = logging.getLogger(__name__)


def image_cam_to_translation(orig_cam: np.ndarray, img_width: float, focal_px: float) -> np.ndarray:
    """Image camera ``(N, 4)`` ``(sx, sy, tx, ty)`` → body translation ``(N, 3)`` for a pinhole camera.

    A pinhole camera of focal ``focal_px`` centred on the image shows the
    body translated by ``(tx, ty, 2·focal_px/(sx·W))`` as the weak-perspective
    camera does (pixels per metre ``sx·W/2 = focal/depth``). Metres, OpenCV axes.
    """
    orig_cam = np.asarray(orig_cam, dtype=np.float64)
    depth = 2.0 * focal_px / (orig_cam[:, 0] * img_width)
    return np.stack([orig_cam[:, 2], orig_cam[:, 3], depth], axis=1)


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; any other name as torch reads it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# --------------------------------------------------------------------------- stages
def _detect_and_track(
    reader: VideoReader, config: DemoConfig, cuts: list[tuple[float | None, float | None]]
) -> tuple[list[Track], np.ndarray]:
    """The detector and tracker over consecutive time ranges (``cuts``) decoded in parallel threads.

    When interrupted, the ranges' frame sources stop at their next frame, so
    the threads end at once rather than running through their ranges.
    """
    stop = threading.Event()
    with progress_bar(config, "people", frame_total(reader, config)) as bar:

        def range_frames(t0: float | None, t1: float | None) -> Iterator[tuple[float, np.ndarray]]:
            if t0 is None and t1 is None:  # the whole video (or its first max_frames)
                frames = reader.frames(0, config.max_frames, prefetch=2)
            else:
                frames = reader.time_range(t0, t1, prefetch=2)
            for _, t, image in frames:
                if stop.is_set():
                    return
                bar.update(1)
                yield t, image

        ranges = [functools.partial(range_frames, t0, t1) for t0, t1 in cuts]
        try:
            tracks, times = detect_and_track_ranges(
                ranges, reader.fps, config.detector, config.tracker, config.detection_schedule
            )
        except BaseException:
            stop.set()
            raise
    return tracks, np.asarray(times)


def people_stage(
    reader: VideoReader, config: DemoConfig, cache: Path | None, timer: StageTimer
) -> tuple[list[Track], np.ndarray]:
    """Pass 1: tracks and the timestamp of every frame read, as decoded (cached)."""
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
    cuts = time_ranges(reader, config)
    tracks, times = _detect_and_track(reader, config, cuts)
    if len(cuts) > 1 and not np.all(np.diff(times) > 0):
        # Cutting by time needs increasing timestamps; these go back somewhere, so ranges may
        # overlap or leave gaps: decode the video once, in order, instead.
        log.info("%s: timestamps do not increase, detecting in one sequential pass", reader.path)
        tracks, times = _detect_and_track(reader, config, [(None, None)])
    timer.add("detect_track", time.perf_counter() - start, len(times))
    if cache is not None:
        track_ids = np.asarray([t.track_id for t in tracks], dtype=np.int64)
        arrays = {"frame_times_s": np.asarray(times), "track_ids": track_ids}
        for t in tracks:
            for k in Track.ARRAYS:
                arrays[f"{t.track_id}/{k}"] = getattr(t, k)
        save_npz(cache, arrays)
    return tracks, np.asarray(times)


def landmark_stage(
    reader: VideoReader,
    boxes: dict[int, tuple[np.ndarray, np.ndarray]],
    frame_times: np.ndarray,
    config: DemoConfig,
    cache: Path | None,
    timer: StageTimer,
) -> dict[int, TrackLandmarks]:
    """Pass 2 (open stack): 33 BlazePose landmarks per track, ranges of frames in parallel (cached).

    ``frame_times (N,)`` are the decoded timestamps of pass 1 (as decoded, not
    repaired: seeking matches them against the decoder's).
    """
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            out = {
                int(t): TrackLandmarks(int(t), *(npz[f"{t}/{k}"] for k in TrackLandmarks.ARRAYS))
                for t in npz["track_ids"]
            }
        cache.touch()  # the newest landmarks file is this run's (evaluation.synthetic_bench.cached_landmarks)
        log.info("landmarks: reused %s", cache)
        return out
    start = time.perf_counter()
    last = max(int(f[-1]) for f, _ in boxes.values())
    interrupted = threading.Event()
    # Seeking maps decoded timestamps back to frame indices: only when they increase.
    seek_times = frame_times if np.all(np.diff(frame_times) > 0) else None
    with progress_bar(config, "landmarks", last + 1) as bar:

        def frames_between(first: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
            for index, _, image in reader.frames(first, stop, seek_times, prefetch=2):
                if interrupted.is_set():
                    return
                bar.update(1)
                yield index, image

        try:
            out = estimate_landmarks_parallel(
                frames_between, boxes, config.landmarks, range_workers(config), min_frames=int(2 * reader.fps)
            )
        except BaseException:
            interrupted.set()
            raise
    timer.add("landmarks", time.perf_counter() - start, last + 1)
    if cache is not None:
        arrays = {"track_ids": np.asarray(sorted(out), dtype=np.int64)}
        for t, lm in out.items():
            for k in TrackLandmarks.ARRAYS:
                arrays[f"{t}/{k}"] = getattr(lm, k)
        save_npz(cache, arrays)
    return out


@torch.no_grad()
def resnet_stage(
    reader: VideoReader,
    boxes: dict[int, tuple[np.ndarray, np.ndarray]],
    backbone: torch.nn.Module,
    device: torch.device,
    config: DemoConfig,
    timer: StageTimer,
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

    for frame_id, image in stage_frames(reader, config, "crops+resnet"):
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


@torch.no_grad()
def regress_features(
    model, features: torch.Tensor, windows: WindowConfig | None, batch_frames: int = 256
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-frame features ``(n, F)`` → ``pose_rotmat (n, J, 3, 3)``, ``shape (n, S)``, ``cam (n, 3)`` (CPU).

    The temporal encoder runs in the demo's ``windows``, or on every frame alone
    (None: the GRU from its zero state each frame, the per-frame baseline of
    :mod:`vibe.evaluation.track_regression`). Features ``(2, n, F)`` (the track
    and its mirror image, :func:`track_features` with ``mirrored``): the mirror's
    answer is mirrored back and the two averaged.
    """
    if features.dim() == 3:
        answer, mirror_answer = (regress_features(model, f, windows, batch_frames) for f in features)
        return average_with_mirror(answer, mirror_answer, model.body.joint_names)
    if not model.config.temporal:
        encoded = features
    elif windows is None:
        encoded = model.encoder(features[:, None])[:, 0]  # n windows of one frame
    else:
        encoded = encode_in_windows(model.encoder, features, windows)
    poses, shapes, cams = [], [], []
    for chunk in encoded.split(batch_frames * 8):
        out = model.regressor(chunk)
        poses.append(out.pose_rotmat.cpu())
        shapes.append(out.shape.cpu())
        cams.append(out.cam.cpu())
    return torch.cat(poses), torch.cat(shapes), torch.cat(cams)


@torch.no_grad()
def _pose_body(
    body, pose_rotmat: torch.Tensor, shape: torch.Tensor, keypoint_sets: tuple[str, ...], batch: int, vertices: bool
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Keypoints ``(n, K, 3)`` of each set (and vertices ``(n, V, 3)`` when asked) in batches, numpy float32."""
    device = body.device
    joints: list[list[np.ndarray]] = [[] for _ in keypoint_sets]
    verts = []
    for p, s in zip(pose_rotmat.split(batch), shape.split(batch)):
        posed = body(p.to(device, body.dtype), s.to(device, body.dtype))
        for out, name in zip(joints, keypoint_sets):
            out.append(body.keypoints(posed, name).float().cpu().numpy())
        if vertices:
            verts.append(posed.vertices.float().cpu().numpy())
    return [np.concatenate(j) for j in joints], (np.concatenate(verts) if vertices else None)


@torch.no_grad()
def keypoint_features(
    model, landmarks, boxes, feature_config: FeatureConfig, image_size, device, mirrored: bool = False
) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """Open stack, per track: landmarks → encoder input ``(n, K, 3)`` (the one shared map) → features ``(n, F)``.

    Returns ``(features, encoder_inputs)``; the inputs are also the crop keypoints refinement fits.
    ``mirrored``: features ``(2, n, F)`` (:func:`track_features`), which
    :func:`track_outputs` averages.
    """
    features, inputs = {}, {}
    for tid, (_, cxcys) in boxes.items():
        kp = keypoints_to_encoder_input(landmarks[tid].landmarks_img, cxcys, feature_config, image_size=image_size)
        world = None
        if model.config.keypoint_encoder.use_world:
            world = torch.as_tensor(landmarks[tid].world, dtype=torch.float32)
        features[tid] = track_features(model, kp, world, device, mirrored)
        inputs[tid] = kp
    return features, inputs


@torch.no_grad()
def track_features(
    model, kp: torch.Tensor, world: torch.Tensor | None, device=None, mirrored: bool = False
) -> torch.Tensor:
    """One track's encoder input ``(n, K, 3)`` and world landmarks ``(n, 33, 3)`` or None → features ``(n, F)``.

    ``mirrored``: ``(2, n, F)``, the second from the track's mirror image (its
    landmarks in the box square and the world seen in the x = 0 mirror).
    """
    features = _encode(model, kp, world, device)
    if not mirrored:
        return features
    world_m = None if world is None else mirror_points(world, BLAZEPOSE33)
    return torch.stack([features, _encode(model, mirror_points(kp, BLAZEPOSE33), world_m, device)])


def _encode(model, kp: torch.Tensor, world: torch.Tensor | None, device) -> torch.Tensor:
    """One track's encoder input ``(n, K, 3)`` and world landmarks ``(n, K, 3)`` or None → features ``(n, F)``."""
    device = device or torch.device("cpu")
    return model.encode_frames(kp[None].to(device), None if world is None else world[None].to(device))[0]


@dataclass(frozen=True)
class ImageGeometry:
    """Image size, the crop camera's box scale (its [-1, 1] spans ``box_scale`` × the box side), nominal focal."""

    width: int
    height: int
    box_scale: float
    focal_px: float


def track_outputs(
    model,
    features: torch.Tensor,
    frame_ids: np.ndarray,
    bbox_cxcys: np.ndarray,
    geometry: ImageGeometry,
    config: DemoConfig,
    keep_vertices: bool,
    landmarks_box: torch.Tensor | None = None,
    landmarks_world: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float] | None]:
    """One track's arrays (``results.npz`` keys, plus ``vertices`` or None) from its features ``(n, F)``
    (or ``(2, n, F)`` with the mirror image's, averaged: :func:`keypoint_features`).

    ``landmarks_box``: the open stack's ``(n, K, 3)`` detected landmarks in the
    crop camera's square (the encoder input), ``landmarks_world`` its ``(n, 33, 3)``
    world landmarks. With ``config.refine`` the network output is fitted to
    them first (:func:`~vibe.pipeline.track_fit.fit_to_landmarks`; the second
    value then holds the mean reprojection errors before and after, in pixels
    of the 224 crop); ``config.centred_sigma`` smooths the track and
    ``config.fit_camera`` re-fits the camera to them (:mod:`vibe.pipeline.track_fit`).
    """
    pose_rotmat, shape, cam = regress_features(model, features, config.windows, config.batch_frames)
    refinement = None
    if config.refine and landmarks_box is not None:
        pose_rotmat, shape, cam, refinement = fit_to_landmarks(
            model.body, pose_rotmat, shape, cam, landmarks_box.cpu(), landmarks_world, config.landmark_fit
        )
    if config.centred_sigma > 0:
        pose_rotmat, shape, cam = smooth_track(
            pose_rotmat, shape, cam, frame_ids, config.centred_sigma, config.centred_linear_edges
        )
    if config.smooth:
        pose_rotmat = one_euro_rotations(pose_rotmat, config.one_euro, times=frame_ids)
    # The camera is fitted with the keypoints the landmark fit uses (where BlazePose puts its landmarks).
    model_set = model.config.keypoint_set
    sets = (model_set, camera_keypoint_set(model.body, config.smplify.keypoint_set, model_set))
    (joints3d, landmark_points), vertices = _pose_body(
        model.body, pose_rotmat, shape, sets, config.batch_frames, keep_vertices
    )
    w, h = geometry.width, geometry.height
    box = np.concatenate([bbox_cxcys[:, :2], geometry.box_scale * bbox_cxcys[:, 2:3]], axis=1)
    cam_crop = cam.double().numpy()
    if config.fit_camera and landmarks_box is not None and landmark_points.shape[1] == landmarks_box.shape[1]:
        cam_crop = fit_track_camera(
            landmark_points, landmarks_box.numpy(), cam_crop, frame_ids, config.centred_sigma,
            linear_edges=config.centred_linear_edges,
        )  # fmt: skip
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
