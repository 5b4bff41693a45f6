"""Window assembly: :class:`SyntheticGenerator` turns motion windows into :class:`SyntheticBatch` es.

The steps (shape, camera, projection, person box, landmark noise, encoder
input, targets) are listed in :mod:`vibe.data.synthetic`; each lives in its own
module there, this one calls them in order and packs the result.

Determinism: all randomness comes from the ``numpy.random.Generator`` passed
to :meth:`SyntheticGenerator.generate`; the same seed gives the same batch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33
from vibe.body.keypoint_offsets import DETECTOR_SET
from vibe.body.sparse_keypoints import SparseKeypoints
from vibe.data.features import keypoints_to_encoder_input
from vibe.data.synthetic.cameras import fit_crop_camera, place_cameras, project, to_camera
from vibe.data.synthetic.config import SyntheticConfig
from vibe.data.synthetic.detector import LandmarkNoise, person_boxes
from vibe.data.synthetic.shapes import sample_phenotypes
from vibe.losses import GeneratorTargets

__all__ = ["SyntheticBatch", "SyntheticGenerator"]


@dataclasses.dataclass
class SyntheticBatch:
    """Generator inputs and targets for ``B`` windows of ``T`` frames (float32 tensors).

    Inputs:
        keypoints: ``(B, T, 33, 3)`` encoder input (box-normalised x, y, visibility).
        keypoints_world: ``(B, T, 33, 3)`` MediaPipe-style world landmarks
            (metres, origin mid-hip, camera axes: y down), NaN in lost frames.
        landmarks_img: ``(B, T, 33, 3)`` noisy landmarks in pixels + visibility (before ``features``).
        bbox_cxcys: ``(B, T, 3)`` the person box (pixels).
    Targets:
        pose_rotmat: ``(B, T, J, 3, 3)`` local rotations, root in the camera frame.
        shape: ``(B, S)`` phenotypes.
        cam_crop: ``(B, T, 3)`` weak-perspective crop camera ``(s, tx, ty)`` (:func:`fit_crop_camera`).
        transl_cam: ``(B, T, 3)`` body translation in the camera frame: the
            posed body (no translation) plus this is the camera-frame body.
        joints3d_eval14: ``(B, T, 14, 3)`` eval14 joints, camera frame, metres.
        keypoints2d: ``(B, T, 33, 3)`` clean landmarks in the box's ``[-1, 1]`` and confidence 1.
    Camera (for checks and rendering):
        cam_rotmat: ``(B, T, 3, 3)`` camera-from-world rotation (world: y up; camera: OpenCV).
        cam_transl: ``(B, T, 3)`` camera-from-world translation.
        focal_px: ``(B,)``; image_size: ``(B, 2)`` (W, H); principal point = image centre.
        keypoints_cam: ``(B, T, 33, 3)`` clean landmarks, camera frame.
    """

    keypoints: torch.Tensor
    keypoints_world: torch.Tensor
    landmarks_img: torch.Tensor
    bbox_cxcys: torch.Tensor
    pose_rotmat: torch.Tensor
    shape: torch.Tensor
    cam_crop: torch.Tensor
    transl_cam: torch.Tensor
    joints3d_eval14: torch.Tensor
    keypoints2d: torch.Tensor
    cam_rotmat: torch.Tensor
    cam_transl: torch.Tensor
    focal_px: torch.Tensor
    image_size: torch.Tensor
    keypoints_cam: torch.Tensor

    def to_generator_targets(self) -> GeneratorTargets:
        """Targets for :func:`vibe.losses.generator_losses` (3D loss on eval14, every frame valid)."""
        b, t = self.keypoints.shape[:2]
        valid = torch.ones(b, t, dtype=torch.bool)
        return GeneratorTargets(
            kp_2d=self.keypoints2d,
            kp_3d=self.joints3d_eval14,
            has_3d=valid,
            pose_rotmat=self.pose_rotmat,
            shape=self.shape[:, None].expand(b, t, -1),
            has_body=valid.clone(),
        )


class SyntheticGenerator:
    """Synthetic windows from motion (see :mod:`vibe.data.synthetic`).

    Args:
        keypoints: the fast Anny evaluator, with sets ``blazepose33`` and ``eval14``.
        config: the distribution (default :class:`SyntheticConfig`).
    """

    def __init__(self, keypoints: SparseKeypoints, config: SyntheticConfig | None = None) -> None:
        config = config or SyntheticConfig()
        missing = {"blazepose33", "eval14", *([DETECTOR_SET] if config.detector_keypoints else [])}
        missing -= set(keypoints.set_names)
        if missing:
            raise ValueError(f"the keypoint evaluator lacks the sets {sorted(missing)}")
        if keypoints.keypoint_sets["blazepose33"] != list(BLAZEPOSE33):
            raise ValueError("unexpected blazepose33 order")
        self.keypoints = keypoints
        self.config = config
        self._noise = LandmarkNoise(config)

    def sample(self, motion_db, rng: np.random.Generator, batch: int, seqlen: int = 16) -> SyntheticBatch:
        """Synthesise ``batch`` random windows of ``seqlen`` frames of a :class:`~vibe.data.motion_db.MotionDB`."""
        rotmat, root_transl = motion_db.sample_windows(rng, batch, seqlen)
        return self.generate(rotmat, root_transl, rng)

    @torch.no_grad()
    def generate(
        self,
        pose_rotmat: np.ndarray | torch.Tensor,
        root_transl: np.ndarray | torch.Tensor,
        rng: np.random.Generator,
        shape: np.ndarray | torch.Tensor | None = None,
    ) -> SyntheticBatch:
        """Synthesise windows.

        Args:
            pose_rotmat: ``(B, T, J, 3, 3)`` local rotations (Anny convention, world y up).
            root_transl: ``(B, T, 3)`` metres, world frame (the body model's ``transl``).
            rng: the only source of randomness.
            shape: ``(B, S)`` phenotypes to use instead of random ones.

        Returns:
            :class:`SyntheticBatch`.
        """
        cfg = self.config
        pose = torch.as_tensor(pose_rotmat, dtype=self.keypoints.dtype)
        transl = torch.as_tensor(root_transl, dtype=pose.dtype)
        batch, num_frames = pose.shape[:2]
        phen = sample_phenotypes(rng, batch, cfg.age_years) if shape is None else np.asarray(shape, np.float64)

        posed = self.keypoints(pose, torch.as_tensor(phen, dtype=pose.dtype), transl)
        kp_world = posed.keypoints["blazepose33"].double().numpy()  # (B, T, K, 3)
        eval_world = posed.keypoints["eval14"].double().numpy()
        root_world = posed.joints[..., 0, :].double().numpy()  # (B, T, 3) root joint
        transl_np = transl.double().numpy()

        cams = place_cameras(rng, kp_world, cfg)
        kp_cam = to_camera(cams, kp_world)
        eval_cam = to_camera(cams, eval_world)
        detected_cam = kp_cam
        if cfg.detector_keypoints:  # what the landmark model sees: its own definitions of the points
            detected_cam = to_camera(cams, posed.keypoints[DETECTOR_SET].double().numpy())
        # Body translation in the camera frame: the root rotates about its own
        # head, which sits at (root joint − transl) in the untranslated body.
        transl_cam = to_camera(cams, root_world[:, :, None])[:, :, 0] - (root_world - transl_np)

        pixels = project(kp_cam, cams.focal_px, cams.image_size)
        bbox = person_boxes(rng, pixels, cfg)
        detected_pixels = pixels if detected_cam is kp_cam else project(detected_cam, cams.focal_px, cams.image_size)
        landmarks, world = self._noise.detect(rng, detected_cam, detected_pixels, bbox, cams)

        features = keypoints_to_encoder_input(landmarks, bbox, cfg.features, cams.image_size)
        # 2D targets: the same normalisation of the clean points, none dropped.
        clean = np.concatenate([pixels, np.ones_like(pixels[..., :1])], axis=-1)
        keep_all = dataclasses.replace(cfg.features, drop_outside_image=False, min_visibility=0.0)
        keypoints2d = keypoints_to_encoder_input(clean, bbox, keep_all)
        kp_body = kp_cam - transl_cam[:, :, None]
        cam_crop = fit_crop_camera(kp_body, keypoints2d[..., :2].double().numpy())

        root = torch.from_numpy(cams.rotmat).to(pose) @ pose[:, :, 0]
        pose_target = torch.cat([root[:, :, None], pose[:, :, 1:]], dim=2)
        f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        return SyntheticBatch(
            keypoints=features,
            keypoints_world=f32(world),
            landmarks_img=f32(landmarks),
            bbox_cxcys=f32(bbox),
            pose_rotmat=f32(pose_target),
            shape=f32(phen),
            cam_crop=f32(cam_crop),
            transl_cam=f32(transl_cam),
            joints3d_eval14=f32(eval_cam),
            keypoints2d=keypoints2d,
            cam_rotmat=f32(cams.rotmat),
            cam_transl=f32(cams.transl),
            focal_px=f32(cams.focal_px),
            image_size=f32(cams.image_size),
            keypoints_cam=f32(kp_cam),
        )
