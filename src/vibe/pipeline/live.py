"""``vibe live``: bodies from a camera, stream, pipe or played file, frame by frame, as JSON lines.

Per frame, causally (nothing waits for a later frame); the landmark models
run in a thread one frame ahead of the bodies, so the two use both cores:

    source (live_source.py: decoded in a thread; when behind, the oldest frame is dropped)
      → RoiFollower.step (roi_tracking.py: landmark models follow their ROIs,
        the detector every ``detect_every`` frames or when someone is lost)
      → per person: encoder input in the frame's own landmark box → per-frame features
      → CausalWindows.push (windows.py: the demo's cross-faded GRU windows,
        computed frame by frame; the GRU state is carried, never re-run)
      → regressor → body keypoints → camera fitted to this frame's landmarks
      → one JSON line on stdout (schema in docs/live.md)

No look-ahead and no centred smoothing (the offline demo's box smoothing,
Gaussian clean-up and end-aligned last window need later frames). Memory is
constant: the tracker forgets its history every ``forget_every`` frames, and
a person's landmark model and GRU states live only while they are tracked.
Open stack only (the smpl stack's ResNet-50 runs at ~12 crops/s on CPU).
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from vibe.body.keypoint_offsets import DETECTOR_SET
from vibe.data.features import FeatureConfig, keypoints_to_encoder_input
from vibe.geometry.cameras import crop_cam_to_image_cam, image_cam_to_pixels
from vibe.geometry.crops import bbox_xyxy_to_cxcys
from vibe.pipeline.background import prefetched
from vibe.pipeline.detector import DetectorConfig
from vibe.pipeline.landmarks import LandmarkConfig
from vibe.pipeline.live_source import LiveSource, SourceFrame
from vibe.pipeline.roi_tracking import PersonPose, RoiFollower, RoiTrackingConfig
from vibe.pipeline.stages import image_cam_to_translation
from vibe.pipeline.track_fit import camera_keypoint_set, fit_track_camera
from vibe.pipeline.tracker import TrackerConfig
from vibe.pipeline.windows import CausalWindows, WindowConfig

__all__ = ["LiveConfig", "LiveBodies", "LiveStats", "run_live", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LiveConfig:
    """Options of :func:`run_live`.

    Attributes:
        roi_tracking: the detector's schedule while landmark models follow people;
            without the demo's far tiles (a far pass is 21 detector views on one
            720p frame, a stall of a quarter second or more that a paced source
            pays in dropped frames; people near the camera are live's case).
        detector, tracker, landmarks, features, windows: as in the demo.
        fit_camera: fit each frame's crop camera to that frame's landmarks
            (the mesh sits on the person; per frame, no smoothing).
        nominal_focal_px: focal for ``transl_cam`` (None: ``max(W, H)``).
        max_frames: stop after this many processed frames (None: the source's end).
        forget_every: frames between two trims of the tracker's history.
        decimals: rounding of the JSON numbers.
    """

    roi_tracking: RoiTrackingConfig = field(default_factory=lambda: RoiTrackingConfig(far_tiles=None))
    detector: DetectorConfig = field(default_factory=lambda: DetectorConfig(min_score=TrackerConfig().low_score))
    tracker: TrackerConfig = field(default_factory=lambda: TrackerConfig(min_track_s=0.0))
    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)
    fit_camera: bool = True
    nominal_focal_px: float | None = None
    max_frames: int | None = None
    forget_every: int = 300
    decimals: int = 4


class LiveBodies:
    """The generator frame by frame: one :class:`CausalWindows` per person, dropped when they leave."""

    def __init__(self, model, device: torch.device, image_size: tuple[int, int], config: LiveConfig):
        self.model, self.device, self.config = model, device, config
        self.width, self.height = image_size
        self.focal_px = config.nominal_focal_px or float(max(image_size))
        self._windows: dict[int, CausalWindows] = {}
        # The camera is fitted with the points where BlazePose puts its landmarks, as the demo's:
        # both sets from one evaluation of the body.
        model_set = model.config.keypoint_set
        self._sets = (model_set, camera_keypoint_set(model.body, DETECTOR_SET, model_set))
        self._fast = model.fast_keypoints
        if self._fast is not None and self._sets[1] != model_set:
            self._fast = model.body.keypoint_evaluator(list(self._sets))

    @torch.no_grad()
    def person(self, track_id: int, pose: PersonPose) -> dict[str, np.ndarray]:
        """One person's body at this frame from their landmarks (arrays named as in ``results.npz``)."""
        model, cfg = self.model, self.config
        bbox_cxcys = bbox_xyxy_to_cxcys(pose.bbox_xyxy)
        size = (self.width, self.height)
        kp = keypoints_to_encoder_input(pose.landmarks_img[None], bbox_cxcys[None], cfg.features, size)  # (1, 33, 3)
        world = None
        if model.config.keypoint_encoder.use_world:
            world = torch.as_tensor(pose.world, dtype=torch.float32)[None, None].to(self.device)
        features = model.encode_frames(kp[None].to(self.device), world)[0, 0]  # (F,)
        if model.config.temporal:
            if track_id not in self._windows:
                self._windows[track_id] = CausalWindows(model.encoder, cfg.windows)
            features = self._windows[track_id].push(features)
        out = model.regressor(features[None])
        joints3d, points = self._keypoints(out.pose_rotmat, out.shape)  # (1, K, 3) each
        cam_crop = out.cam.double().cpu().numpy()
        if cfg.fit_camera and points.shape[1] == kp.shape[1]:
            cam_crop = fit_track_camera(points, kp.numpy(), cam_crop, np.zeros(1), sigma=0.0)
        box = np.array([[bbox_cxcys[0], bbox_cxcys[1], cfg.features.box_scale * bbox_cxcys[2]]])
        cam_image = crop_cam_to_image_cam(cam_crop, box, self.width, self.height)
        return {
            "bbox_cxcys": bbox_cxcys,
            "pose_rotmat": out.pose_rotmat[0].cpu().numpy(),
            "shape": out.shape[0].cpu().numpy(),
            "cam_image": cam_image[0],
            "transl_cam": image_cam_to_translation(cam_image, self.width, self.focal_px)[0],
            "joints3d": joints3d[0],
            "joints2d_img": image_cam_to_pixels(joints3d.astype(np.float64), cam_image, self.width, self.height)[0],
        }

    def _keypoints(self, pose_rotmat: torch.Tensor, shape: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(1, K, 3)`` keypoints of the model's set and of the camera's (the mesh-free path when there is one)."""
        if self._fast is not None:
            keypoints = self._fast(pose_rotmat, shape).keypoints
        else:
            body = self.model.body
            posed = body(pose_rotmat.to(body.dtype), shape.to(body.dtype))
            keypoints = {name: body.keypoints(posed, name) for name in set(self._sets)}
        model_points, camera_points = (keypoints[name].double().cpu().numpy() for name in self._sets)
        return model_points, camera_points

    def keep_only(self, track_ids: set[int]) -> None:
        """Forget the GRU states of people no longer tracked."""
        for tid in [t for t in self._windows if t not in track_ids]:
            del self._windows[tid]


@dataclass
class LiveStats:
    """What a live run did: frames processed and dropped, the latency (ms) of the last 9000 processed frames.

    ``wall_s`` runs from the first frame's arrival to the last line (loading is not counted).
    """

    processed: int = 0
    dropped: int = 0
    latency_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=9000))
    wall_s: float = 0.0

    def summary(self) -> dict:
        lat = np.asarray(self.latency_ms) if self.latency_ms else np.zeros(1)
        return {
            "type": "end", "frames": self.processed, "dropped": self.dropped, "wall_s": round(self.wall_s, 3),
            "fps": round(self.processed / max(self.wall_s, 1e-9), 2),
            "latency_ms": {"median": round(float(np.median(lat)), 2), "p95": round(float(np.percentile(lat, 95)), 2),
                           "max": round(float(lat.max()), 2)},
        }  # fmt: skip


def _rounded(value, decimals: int):
    """Arrays → nested lists of rounded floats (JSON)."""
    return np.round(np.asarray(value, dtype=np.float64), decimals).tolist()


def frame_record(frame: SourceFrame, people: dict[int, dict], dropped: int, decimals: int) -> dict:
    """One frame's JSON object (docs/live.md), without ``latency_ms`` (stamped when written)."""
    import roma

    out = []
    for tid, p in sorted(people.items()):
        pose_aa = roma.rotmat_to_rotvec(torch.as_tensor(p["pose_rotmat"], dtype=torch.float64)).numpy()
        out.append({
            "id": int(tid), "bbox_cxcys": _rounded(p["bbox_cxcys"], 2), "pose_aa": _rounded(pose_aa, decimals),
            "shape": _rounded(p["shape"], decimals), "cam_image": _rounded(p["cam_image"], decimals),
            "transl_cam": _rounded(p["transl_cam"], decimals), "joints3d": _rounded(p["joints3d"], decimals),
            "joints2d_img": _rounded(p["joints2d_img"], 1),
        })  # fmt: skip
    return {"type": "frame", "frame": frame.index, "time_s": round(frame.time_s, 4), "dropped": dropped, "people": out}


def _followed(source: LiveSource, config: LiveConfig) -> Iterator[tuple[SourceFrame, dict[int, PersonPose], set[int]]]:
    """Each frame of ``source`` with the poses the landmark models found and the ids still tracked."""
    with RoiFollower(source.fps, config.roi_tracking, config.detector, config.tracker, config.landmarks) as follower:
        for count, frame in enumerate(source, start=1):
            poses = follower.step(frame.index, frame.image_rgb)
            yield frame, poses, set(follower.tracker.live_ids())
            if count % config.forget_every == 0:
                follower.tracker.forget_history()


def run_live(
    source: LiveSource,
    image_size: tuple[int, int],
    model,
    device: torch.device,
    write: Callable[[str], None],
    config: LiveConfig | None = None,
    header: dict | None = None,
) -> LiveStats:
    """Bodies for every frame ``source`` hands over, one JSON line each through ``write`` (module docstring).

    ``header``: extra fields for the first line (``"type": "stream"``). The
    last line is ``"type": "end"`` with :meth:`LiveStats.summary`.
    """
    config = config or LiveConfig()
    stats = LiveStats()
    bodies = LiveBodies(model, device, image_size, config)
    write(json.dumps({"type": "stream", "schema": SCHEMA_VERSION, "width": image_size[0], "height": image_size[1],
                      "fps": source.fps, "keypoint_set": model.config.keypoint_set, **(header or {})}))  # fmt: skip
    start = None  # the first frame's arrival: model and graph loading are not part of the rate
    followed = prefetched(lambda: _followed(source, config), depth=1)  # landmarks one frame ahead of the bodies
    try:
        for frame, poses, live_ids in followed:
            start = frame.arrival_s if start is None else start
            people = {tid: bodies.person(tid, pose) for tid, pose in poses.items()}
            bodies.keep_only(live_ids)
            record = frame_record(frame, people, source.dropped, config.decimals)
            record["latency_ms"] = round((time.perf_counter() - frame.arrival_s) * 1000.0, 2)
            write(json.dumps(record, separators=(",", ":")))
            stats.latency_ms.append(record["latency_ms"])
            stats.processed += 1
            if config.max_frames is not None and stats.processed >= config.max_frames:
                break
    finally:
        followed.close()
    stats.wall_s = time.perf_counter() - start if start is not None else 0.0
    stats.dropped = source.dropped
    write(json.dumps(stats.summary()))
    return stats


def live_main(
    source: str,
    checkpoint: str | None = None,
    device: str = "auto",
    realtime: bool = False,
    config: LiveConfig | None = None,
    queue_depth: int = 1,
) -> int:
    """What ``vibe live`` runs: JSON lines on stdout, log on stderr; returns the exit code.

    Exit codes as ``vibe demo``'s: 3 the source cannot be opened, 4/6 weights
    missing, 130 interrupted (the ``end`` line is still written).
    """
    from pathlib import Path

    from vibe.pipeline.demo_config import EXIT_INTERRUPTED, EXIT_VIDEO_UNREADABLE, DemoConfig, DemoError
    from vibe.pipeline.demo_model import build_model, default_open_weights
    from vibe.pipeline.live_source import open_source
    from vibe.pipeline.stages import resolve_device

    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:  # first, so a wrong source fails before the models load (decoding starts with the first frame asked)
        live_source, size = open_source(source, realtime=realtime, depth=queue_depth)
    except Exception as exc:  # av's and OpenCV's errors have no common base
        log.error("cannot open %s: %s", source, " ".join(str(exc).split()))
        return EXIT_VIDEO_UNREADABLE
    demo = DemoConfig(checkpoint=Path(checkpoint) if checkpoint else None, device=device)
    with live_source:
        try:
            torch_device = resolve_device(device)
            model, _ = build_model(demo, torch_device, default_open_weights())
        except DemoError as exc:
            log.error("%s", exc)
            return exc.exit_code
        try:
            run_live(live_source, size, model, torch_device, write, config, {"source": source})
        except KeyboardInterrupt:
            write(json.dumps({"type": "end", "interrupted": True, "dropped": live_source.dropped}))
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # the reader of stdout went away (e.g. `| head`): nothing left to do
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the interpreter's final flush is silent
    return 0
