"""vibe: video inference for human body pose and shape estimation.

The package follows the data flow: ``geometry`` (rotations, cameras, crops) →
``body`` (parametric body models) → ``models`` (VIBE networks) → ``data`` /
``training`` → ``pipeline`` (video demo) → ``fitting`` → ``evaluation``.
"""

__version__ = "0.1.0"
