"""``vibe batch``: many videos → one ``vibe demo`` result folder each, a manifest, a summary.

The data flow::

    inputs ─expand_inputs (batch_io)─▶ videos ─assign_names, plan (batch_manifest)─▶ jobs
      ─▶ workers: this process (one worker) · a pool of processes · Ray tasks (batch_ray)
         each job: process_video → run_demo with the worker's loaded generator → a record
      ─▶ the driver appends each record to OUT/manifest.jsonl as it comes, moves the
         progress bar, and prints the summary table at the end

Each worker process loads the generator once (:func:`worker_model`) and keeps
it for every video it runs; torch, MediaPipe's native libraries and the
TFLite models are loaded once per process too, and so are the MediaPipe
graphs: a video's detectors and ``Pose`` graphs go back to the process's
pool (:mod:`vibe.pipeline.graph_pool`) and the next video takes them, a
``Pose`` after forgetting its person (what a new graph spends starting and
loading its models is saved: ``docs/benchmarks.md``).

Parallelism (:func:`choose_workers`): one process per two cores, each video
on two threads (the demo's parallel time ranges), torch on one thread
(:data:`TORCH_THREADS`). On the 2-core machine one
process of two threads finished batches of short clips and of long videos
sooner than two processes of one thread (``docs/benchmarks.md``): the second
process's start-up (torch's and MediaPipe's imports, the model) cost more
than its steady rate gained, which was within 2 % on the quieter machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from vibe.pipeline import restore_native_stderr
from vibe.pipeline.batch_io import expand_inputs, fetch, is_remote, local_path, publish, result_exists
from vibe.pipeline.batch_manifest import DONE, FAILED, Manifest, assign_names, options_key, plan
from vibe.pipeline.demo_config import DemoConfig, DemoError
from vibe.pipeline.demo_model import DemoModel, load_demo_model, model_key

__all__ = [
    "EXIT_UNEXPECTED",
    "EXIT_SOME_FAILED",
    "VideoJob",
    "BatchOptions",
    "BatchSummary",
    "worker_model",
    "process_video",
    "choose_workers",
    "CORES_PER_WORKER",
    "run_batch",
]

log = logging.getLogger(__name__)

EXIT_UNEXPECTED = 1  # a video's exit code when its run raised something other than a DemoError
EXIT_SOME_FAILED = 1  # the batch's exit code when any video failed (each one's code is in the manifest)
# One process per this many cores: two threads per video beat two processes on 2 cores (docs/benchmarks.md).
CORES_PER_WORKER = 2
# Torch's threads while a worker runs a video. The generator stage's ops are small (one track's
# frames): with two threads each op waits for both, so a core shared with other work (another
# process, a training job) stalls every op — 18x slower measured on the loaded 2-core machine
# (docs/benchmarks.md). The video's cores go to the front end's range threads instead.
TORCH_THREADS = 1
# Peak resident memory of one demo process (docs/benchmarks.md: 0.9-1.1 GB), rounded up.
_WORKER_MEMORY_BYTES = 1_300_000_000

Record = dict
OnRecord = Callable[[Record], None]


@dataclass(frozen=True)
class VideoJob:
    """One video to run: its ``source`` (path or URL), result folder ``name`` and the batch's ``out``."""

    source: str
    name: str
    out: str


@dataclass
class BatchOptions:
    """How a batch runs (not what it computes: that is the :class:`DemoConfig`).

    Attributes:
        workers: processes (local) running videos side by side; 0: chosen by
            :func:`choose_workers`. Ignored on Ray (the cluster's CPUs decide).
        threads: the demo's range threads per video (``DemoConfig.workers``);
            0: chosen by :func:`choose_workers` (on Ray: 1, one CPU per task).
        retry_failed: also run videos whose last attempt failed.
        ray: None (local), ``"local"`` (start Ray here), ``"auto"`` (the
            running cluster) or a cluster address.
        ray_retries: Ray retries of a task that crashed or raised an
            unexpected error (a :class:`DemoError` is final).
        progress: a progress bar over the whole batch.
    """

    workers: int = 0
    threads: int = 0
    retry_failed: bool = False
    ray: str | None = None
    ray_retries: int = 2
    progress: bool = True


@dataclass
class BatchSummary:
    """What a batch did: this run's ``records``, ``skipped`` videos, wall time and the workers used."""

    records: list[Record] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    wall_s: float = 0.0
    workers: int = 0
    threads: int = 0
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.records)

    @property
    def frames(self) -> int:
        """Frames of the videos done in this run."""
        return sum(r.get("frames", 0) for r in self.records if r["status"] == DONE)

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FAILED if self.count(FAILED) else 0


# --------------------------------------------------------------------------- one video, in a worker
_MODELS: dict[tuple[str, str, str], DemoModel] = {}  # this process's loaded generators


def worker_model(config: DemoConfig) -> tuple[DemoModel, float]:
    """This process's generator for ``config`` and the seconds spent loading it now (0: already loaded)."""
    key = model_key(config)
    if key in _MODELS:
        return _MODELS[key], 0.0
    start = time.perf_counter()
    _MODELS[key] = load_demo_model(config)
    return _MODELS[key], time.perf_counter() - start


def process_video(job: VideoJob, config: DemoConfig, raise_unexpected: bool = False) -> Record:
    """Run the demo on one video into ``job.out/job.name``; its manifest record.

    A :class:`DemoError` (unreadable video, missing files, ...) gives a
    ``failed`` record with the demo's exit code. Any other exception gives a
    ``failed`` record with :data:`EXIT_UNEXPECTED`, or is raised when
    ``raise_unexpected`` (Ray then retries the task).
    """
    started, start = utc_now(), time.perf_counter()
    fields: dict = {"model_load_s": 0.0}
    try:
        model, fields["model_load_s"] = worker_model(config)
        with tempfile.TemporaryDirectory(prefix="vibe-batch-") as tmp, torch_threads(TORCH_THREADS):
            fields.update(_run_one(job, config, model, Path(tmp)))
    except DemoError as exc:
        fields.update(status=FAILED, exit_code=exc.exit_code, message=str(exc))
    except Exception as exc:
        if raise_unexpected:
            raise
        log.debug("unexpected failure on %s", job.source, exc_info=True)
        fields.update(status=FAILED, exit_code=EXIT_UNEXPECTED, message=one_line(exc))
    return make_record(job, config, started, time.perf_counter() - start, fields)


def _run_one(job: VideoJob, config: DemoConfig, model: DemoModel, tmp: Path) -> dict:
    """Fetch, run, publish: the record's fields of a finished video."""
    from vibe.pipeline.run import run_demo  # the demo's stages: imported in the worker only

    start = time.perf_counter()
    video = fetch(job.source, tmp)
    download_s = time.perf_counter() - start
    out = tmp / "out" if is_remote(job.out) else local_path(job.out)
    result = run_demo(video, out, config, name=job.name, model=model, keep_graphs=True)
    start = time.perf_counter()
    if is_remote(job.out):
        publish(result.out_dir, job.out, job.name)
    return {
        "status": DONE, "exit_code": 0, "message": result.message, "warnings": result.warnings,
        "frames": result.frames_read, "people": len(result.track_ids), "stages": result.timings,
        "transfer_s": {"download": round(download_s, 3), "upload": round(time.perf_counter() - start, 3)},
    }  # fmt: skip


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``count`` while the block runs (process-wide; restored after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_record(job: VideoJob, config: DemoConfig, started: str, seconds: float, fields: dict) -> Record:
    """A manifest record (see :mod:`vibe.pipeline.batch_manifest`) from a run's ``fields``."""
    from vibe.pipeline.outputs import versions

    record = {
        "name": job.name, "source": job.source, "options": options_key(config), "started": started,
        "finished": utc_now(), "seconds": round(seconds, 3), "frames": 0, "people": 0, "warnings": [],
        "worker": {"host": platform.node(), "pid": os.getpid()}, "versions": versions(),
    }  # fmt: skip
    record.update(fields)
    record["fps"] = round(record["frames"] / max(seconds, 1e-9), 2)
    record["model_load_s"] = round(record.get("model_load_s", 0.0), 3)
    return record


def one_line(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- local workers
def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def choose_workers(
    videos: int, workers: int = 0, threads: int = 0, cores: int | None = None, memory: int | None = None
) -> tuple[int, int]:
    """``(processes, threads per video)`` for ``videos`` videos: given values kept, zeros chosen.

    One process per :data:`CORES_PER_WORKER` cores while there are videos
    for them, never more than memory holds (~1.3 GB each); each video gets
    its process's share of the cores as the demo's range threads. ``cores``
    and ``memory`` (bytes): this machine's unless given.
    """
    cores = cores or available_cores()
    if workers <= 0:
        memory = memory or _physical_memory() or _WORKER_MEMORY_BYTES * cores
        workers = max(1, min(videos, cores // CORES_PER_WORKER, memory // _WORKER_MEMORY_BYTES))
    if threads <= 0:
        threads = max(1, cores // workers)
    return workers, threads


def _physical_memory() -> int | None:
    """Bytes of RAM (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _init_worker() -> None:
    """A pool process: quiet logging (the driver reports each video; torch's threads: :func:`process_video`)."""
    logging.basicConfig(level=logging.ERROR)


def _run_in_process(jobs: list[VideoJob], config: DemoConfig, on_record: OnRecord) -> None:
    """One worker: this process, the generator loaded once."""
    for job in jobs:
        on_record(process_video(job, config))


def _run_pool(
    jobs: list[VideoJob], config: DemoConfig, workers: int, on_record: OnRecord, process=process_video
) -> None:
    """``workers`` spawned processes, at most one video in flight each.

    A process that dies (a crash in native code) breaks the pool: the videos
    then in flight run again, each alone in a new process, and one that dies
    alone too is recorded as failed; the others go on in a new pool.
    ``process`` is the per-video function (tests swap in one that crashes).
    """
    queue = list(jobs)
    while queue:
        for suspect in _pool_round(queue, config, workers, on_record, process):
            if _pool_round([suspect], config, 1, on_record, process):
                message = "the worker process died while running this video, twice (a crash in native code?)"
                fields = {"status": FAILED, "exit_code": EXIT_UNEXPECTED, "message": message}
                on_record(make_record(suspect, config, utc_now(), 0.0, fields))


def _pool_round(queue: list[VideoJob], config: DemoConfig, workers: int, on_record, process):
    """Run jobs from ``queue`` (popped as submitted) until it is empty or the pool breaks.

    Returns the jobs in flight when a worker died (empty: all ran).
    """
    context = multiprocessing.get_context("spawn")  # fork would copy MediaPipe's and torch's threads' locks
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
        running: dict[Future, VideoJob] = {}
        while queue or running:
            while queue and len(running) < workers:
                job = queue.pop(0)
                try:
                    running[pool.submit(process, job, config)] = job
                except BrokenProcessPool:  # a worker died since the last wait: this job never started
                    queue.insert(0, job)
                    return _collect(wait(running)[0], running, on_record)
            broken = _collect(wait(running, return_when=FIRST_COMPLETED)[0], running, on_record)
            if broken:  # the others in flight end (or broke) too
                return broken + _collect(wait(running)[0], running, on_record)
    return []


def _collect(finished, running: dict[Future, VideoJob], on_record: OnRecord) -> list[VideoJob]:
    """Record the ``finished`` futures' results; the jobs whose worker died."""
    broken = []
    for future in finished:
        job = running.pop(future)
        try:
            on_record(future.result())
        except BrokenProcessPool:
            broken.append(job)
    return broken


# --------------------------------------------------------------------------- the driver
def run_batch(inputs: list[str], out: str, config: DemoConfig, options: BatchOptions | None = None) -> BatchSummary:
    """Run the demo on every video ``inputs`` name, into ``out`` (a path or an fsspec URL).

    Raises :class:`~vibe.pipeline.batch_io.BatchInputError` (bad input),
    :class:`~vibe.pipeline.batch_manifest.ManifestLockedError` (another batch
    on ``out``) and, for a local batch, the :class:`DemoError` of a generator
    that cannot load, before any video runs. Ctrl-C stops the batch: the
    videos done so far are recorded, the others run next time.
    """
    options = options or BatchOptions()
    out = out if is_remote(out) else str(local_path(out))  # absolute: Ray workers start elsewhere
    sources = expand_inputs(inputs)
    summary = BatchSummary()
    with Manifest(out) as manifest:
        names = assign_names(sources, manifest.names())
        todo = plan(names, manifest.latest(), options_key(config), options.retry_failed, lambda n: result_exists(out, n))
        summary.skipped = todo.skip
        jobs = [VideoJob(source, name, out) for source, name, _ in todo.run]
        if jobs:
            _run_jobs(jobs, out, config, options, manifest, summary)
    return summary


def _run_jobs(
    jobs: list[VideoJob], out: str, config: DemoConfig, options: BatchOptions, manifest: Manifest, summary: BatchSummary
) -> None:
    """Run ``jobs`` on the chosen workers, recording each as it finishes; fills ``summary``."""
    from tqdm.auto import tqdm

    if options.ray is None:
        summary.workers, summary.threads = choose_workers(len(jobs), options.workers, options.threads)
        worker_model(config)  # a generator that cannot load stops the batch here, before any video
    else:
        summary.threads = options.threads or 1
    config = dataclasses.replace(config, workers=summary.threads, progress=False)
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), unit="video", desc="batch", disable=not options.progress)

    def on_record(record: Record) -> None:
        manifest.append(record)
        summary.records.append(record)
        if record["status"] == FAILED or record.get("warnings"):
            bar.write(f"{record['name']}: {record['status']} ({record['message'] or '; '.join(record['warnings'])})")
        frames_s = summary.frames / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix_str(f"{frames_s:.1f} frames/s, {summary.count(FAILED)} failed", refresh=False)
        bar.update(1)

    try:
        _dispatch(jobs, config, options, summary, on_record)
    except KeyboardInterrupt:
        # Whatever was interrupted (a video or the steps between), the `interrupted:` line must
        # not go to MediaPipe's /dev/null (see vibe.pipeline.restore_native_stderr).
        restore_native_stderr()
        summary.interrupted = True
    finally:
        bar.close()
        summary.wall_s = time.perf_counter() - start


def _dispatch(
    jobs: list[VideoJob], config: DemoConfig, options: BatchOptions, summary: BatchSummary, on_record: OnRecord
) -> None:
    if options.ray is not None:
        from vibe.pipeline.batch_ray import run_on_ray

        summary.workers = run_on_ray(jobs, config, options.ray, summary.threads, options.ray_retries, on_record)
    elif summary.workers == 1:
        _run_in_process(jobs, config, on_record)
    else:
        _run_pool(jobs, config, summary.workers, on_record)


def format_summary(summary: BatchSummary) -> str:
    """The end-of-batch table: videos, frames and seconds per status; throughput; failed videos."""
    wall = max(summary.wall_s, 1e-9)
    done, failed = summary.count(DONE), summary.count(FAILED)
    skipped_done = sum(why == "done" for _, _, why in summary.skipped)
    rows = [
        ("done", done, summary.frames, sum(r["seconds"] for r in summary.records if r["status"] == DONE)),
        ("failed", failed, None, sum(r["seconds"] for r in summary.records if r["status"] == FAILED)),
        ("skipped: done before", skipped_done, None, None),
        ("skipped: failed before", len(summary.skipped) - skipped_done, None, None),
    ]
    lines = [f"{'status':<24}{'videos':>8}{'frames':>10}{'worker s':>10}"]
    for status, videos, frames, seconds in rows:
        lines.append(f"{status:<24}{videos:>8}{_cell(frames, 'd'):>10}{_cell(seconds, '.1f'):>10}")
    if summary.records:
        lines.append(
            f"{summary.workers} worker(s) × {summary.threads} thread(s), {summary.wall_s:.1f} s: "
            f"{done / wall * 3600:.0f} videos/hour, {summary.frames / wall:.1f} frames/s"
            + (" (interrupted)" if summary.interrupted else "")
        )
    else:
        lines.append("nothing to run" + (" (interrupted)" if summary.interrupted else ""))
    for record in (r for r in summary.records if r["status"] == FAILED):
        lines.append(f"failed: {record['name']} (exit {record['exit_code']}): {record['message']}")
    return "\n".join(lines)


def _cell(value, spec: str) -> str:
    return "" if value is None else format(value, spec)
