"""``vibe batch --ray``: the batch's videos as Ray tasks, one per video, over a cluster.

Install with ``pip install vibe-hmr[ray]`` on the driver and on every node
(the nodes need the same ``vibe-hmr`` and its weights). The driver plans
the batch and writes the manifest as :mod:`vibe.pipeline.batch` does; each
task is :func:`~vibe.pipeline.batch.process_video` in a Ray worker process,
which keeps its loaded generator for the next task it gets (Ray reuses
worker processes), so the model loads once per worker, not once per video.

- **Inputs and outputs** may be local paths (every node must see them: a
  shared file system) or fsspec URLs (object storage); a task copies a remote
  video to its node, builds the result folder there and uploads it with
  ``meta.json`` last (:mod:`vibe.pipeline.batch_io`).
- **Failures**: a :class:`~vibe.pipeline.demo_config.DemoError` (an
  unreadable video, ...) is final and recorded at once; a crashed worker or
  any other exception is retried by Ray (``max_retries``,
  ``retry_exceptions``) and recorded as failed when the retries run out.
- **No duplicate outputs**: the driver names every result folder before any
  task starts, so a retried task writes the folder its first try would have;
  a local folder is swapped in whole (:mod:`vibe.pipeline.run_folder`), a
  remote one replaced whole. Videos already done are not submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vibe.pipeline.batch import EXIT_UNEXPECTED, OnRecord, VideoJob, make_record, one_line, process_video, utc_now
from vibe.pipeline.batch_manifest import FAILED
from vibe.pipeline.demo_config import DemoConfig

__all__ = ["connect", "run_on_ray"]

log = logging.getLogger(__name__)


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``"auto"``: the running one), or start one here (``"local"``).

    Does nothing when Ray is already initialised in this process (a test's
    ``ray.init(num_cpus=2)``, a notebook's own cluster).
    """
    try:
        import ray
    except ImportError as exc:
        raise ImportError("--ray needs Ray: pip install 'vibe-hmr[ray]'") from exc
    if ray.is_initialized():
        return
    if address == "local":
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def _task(job: VideoJob, config: DemoConfig, process: Callable = process_video) -> dict:
    """One video in a Ray worker; unexpected errors propagate so that Ray retries the task."""
    return process(job, config, raise_unexpected=True)


def run_on_ray(
    jobs: list[VideoJob],
    config: DemoConfig,
    address: str,
    threads: int,
    retries: int,
    on_record: OnRecord,
    process: Callable = process_video,
) -> int:
    """Submit one task per job (``threads`` CPUs each), record each result as it comes back.

    ``process`` is the per-video function (tests swap in one that fails on
    its first try). Returns the number of tasks the cluster can run at once.
    Ctrl-C cancels the tasks still queued or running and is passed on.
    """
    import ray

    connect(address)
    remote = ray.remote(num_cpus=threads, max_retries=retries, retry_exceptions=True)(_task)
    pending = {remote.remote(job, config, process): job for job in jobs}
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    try:
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            for ref in finished:
                on_record(_result(ref, pending.pop(ref), config))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return slots


def _result(ref, job: VideoJob, config: DemoConfig) -> dict:
    """The task's record, or a failed record when it raised (after Ray's retries) or its worker died."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        cause = getattr(exc, "cause", None) or exc
        log.debug("task for %s failed", job.source, exc_info=True)
        fields = {"status": FAILED, "exit_code": EXIT_UNEXPECTED, "message": f"after Ray's retries: {one_line(cause)}"}
        return make_record(job, config, utc_now(), 0.0, fields)
