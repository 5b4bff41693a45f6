"""Training VIBE: configuration, data sources, the trainer, multi-process helpers.

Entry point: :func:`vibe.training.trainer.train_from_config` (``vibe train``).
"""
