"""Table-1 style markdown from evaluation results, kept in marked sections of docs/results.md.

A section is everything between ``<!-- eval:NAME -->`` and ``<!-- /eval:NAME -->``;
:func:`write_results_table` replaces only that text (or appends the section
when the file has none), so hand-written text around it survives.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "REFERENCE_VIBE_WO_3DPW", "table_header", "table_row", "write_results_table"]

# (metric key, column title) in the paper's Table 1 order, then the extra metrics.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("pa_mpjpe", "PA-MPJPE ↓"),
    ("mpjpe", "MPJPE ↓"),
    ("pve", "PVE ↓"),
    ("accel", "ACCEL"),
    ("accel_err", "ACCEL_ERR ↓"),
    ("pck", "PCK@150 ↑"),
    ("auc", "AUC ↑"),
    ("pck2d", "PCK2D@0.1 ↑"),
    # The synthetic benchmark's 12 limb joints MediaPipe also has (its rows report only these).
    ("pa_mpjpe12", "PA-MPJPE12 ↓"),
    ("accel_err12", "ACCEL_ERR12 ↓"),
    # The synthetic benchmark's body shape (rest pose against the rendered body's).
    ("pve_t", "PVE-T ↓"),
    ("height_abs_err", "|Δheight| ↓"),
)

# The released vibe_model_wo_3dpw on 3DPW test, as published with the original code
# (DESIGN §4). For the docs table only: the tests never compare against it.
REFERENCE_VIBE_WO_3DPW: dict[str, Any] = {
    "label": "VIBE release wo_3dpw (published)",
    "title": "3DPW (test)",
    "metrics": {"mpjpe": 93.59, "pa_mpjpe": 56.56, "pve": 113.41, "accel": 27.12, "accel_err": 27.99},
}


def table_header() -> str:
    """The two header lines of the results table (model, dataset, metrics, frames)."""
    titles = ["Model", "Dataset", *(title for _, title in COLUMNS), "Frames"]
    return "| " + " | ".join(titles) + " |\n|" + "|".join(["---"] * 2 + ["---:"] * (len(COLUMNS) + 1)) + "|"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.2f}"


def table_row(results: Mapping[str, Any]) -> str:
    """One markdown row for a result dict of :func:`~vibe.evaluation.runner.evaluate_dataset`.

    Metrics the protocol does not report show as ``–``; mm, mm/frame² and percent, two decimals.
    """
    values = results.get("metrics", {})
    cells = [
        str(results.get("label", results.get("checkpoint") or "model")),
        str(results.get("title", results.get("dataset", ""))),
        *(_cell(values.get(key)) for key, _ in COLUMNS),
        str(results["n_frames"]) if "n_frames" in results else "–",
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "results"


def write_results_table(
    rows: Sequence[str], path: str | os.PathLike, title: str, name: str | None = None
) -> Path:
    """Write ``rows`` (from :func:`table_row`) as a titled table into the ``name`` section of ``path``.

    The section ``<!-- eval:NAME -->`` … ``<!-- /eval:NAME -->`` (``name``
    defaults to a slug of ``title``) is replaced when present, appended
    otherwise; the rest of the file is left byte for byte. The file is
    written under a temporary name and renamed.
    """
    path = Path(path)
    name = name or _slug(title)
    begin, end = f"<!-- eval:{name} -->", f"<!-- /eval:{name} -->"
    body = f"{begin}\n### {title}\n\n{table_header()}\n" + "".join(f"{row}\n" for row in rows) + end
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    i, j = text.find(begin), text.find(end)
    if i >= 0 and j > i:
        text = text[:i] + body + text[j + len(end) :]
    elif i >= 0 or j >= 0:
        raise ValueError(f"{path}: unbalanced markers for section {name!r}")
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") + body + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
