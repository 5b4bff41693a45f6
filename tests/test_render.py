"""Overlay rendering: silhouettes, cameras, depth order, colours, side view; backend choice.

References are independent of the renderer: which pixel centres fall inside
the projected mesh triangles (a barycentric test in numpy), projected with the
cameras of ``vibe.geometry.cameras``
(``image_cam_to_pixels``, ``perspective_projection``), and hand-built scenes.
Rendering tests need offscreen OpenGL (EGL or OSMesa); without it they are
skipped with the backend's reason, which names the packages to install.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import roma
import torch
from scipy import ndimage

from vibe.geometry.cameras import image_cam_to_pixels, perspective_projection
from vibe.render.backend import RenderUnavailableError, probe_platform
from vibe.render.overlay import (
    OverlayConfig,
    OverlayRenderer,
    PersonMesh,
    PinholeCamera,
    side_view_vertices,
    track_color,
)

W, H = 320, 240

# PyOpenGL 3.1.0 (pyrender's pin) calls numpy's deprecated tostring() when reading pixels.
pytestmark = pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")


def _run_python(code: str, env_update: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env.update({k: v for k, v in env_update.items() if v is not None})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_importing_render_has_no_side_effects():
    code = (
        "import os, sys, vibe.render, vibe.render.overlay, vibe.render.backend\n"
        "assert 'OpenGL' not in sys.modules, 'OpenGL imported'\n"
        "assert 'pyrender' not in sys.modules, 'pyrender imported'\n"
        "assert 'PYOPENGL_PLATFORM' not in os.environ, 'platform set'\n"
    )
    proc = _run_python(code, {})
    assert proc.returncode == 0, proc.stderr


def test_no_platform_gives_one_clear_line():
    code = (
        "from vibe.render.backend import BackendConfig, RenderUnavailableError, choose_platform\n"
        "try:\n"
        "    choose_platform(BackendConfig(platforms=('no_such_gl', 'nor_this')))\n"
        "except RenderUnavailableError as exc:\n"
        "    print(exc)\n"
    )
    proc = _run_python(code, {})
    assert proc.returncode == 0, proc.stderr
    message = proc.stdout.strip()
    assert "\n" not in message
    assert "no_such_gl" in message and "nor_this" in message
    assert "libegl" in message and "libosmesa6" in message


def test_user_platform_is_the_only_candidate():
    code = (
        "from vibe.render.backend import RenderUnavailableError, choose_platform\n"
        "try:\n"
        "    choose_platform()\n"
        "except RenderUnavailableError as exc:\n"
        "    print(exc)\n"
    )
    proc = _run_python(code, {"PYOPENGL_PLATFORM": "no_such_gl"})
    assert proc.returncode == 0, proc.stderr
    assert "no_such_gl" in proc.stdout and "egl:" not in proc.stdout


def test_probe_reports_a_reason_for_a_bad_platform():
    reason = probe_platform("no_such_gl", timeout_s=120)
    assert isinstance(reason, str) and reason


# --- rendering -------------------------------------------------------------------


def _body_mesh() -> tuple[np.ndarray, np.ndarray]:
    """A closed mesh of a person (y down, facing -z): an upright box torso + a slanted arm, metres."""
    import trimesh

    torso = trimesh.creation.box(extents=(0.4, 1.6, 0.25))
    arm = trimesh.creation.box(extents=(0.12, 0.7, 0.12))
    tilt = np.eye(4)
    tilt[:3, :3] = roma.rotvec_to_rotmat(torch.tensor([0.3, 0.0, 0.9], dtype=torch.float64)).numpy()
    tilt[:3, 3] = (0.45, -0.2, -0.1)
    arm.apply_transform(tilt)
    mesh = trimesh.util.concatenate([torso, arm])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def mesh() -> tuple[np.ndarray, np.ndarray]:
    return _body_mesh()


@pytest.fixture(scope="module")
def renderer(mesh):
    verts, faces = mesh
    try:
        r = OverlayRenderer(W, H, faces, len(verts))
    except RenderUnavailableError as exc:
        pytest.skip(f"no offscreen OpenGL: {exc}")
    yield r
    r.close()


def _reference_mask(pixels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: pixel centres inside any projected triangle (barycentric test, as GL samples)."""
    ys, xs = np.mgrid[0:H, 0:W]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    inside = np.zeros(len(centres), dtype=bool)
    for a, b, c in pixels[faces]:
        m = np.array([b - a, c - a]).T
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        u, v = np.linalg.solve(m, (centres - a).T)
        inside |= (u >= 0) & (v >= 0) & (u + v <= 1)
    return inside.reshape(H, W)


def _assert_same_silhouette(got: np.ndarray, reference: np.ndarray) -> None:
    """Equal masks up to one pixel along the outline (anti-aliased edges)."""
    assert reference.sum() > 1000
    assert not (got & ~ndimage.binary_dilation(reference)).any()
    assert not (reference & ~ndimage.binary_dilation(got)).any()
    assert _iou(got, reference) > 0.9


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _mask(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    return np.any(image != background, axis=-1)


def test_weak_perspective_silhouette_matches_projected_mesh(renderer, mesh):
    verts, faces = mesh
    cam = np.array([0.5, 0.5 * W / H, 0.3, 0.1])  # sx·W = sy·H: square pixels
    background = np.full((H, W, 3), 40, np.uint8)
    out = renderer.render(background, [PersonMesh(0, verts, cam)])
    pixels = image_cam_to_pixels(verts[None], cam[None], W, H)[0]
    reference = _reference_mask(pixels, faces)
    got = _mask(out, background)
    _assert_same_silhouette(got, reference)
    # Everything outside the mesh is the untouched frame.
    np.testing.assert_array_equal(out[~got], background[~got])
    # y points down: the torso's top (y = -0.8) lands above its bottom in the image.
    rows = np.flatnonzero(got.any(axis=1))
    top_expected = (0.5 * W / H * (-0.8 + 0.1) + 1) / 2 * H
    assert abs(rows.min() - top_expected) <= 2


def test_perspective_silhouette_matches_projected_mesh(renderer, mesh):
    verts, faces = mesh
    verts_cam = verts @ roma.rotvec_to_rotmat(torch.tensor([0.0, 0.5, 0.0], dtype=torch.float64)).numpy().T
    verts_cam = verts_cam + np.array([0.2, 0.1, 4.0])
    camera = PinholeCamera(fx=300.0, fy=300.0, cx=150.0, cy=125.0)
    out = renderer.render(np.zeros((H, W, 3), np.uint8), [PersonMesh(3, verts_cam)], camera=camera)
    pixels = perspective_projection(
        torch.as_tensor(verts_cam)[None], torch.zeros(1, 3, dtype=torch.float64), 300.0,
        torch.tensor([[150.0, 125.0]], dtype=torch.float64),
    )[0].numpy()  # fmt: skip
    _assert_same_silhouette(_mask(out, np.zeros(3, np.uint8)), _reference_mask(pixels, faces))


def test_nearer_person_occludes_in_either_order(renderer, mesh):
    verts, _ = mesh
    near = PersonMesh(1, verts, np.array([0.6, 0.6 * W / H, 0.2, 0.0]))  # larger = nearer
    far = PersonMesh(2, verts, np.array([0.45, 0.45 * W / H, -0.1, 0.0]))
    background = np.zeros((H, W, 3), np.uint8)
    a = renderer.render(background, [near, far])
    b = renderer.render(background, [far, near])
    np.testing.assert_array_equal(a, b)
    alone_near = renderer.render(background, [near])
    alone_far = renderer.render(background, [far])
    # Inside the near person's outline (its anti-aliased edge blends with what is behind).
    overlap = ndimage.binary_erosion(_mask(alone_near, background)) & _mask(alone_far, background)
    assert overlap.sum() > 500
    # Where both cover the image, the nearer person is seen.
    np.testing.assert_array_equal(a[overlap], alone_near[overlap])


def test_colour_is_fixed_by_track_id(mesh):
    verts, faces = mesh
    flat = OverlayConfig(ambient=1.0, light_intensity=0.0)  # no shading: the base colour itself
    try:
        r = OverlayRenderer(W, H, faces, len(verts), flat)
    except RenderUnavailableError as exc:
        pytest.skip(f"no offscreen OpenGL: {exc}")
    cam = np.array([0.5, 0.5 * W / H, 0.0, 0.0])
    background = np.zeros((H, W, 3), np.uint8)
    with r:
        for track_id in (0, 7):
            out = r.render(background, [PersonMesh(track_id, verts, cam)])
            inside = _mask(out, background)
            # Deep inside the silhouette (no anti-aliased edge pixels).
            centre = out[H // 2 - 5 : H // 2 + 5, W // 2 - 5 : W // 2 + 5].reshape(-1, 3)
            assert inside[H // 2, W // 2]
            expected = np.array(track_color(track_id)) * 255
            np.testing.assert_allclose(centre.mean(axis=0), expected, atol=3)
    assert not np.allclose(track_color(0), track_color(1), atol=0.1)


def test_fewer_people_hide_unused_meshes(renderer, mesh):
    verts, _ = mesh
    left = PersonMesh(1, verts, np.array([0.4, 0.4 * W / H, -1.2, 0.0]))
    right = PersonMesh(2, verts, np.array([0.4, 0.4 * W / H, 1.2, 0.0]))
    background = np.zeros((H, W, 3), np.uint8)
    both = renderer.render(background, [left, right])
    only_left = renderer.render(background, [left])
    assert _mask(both, background)[:, W // 2 :].any()
    assert not _mask(only_left, background)[:, W // 2 + 20 :].any()
    assert np.array_equal(renderer.render(background, []), background)


def test_side_view_turns_the_body_about_the_vertical(renderer, mesh):
    verts, faces = mesh
    # A point in front of the body (towards the camera, -z) goes to the image's left (-x).
    front = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(side_view_vertices(front), [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], atol=1e-12)
    cam = np.array([0.5, 0.5 * W / H, 0.0, 0.0])
    out = renderer.render(None, [PersonMesh(0, verts, cam)], side_view=True)
    pixels = image_cam_to_pixels(side_view_vertices(verts)[None], cam[None], W, H)[0]
    reference = _reference_mask(pixels, faces)
    _assert_same_silhouette(_mask(out, np.zeros(3, np.uint8)), reference)
    front_view = _reference_mask(image_cam_to_pixels(verts[None], cam[None], W, H)[0], faces)
    assert _iou(reference, front_view) < 0.8  # the side view is a different silhouette


def test_frame_and_mesh_sizes_are_checked(renderer, mesh):
    with pytest.raises(ValueError, match="frame"):
        renderer.render(np.zeros((10, 10, 3), np.uint8), [PersonMesh(0, mesh[0], np.ones(4))])
    with pytest.raises(ValueError, match="vertices"):
        renderer.render(None, [PersonMesh(0, mesh[0][:-1], np.ones(4))])


def test_osmesa_draws_the_same_silhouettes():
    """The OSMesa fallback (no framebuffer objects) reads its own buffer: same silhouettes as EGL."""
    import subprocess
    import sys

    from vibe.render.backend import probe_platform

    reason = probe_platform("osmesa")
    if reason is not None:
        pytest.skip(f"OSMesa unavailable here: {reason}")
    env = {**os.environ, "PYOPENGL_PLATFORM": "osmesa"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "silhouette_matches or occludes"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "3 passed" in proc.stdout and "skipped" not in proc.stdout
