"""Where a batch's videos come from and where its result folders go: local paths or fsspec URLs.

Inputs (:func:`expand_inputs`) are video files, folders (searched
recursively for video suffixes), glob patterns (``**`` allowed) and text files
of paths (``.txt``, ``.lst``, ``.list``: one input per line, ``#`` starts a
comment, relative lines are relative to the list's folder). Any of them may be
an fsspec URL (``s3://bucket/videos/``, ``memory://clips/*.mp4``); ``file://``
URLs are local paths.

A worker reads a remote video through a local copy (:func:`fetch`) and builds
its result folder locally; :func:`publish` then uploads it with ``meta.json``
last, so on object storage a folder with ``meta.json`` is complete. Local
outputs need no upload: :func:`~vibe.pipeline.run.run_demo` swaps its staged
folder into place (:mod:`vibe.pipeline.run_folder`).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

__all__ = [
    "VIDEO_SUFFIXES",
    "LIST_SUFFIXES",
    "BatchInputError",
    "is_remote",
    "local_path",
    "expand_inputs",
    "fetch",
    "publish",
    "result_exists",
    "join",
]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"})
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})
_GLOB_CHARS = frozenset("*?[")
_MAX_LIST_DEPTH = 4  # lists naming lists: deep enough for any real use, stops a list that names itself


class BatchInputError(ValueError):
    """An input that does not exist, matches nothing, or is not a video, folder, glob or list."""


def is_remote(location: str | os.PathLike) -> bool:
    """Whether ``location`` is an fsspec URL other than ``file://`` (those are local paths)."""
    text = str(location)
    if "://" not in text:
        return False
    return text.split("://", 1)[0] not in ("file", "local")


def local_path(location: str | os.PathLike) -> Path:
    """A local path or ``file://`` URL as an absolute path."""
    text = str(location)
    if text.startswith(("file://", "local://")):
        text = text.split("://", 1)[1]
    return Path(os.path.abspath(Path(text).expanduser()))


def join(base: str, name: str) -> str:
    """``base/name`` for a local path or a URL."""
    return f"{base.rstrip('/')}/{name}" if is_remote(base) else str(local_path(base) / name)


def expand_inputs(inputs: list[str]) -> list[str]:
    """Every video named by ``inputs`` (files, folders, globs, lists), in order, each once.

    Local videos come back as absolute paths, remote ones as URLs. Raises
    :class:`BatchInputError` for an input that names no video.
    """
    seen: dict[str, None] = {}
    for item in inputs:
        for video in _expand(str(item), None, 0):
            seen.setdefault(video)
    return list(seen)


def _expand(item: str, base: str | None, depth: int) -> list[str]:
    """The videos one input names; ``base``: the folder of the list that named it."""
    if is_remote(item):
        return _expand_remote(item, depth)
    path = Path(item).expanduser() if not item.startswith(("file://", "local://")) else local_path(item)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    path = Path(os.path.abspath(path))  # ".." of a list's relative lines removed
    if _GLOB_CHARS & set(str(path)):
        found = sorted(p for p in glob.glob(str(path), recursive=True) if Path(p).suffix.lower() in VIDEO_SUFFIXES)
        if not found:
            raise BatchInputError(f"{item}: the pattern matches no video")
        return found
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        if not found:
            raise BatchInputError(f"{item}: the folder holds no video ({', '.join(sorted(VIDEO_SUFFIXES))})")
        return found
    if not path.exists():
        raise BatchInputError(f"{item}: no such file or folder")
    if path.suffix.lower() in LIST_SUFFIXES:
        return _expand_list(path.read_text(encoding="utf-8"), str(path.parent), item, depth)
    return [str(path)]  # any other file is taken as a video: the demo says if it cannot read it


def _expand_list(text: str, base: str, item: str, depth: int) -> list[str]:
    """The videos a list file names (one input per line, ``#`` comments)."""
    if depth >= _MAX_LIST_DEPTH:
        raise BatchInputError(f"{item}: lists nested more than {_MAX_LIST_DEPTH} deep")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [video for line in lines if line for video in _expand(line, base, depth + 1)]


def _expand_remote(url: str, depth: int) -> list[str]:
    """:func:`_expand` for an fsspec URL."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    if _GLOB_CHARS & set(path):
        found = [p for p in fs.glob(path) if Path(p).suffix.lower() in VIDEO_SUFFIXES]
    elif fs.isdir(path):
        found = [p for p in fs.find(path) if Path(p).suffix.lower() in VIDEO_SUFFIXES]
    elif not fs.exists(path):
        raise BatchInputError(f"{url}: no such file or folder")
    elif Path(path).suffix.lower() in LIST_SUFFIXES:
        base = fs.unstrip_protocol(path.rsplit("/", 1)[0])
        return _expand_list(fs.cat_file(path).decode("utf-8"), base, url, depth)
    else:
        found = [path]
    if not found:
        raise BatchInputError(f"{url}: names no video")
    return [fs.unstrip_protocol(p) for p in sorted(found)]


def fetch(source: str, folder: Path) -> Path:
    """A local path of ``source``: itself when local, else a copy downloaded into ``folder``."""
    if not is_remote(source):
        return local_path(source)
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(source)
    target = folder / Path(path).name
    fs.get_file(path, str(target))
    return target


def publish(result: Path, out: str, name: str) -> None:
    """Upload the result folder ``result`` to ``out/name`` (remote ``out``), ``meta.json`` last.

    The stage cache (``.cache/``) stays behind: it only speeds up a re-run on
    the same machine. An earlier result under ``out/name`` is removed first,
    so the folder never mixes two runs' files.
    """
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(join(out, name))
    if fs.exists(root):
        fs.rm(root, recursive=True)
    files = sorted(p for p in result.rglob("*") if p.is_file() and ".cache" not in p.relative_to(result).parts)
    files.sort(key=lambda p: p.name == "meta.json")  # stable: meta.json goes last
    for path in files:
        remote = f"{root}/{path.relative_to(result).as_posix()}"
        fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(path), remote)


def result_exists(out: str, name: str) -> bool:
    """Whether ``out/name/meta.json`` (written last, so the folder is whole) exists."""
    if not is_remote(out):
        return (local_path(out) / name / "meta.json").is_file()
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(join(join(out, name), "meta.json"))
    return fs.exists(path)
