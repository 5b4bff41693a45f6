"""A local HTTP server for one result folder: the page, its vendored three.js, the scene and the videos.

Routes (all GET, bound to 127.0.0.1):

- ``/`` and ``/static/…``: the page (``vibe/view/static``, package data);
- ``data/scene.json``: :meth:`vibe.view.scene.Scene.summary`;
- ``data/faces.bin``: uint32 ``(F, 3)`` triangles, little-endian;
- ``data/track<id>.bin``: int16 ``(n, V, 3)`` quantised vertices of one person;
- ``video/<i>``: the i-th video found, with byte ranges (browsers seek with them).

Nothing is fetched from the network: the page loads only these URLs.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import webbrowser
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from vibe.view.scene import Scene

__all__ = ["static_dir", "make_server", "scene_payloads", "serve"]

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".bin": "application/octet-stream",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".png": "image/png",
}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def static_dir() -> Path:
    """The page's files, installed with the package (``vibe/view/static``)."""
    return Path(str(resources.files("vibe.view") / "static"))


def scene_payloads(scene: Scene) -> dict[str, bytes]:
    """``data/…`` path → bytes: the scene JSON, the faces and each person's vertices."""
    payloads = {
        "data/scene.json": json.dumps(scene.summary()).encode("utf-8"),
        "data/faces.bin": scene.faces.astype("<u4").tobytes(),
    }
    for person in scene.people:
        payloads[f"data/track{person.track_id}.bin"] = person.vertices_q.astype("<i2").tobytes()
    return payloads


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive byte positions of a single ``Range: bytes=a-b`` header; None for none.

    Raises:
        ValueError: a range that cannot be satisfied or parsed.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise ValueError(header)
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ValueError(header)
    return start, end


class ViewHandler(BaseHTTPRequestHandler):
    """Serves the page, the scene payloads and the videos (see the module doc)."""

    def __init__(self, *args, payloads: dict[str, bytes], videos: list[Path], root: Path, **kwargs):
        self.payloads, self.videos, self.root = payloads, videos, root
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0].lstrip("/") or "static/index.html"
        if path in self.payloads:
            self._send_bytes(self.payloads[path], CONTENT_TYPES[Path(path).suffix])
        elif path.startswith("video/") and path[6:].isdigit() and int(path[6:]) < len(self.videos):
            self._send_file(self.videos[int(path[6:])])
        elif path.startswith("static/") and self._static(path[7:]) is not None:
            self._send_file(self._static(path[7:]))
        elif path == "favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _static(self, relative: str) -> Path | None:
        """The file under the static root, or None (also for paths escaping it)."""
        candidate = (self.root / relative).resolve()
        inside = candidate == self.root or self.root in candidate.parents
        return candidate if inside and candidate.is_file() else None

    def _send_bytes(self, data: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _send_file(self, path: Path) -> None:
        """The file, or the byte range the request asks for (206)."""
        size = path.stat().st_size
        try:
            byte_range = parse_range(self.headers.get("Range"), size)
        except ValueError:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        start, end = byte_range or (0, size - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if byte_range else HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if byte_range:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        with open(path, "rb") as fh:
            fh.seek(start)
            try:
                shutil.copyfileobj(_Limited(fh, end - start + 1), self.wfile)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser cancels video requests when it seeks


class _Limited:
    """A read-only view of the next ``size`` bytes of a file."""

    def __init__(self, fh, size: int):
        self.fh, self.left = fh, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data


def make_server(scene: Scene, port: int = 8765, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server (not yet serving) for ``scene``; ``port`` 0 picks a free port (``server.server_port``)."""
    handler = partial(
        ViewHandler, payloads=scene_payloads(scene), videos=list(scene.videos.values()), root=static_dir().resolve()
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(scene: Scene, port: int = 8765, open_browser: bool = True, announce=print) -> None:
    """Serve ``scene`` until interrupted; ``announce`` gets the page's URL first."""
    with make_server(scene, port) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        announce(url)
        if open_browser:
            webbrowser.open(url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
