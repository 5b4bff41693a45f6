"""Trainer: a tiny run on a toy source, checkpoints, exact resume, every prior, configs, DDP on gloo."""

from __future__ import annotations

import dataclasses
import math
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import roma
import torch
import torch.multiprocessing as mp

from toy_body import ToyBody
from vibe.config import ConfigError
from vibe.geometry.cameras import project_to_crop
from vibe.geometry.rotations import rotmat_to_rot6d
from vibe.losses import GeneratorTargets
from vibe.models.checkpoints import load_checkpoint
from vibe.models.discriminator import motion_features
from vibe.models.mposer import MPoserConfig
from vibe.models.temporal import TemporalEncoderConfig
from vibe.models.vibe import VIBE, VIBEConfig
from vibe.training.config import (
    DiscriminatorTrainConfig,
    MPoserTrainConfig,
    TrainConfig,
    load_train_config,
)
from vibe.training.data import MixedSource, TrainBatch, concat_batches, fixed_batches
from vibe.training.distributed import DistInfo, cleanup_distributed, init_distributed
from vibe.training.trainer import Trainer, _frozen

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NUM_JOINTS, SHAPE_DIM, FEATURES = 8, 4, 32


# ----------------------------------------------------------------------------- toy data
class ToyMotion:
    """Smooth motion: every joint swings about its own random axis, ``amp·sin(2π f t + φ)``."""

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> torch.Tensor:
        axis = rng.normal(size=(batch, 1, NUM_JOINTS, 3))
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        amp = rng.uniform(0.2, 0.8, size=(batch, 1, NUM_JOINTS, 1))
        freq = rng.uniform(0.5, 2.0, size=(batch, 1, NUM_JOINTS, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(batch, 1, NUM_JOINTS, 1))
        t = (np.arange(seqlen) / 30.0)[None, :, None, None]
        rotvec = axis * amp * np.sin(2 * np.pi * freq * t + phase)
        return roma.rotvec_to_rotmat(torch.as_tensor(rotvec, dtype=torch.float32))


class ToySource:
    """Generator inputs (a fixed random map of the pose + noise) and complete targets from :class:`ToyBody`."""

    def __init__(self, body: ToyBody) -> None:
        self.body, self.motion = body, ToyMotion()
        self.mix = torch.randn(6 * NUM_JOINTS, FEATURES, generator=torch.Generator().manual_seed(1)) / 4

    def sample(self, rng: np.random.Generator, batch: int, seqlen: int) -> TrainBatch:
        pose = self.motion.sample(rng, batch, seqlen)
        shape = torch.as_tensor(rng.normal(size=(batch, SHAPE_DIM)) * 0.5, dtype=torch.float32)
        cam = torch.as_tensor(
            np.concatenate([rng.uniform(0.8, 1.2, (batch, 1)), rng.normal(0, 0.1, (batch, 2))], -1), dtype=torch.float32
        )
        flat_shape = shape[:, None].expand(batch, seqlen, -1).reshape(-1, SHAPE_DIM)
        with torch.no_grad():
            kp3d = self.body.keypoints(self.body(pose.flatten(0, 1), flat_shape), "spin49")
            kp2d = project_to_crop(kp3d, cam.repeat_interleave(seqlen, 0))
        noise = torch.as_tensor(rng.normal(0, 0.01, size=(batch, seqlen, FEATURES)), dtype=torch.float32)
        features = torch.tanh(rotmat_to_rot6d(pose).flatten(2) @ self.mix) + noise
        valid = torch.ones(batch, seqlen, dtype=torch.bool)
        targets = GeneratorTargets(
            kp_2d=torch.cat([kp2d, torch.ones_like(kp2d[..., :1])], -1).reshape(batch, seqlen, 49, 3),
            kp_3d=kp3d.reshape(batch, seqlen, 49, 3),
            has_3d=valid,
            pose_rotmat=pose,
            shape=shape[:, None].expand(batch, seqlen, -1),
            has_body=valid.clone(),
        )
        return TrainBatch(features, targets)


def tiny_config(tmp_path: Path, **overrides) -> TrainConfig:
    """A config with narrow networks on the toy body (seconds per run)."""
    model = VIBEConfig(
        feature_source="features",
        feature_dim=FEATURES,
        encoder=TemporalEncoderConfig(input_size=FEATURES, hidden_size=16),
        keypoint_set="spin49",
        return_vertices=False,
    )
    cfg = TrainConfig(
        model=model,
        kp3d_set="spin49",
        discriminator=DiscriminatorTrainConfig(rnn_size=16, attention_size=16, representation="rot6d"),
        mposer=MPoserTrainConfig(model=MPoserConfig(latent_dim=8, hidden_size=16, num_layers=1), pretrain_iters=3),
        seqlen=8,
        batch_size=8,
        epochs=2,
        iters_per_epoch=4,
        val_windows=12,
        device="cpu",
        out_dir=str(tmp_path / "run"),
        log_every=2,
        progress=False,
    )
    cfg.optim = dataclasses.replace(cfg.optim, gen_lr=1e-3, disc_lr=1e-3)
    return dataclasses.replace(cfg, **overrides)


def make_trainer(cfg: TrainConfig, info: DistInfo | None = None) -> Trainer:
    torch.manual_seed(cfg.seed)
    body = ToyBody(NUM_JOINTS, SHAPE_DIM)
    source = ToySource(body)
    generator = VIBE(cfg.model, body)
    val = fixed_batches(source, seed=123, windows=cfg.val_windows, seqlen=cfg.seqlen, batch=cfg.batch_size)
    return Trainer(cfg, generator, source, val, ToyMotion(), dist_info=info)


# ----------------------------------------------------------------------------- training
def test_short_run_losses_discriminator_validation_and_checkpoints(tmp_path):
    cfg = tiny_config(tmp_path, epochs=2, iters_per_epoch=6, log_every=3)
    trainer = make_trainer(cfg)
    best = trainer.fit()

    assert len(trainer.history) == 12
    for scalars in trainer.history:
        assert all(math.isfinite(v) for v in scalars.values())
        assert {"gen/kp_2d", "gen/kp_3d", "gen/pose", "gen/shape", "gen/adversarial", "gen/total"} <= set(scalars)
        assert {"disc/loss", "disc/acc_real", "disc/acc_fake", "disc/acc"} <= set(scalars)
    # The supervised terms go down on this easy task.
    first = np.mean([s["gen/kp_3d"] for s in trainer.history[:3]])
    last = np.mean([s["gen/kp_3d"] for s in trainer.history[-3:]])
    assert last < first

    assert len(trainer.val_history) == 2
    for metrics in trainer.val_history:
        for key in ("mpjpe", "pa_mpjpe", "accel_err"):
            assert math.isfinite(metrics[key]) and metrics[key] >= 0
        assert metrics["pa_mpjpe"] <= metrics["mpjpe"] + 1e-6  # alignment can only help
    out = Path(cfg.out_dir)
    assert best == out / "best.pt" and best.exists() and (out / "last.pt").exists()
    assert (out / "config.yaml").exists() and any((out / "tensorboard").iterdir())

    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt.extra["epoch"] == 2 and ckpt.extra["global_step"] == 12
    best_val = min(m["pa_mpjpe"] for m in trainer.val_history)
    assert load_checkpoint(best).extra["val_metrics"]["pa_mpjpe"] == pytest.approx(best_val)
    assert ckpt.discriminator is not None and ckpt.discriminator_config["input_size"] == 6 * (NUM_JOINTS - 1)
    # The saved generator reproduces the trained one.
    torch.testing.assert_close(ckpt.generator["regressor.fc1.weight"], trainer.generator_raw.regressor.fc1.weight)


def test_discriminator_accuracy_moves_off_chance(tmp_path):
    # A fixed G (lr 0) outputs near-constant poses; the real windows move. An
    # untrained D scores everything alike (accuracy 50 %: all on one side of 0.5).
    cfg = tiny_config(tmp_path, epochs=1, iters_per_epoch=25, log_every=25)
    cfg.optim = dataclasses.replace(cfg.optim, gen_lr=0.0, disc_lr=1e-2)
    trainer = make_trainer(cfg)
    trainer.fit()
    acc = [s["disc/acc"] for s in trainer.history]
    d_loss = [s["disc/loss"] for s in trainer.history]
    assert np.mean(acc[-10:]) > 0.75
    assert np.mean(d_loss[-10:]) < 0.7 * np.mean(d_loss[:3])


def test_validation_metrics_match_a_direct_computation(tmp_path):
    cfg = tiny_config(tmp_path)
    trainer = make_trainer(cfg)
    metrics = trainer.validate()
    # Independent reference: mid-hip-centred mean joint distance on joints 25:39 (hips local 2, 3).
    errors = []
    with torch.no_grad():
        trainer.generator_raw.eval()
        for batch in trainer.val_batches:
            pred = trainer.generator_raw(batch.inputs).joints3d[..., 25:39, :]
            gt = batch.targets.kp_3d[..., 25:39, :]
            pred = pred - pred[..., 2:4, :].mean(-2, keepdim=True)
            gt = gt - gt[..., 2:4, :].mean(-2, keepdim=True)
            errors.append((pred - gt).norm(dim=-1).mean(-1).flatten())
    assert metrics["mpjpe"] == pytest.approx(1000 * torch.cat(errors).mean().item(), rel=1e-5)


def test_resume_continues_identically(tmp_path):
    full = make_trainer(tiny_config(tmp_path / "a", epochs=3, iters_per_epoch=2))
    full.fit()

    first = make_trainer(tiny_config(tmp_path / "b", epochs=1, iters_per_epoch=2))
    first.fit()
    resumed = make_trainer(tiny_config(tmp_path / "b", epochs=3, iters_per_epoch=2))
    resumed.resume(Path(first.config.out_dir) / "last.pt")
    assert resumed.state.epoch == 1 and resumed.state.global_step == 2
    resumed.fit()

    assert len(resumed.history) == 4
    assert resumed.history[0] != full.history[0]  # the resumed run did not restart from scratch
    assert resumed.history == full.history[2:]  # exact float equality, every scalar
    assert resumed.val_history == full.val_history[1:]
    for name, value in full.generator_raw.state_dict().items():
        assert torch.equal(value, resumed.generator_raw.state_dict()[name]), name


@pytest.mark.parametrize(
    "overrides",
    [
        {"prior": "none"},
        {"prior": "mposer"},
        {"discriminator": DiscriminatorTrainConfig(pooling="concat", rnn_size=16)},
        {"discriminator": DiscriminatorTrainConfig(pooling="last", rnn_size=16, representation="axis_angle")},
    ],
    ids=["g_only", "mposer", "dm_concat", "dm_last_axis_angle"],
)
def test_each_prior_runs(tmp_path, overrides):
    cfg = tiny_config(tmp_path, epochs=1, iters_per_epoch=1, **overrides)
    trainer = make_trainer(cfg)
    trainer.fit()
    scalars = trainer.history[0]
    assert all(math.isfinite(v) for v in scalars.values())
    if cfg.prior == "none":
        assert "gen/adversarial" not in scalars and "gen/mposer" not in scalars and "disc/loss" not in scalars
    elif cfg.prior == "mposer":
        assert scalars["gen/mposer"] > 0 and "disc/loss" not in scalars
        assert not any(p.requires_grad for p in trainer.mposer.parameters())
        assert load_checkpoint(Path(cfg.out_dir) / "last.pt").extra["mposer"] is not None
    else:
        assert "gen/adversarial" in scalars and 0.0 <= scalars["disc/acc"] <= 1.0


def test_generator_loss_does_not_train_the_discriminator(tmp_path):
    trainer = make_trainer(tiny_config(tmp_path, epochs=1, iters_per_epoch=1))
    disc = trainer.discriminator_raw
    fake = motion_features(ToyMotion().sample(np.random.default_rng(0), 2, 8), "rot6d").requires_grad_(True)
    with _frozen(disc):
        disc(fake).sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in disc.parameters())
    assert all(p.requires_grad for p in disc.parameters())


def test_kp3d_set_must_be_an_output_of_the_generator(tmp_path):
    with pytest.raises(ValueError, match="kp3d_set"):
        make_trainer(tiny_config(tmp_path, kp3d_set="eval14"))


# ----------------------------------------------------------------------------- data helpers
def test_concat_batches_fills_missing_targets_with_masked_zeros():
    body = ToyBody(NUM_JOINTS, SHAPE_DIM)
    full = ToySource(body).sample(np.random.default_rng(0), 3, 4)
    only_2d = TrainBatch(torch.zeros(2, 4, FEATURES), GeneratorTargets(kp_2d=torch.zeros(2, 4, 49, 3)))
    both = concat_batches([only_2d, full])
    assert both.inputs.shape == (5, 4, FEATURES)
    assert both.targets.kp_3d.shape == (5, 4, 49, 3) and both.targets.pose_rotmat.shape == (5, 4, NUM_JOINTS, 3, 3)
    assert both.targets.has_3d.tolist() == [[False] * 4] * 2 + [[True] * 4] * 3
    assert both.targets.has_body[:2].sum() == 0 and both.targets.has_body[2:].all()
    torch.testing.assert_close(both.targets.kp_3d[2:], full.targets.kp_3d)


def test_mixed_source_shares_follow_the_released_rounding():
    class Counting:
        def __init__(self):
            self.asked = []

        def sample(self, rng, batch, seqlen):
            self.asked.append(batch)
            return TrainBatch(torch.zeros(batch, seqlen, 2), GeneratorTargets(kp_2d=torch.zeros(batch, seqlen, 49, 3)))

    a, b = Counting(), Counting()
    mixed = MixedSource([a, b], [0.6, 0.4])
    out = mixed.sample(np.random.default_rng(0), 32, 16)
    # Released: 2D share int(32 · 0.6) = 19, 3D share ceil(32 · 0.4) = 13.
    assert (a.asked, b.asked, len(out)) == ([19], [13], 32)


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")) + sorted(CONFIGS.glob("ablations/*.yaml")), ids=str)
def test_config_files_load(path):
    cfg = load_train_config(path)
    assert cfg.kp3d_set in (cfg.model.keypoint_set, *cfg.model.extra_keypoint_sets)


def test_ablation_files_set_what_their_names_say():
    load = lambda name: load_train_config(CONFIGS / "ablations" / f"{name}.yaml")  # noqa: E731
    assert load("g_only").prior == "none"
    assert load("mposer").prior == "mposer"
    assert load("dm_concat").discriminator.pooling == "concat"
    att = load("dm_attention")
    assert (att.prior, att.discriminator.pooling, att.discriminator.attention_layers) == ("motion_discriminator", "attention", 2)
    a2 = load("dm_attention_2x512").discriminator
    assert (a2.attention_layers, a2.attention_size) == (2, 512)
    a3 = load("dm_attention_3x1024").discriminator
    assert (a3.attention_layers, a3.attention_size) == (3, 1024)


def test_smpl_config_is_the_released_setup():
    cfg = load_train_config(CONFIGS / "smpl.yaml")
    assert (cfg.body_model, cfg.model.feature_source, cfg.model.keypoint_set) == ("smpl", "features", "spin49")
    assert (cfg.optim.gen_lr, cfg.optim.disc_lr, cfg.optim.disc_weight_decay) == (5e-5, 1e-4, 1e-4)
    assert (cfg.schedule.factor, cfg.schedule.patience, cfg.seqlen, cfg.batch_size) == (0.1, 5, 16, 32)
    assert (cfg.epochs, cfg.iters_per_epoch, cfg.discriminator.representation) == (30, 500, "axis_angle")
    assert cfg.data.kind == "vibe_db"


def test_overrides_keep_the_other_defaults_and_reject_unknown_keys():
    cfg = load_train_config(CONFIGS / "open.yaml", ["model.temporal=false", "optim.gen_lr=1.0e-4"])
    assert cfg.model.temporal is False and cfg.optim.gen_lr == 1e-4
    assert cfg.model.feature_source == "keypoints"  # untouched by the override
    with pytest.raises(ConfigError):
        load_train_config(CONFIGS / "open.yaml", ["optim.learning_rate=1"])


# ----------------------------------------------------------------------------- the open stack end to end
@pytest.mark.slow
@pytest.mark.anny
def test_open_stack_trains_and_resumes_from_the_config_file(tmp_path):
    """``vibe train configs/open.yaml``: Anny, synthetic windows of the bundled motion DB, D_M; then resume."""
    from vibe.training.trainer import train_from_config

    small = [
        "model.feature_dim=64", "model.encoder.input_size=64", "model.encoder.hidden_size=16",
        "model.keypoint_encoder.out_dim=64", "model.keypoint_encoder.hidden_dim=32",
        "discriminator.rnn_size=16", "discriminator.attention_size=16",
        "seqlen=4", "batch_size=2", "val_windows=4", "iters_per_epoch=1", "device=cpu", "progress=false",
        f"out_dir={tmp_path}",
    ]  # fmt: skip
    best = train_from_config(CONFIGS / "open.yaml", [*small, "epochs=1"])
    first = load_checkpoint(tmp_path / "last.pt")
    assert best.exists() and first.body_model == "anny" and first.extra["epoch"] == 1
    assert first.discriminator_config["input_size"] == 6 * (len(first.generator["regressor.init_pose"][0]) // 6 - 1)
    train_from_config(CONFIGS / "open.yaml", [*small, "epochs=2", f"resume={tmp_path / 'last.pt'}"])
    second = load_checkpoint(tmp_path / "last.pt")
    assert (second.extra["epoch"], second.extra["global_step"]) == (2, 2)
    assert all(math.isfinite(v) for v in second.extra["val_metrics"].values())


# ----------------------------------------------------------------------------- DDP (gloo, 2 processes)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    info = init_distributed(torch.device("cpu"))
    try:
        cfg = tiny_config(Path(out_dir), epochs=1, iters_per_epoch=2)
        trainer = make_trainer(cfg, info)
        trainer.fit()
        torch.save(
            {
                "gen": trainer.generator_raw.learned_state_dict(),
                "disc": trainer.discriminator_raw.state_dict(),
                "loss0": trainer.history[0]["gen/total"],
            },
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        cleanup_distributed()


def test_ddp_two_processes_on_gloo_stay_in_sync(tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    # Each rank drew its own windows ...
    assert r0["loss0"] != r1["loss0"]
    # ... but the averaged gradients keep the weights identical.
    for name in r0["gen"]:
        torch.testing.assert_close(r0["gen"][name], r1["gen"][name], rtol=0, atol=1e-6, msg=name)
    for name in r0["disc"]:
        torch.testing.assert_close(r0["disc"][name], r1["disc"][name], rtol=0, atol=1e-6, msg=name)
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert len(ckpt.extra["rng"]) == 2  # both ranks' random states, written once by rank 0


# ----------------------------------------------------------------------------- starting from released weights
def test_init_loads_the_file_and_train_only_leaves_the_rest_fixed(tmp_path):
    from vibe.training.checkpointing import init_generator, train_only

    source = make_trainer(tiny_config(tmp_path / "a", epochs=1, iters_per_epoch=2))
    source.fit()
    path = Path(source.config.out_dir) / "last.pt"
    cfg = tiny_config(tmp_path / "b", epochs=1, iters_per_epoch=3)
    cfg.model.encoder = dataclasses.replace(cfg.model.encoder, lookahead_layers=1)
    torch.manual_seed(5)
    generator = VIBE(cfg.model, ToyBody(NUM_JOINTS, SHAPE_DIM))
    with pytest.raises(ValueError, match="lacks"):
        init_generator(generator, path, [])  # the new branch would stay at its fresh values
    fresh = init_generator(generator, path, ["encoder.lookahead"])
    assert fresh and all(k.startswith("encoder.lookahead") for k in fresh)
    loaded = dict(generator.named_parameters())
    torch.testing.assert_close(loaded["regressor.fc1.weight"], source.generator_raw.regressor.fc1.weight)
    assert train_only(generator, ["encoder.lookahead"]) == sum(
        p.numel() for k, p in loaded.items() if k.startswith("encoder.lookahead")
    )
    with pytest.raises(ValueError, match="names no parameter"):
        train_only(VIBE(cfg.model, ToyBody(NUM_JOINTS, SHAPE_DIM)), ["nothing."])

    before = {k: p.detach().clone() for k, p in generator.named_parameters()}
    source_data = ToySource(generator.body)
    val = fixed_batches(source_data, seed=123, windows=cfg.val_windows, seqlen=cfg.seqlen, batch=cfg.batch_size)
    trainer = Trainer(dataclasses.replace(cfg, prior="none"), generator, source_data, val)
    trainer.fit()
    after = dict(generator.named_parameters())
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("encoder.lookahead") for k in changed)
