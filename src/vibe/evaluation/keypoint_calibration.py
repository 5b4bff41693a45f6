"""Where BlazePose puts its landmarks on Anny bodies: the offsets of the ``blazepose33_detector`` keypoint set.

Each item of a landmark corpus (:mod:`vibe.evaluation.landmark_corpus`) holds
MediaPipe's 2D landmarks on a rendered Anny body beside the body's exact pose,
shape and ``blazepose33`` keypoints. Per keypoint ``k`` this finds the rest
offset ``δ_k`` (metres, world axes at rest) riding on the keypoint's main bone
``b`` that brings the projected ``X_k + R_b δ_k`` onto the landmarks: one 3×3
robust least-squares problem per keypoint, linearised about the exact
projection (offsets are centimetres at metres of depth). The cameras' focal
lengths and centres are recovered from each item's exact 2D and 3D keypoints.

Robustness: iteratively reweighted with a Cauchy weight of scale 3 % of the
person's box (MediaPipe's left/right swaps and lost limbs count little), and
only landmarks of visibility ≥ 0.5. Left and right twins share one mirrored
offset, and midline points stay on the midline. Offsets are fitted on the
even-numbered items and scored on the odd ones (median landmark distance, %
of the box); a keypoint (pair) keeps its offset only when that held-out
median falls by at least 2 %. The shipped offsets are then refitted on all items.

    python -m vibe.evaluation.keypoint_calibration CORPUS_DIR --out src/vibe/resources/anny/detector_offsets.json
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vibe.body.anny import BLAZEPOSE33, Anny

__all__ = ["CorpusTrack", "load_tracks", "keypoint_bones", "keypoint_groups", "fit_offset", "calibrate"]

log = logging.getLogger(__name__)

MIN_VISIBILITY = 0.5
CAUCHY_SCALE_BOX = 0.03
MIN_GAIN = 0.02


@dataclass
class CorpusTrack:
    """One corpus item's frames with a pose: arrays ``(n, ...)``.

    Attributes:
        index: the item's number (even: fitting half, odd: held-out half).
        landmarks_img: ``(n, 33, 3)`` MediaPipe pixels and visibility.
        keypoints2d: ``(n, 33, 2)`` the exact keypoints' pixels.
        keypoints3d: ``(n, 33, 3)`` the same, camera frame (metres).
        bone_rotmat: ``(n, J, 3, 3)`` skinning rotations, camera frame.
        focal: ``(2,)`` fx, fy pixels.
        box: ``(n,)`` the demo's person box side, pixels.
    """

    index: int
    landmarks_img: np.ndarray
    keypoints2d: np.ndarray
    keypoints3d: np.ndarray
    bone_rotmat: np.ndarray
    focal: np.ndarray
    box: np.ndarray


def _focal(keypoints3d: np.ndarray, keypoints2d: np.ndarray) -> np.ndarray:
    """``(2,)`` fx, fy of ``u = f X / Z + c`` from ``(N, 3)`` camera points and ``(N, 2)`` pixels."""
    out = []
    for axis in (0, 1):
        design = np.stack([keypoints3d[:, axis] / keypoints3d[:, 2], np.ones(len(keypoints3d))], -1)
        out.append(np.linalg.lstsq(design, keypoints2d[:, axis], rcond=None)[0][0])
    return np.array(out)


def load_tracks(corpus: Path, body: Anny) -> list[CorpusTrack]:
    """The corpus items (``track_*.npz``) with at least 5 frames where MediaPipe found a pose."""
    evaluator = body.keypoint_evaluator(["blazepose33"])
    tracks = []
    for path in sorted(Path(corpus).glob("track_*.npz")):
        with np.load(path) as item:
            found = np.isfinite(item["landmarks_img"][..., 0]).all(-1)
            if found.sum() < 5:
                continue
            kp2d, kp3d = item["keypoints2d"][found].astype(np.float64), item["keypoints3d"][found].astype(np.float64)
            with torch.no_grad():
                pose = torch.as_tensor(item["pose_rotmat"][found], dtype=body.dtype)[None]
                rot = evaluator.bone_rotations(pose, torch.as_tensor(item["shape"], dtype=body.dtype)[None])[0]
            tracks.append(CorpusTrack(
                index=int(path.stem.split("_")[-1]),
                landmarks_img=item["landmarks_img"][found].astype(np.float64),
                keypoints2d=kp2d, keypoints3d=kp3d, bone_rotmat=rot.double().numpy(),
                focal=_focal(kp3d.reshape(-1, 3), kp2d.reshape(-1, 2)),
                box=item["bbox_cxcys"][found, 2].astype(np.float64),
            ))  # fmt: skip
    return tracks


def keypoint_bones(body: Anny) -> list[int]:
    """Per ``blazepose33`` keypoint, the bone carrying most of its skinning weight."""
    w_vert = getattr(body, "_kp_blazepose33_vert").double()  # (K, V)
    return (w_vert @ body.skinning_weights.double()).argmax(1).tolist()


def _system(tracks: list[CorpusTrack], k: int, bone: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linearised problem of keypoint ``k``.

    Returns maps ``(N, 2, 3)`` from δ to pixels, residuals ``(N, 2)`` and box sides ``(N,)``.
    """
    maps, residuals, boxes = [], [], []
    for t in tracks:
        seen = t.landmarks_img[:, k, 2] >= MIN_VISIBILITY
        if not seen.any():
            continue
        x, y, z = t.keypoints3d[seen, k].T
        jac = np.zeros((int(seen.sum()), 2, 3))
        jac[:, 0, 0], jac[:, 0, 2] = t.focal[0] / z, -t.focal[0] * x / z**2
        jac[:, 1, 1], jac[:, 1, 2] = t.focal[1] / z, -t.focal[1] * y / z**2
        maps.append(jac @ t.bone_rotmat[seen, bone])
        residuals.append(t.landmarks_img[seen, k, :2] - t.keypoints2d[seen, k])
        boxes.append(t.box[seen])
    return np.concatenate(maps), np.concatenate(residuals), np.concatenate(boxes)


def fit_offset(maps: np.ndarray, residuals: np.ndarray, boxes: np.ndarray, iterations: int = 10) -> np.ndarray:
    """``(3,)`` δ minimising the Cauchy-weighted ``|maps δ − residuals|`` (in box sides).

    Shapes as :func:`_system` returns them.
    """
    offset = np.zeros(3)
    for _ in range(iterations):
        error = np.linalg.norm(residuals - maps @ offset, axis=-1) / boxes
        weight = 1.0 / (1.0 + (error / CAUCHY_SCALE_BOX) ** 2)
        normal = np.einsum("n,nij,nik->jk", weight, maps, maps)
        rhs = np.einsum("n,nij,ni->j", weight, maps, residuals)
        offset = np.linalg.solve(normal + 1e-9 * np.trace(normal) * np.eye(3), rhs)
    return offset


def _median_error(maps: np.ndarray, residuals: np.ndarray, boxes: np.ndarray, offset: np.ndarray) -> float:
    """Median landmark distance after the offset, % of the box."""
    return float(np.median(np.linalg.norm(residuals - maps @ offset, axis=-1) / boxes) * 100.0)


# The person's left is +x at rest: a right twin's offset is its left one mirrored, a midline point's has no x.
_MIRROR = np.diag([-1.0, 1.0, 1.0])
_MIDLINE = np.diag([0.0, 1.0, 1.0])


def keypoint_groups() -> list[list[tuple[int, np.ndarray]]]:
    """``blazepose33`` keypoints fitted together: (index, map from the group's offset to the keypoint's).

    Left and right twins share one offset, mirrored (BlazePose is symmetric; fitting
    them apart only adds noise); a midline point's offset stays on the midline.
    """
    groups = []
    for k, name in enumerate(BLAZEPOSE33):
        if "left" in name:
            groups.append([(k, np.eye(3)), (BLAZEPOSE33.index(name.replace("left", "right")), _MIRROR)])
        elif "right" not in name:
            groups.append([(k, _MIDLINE)])
    return groups


def _group_system(tracks: list[CorpusTrack], group: list[tuple[int, np.ndarray]], bones: list[int]):
    """:func:`_system` of every member, mapped from the group's one offset and stacked."""
    parts = [_system(tracks, k, bones[k]) for k, _ in group]
    maps = np.concatenate([m @ to_member for (m, _, _), (_, to_member) in zip(parts, group)])
    return maps, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def calibrate(tracks: list[CorpusTrack], body: Anny) -> dict:
    """The offsets file's content (module docstring): kept keypoints' bone and offset, and every group's scores."""
    bones = keypoint_bones(body)
    fitting = [t for t in tracks if t.index % 2 == 0]
    held_out = [t for t in tracks if t.index % 2 == 1]
    keep, scores = {}, {}
    for group in keypoint_groups():
        trial = fit_offset(*_group_system(fitting, group, bones))
        test = _group_system(held_out, group, bones)
        before, after = _median_error(*test, np.zeros(3)), _median_error(*test, trial)
        name = BLAZEPOSE33[group[0][0]]
        scores[name] = {"held_out_median_pct": [round(before, 3), round(after, 3)]}
        if after > (1.0 - MIN_GAIN) * before:
            continue
        offset = fit_offset(*_group_system(tracks, group, bones))
        for k, to_member in group:
            rounded = [round(float(v), 4) + 0.0 for v in to_member @ offset]  # + 0.0: no "-0.0"
            keep[BLAZEPOSE33[k]] = {"bone": body.joint_names[bones[k]], "offset_m": rounded}
    return {"keypoints": keep, "scores": scores}


def main(argv: list[str] | None = None) -> None:
    """Command line: fit the offsets from a corpus and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    body = Anny()
    tracks = load_tracks(args.corpus, body)
    result = calibrate(tracks, body)
    frames = sum(len(t.box) for t in tracks)
    about = {
        "about": "blazepose33 keypoint offsets towards MediaPipe's landmarks on rendered Anny bodies "
        "(vibe.body.keypoint_offsets); made by python -m vibe.evaluation.keypoint_calibration",
        "corpus_items": len(tracks),
        "corpus_frames": frames,
        "frame": "metres, world axes (y up, +z the body's front) at rest, riding on the bone",
    }
    args.out.write_text(json.dumps({**about, **result}, indent=1) + "\n")
    for name, score in result["scores"].items():
        before, after = score["held_out_median_pct"]
        kept = "" if name in result["keypoints"] else "  (not kept)"
        log.info("%-18s held-out median %.2f -> %.2f %%%s", name, before, after, kept)
    n_kept = len(result["keypoints"])
    log.info("%d of 33 offsets kept, %d items, %d frames -> %s", n_kept, len(tracks), frames, args.out)


if __name__ == "__main__":
    main()
