"""Random body shapes for synthetic windows: Anny phenotypes from anny's WHO-calibrated distribution."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

__all__ = ["sample_phenotypes"]


@lru_cache(maxsize=1)
def _anny_shape_calibration() -> dict[str, dict[str, np.ndarray]]:
    """anny's WHO-calibrated phenotype distributions (``data/shape_calibration``), as numpy."""
    from anny.paths import get_anny_root_dir

    out = {}
    for sex in ("boys", "girls"):
        path = get_anny_root_dir() / "data" / "shape_calibration" / f"{sex}.pth"
        state = torch.load(path, weights_only=True, map_location="cpu")
        out[sex] = {f"{k}.{kk}": vv.double().numpy() for k, v in state.items() for kk, vv in v.items()}
    return out


def sample_phenotypes(
    rng: np.random.Generator, batch: int, age_years: tuple[float, float] = (13.0, 70.0)
) -> np.ndarray:
    """Random Anny phenotypes ``(B, 6)`` = gender, age, muscle, weight, height, proportions.

    Distribution (anny's ``SimpleShapeDistribution``, sampled with ``rng``):
    morphological age uniform in ``age_years`` mapped to anny's age parameter
    by anny's piecewise-linear calibration; gender uniform in [0, 1], the
    male (≤ 0.5) or female tables choosing the rest; height, weight, muscle
    and proportions each Beta(α(age), β(age)) with α, β interpolated from
    anny's fit to WHO growth data (clamped at the table ends: adults share the
    16-year height table).
    """
    calib = _anny_shape_calibration()
    mapping = calib["boys"]
    years = rng.uniform(*age_years, size=batch)
    age = np.interp(
        years,
        mapping["morphological_age_mapping.morphological_age_anchors"],
        mapping["morphological_age_mapping.anny_age_anchors"],
    )
    gender = rng.uniform(0.0, 1.0, size=batch)
    values = {}
    for label in ("muscle", "weight", "height", "proportions"):
        draws = []
        for sex in ("boys", "girls"):
            table = calib[sex]
            key = f"conditional_{label}_distribution"
            anchors = table[f"{key}.age_anchors"]
            a = np.interp(age, anchors, table[f"{key}.alpha_anchors"])
            b = np.interp(age, anchors, table[f"{key}.beta_anchors"])
            draws.append(rng.beta(a, b))
        values[label] = np.where(gender <= 0.5, draws[0], draws[1])
    return np.stack(
        [gender, age, values["muscle"], values["weight"], values["height"], values["proportions"]], axis=-1
    )
