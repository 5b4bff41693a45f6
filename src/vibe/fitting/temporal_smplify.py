"""Temporal SMPLify: fit a body model to 2D keypoint sequences (VIBE §3, after SMPLify and SPIN).

Per window of ``T`` frames the fit optimises a pose per frame (6D, initialised
from the network), ONE shape for the window and a crop camera ``(s, tx, ty)``
per frame, so that the model's keypoints, projected with
:func:`~vibe.geometry.cameras.project_to_crop`, match the observed keypoints
(crop ``[-1, 1]`` coordinates with confidences). The energy per window is

``w_2d Σ c² ρ_σ(|Π(X) − x|²) + w_pose Σ_t E_GMM(θ_t) + w_shape T |β − β̄|²
+ w_angle Σ hinge(θ_t) + w_joints Σ |s_{t+1}X_{t+1} − s_t X_t|² + w_rot Σ ‖R_{t+1} − R_t‖²``

with ``ρ_σ`` Geman–McClure over crop pixels; with 3D landmarks (MediaPipe's
world landmarks) a fourth data term ``w_world Σ v ρ_σw(|X − R_t W|²)`` pulls the
hip-centred keypoints onto the landmarks rotated per frame onto the body
(:func:`~vibe.fitting.losses.aligned_world_energy`): the landmarks say how the
limbs bend, the 2D term where the body is; keypoint velocities are scaled by
the camera scale ``s`` (crop pixels), so that the term cannot prefer a smaller body. Default weights are SPIN's
(squared: 4.78², 5², 15.2², σ = 100 px). L-BFGS with strong Wolfe line search
minimises the sum over windows; windows share no parameter, but they share the
optimiser's line search and curvature memory, so a batched fit equals
one-by-one fits at convergence, not step by step.

The energy is a sum over frames (and over consecutive pairs for the
smoothness terms), so with ``threads > 1`` each evaluation splits the frames
into that many chunks, evaluated with their gradients in parallel threads on
one intra-op thread each and summed: the same energy and gradient up to float
rounding. Measured on 2 idle cores it is no faster than one pass (the many
small operations' Python overhead holds the GIL), but it does not collapse
when the cores are busy, as torch's own intra-op threads do (OpenMP's waiting
teams: 10-30x slower at load 7); docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from vibe.fitting.losses import (
    aligned_world_energy,
    hinge_bend_energy,
    mean_reprojection_error,
    reprojection_energy,
    rotation_smoothness,
    temporal_smoothness,
)
from vibe.fitting.priors import GMMPosePrior, HingeLimits, hinge_limits
from vibe.geometry.cameras import project_to_crop
from vibe.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d

log = logging.getLogger(__name__)

__all__ = ["SMPLifyConfig", "FitResult", "TemporalSMPLify", "refine_track"]


@dataclass(frozen=True)
class SMPLifyConfig:
    """Temporal SMPLify settings.

    Attributes:
        keypoint_set: body-model keypoint set the observations follow (e.g.
            ``"blazepose33"`` for Anny + BlazePose, ``"spin49"`` for SMPL).
        num_steps: L-BFGS ``step`` calls (outer iterations).
        max_iter: L-BFGS iterations inside each step.
        lr: L-BFGS learning rate (1.0 with a line search).
        sigma_px: Geman–McClure scale, crop pixels.
        reprojection_weight, pose_prior_weight, shape_prior_weight,
        angle_weight: energy weights (SPIN's squared weights by default).
        joints_smooth_weight: on squared keypoint velocities scaled by the crop
            camera (``s·X·crop_size/2``: crop pixels per frame step, squared).
        pose_smooth_weight: on squared rotation-matrix differences.
        anchor_weight: on squared rotation-matrix differences from the
            initial (the network's) local rotations of all joints but the
            root, per frame: what the data leave open stays where the network
            put it, whatever the number of steps (0: off, the start only).
        world_weight: on the 3D landmark term (0: off, or no landmarks given), per m².
        world_sigma_m: its Geman–McClure scale, metres.
        world_plane_weight: weight of its image-plane (x, y) residuals against
            depth (z) ones (:func:`~vibe.fitting.losses.aligned_world_energy`).
        world_centre: keypoint indices (of ``keypoint_set``) both 3D sets are centred on
            (BlazePose's hips by default).
        fit_shape, fit_camera: optimise these (else keep the initial values).
        focal_length, crop_size: the crop camera (as the network's).
        threads: frame chunks evaluated in parallel threads (one intra-op
            thread each) per energy evaluation; 1: one pass on torch's own
            threads (the default); None: ``torch.get_num_threads()`` chunks.
            Windows shorter than ``min_chunk_frames`` per chunk use fewer chunks.
    """

    keypoint_set: str = "blazepose33"
    num_steps: int = 6
    max_iter: int = 20
    lr: float = 1.0
    sigma_px: float = 100.0
    reprojection_weight: float = 1.0
    pose_prior_weight: float = 4.78**2
    shape_prior_weight: float = 5.0**2
    angle_weight: float = 15.2**2
    joints_smooth_weight: float = 1.0
    pose_smooth_weight: float = 1.0e2
    anchor_weight: float = 0.0
    world_weight: float = 0.0
    world_sigma_m: float = 0.1
    world_plane_weight: float = 1.0
    world_centre: tuple[int, ...] = (23, 24)
    fit_shape: bool = True
    fit_camera: bool = True
    focal_length: float = 5000.0
    crop_size: float = 224.0
    threads: int | None = 1
    min_chunk_frames: int = 32


@dataclass
class FitResult:
    """Fitted parameters per window and the reprojection error before/after.

    Attributes:
        pose_rotmat: ``(B, T, J, 3, 3)``.
        shape: ``(B, S)`` one shape per window.
        cam: ``(B, T, 3)`` crop cameras ``(s, tx, ty)``.
        keypoints3d: ``(B, T, K, 3)`` fitted keypoints, body frame.
        reproj_err_before, reproj_err_after: ``(B,)`` confidence-weighted mean
            2D distance, crop ``[-1, 1]`` units (×``crop_size/2`` for pixels).
        energy_before, energy_after: ``(B,)`` total energy.
        seconds: wall time of the optimisation.
    """

    pose_rotmat: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor
    keypoints3d: torch.Tensor
    reproj_err_before: torch.Tensor
    reproj_err_after: torch.Tensor
    energy_before: torch.Tensor
    energy_after: torch.Tensor
    seconds: float


class TemporalSMPLify:
    """Batched sequence fitting of ``body_model`` to 2D keypoints.

    Args:
        body_model: any :class:`~vibe.body.base.BodyModel` with ``config.keypoint_set``.
        config: :class:`SMPLifyConfig`.
        pose_prior: GMM prior (``None``: no pose prior term). Its joints are
            looked up by name in the body model (all but the root when unnamed).
        limits: hinge limits (default: :func:`~vibe.fitting.priors.hinge_limits` of the body).
    """

    def __init__(
        self,
        body_model,
        config: SMPLifyConfig | None = None,
        pose_prior: GMMPosePrior | None = None,
        limits: HingeLimits | None = None,
    ) -> None:
        self.body = body_model
        self.config = config or SMPLifyConfig()
        self.pose_prior = pose_prior.to(body_model.device) if pose_prior is not None else None
        names = list(body_model.joint_names)
        if pose_prior is not None and pose_prior.joint_names:
            self._prior_joints = torch.tensor([names.index(n) for n in pose_prior.joint_names])
        else:
            self._prior_joints = torch.arange(1, len(names))
        limits = hinge_limits(body_model) if limits is None else limits
        self.limits = HingeLimits(
            limits.joint_index.to(body_model.device),
            limits.bend_axis.to(body_model.device, body_model.dtype),
            limits.min_angle.to(body_model.device, body_model.dtype),
        )
        self._fast = body_model.keypoint_evaluator([self.config.keypoint_set])

    # --- model evaluation ---------------------------------------------------------
    def keypoints3d(self, pose_rotmat: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """``(B, T, J, 3, 3)`` poses, ``(B, S)`` shapes → ``(B, T, K, 3)`` keypoints of the fitted set."""
        name = self.config.keypoint_set
        if self._fast is not None:
            return self._fast(pose_rotmat, shape).keypoints[name]
        b, t = pose_rotmat.shape[:2]
        out = self.body(pose_rotmat.flatten(0, 1), shape.repeat_interleave(t, dim=0))
        return self.body.keypoints(out, name).unflatten(0, (b, t))

    def project(self, keypoints3d: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
        """``(B, T, K, 3)`` points, ``(B, T, 3)`` crop cameras → ``(B, T, K, 2)`` crop ``[-1, 1]``."""
        cfg = self.config
        points = project_to_crop(keypoints3d.flatten(0, 1), cam.flatten(0, 1), cfg.focal_length, cfg.crop_size)
        return points.unflatten(0, keypoints3d.shape[:2])

    def energy(
        self,
        pose_rotmat: torch.Tensor,
        shape: torch.Tensor,
        cam: torch.Tensor,
        keypoints_crop: torch.Tensor,
        world: torch.Tensor | None = None,
        data_frames: int | None = None,
        shape_frames: int | None = None,
        anchor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Total energy per window ``(B,)``, keypoints ``(B, T, K, 3)`` and projections ``(B, T', K, 2)``.

        ``world``: optional ``(B, T, K, 4)`` 3D landmarks (metres) and their weights.
        ``data_frames``: the first ``T'`` frames count in the data, prior and
        limit terms (default all); later frames only join the smoothness terms
        (a chunk's overlap with the next). ``shape_frames``: the shape prior
        counts that many frames (default ``T``; 0 in every chunk but the first).
        ``anchor``: ``(B, T, J, 3, 3)`` the initial rotations (``anchor_weight``).
        """
        cfg = self.config
        n = pose_rotmat.shape[1] if data_frames is None else data_frames
        kp3d = self.keypoints3d(pose_rotmat, shape)
        kp2d = self.project(kp3d[:, :n], cam[:, :n])
        total = cfg.reprojection_weight * reprojection_energy(kp2d, keypoints_crop[:, :n], cfg.sigma_px, cfg.crop_size)
        if world is not None and cfg.world_weight:
            centre = list(cfg.world_centre)
            total = total + cfg.world_weight * aligned_world_energy(
                kp3d[:, :n], world[:, :n, :, :3], world[:, :n, :, 3], cfg.world_sigma_m, centre, cfg.world_plane_weight
            )
        if self.pose_prior is not None and cfg.pose_prior_weight:
            prior = self.pose_prior(pose_rotmat[:, :n, self._prior_joints])  # (B, T')
            total = total + cfg.pose_prior_weight * prior.sum(1)
        frames = pose_rotmat.shape[1] if shape_frames is None else shape_frames
        if cfg.shape_prior_weight and frames:
            # Per frame, as SMPLify: the one shape answers to every frame's data term.
            mean = self.body.mean_shape(1).to(shape)
            total = total + cfg.shape_prior_weight * frames * (shape - mean).square().sum(-1)
        if cfg.angle_weight:
            lim = self.limits
            total = total + cfg.angle_weight * hinge_bend_energy(
                pose_rotmat[:, :n], lim.joint_index, lim.bend_axis, lim.min_angle
            )
        if cfg.anchor_weight and anchor is not None:
            moved = (pose_rotmat[:, :n, 1:] - anchor[:, :n, 1:]).square().sum(dim=(1, 2, 3, 4))
            total = total + cfg.anchor_weight * moved
        if cfg.joints_smooth_weight:
            # Velocities scaled as the crop sees them (s·X, crop pixels): in metres a smaller,
            # nearer body would move less and the term would shrink the body.
            kp_crop_scale = kp3d * (cam[..., 0, None, None] * cfg.crop_size / 2.0)
            total = total + cfg.joints_smooth_weight * temporal_smoothness(kp_crop_scale)
        if cfg.pose_smooth_weight:
            total = total + cfg.pose_smooth_weight * rotation_smoothness(pose_rotmat)
        return total, kp3d, kp2d

    def chunk_gradient(
        self,
        variables: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
        params: list[torch.Tensor],
        keypoints_crop: torch.Tensor,
        world: torch.Tensor | None,
        first: int,
        last: int,
        anchor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One chunk's share of the energy and its gradient (the shares sum to the whole window's).

        Frames ``[first, last)`` count in the data, prior and limit terms, and
        frame ``last`` (when there is one) joins the smoothness terms' pairs.

        Args:
            variables: the fit's ``pose6d (B, T, J, 6)``, ``shape (B, S)``,
                ``log_scale (B, T, 1)`` and ``cam_t (B, T, 2)``.
            params: those of them being optimised (the gradient's order).
            keypoints_crop: ``(B, T, K, 3)``; world: ``(B, T, K, 4)`` or None;
            anchor: ``(B, T, J, 3, 3)`` or None (as :meth:`energy`'s).

        Returns:
            ``(energy, grads)``: the share summed over windows (a scalar) and its gradient per param.
        """
        pose6d, shape, log_scale, cam_t = variables
        frames = pose6d.shape[1]
        stop = min(last + 1, frames)
        with torch.enable_grad():
            rot = rot6d_to_rotmat(pose6d[:, first:stop])
            cam = torch.cat((log_scale[:, first:stop].exp(), cam_t[:, first:stop]), -1)
            world_chunk = None if world is None else world[:, first:stop]
            data_frames, shape_frames = last - first, frames if first == 0 else 0
            anchor_chunk = None if anchor is None else anchor[:, first:stop]
            energy = self.energy(
                rot, shape, cam, keypoints_crop[:, first:stop], world_chunk, data_frames, shape_frames, anchor_chunk
            )
            total = energy[0].sum()
            return total.detach(), torch.autograd.grad(total, params)

    # --- fitting --------------------------------------------------------------------
    def __call__(
        self,
        pose_rotmat: torch.Tensor,
        shape: torch.Tensor,
        cam: torch.Tensor,
        keypoints_crop: torch.Tensor,
        world_landmarks: torch.Tensor | None = None,
    ) -> FitResult:
        """Fit windows.

        Args:
            pose_rotmat: ``(B, T, J, 3, 3)`` initial poses (network output).
            shape: ``(B, S)`` initial shape per window, or ``(B, T, S)`` per frame (averaged).
            cam: ``(B, T, 3)`` initial crop cameras ``(s, tx, ty)``, ``s > 0``.
            keypoints_crop: ``(B, T, K, 3)`` observed ``x, y`` in crop ``[-1, 1]``
                coordinates and confidence (0: missing; NaN coordinates allowed there).
            world_landmarks: optional ``(B, T, K, 4)`` 3D landmarks in metres (any
                origin and orientation: the term aligns them) and a weight (0 or
                NaN coordinates: missing), e.g. MediaPipe's world landmarks and visibility.

        Returns:
            :class:`FitResult` (tensors detached, on the body model's device).
        """
        cfg = self.config
        opts = {"dtype": self.body.dtype, "device": self.body.device}
        if shape.dim() == 3:
            shape = shape.mean(1)
        keypoints_crop = keypoints_crop.to(**opts)
        conf = keypoints_crop[..., 2:3].nan_to_num(0.0).clamp(min=0.0)
        keypoints_crop = torch.cat((keypoints_crop[..., :2], conf), -1)
        world = None if world_landmarks is None else _clean_world(world_landmarks.to(**opts))

        pose6d = rotmat_to_rot6d(pose_rotmat.to(**opts)).detach().clone().requires_grad_(True)
        shape_var = shape.to(**opts).detach().clone().requires_grad_(cfg.fit_shape)
        cam = cam.to(**opts)
        if torch.any(cam[..., 0] <= 0):
            raise ValueError("crop camera scales must be positive")
        # The scale is optimised in log space: it stays positive through any line search step.
        log_scale = cam[..., :1].log().detach().clone().requires_grad_(cfg.fit_camera)
        cam_t = cam[..., 1:].detach().clone().requires_grad_(cfg.fit_camera)
        params = [p for p in (pose6d, shape_var, log_scale, cam_t) if p.requires_grad]

        def current() -> tuple[torch.Tensor, torch.Tensor]:
            return rot6d_to_rotmat(pose6d), torch.cat((log_scale.exp(), cam_t), -1)

        with torch.no_grad():
            rot, cam_now = current()
            anchor = rot if cfg.anchor_weight else None
            energy_before, _, kp2d = self.energy(rot, shape_var, cam_now, keypoints_crop, world, anchor=anchor)
            err_before = mean_reprojection_error(kp2d, keypoints_crop)

        optimizer = torch.optim.LBFGS(params, lr=cfg.lr, max_iter=cfg.max_iter, line_search_fn="strong_wolfe")
        chunks = _chunk_bounds(pose6d.shape[1], cfg.threads or torch.get_num_threads(), cfg.min_chunk_frames)
        variables = (pose6d, shape_var, log_scale, cam_t)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            if pool is None:
                rot, cam_now = current()
                loss = self.energy(rot, shape_var, cam_now, keypoints_crop, world, anchor=anchor)[0].sum()
                loss.backward()
                return loss
            share = lambda c: self.chunk_gradient(variables, params, keypoints_crop, world, *c, anchor)  # noqa: E731
            shares = list(pool.map(share, chunks))
            for i, p in enumerate(params):
                p.grad = torch.stack([grads[i] for _, grads in shares]).sum(0)
            return torch.stack([energy for energy, _ in shares]).sum()

        start = time.perf_counter()
        with _fitting_threads(len(chunks)) as pool, torch.enable_grad():  # callers may run under no_grad
            for _ in range(cfg.num_steps):
                optimizer.step(closure)
        seconds = time.perf_counter() - start

        with torch.no_grad():
            rot, cam_now = current()
            energy_after, kp3d, kp2d = self.energy(rot, shape_var, cam_now, keypoints_crop, world, anchor=anchor)
            err_after = mean_reprojection_error(kp2d, keypoints_crop)
        log.debug("temporal SMPLify: %d windows, %.2f s, error %s → %s", rot.shape[0], seconds, err_before, err_after)
        return FitResult(
            pose_rotmat=rot.detach(),
            shape=shape_var.detach(),
            cam=cam_now.detach(),
            keypoints3d=kp3d.detach(),
            reproj_err_before=err_before,
            reproj_err_after=err_after,
            energy_before=energy_before,
            energy_after=energy_after,
            seconds=seconds,
        )


@contextmanager
def _fitting_threads(count: int) -> Iterator[ThreadPoolExecutor | None]:
    """While fitting: subnormals flushed, and for ``count > 1`` a pool of that many threads on one intra-op thread.

    Near convergence float32 gradients reach subnormal values, which x86 CPUs
    compute ~100x slower: they are flushed to zero (the demo's 6-step fit went
    from 2.9 to 44 frames/s), a per-thread CPU flag, so the pool's threads set
    it too. The chunks' threads each calling into OpenMP would oversubscribe
    the cores: one intra-op thread while they run. ``count == 1``: no pool.
    """
    flushed = torch.set_flush_denormal(True)
    intra_op = torch.get_num_threads()
    pool = None
    if count > 1:
        torch.set_num_threads(1)
        pool = ThreadPoolExecutor(count, "smplify", initializer=torch.set_flush_denormal, initargs=(True,))
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown()
            torch.set_num_threads(intra_op)
        if flushed:
            torch.set_flush_denormal(False)


def _chunk_bounds(frames: int, threads: int, min_frames: int) -> list[tuple[int, int]]:
    """Split ``frames`` into at most ``threads`` contiguous ``(first, last)`` ranges of ≥ ``min_frames`` each."""
    count = max(1, min(threads, frames // max(min_frames, 1)))
    edges = [round(i * frames / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _clean_world(world: torch.Tensor) -> torch.Tensor:
    """``(..., 4)`` landmarks and weights; NaN coordinates or weights, or weights ≤ 0 → weight 0."""
    xyz, weight = world[..., :3], world[..., 3]
    valid = torch.isfinite(xyz).all(-1) & torch.isfinite(weight) & (weight > 0)
    return torch.cat((xyz.nan_to_num(0.0), torch.where(valid, weight, torch.zeros_like(weight))[..., None]), -1)


def refine_track(
    body_model,
    network_output_params: dict[str, torch.Tensor],
    keypoints_2d_crop: torch.Tensor,
    config: SMPLifyConfig | None = None,
    pose_prior: GMMPosePrior | None = None,
    landmarks_world: torch.Tensor | None = None,
) -> tuple[dict[str, torch.Tensor], float, float]:
    """Refine one track of the demo with temporal SMPLify (one window over the whole track).

    Args:
        body_model: the demo's body model.
        network_output_params: the track's network output, as the demo holds it
            (``vibe.pipeline.run``): ``pose_rotmat (T, J, 3, 3)``, ``shape (T, S)``,
            ``cam_crop (T, 3)`` (tensors or arrays).
        keypoints_2d_crop: ``(T, K, 3)`` observed keypoints in the crop's
            ``[-1, 1]`` coordinates with confidence, in the order of
            ``config.keypoint_set`` — for the open stack, BlazePose
            ``landmarks_img`` mapped by ``vibe.data.features.keypoints_to_encoder_input``
            with the demo's ``box_scale`` (the encoder input itself, ``blazepose33``).
        config: fitting settings.
        pose_prior: ``None`` → :func:`~vibe.fitting.priors.default_pose_prior` of the body.
        landmarks_world: optional ``(T, K, 4)`` 3D landmarks and weights (MediaPipe's
            world landmarks and visibility), used when ``config.world_weight > 0``.

    Returns:
        ``(params, reproj_err_before, reproj_err_after)``: params with the same
        keys and shapes (``shape`` is the track's single fitted shape on every
        row), errors as mean crop ``[-1, 1]`` distances (floats).
    """
    from vibe.fitting.priors import default_pose_prior

    if pose_prior is None:
        pose_prior = default_pose_prior(body_model)
    fitter = TemporalSMPLify(body_model, config, pose_prior)
    params = {k: torch.as_tensor(network_output_params[k]) for k in ("pose_rotmat", "shape", "cam_crop")}
    result = fitter(
        params["pose_rotmat"][None],
        params["shape"].mean(0, keepdim=True),
        params["cam_crop"][None],
        torch.as_tensor(keypoints_2d_crop)[None],
        None if landmarks_world is None else torch.as_tensor(landmarks_world)[None],
    )
    frames = params["pose_rotmat"].shape[0]
    refined = {
        "pose_rotmat": result.pose_rotmat[0].cpu(),
        "shape": result.shape.cpu().expand(frames, -1).clone(),
        "cam_crop": result.cam[0].cpu(),
    }
    return refined, float(result.reproj_err_before[0]), float(result.reproj_err_after[0])
