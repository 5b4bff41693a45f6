"""Pose priors: EM on known mixtures, SMPLify's gmm_08 layout, the committed Anny prior."""

from __future__ import annotations

import pickle
from importlib import resources

import numpy as np
import roma
import torch
from scipy.stats import multivariate_normal

from vibe.fitting.priors import GMMPosePrior, build_pose_prior, fit_gmm, pose_features


def _random_spd(rng: np.random.Generator, d: int, scale: float) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.5 * np.eye(d))


def test_em_recovers_known_components():
    rng = np.random.default_rng(1)
    d = 3
    means = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 5.0, -3.0]])
    covars = np.stack([_random_spd(rng, d, s) for s in (0.3, 0.6, 0.2)])
    weights = np.array([0.5, 0.3, 0.2])
    counts = (weights * 6000).astype(int)
    x = np.concatenate([rng.multivariate_normal(m, c, size=n) for m, c, n in zip(means, covars, counts)])
    fit = fit_gmm(x, n_components=3, reg_covar=1e-6)
    order = [int(np.argmin(((fit.means - m) ** 2).sum(1))) for m in means]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(fit.means[order], means, atol=0.08)
    np.testing.assert_allclose(fit.covars[order], covars, atol=0.1)
    np.testing.assert_allclose(fit.weights[order], weights, atol=0.02)


def test_gmm08_layout_loads_and_energy_matches_scipy(tmp_path):
    rng = np.random.default_rng(2)
    k, d = 8, 69
    data = {
        "means": rng.normal(scale=0.2, size=(k, d)),
        "covars": np.stack([_random_spd(rng, d, 0.05) for _ in range(k)]),
        "weights": rng.dirichlet(np.ones(k)),
    }
    path = tmp_path / "gmm_08.pkl"
    with path.open("wb") as f:
        pickle.dump(data, f, protocol=2)  # SMPLify's file is a Python-2 pickle of this dict
    prior = GMMPosePrior.from_smplify_pickle(path).double()
    assert prior.representation == "axis_angle" and prior.num_joints == 23
    assert prior.joint_names[0] == "left_hip" and prior.joint_names[-1] == "right_hand"

    aa = torch.as_tensor(rng.normal(scale=0.3, size=(5, 23, 3)))
    energy = prior(roma.rotvec_to_rotmat(aa))
    x = aa.reshape(5, d).numpy()
    ref = np.stack(
        [
            -np.log(w) - multivariate_normal(m, c).logpdf(x) - 0.5 * d * np.log(2 * np.pi)
            for m, c, w in zip(data["means"], data["covars"], data["weights"])
        ],
        axis=1,
    ).min(1)
    np.testing.assert_allclose(energy.numpy(), ref, rtol=1e-6, atol=1e-6)


def test_prior_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(3)
    covars = np.stack([_random_spd(rng, 12, 1.0)] * 2)
    prior = GMMPosePrior(rng.normal(size=(2, 12)), covars, [0.4, 0.6], "rot6d", ["a", "b"])
    prior.save(tmp_path / "p.npz", body_model="toy", note="test")
    again = GMMPosePrior.load(tmp_path / "p.npz")
    assert again.representation == "rot6d" and again.joint_names == ["a", "b"]
    pose = roma.random_rotmat(7 * 2).reshape(7, 2, 3, 3)
    torch.testing.assert_close(again(pose), prior(pose))


def test_build_pose_prior_on_a_tiny_motion_db():
    from vibe.data.motion_db import MotionDB

    rng = np.random.default_rng(4)
    names = ["root", "a", "b"]
    # Two poses of the body joints, 50 frames around each.
    centres = [np.array([0.5, 0.0, 0.0, 0.0, 0.3, 0.0]), np.array([0.0, -0.6, 0.0, 0.2, 0.0, 0.4])]
    clips = []
    for c in centres:
        aa = np.concatenate([np.zeros((50, 1, 3)), (c + 0.02 * rng.normal(size=(50, 6))).reshape(50, 2, 3)], 1)
        clips.append(roma.rotvec_to_rotmat(torch.as_tensor(aa)).numpy())
    two = lambda v: [v, v]  # noqa: E731
    db = MotionDB.from_clips(
        "toy", names, clips, two(np.zeros((50, 3))), ["c0", "c1"], ["01", "02"], two(""), two("test"),
        two("test"), two(30.0), two(np.zeros(1)),
    )  # fmt: skip
    prior = build_pose_prior(db, n_components=2)
    assert prior.joint_names == ["a", "b"]
    found = sorted(prior.means.numpy().tolist())
    np.testing.assert_allclose(found, sorted(c.tolist() for c in centres), atol=0.02)


def test_committed_anny_prior_prefers_mocap_to_random_poses():
    from vibe.data.motion_db import VALIDATION_SUBJECTS, MotionDB

    with resources.as_file(resources.files("vibe").joinpath("resources/priors/anny_gmm8.npz")) as path:
        prior = GMMPosePrior.load(path)
    with resources.as_file(resources.files("vibe").joinpath("resources/motion/cmu_anny.npz")) as path:
        db = MotionDB.load(path)
    assert prior.joint_names == db.joint_names[1:]
    held_out = db.split(VALIDATION_SUBJECTS)  # not used to build the prior
    pose = torch.as_tensor(held_out.rotmat(slice(0, None, 20))[:, 1:])
    random = roma.random_rotmat(pose.shape[0] * pose.shape[1]).reshape(pose.shape)
    assert torch.median(prior(pose)) < torch.median(prior(random)) - 100.0
    assert pose_features(pose[:2], "axis_angle").shape == (2, 90)
