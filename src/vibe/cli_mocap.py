"""Bodies of the commands that read motion: ``vibe mocap import`` and ``vibe eval make-synthetic``.

Both read their inputs with `vibe.data.motion_input.load_motion` and the same
`~vibe.data.mocap.readers.MocapOptions`, and report what they did: one line
per retargeted clip (route and fit error), the licence that travels with the
clips, and for rendered sets the videos shorter than asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from vibe.data.mocap import MocapOptions

__all__ = ["bundled_motion", "fit_lines", "import_command", "make_synthetic_command", "synthetic_notes"]


def bundled_motion() -> Path:
    """The bundled CMU database (``vibe/resources/motion/cmu_anny.npz``)."""
    return Path(str(resources.files("vibe") / "resources" / "motion" / "cmu_anny.npz"))


def fit_lines(fits) -> list[str]:
    """Per retargeted clip, how it reached the body: a summary line, then the IK clips one per line."""
    if not fits:
        return []
    ik = [f for f in fits if f.route == "ik"]
    lines = [f"retargeted {len(fits)} clips: {len(fits) - len(ik)} bone for bone, {len(ik)} by IK on matched joints"]
    return lines + [f"  {f.line()}" for f in ik]


def import_command(paths: Sequence[Path], out: Path, options: MocapOptions) -> list[str]:
    """``vibe mocap import``: read, retarget onto Anny, save; returns the lines to print."""
    from vibe.body.anny import Anny
    from vibe.data.motion_input import load_motion

    loaded = load_motion(paths, Anny(), options)
    loaded.db.save(out)
    fps = ", ".join(f"{v:g}" for v in sorted(set(loaded.db.fps.tolist())))
    return [
        f"wrote {out}: {loaded.db.num_clips} clips, {loaded.db.num_frames} frames at {fps} fps",
        f"licence: {'; '.join(loaded.licences())}",
        *fit_lines(loaded.fits),
    ]


def make_synthetic_command(
    paths: Sequence[Path],
    out: Path,
    options: MocapOptions,
    videos: int,
    seconds: float,
    seed: int,
    subjects: Sequence[str] | None = None,
    label: str | None = None,
) -> list[str]:
    """``vibe eval make-synthetic``: render a set from any motion input; returns the lines to print.

    Without ``paths`` the bundled database's held-out subjects are rendered;
    with them every clip (or the ``subjects`` given) is, labelled ``label``
    (default: the input's file or folder name).
    """
    from vibe.body.anny import Anny
    from vibe.data.motion_db import VALIDATION_SUBJECTS
    from vibe.data.motion_input import input_label, load_motion
    from vibe.evaluation.synthetic_make import CMU_LABEL, make_synthetic_benchmark

    body = Anny()
    if paths:
        loaded = load_motion(paths, body, options)
        label = label or input_label(paths)
    else:
        loaded = load_motion([bundled_motion()], body, options)
        subjects, label = subjects or list(VALIDATION_SUBJECTS), label or CMU_LABEL
    written = make_synthetic_benchmark(
        loaded.db, out, n_videos=videos, seconds=seconds, seed=seed, subjects=subjects or None, body=body, label=label
    )
    lines = [f"wrote {len(written)} videos with ground truth to {out} (motion: {label})", *fit_lines(loaded.fits)]
    return lines + synthetic_notes(out)


def synthetic_notes(bench: Path) -> list[str]:
    """The licence of a rendered set and its videos shorter than asked (from ``benchmark.json``)."""
    import json

    summary = json.loads((bench / "benchmark.json").read_text())
    lines = [f"motion licence: {'; '.join(summary['licences'])}"]
    short = summary["short_videos"]
    if short:
        lines.append(
            f"{len(short)} of {len(summary['videos'])} videos are shorter than {summary['seconds']:g} s "
            "(their clip is; rendered whole):"
        )
        lines += [f"  {v['video']}: clip {v['clip']} ({v['subject']}), {v['seconds']:.2f} s" for v in short]
    return lines
