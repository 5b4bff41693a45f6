"""Temporal encoder in cross-faded windows: coverage, weights, no seams against one full-length pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vibe.models.temporal import TemporalEncoder
from vibe.pipeline.windows import (
    ORIGINAL_CHUNK,
    CausalWindows,
    WindowConfig,
    crossfade_weights,
    encode_in_windows,
    window_starts,
)


@pytest.mark.parametrize("num_frames", [1, 16, 17, 24, 25, 100, 101])
def test_windows_cover_every_frame_and_weights_sum_to_one(num_frames):
    seqlen, overlap = 16, 8
    starts = window_starts(num_frames, seqlen, overlap)
    assert starts[0] == 0
    assert starts[-1] + min(seqlen, num_frames) == num_frames
    total = np.zeros(num_frames)
    w = crossfade_weights(num_frames, seqlen, starts, overlap).numpy()
    for k, s in enumerate(starts):
        total[s : s + w.shape[1]] += w[k]
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert (w >= 0).all()


def test_regular_windows_are_a_linear_crossfade():
    # Windows 8 apart, overlap 8: the later window's weights over the overlap are 1/9 … 8/9.
    starts = window_starts(40, 16, 8)
    assert starts == [0, 8, 16, 24]
    w = crossfade_weights(40, 16, starts, 8).numpy()
    np.testing.assert_allclose(w[1, :8], np.arange(1, 9) / 9)
    np.testing.assert_allclose(w[0, 8:], 1 - np.arange(1, 9) / 9)
    np.testing.assert_allclose(w[0, :8], 1.0)


def _encoder(gain: float, residual: bool = True) -> TemporalEncoder:
    torch.manual_seed(3)
    enc = TemporalEncoder(input_size=8, hidden_size=16, n_layers=2, use_residual=residual).double().eval()
    with torch.no_grad():
        for name, p in enc.gru.named_parameters():
            if "weight_hh" in name:
                p.mul_(gain)
            if gain < 1 and "bias_ih" in name:
                p[16:32] = -6.0  # update gate ≈ 0: the state is renewed every frame, little memory
    return enc


def _smooth_features(num_frames: int) -> torch.Tensor:
    t = torch.arange(num_frames, dtype=torch.float64)[:, None]
    return torch.sin(0.02 * t * torch.arange(1, 9, dtype=torch.float64) + torch.arange(8))


@torch.no_grad()
def test_no_seams_equal_a_full_pass_when_the_state_forgets():
    enc = _encoder(gain=0.2)
    x = _smooth_features(120)
    full = enc(x[None])[0]
    windowed = encode_in_windows(enc, x, WindowConfig(seqlen=16, overlap=8))
    # The first window is the full pass itself; later frames blend in windows with less
    # history, at small weight where that history is shortest.
    err = (windowed - full).abs().max(dim=-1).values
    assert err[:8].max() < 1e-12
    assert err.max() < 5e-3
    # Seam-free: the steps of the windowed output match the full pass's steps everywhere.
    steps_w = (windowed[1:] - windowed[:-1]).norm(dim=-1)
    steps_f = (full[1:] - full[:-1]).norm(dim=-1)
    assert (steps_w - steps_f).abs().max() < 5e-3

    # The check is sensitive: plain concatenated chunks (the original demo) jump at their borders.
    chunks = torch.cat([enc(c[None])[0] for c in x.split(16)])
    assert (chunks - full).abs().max(dim=-1).values[16] > 5 * err[16]


@torch.no_grad()
def test_windows_are_continuous_with_a_long_memory():
    enc = _encoder(gain=1.0, residual=False)  # the GRU's part alone, where seams would show
    x = _smooth_features(120)
    full = enc(x[None])[0]
    windowed = encode_in_windows(enc, x, WindowConfig(seqlen=16, overlap=8))
    chunks = torch.cat([enc(c[None])[0] for c in x.split(16)])
    step = lambda y: (y[1:] - y[:-1]).norm(dim=-1)  # noqa: E731
    borders = torch.arange(15, 119, 16)  # step from frame 16k-1 to 16k
    # The concatenated chunks restart the state at each border: steps far above the signal's own.
    assert step(chunks)[borders].max() > 2.5 * step(full).max()
    # The cross-fade has no such step anywhere.
    assert step(windowed).max() < 1.5 * step(full).max()


@torch.no_grad()
def test_short_track_and_seqlen_none_are_one_pass():
    enc = _encoder(gain=1.0)
    x = _smooth_features(40)
    full = enc(x[None])[0]
    unpadded = WindowConfig(seqlen=16, overlap=8, pad_short=False)
    torch.testing.assert_close(encode_in_windows(enc, x[:12], unpadded), full[:12])
    torch.testing.assert_close(encode_in_windows(enc, x[:16], WindowConfig(seqlen=16, overlap=8)), full[:16])
    torch.testing.assert_close(encode_in_windows(enc, x, WindowConfig(seqlen=None)), full)


@torch.no_grad()
@pytest.mark.parametrize("num_frames", [1, 5, 15])
def test_short_track_is_padded_with_its_first_frame_before_it(num_frames):
    """A track under seqlen frames sees a full window: its first frame repeated, then its frames."""
    enc = _encoder(gain=1.0)
    x = _smooth_features(num_frames)
    padded = torch.cat([x[:1].repeat(16 - num_frames, 1), x])  # written out independently of the module
    expected = enc(padded[None])[0, 16 - num_frames :]
    out = encode_in_windows(enc, x, WindowConfig(seqlen=16, overlap=8))
    assert out.shape == (num_frames, expected.shape[-1])
    torch.testing.assert_close(out, expected)
    # The padding matters: with a history the outputs differ from the bare short pass.
    assert not torch.allclose(out, enc(x[None])[0])


@torch.no_grad()
def test_batched_windows_equal_one_by_one():
    enc = _encoder(gain=1.0)
    x = _smooth_features(77)
    a = encode_in_windows(enc, x, WindowConfig(seqlen=16, overlap=6, batch_windows=256))
    b = encode_in_windows(enc, x, WindowConfig(seqlen=16, overlap=6, batch_windows=1))
    torch.testing.assert_close(a, b)


def test_bad_overlap():
    with pytest.raises(ValueError):
        WindowConfig(seqlen=16, overlap=16)
    with pytest.raises(ValueError, match="chunk"):
        WindowConfig(chunk=0)


@torch.no_grad()
def test_original_chunks_are_separate_passes_from_a_zero_state():
    """The original demo's chunking: frames [0, 450), [450, 900), [900, 1000), each its own GRU pass."""
    enc = _encoder(gain=1.0)
    x = _smooth_features(1000)
    out = encode_in_windows(enc, x, WindowConfig(chunk=ORIGINAL_CHUNK))
    assert ORIGINAL_CHUNK == 450 and out.shape == (1000, 8)
    for first, last in ((0, 450), (450, 900), (900, 1000)):
        torch.testing.assert_close(out[first:last], enc(x[None, first:last])[0], rtol=0, atol=0)
    # Not the default windows, nor one pass over the whole track (the state restarts at 450).
    assert not torch.allclose(out, encode_in_windows(enc, x, WindowConfig()))
    assert not torch.allclose(out[450:], enc(x[None])[0, 450:])


@torch.no_grad()
def test_original_chunks_frame_by_frame():
    """Live with chunks: one state, restarted every chunk, equal to the offline chunks on every frame."""
    enc = _encoder(gain=1.0)
    x = _smooth_features(25)
    config = WindowConfig(chunk=10)
    live = CausalWindows(enc, config)
    frames = torch.stack([live.push(f) for f in x])
    torch.testing.assert_close(frames, encode_in_windows(enc, x, config), atol=1e-12, rtol=0)
