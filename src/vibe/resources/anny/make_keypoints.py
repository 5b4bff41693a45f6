"""Regenerate ``keypoints.json``: the mesh vertices behind Anny's extra keypoints.

Run once, offline (building the ``anny`` rig takes about a minute the first
time), from the repository root::

    .venv/bin/python src/vibe/resources/anny/make_keypoints.py

Every keypoint is a fixed affine combination of vertices of Anny's default
``anny`` topology (13718 vertices, the same for every rig), chosen on the rest
mesh of the default phenotype (every phenotype parameter 0.5), in anny's own
z-up frame (x: the person's left, -y: forward). The rules, per keypoint:

- eye inner/outer corners: the rim of the eye opening is the set of skin
  ("head" region) vertices that also belong to the eye-cavity region of anny's
  body-part segmentation; the inner corner is the rim vertex nearest the
  midline (smallest ``|x|``), the outer corner the farthest.
- mouth corners: the same with the mouth-cavity region (the lip line); left is
  the rim vertex of largest ``x``, right of smallest ``x``.
- pinky / index / thumb (BlazePose): the mean of the 8 hand-region vertices
  nearest to a joint of anny's ``anny`` rig in rest pose: the pinky and index
  knuckles (heads of ``finger5-1`` and ``finger2-1``) and the thumb's
  interphalangeal joint (head of ``finger1-3``).
- foot index (toe tip): the most forward (smallest ``y``) vertex of the foot
  region.
- head top: the highest vertex of the mesh.
- neck: the midpoint of the most forward and the most backward vertex of the
  midsagittal slab (``|x| < 6 mm``) within 1.5 cm of the height of the
  ``cmu_mb`` rig's ``Neck`` bone head (the base of the neck).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _region_vertices(model, faces: np.ndarray, label: str) -> np.ndarray:
    from anny.face_segmentation import get_face_segmentation_mask

    mask = get_face_segmentation_mask(model, [label]).cpu().numpy()
    return np.unique(faces[mask])


def _single(index: int, rule: str) -> dict:
    return {"vertices": [int(index)], "weights": [1.0], "rule": rule}


def select_keypoints() -> dict:
    """Apply the rules of the module docstring; returns the JSON-ready dict."""
    import anny

    cmu = anny.Anny(rig="cmu_mb", skinning_method="lbs")
    full = anny.Anny(rig="anny", skinning_method="lbs")
    faces = cmu.faces.cpu().numpy()
    rest = cmu()
    verts = rest["rest_vertices"][0].cpu().numpy()
    heads_cmu = rest["rest_bone_heads"][0].cpu().numpy()
    heads_full = full()["rest_bone_heads"][0].cpu().numpy()
    if not np.allclose(full()["rest_vertices"][0].cpu().numpy(), verts):
        raise RuntimeError("the two rigs do not share the rest mesh")

    head = set(_region_vertices(cmu, faces, "head").tolist())
    out: dict[str, dict] = {}

    for side, sign in (("left", 1.0), ("right", -1.0)):
        s = "L" if side == "left" else "R"
        cavity = set(_region_vertices(cmu, faces, f"eye_cavity.{s}").tolist())
        rim = np.array(sorted(head & cavity))
        ax = np.abs(verts[rim, 0])
        out[f"{side}_eye_inner"] = _single(rim[np.argmin(ax)], "eye-opening rim vertex nearest the midline")
        out[f"{side}_eye_outer"] = _single(rim[np.argmax(ax)], "eye-opening rim vertex farthest from the midline")

        hand = _region_vertices(cmu, faces, f"hand.{s}")
        for name, bone in (("pinky", "finger5-1"), ("index", "finger2-1"), ("thumb", "finger1-3")):
            joint = heads_full[full.bone_labels.index(f"{bone}.{s}")]
            nearest = hand[np.argsort(np.linalg.norm(verts[hand] - joint, axis=1))[:8]]
            out[f"{side}_{name}"] = {
                "vertices": [int(i) for i in nearest],
                "weights": [1.0 / len(nearest)] * len(nearest),
                "rule": f"mean of the 8 hand vertices nearest to the head of anny-rig bone {bone}.{s}",
            }

        foot = _region_vertices(cmu, faces, f"foot.{s}")
        out[f"{side}_foot_index"] = _single(foot[np.argmin(verts[foot, 1])], "most forward foot vertex")

        lips = np.array(sorted(head & set(_region_vertices(cmu, faces, "mouth_cavity").tolist())))
        pick = np.argmax(sign * verts[lips, 0])
        out[f"mouth_{side}"] = _single(lips[pick], "lip-line vertex farthest on that side")

    out["head_top"] = _single(int(np.argmax(verts[:, 2])), "highest vertex")

    neck_z = heads_cmu[cmu.bone_labels.index("Neck"), 2]
    slab = np.flatnonzero((np.abs(verts[:, 0]) < 0.006) & (np.abs(verts[:, 2] - neck_z) < 0.015))
    front, back = slab[np.argmin(verts[slab, 1])], slab[np.argmax(verts[slab, 1])]
    out["neck"] = {
        "vertices": [int(front), int(back)],
        "weights": [0.5, 0.5],
        "rule": "midpoint of the front and back midline vertices at the height of the Neck bone head",
    }
    return {
        "about": "Anny keypoint vertices; regenerate with make_keypoints.py (rules in its docstring)",
        "anny_version": anny.__version__,
        "topology": "anny",
        "num_vertices": int(verts.shape[0]),
        "keypoints": dict(sorted(out.items())),
    }


def main() -> None:
    path = Path(__file__).with_name("keypoints.json")
    path.write_text(json.dumps(select_keypoints(), indent=1) + "\n")


if __name__ == "__main__":
    main()
