"""The ground plane from foot-contact points, and the y-up world frame it defines.

The plane is fitted in the camera frame (OpenCV: x right, y down, z forward,
metres) to the 3D points where feet touch the ground, robustly (RANSAC, then
a least-squares refit on the inliers). Its normal is pulled towards a prior
"up" direction (the bodies' own vertical when they stand) with a weight worth
``prior_spread_m`` of point spread: points spread over a few metres (people
walking about) decide the tilt themselves, points bunched under one standing
person (a few decimetres) leave it mostly to the prior. The fit minimises

    Σ_i (n·(p_i − c))² + λ (1 − (n·g)²),   λ = N · prior_spread_m²,

over unit normals ``n`` (``c`` the inliers' centroid, ``g`` the prior), i.e.
``n`` is the eigenvector of the smallest eigenvalue of ``C + λ (I − g gᵀ)``. A prior
that knows one tilt better than the other (the scene's lines,
:mod:`vibe.geometry.vanishing`) gives its own stiffness ``S`` (3 × 3, largest
eigenvalue 1, ``g`` its null direction) in place of ``I − g gᵀ``.

:func:`world_from_ground` turns a plane into the world frame of the project
(DESIGN §7): y up along the normal, the ground at y = 0, z pointing back
towards the camera along its heading projected on the ground (so x is the
camera's right), origin at a chosen point of the ground.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GroundPlane", "fit_ground_plane", "plane_with_prior", "world_from_ground"]


@dataclass(frozen=True)
class GroundPlane:
    """A plane ``{p : normal·p + offset = 0}`` in the camera frame.

    Attributes:
        normal_cam: ``(3,)`` unit normal pointing up (away from the ground, to the side above it).
        offset_m: ``normal·p + offset`` is the height of ``p`` above the plane; for
            the camera centre (``p = 0``) it is ``offset_m``: the camera's height.
        n_points: points given; n_inliers: points within the inlier distance.
        rms_m: root-mean-square distance of the inliers to the plane.
        prior_share: how much of the fit's curvature the prior supplied (0: the
            points alone decide the tilt, 1: the prior alone).
    """

    normal_cam: np.ndarray
    offset_m: float
    n_points: int
    n_inliers: int
    rms_m: float
    prior_share: float

    def height(self, points_cam: np.ndarray) -> np.ndarray:
        """``(...)`` signed height above the plane of points ``(..., 3)``, metres."""
        return np.asarray(points_cam) @ self.normal_cam + self.offset_m


def plane_with_prior(
    points: np.ndarray, up_prior: np.ndarray, prior_spread_m: float, stiffness: np.ndarray | None = None
) -> tuple[np.ndarray, float, float]:
    """Least-squares plane through ``points`` ``(N, 3)`` with the normal pulled to ``up_prior`` ``(3,)``.

    ``stiffness``: ``(3, 3)`` the prior's per-tilt weight (module doc), default ``I − g gᵀ``.

    Returns:
        ``(normal (3,), offset, prior_share)``; the normal points to the side of ``up_prior``.
    """
    g = up_prior / np.linalg.norm(up_prior)
    centre = points.mean(axis=0)
    d = points - centre
    scatter = d.T @ d
    lam = len(points) * prior_spread_m**2
    prior = lam * (np.eye(3) - np.outer(g, g) if stiffness is None else stiffness)
    values, vectors = np.linalg.eigh(scatter + prior)
    normal = vectors[:, 0]
    if normal @ g < 0:
        normal = -normal
    tangent_scatter = np.trace(scatter) - normal @ scatter @ normal
    share = 2 * lam / (2 * lam + tangent_scatter) if lam > 0 else 0.0
    return normal, float(-normal @ centre), float(share)


def _ransac_normals(points: np.ndarray, up: np.ndarray, rng: np.random.Generator, iterations: int, max_tilt_deg: float):
    """Candidate planes ``(normal, offset)``: ``up`` itself, then random triples within ``max_tilt_deg`` of it."""
    yield up, float(-np.median(points @ up))  # the prior's plane through the median height
    if len(points) < 3:
        return
    cos_max = np.cos(np.radians(max_tilt_deg))
    for _ in range(iterations):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        normal = np.cross(b - a, c - a)
        norm = np.linalg.norm(normal)
        if norm < 1e-9:
            continue
        normal = normal / norm * np.sign(normal @ up or 1.0)
        if normal @ up >= cos_max:
            yield normal, float(-normal @ a)


def fit_ground_plane(
    points_cam: np.ndarray,
    up_prior_cam: np.ndarray,
    prior_spread_m: float = 0.35,
    inlier_m: float = 0.05,
    iterations: int = 300,
    max_tilt_deg: float = 35.0,
    seed: int = 0,
    stiffness: np.ndarray | None = None,
    below_weight: float = 0.0,
) -> GroundPlane:
    """Robust ground plane of foot-contact points.

    Args:
        points_cam: ``(N, 3)`` contact points, camera frame, metres (N ≥ 1).
        up_prior_cam: ``(3,)`` prior up direction in the camera frame (e.g. the
            bodies' vertical; OpenCV's y points down, so usually ``y < 0``).
        prior_spread_m: worth of the prior, in metres of point spread (module doc).
        inlier_m: distance to the plane under which a point is an inlier.
        iterations: RANSAC triples tried.
        max_tilt_deg: candidate normals further than this from the prior are ignored.
        seed: RANSAC's random generator.
        stiffness: ``(3, 3)`` the prior's weight per tilt (:func:`plane_with_prior`), or None (the same for both).
        below_weight: a candidate plane's score is its inliers minus this many per point further
            than ``inlier_m`` under it (0: inliers alone). Contact points come from feet, which
            do not go under the floor but may be labelled still in the air.

    Returns:
        The refitted :class:`GroundPlane` (its normal on the prior's side).
    """
    points = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        raise ValueError("no contact point to fit a ground plane to")
    up = np.asarray(up_prior_cam, dtype=np.float64)
    up = up / np.linalg.norm(up)
    rng = np.random.default_rng(seed)
    best, best_count = None, -np.inf
    for normal, offset in _ransac_normals(points, up, rng, iterations, max_tilt_deg):
        heights = points @ normal + offset
        count = int(np.sum(np.abs(heights) < inlier_m)) - below_weight * int(np.sum(heights < -inlier_m))
        if count > best_count:
            best, best_count = (normal, offset), count
    normal, offset = best
    share = 1.0
    for _ in range(3):  # refit on the inliers, which the refit may change
        inliers = np.abs(points @ normal + offset) < inlier_m
        if not inliers.any():
            break
        normal, offset, share = plane_with_prior(points[inliers], up, prior_spread_m, stiffness)
    inliers = np.abs(points @ normal + offset) < inlier_m
    rms = float(np.sqrt(np.mean((points[inliers] @ normal + offset) ** 2))) if inliers.any() else float("nan")
    return GroundPlane(normal, float(offset), len(points), int(inliers.sum()), rms, share)


def world_from_ground(plane: GroundPlane, origin_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The world frame on ``plane``: ``R_world_cam (3, 3)`` and the camera position ``(3,)`` in it.

    World axes: y = the plane's normal (up), z = minus the camera's optical
    axis projected on the ground (towards the camera), x = y × z (the camera's
    right, projected). The origin is ``origin_cam`` ``(3,)`` dropped onto the
    plane, so ``p_world = R_world_cam (p_cam − o)`` with ``o`` on the plane.

    Raises:
        ValueError: the camera looks straight down or up (no heading).
    """
    y = plane.normal_cam
    forward = np.array([0.0, 0.0, 1.0])
    heading = forward - (forward @ y) * y
    if np.linalg.norm(heading) < 1e-6:
        raise ValueError("the camera looks along the plane's normal: its heading is undefined")
    z = -heading / np.linalg.norm(heading)
    x = np.cross(y, z)
    r_world_cam = np.stack([x, y, z])
    origin = np.asarray(origin_cam, dtype=np.float64)
    origin = origin - plane.height(origin) * y
    return r_world_cam, -r_world_cam @ origin
