"""Similarity Procrustes against known transforms, scipy and an independent numpy Umeyama."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.transform import Rotation

from vibe.geometry.procrustes import similarity_procrustes


def _numpy_umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Independent reference: Umeyama (1991) with the reflection fix, one (N, 3) pair."""
    mu_x, mu_y = source.mean(0), target.mean(0)
    x, y = source - mu_x, target - mu_y
    u, d, vt = np.linalg.svd(y.T @ x / len(x))
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / (x**2).sum(1).mean()
    return scale * x @ rotation.T + mu_y


def test_recovers_a_known_similarity_transform() -> None:
    batch, n = 6, 14
    source = torch.randn(batch, n, 3, dtype=torch.float64)
    rotation = torch.from_numpy(Rotation.random(batch, random_state=0).as_matrix())
    scale = torch.rand(batch, dtype=torch.float64) * 2.0 + 0.2
    translation = torch.randn(batch, 3, dtype=torch.float64)
    target = scale[:, None, None] * source @ rotation.transpose(-1, -2) + translation[:, None]

    aligned, scale_hat, rotation_hat, translation_hat = similarity_procrustes(source, target)
    torch.testing.assert_close(aligned, target, atol=1e-6, rtol=0)
    torch.testing.assert_close(scale_hat, scale)
    torch.testing.assert_close(rotation_hat, rotation)
    torch.testing.assert_close(translation_hat, translation)


def test_matches_numpy_umeyama_and_scipy_on_noisy_data() -> None:
    rng = np.random.default_rng(4)
    batch, n = 5, 20
    source = rng.normal(size=(batch, n, 3))
    rotation = Rotation.random(batch, random_state=5).as_matrix()
    target = 1.7 * np.einsum("bij,bnj->bni", rotation, source) + 0.3 + rng.normal(size=(batch, n, 3)) * 0.2

    aligned = similarity_procrustes(torch.from_numpy(source), torch.from_numpy(target))[0].numpy()
    for b in range(batch):
        np.testing.assert_allclose(aligned[b], _numpy_umeyama(source[b], target[b]), atol=1e-9)
        # scipy standardises both sets (centred, unit Frobenius norm) and aligns
        # the source onto the target; undo the target's standardisation.
        standard_target, standard_aligned, _ = scipy_procrustes(target[b], source[b])
        centred = target[b] - target[b].mean(0)
        expected = standard_aligned * np.linalg.norm(centred) + target[b].mean(0)
        np.testing.assert_allclose(standard_target * np.linalg.norm(centred) + target[b].mean(0), target[b])
        np.testing.assert_allclose(aligned[b], expected, atol=1e-9)


def test_never_reflects() -> None:
    source = torch.randn(1, 12, 3, dtype=torch.float64)
    mirrored = source * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    aligned, _, rotation, _ = similarity_procrustes(source, mirrored)
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(1, dtype=torch.float64))
    # A proper rotation cannot undo a mirror: the residual stays large.
    assert (aligned - mirrored).norm() > 0.1 * mirrored.norm()
    expected = _numpy_umeyama(source[0].numpy(), mirrored[0].numpy())
    np.testing.assert_allclose(aligned[0].numpy(), expected, atol=1e-9)


def test_zero_weights_ignore_points() -> None:
    batch, n, kept = 3, 15, 10
    source = torch.randn(batch, n, 3, dtype=torch.float64)
    target = torch.randn(batch, n, 3, dtype=torch.float64)
    weights = torch.zeros(batch, n, dtype=torch.float64)
    weights[:, :kept] = 1.0
    _, scale, rotation, translation = similarity_procrustes(source, target, weights)
    _, scale_sub, rotation_sub, translation_sub = similarity_procrustes(source[:, :kept], target[:, :kept])
    torch.testing.assert_close(scale, scale_sub)
    torch.testing.assert_close(rotation, rotation_sub)
    torch.testing.assert_close(translation, translation_sub)
    # Boolean masks are accepted as weights.
    _, scale_bool, _, _ = similarity_procrustes(source, target, weights.bool())
    torch.testing.assert_close(scale_bool, scale_sub)
