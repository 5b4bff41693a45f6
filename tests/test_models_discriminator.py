"""Motion discriminator: released key names/shapes, pooling against hand computations, motion features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from released_layout import MOTION_DISCRIMINATOR
from vibe.models.discriminator import MotionDiscriminator, motion_feature_size, motion_features


def test_released_configuration_key_names_and_shapes():
    got = {k: tuple(v.shape) for k, v in MotionDiscriminator().state_dict().items()}
    expected = MOTION_DISCRIMINATOR
    assert got == expected


def test_attention_init_uniform_and_bias_001():
    disc = MotionDiscriminator(input_size=6, rnn_size=16, attention_size=16)
    linears = [m for m in disc.attention.attention if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    for lin in linears:
        assert lin.weight.abs().max() <= 0.1
        torch.testing.assert_close(lin.bias, torch.full_like(lin.bias, 0.01))


def test_attention_pooling_matches_hand_computation_and_weights_sum_to_one():
    torch.manual_seed(0)
    disc = MotionDiscriminator(input_size=6, rnn_size=8, attention_size=5, attention_layers=2).double().eval()
    x = torch.randn(3, 7, 6, dtype=torch.float64)
    score, weights = disc.forward_with_attention(x)
    assert weights.shape == (3, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, dtype=torch.float64))
    states = disc.gru(x.transpose(0, 1))[0].transpose(0, 1)  # (B, T, H)
    l0, l3, l6 = (disc.attention.attention[i] for i in (0, 3, 6))
    logits = torch.tanh(l6(torch.tanh(l3(torch.tanh(l0(states))))))[..., 0]
    w = torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True)
    torch.testing.assert_close(weights, w)
    torch.testing.assert_close(score, disc.fc((states * w[..., None]).sum(1)))


def test_concat_and_last_pooling_match_hand_computation():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    disc = MotionDiscriminator(input_size=4, rnn_size=6, pooling="concat").double()
    states = torch.relu(disc.gru(x.transpose(0, 1))[0])
    pooled = torch.cat((states.mean(0), states.max(0).values), -1)
    torch.testing.assert_close(disc(x), disc.fc(pooled))
    assert disc.fc.in_features == 12

    disc = MotionDiscriminator(input_size=4, rnn_size=6, pooling="last").double()
    torch.testing.assert_close(disc(x), disc.fc(disc.gru(x.transpose(0, 1))[0][-1]))
    assert disc.forward_with_attention(x)[1] is None
    with pytest.raises(ValueError):
        MotionDiscriminator(pooling="max")


def test_motion_features_axis_angle_is_thetas_body_pose_slice():
    rng = np.random.default_rng(0)
    rotvec = rng.normal(scale=0.8, size=(2, 3, 24, 3))
    rotmat = torch.from_numpy(Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(2, 3, 24, 3, 3))
    feats = motion_features(rotmat, "axis_angle")
    assert feats.shape == (2, 3, 69) == (2, 3, motion_feature_size(24))
    # theta = [cam 3, pose 72, betas 10]; theta[..., 6:75] is pose[3:72], i.e. joints 1..23.
    expected = Rotation.from_matrix(rotmat[:, :, 1:].reshape(-1, 3, 3).numpy()).as_rotvec().reshape(2, 3, 69)
    np.testing.assert_allclose(feats.numpy(), expected, atol=1e-6)


def test_motion_features_rot6d_keeps_the_first_two_columns():
    rotmat = torch.from_numpy(Rotation.random(2 * 4 * 13, random_state=1).as_matrix()).reshape(2, 4, 13, 3, 3)
    feats = motion_features(rotmat, "rot6d")
    assert feats.shape == (2, 4, 72) == (2, 4, motion_feature_size(13, "rot6d"))
    first = feats[0, 0, :6]
    r = rotmat[0, 0, 1]
    torch.testing.assert_close(first, torch.stack([r[0, 0], r[0, 1], r[1, 0], r[1, 1], r[2, 0], r[2, 1]]))
