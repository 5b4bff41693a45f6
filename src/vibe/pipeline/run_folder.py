"""One consistent output folder per run: build it beside the target, swap it in when complete.

A run writes every result file into a hidden staging folder beside its
target (``OUT/.<stem>.partial-<pid>/``, same file system, so renames are
atomic). Only when everything is written does :meth:`RunFolder.commit` put
it in place of the target: an atomic exchange of the two folders where the
OS offers one (Linux ``renameat2(RENAME_EXCHANGE)``), otherwise two renames
with the old folder moved aside first. So

- a finished run leaves exactly its own files (never an earlier run's BVH or
  overlay beside a ``meta.json`` that does not list them);
- an interrupted or failed run leaves the previous complete result, or
  nothing, as it was: leaving the ``with`` block by an exception deletes the
  staging folder.

The stage cache (``OUT/<stem>/.cache/``) is not part of a result: it lives
in the target folder during the run (so a cache written before an
interruption survives it) and moves into the new folder at the swap.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import shutil
from pathlib import Path

__all__ = ["CACHE_DIR", "RunFolder"]

log = logging.getLogger(__name__)

CACHE_DIR = ".cache"
_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where the OS or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(a))


class RunFolder:
    """The target folder of one run and the staging folder its files are written to.

    :meth:`open` creates the staging folder (raising ``OSError`` when the
    output location is not writable); result files go to :attr:`staging`;
    :meth:`commit` swaps it in; :meth:`discard` (or leaving a ``with`` block
    without committing) deletes it.
    """

    def __init__(self, target: Path):
        self.target = Path(target)
        self.staging = self.target.parent / f".{self.target.name}.partial-{os.getpid()}"
        self.cache = self.target / CACHE_DIR
        self._committed = False

    def open(self) -> "RunFolder":
        """Create the staging folder (and the target's parent); removes stale ones of dead runs."""
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale()
        self.staging.mkdir()
        return self

    def discard(self) -> None:
        """Delete the staging folder unless it was committed; the target is untouched."""
        if not self._committed:
            shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> "RunFolder":
        return self if self.staging.is_dir() else self.open()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()

    def final(self, path: Path | None) -> Path | None:
        """Where ``path`` (a file in the staging folder) will be once committed."""
        return None if path is None else self.target / Path(path).relative_to(self.staging)

    def commit(self) -> None:
        """Put the staging folder in place of the target, keeping the target's cache."""
        if self.target.exists():
            if not _exchange(self.staging, self.target):
                aside = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
                os.replace(self.target, aside)
                os.replace(self.staging, self.target)
                os.replace(aside, self.staging)
            old = self.staging  # after the swap it holds the previous result
            if (old / CACHE_DIR).is_dir() and not (self.target / CACHE_DIR).exists():
                os.replace(old / CACHE_DIR, self.target / CACHE_DIR)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.staging, self.target)
        self._committed = True

    def _remove_stale(self) -> None:
        """Delete staging folders of this target left by runs that were killed (not interrupted)."""
        for stale in self.target.parent.glob(f".{self.target.name}.partial-*"):
            pid = stale.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        for stale in self.target.parent.glob(f".{self.target.name}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (its staging folder may be in use)."""
    if pid == os.getpid():
        return False  # an earlier run of this process that did not clean up
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
