"""Shared pytest set-up: deterministic seeds, small thread pools, optional fast mode."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from smpl_fixtures import write_synthetic_smpl


def pytest_configure(config: pytest.Config) -> None:
    # CI has 2 cores; more threads only add contention between BLAS and torch.
    torch.set_num_threads(min(2, os.cpu_count() or 1))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("VIBE_FAST_TESTS") != "1":
        return
    skip = pytest.mark.skip(reason="VIBE_FAST_TESTS=1 skips slow tests")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed() -> None:
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def smpl_folder(tmp_path_factory) -> Path:
    """A synthetic SMPL folder in the user layout (``*.pkl`` files, and ``npz/`` with the same as ``.npz``)."""
    folder = tmp_path_factory.mktemp("smpl")
    write_synthetic_smpl(folder)
    write_synthetic_smpl(folder / "npz", fmt="npz")
    return folder
