"""Fitting in the training loop (SPIN / VIBE): temporal SMPLify fits as pseudo ground truth.

For 2D-only training windows the network's prediction initialises a temporal
SMPLify fit; the fit supervises pose and shape. As SPIN does, the best fit so
far of every window is kept: a new fit replaces the stored one only when its
mean reprojection error is lower (``replace_only_if_better``). The time spent
fitting is reported so that the trainer can log its cost (the paper found
fitting in the loop 10–20× more expensive than training alone).

The store lives in CPU memory; :meth:`PseudoGroundTruth.state_dict` packs it
into tensors (integer window ids) for checkpoints, as SPIN keeps its fits on
disk, and :func:`merge_fit_states` keeps the best fit of each window when
several processes fitted the same windows.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from vibe.fitting.priors import GMMPosePrior
from vibe.fitting.temporal_smplify import SMPLifyConfig, TemporalSMPLify

log = logging.getLogger(__name__)

__all__ = ["InLoopConfig", "StoredFit", "PseudoGroundTruth", "InLoopStats", "merge_fit_states"]


@dataclass(frozen=True)
class InLoopConfig:
    """Settings of fitting in the loop.

    Attributes:
        smplify: the fit itself (its ``keypoint_set`` must be the training 2D keypoints').
        replace_only_if_better: keep a stored fit unless the new one reprojects better.
        min_cam_scale: the fit starts from at least this crop-camera scale (an
            untrained network may predict ``s ≤ 0``, where no fit can start).
    """

    smplify: SMPLifyConfig = field(default_factory=SMPLifyConfig)
    replace_only_if_better: bool = True
    min_cam_scale: float = 0.05


@dataclass
class StoredFit:
    """One window's best fit: ``pose_rotmat (T, J, 3, 3)``, ``shape (S,)``, ``cam (T, 3)``, error (crop units)."""

    pose_rotmat: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor
    reproj_err: float


@dataclass
class InLoopStats:
    """Cost and effect of one call: seconds fitting, windows whose stored fit changed, mean errors."""

    seconds: float
    replaced: int
    windows: int
    reproj_err_network: float
    reproj_err_fit: float
    reproj_err_used: float


class PseudoGroundTruth:
    """Fits 2D-only windows and keeps the best fit of each (CPU memory, keyed by window id).

    Args:
        body_model: the trained body model.
        config: :class:`InLoopConfig`.
        pose_prior: for the fit (see :class:`~vibe.fitting.temporal_smplify.TemporalSMPLify`).
    """

    def __init__(self, body_model, config: InLoopConfig | None = None, pose_prior: GMMPosePrior | None = None):
        self.config = config or InLoopConfig()
        self.fitter = TemporalSMPLify(body_model, self.config.smplify, pose_prior)
        self.store: dict[Hashable, StoredFit] = {}

    def __call__(
        self,
        window_ids: Sequence[Hashable],
        pose_rotmat: torch.Tensor,
        shape: torch.Tensor,
        cam: torch.Tensor,
        keypoints_crop: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, InLoopStats]:
        """Fit the windows from the network's prediction and return the supervision to use.

        Args:
            window_ids: ``B`` ids identifying each window's frames (e.g. ``(dataset, clip, start)``).
            pose_rotmat: ``(B, T, J, 3, 3)`` network prediction (detached here).
            shape: ``(B, T, S)`` network prediction.
            cam: ``(B, T, 3)`` crop cameras.
            keypoints_crop: ``(B, T, K, 3)`` the windows' 2D keypoints and confidence.

        Returns:
            ``pose_rotmat (B, T, J, 3, 3)``, ``shape (B, T, S)`` pseudo ground truth
            (on the inputs' device) and :class:`InLoopStats`.
        """
        if len(window_ids) != pose_rotmat.shape[0]:
            raise ValueError(f"{len(window_ids)} ids for {pose_rotmat.shape[0]} windows")
        cam = cam.detach().clone()
        cam[..., 0] = cam[..., 0].clamp(min=self.config.min_cam_scale)
        result = self.fitter(pose_rotmat.detach(), shape.detach().mean(1), cam, keypoints_crop)
        out_pose, out_shape, used_err, replaced = [], [], [], 0
        for i, key in enumerate(window_ids):
            new = StoredFit(
                result.pose_rotmat[i].cpu(),
                result.shape[i].cpu(),
                result.cam[i].cpu(),
                float(result.reproj_err_after[i]),
            )
            old = self.store.get(key)
            if old is None or not self.config.replace_only_if_better or new.reproj_err < old.reproj_err:
                self.store[key] = new
                replaced += 1
            best = self.store[key]
            out_pose.append(best.pose_rotmat)
            out_shape.append(best.shape)
            used_err.append(best.reproj_err)
        frames = pose_rotmat.shape[1]
        stats = InLoopStats(
            seconds=result.seconds,
            replaced=replaced,
            windows=len(window_ids),
            reproj_err_network=float(result.reproj_err_before.mean()),
            reproj_err_fit=float(result.reproj_err_after.mean()),
            reproj_err_used=sum(used_err) / len(used_err),
        )
        log.debug("in-loop fits: %s", stats)
        target_pose = torch.stack(out_pose).to(pose_rotmat)
        target_shape = torch.stack(out_shape)[:, None].expand(-1, frames, -1).to(shape)
        return target_pose, target_shape, stats

    # --- checkpoints ----------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """The stored fits as tensors (window ids must be integers).

        Returns:
            ``ids (N,)`` int64, ``reproj_err (N,)`` float64, and when ``N > 0``
            ``pose_rotmat (N, T, J, 3, 3)``, ``shape (N, S)``, ``cam (N, T, 3)``.
        """
        if not all(isinstance(k, int) for k in self.store):
            raise TypeError("only stores keyed by integer window ids can be saved")
        keys = sorted(self.store)
        state = {
            "ids": torch.tensor(keys, dtype=torch.int64),
            "reproj_err": torch.tensor([self.store[k].reproj_err for k in keys], dtype=torch.float64),
        }
        if keys:
            for name in ("pose_rotmat", "shape", "cam"):
                state[name] = torch.stack([getattr(self.store[k], name) for k in keys])
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Replace the store by the fits of :meth:`state_dict`."""
        fit = lambda i: StoredFit(  # noqa: E731
            state["pose_rotmat"][i], state["shape"][i], state["cam"][i], float(state["reproj_err"][i])
        )
        self.store = {int(key): fit(i) for i, key in enumerate(state["ids"].tolist())}


def merge_fit_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One :meth:`PseudoGroundTruth.state_dict` from several: per window id, the fit with the lowest error."""
    filled = [s for s in states if s["ids"].numel()]
    if len(filled) <= 1:
        return filled[0] if filled else states[0]
    states = filled
    cat = {name: torch.cat([s[name] for s in states]) for name in states[0]}
    # Sort by error, then keep each id's first (= best) occurrence.
    order = torch.argsort(cat["reproj_err"], stable=True)
    ids = cat["ids"][order]
    _, first = np.unique(ids.numpy(), return_index=True)
    keep = order[torch.as_tensor(first)]
    return {name: value[keep] for name, value in cat.items()}
