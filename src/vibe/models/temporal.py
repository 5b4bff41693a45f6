"""Temporal encoder of VIBE: a GRU over per-frame features with a residual output.

Behaves exactly as the released model (``encoder.*`` in ``gen_state_dict``):
features ``(B, T, F)`` are run time-major through ``nn.GRU``; the GRU output
goes through ReLU and a ``Linear`` back to ``F`` (``Linear(2H → F)`` when
bidirectional, ``Linear(H → F)`` when ``add_linear``); the input is added when
the output width equals ``F``. The released configuration is a 2-layer
unidirectional GRU with 1024 hidden units (the paper says bidirectional; the
code and weights are not).

A **look-ahead branch** (``lookahead_layers > 0``, not in the original) adds
what a second GRU, run backwards in time over the same features, reads from
the frames that follow: ``lookahead_linear(relu(gru_back(x reversed)))`` is
added to the output. Its linear layer starts at zero, so a causal model
loaded into it answers exactly as before until the branch is trained; the
causal answer (``forward(..., causal=True)``, :meth:`TemporalEncoder.step`)
leaves the branch out, which is what live input runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TemporalEncoderConfig", "TemporalEncoder"]


@dataclass
class TemporalEncoderConfig:
    """Arguments of :class:`TemporalEncoder` (defaults: the released model)."""

    input_size: int = 2048
    hidden_size: int = 1024
    n_layers: int = 2
    bidirectional: bool = False
    add_linear: bool = True
    use_residual: bool = True
    lookahead_layers: int = 0


class TemporalEncoder(nn.Module):
    """GRU encoder ``(B, T, F) → (B, T, F')``; ``F' = F`` unless no linear layer is used.

    Module names ``gru`` and ``linear`` match the original checkpoint; the
    look-ahead branch is ``lookahead`` and ``lookahead_linear`` (module doc).
    """

    def __init__(
        self,
        input_size: int = 2048,
        hidden_size: int = 1024,
        n_layers: int = 2,
        bidirectional: bool = False,
        add_linear: bool = True,
        use_residual: bool = True,
        lookahead_layers: int = 0,
    ):
        super().__init__()
        self.input_size = input_size
        self.use_residual = use_residual
        self.gru = nn.GRU(
            input_size=input_size, hidden_size=hidden_size, num_layers=n_layers, bidirectional=bidirectional
        )
        self.linear: nn.Linear | None = None
        if bidirectional:
            self.linear = nn.Linear(2 * hidden_size, input_size)
        elif add_linear:
            self.linear = nn.Linear(hidden_size, input_size)
        self.lookahead: nn.GRU | None = None
        self.lookahead_linear: nn.Linear | None = None
        if lookahead_layers > 0:
            if self.output_size != input_size:
                raise ValueError("the look-ahead branch needs an output as wide as the input (add_linear)")
            self.lookahead = nn.GRU(input_size=input_size, hidden_size=hidden_size, num_layers=lookahead_layers)
            self.lookahead_linear = nn.Linear(hidden_size, input_size)
            nn.init.zeros_(self.lookahead_linear.weight)  # a no-op until trained (module doc)
            nn.init.zeros_(self.lookahead_linear.bias)

    @classmethod
    def from_config(cls, config: TemporalEncoderConfig) -> "TemporalEncoder":
        """Build from a :class:`TemporalEncoderConfig`."""
        return cls(**vars(config))

    @property
    def output_size(self) -> int:
        """Width of the output features."""
        if self.linear is not None:
            return self.linear.out_features
        return self.gru.hidden_size * (2 if self.gru.bidirectional else 1)

    def forward(self, features: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """Per-frame features ``(B, T, F)`` → temporally encoded features ``(B, T, F')``.

        ``causal``: leave the look-ahead branch out (each output then depends
        on its frame and the earlier ones only, as :meth:`step`).
        """
        x = features.transpose(0, 1)  # (T, B, F): the GRU is time-major, as the original
        y, _ = self.gru(x)
        out = self._head(y, x)
        if self.lookahead is not None and not causal:
            ahead, _ = self.lookahead(x.flip(0))  # (T, B, H), frame t having read frames T-1 … t
            out = out + self.lookahead_linear(F.relu(ahead.flip(0)))
        return out.transpose(0, 1)

    def step(self, features: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame of ``B`` sequences: ``(B, F)`` and the GRU state → ``(B, F')`` and the next state.

        ``hidden``: ``(n_layers · directions, B, H)`` from the previous step,
        or None for the zero state a sequence starts from; T steps from None
        give ``forward(..., causal=True)``'s outputs (the state is passed in and
        out, never kept on the module). Unidirectional
        GRUs only (a backward pass looks ahead); a look-ahead branch is left out.
        """
        if self.gru.bidirectional:
            raise ValueError("a bidirectional GRU cannot run frame by frame")
        x = features[None]  # (1, B, F)
        y, hidden = self.gru(x, hidden)
        return self._head(y, x)[0], hidden

    def _head(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """GRU output ``(T, B, H)`` → ReLU, linear, residual with the input ``(T, B, F)``."""
        if self.linear is not None:
            y = self.linear(F.relu(y))
        if self.use_residual and y.shape[-1] == self.input_size:
            y = y + x
        return y
