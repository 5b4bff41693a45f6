"""Run a generator over a paper protocol and write the results as JSON.

:func:`evaluate_dataset` is the library entry of ``vibe eval --dataset
3dpw|mpi-inf-3dhp|h36m``. The model is either given, or loaded from a
checkpoint: the released ``vibe_model_w(o)_3dpw.pth.tar`` (with the SMPL
files) or one of ours (``feature_source="features"`` on SMPL). It runs on
2048-D ResNet-50 features, window batch by window batch: the db file's
precomputed ones, or, when the data folder holds the dataset's own release
layout instead (3DPW ``sequenceFiles``, MPI-INF-3DHP ``mpi_inf_3dhp_test_set``,
Human3.6M ``S9``/``S11``; see :mod:`vibe.data.datasets.release_layouts`),
features of the ground-truth-box crops of its images or videos computed here
with SPIN's ResNet-50 (``spin_model_checkpoint.pth.tar``). An open-stack
checkpoint (Anny on BlazePose landmarks) runs on release layouts only, its
landmarks found on the same boxes (:mod:`vibe.evaluation.release_features`);
it is scored on Anny's ``eval14`` joints, without PVE.

JSON written (and returned)::

    {"dataset": "3dpw", "title": "3DPW (test)", "file": ".../3dpw_test_db.pt",
     "layout": "db" | "3DPW sequenceFiles" | ... (the release layout read),
     "features": "db" | "ResNet-50 crops (SPIN)" | "ResNet-50 crops (given backbone)"
                 | "BlazePose landmarks",
     "checkpoint": "..." | null, "label": "<file name>" (the table's model column),
     "model": "released VIBE" | "vibe-hmr/1" | "given",
     "epoch": ... (released file only), "checkpoint_versions": {...} (ours only),
     "protocol": {"seqlen": 16, "stride": 16, "joints": "eval14", "n_joints": 14, "subjects": null,
                  "gt_mesh": "neutral SMPL, no translation"},
     "n_frames": ..., "n_valid_frames": ..., "n_windows": ..., "n_videos": ...,
     "metrics": {"pa_mpjpe": ..., "mpjpe": ..., ...},   (null: no valid frame)
     "units": {"pa_mpjpe": "mm", ..., "pck": "%"},
     "versions": {"vibe": ..., "torch": ..., "numpy": ...},
     "created": "2026-01-01T00:00:00+00:00"}
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import vibe
from vibe import assets
from vibe.data.datasets.release_layouts import RELEASE_LAYOUTS, find_release
from vibe.evaluation.protocols import (
    EvalSet,
    Protocol,
    compute_metrics,
    evaluation_windows,
    get_protocol,
    read_eval_set,
    release_eval_set,
    window_rows,
)
from vibe.evaluation.release_features import FeatureSource, release_features
from vibe.geometry.rotations import axis_angle_to_rotmat

__all__ = ["EvalConfig", "METRIC_UNITS", "DatasetNotFoundError", "load_eval_model", "predict", "evaluate_dataset"]

logger = logging.getLogger(__name__)

METRIC_UNITS = {
    "pa_mpjpe": "mm", "mpjpe": "mm", "pve": "mm", "accel": "mm/frame^2", "accel_err": "mm/frame^2",
    "pck": "%", "auc": "%",
}  # fmt: skip


@dataclass
class EvalConfig:
    """Runner settings.

    Attributes:
        batch_size: windows per forward pass.
        device: torch device for the model and the SMPL ground truth.
        progress: show a tqdm bar.
        feature_cache: keep the crop features of a release layout (computed
            with SPIN's file) in ``.cache/`` beside the JSON, so a re-run with
            another checkpoint skips the ResNet-50.
    """

    batch_size: int = 32
    device: str = "cpu"
    progress: bool = True
    feature_cache: bool = True


def load_eval_model(checkpoint: str | os.PathLike, smpl_dir: str | os.PathLike | None = None) -> tuple[Any, dict]:
    """A generator (eval mode) and a description of its weights.

    ``checkpoint`` is one of ours (``vibe-hmr`` format: SMPL body on
    precomputed features, or the open stack's Anny body on BlazePose
    landmarks) or the released VIBE file (with the SMPL files in
    ``smpl_dir``, default :func:`vibe.assets.smpl_dir`).

    Raises:
        ValueError: our checkpoint for another body model or feature source.
        vibe.assets.MissingAssetError: SMPL files missing.
    """
    from vibe.body.smpl import SMPL, load_mean_params
    from vibe.models.checkpoints import (
        CHECKPOINT_FORMAT,
        load_checkpoint,
        load_generator_weights,
        load_released_vibe,
        read_checkpoint,
    )
    from vibe.models.regressor import RegressorInit
    from vibe.models.vibe import VIBE, VIBEConfig

    path = Path(checkpoint)
    assets.require([path], "Evaluation")
    folder = Path(smpl_dir) if smpl_dir is not None else assets.smpl_dir()
    if read_checkpoint(path).get("format") == CHECKPOINT_FORMAT:
        ckpt = load_checkpoint(path)
        config = ckpt.config
        if ckpt.body_model == "smpl" and config.feature_source == "features":
            config.keypoint_set, config.return_vertices = "h36m17", True
            body = SMPL(folder)
        elif ckpt.body_model == "anny" and config.feature_source == "keypoints":
            from vibe.body.anny import Anny

            # Anny's 14 evaluation joints; no mesh comparable with SMPL's, so no PVE.
            config.keypoint_set, config.extra_keypoint_sets, config.return_vertices = "eval14", (), False
            body = Anny()
        else:
            raise ValueError(
                f"{path}: the paper protocols run SMPL models on ResNet-50 features or Anny models on BlazePose "
                f"landmarks; this checkpoint uses body {ckpt.body_model!r} on {config.feature_source!r}"
            )
        model = VIBE(config, body)
        load_generator_weights(model, ckpt)
        info = {"model": CHECKPOINT_FORMAT, "checkpoint_versions": ckpt.versions}
    else:
        config = VIBEConfig(feature_source="features", keypoint_set="h36m17", return_vertices=True)
        init = RegressorInit.from_mean_params(load_mean_params(folder))
        model = VIBE(config, SMPL(folder), init)
        released = load_released_vibe(path, model)
        info = {"model": "released VIBE", "epoch": released["epoch"]}
    return model.eval(), info


def _has_smpl_mesh(model: Any) -> bool:
    """Whether the model's body is SMPL (``J_regressor_h36m`` joints, a mesh comparable with the ground truth)."""
    return "h36m17" in model.body.keypoint_sets


def _require_joints(model: Any, protocol: Protocol) -> None:
    """Raise ``ValueError`` unless the model's body gives the protocol's joints (SMPL: all; others: ``eval14``)."""
    if not _has_smpl_mesh(model) and (protocol.joints != "eval14" or "eval14" not in model.body.keypoint_sets):
        raise ValueError(f"{protocol.title} needs {protocol.joints} joints, which {type(model.body).__name__} lacks")


def _protocol_joints(model: Any, features: torch.Tensor, protocol: Protocol) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Predicted joints ``(B, T, J, 3)`` in the protocol's order and, for SMPL, vertices ``(B, T, V, 3)``; no translation.

    SMPL: ``J_regressor_h36m`` rows :attr:`Protocol.h36m_rows`. Other bodies
    (Anny): their own ``eval14`` set, only for 14-joint protocols.
    """
    out = model.forward_features(features)
    b, t = out.pose_rotmat.shape[:2]
    if _has_smpl_mesh(model):
        rows = torch.tensor(protocol.h36m_rows, device=features.device)
        if out.vertices is not None and getattr(getattr(model, "config", None), "keypoint_set", None) == "h36m17":
            return out.joints3d[..., rows, :], out.vertices
        posed = model.body(out.pose_rotmat.flatten(0, 1), out.shape.flatten(0, 1))
        joints = model.body.keypoints(posed, "h36m17")[:, rows]
        return joints.reshape(b, t, *joints.shape[1:]), posed.vertices.reshape(b, t, *posed.vertices.shape[1:])
    _require_joints(model, protocol)
    if model.config.keypoint_set == "eval14":
        return out.joints3d, None
    posed = model.body(out.pose_rotmat.flatten(0, 1), out.shape.flatten(0, 1))
    joints = model.body.keypoints(posed, "eval14")
    return joints.reshape(b, t, *joints.shape[1:]), None


@torch.no_grad()
def predict(
    model: Any,
    evalset: EvalSet,
    protocol: Protocol,
    config: EvalConfig | None = None,
    gt_body: Any | None = None,
) -> dict[str, Any]:
    """Run ``model`` over the protocol's windows of ``evalset``.

    Args:
        model: has ``forward_features((B, T, F)) → VIBEOutput`` and ``body``
            (a :class:`~vibe.body.base.BodyModel`: SMPL, or one with an
            ``eval14`` set for 14-joint protocols; PVE only for SMPL).
        evalset: the frames (:func:`~vibe.evaluation.protocols.read_eval_set`).
        protocol: windows and joints.
        gt_body: neutral SMPL for the PVE ground truth (needed when the
            protocol reports PVE).

    Returns:
        ``rows (M,)`` evaluated frame rows (video order), ``pred_joints (M, J, 3)``
        metres, ``pve_mm (M,)`` or ``None`` (no PVE protocol, or not SMPL), ``n_windows``.
    """
    config = config or EvalConfig()
    device = torch.device(config.device)
    with_pve = "pve" in protocol.metrics and _has_smpl_mesh(model)
    if with_pve and (gt_body is None or evalset.pose_aa is None):
        raise ValueError(f"{protocol.name} reports PVE: give the neutral SMPL and a file with pose/shape")
    starts = evaluation_windows(evalset.vid_name, protocol.seqlen)
    joints, pves, rows_out = [], [], []
    batches = range(0, starts.size, config.batch_size)
    for i in tqdm(batches, desc=f"eval {protocol.name}", disable=not config.progress, leave=False):
        rows = window_rows(starts[i : i + config.batch_size], protocol.seqlen)  # (B, T)
        features = torch.as_tensor(np.asarray(evalset.features[rows], dtype=np.float32), device=device)
        pred_joints, verts = _protocol_joints(model, features, protocol)
        joints.append(pred_joints.flatten(0, 1).float().cpu())
        rows_out.append(rows.reshape(-1))
        if with_pve:
            pose = torch.as_tensor(evalset.pose_aa[rows.reshape(-1)], device=device).reshape(-1, 24, 3)
            shape = torch.as_tensor(evalset.shape[rows.reshape(-1)], device=device)
            target = gt_body(axis_angle_to_rotmat(pose.to(gt_body.dtype)), shape.to(gt_body.dtype)).vertices
            err = torch.linalg.vector_norm(verts.flatten(0, 1).to(target.dtype) - target, dim=-1).mean(-1)
            pves.append(err.float().cpu() * 1000.0)
    num_joints = len(protocol.h36m_rows)
    return {
        "rows": np.concatenate(rows_out) if rows_out else np.zeros(0, np.int64),
        "pred_joints": torch.cat(joints) if joints else torch.zeros(0, num_joints, 3),
        "pve_mm": (torch.cat(pves) if pves else torch.zeros(0)) if with_pve else None,
        "n_windows": int(starts.size),
    }


class DatasetNotFoundError(FileNotFoundError):
    """Neither the preprocessed db file nor the dataset's release layout is under the data folder."""


def _resolve_source(protocol: Protocol, data_root: str | os.PathLike | None) -> tuple[str, Path]:
    """``("db", file)`` or ``("release", release root)`` for ``protocol`` under ``data_root``.

    A file is a db file; a folder holding the protocol's default db file is
    read as such, otherwise the dataset's own release layout is looked for.

    Raises:
        DatasetNotFoundError: neither is there; the message names both layouts.
    """
    root = Path(data_root) if data_root is not None else assets.datasets_dir()
    if root.is_file():
        return "db", root
    if (root / protocol.default_file).is_file():
        return "db", root / protocol.default_file
    release = find_release(protocol.name, root) if root.is_dir() else None
    if release is not None:
        return "release", release
    layout = RELEASE_LAYOUTS.get(protocol.name)
    raise DatasetNotFoundError(
        f"no {protocol.title} data under {root}: expected either the preprocessed db file "
        f"{root / protocol.default_file}"
        + (f" or the dataset's own release layout ({layout.description})" if layout else "")
        + "; pass --data FOLDER (or the db file itself)"
    )


def _write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def evaluate_dataset(
    name: str,
    checkpoint: str | os.PathLike | None = None,
    model: Any | None = None,
    data_root: str | os.PathLike | None = None,
    out_json: str | os.PathLike | None = None,
    smpl_dir: str | os.PathLike | None = None,
    config: EvalConfig | None = None,
    label: str | None = None,
    backbone: torch.nn.Module | None = None,
    spin_checkpoint: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Evaluate a model on one paper protocol; write and return the results.

    Args:
        name: ``3dpw``, ``mpi-inf-3dhp`` or ``h36m`` (aliases: ``threedpw_test``,
            ``mpii3dhp_test``).
        checkpoint: loaded with :func:`load_eval_model` when ``model`` is None.
        model: an already built generator (see :func:`predict`).
        data_root: the db file itself, a folder holding the protocol's
            default db file, or a folder holding the dataset's own release
            layout (:mod:`vibe.data.datasets.release_layouts`); default
            :func:`vibe.assets.datasets_dir`.
        out_json: where to write the JSON (module docstring); ``None``: not written.
        smpl_dir: SMPL files (the model's and the PVE ground truth's).
        label: how the model is named in tables (default: the checkpoint's file name).
        backbone: ResNet-50 for the crop features of a release layout
            (``(B, 3, 224, 224) → (B, F)``); default SPIN's, from ``spin_checkpoint``.
        spin_checkpoint: SPIN's ``spin_model_checkpoint.pth.tar`` (default in
            :func:`vibe.assets.checkpoints_dir`); read only for a release layout.

    Returns:
        The JSON content as a dict.
    """
    if (checkpoint is None) == (model is None):
        raise ValueError("give exactly one of checkpoint and model")
    config = config or EvalConfig()
    protocol = get_protocol(name)
    layout, path = _resolve_source(protocol, data_root)
    if model is None:
        model, info = load_eval_model(checkpoint, smpl_dir)
    else:
        info = {"model": "given"}
    model = model.to(config.device)
    gt_body = None
    if "pve" in protocol.metrics:
        from vibe.body.smpl import SMPL

        gt_body = SMPL(smpl_dir, gender="neutral").to(config.device)
    _require_joints(model, protocol)
    on_landmarks = getattr(getattr(model, "config", None), "feature_source", "features") == "keypoints"
    if layout == "db":
        if on_landmarks:
            raise ValueError(
                f"{path}: db files hold ResNet-50 features; evaluate the open stack (BlazePose landmarks) on the "
                f"dataset's release layout ({RELEASE_LAYOUTS[protocol.name].description})"
            )
        evalset = read_eval_set(path, protocol)
        features_from = "db"
    else:
        frames = RELEASE_LAYOUTS[protocol.name].read(path)
        cache_dir = Path(out_json).parent / ".cache" if out_json is not None and config.feature_cache else None
        source = FeatureSource(
            model=model if on_landmarks else None, backbone=backbone, spin_checkpoint=spin_checkpoint,
            batch_size=config.batch_size, device=config.device, progress=config.progress,
        )  # fmt: skip
        features, features_from = release_features(frames, source, cache_dir)
        evalset = release_eval_set(frames, features, protocol, gt_body)
    pred = predict(model, evalset, protocol, config, gt_body)
    rows = pred["rows"]
    valid = torch.as_tensor(evalset.valid[rows])
    values = compute_metrics(
        pred["pred_joints"],
        torch.as_tensor(evalset.joints3d[rows]),
        evalset.vid_name[rows],
        valid,
        pred["pve_mm"],
        keys=protocol.metrics,
    )
    result = {
        "dataset": protocol.name,
        "title": protocol.title,
        "file": str(path),
        "layout": "db" if layout == "db" else frames.layout,
        "features": features_from,
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "label": label or (Path(checkpoint).name if checkpoint is not None else "model"),
        **info,
        "protocol": {
            "seqlen": protocol.seqlen,
            "stride": protocol.seqlen,
            "joints": protocol.joints,
            "n_joints": len(protocol.h36m_rows),
            "subjects": list(protocol.subjects) if protocol.subjects else None,
            "gt_mesh": "neutral SMPL, no translation" if pred["pve_mm"] is not None else None,
        },
        "n_frames": int(rows.size),
        "n_valid_frames": int(valid.sum()),
        "n_windows": pred["n_windows"],
        "n_videos": int(np.unique(evalset.vid_name[rows]).size),
        # NaN (no valid frame) is not JSON: written as null.
        "metrics": {k: None if math.isnan(values[k]) else values[k] for k in protocol.metrics if k in values},
        "units": {k: METRIC_UNITS[k] for k in protocol.metrics if k in values},
        "versions": {"vibe": str(vibe.__version__), "torch": str(torch.__version__), "numpy": np.__version__},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if out_json is not None:
        _write_json(result, Path(out_json))
        logger.info("wrote %s", out_json)
    return result
