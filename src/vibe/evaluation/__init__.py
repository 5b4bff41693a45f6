"""Evaluation: the paper's protocols (3DPW, MPI-INF-3DHP, Human3.6M), the runner and result tables.

- :mod:`~vibe.evaluation.protocols`: files, windows, joints and metric assembly.
- :mod:`~vibe.evaluation.runner`: :func:`evaluate_dataset` (model → JSON).
- :mod:`~vibe.evaluation.report`: Table-1 rows and docs/results.md sections.
"""

from vibe.evaluation.protocols import PROTOCOLS, compute_metrics, get_protocol, read_eval_set
from vibe.evaluation.report import table_row, write_results_table
from vibe.evaluation.runner import EvalConfig, evaluate_dataset, load_eval_model

__all__ = [
    "PROTOCOLS",
    "get_protocol",
    "read_eval_set",
    "compute_metrics",
    "EvalConfig",
    "evaluate_dataset",
    "load_eval_model",
    "table_row",
    "write_results_table",
]
