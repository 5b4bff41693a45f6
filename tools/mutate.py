"""Mutation testing of the orchestration layer, one module at a time (``make mutate``).

mutmut (3.x) copies ``src/`` and ``tests/`` under ``mutants/`` and runs, for
each mutant, only the tests that executed the mutated function. Here each
module is a separate mutmut run whose test selection is the test files aimed
at that module (``TARGETS``), so a mutant of the tracker never waits for the
demo's end-to-end tests; ``mutants/`` is rebuilt per module because mutmut's
stats cache belongs to one test selection.

Usage (one process at a time, one thread each, as on the 2-core machine)::

    .venv/bin/python tools/mutate.py                      # every module of TARGETS
    .venv/bin/python tools/mutate.py pipeline/tracker.py  # some of them
    .venv/bin/python tools/mutate.py --list               # the modules and their tests
    .venv/bin/python tools/mutate.py cli.py --tests tests/test_cli.py  # another test selection

A module may name function patterns (mutmut's mangled names) to restrict its
mutants, e.g. ``run.py`` to its smoothing and export wiring: its other
functions are exercised by the slow end-to-end demo tests. Results (killed,
survived, no tests, timeout, per module) are printed and written to
``mutants-summary.json``; a mutant no test executes counts as surviving, a
timeout is reported apart (the score is killed / all mutants).

mutmut 3 does not mutate decorated functions, so the typer commands' bodies in
``cli.py`` have no mutants: docs/testing.md lists the bugs planted there by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module (under src/vibe/) → (test files aimed at it, mutant name patterns or () for all).
TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pipeline/tracker.py": (("tests/test_tracker.py", "tests/test_pipeline_people.py"), ()),
    # The demo's smoothing and export wiring (moved out of run.py into stages.py / outputs.py):
    # only those functions, with the CLI's end-to-end runs (each mutant reruns two short demos).
    "pipeline/stages.py": (
        ("tests/test_cli_runs.py",),
        ("vibe.pipeline.stages.x_track_outputs__mutmut_*",),
    ),
    "pipeline/outputs.py": (
        ("tests/test_cli_runs.py",),
        ("vibe.pipeline.outputs.x_export_people__mutmut_*",),
    ),
    "evaluation/synthetic_scoring.py": (("tests/test_synthetic_scoring.py",), ()),
    # Its rows, pooling and options, with the fast tests only; the demo-running glue
    # (_evaluate_video, run_synthetic_benchmark) is left out: each of its mutants would rerun
    # the rendered benchmark fixture (a minute), and mutmut's CPU budget, estimated per test,
    # does not include a module fixture's setup, so such mutants end as timeouts.
    "evaluation/synthetic_bench.py": (
        (
            "tests/test_synthetic_scoring.py",
            "tests/test_synthetic_bench.py::test_parse_baselines",
            "tests/test_synthetic_bench.py::test_pool_results_weights_videos_by_frames",
        ),
        tuple(
            f"vibe.evaluation.synthetic_bench.x_{name}__mutmut_*"
            for name in ("table_rows", "_row", "pool_results", "parse_baselines", "write_json", "_label_dir")
        ),
    ),
    "cli.py": (("tests/test_cli.py", "tests/test_cli_runs.py"), ()),
    # The rest of pipeline/ and evaluation/ (measured on demand; see docs/testing.md).
    "pipeline/people.py": (("tests/test_tracker.py", "tests/test_pipeline_people.py"), ()),
    "pipeline/detector.py": (("tests/test_pipeline_people.py",), ()),
    "pipeline/landmarks.py": (("tests/test_pipeline_landmarks.py",), ()),
    "pipeline/video.py": (("tests/test_pipeline_video.py",), ()),
    "pipeline/smoothing.py": (("tests/test_smoothing.py",), ()),
    "pipeline/windows.py": (("tests/test_windows.py",), ()),
    "pipeline/background.py": (("tests/test_pipeline_background.py",), ()),
    "evaluation/report.py": (("tests/test_evaluation.py", "tests/test_synthetic_scoring.py"), ()),
    "evaluation/protocols.py": (("tests/test_evaluation.py", "tests/test_datasets_release_eval.py"), ()),
    "evaluation/runner.py": (("tests/test_evaluation.py", "tests/test_datasets_release_eval.py"), ()),
    "evaluation/release_features.py": (("tests/test_datasets_release_eval.py",), ()),
    "evaluation/ablations.py": (("tests/test_ablations.py",), ()),
    "evaluation/scenes.py": (("tests/test_scenes.py",), ()),
    "evaluation/synthetic_make.py": (("tests/test_synthetic_bench.py",), ()),
    "evaluation/track_regression.py": (("tests/test_synthetic_bench.py",), ()),
}
# The modules the issue names first (issue 16); the default when no module is given.
ORCHESTRATION = (
    "pipeline/tracker.py",
    "pipeline/stages.py",
    "pipeline/outputs.py",
    "evaluation/synthetic_scoring.py",
    "evaluation/synthetic_bench.py",
    "cli.py",
)
KILLED = {1, 3}  # a test failed (or pytest itself did)
SURVIVED = {0, 5, 33}  # tests pass, or no test executes the mutant
# Timeouts are counted apart, not as kills: on this machine they mostly mean that a slow
# module fixture blew mutmut's CPU budget (estimated from the clean run), not that the mutant hung.
TIMEOUT = {36, 24, -24, 152, 255}


def _configure(module: str, tests: Sequence[str] | None = None) -> None:
    """Point mutmut's configuration at one module and its aimed test files (or ``tests``)."""
    import mutmut.configuration as mc

    tests = tests or TARGETS[module][0]
    cfg = mc._load_config()
    cfg.source_paths = [Path("src")]
    cfg.resolved_mutated_source_paths = [ROOT / "mutants" / "src"]
    cfg.only_mutate = [f"src/vibe/{module}"]
    cfg.also_copy = [*cfg.also_copy, Path("assets"), Path("configs")]
    cfg.pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]
    cfg.pytest_add_cli_args_test_selection = [t for t in tests if (ROOT / t.split("::")[0]).exists()]
    cfg.use_git_change_detection = False
    # Plain fork from the process that ran the stats pass aborts (SIGABRT) once MediaPipe graphs
    # or torch threads have run in it; a clean fork server does not.
    cfg.process_isolation = mc.ProcessIsolation.FORKSERVER
    mc._config = cfg


def _summary(module: str) -> dict:
    """Counts of mutant outcomes of ``module`` from mutmut's meta file (restricted to its patterns)."""
    import fnmatch

    _, patterns = TARGETS[module]
    meta = json.loads((ROOT / "mutants" / "src" / "vibe" / f"{module}.meta").read_text())
    codes = {k: v for k, v in meta["exit_code_by_key"].items() if not patterns or any(fnmatch.fnmatch(k, p) for p in patterns)}
    counts = Counter(
        "killed" if c in KILLED else "survived" if c in SURVIVED else "timeout" if c in TIMEOUT else "other"
        for c in codes.values()
    )
    total = len(codes)
    survivors = sorted(k for k, c in codes.items() if c in SURVIVED)
    return {
        "module": module,
        "mutants": total,
        "killed": counts["killed"],
        "survived": counts["survived"],
        "timeout": counts["timeout"],
        "other": counts["other"],
        "score": round(100.0 * counts["killed"] / total, 1) if total else None,
        "survivors": survivors,
    }


def run_module(module: str, tests: Sequence[str] | None = None) -> dict:
    """One mutmut run over ``module`` (fresh ``mutants/``) and its outcome counts."""
    from mutmut.__main__ import _run

    os.chdir(ROOT)
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    _configure(module, tests)
    _, patterns = TARGETS[module]
    try:
        _run(list(patterns), max_children=1)
    except SystemExit as exc:  # mutmut exits after a run naming mutants
        if exc.code not in (0, None):
            raise
    return _summary(module)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="paths under src/vibe/ (default: the orchestration modules)")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests")
    parser.add_argument("--out", default="mutants-summary.json", help="summary JSON (appended per module)")
    parser.add_argument("--tests", nargs="+", help="test files instead of the module's own (e.g. to measure a before state)")
    args = parser.parse_args(argv)
    if args.list:
        for module, (tests, patterns) in TARGETS.items():
            print(f"{module}: {' '.join(tests)}" + (f"  [{' '.join(patterns)}]" if patterns else ""))
        return 0
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"not in TARGETS: {unknown}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    summaries = []
    for module in args.modules or ORCHESTRATION:
        # Each module in its own process: mutmut keeps global state per run.
        pid = os.fork()
        if pid == 0:
            summary = run_module(module, args.tests)
            summary["tests"] = list(args.tests or TARGETS[module][0])
            out = ROOT / args.out
            done = json.loads(out.read_text()) if out.exists() else {}
            done[module] = summary
            out.write_text(json.dumps(done, indent=2) + "\n")
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        summaries.append((module, os.waitstatus_to_exitcode(status)))
    results = json.loads((ROOT / args.out).read_text()) if (ROOT / args.out).exists() else {}
    for module, code in summaries:
        s = results.get(module)
        if code or s is None:
            print(f"{module}: mutmut failed (exit {code})")
        else:
            print(f"{module}: {s['killed']}/{s['mutants']} killed ({s['score']} %), {s['survived']} surviving")
    return 0 if all(code == 0 for _, code in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
