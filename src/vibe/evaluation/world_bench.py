"""The world benchmark: rendered videos from static cameras, scored in the world as WHAM scores.

:func:`make_world_benchmark` renders one video per :data:`WORLD_SCENES` entry
(held-out CMU clips of subjects 02 and 49 through Anny, like ``vibe eval
make-synthetic``, :func:`vibe.evaluation.synthetic_make.render_video`) from a
static camera (no pan) at the scene's height, looking at the person (so a
high camera looks down, a low one up), the floor at the soles' height; the
ground truth holds the world joints, root and camera pose.

:func:`run_world_benchmark` runs the demo on each and scores its longest
track (:mod:`vibe.evaluation.world_metrics`) twice: the world output
(``joints3d_world``, the world stage) and the camera-frame output
(``joints3d + transl_cam``), on the 12 limb keypoints (shoulders, elbows,
wrists, hips, knees, ankles); the root is the mid-hip; feet are the mean of
heel and toe keypoints; true contacts: a foot within 5 cm of its lowest
height in the clip (heel and toe keypoints sit above the sole) and slower
than 0.2 m/s. Also the ground: the angle between the estimated and
true floor normals, and the error of the camera's height above the floor.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from vibe.body.anny import BLAZEPOSE33
from vibe.evaluation import world_metrics as wm

__all__ = ["WorldScene", "WORLD_SCENES", "WORLD_SCENES_HELDOUT", "make_world_benchmark", "run_world_benchmark",
           "score_world_video", "table"]  # fmt: skip

log = logging.getLogger(__name__)

LIMBS12 = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
           "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip


@dataclass(frozen=True)
class WorldScene:
    """One rendered video: a CMU clip, its length and the camera's height above the floor.

    ``still``: the clip's first frame held for the whole video (a person standing
    perfectly still: any root motion of the estimate is drift).
    """

    name: str
    clip: str
    seconds: float
    camera_height_m: float
    still: bool = False


WORLD_SCENES: tuple[WorldScene, ...] = (
    WorldScene("stand_10s", "02_10", 10.0, 1.2),  # wash self: standing in place
    WorldScene("walk_low", "49_01", 4.0, 0.6),
    WorldScene("walk_high", "02_01", 2.8, 2.6),
    WorldScene("jump", "02_04", 4.0, 1.6),
    WorldScene("hop", "49_02", 4.0, 1.0),
    WorldScene("balance", "49_19", 4.0, 2.0),
    WorldScene("still_10s", "02_10", 10.0, 1.4, still=True),
)

# Held out from the world stage's development (other clips, camera heights; render them with another seed).
WORLD_SCENES_HELDOUT: tuple[WorldScene, ...] = (
    WorldScene("wash_09", "02_09", 5.0, 1.8),  # wash self: standing in place
    WorldScene("handstand_07", "49_07", 3.9, 2.2),  # gymnastics: the body upside down at times
    WorldScene("walk_02", "02_02", 2.5, 0.9),
    WorldScene("idle_10", "49_10", 4.0, 3.0),
    WorldScene("floor_21", "49_21", 4.0, 1.5),  # dance: down on the floor and up again
)


def _static_camera_config(size: tuple[int, int], height_m: float):
    from vibe.data.synthetic import SyntheticConfig

    return SyntheticConfig(image_sizes=(size,), distance_m=(3.5, 6.0), camera_height_m=(height_m, height_m),
                           pan_std_deg_s=0.0, roll_std_deg=2.0, center_offset=(0.3, 0.2), min_in_view=0.97,
                           max_camera_tries=30)  # fmt: skip


def make_world_benchmark(out_dir: str | Path, seed: int = 0, size: tuple[int, int] = (640, 360),
                         names: tuple[str, ...] | None = None,
                         scenes: tuple[WorldScene, ...] = WORLD_SCENES) -> list[Path]:  # fmt: skip
    """Render ``scenes`` (:data:`WORLD_SCENES` or :data:`WORLD_SCENES_HELDOUT`; only those ``names``) into
    ``out_dir`` (``<name>.mp4/.npz/.json``, the make-synthetic layout); returns the mp4s. Each scene's
    camera, body and look derive from ``(seed, its index in scenes)``, so a scene rendered alone is the
    same video."""
    from vibe.body.anny import Anny
    from vibe.body.sparse_keypoints import SparseKeypoints
    from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB
    from vibe.data.synthetic import SyntheticGenerator
    from vibe.evaluation.synthetic_make import render_video

    body = Anny()
    db = MotionDB.load(str(resources.files("vibe") / "resources" / "motion" / "cmu_anny.npz"))
    db = db.split(VALIDATION_SUBJECTS)
    keypoints = SparseKeypoints(body, ("blazepose33", "eval14"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, scene in enumerate(scenes):
        if names is not None and scene.name not in names:
            continue
        clip = db.select([int(np.flatnonzero(db.clip_name == scene.clip)[0])])
        if scene.still:
            clip = dataclasses.replace(clip, quat_xyzw=np.repeat(clip.quat_xyzw[:1], len(clip.quat_xyzw), 0),
                                       root_transl=np.repeat(clip.root_transl[:1], len(clip.root_transl), 0))  # fmt: skip
        generator = SyntheticGenerator(keypoints, _static_camera_config(size, scene.camera_height_m))
        written.append(render_video(clip, body, generator, out / scene.name, index, seed, scene.seconds,
                                    floor_from_mesh=True))  # fmt: skip
    return written


# --------------------------------------------------------------------------- scoring
def _indices(names: tuple[str, ...]) -> list[int]:
    return [BLAZEPOSE33.index(n) for n in names]


def _feet(points: np.ndarray) -> np.ndarray:
    """``(T, 2, 3)`` left and right foot points (mean of heel and toe) of BlazePose-33 points ``(T, 33, 3)``."""
    return np.stack([points[:, _indices((f"{s}_heel", f"{s}_foot_index"))].mean(1) for s in ("left", "right")], 1)


def _mid_hip(points: np.ndarray) -> np.ndarray:
    return points[:, _indices(("left_hip", "right_hip"))].mean(1)


def _motion_metrics(pred: np.ndarray, gt: np.ndarray, contacts: np.ndarray, fps: float) -> dict[str, float]:
    """The chunked errors, root, sliding and jitter of predicted BlazePose-33 points ``(T, 33, 3)`` (any frame)."""
    limbs = _indices(LIMBS12)
    return {
        "w_mpjpe_mm": 1000 * wm.w_mpjpe(pred[:, limbs], gt[:, limbs]),
        "wa_mpjpe_mm": 1000 * wm.wa_mpjpe(pred[:, limbs], gt[:, limbs]),
        "rte_pct": wm.root_trajectory_error(_mid_hip(pred), _mid_hip(gt)),
        "root_drift_cm": 100 * wm.root_drift(pred[:, limbs], gt[:, limbs], _mid_hip(pred), _mid_hip(gt)),
        "foot_sliding_cm": 100 * wm.foot_sliding(_feet(pred), contacts),
        "jitter_m_s3": wm.jitter(pred[:, limbs], fps),
    }


def _ground_metrics(world: dict[str, np.ndarray], gt) -> dict[str, float]:
    """Angle (degrees) between the estimated and true up directions in the camera frame; camera height error (cm)."""
    up_pred = world["R_world_cam"][1]  # the world's y axis in camera coordinates
    up_true = gt["cam_rotmat"][0][:, 1]
    centre = -gt["cam_rotmat"][0].T @ gt["cam_transl"][0]
    return {
        "ground_angle_deg": float(np.degrees(np.arccos(np.clip(up_pred @ up_true, -1.0, 1.0)))),
        "ground_height_err_cm": float(100 * (world["cam_position"][1] - (centre[1] - float(gt["floor_y"])))),
        "camera_height_m": float(centre[1] - float(gt["floor_y"])),
    }


def body_height_m(body, shape: np.ndarray) -> float:
    """Standing height (m) of the body model with ``shape`` ``(S,)``: the rest mesh's vertical extent."""
    import torch

    with torch.no_grad():
        out = body(body.rest_pose(1), torch.as_tensor(np.asarray(shape), dtype=body.dtype).reshape(1, -1))
    heights = out.vertices[0, :, 1]
    return float(heights.max() - heights.min())


def _scale_metrics(world_metrics: dict, body, predicted_shape: np.ndarray, gt) -> dict[str, float]:
    """The body's height error (%) and the camera-height error (cm) were the body's height right.

    Depth from body size scales the whole scene with the estimated body height,
    so ``camera height × true / estimated body height`` separates that scale from the geometry.
    """
    ratio = body_height_m(body, predicted_shape) / body_height_m(body, gt["shape"])
    estimated = world_metrics["camera_height_m"] + world_metrics["ground_height_err_cm"] / 100.0
    true_height = world_metrics["camera_height_m"]
    return {"body_height_err_pct": 100.0 * (ratio - 1.0),
            "ground_height_err_rescaled_cm": 100.0 * (estimated / ratio - true_height)}  # fmt: skip


def score_world_video(results_npz: Path, gt_npz: Path, body=None) -> dict:
    """World and camera-frame metrics of the longest track of a demo run against the video's ground truth.

    With ``body`` (the body model) also the body-height error and the camera height rescaled by it.
    """
    from vibe.pipeline.outputs import read_results, read_world

    times, people = read_results(results_npz)
    world = read_world(results_npz)
    gt = dict(np.load(gt_npz))
    if not people:
        return {"n_frames": 0}
    p = max(people.values(), key=lambda q: len(q["frame_ids"]))
    fids = p["frame_ids"][p["frame_ids"] < len(gt["frame_ids"])]
    rows = np.arange(len(fids))
    fps = float(gt["fps"])
    truth = gt["keypoints3d_blazepose33_world"][fids]
    feet = _feet(truth)
    contacts = wm.ground_truth_contacts(feet, float(feet[..., 1].min()), fids / fps)
    world_pred = p["joints3d_world"][rows].astype(np.float64)
    camera_pred = (p["joints3d"][rows] + p["transl_cam"][rows, None]).astype(np.float64)
    pred_contact, both = p["foot_contact"][rows], contacts
    agree = float((pred_contact == both).mean())
    ground = _ground_metrics(world, gt)
    if body is not None:
        ground.update(_scale_metrics(ground, body, np.asarray(p["shape"]).mean(0), gt))
    return {
        "n_frames": int(len(fids)),
        "world": {**_motion_metrics(world_pred, truth, contacts, fps), **ground, "contact_agreement": agree},
        "camera": _motion_metrics(camera_pred, truth, contacts, fps),
        "true_contact_share": float(contacts.mean()),
    }  # fmt: skip


def with_true_focal(results_npz: Path, gt_npz: Path, out_npz: Path, body=None) -> Path:
    """``results.npz`` with the world stage run again for the video's true focal (as if the file said it)."""
    from vibe.body.anny import Anny
    from vibe.pipeline.outputs import read_results, write_results
    from vibe.pipeline.scene_lines import video_segments
    from vibe.pipeline.world import FocalEstimate, WorldConfig, world_stage

    times, people = read_results(results_npz)
    gt = np.load(gt_npz)
    width, height = (int(v) for v in gt["image_size"])
    focal = FocalEstimate(float(gt["focal_px"]), "metadata", (0.0, 0.0))
    config = WorldConfig()
    segments = video_segments(Path(gt_npz).with_suffix(".mp4"), people, times) if config.scene_lines else None
    world = world_stage(people, body or Anny(), "blazepose33", (width, height), times, focal,
                        float(max(width, height)), config, segments)  # fmt: skip
    return write_results(out_npz, times, people, world.arrays)


def run_world_benchmark(bench_dir: str | Path, out_json: str | Path, out_dir: str | Path | None = None) -> dict:
    """The demo (no rendering) on every video of ``bench_dir``, scored; JSON written to ``out_json`` and returned.

    Each video is scored with the demo's own focal (the prior: these files carry
    no focal metadata) and again with the world stage run for the true focal
    (``world_true_focal``), which separates the focal's error from the rest.
    """
    from vibe.body.anny import Anny
    from vibe.pipeline.demo_config import DemoConfig
    from vibe.pipeline.run import run_demo

    bench = Path(bench_dir)
    videos = sorted(bench.glob("*.mp4"))
    if not videos:
        raise FileNotFoundError(f"no video in {bench}")
    out = Path(out_dir) if out_dir else Path(out_json).parent / "demo"
    config = DemoConfig(render=False, progress=False)
    scored, body = [], Anny()
    for video in videos:
        result = run_demo(video, out, config)
        gt = video.with_suffix(".npz")
        row = {"video": video.stem, **score_world_video(result.results, gt, body)}
        if row.get("n_frames"):
            true_focal = with_true_focal(result.results, gt, result.out_dir / "results_true_focal.npz", body)
            row["world_true_focal"] = score_world_video(true_focal, gt, body)["world"]
        scored.append(row)
    summary = {"bench_dir": str(bench), "videos": scored, "created": _dt.datetime.now(_dt.timezone.utc).isoformat()}
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


_COLUMNS = (("w_mpjpe_mm", "W-MPJPE mm", 0), ("wa_mpjpe_mm", "WA-MPJPE mm", 0), ("rte_pct", "RTE %", 1),
            ("root_drift_cm", "root drift cm", 1), ("foot_sliding_cm", "foot sliding cm/frame", 2),
            ("jitter_m_s3", "jitter m/s³", 0))  # fmt: skip


_GROUND = (("ground_angle_deg", "ground °", 1), ("ground_height_err_cm", "height cm", 1),
           ("body_height_err_pct", "body height %", 1),
           ("ground_height_err_rescaled_cm", "height at true body size cm", 1))  # fmt: skip


def table(summary: dict) -> str:
    """A markdown table: per video, the world output, the camera-frame output, and the ground errors."""
    labels = [label for _, label, _ in _COLUMNS + _GROUND]
    head = "| video | output | " + " | ".join(labels) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for v in summary["videos"]:
        if not v.get("n_frames"):
            lines.append(f"| {v['video']} | nobody found |" + " |" * len(labels))
            continue
        for output in ("world", "world_true_focal", "camera"):
            m = v[output]
            cells = [_fmt(m[k], digits) for k, _, digits in _COLUMNS]
            ground = [_fmt(m.get(k), digits) for k, _, digits in _GROUND]
            lines.append(f"| {v['video']} | {_LABELS[output]} | " + " | ".join(cells + ground) + " |")
    return "\n".join(lines)


_LABELS = {"world": "world, prior focal", "world_true_focal": "world, true focal", "camera": "camera frame"}


def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"
