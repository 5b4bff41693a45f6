"""Procedural scenes for the synthetic benchmark: backgrounds, skin tones, lighting, a body renderer.

Everything is generated (no photos, so no licences to track):

- background: a wall with a vertical colour gradient and low-frequency noise
  above the horizon, and a checkered floor plane (world ``y = floor``, tiles
  of random size and colours) seen through the frame's camera, fading into
  the wall colour with distance; plus per-frame sensor noise;
- skin tone: a base colour from a small palette of skin reflectances (light
  to dark, sRGB), slightly perturbed;
- lighting: the overlay renderer's ambient and directional intensities and
  the key light's direction (camera frame), uniform over a cone around the
  direction back to the camera, so that the body is lit from the left, right,
  above or below but never only from behind; the renderer's second light
  (from above) stays fixed.

:class:`BodyRenderer` draws one mesh with a :class:`~vibe.render.overlay.PinholeCamera`
and returns the colour image and the body's mask.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from vibe.render.overlay import OverlayConfig, OverlayRenderer, PersonMesh, PinholeCamera, track_color

__all__ = ["SceneConfig", "SceneStyle", "sample_style", "floor_background", "BodyRenderer"]

# sRGB skin reflectances, light to dark (approximate Fitzpatrick I–VI swatches).
SKIN_TONES_SRGB: tuple[tuple[float, float, float], ...] = (
    (0.96, 0.84, 0.76),
    (0.91, 0.74, 0.62),
    (0.82, 0.62, 0.48),
    (0.67, 0.47, 0.34),
    (0.49, 0.33, 0.23),
    (0.33, 0.22, 0.16),
)


@dataclasses.dataclass
class SceneConfig:
    """Ranges (uniform) of the random scene.

    Attributes:
        ambient: ambient light intensity (linear grey).
        light_intensity: intensity of the renderer's two directional lights.
        key_light_cone_deg: largest angle between the key light's direction and
            the direction from the body back to the camera.
        skin_jitter: std of a multiplicative per-channel perturbation of the skin colour.
        tile_m: floor checker tile side (metres).
        fog_m: distance over which the floor fades into the wall colour.
        noise_std: per-frame sensor noise (8-bit grey levels).
    """

    ambient: tuple[float, float] = (0.08, 0.35)
    light_intensity: tuple[float, float] = (0.5, 1.4)
    key_light_cone_deg: float = 75.0
    skin_jitter: float = 0.04
    tile_m: tuple[float, float] = (0.3, 1.2)
    fog_m: tuple[float, float] = (8.0, 30.0)
    noise_std: tuple[float, float] = (0.0, 4.0)


@dataclasses.dataclass
class SceneStyle:
    """One video's drawn scene (all colours sRGB in ``[0, 1]``)."""

    skin_srgb: np.ndarray  # (3,)
    ambient: float
    light_intensity: float
    key_light_dir: np.ndarray  # (3,) unit, camera frame (OpenCV), towards the light
    wall_top: np.ndarray  # (3,)
    wall_bottom: np.ndarray  # (3,)
    floor_a: np.ndarray  # (3,)
    floor_b: np.ndarray  # (3,)
    tile_m: float
    fog_m: float
    noise_std: float
    texture: np.ndarray  # (H, W) low-frequency noise in [-1, 1]

    def to_json(self) -> dict:
        """The scalar description (for ``meta.json``; the texture is left out)."""
        out = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in dataclasses.asdict(self).items()}
        out.pop("texture")
        return out


def _low_frequency_noise(rng: np.random.Generator, width: int, height: int, cells: int) -> np.ndarray:
    """``(H, W)`` smooth noise in ``[-1, 1]``: a few octaves of bicubically upsampled random grids."""
    out = np.zeros((height, width), np.float32)
    for octave in range(3):
        n = cells * 2**octave
        grid = rng.uniform(-1.0, 1.0, size=(max(2, n * height // width), n)).astype(np.float32)
        out += cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC) / 2**octave
    return np.clip(out / 1.75, -1.0, 1.0)


def _direction_in_cone(rng: np.random.Generator, axis: np.ndarray, cone_deg: float) -> np.ndarray:
    """A unit vector ``(3,)`` uniform (by solid angle) within ``cone_deg`` of the unit ``axis``."""
    cos_theta = rng.uniform(np.cos(np.radians(cone_deg)), 1.0)
    phi = rng.uniform(0.0, 2.0 * np.pi)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    return cos_theta * axis + sin_theta * (np.cos(phi) * u + np.sin(phi) * v)


def sample_style(rng: np.random.Generator, width: int, height: int, config: SceneConfig | None = None) -> SceneStyle:
    """A random :class:`SceneStyle` for ``width × height`` frames."""
    cfg = config or SceneConfig()
    skin = np.asarray(SKIN_TONES_SRGB[rng.integers(len(SKIN_TONES_SRGB))])
    skin = np.clip(skin * np.exp(rng.normal(0.0, cfg.skin_jitter, size=3)), 0.0, 1.0)
    hue_colour = lambda lo, hi: rng.uniform(lo, hi) * np.clip(1.0 + rng.normal(0, 0.25, 3), 0.3, 1.7)  # noqa: E731
    wall_top = np.clip(hue_colour(0.3, 0.9), 0, 1)
    floor_a = np.clip(hue_colour(0.15, 0.7), 0, 1)
    return SceneStyle(
        skin_srgb=skin,
        ambient=float(rng.uniform(*cfg.ambient)),
        light_intensity=float(rng.uniform(*cfg.light_intensity)),
        key_light_dir=_direction_in_cone(rng, np.array([0.0, 0.0, -1.0]), cfg.key_light_cone_deg),
        wall_top=wall_top,
        wall_bottom=np.clip(wall_top * rng.uniform(0.5, 1.2), 0, 1),
        floor_a=floor_a,
        floor_b=np.clip(floor_a * rng.uniform(0.4, 0.9), 0, 1),
        tile_m=float(rng.uniform(*cfg.tile_m)),
        fog_m=float(rng.uniform(*cfg.fog_m)),
        noise_std=float(rng.uniform(*cfg.noise_std)),
        texture=_low_frequency_noise(rng, width, height, int(rng.integers(3, 12))),
    )


def floor_background(
    style: SceneStyle,
    cam_rotmat: np.ndarray,
    cam_transl: np.ndarray,
    focal_px: float,
    width: int,
    height: int,
    floor_y: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One background frame ``(H, W, 3)`` uint8 seen through a camera.

    Args:
        cam_rotmat: ``(3, 3)`` camera-from-world rotation (world y up, camera OpenCV).
        cam_transl: ``(3,)`` camera-from-world translation (metres).
        focal_px: focal length; the principal point is the image centre.
        floor_y: world height of the floor plane.
        rng: the per-frame sensor noise.
    """
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays_cam = np.stack([(u - width / 2) / focal_px, (v - height / 2) / focal_px, np.ones_like(u)], axis=-1)
    rays_world = rays_cam @ cam_rotmat  # R^T d for each pixel (row vectors)
    centre = -cam_rotmat.T @ cam_transl
    # Wall: gradient with the ray's elevation, modulated by the texture.
    elevation = rays_world[..., 1] / np.linalg.norm(rays_world, axis=-1)
    mix = np.clip(0.5 + elevation, 0.0, 1.0)[..., None]
    wall = style.wall_bottom * (1 - mix) + style.wall_top * mix
    wall = wall * (1.0 + 0.15 * style.texture[..., None])
    # Floor: where the ray goes down to the plane y = floor_y.
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = (floor_y - centre[1]) / rays_world[..., 1]
    on_floor = np.isfinite(dist) & (dist > 0)
    hit = centre + np.where(on_floor, dist, 0.0)[..., None] * rays_world
    checker = (np.floor(hit[..., 0] / style.tile_m) + np.floor(hit[..., 2] / style.tile_m)) % 2
    floor = np.where(checker[..., None] > 0, style.floor_a, style.floor_b) * (1.0 + 0.1 * style.texture[..., None])
    ground_dist = np.linalg.norm((hit - centre)[..., [0, 2]], axis=-1)
    fog = np.clip(ground_dist / style.fog_m, 0.0, 1.0)[..., None]
    floor = floor * (1 - fog) + wall * fog
    image = np.where(on_floor[..., None], floor, wall) * 255.0
    if style.noise_std > 0:
        image = image + rng.normal(0.0, style.noise_std, size=image.shape)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


class _CapturingRenderer(OverlayRenderer):
    """The overlay renderer, keeping the last raw RGBA rendering (for the mask and the recolouring)."""

    last_rgba: np.ndarray | None = None

    def _composite(self, image_rgb: np.ndarray, rgba: np.ndarray) -> np.ndarray:
        self.last_rgba = rgba
        return image_rgb


class BodyRenderer:
    """Draws one body mesh over a background with a skin colour.

    The overlay renderer shades a fixed track colour; with its shading linear
    per channel, multiplying the rendered sRGB by ``skin / track colour`` (per
    channel) gives the same shading of the skin colour (up to highlights).

    Args:
        width, height: frame size.
        faces: ``(F, 3)``; num_vertices: ``V``.
        style: lighting and skin colour.
    """

    def __init__(self, width: int, height: int, faces: np.ndarray, num_vertices: int, style: SceneStyle) -> None:
        config = OverlayConfig(
            ambient=style.ambient, light_intensity=style.light_intensity, key_light_dir=tuple(style.key_light_dir)
        )
        self._renderer = _CapturingRenderer(width, height, faces, num_vertices, config)
        self._black = np.zeros((height, width, 3), np.uint8)
        self._gain = np.asarray(style.skin_srgb) / np.asarray(track_color(0))

    def render(
        self, background: np.ndarray, vertices_cam: np.ndarray, camera: PinholeCamera
    ) -> tuple[np.ndarray, np.ndarray]:
        """The frame ``(H, W, 3)`` uint8 and the body mask ``(H, W)`` bool.

        Args:
            background: ``(H, W, 3)`` uint8.
            vertices_cam: ``(V, 3)`` in the camera frame (OpenCV, metres).
        """
        body, alpha = self.layer(vertices_cam, camera)
        frame = body * alpha[..., None] + background.astype(np.float32) * (1.0 - alpha[..., None])
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8), alpha > 0

    def layer(
        self, vertices_cam: np.ndarray, camera: PinholeCamera, skin_srgb: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One body alone: its colour ``(H, W, 3)`` float32 in [0, 255] and coverage ``(H, W)`` in [0, 1].

        ``skin_srgb (3,)``: this body's skin (default: the style's), so that the
        bodies of one scene can differ while sharing its light.
        """
        self._renderer.render(self._black, [PersonMesh(0, vertices_cam)], camera=camera)
        rgba = self._renderer.last_rgba
        gain = self._gain if skin_srgb is None else np.asarray(skin_srgb) / np.asarray(track_color(0))
        body = np.clip(rgba[..., :3].astype(np.float32) * gain.astype(np.float32), 0, 255)
        return body, rgba[..., 3].astype(np.float32) / 255.0

    def close(self) -> None:
        """Release the GL context."""
        self._renderer.close()

    def __enter__(self) -> "BodyRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
