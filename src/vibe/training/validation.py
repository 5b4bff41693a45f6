"""Validation during training: a generator's 3D errors on fixed held-out windows.

MPJPE, PA-MPJPE and ACCEL_ERR (mm, :func:`vibe.metrics.summarize`) on the
joints of ``config.kp3d_set`` within the evaluation subset (the 14 evaluation
joints); the trainer schedules its learning rates and picks ``best.pt`` by PA-MPJPE.
"""

from __future__ import annotations

import torch

from vibe.losses import JointSubset
from vibe.metrics import summarize
from vibe.models.vibe import VIBE, VIBEOutput
from vibe.training.config import TrainConfig
from vibe.training.batches import TrainBatch

__all__ = ["predicted_kp3d", "validate_generator"]


def predicted_kp3d(out: VIBEOutput, config: TrainConfig) -> torch.Tensor:
    """``(B, T, K3, 3)`` predicted keypoints of ``config.kp3d_set``."""
    if config.kp3d_set == config.model.keypoint_set:
        return out.joints3d
    return out.extra_joints3d[config.kp3d_set]


@torch.no_grad()
def validate_generator(
    generator: VIBE, batches: list[TrainBatch], subset: JointSubset, config: TrainConfig, device: torch.device
) -> dict[str, float]:
    """Metrics (mm) of ``generator`` on the validation ``batches``: ``mpjpe``, ``pa_mpjpe``, ``accel_err``, ...

    ``subset``: the joints scored, a slice of the ``kp3d_set`` keypoints; frames
    without 3D targets (``has_3d`` false) are left out. The generator's
    training mode is restored afterwards.
    """
    was_training = generator.training
    generator.eval()
    preds, targets, masks = [], [], []
    s = subset
    for batch in batches:
        batch = batch.to(device)
        out = generator(batch.inputs, batch.keypoints_world)
        preds.append(predicted_kp3d(out, config)[..., s.start : s.stop, :].float().cpu())
        targets.append(batch.targets.kp_3d[..., s.start : s.stop, :3].float().cpu())
        has = batch.targets.has_3d
        masks.append(torch.ones(targets[-1].shape[:2], dtype=torch.bool) if has is None else has.bool().cpu())
    generator.train(was_training)
    return summarize(torch.cat(preds), torch.cat(targets), mask=torch.cat(masks))
