"""A person's metric translation over a whole track, in one sparse linear least-squares solve.

The body's posed keypoints ``P_k,i`` (body frame, metres: orientation and
articulation already applied, no translation) are placed in the camera frame
(OpenCV, metres) by a translation ``t_k`` per frame. All terms are linear in
the ``t_k``, so the whole track is solved at once, offline, with every frame
seeing the past and the future alike (no lag):

- **image**: a pinhole camera of focal ``f`` and principal point ``c`` sees
  keypoint ``i`` at its detected pixel ``u``: ``f (X + t_x) − (u_x − c_x)(Z + t_z) = 0``
  (and the same for y), divided by the point's current depth estimate so the
  residual is in pixels, and by the detection's standard deviation. The
  body's metric size against its size in the image fixes the depth;
- **ground** (optional): a foot in contact lies on the ground plane,
  ``n·(P_foot + t) + d = 0``;
- **no sliding** (optional): a foot in contact in two consecutive frames keeps
  its position along the given axes (the ground's two horizontal ones);
- **standing** (optional): in frames flagged as a person standing in place,
  the speed of a given body point (the root, or e.g. the centre of mass) along
  the given axes (the ground's axis along the line of sight, where the image
  measures least) is small;
- **support** (optional): a foot flagged in a frame lies on the ground plane
  without the no-sliding rows (the caller flags the lowest foot of frames that
  sank under the ground: nobody stands below the floor);
- **smoothness**: the root's acceleration (second divided difference over the
  frame times) is small;
- a weak pull to an initial guess keeps frames without any term well posed.

Each term is divided by its standard deviation (:class:`TrajectoryWeights`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

__all__ = ["TrajectoryWeights", "FootAnchors", "solve_translations"]


@dataclass(frozen=True)
class TrajectoryWeights:
    """Standard deviations of the terms (module doc).

    Attributes:
        accel_m_s2: of the root's acceleration.
        plane_m: of a contact foot's distance to the ground plane.
        slide_m: of a contact foot's displacement between consecutive frames.
        support_m: of a supported foot's distance to the ground plane.
        standing_speed_m_s: of a standing person's speed (of the standing point) along the given axes.
        guess_m: of the pull towards the initial guess.
    """

    accel_m_s2: float = 0.5
    plane_m: float = 0.005
    # Far tighter than the image terms: a planted foot stays put and the root follows the
    # body's own leg, rather than each frame's body size in the image (which swings with the pose).
    slide_m: float = 0.0005
    # A bound in effect: the image rows come from a body whose size may be wrong (seen in part).
    support_m: float = 0.0005
    # Standing still, depth follows the regressed legs' errors (a lean read wrongly in depth moves
    # the hips by centimetres): held to a few millimetres per second along the line of sight.
    standing_speed_m_s: float = 0.006
    guess_m: float = 10.0


@dataclass(frozen=True)
class FootAnchors:
    """Feet and when they touch the ground.

    Attributes:
        points_body: ``(n, F, 3)`` one contact point per foot (body frame, like the keypoints).
        contacts: ``(n, F)`` bool.
        plane: ``(normal (3,), offset)`` of the ground in the camera frame, or None (no ground term).
        slide_axes: ``(A, 3)`` unit axes along which a contact foot must not move
            (e.g. the ground's two horizontal axes); ``(0, 3)``: no sliding term.
        support: ``(n, F)`` bool feet held on the plane without the no-sliding rows, or None.
        standing: ``(n,)`` bool frames of a person standing in place, whose standing point keeps
            its place along ``standing_axes`` between consecutive standing frames; or None.
        standing_axes: ``(B, 3)`` unit axes of that (e.g. the ground's axis along the line of sight).
        standing_point: ``(n, 3)`` the body point (body frame) held still instead of the root
            (e.g. the body's centre of mass), or None (the root).
    """

    points_body: np.ndarray
    contacts: np.ndarray
    plane: tuple[np.ndarray, float] | None = None
    slide_axes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    support: np.ndarray | None = None
    standing: np.ndarray | None = None
    standing_axes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    standing_point: np.ndarray | None = None


class _Rows:
    """Accumulates sparse rows ``A t = b`` over the ``3 n`` unknowns."""

    def __init__(self) -> None:
        self.rows, self.cols, self.vals, self.rhs = [], [], [], []
        self.count = 0

    def add(self, cols: np.ndarray, vals: np.ndarray, rhs: np.ndarray) -> None:
        """``m`` rows, each with the same number of entries: ``cols``, ``vals`` ``(m, E)``, ``rhs`` ``(m,)``."""
        m = len(rhs)
        if m == 0:
            return
        self.rows.append(np.repeat(np.arange(self.count, self.count + m), cols.shape[1]))
        self.cols.append(cols.reshape(-1))
        self.vals.append(vals.reshape(-1))
        self.rhs.append(rhs)
        self.count += m

    def solve(self, num_unknowns: int) -> np.ndarray:
        a = scipy.sparse.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.count, num_unknowns),
        )
        b = np.concatenate(self.rhs)
        return scipy.sparse.linalg.spsolve((a.T @ a).tocsc(), a.T @ b)


def _image_rows(rows: _Rows, points, pixels, sigma_px, focal, principal, depth) -> None:
    """Two rows per detected keypoint (``sigma_px`` finite and positive)."""
    k, i = np.nonzero(np.isfinite(sigma_px) & (sigma_px > 0))
    p, uv = points[k, i], pixels[k, i] - principal
    scale = 1.0 / (np.maximum(depth[k] + p[:, 2], 0.1) * sigma_px[k, i])
    for axis in (0, 1):
        vals = np.zeros((len(k), 3))
        vals[:, axis] = focal
        vals[:, 2] = -uv[:, axis]
        rhs = uv[:, axis] * p[:, 2] - focal * p[:, axis]
        rows.add(3 * k[:, None] + np.arange(3), vals * scale[:, None], rhs * scale)


def _ground_rows(rows: _Rows, feet: FootAnchors, weights: TrajectoryWeights) -> None:
    """A plane row per contact and per support, a row per slide axis per consecutive contact pair."""
    if feet.plane is not None:
        _plane_rows(rows, feet, feet.contacts, weights.plane_m)
        if feet.support is not None:
            _plane_rows(rows, feet, feet.support, weights.support_m)
    both = feet.contacts[:-1] & feet.contacts[1:]
    k, c = np.nonzero(both)
    step = feet.points_body[k + 1, c] - feet.points_body[k, c]
    for axis in np.asarray(feet.slide_axes).reshape(-1, 3):
        cols = np.concatenate([3 * k[:, None] + np.arange(3), 3 * (k[:, None] + 1) + np.arange(3)], axis=1)
        vals = np.concatenate([-np.tile(axis, (len(k), 1)), np.tile(axis, (len(k), 1))], axis=1)
        rows.add(cols, vals / weights.slide_m, -(step @ axis) / weights.slide_m)


def _standing_rows(rows: _Rows, feet: FootAnchors, times_s: np.ndarray, weights: TrajectoryWeights) -> None:
    """The standing point's speed along each standing axis between consecutive standing frames is small."""
    (k,) = np.nonzero(feet.standing[:-1] & feet.standing[1:])
    scale = 1.0 / (np.maximum(np.diff(times_s)[k], 1e-6) * weights.standing_speed_m_s)
    point = np.zeros((len(feet.standing), 3)) if feet.standing_point is None else feet.standing_point
    step = point[k + 1] - point[k]
    for axis in np.asarray(feet.standing_axes).reshape(-1, 3):
        cols = np.concatenate([3 * k[:, None] + np.arange(3), 3 * (k[:, None] + 1) + np.arange(3)], axis=1)
        vals = np.concatenate([-np.tile(axis, (len(k), 1)), np.tile(axis, (len(k), 1))], axis=1)
        rows.add(cols, vals * scale[:, None], -(step @ axis) * scale)


def _plane_rows(rows: _Rows, feet: FootAnchors, on_plane: np.ndarray, sigma_m: float) -> None:
    """``n·(P_foot + t) + d = 0`` for the feet flagged in ``on_plane`` ``(n, F)``, standard deviation ``sigma_m``."""
    normal, offset = feet.plane
    k, c = np.nonzero(on_plane)
    rhs = -(offset + feet.points_body[k, c] @ normal)
    rows.add(3 * k[:, None] + np.arange(3), np.tile(normal, (len(k), 1)) / sigma_m, rhs / sigma_m)


def _smooth_rows(rows: _Rows, times_s: np.ndarray, weights: TrajectoryWeights) -> None:
    """Second divided differences of each coordinate over the frame times."""
    n = len(times_s)
    if n < 3:
        return
    dt0, dt1 = np.diff(times_s)[:-1], np.diff(times_s)[1:]
    mid = 0.5 * (dt0 + dt1)
    c0, c2 = 1.0 / (dt0 * mid), 1.0 / (dt1 * mid)
    k = np.arange(1, n - 1)
    for axis in range(3):
        cols = np.stack([3 * (k - 1), 3 * k, 3 * (k + 1)], axis=1) + axis
        vals = np.stack([c0, -(c0 + c2), c2], axis=1) / weights.accel_m_s2
        rows.add(cols, vals, np.zeros(len(k)))


def solve_translations(
    points_body: np.ndarray,
    pixels: np.ndarray,
    sigma_px: np.ndarray,
    focal_px: float,
    principal_px: np.ndarray,
    times_s: np.ndarray,
    guess: np.ndarray,
    feet: FootAnchors | None = None,
    weights: TrajectoryWeights | None = None,
) -> np.ndarray:
    """Camera-frame translations ``(n, 3)`` of a track (module doc).

    Args:
        points_body: ``(n, K, 3)`` posed keypoints without translation, metres.
        pixels: ``(n, K, 2)`` detected keypoints, image pixels.
        sigma_px: ``(n, K)`` their standard deviations in pixels (``inf`` or ``nan``: not detected).
        focal_px: the pinhole camera's focal length; principal_px: ``(2,)`` its principal point.
        times_s: ``(n,)`` increasing frame times.
        guess: ``(n, 3)`` initial translations (their depths weight the image rows).
        feet: contact anchors, or None.
        weights: term standard deviations.
    """
    weights = weights or TrajectoryWeights()
    n = len(points_body)
    guess = np.asarray(guess, dtype=np.float64)
    rows = _Rows()
    sigma = np.where(np.isfinite(sigma_px), sigma_px, 0.0)
    _image_rows(rows, np.asarray(points_body, np.float64), np.asarray(pixels, np.float64), sigma, float(focal_px),
                np.asarray(principal_px, np.float64), guess[:, 2])  # fmt: skip
    if feet is not None:
        _ground_rows(rows, feet, weights)
        if feet.standing is not None:
            _standing_rows(rows, feet, np.asarray(times_s, np.float64), weights)
    _smooth_rows(rows, np.asarray(times_s, np.float64), weights)
    cols = np.arange(3 * n)[:, None]
    rows.add(cols, np.full((3 * n, 1), 1.0 / weights.guess_m), guess.reshape(-1) / weights.guess_m)
    return rows.solve(3 * n).reshape(n, 3)
