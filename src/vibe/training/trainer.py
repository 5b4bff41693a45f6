"""The VIBE training procedure (paper §3.4, the released trainer's order of operations).

Per iteration:

1. draw a batch of generator inputs and targets (:class:`~vibe.training.batches.BatchSource`);
2. G forward; with ``smplify_in_loop`` enabled, temporal SMPLify fits the
   batch's 2D-only windows from the (detached) prediction and each window's
   best fit so far becomes its pose/shape target (:mod:`vibe.training.in_loop`);
   G loss = weighted 2D + 3D + pose/shape (where targets exist)
   + the motion prior: LSGAN ``(D_M(fake) − 1)²`` on the predicted pose
   sequence, or the MPoser penalty, or nothing;
3. G step (Adam);
4. D step (Adam): LSGAN ``(D_M(real) − 1)² + D_M(fake)²`` on windows of real
   motion (:class:`~vibe.training.batches.MotionSource`) against the detached
   predictions, scaled by ``discriminator.loss_weight``.

After each epoch: validation on fixed held-out windows (MPJPE, PA-MPJPE,
ACCEL_ERR on the 14 evaluation joints, mm, :mod:`vibe.training.validation`),
``ReduceLROnPlateau`` of both optimisers on PA-MPJPE, and the checkpoints
``last.pt`` and ``best.pt`` (lowest PA-MPJPE), carrying optimiser, scheduler
and random states so that :meth:`Trainer.resume` continues exactly as an
uninterrupted run would (:mod:`vibe.training.checkpointing`). The motion
prior's networks and MPoser's pre-training: :mod:`vibe.training.motion_prior`.

Fitting in the loop is timed: each step reports ``smplify/seconds`` (the
fits) and ``smplify/other_seconds`` (the rest of the step), the logged means add
``smplify/cost_ratio``, and :meth:`Trainer.fit` ends with a line giving the
ratio over the whole run. The stored fits go into the checkpoints
(``extra["pseudo_gt"]``, the best fit of each window over all ranks) unless
``smplify_in_loop.checkpoint_fits`` is off; a resumed run continues from them.

Randomness: data windows come from a ``numpy.random.Generator`` seeded with
``(seed, rank)``; dropout and MPoser sampling from torch's generator seeded
with ``seed + rank`` after the networks are built (the networks themselves
from ``seed``, identical on every rank).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vibe.config import save_config
from vibe.losses import discriminator_loss, generator_losses, joint_subset
from vibe.models.discriminator import motion_features
from vibe.models.vibe import VIBE, VIBEOutput
from vibe.training.batches import BatchSource, MotionSource, TrainBatch
from vibe.training.checkpointing import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    TrainState,
    init_generator,
    resume_training,
    save_training_checkpoint,
    train_only,
)
from vibe.training.config import TrainConfig
from vibe.training.distributed import DistInfo, all_gather_objects, all_reduce_mean, wrap_ddp
from vibe.training.in_loop import InLoopFitting
from vibe.training.motion_prior import build_motion_prior, prepare_mposer
from vibe.training.validation import predicted_kp3d, validate_generator

__all__ = ["Trainer", "TrainState", "build_body", "train_from_config"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``module`` inside the block (inputs still get theirs)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


class Trainer:
    """Trains a :class:`~vibe.models.vibe.VIBE` generator with its motion prior.

    Args:
        config: the run (see :class:`~vibe.training.config.TrainConfig`).
        generator: G, built by the caller (seed torch with ``config.seed`` first
            so every rank builds the same weights).
        train_source: training batches.
        val_batches: fixed validation windows (targets need ``kp_3d`` of ``config.kp3d_set``).
        motion_source: real motion (needed by the motion discriminator and by
            MPoser pre-training).
        dist_info: this process's rank (default: one process).
        device: where the networks run (default CPU).
    """

    def __init__(
        self,
        config: TrainConfig,
        generator: VIBE,
        train_source: BatchSource,
        val_batches: list[TrainBatch],
        motion_source: MotionSource | None = None,
        dist_info: DistInfo | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.config = config
        self.info = dist_info or DistInfo()
        self.device = torch.device(device)
        self.train_source = train_source
        self.val_batches = val_batches
        self.motion_source = motion_source
        if config.prior != "none" and motion_source is None:
            raise ValueError(f"prior {config.prior!r} needs a motion source")
        if config.deterministic:
            torch.use_deterministic_algorithms(True)

        model_cfg = config.model
        if config.kp3d_set != model_cfg.keypoint_set and config.kp3d_set not in model_cfg.extra_keypoint_sets:
            raise ValueError(f"kp3d_set {config.kp3d_set!r} is neither model.keypoint_set nor an extra set")
        self.subset = joint_subset(config.kp3d_set)

        torch.manual_seed(config.seed)  # D_M / MPoser weights: the same on every rank
        self.generator_raw = generator.to(self.device)
        self.disc_config, self.discriminator_raw, self.mposer = build_motion_prior(
            config, generator.body.num_joints, self.device
        )

        self.generator = wrap_ddp(
            self.generator_raw, self.device, self.info, ("body.",), find_unused=not model_cfg.temporal
        )
        self.discriminator = (
            None if self.discriminator_raw is None else wrap_ddp(self.discriminator_raw, self.device, self.info)
        )
        trainable = [p for p in self.generator_raw.parameters() if p.requires_grad]
        self.gen_optimizer = torch.optim.Adam(
            trainable, lr=config.optim.gen_lr, weight_decay=config.optim.gen_weight_decay
        )
        self.gen_scheduler = self._plateau(self.gen_optimizer)
        self.disc_optimizer: torch.optim.Optimizer | None = None
        self.disc_scheduler = None
        if self.discriminator_raw is not None:
            self.disc_optimizer = torch.optim.Adam(
                self.discriminator_raw.parameters(), lr=config.optim.disc_lr, weight_decay=config.optim.disc_weight_decay
            )
            self.disc_scheduler = self._plateau(self.disc_optimizer)

        self.rng = np.random.default_rng([config.seed, self.info.rank])
        torch.manual_seed(config.seed + self.info.rank)
        self.state = TrainState()
        self.history: list[dict[str, float]] = []  # per-iteration scalars of this process
        self.val_history: list[dict[str, float]] = []
        self.out_dir = Path(config.out_dir)
        self._writer = None
        self._mposer_ready = config.prior != "mposer"
        self.in_loop = (
            InLoopFitting(config.smplify_in_loop, self.generator_raw.body, model_cfg)
            if config.smplify_in_loop.enabled
            else None
        )

    # ------------------------------------------------------------------ set-up helpers
    def _plateau(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
        s = self.config.schedule
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=s.factor, patience=s.patience)

    @property
    def writer(self):
        """TensorBoard writer of rank 0 (``None`` elsewhere), created on first use."""
        if self._writer is None and self.info.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.out_dir / "tensorboard"))
        return self._writer

    def _pred_kp3d(self, out: VIBEOutput) -> torch.Tensor:
        """``(B, T, K3, 3)`` predicted keypoints of ``config.kp3d_set``."""
        return predicted_kp3d(out, self.config)

    def _real_motion(self) -> torch.Tensor:
        """``(B, T, J, 3, 3)`` real motion windows for this step."""
        return self.motion_source.sample(self.rng, self.config.batch_size, self.config.seqlen).to(self.device)

    # ------------------------------------------------------------------ MPoser prior
    def prepare_mposer(self) -> None:
        """Load MPoser or pre-train it on real motion, then freeze it (:mod:`vibe.training.motion_prior`)."""
        assert self.mposer is not None
        prepare_mposer(self.mposer, self.motion_source, self.config, self.device, self.info)
        self._mposer_ready = True

    # ------------------------------------------------------------------ one iteration
    def train_step(self) -> dict[str, float]:
        """One G step and (every ``discriminator.update_every``) one D step; returns the scalars
        (with fitting in the loop also the ``smplify/*`` ones, see
        :class:`~vibe.training.in_loop.InLoopFitting`)."""
        cfg = self.config
        step_start = time.perf_counter()
        self.generator.train()
        batch = self.train_source.sample(self.rng, cfg.batch_size, cfg.seqlen).to(self.device)
        out = self.generator(batch.inputs, batch.keypoints_world)
        targets, fit_scalars = batch.targets, {}
        if self.in_loop is not None:
            targets, fit_scalars = self.in_loop.targets(batch, out)

        d_fake_gen = mposer_prior = fake_motion = None
        if self.discriminator_raw is not None:
            self.discriminator_raw.train()
            fake_motion = motion_features(out.pose_rotmat, cfg.discriminator.representation)
            # D_M's weights take no gradient from G's loss (only its input does).
            with _frozen(self.discriminator_raw):
                d_fake_gen = self.discriminator_raw(fake_motion)
        elif self.mposer is not None:
            mposer_prior = self.mposer.prior_loss(out.pose_rotmat[:, :, 1:])

        losses = generator_losses(out, targets, cfg.losses, self.subset, self._pred_kp3d(out), d_fake_gen, mposer_prior)
        self.gen_optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.gen_optimizer.step()
        scalars = {f"gen/{k}": float(v.detach()) for k, v in losses.items()}

        if self.discriminator is not None and self.state.global_step % cfg.discriminator.update_every == 0:
            real_motion = motion_features(self._real_motion(), cfg.discriminator.representation)
            b_real = real_motion.shape[0]
            # One forward for both halves: one DDP reduction per backward.
            scores = self.discriminator(torch.cat([real_motion, fake_motion.detach()]))
            d_real, d_fake = scores[:b_real], scores[b_real:]
            real_term, fake_term, total = discriminator_loss(d_real, d_fake)
            d_loss = cfg.discriminator.loss_weight * total
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.disc_optimizer.step()
            acc_real = float((d_real > 0.5).float().mean())
            acc_fake = float((d_fake < 0.5).float().mean())
            scalars.update(
                {
                    "disc/loss": float(d_loss.detach()),
                    "disc/real_term": float(real_term.detach()),
                    "disc/fake_term": float(fake_term.detach()),
                    "disc/acc_real": acc_real,
                    "disc/acc_fake": acc_fake,
                    "disc/acc": 0.5 * (acc_real + acc_fake),
                }
            )
        self.state.global_step += 1
        if fit_scalars:
            scalars.update(self.in_loop.finish_step(fit_scalars, time.perf_counter() - step_start))
        return scalars

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """Metrics (mm) of the current G on the validation windows: ``mpjpe``, ``pa_mpjpe``, ``accel_err``, ...

        Every rank evaluates all windows (:meth:`fit` then uses rank 0's numbers).
        """
        return validate_generator(self.generator_raw, self.val_batches, self.subset, self.config, self.device)

    # ------------------------------------------------------------------ the loop
    def fit(self) -> Path:
        """Train from ``state.epoch`` to ``config.epochs``; returns the path of ``best.pt``."""
        cfg = self.config
        if self.info.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out_dir / "config.yaml")
        if not self._mposer_ready:
            self.prepare_mposer()
        for epoch in range(self.state.epoch, cfg.epochs):
            self._train_epoch(epoch)
            # Rank 0's numbers for everyone: schedules and checkpoint decisions must agree
            # even if GPU round-off differs between ranks.
            metrics = all_gather_objects(self.validate(), self.info)[0]
            self.val_history.append(metrics)
            self.gen_scheduler.step(metrics["pa_mpjpe"])
            if self.disc_scheduler is not None:
                self.disc_scheduler.step(metrics["pa_mpjpe"])
            self.state.epoch = epoch + 1
            improved = metrics["pa_mpjpe"] < self.state.best_pa_mpjpe
            if improved:
                self.state.best_pa_mpjpe = metrics["pa_mpjpe"]
            self._log_validation(epoch, metrics)
            self._save(self.out_dir / LAST_CHECKPOINT, metrics)
            if improved:
                self._save(self.out_dir / BEST_CHECKPOINT, metrics)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.in_loop is not None and self.info.is_main:
            logger.info("%s", self.in_loop.summary())
        return self.out_dir / BEST_CHECKPOINT

    def _train_epoch(self, epoch: int) -> None:
        cfg = self.config
        window: dict[str, list[float]] = defaultdict(list)
        start = time.perf_counter()
        bar = tqdm(
            range(cfg.iters_per_epoch),
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not (cfg.progress and self.info.is_main),
            leave=False,
        )
        for _ in bar:
            scalars = self.train_step()
            self.history.append(scalars)
            for k, v in scalars.items():
                window[k].append(v)
            if self.state.global_step % max(1, cfg.log_every) == 0:
                means = all_reduce_mean({k: float(np.mean(v)) for k, v in window.items()}, self.device, self.info)
                means["time/sec_per_iter"] = (time.perf_counter() - start) / len(window["gen/total"])
                if self.in_loop is not None:
                    means["smplify/cost_ratio"] = InLoopFitting.cost_ratio(
                        means["smplify/seconds"], means["smplify/other_seconds"]
                    )
                self._log_train(means)
                bar.set_postfix(loss=f"{means['gen/total']:.3f}")
                window.clear()
                start = time.perf_counter()

    # ------------------------------------------------------------------ logging
    def _log_train(self, means: dict[str, float]) -> None:
        if not self.info.is_main:
            return
        step = self.state.global_step
        means = dict(means)
        means["lr/gen"] = self.gen_optimizer.param_groups[0]["lr"]
        if self.disc_optimizer is not None:
            means["lr/disc"] = self.disc_optimizer.param_groups[0]["lr"]
        for k, v in means.items():
            self.writer.add_scalar(f"train/{k}", v, step)
        logger.info("step %d: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in sorted(means.items())))

    def _log_validation(self, epoch: int, metrics: dict[str, float]) -> None:
        if not self.info.is_main:
            return
        for k, v in metrics.items():
            self.writer.add_scalar(f"val/{k}", v, self.state.global_step)
        logger.info(
            "epoch %d: MPJPE %.1f mm, PA-MPJPE %.1f mm, ACCEL_ERR %.2f mm/frame²",
            epoch + 1,
            metrics["mpjpe"],
            metrics["pa_mpjpe"],
            metrics["accel_err"],
        )

    # ------------------------------------------------------------------ checkpoints
    def _save(self, path: Path, metrics: dict[str, float]) -> None:
        """Write a checkpoint (:func:`~vibe.training.checkpointing.save_training_checkpoint`)."""
        save_training_checkpoint(self, path, metrics)

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint written by this trainer (weights, optimisers, schedules, random state)."""
        resume_training(self, path)


# ---------------------------------------------------------------------- from a config file
def build_body(config: TrainConfig):
    """The body model and the regressor's starting point for ``config.body_model`` (on the CPU).

    Returns:
        ``(body, regressor_init)``; ``regressor_init`` is ``None`` for Anny (the
        generator's neutral start) and SMPL's mean parameters for SMPL.
    """
    if config.body_model == "anny":
        from vibe.body.anny import Anny

        return Anny(), None
    from vibe.body.smpl import SMPL, load_mean_params
    from vibe.models.regressor import RegressorInit

    return SMPL(), RegressorInit.from_mean_params(load_mean_params())


def train_from_config(config_path: str | Path | None, overrides: list[str] | None = None) -> Path:
    """``vibe train``: build everything from a YAML config (+ ``key=value`` overrides) and train.

    Under ``torchrun`` each process joins the process group and trains its
    share (see :mod:`vibe.training.distributed`). ``resume=<checkpoint>``
    continues an interrupted run.

    Returns:
        The path of the best checkpoint (``<out_dir>/best.pt``).
    """
    from vibe.training.config import load_train_config
    from vibe.training.data import build_synthetic_data, build_vibe_db_data
    from vibe.training.distributed import cleanup_distributed, dist_info_from_env, init_distributed, resolve_device

    config = load_train_config(config_path, overrides)
    info = dist_info_from_env()
    device = resolve_device(config.device, info)
    init_distributed(device, info)
    try:
        torch.manual_seed(config.seed)  # the same generator weights on every rank
        body, regressor_init = build_body(config)
        generator = VIBE(config.model, body, regressor_init)
        if config.init:
            fresh = init_generator(generator, config.init, config.train_only)
            logger.info("G starts from %s (%d entries fresh)", config.init, len(fresh))
        if config.train_only:
            logger.info("training %d parameters of G under %s", train_only(generator, config.train_only), config.train_only)
        if config.data.kind == "synthetic":
            # Synthetic landmarks are made on the CPU; the generator's copy may move to a GPU.
            synth_body = body if device.type == "cpu" else build_body(config)[0]
            train_source, val_batches, motion_source = build_synthetic_data(config, synth_body)
        else:
            train_source, val_batches, motion_source = build_vibe_db_data(config)
        trainer = Trainer(config, generator, train_source, val_batches, motion_source, info, device)
        if config.resume:
            trainer.resume(config.resume)
        return trainer.fit()
    finally:
        cleanup_distributed()
