"""Temporal SMPLify in the training loop: window ids, the best-fit store, pseudo ground truth, cost, resume."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from test_training import CONFIGS, NUM_JOINTS, SHAPE_DIM, ToyMotion, ToySource, tiny_config
from toy_body import ToyBody
from vibe.data.datasets.vibe_db import FrameSet
from vibe.fitting.pseudo_gt import merge_fit_states
from vibe.fitting.temporal_smplify import TemporalSMPLify
from vibe.models.checkpoints import load_checkpoint
from vibe.models.vibe import VIBE
from vibe.training.config import SMPLifyInLoopConfig, TrainConfig, load_train_config
from vibe.training.data import FrameSetWindows, MixedSource, TrainBatch, WindowBank, concat_batches, fixed_batches
from vibe.training.trainer import Trainer

BANK = 6  # 2D-only windows: with 4 per batch, windows come back within a few steps


def in_loop_config(tmp_path: Path, **in_loop) -> TrainConfig:
    """The toy run with half of each batch from a bank of 2D-only windows, fitted in the loop."""
    fitting = SMPLifyInLoopConfig(**{"enabled": True, "windows_2d": BANK, "steps": 1, "max_iter": 5, **in_loop})
    return tiny_config(tmp_path, epochs=1, iters_per_epoch=3, smplify_in_loop=fitting)


def make_in_loop_trainer(cfg: TrainConfig) -> Trainer:
    """The toy trainer with the open stack's data layout: :class:`WindowBank` (2D only) + 3D windows."""
    torch.manual_seed(cfg.seed)
    body = ToyBody(NUM_JOINTS, SHAPE_DIM)
    source = ToySource(body)
    bank = WindowBank.from_source(source, cfg.seed + 2, cfg.smplify_in_loop.windows_2d, cfg.seqlen)
    share = cfg.smplify_in_loop.share_2d
    train = MixedSource([bank, source], [share, 1 - share])
    val = fixed_batches(source, seed=123, windows=cfg.val_windows, seqlen=cfg.seqlen, batch=cfg.batch_size)
    return Trainer(cfg, VIBE(cfg.model, body), train, val, ToyMotion())


def distinct_batch(trainer: Trainer) -> TrainBatch:
    """Bank windows 0-3 (2D only, distinct ids) then 4 windows with full targets; G in eval mode (no dropout)."""
    bank, source = trainer.train_source.sources
    trainer.generator_raw.eval()
    return concat_batches([bank.windows.take([0, 1, 2, 3]), source.sample(np.random.default_rng(3), 4, 8)])


# ----------------------------------------------------------------------------- window ids
def test_window_bank_gives_the_same_window_for_the_same_id():
    source = ToySource(ToyBody(NUM_JOINTS, SHAPE_DIM))
    bank = WindowBank.from_source(source, seed=5, windows=BANK, seqlen=8)
    again = WindowBank.from_source(source, seed=5, windows=BANK, seqlen=8)  # e.g. rebuilt after a resume
    first = bank.sample(np.random.default_rng(0), 20, 8)
    second = bank.sample(np.random.default_rng(1), 20, 8)
    reference = fixed_batches(source, 5, BANK, 8, BANK)[0]  # the windows the bank was drawn from
    for draw in (first, second, again.sample(np.random.default_rng(2), 20, 8)):
        ids = draw.window_id
        assert ids.dtype == torch.int64 and ids.min() >= 0 and ids.max() < BANK
        torch.testing.assert_close(draw.inputs, reference.inputs[ids], rtol=0, atol=0)
        torch.testing.assert_close(draw.targets.kp_2d, reference.targets.kp_2d[ids], rtol=0, atol=0)
        # 2D only: 3D and body targets are withheld.
        assert draw.targets.kp_3d is None and draw.targets.pose_rotmat is None and draw.targets.shape is None
    assert len(set(first.window_id.tolist()) & set(second.window_id.tolist())) > 0  # windows come back
    with pytest.raises(ValueError, match="frames"):
        bank.sample(np.random.default_rng(0), 2, 16)


def test_mixed_batches_tag_only_the_2d_windows_and_mask_their_targets():
    source = ToySource(ToyBody(NUM_JOINTS, SHAPE_DIM))
    bank = WindowBank.from_source(source, seed=5, windows=BANK, seqlen=8)
    batch = MixedSource([bank, source], [0.5, 0.5]).sample(np.random.default_rng(0), 8, 8)
    assert (batch.window_id[:4] >= 0).all() and (batch.window_id[4:] == -1).all()
    assert not batch.targets.has_body[:4].any() and batch.targets.has_body[4:].all()
    assert not batch.targets.has_3d[:4].any() and batch.targets.has_3d[4:].all()
    moved = batch.to("cpu").slice(2, 6)
    assert moved.window_id.tolist() == batch.window_id[2:6].tolist()


def test_frame_set_windows_are_the_non_overlapping_windows_with_offset_ids():
    # Two videos of 20 and 9 frames: windows of 4 start at rows 0, 4, 8, 12, 16 and 20, 24.
    vid = np.array(["a"] * 20 + ["b"] * 9)
    frames = FrameSet("insta", np.arange(29, dtype=np.float32)[:, None].repeat(3, 1), np.zeros((29, 49, 3)), vid)
    windows = FrameSetWindows(frames, seqlen=4, id_offset=1000)
    draw = windows.sample(np.random.default_rng(0), 50, 4)
    starts = draw.window_id - 1000
    assert set(starts.tolist()) == {0, 4, 8, 12, 16, 20, 24}
    expected = starts[:, None] + torch.arange(4)  # the features are the frame rows
    torch.testing.assert_close(draw.inputs[..., 0], expected.float())


# ----------------------------------------------------------------------------- the trainer
def test_trainer_fits_2d_windows_and_reports_the_cost(tmp_path, caplog):
    cfg = in_loop_config(tmp_path)
    trainer = make_in_loop_trainer(cfg)
    with caplog.at_level(logging.INFO, logger="vibe.training.trainer"):
        trainer.fit()
    assert len(trainer.history) == 3
    for scalars in trainer.history:
        assert all(math.isfinite(v) for v in scalars.values())
        assert scalars["smplify/windows"] == 4 and 0 <= scalars["smplify/replaced"] <= 4
        assert scalars["smplify/seconds"] > 0 and scalars["smplify/other_seconds"] > 0
        assert scalars["smplify/reproj_px_fit"] < scalars["smplify/reproj_px_network"]
        # The best so far (the two means are summed in float32: equal fits differ by ~1e-7 px).
        assert scalars["smplify/reproj_px_used"] <= scalars["smplify/reproj_px_fit"] * (1 + 1e-6)
        assert "gen/pose" in scalars
    assert 0 < len(trainer.in_loop.pseudo_gt.store) <= BANK
    totals = trainer.in_loop.totals
    assert totals["seconds"] == pytest.approx(sum(s["smplify/seconds"] for s in trainer.history))
    assert totals["windows"] == 12 and totals["replaced"] == sum(s["smplify/replaced"] for s in trainer.history)
    assert set(trainer.in_loop.pseudo_gt.store) <= set(range(BANK))
    final = [r for r in caplog.records if r.name == "vibe.training.trainer"][-1].getMessage()
    assert final.startswith("in-loop SMPLify") and "cost ratio" in final
    assert any((Path(cfg.out_dir) / "tensorboard").iterdir())


def test_only_the_fits_give_2d_only_batches_a_pose_loss(tmp_path):
    fitted = make_in_loop_trainer(in_loop_config(tmp_path / "on", share_2d=1.0))
    fitted.fit()
    assert all(s["gen/pose"] > 0 and s["smplify/supervised"] == 8 for s in fitted.history)
    plain = make_in_loop_trainer(in_loop_config(tmp_path / "off", share_2d=1.0, enabled=False))
    plain.fit()
    assert all("gen/pose" not in s and "smplify/seconds" not in s for s in plain.history)


def test_the_fit_supervises_pose_and_shape_of_2d_windows_only(tmp_path):
    trainer = make_in_loop_trainer(in_loop_config(tmp_path))
    batch = distinct_batch(trainer)
    out = trainer.generator_raw(batch.inputs)
    targets, scalars = trainer.in_loop.targets(batch, out)

    # Independent reference: a temporal SMPLify fit of those windows from the same start.
    reference = TemporalSMPLify(trainer.generator_raw.body, trainer.in_loop.pseudo_gt.fitter.config)
    fit = reference(out.pose_rotmat[:4].detach(), out.shape[:4].detach(), out.cam[:4].detach(), batch.targets.kp_2d[:4])
    torch.testing.assert_close(targets.pose_rotmat[:4], fit.pose_rotmat)
    torch.testing.assert_close(targets.shape[:4], fit.shape[:, None].expand(-1, 8, -1))
    assert targets.has_body.all() and scalars["smplify/supervised"] == 4
    # The 3D windows keep their own ground truth.
    torch.testing.assert_close(targets.pose_rotmat[4:], batch.targets.pose_rotmat[4:])
    torch.testing.assert_close(targets.shape[4:], batch.targets.shape[4:])


def test_fits_above_the_error_limit_do_not_supervise(tmp_path):
    trainer = make_in_loop_trainer(in_loop_config(tmp_path, max_reproj_err=0.0))
    batch = distinct_batch(trainer)
    targets, scalars = trainer.in_loop.targets(batch, trainer.generator_raw(batch.inputs))
    assert not targets.has_body[:4].any() and targets.has_body[4:].all() and scalars["smplify/supervised"] == 0


def test_a_network_camera_behind_the_crop_still_starts_a_fit(tmp_path):
    # Early in training the predicted scale can be ≤ 0, where no projection exists.
    trainer = make_in_loop_trainer(in_loop_config(tmp_path))
    batch = distinct_batch(trainer)
    out = trainer.generator_raw(batch.inputs)
    cam = out.cam.detach().clone()
    cam[..., 0] = -0.5
    targets, scalars = trainer.in_loop.targets(batch, dataclasses.replace(out, cam=cam))
    assert scalars["smplify/windows"] == 4 and torch.isfinite(targets.pose_rotmat).all()
    assert all(trainer.in_loop.pseudo_gt.store[k].cam[:, 0].min() > 0 for k in range(4))


@pytest.mark.parametrize("only_if_better", [True, False])
def test_a_stored_fit_is_replaced_only_by_a_better_one(tmp_path, only_if_better):
    trainer = make_in_loop_trainer(in_loop_config(tmp_path, replace_only_if_better=only_if_better))
    fitter = trainer.in_loop.pseudo_gt.fitter
    batch = distinct_batch(trainer)
    ids = batch.window_id[:4].tolist()
    out = trainer.generator_raw(batch.inputs)
    noise = torch.randn(out.pose_rotmat.shape[:-2] + (3,), generator=torch.Generator().manual_seed(0))
    turn = roma.rotvec_to_rotmat(0.5 * noise)
    worse = dataclasses.replace(out, pose_rotmat=out.pose_rotmat @ turn)
    stored = lambda: [trainer.in_loop.pseudo_gt.store[k].reproj_err for k in ids]  # noqa: E731

    fitter.config = dataclasses.replace(fitter.config, num_steps=0)  # the network's start itself
    _, first = trainer.in_loop.targets(batch, out)
    start_err = stored()
    fitter.config = dataclasses.replace(fitter.config, num_steps=2)
    _, second = trainer.in_loop.targets(batch, out)
    fitted_err = stored()
    assert all(f < s for f, s in zip(fitted_err, start_err))
    fitted_pose = [trainer.in_loop.pseudo_gt.store[k].pose_rotmat for k in ids]
    fitter.config = dataclasses.replace(fitter.config, num_steps=0)
    targets, third = trainer.in_loop.targets(batch, worse)  # an unfitted, perturbed start: worse

    assert first["smplify/replaced"] == 4 and second["smplify/replaced"] == 4
    if only_if_better:
        assert third["smplify/replaced"] == 0 and stored() == fitted_err
        for row, key in enumerate(ids):
            torch.testing.assert_close(targets.pose_rotmat[row], trainer.in_loop.pseudo_gt.store[key].pose_rotmat)
            torch.testing.assert_close(trainer.in_loop.pseudo_gt.store[key].pose_rotmat, fitted_pose[row])
    else:
        assert third["smplify/replaced"] == 4 and all(w > f for w, f in zip(stored(), fitted_err))
        torch.testing.assert_close(targets.pose_rotmat[:4], worse.pose_rotmat[:4].detach())


# ----------------------------------------------------------------------------- checkpoints
def test_resume_restores_the_stored_fits_and_continues_identically(tmp_path):
    timing = ("smplify/seconds", "smplify/other_seconds")
    untimed = lambda history: [{k: v for k, v in s.items() if k not in timing} for s in history]  # noqa: E731
    full = make_in_loop_trainer(dataclasses.replace(in_loop_config(tmp_path / "a"), epochs=2, iters_per_epoch=2))
    full.fit()
    first = make_in_loop_trainer(dataclasses.replace(in_loop_config(tmp_path / "b"), epochs=1, iters_per_epoch=2))
    first.fit()
    saved = load_checkpoint(Path(first.config.out_dir) / "last.pt").extra["pseudo_gt"]
    assert sorted(saved["ids"].tolist()) == sorted(first.in_loop.pseudo_gt.store)

    resumed = make_in_loop_trainer(dataclasses.replace(in_loop_config(tmp_path / "b"), epochs=2, iters_per_epoch=2))
    resumed.resume(Path(first.config.out_dir) / "last.pt")
    assert set(resumed.in_loop.pseudo_gt.store) == set(first.in_loop.pseudo_gt.store)
    resumed.fit()
    assert untimed(resumed.history) == untimed(full.history[2:])
    assert {k: v.reproj_err for k, v in resumed.in_loop.pseudo_gt.store.items()} == {
        k: v.reproj_err for k, v in full.in_loop.pseudo_gt.store.items()
    }


def test_resume_without_stored_fits_starts_from_an_empty_store(tmp_path):
    cfg = in_loop_config(tmp_path, checkpoint_fits=False)
    make_in_loop_trainer(cfg).fit()
    assert load_checkpoint(Path(cfg.out_dir) / "last.pt").extra["pseudo_gt"] is None
    resumed = make_in_loop_trainer(dataclasses.replace(cfg, epochs=2))
    resumed.resume(Path(cfg.out_dir) / "last.pt")
    assert resumed.in_loop.pseudo_gt.store == {}
    resumed.fit()
    assert resumed.state.global_step == 6 and len(resumed.in_loop.pseudo_gt.store) > 0


def test_merging_stores_keeps_each_windows_lowest_error():
    def state(ids, errors):
        n = len(ids)
        return {
            "ids": torch.tensor(ids), "reproj_err": torch.tensor(errors, dtype=torch.float64),
            "pose_rotmat": torch.full((n, 2, 3, 3, 3), float(ids[0])), "shape": torch.zeros(n, 4),
            "cam": torch.tensor(errors, dtype=torch.float32)[:, None, None].expand(n, 2, 3),
        }  # fmt: skip

    merged = merge_fit_states([state([1, 2, 3], [0.5, 0.2, 0.9]), state([3, 2, 7], [0.1, 0.3, 0.4])])
    best = dict(zip(merged["ids"].tolist(), merged["reproj_err"].tolist()))
    assert best == {1: 0.5, 2: 0.2, 3: 0.1, 7: 0.4}
    for i, err in enumerate(merged["reproj_err"].tolist()):
        assert merged["cam"][i, 0, 0].item() == pytest.approx(err)  # rows stay together


# ----------------------------------------------------------------------------- the config file
def test_ablation_file_is_open_cpu_with_fitting_in_the_loop():
    ablation = load_train_config(CONFIGS / "ablations" / "dm_attention_smplify.yaml")
    shipped = load_train_config(CONFIGS / "open_cpu.yaml")
    assert ablation.smplify_in_loop.enabled and not shipped.smplify_in_loop.enabled
    assert (ablation.prior, ablation.discriminator.pooling) == ("motion_discriminator", "attention")
    assert dataclasses.replace(ablation, smplify_in_loop=shipped.smplify_in_loop, out_dir=shipped.out_dir) == shipped
    assert TrainConfig().smplify_in_loop.enabled is False  # off by default


@pytest.mark.slow
@pytest.mark.anny
def test_open_stack_fits_in_the_loop_from_the_ablation_file(tmp_path):
    """``vibe train -c configs/ablations/dm_attention_smplify.yaml``: Anny, its pose prior, the window bank; resume."""
    from vibe.training.trainer import train_from_config

    small = [
        "model.feature_dim=64", "model.encoder.input_size=64", "model.encoder.hidden_size=16",
        "model.keypoint_encoder.out_dim=64", "model.keypoint_encoder.hidden_dim=32",
        "discriminator.rnn_size=16", "discriminator.attention_size=16", "smplify_in_loop.windows_2d=8",
        "smplify_in_loop.steps=1", "seqlen=4", "batch_size=4", "val_windows=4", "iters_per_epoch=2",
        "device=cpu", "progress=false", f"out_dir={tmp_path}",
    ]  # fmt: skip
    path = CONFIGS / "ablations" / "dm_attention_smplify.yaml"
    train_from_config(path, [*small, "epochs=1"])
    fits = load_checkpoint(tmp_path / "last.pt").extra["pseudo_gt"]
    assert 0 < fits["ids"].numel() <= 4 and fits["pose_rotmat"].shape[1] == 4  # seqlen
    train_from_config(path, [*small, "epochs=2", f"resume={tmp_path / 'last.pt'}"])
    second = load_checkpoint(tmp_path / "last.pt").extra
    assert second["global_step"] == 4 and second["pseudo_gt"]["ids"].numel() >= fits["ids"].numel()
