"""Generators averaged as one (the demo's ``ensemble`` option)."""

from __future__ import annotations

import pytest
import roma
import torch

from vibe.body.anny import Anny
from vibe.models.checkpoints import load_checkpoint, load_generator_weights
from vibe.models.ensemble import GeneratorEnsemble
from vibe.models.vibe import VIBE

from open_checkpoint import save_random_open_checkpoint


@pytest.fixture(scope="module")
def generators(tmp_path_factory) -> list[VIBE]:
    body, out = Anny(), []
    for seed in (1, 2):
        path = save_random_open_checkpoint(tmp_path_factory.mktemp("ens") / f"g{seed}.pt", body, width=64, seed=seed)
        ckpt = load_checkpoint(path, map_location="cpu")
        model = VIBE(ckpt.config, body)
        load_generator_weights(model, ckpt)
        out.append(model.eval())
    return out


def _answer(model, landmarks: torch.Tensor):
    """Encoder over the whole window, then the regressor: ``(T, K, 3)`` landmarks → RegressorOutput."""
    encoded = model.encoder(model.encode_frames(landmarks[None]))[0]
    return model.regressor(encoded)


@torch.no_grad()
def test_ensemble_of_one_twice_is_the_model_and_two_average(generators) -> None:
    landmarks = torch.rand(10, 33, 3) * 2 - 1
    a, b = (_answer(g, landmarks) for g in generators)
    same = _answer(GeneratorEnsemble([generators[0], generators[0]]), landmarks)
    assert torch.allclose(same.pose_rotmat, a.pose_rotmat, atol=1e-5)
    assert torch.allclose(same.cam, a.cam) and torch.allclose(same.shape, a.shape)
    both = _answer(GeneratorEnsemble(generators), landmarks)
    to_a = roma.rotmat_geodesic_distance(both.pose_rotmat, a.pose_rotmat)
    to_b = roma.rotmat_geodesic_distance(both.pose_rotmat, b.pose_rotmat)
    assert torch.allclose(to_a, to_b, atol=1e-4)  # the midpoint of the two rotations
    assert torch.allclose(both.cam, (a.cam + b.cam) / 2, atol=1e-6)
    assert torch.allclose(both.shape, (a.shape + b.shape) / 2, atol=1e-6)


def test_ensemble_needs_one_body(generators) -> None:
    other = VIBE(generators[1].config, Anny())
    with pytest.raises(ValueError, match="one body"):
        GeneratorEnsemble([generators[0], other])
