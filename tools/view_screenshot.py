"""Screenshot of `vibe view` for the docs: the page of a result folder in headless Chromium.

Serves the folder like ``vibe view`` (on a free port), opens it in the system
Chromium through playwright (software WebGL), shows one frame and writes a
palette PNG (small enough for the repository)::

    .venv/bin/python tools/view_screenshot.py OUT/clip docs/view_clip.png --frame 40 [--camera-view] [--skeleton]
"""

from __future__ import annotations

import argparse
import shutil
import threading
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from vibe.view.scene import load_scene
from vibe.view.server import make_server

CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]


def screenshot(folder: Path, out: Path, frame: int, camera_view: bool, skeleton: bool, size: tuple[int, int]) -> None:
    """Write ``out``: the page at ``frame`` (orbit view unless ``camera_view``), ``size`` CSS pixels."""
    server = make_server(load_scene(folder), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": size[0], "height": size[1]})
            page.goto(f"http://127.0.0.1:{server.server_port}/")
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            if skeleton:
                page.check("input[name=body][value=skeleton]")
            if camera_view:
                page.evaluate("vibeViewer.world.cameraView()")
            page.evaluate(f"vibeViewer.showFrame({frame})")
            page.wait_for_function(f"vibeViewer.world.frame === {frame}")
            page.screenshot(path=str(out))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    Image.open(out).convert("RGB").quantize(colors=256).save(out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a `vibe demo` result folder")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--frame", type=int, default=0)
    parser.add_argument("--camera-view", action="store_true", help="look through the video's camera")
    parser.add_argument("--skeleton", action="store_true", help="skeletons instead of meshes")
    parser.add_argument("--size", type=int, nargs=2, default=(1200, 560), metavar=("W", "H"))
    args = parser.parse_args()
    screenshot(args.folder, args.out, args.frame, args.camera_view, args.skeleton, tuple(args.size))


if __name__ == "__main__":
    main()
