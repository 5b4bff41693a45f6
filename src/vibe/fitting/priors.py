"""Pose priors for fitting: a Gaussian mixture over body pose (SMPLify's, or learned here).

The prior covers the *body* joints (every joint but the root) of one body model,
in one of two representations of the local rotations, concatenated per joint:

- ``"axis_angle"`` (``3`` per joint) — SMPLify's ``gmm_08.pkl`` (SMPL joints 1–23, 69-D);
- ``"rot6d"`` (``6`` per joint, the first two columns of ``R``) — smooth everywhere.

Energy (as SMPLify's "max-mixture"): the negative log-likelihood of the
*single best* component, ``min_k [½ dᵀ Σ_k⁻¹ d + ½ log det Σ_k − log w_k]``
with ``d = x − μ_k`` (the constant ``D/2 log 2π`` dropped).

Learned priors are fitted by EM on a :class:`~vibe.data.motion_db.MotionDB`
(:func:`build_pose_prior`) and stored as ``.npz`` (:meth:`GMMPosePrior.save`):
``means (K, D)``, ``covars (K, D, D)``, ``weights (K,)``, ``representation``,
``joint_names (J',)``, ``body_model``, ``note``. Rebuild the committed Anny prior with
``python -m vibe.fitting.priors src/vibe/resources/motion/cmu_anny.npz
src/vibe/resources/priors/anny_gmm8.npz``.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from scipy.linalg import solve_triangular
from torch import nn

from vibe.geometry.rotations import rotmat_to_axis_angle_fast, rotmat_to_rot6d
from vibe.io.safe_pickle import load_pickle

log = logging.getLogger(__name__)

__all__ = [
    "GMMPosePrior",
    "GMMFit",
    "fit_gmm",
    "pose_features",
    "build_pose_prior",
    "default_pose_prior",
    "HingeLimits",
    "hinge_limits",
]

_REPRESENTATIONS = {"axis_angle": 3, "rot6d": 6}


def pose_features(pose_rotmat: torch.Tensor, representation: str) -> torch.Tensor:
    """Local rotations ``(..., J', 3, 3)`` → prior features ``(..., J'·d)`` (``d`` = 3 or 6)."""
    if representation == "axis_angle":
        feats = rotmat_to_axis_angle_fast(pose_rotmat)
    elif representation == "rot6d":
        feats = rotmat_to_rot6d(pose_rotmat)
    else:
        raise ValueError(f"unknown representation {representation!r}; choose from {sorted(_REPRESENTATIONS)}")
    return feats.flatten(-2)


class GMMPosePrior(nn.Module):
    """Max-mixture Gaussian pose prior (see the module docstring).

    Args:
        means: ``(K, D)``.
        covars: ``(K, D, D)`` symmetric positive definite.
        weights: ``(K,)`` mixture weights (normalised here).
        representation: ``"axis_angle"`` or ``"rot6d"``.
        joint_names: the ``J'`` body-model joints the ``D = J'·d`` features cover, in order.
    """

    def __init__(
        self,
        means: np.ndarray | torch.Tensor,
        covars: np.ndarray | torch.Tensor,
        weights: np.ndarray | torch.Tensor,
        representation: str = "axis_angle",
        joint_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        means = torch.as_tensor(np.asarray(means), dtype=torch.float64)
        covars = torch.as_tensor(np.asarray(covars), dtype=torch.float64)
        weights = torch.as_tensor(np.asarray(weights), dtype=torch.float64)
        k, d = means.shape
        if covars.shape != (k, d, d) or weights.shape != (k,):
            shapes = f"means {tuple(means.shape)}, covars {tuple(covars.shape)}, weights {tuple(weights.shape)}"
            raise ValueError(f"inconsistent mixture: {shapes}")
        if representation not in _REPRESENTATIONS:
            raise ValueError(f"unknown representation {representation!r}")
        if d % _REPRESENTATIONS[representation]:
            raise ValueError(f"{d} features is not a whole number of {representation} joints")
        self.representation = representation
        self.joint_names = list(joint_names) if joint_names is not None else None
        # Energies use the Cholesky factor L of the precision: ½|Lᵀd|².
        precision = torch.linalg.inv(covars)
        precision = 0.5 * (precision + precision.transpose(-1, -2))
        chol = torch.linalg.cholesky(precision)
        constant = 0.5 * torch.logdet(covars) - torch.log(weights / weights.sum())
        self.register_buffer("means", means.float())
        self.register_buffer("covars", covars.float())
        self.register_buffer("weights", (weights / weights.sum()).float())
        self.register_buffer("precision_chol", chol.float())
        self.register_buffer("constant", constant.float())

    @property
    def num_joints(self) -> int:
        """``J'``: joints the prior covers."""
        return self.means.shape[1] // _REPRESENTATIONS[self.representation]

    def component_energies(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(..., D)`` → ``(..., K)`` per-component negative log-likelihoods."""
        chol = self.precision_chol.to(features)  # (K, D, D)
        k, d, _ = chol.shape
        # (f − m_k)ᵀ L_k = fᵀ L_k − m_kᵀ L_k: one (…, D) × (D, K·D) product instead of K differences.
        whitened = (features @ chol.permute(1, 0, 2).reshape(d, k * d)).unflatten(-1, (k, d))
        means = torch.einsum("kd,kde->ke", self.means.to(features), chol)
        return 0.5 * (whitened - means).square().sum(-1) + self.constant.to(features)

    def forward(self, body_pose_rotmat: torch.Tensor) -> torch.Tensor:
        """Energy of body poses.

        Args:
            body_pose_rotmat: ``(..., J', 3, 3)`` local rotations of the covered joints
                (for a full pose ``(..., J, 3, 3)`` pass ``pose[..., 1:, :, :]``).

        Returns:
            ``(...)`` min-over-components negative log-likelihood.
        """
        features = pose_features(body_pose_rotmat, self.representation)
        return self.component_energies(features).min(dim=-1).values

    # --- files ----------------------------------------------------------------------
    @classmethod
    def from_smplify_pickle(cls, path: str | Path) -> GMMPosePrior:
        """SMPLify's ``gmm_08.pkl`` (dict ``means (8, 69)``, ``covars (8, 69, 69)``, ``weights (8,)``).

        Read with the restricted unpickler; covers SMPL joints 1–23 in axis-angle.
        """
        data = load_pickle(path)
        from vibe.body.smpl import SMPL_JOINT_NAMES  # only this loader needs SMPL's names

        return cls(data["means"], data["covars"], data["weights"], "axis_angle", list(SMPL_JOINT_NAMES[1:]))

    @classmethod
    def load(cls, path: str | Path) -> GMMPosePrior:
        """A prior saved by :meth:`save` (``.npz``, format in the module docstring)."""
        with np.load(path, allow_pickle=False) as npz:
            names = [str(n) for n in npz["joint_names"]] if "joint_names" in npz else None
            return cls(npz["means"], npz["covars"], npz["weights"], str(npz["representation"]), names)

    def save(self, path: str | Path, body_model: str = "", note: str = "") -> None:
        """Write the prior as ``.npz`` (written to a temporary name, then renamed)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            means=self.means.numpy().astype(np.float32),
            covars=self.covars.numpy().astype(np.float32),
            weights=self.weights.numpy().astype(np.float32),
            representation=np.asarray(self.representation),
            joint_names=np.asarray(self.joint_names or [], dtype=str),
            body_model=np.asarray(body_model),
            note=np.asarray(note),
        )
        tmp.replace(path)


# --------------------------------------------------------------------------- EM
@dataclass
class GMMFit:
    """Result of :func:`fit_gmm`: ``means (K, D)``, ``covars (K, D, D)``, ``weights (K,)``, mean log-likelihood."""

    means: np.ndarray
    covars: np.ndarray
    weights: np.ndarray
    log_likelihood: float
    iterations: int


def _log_gaussians(x: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """``(N, K)`` log densities of ``x (N, D)`` under each full-covariance Gaussian."""
    n, d = x.shape
    out = np.empty((n, means.shape[0]))
    for k, (mu, cov) in enumerate(zip(means, covars)):
        chol = np.linalg.cholesky(cov)
        z = solve_triangular(chol, (x - mu).T, lower=True)  # (D, N): L⁻¹ (x − μ)
        out[:, k] = -0.5 * (z * z).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * d * np.log(2 * np.pi)
    return out


def _kmeans_pp_init(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: ``(K, D)`` initial means drawn from ``x``."""
    centres = [x[rng.integers(len(x))]]
    dist = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        centres.append(x[rng.choice(len(x), p=dist / dist.sum())])
        dist = np.minimum(dist, ((x - centres[-1]) ** 2).sum(1))
    return np.stack(centres)


def fit_gmm(
    x: np.ndarray,
    n_components: int = 8,
    max_iters: int = 200,
    tol: float = 1e-5,
    reg_covar: float = 1e-4,
    seed: int = 0,
) -> GMMFit:
    """Full-covariance Gaussian mixture by expectation–maximisation.

    Args:
        x: ``(N, D)`` samples.
        n_components: ``K``.
        max_iters: EM iterations at most.
        tol: stop when the mean log-likelihood improves by less than this.
        reg_covar: added to every covariance diagonal (keeps them invertible).
        seed: for the k-means++ initialisation.

    Returns:
        :class:`GMMFit`, components sorted by decreasing weight.
    """
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    if n < n_components:
        raise ValueError(f"{n} samples for {n_components} components")
    rng = np.random.default_rng(seed)
    means = _kmeans_pp_init(x, n_components, rng)
    # Start from hard assignments to the seeds, each with the global covariance.
    covars = np.repeat((np.cov(x.T).reshape(d, d) + reg_covar * np.eye(d))[None], n_components, 0)
    weights = np.full(n_components, 1.0 / n_components)
    previous = -np.inf
    ll = previous
    it = 0
    for it in range(1, max_iters + 1):
        log_p = _log_gaussians(x, means, covars) + np.log(weights)  # (N, K)
        log_norm = np.logaddexp.reduce(log_p, axis=1)
        ll = float(log_norm.mean())
        resp = np.exp(log_p - log_norm[:, None])  # E step
        counts = resp.sum(0) + 1e-10  # M step
        weights = counts / n
        means = resp.T @ x / counts[:, None]
        for k in range(n_components):
            diff = x - means[k]
            covars[k] = (resp[:, k, None] * diff).T @ diff / counts[k] + reg_covar * np.eye(d)
        if ll - previous < tol:
            break
        previous = ll
    order = np.argsort(-weights)
    log.info("GMM: %d components, %d iterations, mean log-likelihood %.4f", n_components, it, ll)
    return GMMFit(means[order], covars[order], weights[order], ll, it)


def build_pose_prior(
    motion_db,
    n_components: int = 8,
    representation: str = "axis_angle",
    max_frames: int = 20000,
    seed: int = 0,
) -> GMMPosePrior:
    """Learn a body-pose GMM prior from a motion database.

    Args:
        motion_db: :class:`~vibe.data.motion_db.MotionDB` (pass the training split).
        n_components: mixture components ``K``.
        representation: ``"axis_angle"`` or ``"rot6d"``.
        max_frames: frames used at most, evenly spaced over the database (EM cost).
        seed: EM initialisation.

    Returns:
        a prior over every joint but the root (``motion_db.joint_names[1:]``).
    """
    n = motion_db.num_frames
    frames = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(np.int64))
    rotmat = torch.as_tensor(motion_db.rotmat(frames)[:, 1:], dtype=torch.float64)
    features = pose_features(rotmat, representation).numpy()
    fit = fit_gmm(features, n_components, seed=seed)
    return GMMPosePrior(fit.means, fit.covars, fit.weights, representation, motion_db.joint_names[1:])


def default_pose_prior(body_model, gmm_pickle: str | Path | None = None) -> GMMPosePrior | None:
    """The pose prior for a body model, or ``None`` when there is none.

    SMPL: SMPLify's ``gmm_08.pkl`` (``gmm_pickle``, default ``smpl_dir()/gmm_08.pkl``)
    when present. Anny: the committed ``resources/priors/anny_gmm8.npz``.
    """
    if body_model.name == "smpl":
        from vibe.assets import smpl_dir

        path = Path(gmm_pickle) if gmm_pickle is not None else smpl_dir() / "gmm_08.pkl"
        if path.exists():
            return GMMPosePrior.from_smplify_pickle(path)
        log.warning("no SMPLify prior at %s: fitting SMPL without a pose prior", path)
        return None
    if body_model.name == "anny":
        with resources.as_file(resources.files("vibe").joinpath("resources/priors/anny_gmm8.npz")) as path:
            prior = GMMPosePrior.load(path)
        if prior.joint_names != list(body_model.joint_names[1:]):
            raise ValueError("the committed Anny prior does not match this rig's joints")
        return prior
    return None


def main(argv: list[str] | None = None) -> None:
    """Build a pose prior from a motion DB's training subjects: ``DB.npz OUT.npz``."""
    from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("motion_db", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--representation", default="axis_angle", choices=sorted(_REPRESENTATIONS))
    parser.add_argument("--max-frames", type=int, default=20000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    db = MotionDB.load(args.motion_db).split(VALIDATION_SUBJECTS, exclude=True)
    prior = build_pose_prior(db, args.components, args.representation, args.max_frames)
    note = (
        f"GMM ({args.components} components, {args.representation}) over body pose of "
        f"{db.num_frames} frames / {db.num_clips} clips of {args.motion_db.name}, CMU training subjects "
        f"(validation subjects {', '.join(VALIDATION_SUBJECTS)} excluded), {args.max_frames} frames at most"
    )
    prior.save(args.out, db.body_model, note)


# --------------------------------------------------------------------------- hinge limits
# Hinge joints per body model: (parent joint, hinge joint, child joint, how the
# bend direction is found) and the two joints whose rest direction (heel →
# toe) says where the body faces. A knee bends so that the ankle moves
# backwards; an elbow bends in the plane of upper arm and forearm, the wrist
# moving towards the shoulder (a rest pose with straight arms needs "forward").
_HINGES: dict[str, dict] = {
    "anny": {
        "forward": ("LeftFoot", "LeftToeBase"),
        "up": ("LeftFoot", "LeftUpLeg"),
        "hinges": [
            ("LeftUpLeg", "LeftLeg", "LeftFoot", "backward"),
            ("RightUpLeg", "RightLeg", "RightFoot", "backward"),
            ("LeftArm", "LeftForeArm", "LeftHand", "to_parent"),
            ("RightArm", "RightForeArm", "RightHand", "to_parent"),
        ],
    },
    "smpl": {
        "forward": ("left_ankle", "left_foot"),
        "up": ("left_ankle", "left_hip"),
        "hinges": [
            ("left_hip", "left_knee", "left_ankle", "backward"),
            ("right_hip", "right_knee", "right_ankle", "backward"),
            ("left_shoulder", "left_elbow", "left_wrist", "forward"),
            ("right_shoulder", "right_elbow", "right_wrist", "forward"),
        ],
    },
}


@dataclass
class HingeLimits:
    """Joints that bend one way only.

    Attributes:
        joint_index: ``(L,)`` long, the hinge joints.
        bend_axis: ``(L, 3)`` unit axes in each joint's local frame; a positive
            rotation about them bends the joint further.
        min_angle: ``(L,)`` radians (≤ 0): the most a joint may unbend from its
            rest pose, i.e. minus the rest pose's own bend (a straight limb).

    See :func:`vibe.fitting.losses.hinge_bend_energy`.
    """

    joint_index: torch.Tensor
    bend_axis: torch.Tensor
    min_angle: torch.Tensor

    @classmethod
    def none(cls) -> HingeLimits:
        """No limited joints (body models without a table)."""
        return cls(torch.zeros(0, dtype=torch.long), torch.zeros(0, 3), torch.zeros(0))


def hinge_limits(body_model) -> HingeLimits:
    """Knee and elbow bend axes of a body model, derived from its rest pose.

    With ``d`` the rest direction from the hinge joint to its child and ``b``
    the direction the child moves when bending (knees: backwards, "forward"
    being the rest heel → toe direction orthogonal to the ankle → hip one; Anny's elbows, bent at rest: towards
    the parent joint), made orthogonal to ``d``, the bend axis is
    ``a = d × b``: a small positive rotation about ``a`` moves the child by
    ``θ·a × d = θ·b``. This holds for local rotations in world-aligned rest
    axes, the convention of SMPL and Anny. For SMPL it reproduces SMPLify's
    angle prior (knees bend about +x, the left elbow about −y, the right about
    +y). The allowed unbending is the rest pose's own signed bend between the
    parent bone and ``d`` about ``a``. Models without a table get none.
    """
    table = _HINGES.get(body_model.name)
    if table is None:
        return HingeLimits.none()
    names = list(body_model.joint_names)
    with torch.no_grad():
        rest = body_model(body_model.rest_pose(1)).joints[0].double().cpu()
    heel, toe = (names.index(n) for n in table["forward"])
    ankle, hip = (names.index(n) for n in table["up"])
    up = rest[hip] - rest[ankle]
    forward = rest[toe] - rest[heel]
    forward = forward - (forward @ up) / (up @ up) * up  # horizontal: feet may point down
    index, axes, min_angles = [], [], []
    for parent, joint, child, motion in table["hinges"]:
        p, j, c = names.index(parent), names.index(joint), names.index(child)
        d = rest[c] - rest[j]
        d = d / d.norm()
        upper = rest[j] - rest[p]
        b = {"forward": forward, "backward": -forward, "to_parent": -upper}[motion]
        b = b - (b @ d) * d
        axis = torch.linalg.cross(d, b / b.norm())
        axis = axis / axis.norm()
        rest_bend = torch.atan2(torch.linalg.cross(upper, d) @ axis, upper @ d)
        index.append(j)
        axes.append(axis)
        min_angles.append(-rest_bend.clamp(min=0.0))
    return HingeLimits(
        torch.tensor(index, dtype=torch.long),
        torch.stack(axes).to(body_model.dtype),
        torch.stack(min_angles).to(body_model.dtype),
    )

if __name__ == "__main__":
    main()
