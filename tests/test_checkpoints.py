"""Released checkpoints (VIBE, SPIN) in their original layout, and our own format, round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from test_models_backbone import _expected_resnet50_state_shapes
from released_layout import GENERATOR, MOTION_DISCRIMINATOR, REGRESSOR
from toy_body import ToyBody
from vibe.models.backbone import HMRBackbone
from vibe.models.checkpoints import (
    CheckpointMismatchError,
    export_release,
    load_checkpoint,
    load_generator_weights,
    load_released_vibe,
    load_spin,
    save_checkpoint,
)
from vibe.models.discriminator import MotionDiscriminator
from vibe.models.regressor import Regressor
from vibe.models.temporal import TemporalEncoderConfig
from vibe.models.vibe import VIBE, VIBEConfig

# A few SMPL-layer buffers the original saves inside the generator (ignored on load).
_SMPL_BUFFERS = {
    "regressor.smpl.v_template": (6890, 3),
    "regressor.smpl.J_regressor": (24, 6890),
    "regressor.smpl.J_regressor_extra": (9, 6890),
    "regressor.smpl.faces_tensor": (13776, 3),
}


def _random_state(shapes: dict[str, tuple[int, ...]], scale: float = 0.02) -> dict[str, torch.Tensor]:
    return {k: scale * torch.randn(v) for k, v in shapes.items()}


def _optimizer_state(n_params: int) -> dict:
    """Layout of a torch Adam state dict (small tensors: only the container matters here)."""
    return {
        "state": {i: {"step": 7, "exp_avg": torch.zeros(2), "exp_avg_sq": torch.zeros(2)} for i in range(n_params)},
        "param_groups": [{"lr": 5e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "params": list(range(n_params))}],
    }


@pytest.fixture(scope="module")
def released_vibe(tmp_path_factory):
    gen = _random_state(GENERATOR)
    gen["regressor.init_cam"] = torch.tensor([[0.9, 0.0, 0.0]])
    disc = _random_state(MOTION_DISCRIMINATOR)
    path = tmp_path_factory.mktemp("ckpt") / "vibe_model_wo_3dpw.pth.tar"
    torch.save(
        {
            "epoch": 12,
            "gen_state_dict": {**gen, **_random_state(_SMPL_BUFFERS)},
            # The original stores its validation PA-MPJPE as a numpy float.
            "performance": np.float64(56.56),
            "gen_optimizer": _optimizer_state(len(GENERATOR)),
            "disc_motion_state_dict": disc,
            "disc_motion_optimizer": _optimizer_state(len(MOTION_DISCRIMINATOR)),
        },
        path,
    )
    return path, gen, disc


def test_released_vibe_loads_every_tensor(released_vibe):
    path, gen, disc = released_vibe
    model = VIBE(VIBEConfig(), ToyBody(24, 10))
    disc_model = MotionDiscriminator()
    info = load_released_vibe(path, model, disc_model)
    assert info["epoch"] == 12 and float(info["performance"]) == pytest.approx(56.56)
    state = model.state_dict()
    for key, value in gen.items():
        assert torch.equal(state[key], value), key
    disc_state = disc_model.state_dict()
    assert set(disc_state) == set(disc)
    for key, value in disc.items():
        assert torch.equal(disc_state[key], value), key

    model.eval()
    x = torch.randn(2, 4, 2048)
    with torch.no_grad():
        a, b = model(x), model(x)
        score = disc_model.eval()(torch.randn(2, 4, 69))
    assert torch.isfinite(a.joints3d).all() and torch.isfinite(score).all()
    torch.testing.assert_close(a.joints2d, b.joints2d)


def _resave(path, out, edit):
    data = torch.load(path, weights_only=False)
    edit(data)
    torch.save(data, out)
    return out


def test_released_vibe_mismatches_are_errors(released_vibe, tmp_path):
    path, _, _ = released_vibe
    model = VIBE(VIBEConfig(), ToyBody(24, 10))

    bad = _resave(path, tmp_path / "extra.pth.tar", lambda d: d["gen_state_dict"].update({"encoder.extra": torch.zeros(1)}))
    with pytest.raises(CheckpointMismatchError) as err:
        load_released_vibe(bad, model)
    assert err.value.unexpected == ["extra"]

    bad = _resave(path, tmp_path / "stray.pth.tar", lambda d: d["gen_state_dict"].update({"hmr.conv1.weight": torch.zeros(1)}))
    with pytest.raises(CheckpointMismatchError, match="hmr.conv1.weight"):
        load_released_vibe(bad, model)

    bad = _resave(path, tmp_path / "missing.pth.tar", lambda d: d["gen_state_dict"].pop("regressor.fc1.bias"))
    with pytest.raises(CheckpointMismatchError) as err:
        load_released_vibe(bad, model)
    assert err.value.missing == ["fc1.bias"]

    # A body with another joint count cannot take SMPL's regressor.
    with pytest.raises(CheckpointMismatchError, match="shape"):
        load_released_vibe(path, VIBE(VIBEConfig(), ToyBody(13, 10)))


def test_spin_checkpoint_loads_backbone_and_regressor(tmp_path):
    backbone_state = {
        k: (torch.randn(v) if v else torch.tensor(5)) for k, v in _expected_resnet50_state_shapes().items()
    }
    regressor_state = _random_state(REGRESSOR)
    path = tmp_path / "spin_model_checkpoint.pth.tar"
    torch.save({"model": {**backbone_state, **regressor_state}, "optimizer": {}}, path)

    backbone, regressor = HMRBackbone(), Regressor(24, 10)
    load_spin(path, backbone, regressor)
    for key, value in backbone_state.items():
        assert torch.equal(backbone.state_dict()[key], value), key
    for key, value in regressor_state.items():
        assert torch.equal(regressor.state_dict()[key], value), key

    # A partial load (regressor only) works too; an unknown key is an error.
    load_spin(path, regressor=Regressor(24, 10))
    torch.save({"model": {**backbone_state, **regressor_state, "fc.weight": torch.zeros(1000, 2048)}}, path)
    with pytest.raises(CheckpointMismatchError, match="fc.weight"):
        load_spin(path, backbone, regressor)


def test_own_format_round_trip(tmp_path):
    body = ToyBody(13, 6)
    cfg = VIBEConfig(feature_dim=2048)
    model = VIBE(cfg, body).eval()
    disc = MotionDiscriminator(input_size=72, rnn_size=32, attention_size=32)
    path = save_checkpoint(tmp_path / "out" / "model.pt", model, disc, {"input_size": 72, "rnn_size": 32}, {"epoch": 3})
    assert not path.with_name(path.name + ".tmp").exists()

    loaded = load_checkpoint(path)
    assert loaded.config == cfg
    assert loaded.body_model == "toy"
    assert set(loaded.versions) == {"vibe", "torch"}
    assert loaded.extra == {"epoch": 3}
    assert loaded.discriminator_config == {"input_size": 72, "rnn_size": 32}
    assert not any(k.startswith("body.") for k in loaded.generator)

    fresh = VIBE(loaded.config, ToyBody(13, 6)).eval()
    load_generator_weights(fresh, loaded)
    x = torch.randn(1, 3, 2048)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x).joints3d, model(x).joints3d)
    disc2 = MotionDiscriminator(input_size=72, rnn_size=32, attention_size=32)
    disc2.load_state_dict(loaded.discriminator)
    for key, value in disc.state_dict().items():
        assert torch.equal(disc2.state_dict()[key], value)

    class OtherBody(ToyBody):
        name = "other"

    with pytest.raises(ValueError, match="body model"):
        load_generator_weights(VIBE(loaded.config, OtherBody(13, 6)), loaded)


def test_release_export_drops_training_state_only(tmp_path):
    model = VIBE(VIBEConfig(feature_dim=64, encoder=TemporalEncoderConfig(input_size=64, hidden_size=16)), ToyBody(13, 6))
    adam = torch.optim.Adam(model.parameters())
    extra = {"epoch": 4, "val_metrics": {"pa_mpjpe": 80.0}, "gen_optimizer": adam.state_dict(), "rng": {"seed": 1}}
    src = save_checkpoint(tmp_path / "best.pt", model, extra=extra)
    dst = export_release(src, tmp_path / "release" / "model.pt")
    full, released = load_checkpoint(src), load_checkpoint(dst)
    assert released.extra == {"epoch": 4, "val_metrics": {"pa_mpjpe": 80.0}}
    assert released.generator.keys() == full.generator.keys()
    assert all(torch.equal(released.generator[k], v) for k, v in full.generator.items())
    assert released.config == full.config


def test_non_checkpoint_files_are_refused(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"format": "something-else"}, path)
    with pytest.raises(ValueError, match="format"):
        load_checkpoint(path)
