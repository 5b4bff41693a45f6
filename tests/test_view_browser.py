"""`vibe view` in a real browser: Debian's headless Chromium, driven by playwright (no browser download).

Looking through the video's camera ("camera view"), the person's colour must
cover the image region where the pinhole projection of its camera-frame
vertices falls — for the world arrays and for the camera-frame fallback — and
scrubbing must move the video and change the pose there. Skipped without
playwright or a system Chromium (``VIBE_CHROMIUM`` names another binary).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from view_fixtures import FRAMES, HEIGHT, BoxBody, posed, project, write_result_folder
from vibe.view.scene import load_scene
from vibe.view.server import make_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
PIL = pytest.importorskip("PIL.Image")
CHROMIUM = os.environ.get("VIBE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no system Chromium (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
# Software WebGL (SwiftShader): the same path a laptop without a usable GPU takes.
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
PERSON_HUE_DEG = 30  # the first person's colour, #ff8c1a


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def opened(browser, folder: Path, body: BoxBody):
    """The page of ``folder`` served on a free port; yields (page, console errors seen)."""
    server = make_server(load_scene(folder, body=body), port=0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    page = browser.new_page(viewport={"width": 1000, "height": 560})
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        yield page, errors
    finally:
        page.close()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module", params=[("world", "overlay"), ("camera", "source")], ids=["world", "fallback"])
def page_of(request, tmp_path_factory, browser):
    """The page for a synthetic folder with world arrays and an overlay, or neither (its source video found).

    Yields (page, camera-frame vertices ``(n, V, 3)``, console errors seen).
    """
    body = BoxBody()
    frame, video = request.param
    folder = tmp_path_factory.mktemp("view") / "clip"
    arrays = write_result_folder(folder, body, world=frame == "world", video=video)
    with opened(browser, folder, body) as (page, errors):
        assert page.evaluate("vibeViewer.scene.frame") == frame
        assert page.evaluate("vibeViewer.scene.videos.map((v) => v.label)") == [video]
        yield page, posed(body, arrays)[0], errors


def person_mask(page) -> np.ndarray:
    """``(h, w)`` bool: pixels of the 3D view in the first person's hue (lit or shaded)."""
    png = page.locator("#view3d canvas").screenshot()
    rgb = np.asarray(PIL.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64) / 255
    hsv = np.asarray(PIL.fromarray((rgb * 255).astype(np.uint8)).convert("HSV"), dtype=np.float64)
    hue_deg, sat, val = hsv[..., 0] * 360 / 255, hsv[..., 1] / 255, hsv[..., 2] / 255
    return (np.abs(hue_deg - PERSON_HUE_DEG) < 15) & (sat > 0.45) & (val > 0.25)


def expected_box(verts_cam: np.ndarray, canvas_hw: tuple[int, int]) -> np.ndarray:
    """``(x0, y0, x1, y1)`` canvas pixels of the projected vertices: same vertical field of view, centred."""
    h, w = canvas_hw
    scale = h / HEIGHT  # the canvas keeps the camera's vertical field of view
    uv = (project(verts_cam) - project(np.array([0.0, 0.0, 1.0]))) * scale + [w / 2, h / 2]
    return np.concatenate([uv.min(axis=0), uv.max(axis=0)])


def box_of(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    return float(inter / ((a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter))


def show(page, frame: int) -> np.ndarray:
    """Scrub to ``frame`` through the page's timeline; the 3D view's person mask then."""
    page.locator("#scrub").fill(str(frame))  # an `input` event, as dragging the slider sends
    page.wait_for_function(f"vibeViewer.clock.frame() === {frame} && vibeViewer.world.frame === {frame}")
    page.evaluate("vibeViewer.world.render()")
    return person_mask(page)


def test_page_loads_without_console_errors(page_of) -> None:
    page, _, errors = page_of
    assert page.evaluate("vibeViewer.scene.people.length") == 1
    assert page.evaluate("document.getElementById('video').readyState") >= 2  # the overlay decoded
    assert errors == []


def test_body_appears_where_the_camera_sees_it(page_of) -> None:
    page, verts_cam, errors = page_of
    page.evaluate("vibeViewer.world.cameraView()")
    page.uncheck("#trajectories")  # the path's shadow on the ground lies outside the body
    for frame in (0, FRAMES - 1):
        mask = show(page, frame)
        assert mask.sum() > 200, f"frame {frame}: the person's colour is missing from the 3D view"
        assert iou(box_of(mask), expected_box(verts_cam[frame], mask.shape)) > 0.8, frame
    page.check("#trajectories")
    assert errors == []


def test_scrubbing_moves_the_video_and_changes_the_pose(page_of) -> None:
    page, _, errors = page_of
    page.evaluate("vibeViewer.world.cameraView()")
    first, last = show(page, 0), show(page, FRAMES - 1)
    assert page.evaluate("vibeViewer.frameAt(document.getElementById('video').currentTime)") == FRAMES - 1
    assert page.locator("#time").inner_text().endswith(f"frame {FRAMES - 1}")
    changed = (first ^ last).sum() / (first | last).sum()
    assert changed > 0.2, f"only {changed:.0%} of the body's pixels changed between the first and last frame"
    assert errors == []


def test_skeleton_and_person_toggles(page_of) -> None:
    page, _, errors = page_of
    page.evaluate("vibeViewer.world.cameraView()")
    mesh = show(page, 3)
    page.check("input[name=body][value=skeleton]")
    page.wait_for_function("vibeViewer.world.frame === 3")
    skeleton = person_mask(page)
    assert 0 < skeleton.sum() < 0.6 * mesh.sum()  # thin bones and joint balls, where the boxes were
    page.uncheck("input[data-person='0']")
    page.uncheck("#trajectories")
    page.wait_for_function("vibeViewer.world.frame === 3")
    assert person_mask(page).sum() == 0
    page.check("input[data-person='0']")
    page.check("input[name=body][value=mesh]")
    page.check("#trajectories")
    assert errors == []


def test_play_moves_the_3d_view_with_the_video(page_of) -> None:
    page, _, errors = page_of
    show(page, 0)
    page.click("#play")
    page.wait_for_function("vibeViewer.world.frame >= 5")
    page.wait_for_function("document.getElementById('video').ended")
    assert page.evaluate("vibeViewer.world.frame") == FRAMES - 1
    assert errors == []


def test_without_a_video_the_page_keeps_its_own_clock(tmp_path: Path, browser) -> None:
    body = BoxBody()
    write_result_folder(tmp_path / "clip", body, world=True, video="none")
    with opened(browser, tmp_path / "clip", body) as (page, errors):
        assert page.locator("#no-video").is_visible()
        page.click("#play")
        page.wait_for_function(f"vibeViewer.world.frame === {FRAMES - 1} && !vibeViewer.clock.playing")
        assert show(page, 4).sum() > 200
        assert errors == []


def test_the_slider_follows_playback_after_scrubbing(page_of) -> None:
    page, _, errors = page_of
    show(page, 2)  # the slider now has the focus
    page.keyboard.press("Space")
    page.wait_for_function("vibeViewer.clock.playing")
    page.wait_for_function(f"Number(document.getElementById('scrub').value) >= {FRAMES - 3}")
    page.keyboard.press("Space")
    assert errors == []


def test_contact_rings_follow_the_foot_contact_labels(page_of) -> None:
    page, _, errors = page_of
    world = page.evaluate("vibeViewer.scene.frame") == "world"  # labels come with the world arrays only
    for frame in (0, 1, FRAMES - 1):
        show(page, frame)
        shown = page.evaluate("(vibeViewer.world.people[0].contacts || []).map((r) => r.visible)")
        expected = [frame < FRAMES // 2, frame % 2 == 0] if world else []
        assert shown == expected, frame
    assert errors == []
