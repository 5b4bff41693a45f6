"""Headless OpenGL for pyrender: pick EGL, else OSMesa, once per process.

PyOpenGL reads ``PYOPENGL_PLATFORM`` when ``OpenGL`` is *first imported* and
never again, so the platform has to be fixed before anything in the process
imports ``OpenGL`` (pyrender does at import). Hence:

- nothing here runs at import time; :func:`choose_platform` runs when the
  first renderer is created (:func:`create_offscreen_renderer`), and the vibe
  package imports ``pyrender`` only inside functions that come after it;
- each candidate is *probed in a short-lived subprocess* that imports
  pyrender and opens a tiny offscreen context: a platform whose libraries are
  missing or broken fails there, not in this process (a failed in-process
  attempt would leave PyOpenGL bound to it);
- the first candidate that works is written to ``os.environ`` and remembered
  for the rest of the process;
- a ``PYOPENGL_PLATFORM`` the user set is honoured: it is the only candidate;
- if ``OpenGL`` was imported before the choice (by another library), the
  variable can no longer take effect; the platform PyOpenGL already bound is
  used as is and a warning says so.

When nothing works, :class:`RenderUnavailableError` says, in one line, what
to install.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass

__all__ = [
    "BackendConfig",
    "RenderUnavailableError",
    "choose_platform",
    "create_offscreen_renderer",
    "probe_platform",
]

log = logging.getLogger(__name__)

_ENV = "PYOPENGL_PLATFORM"

# The platform chosen in this process (set by the first `choose_platform`).
_chosen_platform: str | None = None

# What each platform needs (Debian/Ubuntu package names).
_INSTALL_HINT = (
    "install Mesa's EGL (apt install libegl1 libegl-mesa0 libgl1-mesa-dri) "
    "or OSMesa (apt install libosmesa6, with PyOpenGL >= 3.1.5 for pyrender's OSMesa context)"
)

# Imports pyrender under the platform given in the environment and draws nothing
# into an 8x8 offscreen framebuffer; exit status 0 means the platform works.
_PROBE_CODE = "import pyrender; r = pyrender.OffscreenRenderer(8, 8); r.delete()"


class RenderUnavailableError(RuntimeError):
    """No OpenGL platform for offscreen rendering works on this machine."""


@dataclass(frozen=True)
class BackendConfig:
    """How to choose the OpenGL platform.

    Attributes:
        platforms: candidates in order of preference (PyOpenGL names).
        probe_timeout_s: seconds a probe subprocess may take (importing
            pyrender and creating a context takes 1-3 s).
    """

    platforms: tuple[str, ...] = ("egl", "osmesa")
    probe_timeout_s: float = 60.0


def probe_platform(platform: str, timeout_s: float = 60.0) -> str | None:
    """Try ``platform`` in a subprocess; ``None`` if it works, else a one-line reason."""
    env = {**os.environ, _ENV: platform}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout_s:.0f} s"
    if proc.returncode == 0:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {proc.returncode}"


def choose_platform(config: BackendConfig | None = None) -> str:
    """Fix the OpenGL platform of this process (see the module docstring) and return it.

    Raises:
        RenderUnavailableError: no candidate works.
    """
    global _chosen_platform
    if _chosen_platform is not None:
        return _chosen_platform
    config = config or BackendConfig()
    if "OpenGL" in sys.modules:
        # Too late to choose: PyOpenGL bound its platform at its first import.
        platform = os.environ.get(_ENV, "default")
        log.warning("OpenGL was imported before vibe chose a platform; using %r as bound", platform)
        _chosen_platform = platform
        return platform
    user = os.environ.get(_ENV)
    candidates = (user,) if user else config.platforms
    failures = []
    for platform in candidates:
        reason = probe_platform(platform, config.probe_timeout_s)
        if reason is None:
            os.environ[_ENV] = platform
            _chosen_platform = platform
            log.info("offscreen rendering with OpenGL platform %r", platform)
            return platform
        log.info("OpenGL platform %r unavailable: %s", platform, reason)
        failures.append(f"{platform}: {reason}")
    raise RenderUnavailableError(f"no offscreen OpenGL ({'; '.join(failures)}); {_INSTALL_HINT}")


def create_offscreen_renderer(width: int, height: int, config: BackendConfig | None = None):
    """A ``pyrender.OffscreenRenderer`` of ``width × height`` pixels on the chosen platform.

    Raises:
        RenderUnavailableError: no platform works (or creating the context fails).
    """
    choose_platform(config)
    import pyrender  # after the platform is fixed, on purpose

    try:
        return pyrender.OffscreenRenderer(viewport_width=int(width), viewport_height=int(height))
    except Exception as exc:  # context creation failing after a good probe: say why, once
        raise RenderUnavailableError(f"offscreen OpenGL context failed ({exc}); {_INSTALL_HINT}") from exc
