"""Gravity from the scene's straight lines: vanishing points of horizontal edges fix the up direction.

A static camera sees the scene's edges (floor tiles, walls, doors, kerbs). Parallel
3D lines meet in the image at a vanishing point, whose 3D direction (camera frame)
is the lines' direction. Given the focal, an image segment with end rays ``r1, r2``
(``((u − c)/f, 1)``) spans the *interpretation plane* through the camera centre with
unit normal ``m = r1 × r2 / |r1 × r2|``; a 3D line it shows has a direction ``d``
with ``m·d = 0``, so a family of parallel lines has the direction ``v`` that makes
all of its ``m·v`` zero.

:func:`vanishing_directions` finds the strongest families one after the other
(RANSAC on pairs of segments, inliers: the segment points at the vanishing point
within ``tol_deg`` in the image; refit: the smallest eigenvector of ``Σ w m mᵀ`` over the inliers, weights = squared
lengths, as a longer segment's direction is surer). A family within
``merge_deg`` of a stronger one is the same family's stragglers: its segments are
dropped, not counted as a family. :func:`scene_up` then reads gravity from
them: a family whose direction is within ``max_tilt_deg`` of horizontal (with
respect to a prior up, the bodies' vertical) is horizontal, one within that of
the prior is vertical. Two horizontal families at least ``min_spread_deg`` apart
give ``up = v1 × v2``; one gives the prior made orthogonal to it (a receding family,
tiles or a corridor going away from the camera, fixes the pitch; a lateral one the
roll); a vertical one gives its own direction.

The answer depends on the focal (``tan`` of the pitch scales with it) and holds
only for scenes with straight horizontal or vertical edges: :class:`SceneUp` says
how much line length agrees, for the caller to decide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SceneUp", "VanishingFamily", "interpretation_planes", "scene_up", "vanishing_directions"]


@dataclass(frozen=True)
class VanishingFamily:
    """Segments that meet at one vanishing point.

    Attributes:
        direction_cam: ``(3,)`` unit 3D direction of the family's lines, camera frame (sign arbitrary).
        length_px: the inliers' total length; inliers: their number.
    """

    direction_cam: np.ndarray
    length_px: float
    inliers: int


@dataclass(frozen=True)
class SceneUp:
    """The scene's up direction and the families behind it.

    Attributes:
        up_cam: ``(3,)`` unit up direction, camera frame (on the prior's side).
        families: the horizontal or vertical families used (1 to 3).
        length_px: their inliers' total length.
        angle_to_prior_deg: angle between ``up_cam`` and the prior.
        full: True when the families fix both pitch and roll (two horizontal, or a vertical one).
        stiffness: ``(3, 3)`` how firmly the lines hold each tilt: their normal matrix
            (``Σ_h L_h v_h v_hᵀ + Σ_v L_v (I − v_v v_vᵀ)``, ``up_cam`` nearly its null direction)
            over its largest eigenvalue; a tilt that only a short family fixes is held loosely.
    """

    up_cam: np.ndarray
    families: tuple[VanishingFamily, ...]
    length_px: float
    angle_to_prior_deg: float
    full: bool
    stiffness: np.ndarray


def interpretation_planes(segments_px: np.ndarray, focal_px: float, principal_px: np.ndarray) -> np.ndarray:
    """``(N, 3)`` unit normals of the planes through the camera centre and each segment ``(N, 4)`` (x1, y1, x2, y2)."""
    seg = np.asarray(segments_px, np.float64).reshape(-1, 4)
    ones = np.ones((len(seg), 1))
    r1 = np.concatenate([(seg[:, :2] - principal_px) / focal_px, ones], axis=1)
    r2 = np.concatenate([(seg[:, 2:] - principal_px) / focal_px, ones], axis=1)
    m = np.cross(r1, r2)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def _pointing_sin(segments_px: np.ndarray, directions: np.ndarray, focal_px: float, principal_px) -> np.ndarray:
    """``(V, N)`` |sin| of the image angle between each segment and the line from its midpoint to each
    vanishing point of 3D directions ``(V, 3)`` (camera frame; a point at infinity is a direction)."""
    mid = (segments_px[:, :2] + segments_px[:, 2:]) / 2.0  # (N, 2)
    along = segments_px[:, 2:] - segments_px[:, :2]
    along /= np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-9)
    vp = np.stack([focal_px * directions[:, 0] + principal_px[0] * directions[:, 2],
                   focal_px * directions[:, 1] + principal_px[1] * directions[:, 2], directions[:, 2]], -1)  # fmt: skip
    to_vp = vp[:, None, :2] - mid[None] * vp[:, None, 2:]  # (V, N, 2) homogeneous: w·(p − mid)
    to_vp /= np.maximum(np.linalg.norm(to_vp, axis=-1, keepdims=True), 1e-12)
    return np.abs(to_vp[..., 0] * along[None, :, 1] - to_vp[..., 1] * along[None, :, 0])


def _refit(planes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(3,)`` the direction most orthogonal to the weighted plane normals (smallest eigenvector)."""
    scatter = (planes * weights[:, None]).T @ planes
    return np.linalg.eigh(scatter)[1][:, 0]


def vanishing_directions(
    segments_px: np.ndarray,
    focal_px: float,
    principal_px: np.ndarray,
    families: int = 3,
    tol_deg: float = 1.5,
    merge_deg: float = 5.0,
    iterations: int = 500,
    min_inliers: int = 5,
    seed: int = 0,
) -> list[VanishingFamily]:
    """The strongest ``families`` vanishing directions of segments ``(N, 4)`` (pixels), strongest first (module doc)."""
    seg = np.asarray(segments_px, np.float64).reshape(-1, 4)
    principal = np.asarray(principal_px, np.float64)
    planes = interpretation_planes(seg, focal_px, principal)
    lengths = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    tol = np.full(len(seg), np.sin(np.radians(tol_deg)))
    rng, left, found = np.random.default_rng(seed), np.ones(len(seg), bool), []
    for _ in range(families + 2):  # room for stragglers merged away
        idx = np.flatnonzero(left)
        if len(idx) < max(min_inliers, 2):
            break
        pairs = rng.integers(0, len(idx), size=(iterations, 2))
        candidates = np.cross(planes[idx[pairs[:, 0]]], planes[idx[pairs[:, 1]]])
        norms = np.linalg.norm(candidates, axis=1)
        candidates = candidates[norms > 1e-6] / norms[norms > 1e-6, None]
        if not len(candidates):
            break
        inlier = (_pointing_sin(seg[idx], candidates, focal_px, principal) < tol[idx]) * lengths[idx]
        best = candidates[int(np.argmax(inlier.sum(axis=1)))]
        for _ in range(3):  # refit on the inliers, which the refit may change
            members = idx[_pointing_sin(seg[idx], best[None], focal_px, principal)[0] < tol[idx]]
            if len(members) < 2:
                break
            best = _refit(planes[members], lengths[members] ** 2)
        members = idx[_pointing_sin(seg[idx], best[None], focal_px, principal)[0] < tol[idx]]
        if len(members) < min_inliers:
            break
        left[members] = False
        if all(np.linalg.norm(np.cross(best, f.direction_cam)) > np.sin(np.radians(merge_deg)) for f in found):
            found.append(VanishingFamily(best, float(lengths[members].sum()), len(members)))
        if len(found) == families:
            break
    return found


def _fit_up(horizontal: list[VanishingFamily], vertical: list[VanishingFamily], up0: np.ndarray,
            prior_share: float) -> tuple[np.ndarray, bool, np.ndarray]:  # fmt: skip
    """``(up (3,), full, stiffness (3, 3))``: the least-squares up of :func:`scene_up`'s objective, on the
    prior's side, and the lines' normal matrix over its largest eigenvalue (:class:`SceneUp`)."""
    normal = np.zeros((3, 3))
    for f in horizontal:
        normal += f.length_px * np.outer(f.direction_cam, f.direction_cam)
    for f in vertical:
        normal += f.length_px * (np.eye(3) - np.outer(f.direction_cam, f.direction_cam))
    values = np.linalg.eigvalsh(normal)
    full = bool(values[1] > 0.1 * values[2])  # the lines alone fix two directions of tilt
    stiffness = normal / max(values[2], 1e-12)
    total = sum(f.length_px for f in horizontal + vertical)
    normal = normal + prior_share * total * (np.eye(3) - np.outer(up0, up0))
    up = np.linalg.eigh(normal)[1][:, 0]
    return up * np.sign(up @ up0 or 1.0), full, stiffness


def _split(families: list[VanishingFamily], up: np.ndarray, tilt_deg: float):
    """The families within ``tilt_deg`` of horizontal, and those within it of ``up`` (vertical)."""
    sin_tilt = np.sin(np.radians(tilt_deg))
    horizontal = [f for f in families if abs(f.direction_cam @ up) < sin_tilt]
    vertical = [f for f in families if np.linalg.norm(np.cross(f.direction_cam, up)) < sin_tilt]
    return horizontal, vertical


def _consensus(candidates: list[np.ndarray], horizontal: list[VanishingFamily], vertical: list[VanishingFamily],
               up0: np.ndarray, keep_tilt_deg: float, max_tilt_deg: float) -> np.ndarray:  # fmt: skip
    """``(3,)`` of ``candidates`` and the ups each pair of horizontal families (their cross product, when at
    least 10° apart) or each vertical family gives, within ``max_tilt_deg`` of ``up0``, the one whose
    horizontal and vertical (within ``keep_tilt_deg``) hold the most line length; the first of equals.

    A least-squares fit over every family within a wide window is turned by a stray family: with
    a receding one 13° off horizontal beside a tiled floor's two, and the bodies' up 16° off in
    pitch, only the floor's lateral family stayed within ``keep_tilt_deg`` of that fit.
    """
    families = horizontal + vertical
    candidates = list(candidates)
    for i, a in enumerate(horizontal):
        for b in horizontal[i + 1 :]:
            cross = np.cross(a.direction_cam, b.direction_cam)
            if np.linalg.norm(cross) > np.sin(np.radians(10.0)):
                candidates.append(cross / np.linalg.norm(cross))
    candidates += [f.direction_cam for f in vertical]
    candidates = [c * np.sign(c @ up0 or 1.0) for c in candidates]
    cos_max = np.cos(np.radians(max_tilt_deg))
    candidates = candidates[:1] + [c for c in candidates[1:] if c @ up0 >= cos_max]

    def support(up: np.ndarray) -> float:
        kept = _split(families, up, keep_tilt_deg)
        return sum(f.length_px for f in kept[0] + kept[1])

    return max(candidates, key=support)


def scene_up(
    families: list[VanishingFamily],
    up_prior_cam: np.ndarray,
    max_tilt_deg: float = 35.0,
    keep_tilt_deg: float = 3.0,
    prior_share: float = 0.01,
) -> SceneUp | None:
    """Gravity from vanishing directions near horizontal or near ``up_prior_cam`` (module doc); None without any.

    The up direction minimises ``Σ_h L_h (u·v_h)² + Σ_v L_v |u × v_v|² + ε |u × g|²`` over the
    horizontal families ``h`` and the vertical ones ``v`` (``L``: inlier length), ``g`` the prior
    with ``ε = prior_share · Σ L``: the prior only decides what the lines leave free
    (with a single horizontal family, the tilt about its direction). Families are first
    taken within ``max_tilt_deg`` of the prior's horizontal or vertical, then, once more,
    only those within ``keep_tilt_deg`` of the answer that most of their length agrees
    with (:func:`_consensus`: a stray family drops out instead of turning the answer).
    """
    up0 = np.asarray(up_prior_cam, np.float64) / np.linalg.norm(up_prior_cam)
    horizontal, vertical = _split(families, up0, max_tilt_deg)
    if not horizontal and not vertical:
        return None
    up, full, stiffness = _fit_up(horizontal, vertical, up0, prior_share)
    up = _consensus([up], horizontal, vertical, up0, keep_tilt_deg, max_tilt_deg)
    kept = _split(horizontal + vertical, up, keep_tilt_deg)
    if kept[0] or kept[1]:
        horizontal, vertical = kept
        up, full, stiffness = _fit_up(horizontal, vertical, up0, prior_share)
    angle = float(np.degrees(np.arccos(np.clip(up @ up0, -1.0, 1.0))))
    used = tuple(horizontal + vertical)
    return SceneUp(up, used, float(sum(f.length_px for f in used)), angle, full, stiffness)
