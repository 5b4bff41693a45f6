"""MediaPipe graphs kept for reuse within a process, instead of started anew per person and per video.

Starting a graph is not free: a :class:`~vibe.pipeline.detector.PersonDetector`
takes about five detections' time to start, and a BlazePose ``Pose``
(:class:`~vibe.pipeline.landmarks.PoseEstimator`) spends on its first frame
about six frames' time, its models loading then, against under three for a
reused one's first frame (``benchmarks/bench_worker.py --compare
graph-starts``, figures in ``docs/benchmarks.md``). The demo starts
one detector per parallel time range and one ``Pose`` per track, so each
video, and each person appearing, paid that again; a ``vibe batch`` worker
runs many videos in one process.

:class:`GraphPool` hands out an idle graph of the same options when there is
one and takes graphs back when their range or track ends:

- a detector holds no state between frames (each image is one inference),
  so it is handed out as it is; so does the person segmenter of the far
  passes (:class:`~vibe.pipeline.person_blobs.PersonSegmenter`, started in
  about 0.4 s of CPU, 18 tiles segmented in 0.07 s);
- a ``Pose`` follows one person (frame t + 1's region from frame t's
  landmarks), so it is handed out after :meth:`~vibe.pipeline.landmarks.PoseEstimator.forget`,
  which makes its next frame start from MediaPipe's detector as a new one's
  does, with the same landmarks.

Started ahead (:meth:`GraphPool.start_ahead`): a run that knows which
graphs it will take (``vibe demo``: one detector, one ``Pose`` and one
person segmenter per time range) starts them in background threads while it
loads its model, each run once on a blank image (their models' first
inference, most of a first use's cost), so its front end starts on graphs
that are ready; a taker of a graph still being started waits for it rather
than starting another. A blank image finds nobody, so a ``Pose`` started
ahead follows no one, as a new one.

Timestamps: each graph numbers its own packets (the detector's counter,
the ``Pose`` solution's simulated clock) and never restarts them, so they
keep increasing across tracks and videos, as MediaPipe requires.

Memory: a ``Pose`` graph holds ~115 MB once it has run, a detector ~50 MB
(measured on the 2-core machine). A graph starts only when none is idle, so
a process holds no more graphs than its busiest video ran at once; at most
``max_idle`` idle graphs of each kind and options are kept (more are
closed), and :meth:`GraphPool.close` closes them all (``vibe demo`` does
after its front end: it has no next video).
Thread-safe: a graph is used by one thread at a time, the pool by any.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

from vibe.pipeline.detector import DetectorConfig, PersonDetector
from vibe.pipeline.landmarks import LandmarkConfig, PoseEstimator
from vibe.pipeline.person_blobs import MASK_THRESHOLD, PersonSegmenter

__all__ = ["GraphPool", "PoolStats", "shared_pool", "use_pool"]

log = logging.getLogger(__name__)


@dataclass
class PoolStats:
    """Graphs started anew, handed out again, and closed (the pool was full, or it was closed)."""

    started: int = 0
    reused: int = 0
    closed: int = 0


class GraphPool:
    """Idle detectors and ``Pose`` graphs by their options (module docstring).

    Take a graph with :meth:`detector` or :meth:`pose`, hand it back with
    :meth:`give_back` when done (or close it yourself when it may be broken,
    e.g. after an error inside MediaPipe).
    """

    def __init__(self, max_idle: int = 4):
        self.max_idle = max_idle
        self.stats = PoolStats()
        self._idle: dict[tuple[type, object], list] = defaultdict(list)
        self._pending: dict[tuple[type, object], int] = defaultdict(int)  # graphs being started ahead
        self._ahead: list[threading.Thread] = []
        self._lock = threading.Condition()

    def detector(self, config: DetectorConfig) -> PersonDetector:
        """An idle detector of ``config``, or a new one."""
        graph = self._take(PersonDetector, config)
        return graph if graph is not None else self._started(PersonDetector(config))

    def pose(self, config: LandmarkConfig) -> PoseEstimator:
        """An idle ``Pose`` of ``config`` that follows nobody, or a new one."""
        graph = self._take(PoseEstimator, config)
        if graph is None:
            return self._started(PoseEstimator(config))
        graph.forget()
        return graph

    def segmenter(self, threshold: float = MASK_THRESHOLD) -> PersonSegmenter:
        """An idle person segmenter of mask ``threshold`` (stateless between images, as a detector), or a new one."""
        graph = self._take(PersonSegmenter, threshold)
        return graph if graph is not None else self._started(PersonSegmenter(threshold))

    def give_back(self, graph: PersonDetector | PoseEstimator | PersonSegmenter) -> None:
        """Keep ``graph`` for the next taker of its options (closed when ``max_idle`` are idle already)."""
        with self._lock:
            idle = self._idle[(type(graph), graph.config)]
            if len(idle) < self.max_idle:
                idle.append(graph)
                return
            self.stats.closed += 1
        graph.close()

    def start_ahead(
        self, detector: DetectorConfig | None, pose: LandmarkConfig | None, segmenter: float | None, count: int
    ) -> None:
        """Start graphs in the background so that ``count`` of each kind given (None: that kind not) are idle.

        One thread per graph set (detector, then ``Pose``, then segmenter of
        mask threshold ``segmenter``: the order a range takes them), each
        graph run once on a blank image; only those missing from the idle
        ones are started. Takers of those options wait for them.
        """
        options = ((PersonDetector, detector), (PoseEstimator, pose), (PersonSegmenter, segmenter))
        wanted = min(count, self.max_idle)
        with self._lock:
            missing = {key: wanted - len(self._idle[key]) - self._pending[key] for key in options if key[1] is not None}
            for key, n in missing.items():
                self._pending[key] += max(n, 0)
        for k in range(max(missing.values(), default=0)):
            sets = [key for key, n in missing.items() if n > k]
            thread = threading.Thread(target=self._start_set, args=(sets,), name="graphs-ahead", daemon=True)
            self._ahead.append(thread)
            thread.start()

    def wait_ahead(self) -> None:
        """Wait until the graphs started ahead are started (e.g. before an error's message goes to stderr:
        starting graphs silences it)."""
        for thread in list(self._ahead):
            thread.join()

    def _start_set(self, kinds: list[tuple[type, object]]) -> None:
        """Start and warm one graph of each ``(kind, options)``, in order, as idle graphs (:meth:`start_ahead`)."""
        for kind, config in kinds:
            graph = None
            try:
                graph = kind(config)
                graph.warm_up()
            except Exception:  # the taker starts its own instead
                log.warning("starting a %s ahead failed", kind.__name__, exc_info=True)
                if graph is not None:
                    graph.close()
                graph = None
            with self._lock:
                self._pending[(kind, config)] -= 1
                if graph is not None:
                    self.stats.started += 1
                    self._idle[(kind, config)].append(graph)
                self._lock.notify_all()

    def idle(self) -> int:
        """Idle graphs held now."""
        with self._lock:
            return sum(len(graphs) for graphs in self._idle.values())

    def close(self) -> None:
        """Close every idle graph, once those started ahead are (the pool stays usable; new graphs start anew)."""
        self.wait_ahead()
        self._ahead.clear()
        with self._lock:
            graphs = [g for idle in self._idle.values() for g in idle]
            self._idle.clear()
            self.stats.closed += len(graphs)
        for graph in graphs:
            graph.close()

    def _take(self, kind: type, config) -> PersonDetector | PoseEstimator | PersonSegmenter | None:
        with self._lock:
            while not self._idle.get((kind, config)) and self._pending.get((kind, config), 0) > 0:
                self._lock.wait()  # one is being started ahead: cheaper to wait than to start another
            idle = self._idle.get((kind, config))
            if not idle:
                return None
            self.stats.reused += 1
            return idle.pop()

    def _started(self, graph):
        with self._lock:
            self.stats.started += 1
        return graph


_SHARED = GraphPool()
# Close the idle graphs while the interpreter can still run their calculators' shutdown.
atexit.register(_SHARED.close)


def shared_pool() -> GraphPool:
    """This process's pool: what :class:`~vibe.pipeline.roi_tracking.RoiFollower` uses unless given one."""
    return _SHARED


def use_pool(pool: GraphPool) -> GraphPool:
    """Make ``pool`` the process's shared pool from now on (e.g. a benchmark comparing pools); the previous one."""
    global _SHARED
    previous, _SHARED = _SHARED, pool
    return previous
