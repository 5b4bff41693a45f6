"""MPoser: shapes, deterministic eval, prior penalty by hand, and overfitting a tiny set."""

from __future__ import annotations

import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.losses import mposer_vae_loss
from vibe.models.mposer import MPoser


def _sequences(b: int, t: int, j: int, seed: int = 0) -> torch.Tensor:
    """Smooth random rotation sequences ``(B, T, J, 3, 3)``."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randn(b, 1, j, 3, generator=g) * 0.5
    speed = torch.randn(b, 1, j, 3, generator=g) * 0.1
    rotvec = start + speed * torch.arange(t, dtype=torch.float32)[None, :, None, None]
    mats = Rotation.from_rotvec(rotvec.reshape(-1, 3).numpy()).as_matrix()
    return torch.from_numpy(mats).float().reshape(b, t, j, 3, 3)


def test_shapes_and_eval_uses_the_mean():
    model = MPoser(num_joints=5, latent_dim=8, hidden_size=16).eval()
    x = _sequences(2, 6, 5)
    out = model(x)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (2, 6, 8)
    assert out.pose_rotmat.shape == (2, 6, 5, 3, 3)
    torch.testing.assert_close(out.z, out.mu)
    # Decoded rotations are rotations.
    eye = torch.eye(3).expand(2, 6, 5, 3, 3)
    torch.testing.assert_close(out.pose_rotmat @ out.pose_rotmat.transpose(-1, -2), eye, atol=1e-5, rtol=0)


def test_prior_loss_is_mean_squared_norm_of_the_encoder_mean():
    model = MPoser(num_joints=5, latent_dim=8, hidden_size=16).eval()
    x = _sequences(3, 4, 5)
    with torch.no_grad():
        mu, _ = model.encode(x)
    expected = sum(float(mu[b, t] @ mu[b, t]) for b in range(3) for t in range(4)) / 12
    assert abs(float(model.prior_loss(x).detach()) - expected) < 1e-5
    # Training mode: sampling noise is drawn from the given generator.
    model.train()
    a = model(x, generator=torch.Generator().manual_seed(3)).z
    b = model(x, generator=torch.Generator().manual_seed(3)).z
    torch.testing.assert_close(a, b)


@pytest.fixture
def one_thread():
    # Tiny GRUs run faster on one thread than with two contending ones.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_overfits_a_tiny_set(one_thread):
    torch.manual_seed(0)
    model = MPoser(num_joints=4, latent_dim=8, hidden_size=32, num_layers=1)
    data = _sequences(4, 8, 4)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss_now() -> float:
        model.eval()
        with torch.no_grad():
            out = model(data)
            return float(mposer_vae_loss(out.pose_rotmat, data, out.mu, out.logvar, kl_weight=1e-4)[2])

    initial = loss_now()
    model.train()
    for step in range(150):
        out = model(data, generator=torch.Generator().manual_seed(step))
        loss = mposer_vae_loss(out.pose_rotmat, data, out.mu, out.logvar, kl_weight=1e-4)[2]
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss_now() < initial / 10
