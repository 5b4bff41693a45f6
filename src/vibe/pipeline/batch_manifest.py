"""The batch's record of what was done: ``OUT/manifest.jsonl``, names of result folders, what is left to do.

The manifest is JSON lines, one record per attempt at a video, appended as
each finishes (so a killed batch loses at most the videos in flight); the
last record of a folder name is its state. JSON lines rather than SQLite: an
append is one write, the file reads with any tool (``jq``, pandas), and on
object storage it is one object the driver uploads whole. A record holds:

- ``name`` (the result folder under OUT), ``source`` (the video's path or URL),
- ``status`` (``done`` or ``failed``), ``exit_code`` (``vibe demo``'s codes;
  1 for an unexpected error), ``message`` (one line), ``warnings``,
- ``options`` (a key of the options that change results),
- ``frames``, ``people``, ``seconds`` (the video's wall time in its worker),
  ``fps``, ``stages`` (per-stage seconds and fps), ``model_load_s`` (0 when
  the worker had the generator loaded already), ``transfer_s``,
- ``started``, ``finished`` (UTC, ISO 8601), ``worker`` (host, pid),
  ``versions`` (vibe-hmr, torch, mediapipe, ...).

Result folders are named by the video's stem; a second video with the same
stem gets ``stem-2``, then ``stem-3``, in input order. A name once given
stays the video's for every later batch into the same OUT (the manifest
remembers it), so re-runs write where the first run did.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vibe.pipeline.batch_io import is_remote, join, local_path

__all__ = [
    "MANIFEST_FILE", "DONE", "FAILED", "Manifest", "ManifestLockedError", "Plan", "options_key", "assign_names", "plan",
]

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.jsonl"
DONE, FAILED = "done", "failed"
# Options that change how fast a run goes or what it prints, not what it writes.
_NOT_RESULTS = ("workers", "progress", "cache", "device", "batch_frames")


class ManifestLockedError(RuntimeError):
    """Another batch is writing into the same output folder."""


def options_key(config) -> str:
    """A short key of the :class:`~vibe.pipeline.demo_config.DemoConfig` options that change results."""
    options = {k: v for k, v in dataclasses.asdict(config).items() if k not in _NOT_RESULTS}
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Manifest:
    """``OUT/manifest.jsonl``: read at open, appended record by record, held by one batch at a time.

    A local manifest is locked (``flock``) while open and each record is
    flushed to disk. A remote one (an fsspec URL) is mirrored in a local file
    and uploaded whole every ``upload_every_s`` seconds and at :meth:`close`.
    """

    def __init__(self, out: str, upload_every_s: float = 30.0):
        self.out = out
        self.url = join(out, MANIFEST_FILE)
        self._upload_every_s = upload_every_s
        self._uploaded_at = time.monotonic()
        if is_remote(out):
            self._mirror = Path(tempfile.mkdtemp(prefix="vibe-manifest-")) / MANIFEST_FILE
            self._download()
        else:
            self._mirror = local_path(self.url)
            self._mirror.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._mirror, "a+", encoding="utf-8")
        self._lock()
        self.records = self._read()

    def _download(self) -> None:
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(self.url)
        if fs.exists(path):
            fs.get_file(path, str(self._mirror))

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): one batch per OUT is then the user's care
            return
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise ManifestLockedError(f"another batch is writing {self.url}") from None

    def _read(self) -> list[dict]:
        self._file.seek(0)
        records = []
        for number, line in enumerate(self._file, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash mid-write: that attempt is lost
                log.warning("%s:%d: unreadable record skipped", self.url, number)
        return records

    def latest(self) -> dict[str, dict]:
        """The last record of each result folder name."""
        return {r["name"]: r for r in self.records}

    def names(self) -> dict[str, str]:
        """Source → result folder name, as earlier batches gave them."""
        return {r["source"]: r["name"] for r in self.records}

    def append(self, record: dict) -> None:
        """Add one record (flushed; a remote manifest is uploaded when due)."""
        self.records.append(record)
        self._file.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if is_remote(self.out) and time.monotonic() - self._uploaded_at > self._upload_every_s:
            self._upload()

    def _upload(self) -> None:
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(self.url)
        fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        fs.put_file(str(self._mirror), path)
        self._uploaded_at = time.monotonic()

    def close(self) -> None:
        """Upload (remote), unlock and close."""
        if self._file.closed:
            return
        self._file.flush()
        if is_remote(self.out):
            self._upload()
        self._file.close()

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stem(source: str) -> str:
    return PurePosixPath(source.replace("\\", "/")).stem


def assign_names(sources: list[str], known: dict[str, str]) -> dict[str, str]:
    """A result folder name for every source: the one ``known`` gives, else a free one from its stem.

    Two sources of the same stem get ``stem`` and ``stem-2`` (then ``-3``, …)
    in the order given; names in ``known`` are never given to another source.
    """
    taken = set(known.values())
    names = {}
    for source in sources:
        if source in known:
            names[source] = known[source]
            continue
        stem, k = _stem(source), 1
        name = stem
        while name in taken:
            k += 1
            name = f"{stem}-{k}"
        taken.add(name)
        names[source] = name
    return names


@dataclass
class Plan:
    """What a batch does: ``run`` (source, name, why) and ``skip`` (source, name, why)."""

    run: list[tuple[str, str, str]]
    skip: list[tuple[str, str, str]]


def plan(names: dict[str, str], latest: dict[str, dict], options: str, retry_failed: bool, exists) -> Plan:
    """Which videos to run: new ones, unfinished ones, and failed ones when ``retry_failed``.

    A video counts as finished when its last record says ``done`` with the
    same ``options`` key and ``exists(name)`` (its folder has ``meta.json``);
    done with other options, or its folder gone, it runs again.
    """
    out = Plan([], [])
    for source, name in names.items():
        record = latest.get(name)
        if record is None or record.get("source") != source:
            out.run.append((source, name, "new"))
        elif record["status"] == FAILED:
            target = out.run if retry_failed else out.skip
            target.append((source, name, "failed before" + ("" if retry_failed else ": use --retry-failed")))
        elif record.get("options") != options:
            out.run.append((source, name, "done with other options"))
        elif not exists(name):
            out.run.append((source, name, "result folder missing"))
        else:
            out.skip.append((source, name, "done"))
    return out
