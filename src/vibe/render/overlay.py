"""Body meshes of several people drawn over video frames (pyrender, one pass, real z-buffer).

Input vertices are in the camera's axes (OpenCV: x right, y **down**, z
forward, metres), i.e. the body model's output with the regressor's root
rotation, which includes the half turn about x that shows a y-up body upright
(a y-up body at identity root rotation appears upside down, as it would in the
original).

Weak-perspective camera (the original's ``orig_cam = (sx, sy, tx, ty)``,
:func:`vibe.geometry.cameras.crop_cam_to_image_cam`): a vertex lands on pixel
``u = (sx·(x + tx) + 1)/2 · W``, ``v = (sy·(y + ty) + 1)/2 · H``, the same as
:func:`~vibe.geometry.cameras.image_cam_to_pixels`. The original renders with
the projection ``x_ndc = sx·(x + tx)``, ``y_ndc = -sy·(y + ty)`` after turning
the mesh half about x; the minus is there because vertex y points down (image
rows) while OpenGL's NDC y points up. Here each person's camera is applied to
its vertices on the CPU, giving eye coordinates in pixels from the image
centre (``X = sx·W/2·(x + tx)``, ``Y = -sy·H/2·(y + ty)``), and all people are
drawn in one pass through one orthographic camera of ``W × H`` pixels, so a
single z-buffer orders them. The weak-perspective camera has no depth; each
person's is ``f / k`` metres (``k = sx·W/2`` pixels per metre, ``f`` a nominal
focal length, :class:`OverlayConfig`) plus the vertex z: nearer = larger on
screen, which orders people correctly unless they overlap at equal size.

Perspective camera (:class:`PinholeCamera`): the vertices are already placed in
the camera frame (translated), projected with ``fx, fy, cx, cy``.

The side view turns each person by 90° about the vertical (camera y) axis
through the mean of its vertices before the same projection, as the
original's ``side.mp4`` (it shows the body's left side to the camera).

Speed: the renderer, scene, cameras and one mesh slot per person are created
once; each frame only the vertex buffers (positions + normals) are overwritten
in place (``glBufferSubData``), and a small Lambert shader replaces pyrender's
PBR one (4× faster per frame on CPU rasterisers). Both touch pyrender 0.1.45
internals (``Primitive._buffers``, the renderer's program cache), as does
:meth:`OverlayRenderer.close` (see there).
"""

from __future__ import annotations

import colorsys
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse

from vibe.render.backend import BackendConfig, create_offscreen_renderer

__all__ = ["OverlayConfig", "OverlayRenderer", "PersonMesh", "PinholeCamera", "track_color", "side_view_vertices"]

log = logging.getLogger(__name__)

# OpenCV camera axes (y down, z forward) → OpenGL eye axes (y up, looking along -z).
_CV_TO_GL = np.array([1.0, -1.0, -1.0])

# Lambert shading instead of pyrender's PBR shader, whose per-pixel cost halves the
# frame rate on CPU rasterisers (llvmpipe). pyrender fills in the *_LOC defines
# and the uniforms M, V, P, ambient_light and material.base_color_factor; the two
# lights are fixed in eye space (a key light, by default from the upper left, and one from
# above), so the scene's own light uniforms are ignored.
_MESH_VERT = """#version 330 core
layout(location = 0) in vec3 position;
layout(location = NORMAL_LOC) in vec3 normal;
layout(location = INST_M_LOC) in mat4 inst_m;
uniform mat4 M;
uniform mat4 V;
uniform mat4 P;
out vec3 eye_normal;
void main() {
    mat4 model_view = V * M * inst_m;
    gl_Position = P * model_view * vec4(position, 1.0);
    eye_normal = mat3(model_view) * normal;
}
"""
_MESH_FRAG = """#version 330 core
struct Material { vec4 base_color_factor; };
uniform Material material;
uniform vec3 ambient_light;
in vec3 eye_normal;
out vec4 frag_color;
void main() {
    vec3 n = normalize(eye_normal);
    float key = max(dot(n, KEY_DIR), 0.0);
    float top = max(dot(n, vec3(0.0, 0.7071, 0.7071)), 0.0);
    vec3 linear = material.base_color_factor.rgb * (ambient_light + KEY_LIGHT * (0.8 * key + 0.25 * top));
    frag_color = vec4(pow(clamp(linear, 0.0, 1.0), vec3(1.0 / 2.2)), material.base_color_factor.a);
}
"""


@dataclass(frozen=True)
class OverlayConfig:
    """How overlays look.

    Attributes:
        opacity: mesh opacity over the frame (1: opaque, as the original).
        depth_focal_px: nominal focal length (pixels) that turns a weak-perspective
            scale into a depth for ordering people; ``None``: ``max(W, H)``
            (≈ 53° field of view), a typical video camera.
        ambient: ambient light intensity (grey, linear RGB).
        light_intensity: intensity of the two directional lights (a key light
            from the upper left and one from above, fixed in camera space).
        key_light_dir: ``(3,)`` direction from the body towards the key light in
            the camera frame (OpenCV axes; normalised here); ``None``: upper left,
            behind the camera, ``(-0.2873, -0.3830, -0.8779)``.
        backend: how the OpenGL platform is chosen.
    """

    opacity: float = 1.0
    depth_focal_px: float | None = None
    ambient: float = 0.12
    light_intensity: float = 1.0
    key_light_dir: tuple[float, float, float] | None = None
    backend: BackendConfig = BackendConfig()


@dataclass
class PinholeCamera:
    """A perspective camera over the full image (pixels; OpenCV axes)."""

    fx: float
    fy: float
    cx: float
    cy: float


@dataclass
class PersonMesh:
    """One person to draw in a frame.

    Attributes:
        track_id: the person's track; fixes the colour.
        vertices_cam: ``(V, 3)`` vertices in camera axes (OpenCV), metres; for a
            weak-perspective camera relative to the body (as the model outputs
            them), for a perspective camera already translated into the camera frame.
        orig_cam: ``(4,)`` weak-perspective image camera ``(sx, sy, tx, ty)``;
            needed unless the frame is rendered with a :class:`PinholeCamera`.
    """

    track_id: int
    vertices_cam: np.ndarray
    orig_cam: np.ndarray | None = None


def _key_dir_glsl(key_light_dir_cv: Sequence[float] | None) -> str:
    """The key light's unit direction in eye space (OpenGL axes) as a GLSL ``vec3`` literal."""
    if key_light_dir_cv is None:
        return "vec3(-0.2873, 0.3830, 0.8779)"
    d = np.asarray(key_light_dir_cv, dtype=np.float64).reshape(3) * _CV_TO_GL
    norm = np.linalg.norm(d)
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError(f"key_light_dir must be a non-zero finite vector, got {key_light_dir_cv}")
    x, y, z = d / norm
    return f"vec3({x:.6f}, {y:.6f}, {z:.6f})"


def track_color(track_id: int) -> tuple[float, float, float]:
    """sRGB colour in ``[0, 1]`` of a track's mesh (fully lit): hues spaced by the golden ratio."""
    hue = (0.1 + 0.61803398875 * int(track_id)) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.55, 0.95)


def side_view_vertices(vertices_cam: np.ndarray, angle_deg: float = 90.0) -> np.ndarray:
    """``(V, 3)`` vertices turned by ``angle_deg`` about the camera's vertical (y) axis through their mean.

    A positive angle turns a body that faces the camera (front along −z) to face
    the image's left (−x), so the camera sees the body's left side.
    """
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    centre = vertices_cam.mean(axis=0)
    return (vertices_cam - centre) @ rot.T + centre


class _Slot:
    """One reusable mesh of the scene (drawn for one person per frame) and its vertex buffer."""

    def __init__(self, scene, faces: np.ndarray, num_vertices: int) -> None:
        import pyrender

        self.material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=(1.0, 1.0, 1.0, 1.0), metallicFactor=0.0, roughnessFactor=0.8, alphaMode="OPAQUE"
        )
        zeros = np.zeros((num_vertices, 3), dtype=np.float32)
        normals = np.tile(np.array([0.0, 0.0, 1.0], dtype=np.float32), (num_vertices, 1))
        self.primitive = pyrender.Primitive(
            positions=zeros, normals=normals, indices=faces, material=self.material, mode=pyrender.GLTF.TRIANGLES
        )
        self.mesh = pyrender.Mesh([self.primitive])
        scene.add(self.mesh)

    def upload(self, platform, positions: np.ndarray, normals: np.ndarray) -> None:
        """Replace the vertex data: ``(V, 3)`` eye-space positions and unit normals."""
        if self.primitive._vaid is None:
            # Not on the GPU yet: pyrender uploads these at the next render.
            self.primitive.positions = positions
            self.primitive.normals = normals
            return
        from OpenGL.GL import GL_ARRAY_BUFFER, glBindBuffer, glBufferSubData

        # pyrender's layout for this primitive: one interleaved buffer, position then normal.
        data = np.ascontiguousarray(np.concatenate([positions, normals], axis=1), dtype=np.float32)
        platform.make_current()
        glBindBuffer(GL_ARRAY_BUFFER, self.primitive._buffers[0])
        glBufferSubData(GL_ARRAY_BUFFER, 0, data.nbytes, data)
        glBindBuffer(GL_ARRAY_BUFFER, 0)


class OverlayRenderer:
    """Draws the meshes of several people over ``width × height`` frames.

    Args:
        width, height: frame size in pixels.
        faces: ``(F, 3)`` triangle indices shared by every person's mesh.
        num_vertices: ``V``, vertices per mesh.
        config: looks and backend.

    Raises:
        vibe.render.backend.RenderUnavailableError: no offscreen OpenGL here.
    """

    def __init__(
        self, width: int, height: int, faces: np.ndarray, num_vertices: int, config: OverlayConfig | None = None
    ) -> None:
        self.width, self.height = int(width), int(height)
        self.config = config or OverlayConfig()
        self._faces = np.ascontiguousarray(np.asarray(faces, dtype=np.int64))
        self._num_vertices = int(num_vertices)
        self._renderer = create_offscreen_renderer(self.width, self.height, self.config.backend)
        import pyrender

        self._pyrender = pyrender
        self._scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(self.config.ambient,) * 3)
        # Both cameras exist from the start; the frame's kind becomes the main camera.
        self._ortho = pyrender.OrthographicCamera(xmag=self.width / 2, ymag=self.height / 2, znear=0.01, zfar=100.0)
        self._ortho_node = self._scene.add(self._ortho, pose=np.eye(4))
        self._pinhole = pyrender.IntrinsicsCamera(fx=1.0, fy=1.0, cx=0.0, cy=0.0, znear=0.01, zfar=100.0)
        self._pinhole_node = self._scene.add(self._pinhole, pose=np.eye(4))
        self._shader_dir = tempfile.TemporaryDirectory(prefix="vibe_shaders_")
        key = f"{self.config.light_intensity:.6f}"
        Path(self._shader_dir.name, "mesh.vert").write_text(_MESH_VERT)
        frag = _MESH_FRAG.replace("KEY_LIGHT", key).replace("KEY_DIR", _key_dir_glsl(self.config.key_light_dir))
        Path(self._shader_dir.name, "mesh.frag").write_text(frag)
        # pyrender reads shaders from files when it first compiles them.
        self._renderer._renderer._program_cache = pyrender.shader_program.ShaderProgramCache(
            shader_dir=self._shader_dir.name
        )
        # (V, F) incidence: vertex normal = sum of its faces' area-weighted normals.
        rows = self._faces.reshape(-1)
        cols = np.repeat(np.arange(len(self._faces)), 3)
        self._vertex_faces = scipy.sparse.csr_matrix(
            (np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(self._num_vertices, len(self._faces))
        )
        self._slots: list[_Slot] = []
        self._rect = (0, 0, self.width, self.height)
        self._renderer._renderer._read_main_framebuffer = self._read_rect

    # --- public -----------------------------------------------------------------
    def render(
        self,
        image_rgb: np.ndarray | None,
        people: Sequence[PersonMesh],
        camera: PinholeCamera | None = None,
        side_view: bool = False,
    ) -> np.ndarray:
        """Draw ``people`` over a frame.

        Args:
            image_rgb: ``(H, W, 3)`` uint8 frame; ``None``: a black frame (side view).
            people: the people of this frame (any number, any order).
            camera: ``None``: each person's weak-perspective ``orig_cam``;
                else one perspective camera for all.
            side_view: turn every body 90° about the vertical axis first.

        Returns:
            ``(H, W, 3)`` uint8 image.
        """
        if image_rgb is None:
            image_rgb = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        if image_rgb.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame is {image_rgb.shape[:2]}, renderer is {(self.height, self.width)}")
        if not people:
            return image_rgb.copy()
        while len(self._slots) < len(people):
            self._slots.append(_Slot(self._scene, self._faces, self._num_vertices))
            log.debug("overlay renderer: %d mesh slots", len(self._slots))
        depths, rects = [], []
        for slot, person in zip(self._slots, people):
            verts = np.asarray(person.vertices_cam, dtype=np.float64)
            if verts.shape != (self._num_vertices, 3):
                raise ValueError(f"track {person.track_id}: vertices {verts.shape}, expected ({self._num_vertices}, 3)")
            if side_view:
                verts = side_view_vertices(verts)
            eye, depth = self._to_eye(verts, person, camera)
            rects.append(self._pixel_rect(eye) if camera is None else (0, 0, self.width, self.height))
            normals = self._vertex_normals(verts * _CV_TO_GL)
            slot.upload(self._renderer._platform, eye.astype(np.float32), normals)
            # pyrender shades in linear RGB and writes sRGB (gamma 2.2): linearise the colour.
            linear = np.asarray(track_color(person.track_id)) ** 2.2
            slot.material.baseColorFactor = (*linear, 1.0)
            slot.mesh.is_visible = True
            depths.append(depth)
        for slot in self._slots[len(people) :]:
            slot.mesh.is_visible = False
        self._set_camera(camera, min(d[0] for d in depths), max(d[1] for d in depths))
        rect = np.array(rects)
        self._rect = (*rect[:, :2].min(axis=0), *rect[:, 2:].max(axis=0))
        out = image_rgb.copy()
        x0, y0, x1, y1 = self._rect
        if x1 <= x0 or y1 <= y0:  # everyone is off screen
            return out
        rgba, _ = self._renderer.render(self._scene, flags=self._pyrender.RenderFlags.RGBA)
        if rgba is None or rgba.shape[-1] != 4:
            # No framebuffer objects (OSMesa): pyrender drew into the context's own buffer
            # and read it back as RGB; read the rectangle's RGBA from that buffer instead.
            platform = self._renderer._platform
            platform.make_current()
            try:
                rgba = self._read_pixels(0)
            finally:
                platform.make_uncurrent()
        out[y0:y1, x0:x1] = self._composite(image_rgb[y0:y1, x0:x1], rgba)
        return out

    def close(self) -> None:
        """Release this renderer's GL objects and context (other renderers keep working)."""
        if self._renderer is None:
            return
        platform = self._renderer._platform
        if getattr(platform, "_egl_display", None) is not None:
            # pyrender's EGL delete() calls eglTerminate on the display, which every
            # renderer of the process shares, breaking the others: free this
            # renderer's objects and destroy only its context instead.
            from OpenGL.EGL import eglDestroyContext

            platform.make_current()
            self._renderer._renderer.delete()
            eglDestroyContext(platform._egl_display, platform._egl_context)
            # Cleared so pyrender's __del__ finds nothing left to terminate.
            platform._egl_context = None
            platform._egl_display = None
        else:
            self._renderer.delete()
        self._renderer = None
        self._shader_dir.cleanup()

    def __enter__(self) -> "OverlayRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------
    def _to_eye(
        self, verts: np.ndarray, person: PersonMesh, camera: PinholeCamera | None
    ) -> tuple[np.ndarray, tuple[float, float]]:
        """OpenGL eye coordinates ``(V, 3)`` of a person and its depth range (metres)."""
        if camera is not None:
            eye = verts * _CV_TO_GL
        else:
            if person.orig_cam is None:
                raise ValueError(f"track {person.track_id}: weak-perspective rendering needs orig_cam")
            sx, sy, tx, ty = (float(v) for v in np.asarray(person.orig_cam).reshape(4))
            px_per_m = sx * self.width / 2.0
            focal = self.config.depth_focal_px or float(max(self.width, self.height))
            eye = np.empty_like(verts)
            eye[:, 0] = px_per_m * (verts[:, 0] + tx)
            eye[:, 1] = -sy * self.height / 2.0 * (verts[:, 1] + ty)
            eye[:, 2] = -(focal / max(px_per_m, 1e-9) + verts[:, 2])
        return eye, (float(-eye[:, 2].max()), float(-eye[:, 2].min()))

    def _pixel_rect(self, eye: np.ndarray) -> tuple[int, int, int, int]:
        """Image rectangle ``(x0, y0, x1, y1)`` (pixels, clipped) holding orthographic eye points ``(V, 3)``."""
        x = eye[:, 0] + self.width / 2.0
        y = self.height / 2.0 - eye[:, 1]
        x0, x1 = np.clip([np.floor(x.min()) - 2, np.ceil(x.max()) + 2], 0, self.width).astype(int)
        y0, y1 = np.clip([np.floor(y.min()) - 2, np.ceil(y.max()) + 2], 0, self.height).astype(int)
        return int(x0), int(y0), int(x1), int(y1)

    def _read_rect(self, scene, flags) -> tuple[np.ndarray, None]:
        """Replaces pyrender's framebuffer read: colour only, only ``self._rect``.

        pyrender reads and linearises the whole depth buffer on every frame
        and reads the whole colour buffer; at 720p on a CPU rasteriser that
        costs more than drawing the bodies, which cover a small part of it.
        """
        from OpenGL import GL

        r = self._renderer._renderer
        x0, y0, x1, y1 = self._rect
        gl_y0 = self.height - y1  # OpenGL rows count from the bottom
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, r._main_fb_ms)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, r._main_fb)
        GL.glBlitFramebuffer(
            x0, gl_y0, x1, gl_y0 + y1 - y0, x0, gl_y0, x1, gl_y0 + y1 - y0, GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR
        )
        return self._read_pixels(r._main_fb), None

    def _read_pixels(self, framebuffer: int) -> np.ndarray:
        """``(h, w, 4)`` uint8 RGBA of ``self._rect`` from ``framebuffer`` (0: the context's own), top row first."""
        from OpenGL import GL

        x0, y0, x1, y1 = self._rect
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, framebuffer)
        buf = GL.glReadPixels(x0, self.height - y1, x1 - x0, y1 - y0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        return np.frombuffer(buf, dtype=np.uint8).reshape(y1 - y0, x1 - x0, 4)[::-1]

    def _composite(self, image_rgb: np.ndarray, rgba: np.ndarray) -> np.ndarray:
        """The frame ``(h, w, 3)`` with the rendering ``(h, w, 4)`` blended over it by its alpha."""
        out = image_rgb.copy()
        covered = rgba[..., 3] > 0  # blend only there: most of a frame is untouched
        alpha = rgba[covered, 3:4].astype(np.float32) * (self.config.opacity / 255.0)
        blend = rgba[covered, :3] * alpha + image_rgb[covered] * (1.0 - alpha)
        out[covered] = np.clip(blend + 0.5, 0, 255).astype(np.uint8)
        return out

    def _vertex_normals(self, verts_gl: np.ndarray) -> np.ndarray:
        """``(V, 3)`` float32 unit normals of the mesh at ``verts_gl`` (area-weighted)."""
        tri = verts_gl[self._faces]
        face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals = self._vertex_faces @ face_normals
        norm = np.linalg.norm(normals, axis=1, keepdims=True)
        return (normals / np.maximum(norm, 1e-12)).astype(np.float32)

    def _set_camera(self, camera: PinholeCamera | None, near: float, far: float) -> None:
        """Make the frame's camera the main one, its clip range just around the people."""
        margin = 0.05 * max(far - near, 1.0)
        if camera is None:
            self._ortho.znear, self._ortho.zfar = max(near - margin, 1e-3), far + margin
            self._scene.main_camera_node = self._ortho_node
        else:
            self._pinhole.fx, self._pinhole.fy = camera.fx, camera.fy
            self._pinhole.cx, self._pinhole.cy = camera.cx, camera.cy
            self._pinhole.znear, self._pinhole.zfar = max(near - margin, 1e-3), far + margin
            self._scene.main_camera_node = self._pinhole_node
