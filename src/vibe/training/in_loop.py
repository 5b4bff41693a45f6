"""Temporal SMPLify in the training loop (paper §3.4, after SPIN): fits as pose/shape targets of 2D-only windows.

Per step, the batch's 2D-only windows (a window id, :attr:`TrainBatch.window_id`
≥ 0, and no body ground truth) are fitted from G's detached prediction; each
window's best fit so far (:class:`~vibe.fitting.pseudo_gt.PseudoGroundTruth`)
becomes its ``pose_rotmat`` / ``shape`` target with ``has_body`` set, so the
generator's pose and shape losses supervise it like ground truth.

The cost is measured: the seconds spent fitting against the rest of the step
(the paper found training 10–20× more expensive with fitting in the loop).
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict

import torch

from vibe.fitting.priors import default_pose_prior
from vibe.fitting.pseudo_gt import InLoopConfig, PseudoGroundTruth
from vibe.fitting.temporal_smplify import SMPLifyConfig
from vibe.losses import GeneratorTargets
from vibe.models.vibe import VIBEConfig, VIBEOutput
from vibe.training.batches import TrainBatch
from vibe.training.config import SMPLifyInLoopConfig

__all__ = ["InLoopFitting"]

_STEP_KEYS = ("seconds", "windows", "replaced", "supervised", "reproj_px_network", "reproj_px_fit", "reproj_px_used")


class InLoopFitting:
    """Fits 2D-only windows during training and turns the stored fits into targets.

    Args:
        config: the run's ``smplify_in_loop`` section.
        body: G's body model (the fit runs where it lives).
        model: G's config (keypoint set and crop camera of the 2D targets).
    """

    def __init__(self, config: SMPLifyInLoopConfig, body, model: VIBEConfig) -> None:
        self.config = config
        smplify = SMPLifyConfig(
            keypoint_set=model.keypoint_set,
            num_steps=config.steps,
            max_iter=config.max_iter,
            focal_length=model.focal_length,
            crop_size=model.crop_size,
        )
        prior = default_pose_prior(body) if config.pose_prior else None
        self.pseudo_gt = PseudoGroundTruth(body, InLoopConfig(smplify, config.replace_only_if_better), prior)
        self.totals: dict[str, float] = defaultdict(float)  # this process, since it started

    def targets(self, batch: TrainBatch, out: VIBEOutput) -> tuple[GeneratorTargets, dict[str, float]]:
        """``batch``'s targets with the stored fits as pose/shape ground truth of its 2D-only windows.

        Args:
            batch: the step's windows (on G's device), ``B`` windows of ``T`` frames.
            out: G's prediction for them (detached here).

        Returns:
            The targets (``pose_rotmat (B, T, J, 3, 3)``, ``shape (B, T, S)`` and
            ``has_body (B, T)`` filled for fitted windows whose error is within
            ``max_reproj_err``; the rest unchanged) and the scalars
            ``smplify/{seconds, windows, replaced, supervised, reproj_px_network,
            reproj_px_fit, reproj_px_used}`` (errors in crop pixels; every key
            present, zeros without 2D-only windows).
        """
        targets = batch.targets
        pred_pose, pred_shape = out.pose_rotmat.detach(), out.shape.detach()
        b, t = pred_pose.shape[:2]
        has_body = targets.has_body
        if has_body is None:  # no mask: every frame has body ground truth, or none does
            has_body = torch.full((b, t), targets.pose_rotmat is not None, dtype=torch.bool, device=pred_pose.device)
        ids = batch.ids()
        rows = torch.nonzero((ids >= 0) & ~has_body.any(1).cpu()).flatten()
        scalars = {f"smplify/{k}": 0.0 for k in _STEP_KEYS}
        if rows.numel() == 0:
            return targets, scalars

        index = rows.to(pred_pose.device)
        window_ids = ids[rows].tolist()
        start = time.perf_counter()
        fit_pose, fit_shape, stats = self.pseudo_gt(
            window_ids, pred_pose[index], pred_shape[index], out.cam.detach()[index], targets.kp_2d[index]
        )
        seconds = time.perf_counter() - start
        errors = torch.tensor([self.pseudo_gt.store[k].reproj_err for k in window_ids])
        limit = self.config.max_reproj_err
        supervise = torch.ones_like(errors, dtype=torch.bool) if limit is None else errors <= limit

        pose = pred_pose.new_zeros(pred_pose.shape) if targets.pose_rotmat is None else targets.pose_rotmat.clone()
        shape = pred_shape.new_zeros(pred_shape.shape) if targets.shape is None else targets.shape.clone()
        pose[index], shape[index] = fit_pose, fit_shape
        has_body = has_body.clone()
        has_body[index] = supervise.to(has_body.device)[:, None].expand(-1, t)
        px = self.pseudo_gt.fitter.config.crop_size / 2.0
        scalars.update(
            {
                "smplify/seconds": seconds,
                "smplify/windows": float(stats.windows),
                "smplify/replaced": float(stats.replaced),
                "smplify/supervised": float(supervise.sum()),
                "smplify/reproj_px_network": px * stats.reproj_err_network,
                "smplify/reproj_px_fit": px * stats.reproj_err_fit,
                "smplify/reproj_px_used": px * stats.reproj_err_used,
            }
        )
        return dataclasses.replace(targets, pose_rotmat=pose, shape=shape, has_body=has_body), scalars

    def finish_step(self, scalars: dict[str, float], step_seconds: float) -> dict[str, float]:
        """Add ``smplify/other_seconds`` (the step without its fits) to a step's :meth:`targets` scalars
        and count them into :attr:`totals`; returns the scalars."""
        scalars = dict(scalars, **{"smplify/other_seconds": step_seconds - scalars["smplify/seconds"]})
        for key in ("seconds", "other_seconds", "windows", "replaced"):
            self.totals[key] += scalars[f"smplify/{key}"]
        return scalars

    @staticmethod
    def cost_ratio(seconds: float, other_seconds: float) -> float:
        """Fitting time over the rest of the training time."""
        return seconds / max(other_seconds, 1e-9)

    def summary(self) -> str:
        """One line: fitting vs training seconds since this process started, the cost ratio, replacements."""
        t = self.totals
        return (
            f"in-loop SMPLify: {t['seconds']:.1f} s fitting, {t['other_seconds']:.1f} s the rest of the steps: "
            f"cost ratio {self.cost_ratio(t['seconds'], t['other_seconds']):.2f}; {t['replaced']:.0f} of "
            f"{t['windows']:.0f} fits replaced the stored one, {len(self.pseudo_gt.store)} windows stored"
        )
