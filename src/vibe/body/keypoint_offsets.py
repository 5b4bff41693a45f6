"""Keypoints moved rigidly with a bone, as zero-sum vertex weights.

MediaPipe's BlazePose places its landmarks a few centimetres from where
Anny's ``blazepose33`` keypoints are defined (the face points ~4 cm higher,
the ears further out, the hips ~2 cm outwards): on rendered Anny bodies whose
keypoints are known exactly, the median distance between the two is 1.7 % of
the person's box (``vibe.evaluation.keypoint_calibration``). Fitting a body to
the landmarks with the unmoved keypoints bends the body to absorb that gap.

A rest-frame offset ``δ`` that rides on bone ``b`` is added to a keypoint as a
combination of vertices skinned to ``b`` alone whose weights sum to zero and
whose rest positions combine to ``δ``: posed, such vertices move as
``R_b x + t_b``, so the combination moves as ``R_b δ`` whatever the pose, and
the keypoint stays an affine combination of vertices (every evaluator of
:class:`~vibe.body.anny.Anny`, the mesh one and the sparse one, agrees). The
vertices follow the body's shape, so the offset scales with the body.
"""

from __future__ import annotations

import json
from importlib import resources

import torch

__all__ = ["DETECTOR_SET", "load_detector_offsets", "offset_vertex_weights"]

DETECTOR_SET = "blazepose33_detector"  # blazepose33 moved to where BlazePose puts its landmarks
_RESOURCE = "resources/anny/detector_offsets.json"


def load_detector_offsets() -> dict[str, tuple[str, tuple[float, float, float]]]:
    """BlazePose keypoint name → (bone name, offset in metres, world axes at rest), from the shipped file.

    Empty when the file is absent (a rig without it gets no detector set).
    """
    source = resources.files("vibe").joinpath(_RESOURCE)
    if not source.is_file():
        return {}
    data = json.loads(source.read_text())
    return {name: (entry["bone"], tuple(entry["offset_m"])) for name, entry in data["keypoints"].items()}


def offset_vertex_weights(
    rest_vertices: torch.Tensor,
    bone_weights: torch.Tensor,
    bone_indices: torch.Tensor,
    bone: int,
    offset: torch.Tensor,
    min_weight: float = 0.99,
) -> torch.Tensor:
    """``(V,)`` zero-sum weights of vertices rigid to ``bone`` whose rest positions combine to ``offset``.

    The minimum-norm solution of ``Σ w_v x_v = offset, Σ w_v = 0`` over the
    vertices whose skinning weight on ``bone`` is at least ``min_weight``.

    Args:
        rest_vertices: ``(V, 3)`` rest mesh (any frame; ``offset`` in the same one).
        bone_weights, bone_indices: ``(V, M)`` sparse skinning (weights, bone indices).
        bone: index of the bone the offset rides on.
        offset: ``(3,)``.
    """
    rigid = ((bone_indices == bone) & (bone_weights >= min_weight)).any(1)
    if int(rigid.sum()) < 4:
        raise ValueError(f"bone {bone} has fewer than 4 rigid vertices")
    points = rest_vertices[rigid].double()  # (n, 3)
    # Centred columns keep the 4×4 system well conditioned; Σ w = 0 makes the centre irrelevant.
    system = torch.cat([(points - points.mean(0)).T, torch.ones(1, len(points), dtype=torch.float64)])  # (4, n)
    target = torch.cat([offset.double(), torch.zeros(1, dtype=torch.float64)])
    weights = system.T @ torch.linalg.solve(system @ system.T, target)
    out = torch.zeros(rest_vertices.shape[0], dtype=torch.float64)
    out[rigid] = weights
    return out
