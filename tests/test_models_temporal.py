"""Temporal encoder: released key names/shapes and the original's computation, against a hand-written GRU."""

from __future__ import annotations

import torch

from released_layout import TEMPORAL_ENCODER
from vibe.models.temporal import TemporalEncoder


def _gru_reference(x: torch.Tensor, gru: torch.nn.GRU) -> torch.Tensor:
    """Unidirectional multi-layer GRU on ``(T, B, F)`` from the textbook equations (PyTorch gate order r, z, n)."""
    out = x
    for layer in range(gru.num_layers):
        w_ih = getattr(gru, f"weight_ih_l{layer}")
        w_hh = getattr(gru, f"weight_hh_l{layer}")
        b_ih = getattr(gru, f"bias_ih_l{layer}")
        b_hh = getattr(gru, f"bias_hh_l{layer}")
        h = torch.zeros(out.shape[1], gru.hidden_size, dtype=x.dtype)
        steps = []
        for x_t in out:
            gi = x_t @ w_ih.T + b_ih
            gh = h @ w_hh.T + b_hh
            i_r, i_z, i_n = gi.chunk(3, -1)
            h_r, h_z, h_n = gh.chunk(3, -1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
            steps.append(h)
        out = torch.stack(steps)
    return out


def test_released_configuration_key_names_and_shapes():
    got = {k: tuple(v.shape) for k, v in TemporalEncoder().state_dict().items()}
    expected = TEMPORAL_ENCODER
    assert got == expected


def test_forward_equals_gru_relu_linear_plus_input():
    torch.manual_seed(1)
    enc = TemporalEncoder(input_size=12, hidden_size=8, n_layers=2).double()
    x = torch.randn(3, 5, 12, dtype=torch.float64)  # (B, T, F)
    h = _gru_reference(x.transpose(0, 1), enc.gru)
    expected = (torch.relu(h) @ enc.linear.weight.T + enc.linear.bias + x.transpose(0, 1)).transpose(0, 1)
    torch.testing.assert_close(enc(x), expected)


def test_no_residual_and_no_linear_variants():
    torch.manual_seed(2)
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    enc = TemporalEncoder(input_size=6, hidden_size=6, n_layers=1, add_linear=False, use_residual=False).double()
    torch.testing.assert_close(enc(x), _gru_reference(x.transpose(0, 1), enc.gru).transpose(0, 1))
    # Without a linear layer the residual is added only when widths agree (H == F).
    enc = TemporalEncoder(input_size=6, hidden_size=6, n_layers=1, add_linear=False).double()
    torch.testing.assert_close(enc(x), _gru_reference(x.transpose(0, 1), enc.gru).transpose(0, 1) + x)
    enc = TemporalEncoder(input_size=6, hidden_size=5, n_layers=1, add_linear=False)
    assert enc(x.float()).shape == (2, 4, 5)


def test_bidirectional_projects_both_directions_back_to_input_width():
    enc = TemporalEncoder(input_size=6, hidden_size=4, n_layers=1, bidirectional=True)
    assert tuple(enc.linear.weight.shape) == (6, 8)
    assert enc(torch.randn(2, 3, 6)).shape == (2, 3, 6)


def test_causal_unidirectional_output_does_not_see_the_future():
    enc = TemporalEncoder(input_size=6, hidden_size=4, n_layers=2).eval()
    x = torch.randn(1, 6, 6)
    y = x.clone()
    y[:, 4:] += 1.0
    torch.testing.assert_close(enc(x)[:, :4], enc(y)[:, :4])
    assert not torch.allclose(enc(x)[:, 4:], enc(y)[:, 4:])


def test_lookahead_branch_starts_as_a_no_op_and_its_causal_path_is_the_step_path():
    torch.manual_seed(3)
    plain = TemporalEncoder(input_size=6, hidden_size=4, n_layers=2).double().eval()
    ahead = TemporalEncoder(input_size=6, hidden_size=4, n_layers=2, lookahead_layers=1).double().eval()
    ahead.load_state_dict({**ahead.state_dict(), **plain.state_dict()})
    x = torch.randn(2, 7, 6, dtype=torch.float64)
    torch.testing.assert_close(ahead(x), plain(x))  # zero-initialised linear: exactly the causal model
    torch.nn.init.normal_(ahead.lookahead_linear.weight)
    hidden, steps = None, []
    for t in range(x.shape[1]):
        out, hidden = ahead.step(x[:, t], hidden)
        steps.append(out)
    torch.testing.assert_close(torch.stack(steps, 1), ahead(x, causal=True))
    torch.testing.assert_close(ahead(x, causal=True), plain(x))


def test_lookahead_branch_adds_a_reversed_gru_read_of_the_following_frames():
    torch.manual_seed(4)
    enc = TemporalEncoder(input_size=6, hidden_size=4, n_layers=1, lookahead_layers=1).double().eval()
    torch.nn.init.normal_(enc.lookahead_linear.weight)
    x = torch.randn(2, 5, 6, dtype=torch.float64)
    back = _gru_reference(x.transpose(0, 1).flip(0), enc.lookahead).flip(0)  # (T, B, H)
    expected = enc(x, causal=True) + (torch.relu(back) @ enc.lookahead_linear.weight.T).transpose(0, 1)
    torch.testing.assert_close(enc(x), expected + enc.lookahead_linear.bias)
    y = x.clone()
    y[:, 4:] += 1.0  # a later frame now changes the earlier outputs, and only through the branch
    assert not torch.allclose(enc(x)[:, :4], enc(y)[:, :4])
    torch.testing.assert_close(enc(x, causal=True)[:, :4], enc(y, causal=True)[:, :4])
