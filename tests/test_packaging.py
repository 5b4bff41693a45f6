"""pyproject.toml as setuptools reads it when building the wheel: no deprecated fields, the SPDX licence."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

setuptools = pytest.importorskip("setuptools")

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_builds_without_deprecations(monkeypatch):
    """The `license = { text = ... }` table warned on every build (a failure from 2027-02-18); none now."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    monkeypatch.chdir(ROOT)  # paths in pyproject.toml (readme, licence files) are relative to it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert not [str(w.message) for w in caught if issubclass(w.category, Warning)]
    assert dist.metadata.license_expression == "MIT"
    assert dist.metadata.license_files == ["LICENSE"] and (ROOT / "LICENSE").read_text().startswith("MIT License")
