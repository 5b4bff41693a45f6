"""Ctrl-C at random moments under CPU contention: how often does the interruption's message get lost?

Issue 12 (item 6): ``vibe demo`` must answer Ctrl-C with exit 130, one ``interrupted:`` line
on stderr and the previous result kept. The line went missing now and then because fd 2
was still on MediaPipe's /dev/null (:func:`vibe.pipeline.native_stderr_silenced`) when the
CLI printed it; docs/testing.md has the story and the counts this printed.

Usage (one core, with busy loops beside the runs on that same core)::

    taskset -c 1 python tools/interrupt_stress.py silencer --trials 300 --busy 2
    taskset -c 1 python tools/interrupt_stress.py demo --runs 20 --busy 2

``silencer``: a child loops over silenced blocks around a short native call, inside a
function wrapped as ``run_demo`` is (:func:`vibe.pipeline.stderr_restored_on_interrupt`;
unwrapped on a tree without it), and gets SIGINT 5-50 ms after it starts; once it has
caught the ``KeyboardInterrupt`` it reports where fd 2 points and where the interrupt was
raised. ``demo``: ``vibe demo`` on ``assets/pose_1.mp4`` as
``tests/test_demo_awkward.py::test_interrupted_run_leaves_the_previous_result`` runs it
(random weights, ``--workers 1 --side-view --export bvh``), SIGINT as soon as detection
is done. To count an older tree, run with ``PYTHONPATH=<that tree>/src``.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "pose_1.mp4"

_SILENCER_CHILD = r"""
import ctypes, os, signal, sys, traceback
import vibe.pipeline as vp
libc = ctypes.CDLL(None)
signal.signal(signal.SIGINT, signal.default_int_handler)
real_stderr = os.dup(2)
def loop():
    os.write(1, b"armed\n")  # the parent interrupts only after this, so always inside the try below
    while True:
        with vp.native_stderr_silenced():
            libc.usleep(0)  # a native call, as closing a MediaPipe graph
run = getattr(vp, "stderr_restored_on_interrupt", lambda f: f)(loop)
for _ in range(int(sys.argv[1])):
    try:
        run()
    except KeyboardInterrupt as exc:
        last = [f for f in traceback.extract_tb(exc.__traceback__) if f.name != "wrapper"][-1]
        fd2 = os.readlink("/proc/self/fd/2")
        del exc
        # Silenced: start the next trial from a clean state (this tree would have stayed so).
        os.dup2(real_stderr, 2)
        vp._silence_depth, vp._saved_stderr_fd = 0, None
        os.write(1, f"{fd2} | {os.path.basename(last.filename)}:{last.name}:{last.lineno}\n".encode())
"""


def _default_sigint() -> None:
    """As from a terminal: SIGINT at its default in the child, whatever this process inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def silencer_trials(trials: int) -> collections.Counter:
    """``trials`` interrupts of one child; counts of ``(where raised, fd 2 silenced after the catch)``."""
    places: collections.Counter = collections.Counter()
    child = subprocess.Popen([sys.executable, "-c", _SILENCER_CHILD, str(trials)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, text=True, preexec_fn=_default_sigint)  # fmt: skip
    for _ in range(trials):
        if child.stdout.readline().strip() != "armed":
            raise RuntimeError("the child stopped")
        time.sleep(random.uniform(0.005, 0.05))
        child.send_signal(signal.SIGINT)
        fd2, _, place = child.stdout.readline().strip().partition(" | ")  # one line per interrupt caught
        places[(place, fd2 == "/dev/null")] += 1
    child.wait(60)
    return places


def _listing(folder: Path) -> dict[str, int]:
    """File → size under ``folder``, the cache left out (an interrupted run may add to it)."""
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*")
            if p.is_file() and ".cache" not in p.relative_to(folder).parts}  # fmt: skip


def demo_runs(runs: int, work: Path) -> collections.Counter:
    """``runs`` interrupted ``vibe demo`` runs; counts of ``(exit code, interrupted line, previous result kept)``."""
    sys.path.insert(0, str(ROOT / "tests"))  # the suite's random-weights checkpoint
    from open_checkpoint import save_random_open_checkpoint

    from vibe.body.anny import Anny
    from vibe.pipeline.run import DemoConfig, run_demo

    checkpoint = save_random_open_checkpoint(work / "random.pt", Anny(), width=128, seed=7)
    previous = work / "previous"
    run_demo(CLIP, previous, DemoConfig(checkpoint=checkpoint, progress=False, max_frames=10, render=False))
    kept = _listing(previous / CLIP.stem)
    outcomes: collections.Counter = collections.Counter()
    for i in range(runs):
        out = work / f"run{i}"
        shutil.copytree(previous, out)
        command = [sys.executable, "-c", "from vibe.cli import app; app()", "demo", str(CLIP), "--out", str(out),
                   "--checkpoint", str(checkpoint), "--export", "bvh", "--quiet", "--workers", "1",
                   "--side-view"]  # fmt: skip
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"}, preexec_fn=_default_sigint)  # fmt: skip
        while child.poll() is None and len(list((out / CLIP.stem / ".cache").glob("people-*.npz"))) < 2:
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=300)
        line = sum("interrupted:" in row for row in err.splitlines()) == 1
        same = _listing(out / CLIP.stem) == kept and [p.name for p in out.iterdir()] == [CLIP.stem]
        outcomes[(child.returncode, line, same)] += 1
        print(f"run {i}: exit {child.returncode}, interrupted line {line}, previous result kept {same}", flush=True)
        shutil.rmtree(out)
    return outcomes


def _busy_loops(count: int) -> list[subprocess.Popen]:
    """``count`` processes spinning on this process's cores (inherited affinity): the contention."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["silencer", "demo"])
    parser.add_argument("--trials", type=int, default=300, help="silencer: interrupted children")
    parser.add_argument("--runs", type=int, default=20, help="demo: interrupted demo runs")
    parser.add_argument("--busy", type=int, default=2, help="busy loops beside the runs")
    args = parser.parse_args()
    print(f"cores {sorted(os.sched_getaffinity(0))}, {args.busy} busy loops, vibe from "
          f"{Path(__import__('vibe').__file__).parent}", flush=True)  # fmt: skip
    busy = _busy_loops(args.busy)
    try:
        if args.mode == "silencer":
            for (place, silenced), n in silencer_trials(args.trials).most_common():
                print(f"{n:5d}  raised at {place}: fd 2 {'still on /dev/null' if silenced else 'restored'}")
        else:
            with tempfile.TemporaryDirectory() as work:
                for (code, line, same), n in demo_runs(args.runs, Path(work)).most_common():
                    print(f"{n:5d}  exit {code}, interrupted line {line}, previous result kept {same}")
    finally:
        for loop in busy:
            loop.kill()


if __name__ == "__main__":
    main()
