"""Rendering of body meshes over video frames (pyrender, headless OpenGL).

Importing this package does not touch OpenGL: the platform (EGL, else
OSMesa) is chosen when the first renderer is created (:mod:`.backend`).
"""

from vibe.render.backend import BackendConfig, RenderUnavailableError
from vibe.render.overlay import OverlayConfig, OverlayRenderer, PersonMesh, PinholeCamera, track_color

__all__ = [
    "BackendConfig",
    "OverlayConfig",
    "OverlayRenderer",
    "PersonMesh",
    "PinholeCamera",
    "RenderUnavailableError",
    "track_color",
]
