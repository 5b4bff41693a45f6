"""Parametric body models behind one interface (:class:`BodyModel`).

- :class:`vibe.body.smpl.SMPL` — the licensed SMPL model (user-supplied files).
- :class:`vibe.body.anny.Anny` — the open Anny model (Apache-2.0, ships its data).

The concrete models are imported lazily so ``import vibe.body`` stays cheap.
"""

from vibe.body.base import BodyModel, BodyOutput

__all__ = ["BodyModel", "BodyOutput", "SMPL", "Anny"]


def __getattr__(name: str):
    if name == "SMPL":
        from vibe.body.smpl import SMPL

        return SMPL
    if name == "Anny":
        from vibe.body.anny import Anny

        return Anny
    raise AttributeError(name)
