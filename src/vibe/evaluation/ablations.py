"""Ablations of the paper's Tables 2–3 on the open stack: train every variant with one budget, table the results.

Each variant is the base config (``configs/open_cpu.yaml``, the shipped model's
CPU widths) with one ``configs/ablations/*.yaml`` file on top. Every variant
and seed gets exactly ``budget_iters`` generator iterations (``epochs`` ×
``iters_per_epoch`` are overridden), training seed ``s`` for seed index ``s``
(so all variants see the same data stream for a seed), and MPoser's
pre-training gets the same number of iterations (D_M gets one step per G step).

Runs live in ``<out_dir>/<variant>/seed<s>``: a complete run is skipped, a
partial one resumed from its ``last.pt``. Every checkpoint is then evaluated
on the *same* fixed held-out windows (the ones the trainer validates seed 0
on: subjects 02 and 49, :func:`vibe.training.data.build_synthetic_data`), and
the table — mean ± sample standard deviation over seeds — replaces the block
between :data:`BLOCK_BEGIN` and :data:`BLOCK_END` of ``docs/results.md``.

Command line::

    python -m vibe.evaluation.ablations --budget-iters 600 --seeds 0 1 \\
        --out runs/ablations --results-md docs/results.md [--only g_only dm_attention] [--set device=cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from vibe.config import from_dict

__all__ = [
    "AblationConfig",
    "BLOCK_BEGIN",
    "BLOCK_END",
    "RunResult",
    "VARIANTS",
    "Variant",
    "evaluate_runs",
    "format_section",
    "main",
    "replace_block",
    "run_ablations",
    "train_variant",
    "variant_overrides",
]

logger = logging.getLogger(__name__)

BLOCK_BEGIN = "<!-- ablations:begin -->"
BLOCK_END = "<!-- ablations:end -->"
RUN_RECORD = "ablation_run.json"
METRICS = (("pa_mpjpe", "PA-MPJPE"), ("mpjpe", "MPJPE"), ("accel_err", "ACCEL_ERR"))


@dataclass(frozen=True)
class Variant:
    """One row of the ablation table.

    Attributes:
        name: run directory and ``--only`` key.
        label: the paper's row name.
        table: the paper's table(s) the row belongs to.
        config: file name under the ablation config directory.
        paper_3dpw: the paper's 3DPW ``(PA-MPJPE, MPJPE)`` for the row (SPIN features), for reference.
        overrides: ``key=value`` applied after the config file.
    """

    name: str
    label: str
    table: str
    config: str
    paper_3dpw: tuple[float, float]
    overrides: tuple[str, ...] = ()


# Paper-ordered: Table 2 (priors), then Table 3 (D_M's pooling); the VIBE row belongs to both.
VARIANTS: tuple[Variant, ...] = (
    Variant("g_only", "Baseline (only G)", "2", "g_only.yaml", (56.9, 90.2)),
    Variant("dm_attention", "G + D_M (VIBE), attention [2 layers, 1024 nodes]", "2, 3", "dm_attention.yaml",
            (51.9, 82.9)),  # fmt: skip
    Variant("mposer", "G + MPoser Prior", "2", "mposer.yaml", (54.1, 87.0)),
    # The file carries the shipped model's 2×256 attention; the row adds SMPLify to the VIBE row's D_M.
    Variant("dm_attention_smplify", "G + D_M + SMPLify", "2", "dm_attention_smplify.yaml", (54.7, 93.6),
            ("discriminator.attention_size=1024",)),  # fmt: skip
    Variant("dm_concat", "D_M - concat", "3", "dm_concat.yaml", (53.7, 85.9)),
    Variant("dm_attention_2x512", "D_M - attention [2 layers, 512 nodes]", "3", "dm_attention_2x512.yaml",
            (54.2, 86.6)),  # fmt: skip
    Variant("dm_attention_3x1024", "D_M - attention [3 layers, 1024 nodes]", "3", "dm_attention_3x1024.yaml",
            (52.4, 82.7)),  # fmt: skip
)


def _configs_dir() -> Path:
    """``configs/`` of the source checkout (the package lives in ``src/vibe``)."""
    return Path(__file__).resolve().parents[3] / "configs"


@dataclass
class AblationConfig:
    """What to train and where.

    Attributes:
        budget_iters: generator iterations of every run.
        seeds: training seeds (one run per variant and seed).
        out_dir: run directories ``<out_dir>/<variant>/seed<s>``.
        iters_per_epoch: iterations between validations/checkpoints (capped at the budget,
            which must be a multiple of it).
        variants: the rows, in table order.
        only: names of the variants to train (all when empty); the table still lists every variant.
        train: ``False`` tables the existing runs without training anything.
        base_config: config file every variant starts from.
        ablation_dir: directory of the variants' config files.
        overrides: ``key=value`` applied to every run after the variant's own (e.g. ``device=cuda``).
        checkpoint: ``"last"`` (no selection on the validation windows) or ``"best"``.
        eval_seed: the validation windows are those the trainer draws for this training seed.
        note: a sentence for the table's set-up paragraph (e.g. the machine's load).
    """

    budget_iters: int
    seeds: list[int] = field(default_factory=lambda: [0])
    out_dir: Path = Path("runs/ablations")
    iters_per_epoch: int = 300
    variants: tuple[Variant, ...] = VARIANTS
    only: list[str] = field(default_factory=list)
    train: bool = True
    base_config: Path = field(default_factory=lambda: _configs_dir() / "open_cpu.yaml")
    ablation_dir: Path = field(default_factory=lambda: _configs_dir() / "ablations")
    overrides: list[str] = field(default_factory=list)
    checkpoint: str = "last"
    eval_seed: int = 0
    note: str = ""

    def schedule(self) -> tuple[int, int]:
        """``(epochs, iters_per_epoch)`` with ``epochs · iters_per_epoch == budget_iters``."""
        per_epoch = min(self.iters_per_epoch, self.budget_iters)
        if self.budget_iters < 1 or self.budget_iters % per_epoch:
            raise ValueError(f"budget {self.budget_iters} is not a positive multiple of {per_epoch} iterations/epoch")
        return self.budget_iters // per_epoch, per_epoch


@dataclass
class RunResult:
    """One variant × seed: its state, generator iterations done and validation metrics (mm, mm/frame²)."""

    variant: str
    seed: int
    status: str  # "done", "missing config", "failed: ...", "incomplete", "not run"
    metrics: dict[str, float] = field(default_factory=dict)
    wall_s: float | None = None
    iters: int = 0


# ----------------------------------------------------------------------------- overrides
def _flatten(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted ``key=value`` overrides equivalent to a nested mapping (values as inline YAML)."""
    out = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out += _flatten(value, f"{prefix}{key}.")
        else:
            text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()
            out.append(f"{prefix}{key}={text.removesuffix('...').strip()}")
    return out


def variant_overrides(cfg: AblationConfig, variant: Variant, seed: int, run_dir: Path) -> list[str]:
    """The ``key=value`` list that turns ``cfg.base_config`` into this run's config.

    Order (later wins): the variant's file (its ``out_dir`` dropped), the variant's own
    overrides, the budget and seed, ``cfg.overrides``, the run directory.
    """
    path = cfg.ablation_dir / variant.config
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    data.pop("out_dir", None)
    epochs, per_epoch = cfg.schedule()
    budget = [f"epochs={epochs}", f"iters_per_epoch={per_epoch}", f"mposer.pretrain_iters={cfg.budget_iters}",
              f"seed={seed}", "progress=false"]  # fmt: skip
    return [*_flatten(data), *variant.overrides, *budget, *cfg.overrides, f"out_dir={run_dir}"]


# ----------------------------------------------------------------------------- training
def _run_dir(cfg: AblationConfig, variant: Variant, seed: int) -> Path:
    return Path(cfg.out_dir) / variant.name / f"seed{seed}"


def _read_record(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _steps_done(run_dir: Path) -> tuple[int, int] | None:
    """``(global_step, iters_per_epoch)`` of ``last.pt``, or ``None`` without one."""
    from vibe.models.checkpoints import load_checkpoint

    last = run_dir / "last.pt"
    if not last.exists():
        return None
    extra = load_checkpoint(last).extra
    return int(extra["global_step"]), int(extra["train_config"]["iters_per_epoch"])


def train_variant(cfg: AblationConfig, variant: Variant, seed: int) -> RunResult:
    """Train one variant × seed to the budget (skip when complete, resume when partial).

    The wall time of every training call that finishes is added up in
    ``<run_dir>/ablation_run.json`` (a killed call's time is lost).

    Returns:
        The run's status (``metrics`` empty: see :func:`evaluate_runs`).
    """
    from vibe.training.trainer import train_from_config

    run_dir = _run_dir(cfg, variant, seed)
    if not (cfg.ablation_dir / variant.config).exists():
        return RunResult(variant.name, seed, "missing config")
    _, per_epoch = cfg.schedule()
    done = _steps_done(run_dir)
    if done is not None and done[1] != per_epoch:
        raise ValueError(f"{run_dir} was trained with {done[1]} iterations/epoch, not {per_epoch}: use another --out")
    if done is not None and done[0] > cfg.budget_iters:
        raise ValueError(f"{run_dir} holds {done[0]} iterations, more than the budget {cfg.budget_iters}: use another --out")
    record = _read_record(run_dir)
    if done is not None and done[0] == cfg.budget_iters:
        logger.info("%s seed %d: complete (%d iterations), skipped", variant.name, seed, done[0])
        return RunResult(variant.name, seed, "done", wall_s=record.get("wall_s"), iters=done[0])
    overrides = variant_overrides(cfg, variant, seed, run_dir)
    if done is not None:
        overrides.append(f"resume={run_dir / 'last.pt'}")
        logger.info("%s seed %d: resuming at iteration %d", variant.name, seed, done[0])
    start = time.perf_counter()
    try:
        train_from_config(cfg.base_config, overrides)
    except Exception as exc:  # one broken variant must not stop the others
        logger.exception("%s seed %d failed", variant.name, seed)
        return RunResult(variant.name, seed, f"failed: {type(exc).__name__}: {exc}")
    wall = float(record.get("wall_s", 0.0)) + time.perf_counter() - start
    (run_dir / RUN_RECORD).write_text(json.dumps({"wall_s": wall, "budget_iters": cfg.budget_iters}), encoding="utf-8")
    return RunResult(variant.name, seed, "done", wall_s=wall, iters=cfg.budget_iters)


# ----------------------------------------------------------------------------- evaluation
def evaluate_runs(cfg: AblationConfig, runs: Sequence[RunResult]) -> list[RunResult]:
    """Metrics of every ``"done"`` run's checkpoint (``last.pt`` of an ``"incomplete"`` one) on the fixed
    validation windows.

    The windows are built once from the base config (+ ``cfg.overrides``) with
    training seed ``cfg.eval_seed``; each generator is rebuilt from its
    checkpoint's own config and scored by :meth:`vibe.training.trainer.Trainer.validate`
    (MPJPE, PA-MPJPE, ACCEL_ERR on the 14 evaluation joints).
    """
    from vibe.models.checkpoints import load_checkpoint, load_generator_weights
    from vibe.models.vibe import VIBE
    from vibe.training.config import TrainConfig, load_train_config
    from vibe.training.data import build_synthetic_data
    from vibe.training.trainer import Trainer, build_body

    scored = ("done", "incomplete")
    if not any(r.status in scored for r in runs):
        return list(runs)
    eval_cfg = load_train_config(cfg.base_config, [*cfg.overrides, f"seed={cfg.eval_seed}", "prior=none"])
    eval_cfg = dataclasses.replace(eval_cfg, device="cpu")
    body, regressor_init = build_body(eval_cfg)
    train_source, val_batches, _ = build_synthetic_data(eval_cfg, body)
    by_name = {v.name: v for v in cfg.variants}
    out = []
    for run in runs:
        if run.status not in scored:
            out.append(run)
            continue
        name = cfg.checkpoint if run.status == "done" else "last"
        ckpt = load_checkpoint(_run_dir(cfg, by_name[run.variant], run.seed) / f"{name}.pt")
        run_cfg = from_dict(TrainConfig, ckpt.extra["train_config"])
        generator = VIBE(run_cfg.model, body, regressor_init)
        load_generator_weights(generator, ckpt)
        scorer = Trainer(dataclasses.replace(eval_cfg, model=run_cfg.model), generator, train_source, val_batches)
        metrics = {k: float(v) for k, v in scorer.validate().items()}
        logger.info("%s seed %d: %s", run.variant, run.seed, metrics)
        out.append(dataclasses.replace(run, metrics=metrics))
    return out


# ----------------------------------------------------------------------------- the table
def _mean_spread(values: Sequence[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def _row(variant: Variant, runs: Sequence[RunResult]) -> str:
    """One table row; without a complete run, the incomplete ones' numbers, labelled as such."""
    done = [r for r in runs if r.status == "done" and r.metrics]
    shown = done or [r for r in runs if r.status == "incomplete" and r.metrics]
    cells = [variant.label, variant.table]
    cells += [_mean_spread([r.metrics[key] for r in shown]) for key, _ in METRICS]
    walls = [r.wall_s for r in done if r.wall_s is not None]
    cells.append(f"{statistics.mean(walls) / 60:.0f} min" if walls else "–")
    cells.append(f"{variant.paper_3dpw[0]:.1f} / {variant.paper_3dpw[1]:.1f}")
    problems: dict[str, list[str]] = {}
    for r in runs:
        if r.status == "incomplete":
            shown_here = ", shown" if not done and r.metrics else ""
            problems.setdefault(f"incomplete{shown_here}: {r.iters} iterations", []).append(str(r.seed))
        elif r.status != "done":
            problems.setdefault(r.status, []).append(str(r.seed))
    notes = "; ".join(f"{status}: seed {', '.join(seeds)}" for status, seeds in problems.items())
    cells.append(f"{len(done)}" + (f" ({notes})" if notes else ""))
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return (f"{platform.machine()} CPU ({os.cpu_count()} cores shared), {torch.get_num_threads()} torch thread(s), "
            f"torch {torch.__version__}")  # fmt: skip


def format_section(cfg: AblationConfig, runs: Sequence[RunResult], total_wall_s: float | None = None) -> str:
    """The markdown section (heading, set-up, table), wrapped in :data:`BLOCK_BEGIN` / :data:`BLOCK_END`."""
    from vibe.training.config import load_train_config

    epochs, per_epoch = cfg.schedule()
    base = load_train_config(cfg.base_config, cfg.overrides)
    head = ["variant (paper row)", "paper table", *(title for _, title in METRICS), "wall time / run",
            "paper 3DPW PA-MPJPE / MPJPE", "seeds done"]  # fmt: skip
    command = f"python -m vibe.evaluation.ablations --budget-iters {cfg.budget_iters}"
    command += f" --iters-per-epoch {per_epoch}" if per_epoch != cfg.budget_iters else ""
    command += f" --seeds {' '.join(map(str, cfg.seeds))}"
    command += f" --checkpoint {cfg.checkpoint}" if cfg.checkpoint != "last" else ""
    lines = [
        BLOCK_BEGIN,
        "## Ablations (paper Tables 2–3)",
        "",
        f"Written by `{command}`. Every variant is `{cfg.base_config.name}` (the shipped model's CPU "
        f"widths) plus its `configs/ablations/` file, trained for exactly {cfg.budget_iters} generator "
        f"iterations ({epochs} × {per_epoch}, batch {base.batch_size} × {base.seqlen} frames; MPoser pre-trained for as many), "
        f"seed{'s' if len(cfg.seeds) > 1 else ''} {', '.join(map(str, cfg.seeds))} "
        "(the same data stream for a seed across variants). "
        f"Metrics of the {cfg.checkpoint} checkpoint on the fixed held-out windows of the first section "
        "(subjects 02 and 49, eval14 joints of Anny), mm and mm/frame²; mean ± sample standard deviation "
        "over seeds. The paper's 3DPW numbers (SPIN features, 30 × 500 iterations) are published "
        "values for reference, not measured here.",
        "",
        f"Machine: {_machine()}."
        + (f" Total wall time {total_wall_s / 60:.0f} min." if total_wall_s is not None else "")
        + (f" {cfg.note}" if cfg.note else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|---|---|" + "---:|" * (len(head) - 2),
    ]
    for variant in cfg.variants:
        lines.append(_row(variant, [r for r in runs if r.variant == variant.name]))
    extra = [f"{v.label}: `{' '.join(v.overrides)}`" for v in cfg.variants if v.overrides]
    if extra:
        lines += ["", "Set on top of the variant's file: " + "; ".join(extra) + "."]
    lines.append(BLOCK_END)
    return "\n".join(lines)


def replace_block(text: str, section: str) -> str:
    """``text`` with its ablation block replaced by ``section`` (which carries the markers).

    Without a block, ``section`` goes before the second ``## `` heading (after
    the first section), or at the end; everything else is kept byte for byte.
    """
    i, j = text.find(BLOCK_BEGIN), text.find(BLOCK_END)
    if i >= 0 and j > i:
        return text[:i] + section + text[j + len(BLOCK_END) :]
    if i >= 0 or j >= 0:
        raise ValueError("unbalanced ablation block markers")
    headings = [k for k in range(len(text)) if text.startswith("## ", k) and (k == 0 or text[k - 1] == "\n")]
    if len(headings) >= 2:
        k = headings[1]
        return text[:k] + section + "\n\n" + text[k:]
    return text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") + section + "\n"


def _write_markdown(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(replace_block(text, section), encoding="utf-8")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- the whole study
def run_ablations(cfg: AblationConfig, results_md: str | os.PathLike | None = None) -> list[RunResult]:
    """Train (or skip/resume) every selected variant × seed, evaluate all finished runs, write the table.

    Writes ``<out_dir>/summary.json`` and ``<out_dir>/table.md``, and replaces the
    ablation block of ``results_md`` when given. Variants outside ``cfg.only``
    (all of them when ``cfg.train`` is off) are not trained but tabled from
    their runs; an incomplete run's numbers are shown only without a complete
    one, and labelled.

    Returns:
        One :class:`RunResult` per variant × seed, in table order.
    """
    unknown = set(cfg.only) - {v.name for v in cfg.variants}
    if unknown:
        raise ValueError(f"unknown variant(s) {sorted(unknown)}; known: {[v.name for v in cfg.variants]}")
    start = time.perf_counter()
    runs = []
    for variant in cfg.variants:
        for seed in cfg.seeds:
            if cfg.train and (not cfg.only or variant.name in cfg.only):
                runs.append(train_variant(cfg, variant, seed))
            else:
                runs.append(_existing(cfg, variant, seed))
    runs = evaluate_runs(cfg, runs)
    total = sum(r.wall_s for r in runs if r.wall_s is not None) or None
    section = format_section(cfg, runs, total)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps([dataclasses.asdict(r) for r in runs], indent=1), encoding="utf-8")
    (out_dir / "table.md").write_text(section + "\n", encoding="utf-8")
    if results_md is not None:
        _write_markdown(Path(results_md), section)
    logger.info("ablations done in %.0f s (this call)", time.perf_counter() - start)
    return runs


def _existing(cfg: AblationConfig, variant: Variant, seed: int) -> RunResult:
    """The state of a run this call does not train."""
    run_dir = _run_dir(cfg, variant, seed)
    done = _steps_done(run_dir)
    if done is None:
        missing = not (cfg.ablation_dir / variant.config).exists()
        return RunResult(variant.name, seed, "missing config" if missing else "not run")
    if done[0] < cfg.budget_iters:
        return RunResult(variant.name, seed, "incomplete", iters=done[0])
    return RunResult(variant.name, seed, "done", wall_s=_read_record(run_dir).get("wall_s"), iters=done[0])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vibe.evaluation.ablations``: see the module docstring; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m vibe.evaluation.ablations", description=__doc__.split("\n")[0])
    parser.add_argument("--budget-iters", type=int, required=True, help="generator iterations per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ablations"), help="run directories")
    parser.add_argument("--results-md", type=Path, default=None, help="markdown file whose ablation block is replaced")
    parser.add_argument("--only", nargs="+", default=[], help=f"variants to train: {[v.name for v in VARIANTS]}")
    parser.add_argument("--no-train", dest="train", action="store_false", help="only table the existing runs")
    parser.add_argument("--iters-per-epoch", type=int, default=300)
    parser.add_argument("--checkpoint", choices=("last", "best"), default="last")
    parser.add_argument("--base-config", type=Path, default=None)
    parser.add_argument("--ablation-dir", type=Path, default=None)
    parser.add_argument("--note", default="", help="a sentence added to the table's set-up paragraph")
    parser.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="config overrides for every run (e.g. device=cuda)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = AblationConfig(
        budget_iters=args.budget_iters, seeds=args.seeds, out_dir=args.out, iters_per_epoch=args.iters_per_epoch,
        only=args.only, train=args.train, overrides=args.overrides, checkpoint=args.checkpoint, note=args.note,
    )  # fmt: skip
    if args.base_config is not None:
        cfg.base_config = args.base_config
    if args.ablation_dir is not None:
        cfg.ablation_dir = args.ablation_dir
    runs = run_ablations(cfg, args.results_md)
    trained = [r for r in runs if cfg.train and (not cfg.only or r.variant in cfg.only)]
    return 0 if all(r.status == "done" for r in trained) else 1


if __name__ == "__main__":
    raise SystemExit(main())
