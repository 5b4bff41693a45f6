"""Command-line interface: ``vibe <command>``.

Each command is a thin layer over the library; heavy imports happen inside the
command so ``vibe --help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
assets_app = typer.Typer(no_args_is_help=True, help="User-supplied files (SMPL, checkpoints).")
app.add_typer(assets_app, name="assets")


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )


@assets_app.command("check")
def assets_check(
    root: Optional[Path] = typer.Option(None, help="Data root (default: $VIBE_DATA_DIR or ~/.local/share/vibe)."),
) -> None:
    """List the user-supplied files, whether each is found, and what it enables."""
    from vibe.assets import check_assets, data_dir

    typer.echo(f"data root: {root or data_dir()}")
    for status in check_assets(root):
        mark = "found  " if status.found else "missing"
        typer.echo(f"  [{mark}] {status.path}  — {status.enables}")


if __name__ == "__main__":
    app()
