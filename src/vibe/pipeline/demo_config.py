"""What a demo run is asked to do and what it reports: options, result, failures and exit codes.

:func:`vibe.pipeline.run.run_demo` takes a :class:`DemoConfig` and returns a
:class:`DemoResult`; a run that cannot go on raises a :class:`DemoError`
subclass whose ``exit_code`` the CLI returns and whose message is one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from vibe.body.keypoint_offsets import DETECTOR_SET
from vibe.data.features import FeatureConfig
from vibe.fitting.temporal_smplify import SMPLifyConfig
from vibe.pipeline.detector import DetectorConfig
from vibe.pipeline.frame_times import FrameTiming
from vibe.pipeline.label_swaps import SwapConfig
from vibe.pipeline.landmarks import LandmarkConfig
from vibe.pipeline.people import DetectionScheduleConfig
from vibe.pipeline.person_filter import BodyPresenceConfig
from vibe.pipeline.roi_tracking import RoiTrackingConfig
from vibe.pipeline.smoothing import OneEuroConfig
from vibe.pipeline.track_fit import LandmarkFit
from vibe.pipeline.tracker import TrackerConfig
from vibe.pipeline.windows import WindowConfig
from vibe.pipeline.world_config import WorldConfig

__all__ = [
    "REFERENCE_FPS",
    "at_frame_rate",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_VIDEO_UNREADABLE",
    "EXIT_MISSING_ASSETS",
    "EXIT_OUTPUT_NOT_WRITABLE",
    "EXIT_NO_WEIGHTS",
    "EXIT_INTERRUPTED",
    "DemoError",
    "VideoUnreadableError",
    "MissingAssetsError",
    "OutputNotWritableError",
    "NoTrainedWeightsError",
    "DemoConfig",
    "DemoResult",
]

# Exit codes of `vibe demo`.
EXIT_OK = 0
EXIT_USAGE = 2  # an invalid option value (typer/click's usage-error code)
EXIT_VIDEO_UNREADABLE = 3
EXIT_MISSING_ASSETS = 4
EXIT_OUTPUT_NOT_WRITABLE = 5
EXIT_NO_WEIGHTS = 6
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT), as shells report 128 + signal 2


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


# Tracks shorter than this still get bodies (the windows are padded); the tracker keeps
# them all and the body-presence rule, not a length, decides who is a person.
_DEMO_MIN_TRACK_S = 0.0
# The training motion's rate: the clean-up's per-frame settings (centred_sigma, the fit's
# temporal weights) were chosen on videos at this rate.
REFERENCE_FPS = 30.0


# Skeletons the exports can use (Anny's rigs; the first is the model's own).
EXPORT_RIGS = ("cmu_mb", "mixamo", "game_engine")


@dataclass
class DemoConfig:
    """Options of :func:`~vibe.pipeline.run.run_demo` (the CLI's flags map onto these).

    Attributes:
        stack: ``"open"`` (BlazePose landmarks → Anny, open weights) or
            ``"smpl"`` (ResNet-50 crops → released VIBE → SMPL; user files).
        checkpoint: open: one of our checkpoints (default: the installed open
            weights); smpl: the released ``vibe_model_w(o)_3dpw.pth.tar``
            (default: ``$VIBE_DATA_DIR/checkpoints/vibe_model_wo_3dpw.pth.tar``).
        ensemble: open stack: more of our checkpoints (same body model) run
            beside ``checkpoint``, their answers averaged
            (:class:`~vibe.models.ensemble.GeneratorEnsemble`).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
        smooth: One-Euro filter on the joint rotations (``one_euro``).
        centred_sigma: offline clean-up of each track (:mod:`vibe.pipeline.track_fit`):
            centred Gaussian smoothing of pose and crop camera, in frames of a
            :data:`REFERENCE_FPS` video (0: off; scaled to the video's rate by
            :func:`at_frame_rate`), and one body shape per track.
        centred_linear_edges: that smoothing follows a steady motion to the
            ends of a track (local linear weights) instead of trailing it there.
        fit_camera: open stack: re-fit each frame's crop camera so the body's
            landmarks land on the detected ones (the mesh sits on the person).
        fit_points: which landmarks the fit matches
            (:data:`~vibe.pipeline.track_fit.FIT_POINTS`: ``"core"``, ``"feet"``
            adds the heels and toes, ``"tips"`` the hand tips too, ``"all"``
            every point); the camera fit keeps to ``"core"``, the points whose
            place on a real body varies least (hands sign, feet wear shoes).
        fit_extra_weight: the fit's weight of the points beyond ``"core"``
            (their visibility scaled by it; 1: as the core points).
        flip_average: open stack: also run the network on each track's mirror
            image (landmarks flipped left/right) and average the two answers
            (the mirror's mirrored back) before the fit.
        refine: fit each track to its 2D and world landmarks after the network
            (:func:`~vibe.pipeline.track_fit.fit_to_landmarks`, settings in
            ``smplify``); ``None``: on for the open stack, off for the smpl stack
            (which has no landmarks to fit). Reprojection errors before/after go to ``meta.json``.
        render: write ``overlay.mp4`` (skipped with a warning when no OpenGL).
        side_view: also write ``side.mp4``.
        save_vertices: store vertices in ``results.npz``.
        export: any of ``"bvh"``, ``"gltf"``: one file per person.
        max_frames: read only the first frames (``None``: all; else ≥ 1).
        cache: reuse/save the detection and landmark stages in ``.cache/``.
        progress: tqdm progress bars.
        tracker: the tracker's options; the demo keeps tracks of any length
            (``min_track_s = 0``): a person seen on a single detector frame
            gets bodies, and :attr:`presence` rejects what is not a body.
        detection_schedule: on which frames and views the person detector
            runs (``people.DetectionScheduleConfig``; ``stride=1``,
            ``large_side=None``: every frame, every view). The detector looks
            at every frame while nobody is tracked, so a person on screen for
            a single frame is found; once someone is tracked, every 3rd frame
            (and every frame around unsure tracks), so a newcomer then needs
            to be on screen for up to 3 frames. Used only by the two-pass
            front end (``roi_tracking=None``).
        roi_tracking: the one-pass front end (:mod:`vibe.pipeline.roi_tracking`):
            each person followed by their landmark model's own ROI (frame
            t + 1's crop from frame t's landmarks), the detector every
            ``detect_every`` frames for newcomers and whenever a track is
            lost or nobody is tracked. None: the two-pass front end (the
            detector on ``detection_schedule``, then landmarks on the
            tracks' smoothed boxes).
        label_swaps: undo BlazePose's left/right label swaps over each track
            (:mod:`vibe.pipeline.label_swaps`: the torso turning 180° in a frame
            and back, an arm's or leg's labels jumping onto the other one)
            before the generator; None: landmarks as detected.
        presence: which tracks count as people, from their landmarks'
            visibility and coherence (:mod:`vibe.pipeline.person_filter`); on
            the smpl stack this runs the landmark pass for that alone.
        world: the world stage's options (:mod:`vibe.pipeline.world`: ground,
            metric depth, contacts; None: off, no world arrays).
        export_frame: ``"world"`` (y up, ground at 0, the world stage's root
            motion) or ``"camera"`` (the camera frame turned y up) for BVH / glb.
        rig: the skeleton of the exports (Anny's ``cmu_mb``, ``mixamo``,
            ``game_engine``; :mod:`vibe.export.rigs`); open stack only.
        nominal_focal_px: focal length for ``transl_cam`` and exports
            (``None``: ``max(W, H)``, ≈ 53° field of view).
        batch_frames: frames per batch of the regressor, body model, ResNet.
        workers: parallel threads of the detection and landmark passes
            (0: one per CPU core, at most 4); each takes a range of frames.
    """

    stack: Literal["open", "smpl"] = "open"
    checkpoint: Path | None = None
    ensemble: tuple[Path, ...] = ()
    device: str = "auto"
    smooth: bool = False
    one_euro: OneEuroConfig = field(default_factory=OneEuroConfig)
    centred_sigma: float = 3.0
    centred_linear_edges: bool = False  # measured neutral (docs/results.md): an option
    fit_camera: bool = True
    # The hand and foot tips at 0.6 of their visibility: lying 2D PCK 74.6 -> 77.2 (MediaPipe 78.6) and
    # PA-MPJPE12 -2.5 mm, the mesh on real clips unchanged (1.59 %); at full weight the rendered sets gain
    # a little more and real clips lose (1.66 %: real hands sign, real feet wear shoes). docs/results.md.
    fit_points: str = "tips"
    fit_extra_weight: float = 0.6
    # With label_swaps (below): PA-MPJPE12 -1.2 / -0.9 / -0.05 mm on HDM05 / lying / CMU (docs/results.md).
    flip_average: bool = True
    refine: bool | None = None
    # The 3D term's weight and the steps were chosen on training-subject renders
    # (benchmarks/tune_cleanup.py). 6 L-BFGS steps since the front end's faster start: 31 fps at 720p
    # (benchmarks/bench_demo.py), mesh on real clips 1.59 -> 1.46 % of the box (docs/results.md).
    # A lighter pose prior than SPIN's 4.78² lets the body follow the landmarks: mesh on real clips
    # 2.16 -> 1.95 % of the box, PA-MPJPE12 -1.4 mm on held-out CMU, neutral on HDM05 (docs/results.md).
    # The fit's keypoints are where BlazePose puts its landmarks (vibe.body.keypoint_offsets): mesh on real
    # clips 1.72 -> 1.56 % of the box, PA-MPJPE12 -0.6/-0.8/-0.6 mm on CMU/HDM05/lying (docs/results.md).
    smplify: SMPLifyConfig = field(
        default_factory=lambda: SMPLifyConfig(
            keypoint_set=DETECTOR_SET, world_weight=1e4, num_steps=6, pose_prior_weight=5.0
        )
    )
    render: bool = True
    side_view: bool = False
    save_vertices: bool = False
    export: tuple[str, ...] = ()
    max_frames: int | None = None
    cache: bool = True
    progress: bool = True
    detector: DetectorConfig = field(default_factory=lambda: DetectorConfig(min_score=TrackerConfig().low_score))
    tracker: TrackerConfig = field(default_factory=lambda: TrackerConfig(min_track_s=_DEMO_MIN_TRACK_S))
    # Detector on every 3rd frame (every frame around unsure tracks), tiles skipped while
    # everyone tracked is large: 4-5x faster detection, same tracks on the bundled clips.
    # Every frame while nobody is tracked, so a person on screen for one frame is seen
    # (people_walking, which has empty stretches: detection 75 -> 56 fps, end to end -8 %).
    detection_schedule: DetectionScheduleConfig = field(
        default_factory=lambda: DetectionScheduleConfig(stride=3, large_side=0.45, every_frame_when_empty=True)
    )
    roi_tracking: RoiTrackingConfig | None = field(default_factory=RoiTrackingConfig)
    box_window_s: float = 0.5
    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    presence: BodyPresenceConfig = field(default_factory=BodyPresenceConfig)
    # BlazePose's left/right swaps undone, with flip_average: PA-MPJPE12 -4.2 / -2.4 / -0.8 mm and 2D PCK
    # +1.3 / +4.4 / +2.2 on HDM05 / lying / CMU, better on 21 of 23 HDM05 videos (docs/results.md).
    label_swaps: SwapConfig | None = field(default_factory=SwapConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)
    smpl_crop_scale: float = 1.1
    nominal_focal_px: float | None = None
    world: WorldConfig | None = field(default_factory=WorldConfig)
    export_frame: Literal["world", "camera"] = "world"
    rig: str = "cmu_mb"
    batch_frames: int = 64
    workers: int = 0

    def __post_init__(self) -> None:
        if self.stack not in ("open", "smpl"):
            raise ValueError(f"stack must be 'open' or 'smpl', got {self.stack!r}")
        if self.refine is None:
            self.refine = self.stack == "open"
        if self.refine and self.stack != "open":
            raise ValueError("refine fits 2D landmarks, which only the open stack detects")
        unknown = set(self.export) - {"bvh", "gltf"}
        if unknown:
            raise ValueError(f"unknown export format(s) {sorted(unknown)}; use bvh, gltf")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be at least 1 (or None: all), got {self.max_frames}")
        if self.workers < 0:
            raise ValueError(f"workers must be 0 (one per core) or more, got {self.workers}")
        if self.batch_frames < 1:
            raise ValueError(f"batch_frames must be at least 1, got {self.batch_frames}")
        if self.nominal_focal_px is not None and not self.nominal_focal_px > 0:
            raise ValueError(f"nominal_focal_px must be positive, got {self.nominal_focal_px}")
        if self.export_frame not in ("world", "camera"):
            raise ValueError(f"export_frame must be 'world' or 'camera', got {self.export_frame!r}")
        if self.rig not in EXPORT_RIGS:
            raise ValueError(f"rig must be one of {', '.join(EXPORT_RIGS)}, got {self.rig!r}")
        if self.rig != EXPORT_RIGS[0] and self.stack != "open":
            raise ValueError("other rigs retarget Anny's skeleton: open stack only")

    @property
    def landmark_fit(self) -> LandmarkFit | None:
        """The landmark fit's settings, points and weights together (None: ``refine`` off)."""
        return LandmarkFit(self.smplify, self.fit_points, self.fit_extra_weight) if self.refine else None


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
        rejected: candidate tracks that were not people: track id → reason.
        message: one line for the user (e.g. that no person was found).
        warnings: things skipped or wrong in the input (rendering unavailable,
            a truncated file), one line each.
        timings: stage → ``{"seconds", "frames", "fps"}``.
        timing: the video's true frame timing (from the decoded timestamps).
        frames_read: frames decoded by the first pass.
        refinements: per track, the reprojection errors before/after refinement.
        world: the world stage's ``meta.json`` entry (None: not run).
    """

    out_dir: Path
    results: Path
    meta: Path
    overlay: Path | None = None
    side: Path | None = None
    vibe_output: Path | None = None
    exports: list[Path] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    timing: FrameTiming | None = None
    frames_read: int = 0
    refinements: dict[int, dict[str, float]] = field(default_factory=dict)
    world: dict | None = None


def at_frame_rate(config: DemoConfig, fps: float) -> DemoConfig:
    """``config`` with its per-frame clean-up settings rescaled from :data:`REFERENCE_FPS` to ``fps``.

    The same motion moves ``REFERENCE_FPS / fps`` times farther per frame at a lower
    rate: the smoothing's σ (frames) scales with ``r = fps / REFERENCE_FPS`` so it
    spans the same time, and the fit's first-difference terms with ``r²`` so they
    weigh the same against the per-frame data terms (a 10 fps clip smoothed over 3
    frames would blur 0.3 s of motion and lag where a track starts or ends).
    Unchanged for an unknown or non-positive rate.
    """
    if not fps or not fps > 0:
        return config
    r = fps / REFERENCE_FPS
    fit = config.smplify
    smplify = replace(
        fit, joints_smooth_weight=fit.joints_smooth_weight * r * r, pose_smooth_weight=fit.pose_smooth_weight * r * r
    )
    return replace(config, centred_sigma=config.centred_sigma * r, smplify=smplify)
