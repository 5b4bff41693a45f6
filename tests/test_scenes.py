"""Synthetic-benchmark scenes: the key light's direction (renderer option) and its random draw.

The shading reference is Lambert's law computed by hand for a flat square
facing the camera: sRGB = (base_linear · (ambient + I · (0.8 · max(n·l, 0) +
0.25 · n·l_top)))^(1/2.2), with the square's normal ``n`` towards the camera
and the fixed top light ``l_top`` at 45° above the optical axis.
"""

from __future__ import annotations

import numpy as np
import pytest

from vibe.evaluation.scenes import SceneConfig, sample_style
from vibe.render.backend import RenderUnavailableError
from vibe.render.overlay import OverlayConfig, OverlayRenderer, PersonMesh, PinholeCamera, track_color

pytestmark = pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")

W, H = 64, 48
# A 1 m square 2 m in front of the camera (OpenCV axes), wound so that its normal faces the camera.
SQUARE = np.array([[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [0.5, 0.5, 2.0], [-0.5, 0.5, 2.0]])
SQUARE_FACES = np.array([[0, 2, 1], [0, 3, 2]])
TOWARDS_CAMERA = np.array([0.0, 0.0, -1.0])  # OpenCV: -z points back at the camera
TOP_COS = np.sqrt(0.5)  # the fixed light from above, 45° over the optical axis


def _centre_colour(config: OverlayConfig) -> np.ndarray:
    """Mean sRGB (0–255) of the square's central pixels."""
    try:
        renderer = OverlayRenderer(W, H, SQUARE_FACES, len(SQUARE), config)
    except RenderUnavailableError as exc:
        pytest.skip(f"no offscreen OpenGL: {exc}")
    with renderer:
        image = renderer.render(
            np.zeros((H, W, 3), np.uint8), [PersonMesh(0, SQUARE)], camera=PinholeCamera(40.0, 40.0, W / 2, H / 2)
        )
    return image[H // 2 - 3 : H // 2 + 3, W // 2 - 3 : W // 2 + 3].reshape(-1, 3).astype(np.float64).mean(0)


def _lambert_srgb(key_cos: float, ambient: float, intensity: float) -> np.ndarray:
    base_linear = np.asarray(track_color(0)) ** 2.2
    linear = base_linear * (ambient + intensity * (0.8 * max(key_cos, 0.0) + 0.25 * TOP_COS))
    return 255.0 * np.clip(linear, 0.0, 1.0) ** (1 / 2.2)


@pytest.mark.parametrize(
    "direction",
    [
        (0.0, 0.0, -1.0),  # from the camera: full key light
        (1.0, 0.0, 0.0),  # grazing from the right: none
        (0.0, -1.0, -1.0),  # from above the camera, 45°
        (-0.3, 0.2, -0.5),  # any direction, not normalised by the caller
        (0.0, 0.0, 1.0),  # from behind the square: none
    ],
)
def test_key_light_direction_follows_lambert(direction):
    ambient, intensity = 0.1, 0.9
    got = _centre_colour(OverlayConfig(ambient=ambient, light_intensity=intensity, key_light_dir=direction))
    unit = np.asarray(direction) / np.linalg.norm(direction)
    expected = _lambert_srgb(float(unit @ TOWARDS_CAMERA), ambient, intensity)
    np.testing.assert_allclose(got, expected, atol=2.0)


def test_default_key_light_is_the_documented_upper_left():
    default = _centre_colour(OverlayConfig())
    explicit = _centre_colour(OverlayConfig(key_light_dir=(-0.2873, -0.3830, -0.8779)))
    np.testing.assert_allclose(default, explicit, atol=0.5)
    np.testing.assert_allclose(default, _lambert_srgb(0.8779, 0.12, 1.0), atol=2.0)


def test_zero_light_direction_is_refused():
    with pytest.raises(ValueError, match="key_light_dir"):
        _centre_colour(OverlayConfig(key_light_dir=(0.0, 0.0, 0.0)))


def test_sampled_key_light_lies_in_the_configured_cone():
    config = SceneConfig()
    rng = np.random.default_rng(5)
    directions = np.array([sample_style(rng, 32, 18, config).key_light_dir for _ in range(300)])
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-9)
    # Angle from the direction back to the camera (OpenCV -z) within the cone, and the cone is used.
    angles = np.degrees(np.arccos(np.clip(directions @ TOWARDS_CAMERA, -1.0, 1.0)))
    assert angles.max() <= config.key_light_cone_deg + 1e-6
    assert angles.max() > 0.8 * config.key_light_cone_deg
    # Lit from the left and from the right, from above and from below, about as often.
    assert 0.35 < (directions[:, 0] < 0).mean() < 0.65
    assert 0.35 < (directions[:, 1] < 0).mean() < 0.65
