"""Training configuration: one nested dataclass, filled from ``configs/*.yaml`` and ``key=value`` overrides.

Defaults are the ``open`` stack (keypoint encoder, Anny, synthetic windows from
the bundled CMU motion DB) with the released VIBE's optimiser, schedule and
loss weights (DESIGN §4). ``configs/smpl.yaml`` switches to the paper's stack
(precomputed ResNet features, SMPL, the original "db" files).

Load with :func:`load_train_config`::

    cfg = load_train_config("configs/open.yaml", ["optim.gen_lr=1e-4", "epochs=5"])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vibe.config import load_config
from vibe.losses import LossWeights
from vibe.models.keypoint_encoder import KeypointEncoderConfig
from vibe.models.mposer import MPoserConfig
from vibe.models.vibe import VIBEConfig

__all__ = [
    "DiscriminatorTrainConfig",
    "MPoserTrainConfig",
    "OptimConfig",
    "ScheduleConfig",
    "VibeDBConfig",
    "DataConfig",
    "SMPLifyInLoopConfig",
    "TrainConfig",
    "Prior",
    "load_train_config",
]

Prior = Literal["motion_discriminator", "mposer", "none"]


def _open_model() -> VIBEConfig:
    """The ``open`` generator: BlazePose-33 landmarks → keypoint encoder → VIBE on Anny."""
    return VIBEConfig(
        feature_source="keypoints",
        keypoint_encoder=KeypointEncoderConfig(num_keypoints=33),
        keypoint_set="blazepose33",
        extra_keypoint_sets=("eval14",),
        return_vertices=False,  # training reads keypoints only; the mesh is not needed
    )


@dataclass
class DiscriminatorTrainConfig:
    """The motion discriminator D_M (its input width follows from the body model).

    Attributes:
        pooling, rnn_size, num_layers, attention_size, attention_layers,
            attention_dropout: :class:`~vibe.models.discriminator.MotionDiscriminatorConfig`.
        representation: D_M's per-frame input (:func:`~vibe.models.discriminator.motion_features`):
            ``"axis_angle"`` (SMPL, the released D_M) or ``"rot6d"`` (Anny).
        loss_weight: scale of D_M's own LSGAN loss (the released code multiplies
            it by the same 0.5 as the generator's adversarial term).
        update_every: D step every this many G steps (released: 1).
    """

    pooling: Literal["attention", "concat", "last"] = "attention"
    rnn_size: int = 1024
    num_layers: int = 2
    attention_size: int = 1024
    attention_layers: int = 2
    attention_dropout: float = 0.2
    representation: Literal["axis_angle", "rot6d"] = "rot6d"
    loss_weight: float = 0.5
    update_every: int = 1


@dataclass
class MPoserTrainConfig:
    """The MPoser prior (used when ``prior == "mposer"``).

    Attributes:
        model: the VAE's sizes; ``num_joints`` is overridden by the body model's ``J − 1``.
        checkpoint: a state dict file of a trained MPoser (``torch.save``), or
            ``None`` to pre-train it here on the training motion before G's training.
        pretrain_iters: VAE iterations of that pre-training (batch and seqlen as G's).
        lr: Adam learning rate of the pre-training.
        kl_weight: weight of the KL term in the VAE loss.
    """

    model: MPoserConfig = field(default_factory=MPoserConfig)
    checkpoint: str | None = None
    pretrain_iters: int = 2000
    lr: float = 1e-3
    kl_weight: float = 1e-3


@dataclass
class OptimConfig:
    """Adam for G and D (released: G lr 5e-5, D lr 1e-4 with weight decay 1e-4)."""

    gen_lr: float = 5e-5
    gen_weight_decay: float = 0.0
    disc_lr: float = 1e-4
    disc_weight_decay: float = 1e-4


@dataclass
class ScheduleConfig:
    """``ReduceLROnPlateau`` on validation PA-MPJPE, for both optimisers."""

    factor: float = 0.1
    patience: int = 5


@dataclass
class VibeDBConfig:
    """The original release's preprocessed "db" files (``smpl`` stack; see :mod:`vibe.data.datasets.vibe_db`).

    Relative paths are resolved against ``db_dir`` (default
    ``$VIBE_DATA_DIR/datasets/vibe_db``).

    Attributes:
        train_2d: 2D-only sets (InstaVariety ``insta_train_db.h5``).
        train_3d: 3D sets (``mpii3d_train_db.pt``, ``3dpw_train_db.pt``).
        val: the validation set (``3dpw_val_db.pt``).
        motion: real motion for D_M / MPoser (``amass_db.pt``).
        ratio_2d: fraction of each batch drawn from the 2D sets (released: 0.6).
    """

    db_dir: str | None = None
    train_2d: list[str] = field(default_factory=lambda: ["insta_train_db.h5"])
    train_3d: list[str] = field(default_factory=lambda: ["mpii3d_train_db.pt"])
    val: str = "3dpw_val_db.pt"
    motion: str = "amass_db.pt"
    ratio_2d: float = 0.6


@dataclass
class DataConfig:
    """Where training windows come from.

    Attributes:
        kind: ``"synthetic"`` (open stack: motion DB → :mod:`vibe.data.synthetic`)
            or ``"vibe_db"`` (smpl stack: the original db files).
        motion_db: motion DB ``.npz`` (synthetic kind), or any motion
            ``vibe mocap import`` reads (mocap files or folders, read and
            retargeted at start-up by :func:`vibe.data.motion_input.load_motion`);
            empty = the bundled ``vibe/resources/motion/cmu_anny.npz``.
        mocap: options for reading mocap files, as the commands' options:
            ``asf`` (list), ``bvh_scale``, ``fps``, ``licence``, ``joint_map``.
        val_subjects: motion-DB subjects held out for validation.
        synthetic: overrides of :class:`~vibe.data.synthetic.SyntheticConfig`
            fields (passed through unchanged).
        vibe_db: the db files (vibe_db kind).
        landmark_corpus: synthetic kind: a folder of MediaPipe's answers on
            rendered training motion (:mod:`vibe.evaluation.landmark_corpus`);
            empty = synthetic windows only. ``~`` is expanded.
        corpus_share: fraction of each batch drawn from the corpus.
        corpus_mirror_prob: chance of mirroring a corpus window (left ↔ right).
        motion_mirror_prob: chance of mirroring a synthetic window's motion.
        motion_tip_prob: chance of tipping a synthetic window's motion over
            (lying, floor work; :func:`vibe.data.motion_db.tip_motion`).
        motion_tip_deg: range of the tip angle, degrees.
    """

    kind: Literal["synthetic", "vibe_db"] = "synthetic"
    motion_db: str = ""
    mocap: dict[str, Any] = field(default_factory=dict)
    val_subjects: list[str] = field(default_factory=lambda: ["02", "49"])
    synthetic: dict[str, Any] = field(default_factory=dict)
    landmark_corpus: str = ""
    corpus_share: float = 0.5
    corpus_mirror_prob: float = 0.5
    motion_mirror_prob: float = 0.0
    motion_tip_prob: float = 0.0
    motion_tip_deg: list[float] = field(default_factory=lambda: [60.0, 100.0])
    vibe_db: VibeDBConfig = field(default_factory=VibeDBConfig)


@dataclass
class SMPLifyInLoopConfig:
    """Temporal SMPLify in the training loop (paper §3.4, as SPIN): fits of 2D-only windows as pseudo ground truth.

    Each 2D-only window's best fit so far (lowest mean reprojection error) is
    kept by :class:`~vibe.fitting.pseudo_gt.PseudoGroundTruth` and supervises
    the predicted pose and shape (``losses.pose``, ``losses.shape``) like body
    ground truth. Off by default: batches and losses are then unchanged.

    Attributes:
        enabled: fit the 2D-only windows of each batch.
        share_2d: open stack: fraction of each batch drawn from a fixed bank of
            synthetic windows whose 3D and body targets are withheld (the smpl
            stack's 2D share is ``data.vibe_db.ratio_2d``; its 2D sets are then
            drawn as non-overlapping windows).
        windows_2d: open stack: windows in that bank (each comes back about
            ``iters · batch · share_2d / windows_2d`` times).
        replace_only_if_better: a new fit replaces the stored one only when it
            reprojects better (else always).
        steps, max_iter: L-BFGS steps per fit and iterations inside each (paper: 6 steps).
        max_reproj_err: fits whose mean reprojection error (crop ``[-1, 1]``
            units; ×112 for crop pixels) exceeds this do not supervise (SPIN's
            threshold); ``None``: every fit supervises.
        pose_prior: use the body model's pose prior in the fit
            (:func:`~vibe.fitting.priors.default_pose_prior`).
        checkpoint_fits: keep the stored fits in the checkpoints, so that a
            resumed run continues from them (else it starts from none).
    """

    enabled: bool = False
    share_2d: float = 0.5
    windows_2d: int = 1024
    replace_only_if_better: bool = True
    steps: int = 6
    max_iter: int = 20
    max_reproj_err: float | None = None
    pose_prior: bool = True
    checkpoint_fits: bool = True


@dataclass
class TrainConfig:
    """Everything a training run needs (defaults: the ``open`` model).

    Attributes:
        body_model: ``"anny"`` (open) or ``"smpl"`` (the user's licensed files).
        model: the generator.
        kp3d_set: keypoint set of the 3D loss and of validation (its 14
            evaluation joints, see :func:`vibe.losses.joint_subset`); either
            ``model.keypoint_set`` or one of ``model.extra_keypoint_sets``.
        prior: what keeps the predicted motion plausible: the motion
            discriminator (VIBE), MPoser, or nothing (the G-only ablation).
        discriminator, mposer: the two priors.
        losses: loss weights.
        optim, schedule: optimisers and learning-rate schedule.
        seqlen, batch_size: window length and windows per step and process.
        epochs, iters_per_epoch: training length (released: 30 × 500).
        val_windows: held-out windows evaluated after each epoch.
        seed: seeds weights, data and dropout (each process adds its rank to the data seed).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        deterministic: ``torch.use_deterministic_algorithms(True)``.
        out_dir: checkpoints (``last.pt``, ``best.pt``), TensorBoard logs, the config.
        log_every: iterations between logged training scalars.
        progress: show a tqdm bar (rank 0 only).
        resume: checkpoint to continue from (normally ``<out_dir>/last.pt``).
        init: a checkpoint of ours whose generator weights G starts from (a new
            run: fresh optimisers and schedules); G's entries the file lacks keep
            their fresh values and must lie under ``train_only``.
        train_only: parameter-name prefixes of G that train (e.g.
            ``[encoder.lookahead]``); the rest stays fixed. Empty: all of G trains.
        smplify_in_loop: temporal SMPLify fits of 2D-only windows as pseudo ground truth.
    """

    body_model: Literal["anny", "smpl"] = "anny"
    model: VIBEConfig = field(default_factory=_open_model)
    kp3d_set: str = "eval14"
    prior: Prior = "motion_discriminator"
    discriminator: DiscriminatorTrainConfig = field(default_factory=DiscriminatorTrainConfig)
    mposer: MPoserTrainConfig = field(default_factory=MPoserTrainConfig)
    losses: LossWeights = field(default_factory=LossWeights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    seqlen: int = 16
    batch_size: int = 32
    epochs: int = 30
    iters_per_epoch: int = 500
    val_windows: int = 512
    seed: int = 0
    device: str = "auto"
    deterministic: bool = False
    out_dir: str = "runs/open"
    log_every: int = 20
    progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    resume: str | None = None
    init: str | None = None
    train_only: list[str] = field(default_factory=list)
    smplify_in_loop: SMPLifyInLoopConfig = field(default_factory=SMPLifyInLoopConfig)


def load_train_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """:class:`TrainConfig` from defaults, then the YAML file at ``path``, then dotted ``overrides``.

    Partial sections keep the open model's defaults (see :func:`vibe.config.load_config`).
    """
    return load_config(TrainConfig, path, overrides)
