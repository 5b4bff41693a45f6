"""Command-line interface: ``vibe <command>``.

Each command is a thin layer over the library; heavy imports happen inside the
command so ``vibe --help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer
import typer.core

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
assets_app = typer.Typer(no_args_is_help=True, help="User-supplied files (SMPL, checkpoints).")
app.add_typer(assets_app, name="assets")
mocap_app = typer.Typer(no_args_is_help=True, help="Motion capture: import and retarget onto a body model.")
app.add_typer(mocap_app, name="mocap")


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # PyOpenGL announces at INFO that its optional C accelerator is absent: not the user's concern.
    logging.getLogger("OpenGL").setLevel(logging.DEBUG if verbose else logging.WARNING)


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


EXIT_USAGE = 2  # click's code for usage errors, kept for ours
# typer ships its own copy of click; its usage-error class is BadParameter's base.
_UsageError = typer.BadParameter.__mro__[1]


class _OneLineUsageErrors(typer.core.TyperCommand):
    """A command whose usage errors (bad or out-of-range option values) are one ``error:`` line, exit 2."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _UsageError as exc:
            _usage_error(_usage_message(exc))

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except _UsageError as exc:  # typer converts and range-checks values when invoking
            _usage_error(_usage_message(exc))


def _usage_message(exc: Exception) -> str:
    """The error's text: click's own, which names the option or argument (its hint when given)."""
    # A prefix of our own repeated it ("invalid value for n: Invalid value for 'n': ...") for
    # arguments and unquoted hints, the only messages without "'--".
    return exc.format_message()


def _usage_error(message: str) -> None:
    """Print ``error: <message>`` on one line and exit with the usage-error code."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _check_device(device: str) -> None:
    """A usage error unless ``device`` is ``auto`` or a torch device this machine has."""
    if device == "auto":
        return
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        _usage_error(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        _usage_error(f"--device {device}: no CUDA device on this machine (use auto or cpu)")


def _bundled_sample() -> Path:
    # The sample clip lives in the repository's assets/ (an editable install, as `make demo` makes).
    sample = Path(__file__).resolve().parents[2] / "assets" / "people_walking.mp4"
    if not sample.is_file():  # installed from a wheel: no repository around it
        _usage_error("give a video: the sample clip comes only with a repository checkout (assets/)")
    return sample


# The export options of `vibe demo` and `vibe batch`: one definition and one check for both.
_EXPORT = typer.Option(None, "--export", help="bvh and/or gltf, one file per person (repeatable).")
_EXPORT_FRAME = typer.Option(
    "world", "--frame", help="Exports in the world (y up, ground at 0, root motion) or the camera frame."
)
_RIG = typer.Option("cmu_mb", "--rig", help="Export skeleton: cmu_mb, mixamo or game_engine (Anny's rigs; open stack).")


def _export_options(export: Optional[list[str]], frame: str, rig: str, stack: str) -> dict:
    """The :class:`~vibe.pipeline.demo_config.DemoConfig` fields of the export options (a usage error when invalid)."""
    from vibe.pipeline.demo_config import EXPORT_RIGS

    formats = tuple(export or ())
    if any(f not in ("bvh", "gltf") for f in formats):
        _usage_error(f"--export: choose bvh or gltf, got {', '.join(formats)}")
    if frame not in ("world", "camera"):
        _usage_error(f"--frame must be world or camera, got {frame!r}")
    if rig not in EXPORT_RIGS or (rig != EXPORT_RIGS[0] and stack != "open"):
        _usage_error(f"--rig: choose {', '.join(EXPORT_RIGS)} (other rigs: open stack only), got {rig!r}")
    return {"export": formats, "export_frame": frame, "rig": rig}


@app.command("demo", cls=_OneLineUsageErrors)
def demo(
    video: Optional[Path] = typer.Argument(None, help="Input video (default: the bundled sample clip)."),
    out: Path = typer.Option(Path("output"), "--out", "-o", help="Output folder; files go to OUT/<video-stem>/."),
    stack: str = typer.Option("open", help="open (BlazePose → Anny, bundled weights) or smpl (ResNet-50 → SMPL, your files)."),
    checkpoint: Optional[Path] = typer.Option(None, help="Generator weights (open: our checkpoint; smpl: vibe_model_w(o)_3dpw.pth.tar)."),
    smooth: bool = typer.Option(False, "--smooth", help="One-Euro smoothing of the joint rotations."),
    min_cutoff: float = typer.Option(0.004, min=0.0, help="One-Euro minimum cutoff in Hz, > 0 (with --smooth)."),
    beta: float = typer.Option(0.7, min=0.0, help="One-Euro speed coefficient, >= 0 (with --smooth)."),
    refine: Optional[bool] = typer.Option(
        None, "--refine/--no-refine",
        help="Fit each track to its 2D and world landmarks (default: on for the open stack; smpl: not available).",
    ),
    refine_steps: int = typer.Option(
        6, min=1, help="L-BFGS steps of that fit: more is more accurate and slower (docs/results.md: 4, 6)."
    ),
    centred_sigma: float = typer.Option(
        3.0, min=0.0, help="Centred Gaussian smoothing of each track (frames at 30 fps, scaled to the video's rate; 0: off)."
    ),
    no_fit_camera: bool = typer.Option(
        False, "--no-fit-camera", help="Keep the regressed camera (default: fitted to the landmarks, open stack)."
    ),
    no_label_swaps: bool = typer.Option(
        False, "--no-label-swaps",
        help="Keep BlazePose's landmarks as read (default: its brief left/right swaps of the body, arms, legs "
        "undone, and its brief upside-down readings dropped).",
    ),
    no_flip_average: bool = typer.Option(
        False, "--no-flip-average", help="Run the network once (default: averaged with its answer on the mirror image)."
    ),
    side_view: bool = typer.Option(False, "--side-view", help="Also render side.mp4."),
    no_render: bool = typer.Option(False, "--no-render", help="Skip overlay.mp4."),
    save_vertices: bool = typer.Option(False, "--save-vertices", help="Store mesh vertices in results.npz."),
    export: Optional[list[str]] = _EXPORT,
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    max_frames: Optional[int] = typer.Option(None, min=1, help="Read only the first N frames (N >= 1)."),
    workers: int = typer.Option(
        0, min=0, help="Parallel threads of the detection and landmark passes (0: one per CPU core, at most 4)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute detection and landmarks."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    frame: str = _EXPORT_FRAME,
    rig: str = _RIG,
    original_chunks: bool = typer.Option(
        False, "--original-chunks",
        help="GRU over whole 450-frame chunks, as the original demo (its numbers, seams included); "
        "default: overlapping 16-frame windows as in training.",
    ),
) -> None:
    """Video → tracked people → 3D bodies: results.npz, meta.json, overlay.mp4 and exports.

    Exit codes: 0 done (also when no person is found), 2 invalid option value,
    3 unreadable video, 4 missing licensed files, 5 output not writable,
    6 no trained weights, 130 interrupted (Ctrl-C; the output folder is left as it was).
    """
    from dataclasses import replace

    from vibe.pipeline.demo_config import EXIT_INTERRUPTED
    from vibe.pipeline.run import DemoConfig, DemoError, run_demo
    from vibe.pipeline.smoothing import OneEuroConfig
    from vibe.pipeline.windows import ORIGINAL_CHUNK, WindowConfig

    if stack not in ("open", "smpl"):
        _usage_error(f"--stack must be open or smpl, got {stack!r}")
    if refine and stack != "open":
        _usage_error("--refine fits detected landmarks: open stack only")
    exports = _export_options(export, frame, rig, stack)
    if not min_cutoff > 0:
        _usage_error(f"--min-cutoff must be above 0, got {min_cutoff}")
    _check_device(device)
    video = video or _bundled_sample()
    windows = {"windows": WindowConfig(chunk=ORIGINAL_CHUNK)} if original_chunks else {}
    config = DemoConfig(
        stack=stack,
        checkpoint=checkpoint,
        device=device,
        smooth=smooth,
        one_euro=OneEuroConfig(min_cutoff=min_cutoff, beta=beta),
        refine=refine,
        smplify=replace(DemoConfig().smplify, num_steps=refine_steps),
        centred_sigma=centred_sigma,
        fit_camera=not no_fit_camera,
        **({"label_swaps": None} if no_label_swaps else {}),
        flip_average=not no_flip_average,
        render=not no_render,
        side_view=side_view,
        save_vertices=save_vertices,
        max_frames=max_frames,
        workers=workers,
        cache=not no_cache,
        progress=not quiet,
        **exports,
        **windows,
    )
    try:
        result = run_demo(video, out, config)
    except DemoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except (KeyboardInterrupt, ImportError) as exc:
        # Ctrl-C while a native module (MediaPipe) initialises surfaces as its ImportError.
        if isinstance(exc, ImportError) and not isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            raise
        target = out / Path(video).stem
        typer.echo(f"interrupted: {target} is left as it was (the previous complete result, or nothing)", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    # Warnings were logged as they happened (logging goes to stderr): not repeated here.
    typer.echo(result.message)
    typer.echo(f"outputs: {result.out_dir}")


@app.command("view", cls=_OneLineUsageErrors)
def view(
    folder: Path = typer.Argument(..., help="A `vibe demo` result folder: OUT/<video-stem>."),
    port: int = typer.Option(8765, min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Only print the URL; open no browser."),
) -> None:
    """Show the video beside its 3D scene (people, trajectories, ground, camera) in a local page."""
    from vibe.assets import MissingAssetError
    from vibe.pipeline.demo_config import EXIT_MISSING_ASSETS
    from vibe.view import view as run_view

    if not (folder / "results.npz").is_file():
        _usage_error(f"{folder}: no results.npz (give the folder `vibe demo` wrote, OUT/<video-stem>)")
    try:
        run_view(folder, port=port, open_browser=not no_browser, announce=lambda url: typer.echo(f"vibe view: {url}"))
    except MissingAssetError as exc:  # a smpl-stack folder without the SMPL files here
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_MISSING_ASSETS) from None
    except ValueError as exc:  # meta.json names a body model this version does not know
        _usage_error(str(exc))
    except OSError as exc:  # the port is taken, or not ours to bind
        typer.echo(f"error: cannot serve on port {port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@app.command("live", cls=_OneLineUsageErrors)
def live(
    source: str = typer.Argument(..., help="Webcam index (0), rtsp://… or http://… stream, - (a pipe on stdin), or a file."),
    realtime: bool = typer.Option(False, "--realtime", help="Play a file, pipe or URL at its own rate, dropping frames when behind."),
    checkpoint: Optional[Path] = typer.Option(None, help="Open-stack generator weights (default: the bundled ones)."),
    detect_every: int = typer.Option(15, min=1, help="Person detector every N frames (and whenever someone is lost)."),
    no_fit_camera: bool = typer.Option(False, "--no-fit-camera", help="Keep the regressed camera (no per-frame fit)."),
    max_frames: Optional[int] = typer.Option(None, min=1, help="Stop after N processed frames."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Bodies frame by frame from a camera, stream, pipe or file: one JSON line per frame on stdout (docs/live.md)."""
    _check_device(device)
    from vibe.pipeline.live import LiveConfig, live_main
    from vibe.pipeline.roi_tracking import RoiTrackingConfig

    config = LiveConfig(roi_tracking=RoiTrackingConfig(detect_every=detect_every), fit_camera=not no_fit_camera,
                        max_frames=max_frames)  # fmt: skip
    raise typer.Exit(live_main(source, str(checkpoint) if checkpoint else None, device, realtime, config))


eval_app = typer.Typer(help="Evaluation: the paper's protocols and the open synthetic benchmark.")
app.add_typer(eval_app, name="eval")


@eval_app.callback(invoke_without_command=True)
def evaluate(
    ctx: typer.Context,
    dataset: Optional[list[str]] = typer.Option(
        None, "--dataset", "-d",
        help="3dpw, mpi-inf-3dhp, h36m (db files or the datasets' own release folders) or synthetic (a make-synthetic folder).",
    ),
    checkpoint: Optional[Path] = typer.Option(None, help="Released vibe_model_w(o)_3dpw.pth.tar or one of our checkpoints."),
    data: Optional[Path] = typer.Option(
        None,
        help="db file, or a folder with the db file or the dataset's release layout "
        "(default: $VIBE_DATA_DIR/datasets); synthetic: its folder.",
    ),
    spin: Optional[Path] = typer.Option(
        None, help="SPIN's spin_model_checkpoint.pth.tar, for features of a release layout (default: $VIBE_DATA_DIR/checkpoints)."
    ),
    out: Path = typer.Option(Path("output/eval"), help="Folder for one JSON per dataset."),
    results_md: Optional[Path] = typer.Option(None, help="Also write the table rows into this markdown file."),
    baseline: Optional[list[str]] = typer.Option(
        None, help="synthetic: NAME=CKPT, another checkpoint run on the same detections and landmarks (repeatable)."
    ),
    per_frame: bool = typer.Option(True, help="synthetic: add the checkpoint's per-frame row (one-frame windows)."),
) -> None:
    """Evaluate a model: MPJPE, PA-MPJPE, PVE, ACCEL, ACCEL_ERR, PCK, AUC (mm) per dataset."""
    if ctx.invoked_subcommand is not None:
        return
    if not dataset or checkpoint is None:
        raise typer.BadParameter("give --dataset (one or more) and --checkpoint")
    from vibe.evaluation import evaluate_dataset, table_row, write_results_table

    rows, notes = [], []
    for name in dataset:
        out_json = out / f"{name}.json"
        if name == "synthetic":
            from vibe.evaluation.synthetic_bench import parse_baselines, run_synthetic_benchmark

            if data is None:
                raise typer.BadParameter("the synthetic benchmark needs --data FOLDER (from `vibe eval make-synthetic`)")
            try:
                baselines = parse_baselines(baseline or [])
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from exc
            try:
                result = run_synthetic_benchmark(data, checkpoint, out_json, baselines=baselines, per_frame=per_frame)
            except FileNotFoundError as exc:  # no benchmark folder, no video in it, or no checkpoint: exit 4 as the others
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(4) from exc
            rows += [table_row(row) for row in result["rows"]]
            notes.append(f"{name}: nobody found in {result['n_videos_no_person']} of {result['n_videos']} videos"
                         + "".join(f", {v}" for v in result["videos_no_person"]))  # fmt: skip
        else:
            try:
                result = evaluate_dataset(name, checkpoint=checkpoint, data_root=data, out_json=out_json, spin_checkpoint=spin)
            except (FileNotFoundError, ValueError) as exc:  # dataset or asset not found, wrong stack
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(4) from exc
            rows.append(table_row(result))
    from vibe.evaluation.report import table_header

    typer.echo(table_header())
    for row in rows + notes:
        typer.echo(row)
    if results_md is not None:
        write_results_table(rows, results_md, "Evaluation", name="eval")


# Options of every command that reads motion (vibe.data.motion_input.load_motion).
_ASF = typer.Option(None, "--asf", help="Skeleton(s) for .amc clips, repeatable (default: the .asf beside each clip whose name prefixes the clip's).")
_BVH_SCALE = typer.Option(None, "--bvh-scale", help="Metres per BVH unit (default: detected from the rest skeleton's size, logged).")
_FPS = typer.Option(30.0, "--fps", help="Resample every mocap clip to this frame rate.")
_LICENCE = typer.Option("", "--licence", help="The motion's licence: stored with every clip, written into every derived file.")
_JOINT_MAP = typer.Option(None, "--joint-map", help="YAML file, source joint: body joint, overriding the automatic correspondence.")


def _mocap_options(asf, bvh_scale, fps, licence, joint_map):
    from vibe.data.mocap import MocapOptions

    return MocapOptions(asf=tuple(asf or ()), bvh_scale=bvh_scale, fps=fps, licence=licence, joint_map=joint_map)


@eval_app.command("make-synthetic")
def make_synthetic(
    mocap: Optional[list[Path]] = typer.Argument(
        None, help="Mocap files or folders (ASF/AMC, BVH, AMASS .npz) or motion databases (default: the held-out subjects of the bundled CMU DB)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Benchmark folder (videos + ground truth)."),
    videos: int = typer.Option(8, help="Number of videos."),
    seconds: float = typer.Option(4.0, help="Length of each video (shorter clips are rendered whole and listed)."),
    seed: int = typer.Option(0, help="Random seed (cameras, bodies, scenes)."),
    asf: Optional[list[Path]] = _ASF,
    bvh_scale: Optional[float] = _BVH_SCALE,
    fps: float = _FPS,
    licence: str = _LICENCE,
    joint_map: Optional[Path] = _JOINT_MAP,
    subject: Optional[list[str]] = typer.Option(None, help="Render only these subjects' clips (repeatable)."),
    label: Optional[str] = typer.Option(None, help="What the motion is, for result titles (default: the input's name)."),
    crowd: bool = typer.Option(False, "--crowd", help="Multi-person 1280x720 scenes with ground-truth boxes (people 60-400 px tall, every side, cameras up to 10 m high) for `vibe eval crowd`."),
    people: int = typer.Option(6, min=1, help="With --crowd: people per video."),
) -> None:
    """Render benchmark videos of Anny bodies with ground-truth 3D joints and 2D keypoints (--crowd: boxes of many people)."""
    from vibe.cli_mocap import make_synthetic_command

    if crowd:
        if mocap or subject:
            _usage_error("--crowd renders the bundled database's held-out clips: give no mocap files nor --subject")
        from vibe.evaluation.crowd_make import CrowdConfig, make_crowd_benchmark

        written = make_crowd_benchmark(out, videos, seed, CrowdConfig(seconds=seconds, people=people))
        typer.echo(f"wrote {len(written)} crowd videos with ground-truth boxes to {out}")
        return
    options = _mocap_options(asf, bvh_scale, fps, licence, joint_map)
    try:
        lines = make_synthetic_command(mocap or [], out, options, videos, seconds, seed, subject, label)
    except (FileNotFoundError, ValueError) as exc:
        _usage_error(str(exc))
    for line in lines:
        typer.echo(line)


@eval_app.command("make-world")
def make_world(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the videos and their world ground truth."),
    seed: int = typer.Option(0, help="Random seed (cameras, bodies, scenes)."),
    held_out: bool = typer.Option(False, "--held-out", help="The scenes kept out of the world stage's tuning."),
) -> None:
    """Render the world benchmark: held-out CMU clips from static cameras at several heights."""
    from vibe.evaluation.world_bench import WORLD_SCENES, WORLD_SCENES_HELDOUT, make_world_benchmark

    written = make_world_benchmark(out, seed=seed, scenes=WORLD_SCENES_HELDOUT if held_out else WORLD_SCENES)
    typer.echo(f"wrote {len(written)} videos with world ground truth to {out}")


@eval_app.command("world")
def eval_world(
    data: Path = typer.Option(..., "--data", help="A `vibe eval make-world` folder."),
    out: Path = typer.Option(Path("output/eval/world.json"), help="JSON of the scores."),
) -> None:
    """Run the demo on the world benchmark; W-/WA-MPJPE, RTE, drift, sliding, jitter, ground errors."""
    from vibe.evaluation.world_bench import run_world_benchmark, table

    _print_benchmark(run_world_benchmark, table, data, out)


@eval_app.command("crowd")
def eval_crowd(
    data: Path = typer.Option(..., "--data", help="A `vibe eval make-synthetic --crowd` folder."),
    out: Path = typer.Option(Path("output/eval/crowd.json"), help="JSON of the scores."),
) -> None:
    """Run the demo's people finding on rendered crowds: recall per height and side, precision, ghosts, switches."""
    from vibe.evaluation.crowd_bench import run_crowd_benchmark, table

    _print_benchmark(run_crowd_benchmark, table, data, out)


def _print_benchmark(run, table, data: Path, out: Path) -> None:
    """``run(data, out)`` a benchmark and print ``table(summary)``; a missing input is exit code 4."""
    try:
        summary = run(data, out)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(4) from exc
    typer.echo(table(summary))


@eval_app.command(
    "ablations",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def ablations(ctx: typer.Context) -> None:
    """Train the paper's ablation variants (Tables 2-3) at one budget and write their table; --help for options."""
    from vibe.evaluation.ablations import main

    raise typer.Exit(main(ctx.args))


@app.command("train")
def train(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (e.g. configs/open.yaml)."),
    overrides: Optional[list[str]] = typer.Argument(None, help="Dotted overrides, e.g. epochs=5 optim.gen_lr=1e-4 resume=runs/open/last.pt."),
) -> None:
    """Train the VIBE generator and its motion prior (several GPUs: launch under torchrun)."""
    from vibe.training.trainer import train_from_config

    best = train_from_config(config, list(overrides or []))
    typer.echo(f"best checkpoint: {best}")


@app.command("batch", cls=_OneLineUsageErrors)
def batch(
    inputs: list[str] = typer.Argument(..., help="Videos, folders, globs ('clips/**/*.mp4') or .txt lists of them; paths or fsspec URLs."),
    out: str = typer.Option(..., "--out", "-o", help="Output folder or fsspec URL: OUT/<name>/ per video, OUT/manifest.jsonl."),
    workers: int = typer.Option(0, min=0, help="Videos run side by side, one process each (0: one per two cores, as memory allows)."),
    threads: int = typer.Option(0, min=0, help="Threads per video (0: its process's share of the cores; on Ray: 1)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Also run videos whose last attempt failed."),
    ray: Optional[str] = typer.Option(None, help="Run on Ray: auto (the running cluster), local (start one here) or ADDRESS."),
    ray_retries: int = typer.Option(2, min=0, help="Ray retries of a task whose worker crashed or raised an unexpected error."),
    stack: str = typer.Option("open", help="open or smpl (as vibe demo)."),
    checkpoint: Optional[Path] = typer.Option(None, help="Generator weights (as vibe demo)."),
    smooth: bool = typer.Option(False, "--smooth", help="One-Euro smoothing of the joint rotations."),
    refine: Optional[bool] = typer.Option(
        None, "--refine/--no-refine", help="Fit each track to its landmarks (as vibe demo: default on for open)."
    ),
    centred_sigma: float = typer.Option(3.0, min=0.0, help="Centred Gaussian smoothing of each track (frames; 0: off)."),
    side_view: bool = typer.Option(False, "--side-view", help="Also render side.mp4."),
    no_render: bool = typer.Option(False, "--no-render", help="Skip overlay.mp4."),
    export: Optional[list[str]] = _EXPORT,
    frame: str = _EXPORT_FRAME,
    rig: str = _RIG,
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    max_frames: Optional[int] = typer.Option(None, min=1, help="Read only the first N frames of each video."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Many videos → one `vibe demo` result folder each, a manifest, and a summary; re-runs resume.

    Exit codes: 0 every video done (or done before), 1 some failed (each one's
    code and message are in OUT/manifest.jsonl), 2 invalid option or input,
    4/6 the generator's files are missing, 130 interrupted.
    """
    from vibe.cli_batch import batch_command

    _check_device(device)
    options = dict(stack=stack, checkpoint=checkpoint, smooth=smooth, refine=refine, centred_sigma=centred_sigma,
                   side_view=side_view, render=not no_render, device=device, max_frames=max_frames,
                   **_export_options(export, frame, rig, stack))  # fmt: skip
    run = dict(workers=workers, threads=threads, retry_failed=retry_failed, ray=ray, ray_retries=ray_retries)
    raise typer.Exit(batch_command(inputs, out, options, run, quiet, _usage_error))


@mocap_app.command("import")
def mocap_import(
    paths: list[Path] = typer.Argument(..., help="Mocap files or folders (.amc with its .asf, .bvh, AMASS .npz) or motion databases."),
    out: Path = typer.Option(..., "--out", "-o", help="Motion database to write (.npz)."),
    asf: Optional[list[Path]] = _ASF,
    bvh_scale: Optional[float] = _BVH_SCALE,
    fps: float = _FPS,
    licence: str = _LICENCE,
    joint_map: Optional[Path] = _JOINT_MAP,
) -> None:
    """Read mocap clips, resample them and retarget them onto the Anny body (rig cmu_mb)."""
    from vibe.cli_mocap import import_command

    options = _mocap_options(asf, bvh_scale, fps, licence, joint_map)
    try:
        lines = import_command(paths, out, options)
    except (FileNotFoundError, ValueError) as exc:
        _usage_error(str(exc))
    for line in lines:
        typer.echo(line)


if __name__ == "__main__":
    app()
