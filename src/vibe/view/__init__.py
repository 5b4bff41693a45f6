"""``vibe view``: a local page showing a result folder's video beside its 3D scene, in sync.

``scene`` poses every person from ``results.npz`` in the display frame (the
world frame when the world arrays are there, else the camera frame turned
upright); ``server`` serves the page (``static/``, three.js vendored under
``static/vendor/three`` with its licence) and the scene on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["view"]


def view(folder: Path, port: int = 8765, open_browser: bool = True, announce=print) -> None:
    """Pose the people of ``folder`` (a ``vibe demo`` output) and serve the page until interrupted."""
    from vibe.view.scene import load_scene
    from vibe.view.server import serve

    serve(load_scene(folder), port=port, open_browser=open_browser, announce=announce)
