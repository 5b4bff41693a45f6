"""The body of ``vibe batch`` (:mod:`vibe.cli` keeps the options): run, report, exit code.

The library side is :mod:`vibe.pipeline.batch`; this turns its outcome
into what a shell sees: the summary table on stdout, one ``error:`` line on
stderr for a batch that cannot start, and the exit code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import typer

__all__ = ["batch_command"]

EXIT_INTERRUPTED = 130


def batch_command(
    inputs: list[str], out: str, demo_options: dict, run_options: dict, quiet: bool, usage_error: Callable[[str], None]
) -> int:
    """Run the batch; the exit code (``usage_error`` exits with the usage code for bad options or inputs)."""
    from vibe.pipeline.batch import BatchOptions, format_summary, run_batch
    from vibe.pipeline.batch_io import BatchInputError
    from vibe.pipeline.batch_manifest import ManifestLockedError
    from vibe.pipeline.demo_config import DemoConfig, DemoError

    _quiet_per_video_logs()
    try:
        config = DemoConfig(progress=False, **demo_options)
    except ValueError as exc:  # a stack, export or refine combination the demo refuses
        usage_error(str(exc))
    try:
        summary = run_batch(inputs, out, config, BatchOptions(progress=not quiet, **run_options))
    except BatchInputError as exc:
        usage_error(str(exc))
    except ManifestLockedError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    except DemoError as exc:  # the generator cannot load: no video was run
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except (ImportError, ConnectionError) as exc:  # --ray without Ray installed, or no cluster at the address
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        return 1
    typer.echo(format_summary(summary))
    typer.echo(f"manifest: {summary_manifest(out)}")
    if summary.interrupted:
        typer.echo("interrupted: the videos not recorded in the manifest run next time", err=True)
        return EXIT_INTERRUPTED
    return summary.exit_code


def _quiet_per_video_logs() -> None:
    """Per-video INFO lines (people found, models loaded) off unless --verbose: the progress bar and
    the manifest say it (warnings still show, and each video's are printed when it finishes)."""
    if logging.getLogger().level > logging.DEBUG:
        for name in ("vibe", "anny"):
            logging.getLogger(name).setLevel(logging.WARNING)


def summary_manifest(out: str) -> str:
    """Where the manifest is: ``OUT/manifest.jsonl``."""
    from vibe.pipeline.batch_io import join
    from vibe.pipeline.batch_manifest import MANIFEST_FILE

    return join(out, MANIFEST_FILE)
