"""Ablation runner: overrides, the schedule, the results block, and a tiny study that trains, skips and resumes."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
import yaml

from vibe.config import apply_overrides, to_dict
from vibe.evaluation.ablations import (
    BLOCK_BEGIN,
    BLOCK_END,
    VARIANTS,
    AblationConfig,
    Variant,
    _flatten,
    replace_block,
    run_ablations,
    variant_overrides,
)
from vibe.models.checkpoints import load_checkpoint
from vibe.training.config import load_train_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# Small networks and windows; the D_M attention width stays the variants' own.
TINY = [
    "model.feature_dim=32", "model.encoder.input_size=32", "model.encoder.hidden_size=16",
    "model.keypoint_encoder.out_dim=32", "model.keypoint_encoder.hidden_dim=16",
    "discriminator.rnn_size=8", "mposer.model.hidden_size=8", "seqlen=4", "batch_size=2",
    "val_windows=4", "device=cpu",
]  # fmt: skip


# ----------------------------------------------------------------------------- overrides
def test_flattened_mapping_rebuilds_the_mapping_through_the_config_overrides():
    data = {
        "prior": "none",
        "data": {"val_subjects": ["02", "49"], "synthetic": {"noise": 1e-4}},
        "discriminator": {"pooling": "concat", "attention_layers": 3},
        "resume": None,
        "deterministic": True,
    }
    assert apply_overrides({}, _flatten(data)) == data


def test_schedule_spends_exactly_the_budget():
    assert AblationConfig(budget_iters=600, iters_per_epoch=300).schedule() == (2, 300)
    assert AblationConfig(budget_iters=2, iters_per_epoch=300).schedule() == (1, 2)
    with pytest.raises(ValueError):
        AblationConfig(budget_iters=500, iters_per_epoch=300).schedule()


def _leaves(data: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in data.items():
        out.update(_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return out


@pytest.mark.parametrize("variant", [v for v in VARIANTS if (CONFIGS / "ablations" / v.config).exists()],
                         ids=lambda v: v.name)  # fmt: skip
def test_every_variant_is_its_file_over_the_base_with_the_budget(tmp_path, variant):
    cfg = AblationConfig(budget_iters=600, seeds=[3])
    run = load_train_config(cfg.base_config, variant_overrides(cfg, variant, 3, tmp_path))
    assert run.epochs * run.iters_per_epoch == 600 and run.mposer.pretrain_iters == 600
    assert run.seed == 3 and run.out_dir == str(tmp_path)
    wanted = _leaves(yaml.safe_load((CONFIGS / "ablations" / variant.config).read_text(encoding="utf-8")))
    wanted.update(_leaves(apply_overrides({}, list(variant.overrides))))
    got = _leaves(to_dict(run))
    for key in set(wanted) - {"out_dir", "epochs", "iters_per_epoch", "mposer.pretrain_iters"}:
        assert got[key] == wanted[key], key
    base = load_train_config(CONFIGS / "open_cpu.yaml")
    assert run.model == base.model and run.discriminator.rnn_size == base.discriminator.rnn_size  # CPU widths


def test_rows_follow_the_paper():
    by_name = {v.name: v for v in VARIANTS}
    assert load_train_config(CONFIGS / "ablations" / "g_only.yaml").prior == "none"
    for name, (layers, size) in {"dm_attention": (2, 1024), "dm_attention_2x512": (2, 512),
                                 "dm_attention_3x1024": (3, 1024)}.items():  # fmt: skip
        assert f"[{layers} layers, {size} nodes]" in by_name[name].label
    assert "concat" in by_name["dm_concat"].label and "MPoser" in by_name["mposer"].label
    assert {v.table for v in VARIANTS} == {"2", "3", "2, 3"}


# ----------------------------------------------------------------------------- the results block
DOC = "# Results\n\nintro\n\n## First\n\ntext | with pipes\n\n## Second\n\nmore\n"


def test_block_goes_after_the_first_section_and_replaces_only_itself():
    one = f"{BLOCK_BEGIN}\n## Ablations\n| a |\n{BLOCK_END}"
    two = f"{BLOCK_BEGIN}\n## Ablations\n| b |\n| c |\n{BLOCK_END}"
    first = replace_block(DOC, one)
    assert first.index("## First") < first.index(one) < first.index("## Second")
    assert first.replace(one + "\n\n", "") == DOC
    second = replace_block(first, two)
    assert second == first.replace(one, two)
    assert replace_block(second, two) == second


def test_block_is_appended_without_a_second_section_and_markers_must_pair():
    assert replace_block("# R\n\n## Only\n\nx\n", "B") == "# R\n\n## Only\n\nx\n\nB\n"
    with pytest.raises(ValueError):
        replace_block(f"a\n{BLOCK_BEGIN}\nb\n", "B")


# ----------------------------------------------------------------------------- a tiny study
@pytest.mark.slow  # ~30 s alone on 2 cores (Anny data, 5 tiny trainings)
@pytest.mark.anny
def test_tiny_study_trains_skips_resumes_and_tables(tmp_path):
    variants = (
        *(v for v in VARIANTS if v.name in ("g_only", "dm_concat")),
        Variant("absent", "G + something not written yet", "2", "absent.yaml", (0.0, 0.0)),
    )
    md = tmp_path / "results.md"
    md.write_text(DOC, encoding="utf-8")
    cfg = AblationConfig(budget_iters=2, iters_per_epoch=1, seeds=[0], out_dir=tmp_path / "runs",
                         variants=variants, overrides=TINY)  # fmt: skip

    # An interrupted run: g_only stopped after its first epoch (iteration 1 of 2).
    partial = dataclasses.replace(cfg, budget_iters=1)
    run_ablations(dataclasses.replace(partial, only=["g_only"]))
    g_last = tmp_path / "runs" / "g_only" / "seed0" / "last.pt"
    assert load_checkpoint(g_last).extra["global_step"] == 1
    tabled = run_ablations(dataclasses.replace(cfg, train=False))  # tables it without training
    assert load_checkpoint(g_last).extra["global_step"] == 1
    assert [(r.variant, r.status, r.iters) for r in tabled] == [
        ("g_only", "incomplete", 1), ("dm_concat", "not run", 0), ("absent", "missing config", 0)]
    assert "incomplete, shown: 1 iterations" in (tmp_path / "runs" / "table.md").read_text(encoding="utf-8")

    runs = run_ablations(cfg, md)
    status = {r.variant: r for r in runs}
    assert status["absent"].status == "missing config"
    for name in ("g_only", "dm_concat"):
        ckpt = load_checkpoint(tmp_path / "runs" / name / "seed0" / "last.pt")
        assert (ckpt.extra["global_step"], ckpt.extra["epoch"]) == (2, 2)
        # Seed 0 trains on the evaluation windows' seed: the trainer's own validation must agree.
        for key in ("pa_mpjpe", "mpjpe", "accel_err"):
            assert status[name].metrics[key] == pytest.approx(ckpt.extra["val_metrics"][key], rel=1e-5)
            assert math.isfinite(status[name].metrics[key])

    # The resumed run equals one trained in one go.
    straight = dataclasses.replace(cfg, out_dir=tmp_path / "straight", only=["g_only"])
    run_ablations(straight)
    resumed = load_checkpoint(g_last).generator
    fresh = load_checkpoint(tmp_path / "straight" / "g_only" / "seed0" / "last.pt").generator
    assert all(torch.equal(resumed[k], fresh[k]) for k in fresh)

    # A complete run is not trained again.
    stamp = g_last.stat().st_mtime_ns
    again = run_ablations(cfg, md)
    assert g_last.stat().st_mtime_ns == stamp
    assert [r.metrics for r in again] == [r.metrics for r in runs]

    text = md.read_text(encoding="utf-8")
    block = text[text.index(BLOCK_BEGIN) : text.index(BLOCK_END)]
    rows = [line for line in block.splitlines() if line.startswith("| ") and "paper table" not in line]
    assert [row.split(" | ")[0][2:] for row in rows] == [v.label for v in variants]
    assert "missing config" in rows[2] and "2 generator iterations" in block
    g_row = rows[0].split(" | ")
    assert g_row[2] == f"{status['g_only'].metrics['pa_mpjpe']:.1f}"
    assert text.replace(text[text.index(BLOCK_BEGIN) : text.index(BLOCK_END) + len(BLOCK_END)] + "\n\n", "") == DOC
    assert yaml.safe_load((tmp_path / "runs" / "g_only" / "seed0" / "config.yaml").read_text())["seed"] == 0
