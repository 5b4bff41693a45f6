"""The temporal encoder over a whole track, in overlapping windows, without seams.

The generator is trained on windows of ``seqlen`` frames (16), each starting
from a zero GRU state. The original demo instead runs the GRU over chunks of
450 frames and concatenates them: a long history the model never saw in
training, and a jump at every chunk border where the state restarts.

Here the track is cut into windows of ``seqlen`` frames whose starts are
``seqlen − overlap`` apart (the last window is aligned to the track's end).
Every window runs from a zero state, as in training, and all windows go
through the GRU as one batch. The windows' *temporally encoded features*
``(T, F)`` (the GRU block's output, before the per-frame regressor) are
blended with cross-fade weights (:func:`crossfade_weights`): inside an
overlap the earlier window's weight falls linearly from 1 to 0 while the
later one's rises from 0 to 1. So

- every output is a convex combination of window outputs, and the weights
  change by at most ``1/(overlap + 1)`` from one frame to the next, hence no
  step at a window border: the output moves only as much as the windows'
  own outputs differ, spread over the overlap;
- the GRU is causal, so a window's first frames have the least history;
  they get the smallest weights.

Blending features rather than regressed rotations keeps rotations on SO(3)
without any averaging: the regressor maps each blended feature to one pose.
A track shorter than ``seqlen`` (a person seen for under about half a
second, down to one frame) is one window padded to ``seqlen`` frames by
repeating its first frame's features before it (``pad_short``): the GRU is
causal, so frames appended after the track would change nothing, while the
repeated first frame gives the real frames the history of a training window
(the person held still before being seen) instead of a window shorter than
any the model was trained on. A track of exactly ``seqlen`` frames is one window.
``seqlen=None`` runs the GRU over the whole track at once (exactly one pass,
useful to compare; memory and history grow with the track).

The original demo's chunking is an option (``chunk``, :data:`ORIGINAL_CHUNK`
= 450 frames): consecutive chunks, each from a zero state, outputs
concatenated, no padding. It reproduces the original code's numbers, seams
included; the windows above are the default.

Live (:class:`CausalWindows`): the GRU is causal, so a window's output at a
frame depends only on the window's frames up to it, and the cross-fade weight
of a window at a frame depends only on the frame's position in it. The same
blend can therefore be computed as frames arrive: one GRU state per open
window (two with the defaults), each stepped once per frame, a new one
started every ``seqlen − overlap`` frames, a full one dropped. Its outputs
equal :func:`encode_in_windows`' on every frame before the track's last
window (which the offline pass aligns to the track's end, knowing where it
ends); no look-ahead, constant memory per person.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "ORIGINAL_CHUNK",
    "WindowConfig",
    "window_starts",
    "crossfade_weights",
    "encode_in_windows",
    "encode_in_chunks",
    "CausalWindows",
]

# Frames per GRU pass in the original demo (its batch of 450 crops, each batch one sequence).
ORIGINAL_CHUNK = 450


@dataclass(frozen=True)
class WindowConfig:
    """How a track is cut into windows for the temporal encoder.

    Attributes:
        seqlen: window length in frames (the training window, 16); ``None``:
            one pass over the whole track.
        overlap: frames shared by consecutive windows (``0 < overlap < seqlen``).
        batch_windows: windows run through the GRU together (memory bound).
        pad_short: pad a track shorter than ``seqlen`` to a full window by
            repeating its first frame before it (module doc); False: run it as
            a short window.
        chunk: ``None`` (default): the windows above. A frame count (the
            original demo: :data:`ORIGINAL_CHUNK`): the GRU over consecutive
            chunks of that many frames instead, each from a zero state, outputs
            concatenated (:func:`encode_in_chunks`); ``seqlen``, ``overlap`` and
            ``pad_short`` are then unused.
    """

    seqlen: int | None = 16
    overlap: int = 8
    batch_windows: int = 256
    pad_short: bool = True
    chunk: int | None = None

    def __post_init__(self) -> None:
        if self.seqlen is not None and not 0 < self.overlap < self.seqlen:
            raise ValueError(f"overlap must be in (0, seqlen), got {self.overlap} with seqlen {self.seqlen}")
        if self.chunk is not None and self.chunk < 1:
            raise ValueError(f"chunk must be at least 1 frame (or None: windows), got {self.chunk}")


def window_starts(num_frames: int, seqlen: int, overlap: int) -> list[int]:
    """First frame of each window covering ``num_frames`` frames.

    Starts are ``k·(seqlen − overlap)``; the last window ends at the last
    frame (so it may overlap its predecessor by more than ``overlap``). One
    window ``[0]`` when ``num_frames ≤ seqlen``.
    """
    if num_frames <= seqlen:
        return [0]
    stride = seqlen - overlap
    starts = list(range(0, num_frames - seqlen, stride))
    starts.append(num_frames - seqlen)
    return starts


def crossfade_weights(num_frames: int, seqlen: int, starts: list[int], ramp: int) -> torch.Tensor:
    """``(N, seqlen)`` blending weight of each window's frames; per frame they sum to 1.

    Each window gets a trapezoid: it rises as ``(i + 1)/(ramp + 1)`` over its
    first ``ramp`` frames (not the first window) and falls symmetrically over
    its last ``ramp`` frames (not the last window), 1 elsewhere; the weights
    of the windows covering a frame are then divided by their sum. With
    windows exactly ``seqlen − ramp`` apart the sums are already 1 (a linear
    cross-fade); the end-aligned last window overlaps more and is normalised.
    A weight changes by at most ``1/(ramp + 1)`` between consecutive frames.
    """
    n, length = len(starts), min(seqlen, num_frames)
    i = torch.arange(length, dtype=torch.float64)
    rise = ((i + 1) / (ramp + 1)).clamp(max=1.0)
    fall = ((length - i) / (ramp + 1)).clamp(max=1.0)
    weights = torch.ones(n, length, dtype=torch.float64)
    weights[1:] *= rise
    weights[:-1] *= fall
    total = torch.zeros(num_frames, dtype=torch.float64)
    for k, s in enumerate(starts):
        total[s : s + length] += weights[k]
    for k, s in enumerate(starts):
        weights[k] /= total[s : s + length]
    return weights


def encode_in_windows(encoder: nn.Module, features: torch.Tensor, config: WindowConfig | None = None) -> torch.Tensor:
    """Temporally encode one track's per-frame features ``(T, F)`` → ``(T, F')`` (see module doc).

    Args:
        encoder: maps ``(B, t, F)`` → ``(B, t, F')`` (a
            :class:`~vibe.models.temporal.TemporalEncoder`), run from a zero state per call.
        features: ``(T, F)`` per-frame features of one track.
        config: windowing.

    Returns:
        ``(T, F')`` blended encoder outputs, in ``features``' dtype.
    """
    config = config or WindowConfig()
    if config.chunk is not None:
        return encode_in_chunks(encoder, features, config.chunk)
    num_frames = features.shape[0]
    if config.seqlen is not None and num_frames < config.seqlen and config.pad_short:
        pad = features[:1].expand(config.seqlen - num_frames, -1)
        return encoder(torch.cat([pad, features])[None])[0, -num_frames:]
    if config.seqlen is None or num_frames <= config.seqlen:
        return encoder(features[None])[0]
    seqlen = config.seqlen
    starts = window_starts(num_frames, seqlen, config.overlap)
    weights = crossfade_weights(num_frames, seqlen, starts, config.overlap).to(features.device)
    out = None
    for first in range(0, len(starts), config.batch_windows):
        batch_starts = starts[first : first + config.batch_windows]
        windows = torch.stack([features[s : s + seqlen] for s in batch_starts])  # (B, seqlen, F)
        encoded = encoder(windows)
        if out is None:
            out = torch.zeros(num_frames, encoded.shape[-1], dtype=torch.float64, device=features.device)
        for b, s in enumerate(batch_starts):
            out[s : s + seqlen] += weights[first + b, :, None] * encoded[b].double()
    return out.to(features.dtype)


def encode_in_chunks(encoder: nn.Module, features: torch.Tensor, chunk: int = ORIGINAL_CHUNK) -> torch.Tensor:
    """The original demo's temporal encoding: ``(T, F)`` → ``(T, F')``, the GRU restarted every ``chunk`` frames.

    Frames ``[k·chunk, (k + 1)·chunk)`` go through ``encoder`` as one sequence
    from a zero state; the last chunk is whatever remains (no padding).
    """
    return torch.cat([encoder(part[None])[0] for part in features.split(chunk)])


class CausalWindows:
    """:func:`encode_in_windows` computed one frame at a time (module docstring, "Live").

    One instance per person; ``encoder`` must have ``step(features (B, F),
    hidden) -> (out (B, F'), hidden)`` (:meth:`~vibe.models.temporal.TemporalEncoder.step`).
    ``config.seqlen=None``: one GRU state carried over the whole track;
    ``config.chunk``: one state, restarted every ``chunk`` frames (equal to
    :func:`encode_in_chunks` on every frame).
    """

    def __init__(self, encoder: nn.Module, config: WindowConfig | None = None):
        self.encoder = encoder
        self.config = config or WindowConfig()
        self._windows: list[list] = []  # [age in frames, GRU state (L, 1, H) or None, is the first window]
        self._frames = 0

    @torch.no_grad()
    def push(self, features: torch.Tensor) -> torch.Tensor:
        """The next frame's features ``(F,)`` → its temporally encoded features ``(F',)``."""
        if self.config.chunk is not None:
            return self._push_chunked(features)
        seqlen, ramp = self.config.seqlen, self.config.overlap
        if not self._windows or (seqlen is not None and self._frames % (seqlen - ramp) == 0):
            self._windows.append([0, None, self._frames == 0])
        states = [w[1] for w in self._windows]
        hidden = None if all(h is None for h in states) else torch.cat(
            [h if h is not None else torch.zeros_like(next(s for s in states if s is not None)) for h in states], dim=1
        )  # fmt: skip
        out, hidden = self.encoder.step(features[None].expand(len(self._windows), -1), hidden)
        weights = torch.tensor([self._weight(age, first) for age, _, first in self._windows], dtype=out.dtype)
        blended = (weights[:, None] * out).sum(0) / weights.sum()
        for k, window in enumerate(self._windows):
            window[0] += 1
            window[1] = hidden[:, k : k + 1]
        self._windows = [w for w in self._windows if seqlen is None or w[0] < seqlen]
        self._frames += 1
        return blended

    def _push_chunked(self, features: torch.Tensor) -> torch.Tensor:
        """:meth:`push` with ``config.chunk``: one GRU state, back to zero at every chunk's first frame."""
        hidden = None if self._frames % self.config.chunk == 0 else self._windows[0][1]
        out, hidden = self.encoder.step(features[None], hidden)
        self._windows = [[0, hidden, True]]
        self._frames += 1
        return out[0]

    def _weight(self, position: int, first: bool) -> float:
        """A window's cross-fade weight at ``position`` (as :func:`crossfade_weights`; live, no window is the last)."""
        seqlen, ramp = self.config.seqlen, self.config.overlap
        if seqlen is None:
            return 1.0
        rise = 1.0 if first else min((position + 1) / (ramp + 1), 1.0)
        return rise * min((seqlen - position) / (ramp + 1), 1.0)
