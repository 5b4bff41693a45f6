"""What the landmark detector sees of a synthetic window: the person box and noisy landmarks.

:func:`person_boxes` imitates the demo's person box, :class:`LandmarkNoise`
turns clean landmarks into MediaPipe look-alikes; every level is a field of
:class:`~vibe.data.synthetic.config.SyntheticConfig`.

Noise model (all levels in :class:`SyntheticConfig`; image noise is in units of
the box side, since MediaPipe sees every person through a fixed-resolution crop):

- a per-window 3D offset of every landmark (metres; hips larger), covering the
  systematic difference between MediaPipe's landmark definitions and Anny's
  mesh keypoints (see "Sim-to-real" below);
- per-frame Gaussian jitter with std ``side × (jitter_std × group factor +
  jitter_speed_gain × speed)``, ``speed`` in box sides per second (motion blur
  and MediaPipe's lag make fast limbs less precise); face points are more
  precise, hands and feet less;
- visibility of plain points per landmark group (face, body, hands, feet),
  ``u^(1/α)`` with ``u`` uniform per window and landmark (a Beta(α, 1) draw:
  median ``0.5^(1/α)``) plus a little per-frame variation; low visibility
  adds jitter (``low_visibility_noise_gain``); points more than
  ``self_occlusion_depth_m`` behind the torso get lower visibility and more
  jitter (a cheap stand-in for self-occlusion without rendering);
- occluding rectangles (moving across the window): points inside get low
  visibility and ``occluded_noise_factor`` × the jitter;
- random dropouts (visibility 0) and lost frames (NaN, visibility 0, as the
  demo stores frames without a pose);
- left/right swaps of the arms, the legs or the whole body for a few frames;
- truncation: points outside the image get visibility 0 (in ``features``).

Sim-to-real. MediaPipe's 33 points are not Anny's mesh keypoints: BlazePose
was trained on its own annotations (COCO-like for the 17 shared points, ad hoc
for the rest), so its hips sit where a human annotator puts them (not the
anatomical joint, and not exactly anny's COCO regressor), its hand points
(pinky, index, thumb) are coarse hand extremities, its heel/toe points depend
on shoes, and its visibility is a learned score, not geometric. The gap is a
mostly systematic per-person offset of a few centimetres per point plus noise
that grows with speed, occlusion and distance from the torso. Measured on
``assets/pose_1.mp4`` (MediaPipe world landmarks vs Anny bodies of the shape
prior, as ratios to the shoulder width, which agrees within 3 %): MediaPipe's
hips are ~15 % wider apart, its hand points sit ~40 % closer to the wrist
(6 vs 11 cm for the index), its heel and toe ~40 % closer to the ankle and
heel (foot 14.5 vs 24 cm); ears, torso and limb lengths agree within ~10 %.
What covers it here: per-window redefinitions (``hand_scale``,
``foot_scale``, ``hip_width_scale``, spanning Anny's definition and the
measured one, applied to the inputs only: the targets keep Anny's keypoints,
which the generator outputs), per-window 3D offsets (hips doubled), the
group-dependent jitter, the visibility model and the left/right swaps. What
does not: appearance (clothing, loose garments move the hips and the ankles),
MediaPipe's pose-dependent systematic errors and depth confusions
(front/back flips), its ROI tracking lag, and the distribution of real camera
motion. World landmarks are the weakest part: MediaPipe's scale and depth are
guesses, hence the per-window scale error and the larger depth noise.

Calibration. ``benchmarks/bench_synthetic.py --compare-video VIDEO`` runs the
demo's detector, tracker and MediaPipe on a video and prints the same
statistics for its tracks and for synthetic windows. On the bundled clips
(``assets/pose_1.mp4`` at 30 fps, ``assets/people_walking.mp4`` at 10 fps) the
detector's body radius is 0.90–1.03 × the landmarks' largest distance from the
mid-hip (default factor 0.88–1.15), the box centre sits 0.02–0.05 box sides
from the landmark mid-hip (synthetic 0.035), the high-frequency landmark
residual is 0.002 (30 fps) to 0.009–0.015 (10 fps, including real motion)
box sides (synthetic 0.011, with fast random test motion), and the median
visibility of in-image points is ≈ 1.0 face, 0.99 arms and legs, 0.9–0.96
feet and 0.1–0.93 hands (synthetic 0.995, 0.97, 0.83, 0.69). MediaPipe gives
out-of-image points visibilities of 0.3–0.9, which is why ``features`` drops
them in both paths. Two short clips are thin evidence: re-run on videos
like the target use before trusting small errors.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from vibe.body.anny import BLAZEPOSE33
from vibe.data.synthetic.cameras import Cameras, project, rotation_to
from vibe.data.synthetic.config import SyntheticConfig
from vibe.data.synthetic.landmarks import (
    EXTREMITIES, FACE, FEET, HANDS, HIPS, INDEX, SWAP_GROUPS, TORSO, swap_permutation,
)
from vibe.geometry.crops import smooth_square_boxes

__all__ = ["person_boxes", "LandmarkNoise"]


def person_boxes(rng: np.random.Generator, pixels: np.ndarray, cfg: SyntheticConfig) -> np.ndarray:
    """The demo's person box ``(B, T, 3)`` (cx, cy, side) for clean landmark pixels ``(B, T, K, 2)``.

    The BlazePose detector regresses the mid-hip and a point on the circle
    around the body; the demo's box is that circle's square, enlarged by
    ``roi_scale``, smoothed over time by ``smooth_square_boxes``.
    """
    batch, num_frames = pixels.shape[:2]
    mid_hip = pixels[:, :, HIPS].mean(2)  # (B, T, 2)
    radius = np.linalg.norm(pixels - mid_hip[:, :, None], axis=-1).max(-1)  # (B, T)
    radius = radius * rng.uniform(*cfg.body_radius_factor, size=(batch, 1))
    log_noise = rng.normal(0.0, cfg.box_log_size_bias_std, size=(batch, 1)) + rng.normal(
        0.0, cfg.box_log_size_std, size=(batch, num_frames)
    )
    half = cfg.roi_scale * radius * np.exp(log_noise)
    center_noise = rng.normal(0.0, cfg.box_center_bias_std, size=(batch, 1, 2)) + rng.normal(
        0.0, cfg.box_center_std, size=(batch, num_frames, 2)
    )
    center = mid_hip + center_noise * 2.0 * half[..., None]
    bbox_xyxy = np.concatenate([center - half[..., None], center + half[..., None]], axis=-1)
    frame_ids = np.arange(num_frames)
    boxes = np.empty((batch, num_frames, 3))
    for b in range(batch):
        _, boxes[b] = smooth_square_boxes(frame_ids, bbox_xyxy[b], cfg.fps, window_s=cfg.box_smoothing_s)
    return boxes


class LandmarkNoise:
    """The detector noise model of the module docstring, with its per-landmark levels precomputed.

    Args:
        config: the noise levels (the per-landmark ones are read here, the others at every call).
    """

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        k = len(BLAZEPOSE33)
        factor = np.ones(k)
        factor[FACE] = config.face_noise_factor
        factor[EXTREMITIES] = config.extremity_noise_factor
        self._noise_factor = factor
        offset = np.full(k, config.offset_std_m)
        offset[HIPS] *= config.hip_offset_factor
        self._offset_std = offset
        self._swaps = [swap_permutation(parts) for parts in SWAP_GROUPS.values()]
        alpha = np.full(k, config.visibility_alpha_body)
        alpha[FACE] = config.visibility_alpha_face
        alpha[HANDS] = config.visibility_alpha_hands
        alpha[FEET] = config.visibility_alpha_feet
        self._visibility_alpha = alpha

    def detect(
        self, rng: np.random.Generator, kp_cam: np.ndarray, pixels: np.ndarray, bbox: np.ndarray, cams: Cameras
    ) -> tuple[np.ndarray, np.ndarray]:
        """Noisy landmarks ``(B, T, K, 3)`` (pixels + visibility) and world landmarks ``(B, T, K, 3)``.

        Args:
            kp_cam: ``(B, T, K, 3)`` clean landmarks, camera frame (metres).
            pixels: ``(B, T, K, 2)`` their projections; bbox: ``(B, T, 3)`` person boxes (cx, cy, side).
            cams: the windows' cameras.
        """
        cfg = self.config
        batch, num_frames, num_kp = pixels.shape[:3]
        side = bbox[..., 2][..., None]  # (B, T, 1)

        # Systematic definition differences (per window), then jitter.
        offset = rng.normal(size=(batch, 1, num_kp, 3)) * self._offset_std[:, None]
        points = self._redefine(rng, kp_cam) + offset
        shifted = project(points, cams.focal_px, cams.image_size)
        speed = np.linalg.norm(np.gradient(pixels, axis=1), axis=-1) * cfg.fps / side if num_frames > 1 else 0.0
        std = side * (cfg.jitter_std * self._noise_factor + cfg.jitter_speed_gain * speed)
        visibility = self._plain_visibility(rng, batch, num_frames)
        std = std * (1.0 + cfg.low_visibility_noise_gain * (1.0 - visibility))

        torso_depth = kp_cam[:, :, TORSO, 2].mean(-1, keepdims=True)
        behind = kp_cam[..., 2] - torso_depth > cfg.self_occlusion_depth_m
        std = np.where(behind, std * cfg.self_occluded_noise_factor, std)
        visibility = np.where(behind, rng.uniform(*cfg.self_occluded_visibility, size=visibility.shape), visibility)

        occluded = self._occluded(rng, pixels, bbox)
        std = np.where(occluded, std * cfg.occluded_noise_factor, std)
        visibility = np.where(occluded, rng.uniform(*cfg.occluded_visibility, size=visibility.shape), visibility)

        noisy = shifted + rng.normal(size=shifted.shape) * std[..., None]
        visibility = np.where(rng.random(visibility.shape) < cfg.dropout_prob, 0.0, visibility)

        world = self._world_landmarks(rng, points)

        landmarks = np.concatenate([noisy, visibility[..., None]], axis=-1)
        landmarks, world = self._swap_sides(rng, landmarks, world)
        lost = rng.random((batch, num_frames)) < cfg.frame_dropout_prob
        landmarks[lost] = np.nan
        landmarks[..., 2][lost] = 0.0
        world[lost] = np.nan
        return landmarks, world

    def _world_landmarks(self, rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
        """MediaPipe-style world landmarks ``(B, T, K, 3)`` of camera-frame points ``(B, T, K, 3)``.

        Hip-centred, in ray axes (``world_ray_axes``), turned by a per-window
        rotation error, scaled, offset per window and landmark, jittered per frame.
        """
        cfg = self.config
        batch, num_frames, num_kp = points.shape[:3]
        mid_hip = points[:, :, HIPS].mean(2, keepdims=True)
        rel = points - mid_hip
        if cfg.world_ray_axes:  # R_rayᵀ takes the ray to the mid-hip onto the optical axis
            ray = rotation_to(mid_hip[:, :, 0].reshape(-1, 3)).reshape(batch, num_frames, 3, 3)
            rel = np.einsum("btji,btkj->btki", ray, rel)
        turn_rotvec = np.deg2rad(rng.normal(0.0, cfg.world_rotation_std_deg, size=(batch, 3)))
        turn = Rotation.from_rotvec(turn_rotvec).as_matrix()
        rel = np.einsum("bij,btkj->btki", turn, rel)
        scale = np.exp(rng.normal(0.0, cfg.world_scale_log_std, size=(batch, 1, 1, 1)))
        bias = rng.normal(size=(batch, 1, num_kp, 3)) * cfg.world_bias_std_m * np.array([1.0, 1.0, 2.0])
        world_std = np.array([cfg.world_std_m, cfg.world_std_m, cfg.world_depth_std_m])
        return rel * scale + bias + rng.normal(size=points.shape) * world_std

    def _redefine(self, rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
        """MediaPipe-like landmark definitions for Anny landmarks ``(B, T, K, 3)``, drawn per window.

        Hand points move toward the wrist (``hand_scale``), heel and toe toward
        the ankle (``foot_scale``), the hips apart about their midpoint
        (``hip_width_scale``); see the module docstring, "Sim-to-real".
        """
        cfg = self.config
        batch = points.shape[0]
        out = points.copy()

        def scale_about(indices: list[int], centre: np.ndarray, factor: np.ndarray) -> None:
            out[:, :, indices] = centre + factor[:, None, None, None] * (points[:, :, indices] - centre)

        hand, foot = rng.uniform(*cfg.hand_scale, size=batch), rng.uniform(*cfg.foot_scale, size=batch)
        for side in ("left", "right"):
            wrist, ankle = INDEX[f"{side}_wrist"], INDEX[f"{side}_ankle"]
            fingers = [INDEX[f"{side}_{p}"] for p in ("pinky", "index", "thumb")]
            scale_about(fingers, points[:, :, wrist : wrist + 1], hand)
            scale_about([INDEX[f"{side}_heel"], INDEX[f"{side}_foot_index"]], points[:, :, ankle : ankle + 1], foot)
        scale_about(HIPS, points[:, :, HIPS].mean(2, keepdims=True), rng.uniform(*cfg.hip_width_scale, size=batch))
        return out

    def _plain_visibility(self, rng: np.random.Generator, batch: int, num_frames: int) -> np.ndarray:
        """``(B, T, K)`` visibility of unoccluded landmarks: Beta(α, 1) per window and landmark, per-frame wiggle."""
        level = rng.random((batch, 1, len(BLAZEPOSE33))) ** (1.0 / self._visibility_alpha)
        wiggle = rng.normal(0.0, self.config.visibility_frame_std, size=(batch, num_frames, len(BLAZEPOSE33)))
        return np.clip(level + wiggle, 0.0, 1.0)

    def _occluded(self, rng: np.random.Generator, pixels: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        """``(B, T, K)`` bool: landmark inside a window's moving occluding rectangle (if it has one)."""
        cfg = self.config
        batch, num_frames = pixels.shape[:2]
        has = rng.random(batch) < cfg.occluder_prob
        side = bbox[:, :1, 2]  # (B, 1): the first frame's box side sets the scale
        half_size = rng.uniform(*cfg.occluder_size, size=(batch, 2)) * side / 2.0
        start = bbox[:, 0, :2] + rng.uniform(-0.4, 0.4, size=(batch, 2)) * side
        velocity = rng.uniform(-0.5, 0.5, size=(batch, 2)) * side / max(num_frames - 1, 1)
        center = start[:, None] + velocity[:, None] * np.arange(num_frames)[None, :, None]  # (B, T, 2)
        inside = (np.abs(pixels - center[:, :, None]) <= half_size[:, None, None]).all(-1)
        return inside & has[:, None, None]

    def _swap_sides(
        self, rng: np.random.Generator, landmarks: np.ndarray, world: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exchange left and right landmarks (a limb or the whole body) for a few frames of some windows."""
        cfg = self.config
        batch, num_frames = landmarks.shape[:2]
        swapped = rng.random(batch) < cfg.swap_prob
        group = rng.integers(len(self._swaps), size=batch)
        length = np.minimum(rng.integers(cfg.swap_frames[0], cfg.swap_frames[1] + 1, size=batch), num_frames)
        start = (rng.random(batch) * (num_frames - length + 1)).astype(int)
        for b in np.flatnonzero(swapped):
            frames = slice(start[b], start[b] + length[b])
            perm = self._swaps[group[b]]
            landmarks[b, frames] = landmarks[b, frames][:, perm]
            world[b, frames] = world[b, frames][:, perm]
        return landmarks, world
