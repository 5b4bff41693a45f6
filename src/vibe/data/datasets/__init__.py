"""Readers of external training and evaluation datasets (the ``smpl`` stack's original db files)."""
