"""Synthetic-benchmark scenes: the key light's direction (renderer option) and its random draw.

Lambert's law, checked without the shader's own coefficients: a flat square
facing the camera is lit, in linear RGB, as base · (a + b · max(cos θ, 0)),
θ the angle between its normal and the key light, with a (ambient plus the
fixed light from above) and b (the key light's weight) measured from two
renders (key light on the optical axis, and at 90° to it); every other
direction must then follow from its cosine alone. Ambient and intensity are
the configuration's own inputs: with no light the square is base · ambient,
and the lights' part scales with the intensity.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vibe.evaluation.scenes import SceneConfig, sample_style
from vibe.render.backend import RenderUnavailableError
from vibe.render.overlay import OverlayConfig, OverlayRenderer, PersonMesh, PinholeCamera, track_color

pytestmark = pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")

W, H = 64, 48
# A 1 m square 2 m in front of the camera (OpenCV axes), wound so that its normal faces the camera.
SQUARE = np.array([[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [0.5, 0.5, 2.0], [-0.5, 0.5, 2.0]])
SQUARE_FACES = np.array([[0, 2, 1], [0, 3, 2]])
TOWARDS_CAMERA = np.array([0.0, 0.0, -1.0])  # OpenCV: -z points back at the camera
BASE_LINEAR = np.asarray(track_color(0)) ** 2.2  # the mesh colour, linearised (sRGB gamma 2.2)


def _centre_colour(config: OverlayConfig, normal: np.ndarray = TOWARDS_CAMERA) -> np.ndarray:
    """Mean sRGB (0–255) of the central pixels of the square, turned so that its normal is ``normal``."""
    turn, _ = Rotation.align_vectors([normal], [TOWARDS_CAMERA])
    centre = SQUARE.mean(0)
    square = (SQUARE - centre) @ turn.as_matrix().T + centre
    try:
        renderer = OverlayRenderer(W, H, SQUARE_FACES, len(SQUARE), config)
    except RenderUnavailableError as exc:
        pytest.skip(f"no offscreen OpenGL: {exc}")
    with renderer:
        image = renderer.render(
            np.zeros((H, W, 3), np.uint8), [PersonMesh(0, square)], camera=PinholeCamera(40.0, 40.0, W / 2, H / 2)
        )
    return image[H // 2 - 3 : H // 2 + 3, W // 2 - 3 : W // 2 + 3].reshape(-1, 3).astype(np.float64).mean(0)


def _light_level(srgb: np.ndarray) -> float:
    """The scalar light level of a rendered colour: linear RGB over the base colour (bright channels)."""
    bright = BASE_LINEAR > 0.05
    return float(np.mean((srgb[bright] / 255.0) ** 2.2 / BASE_LINEAR[bright]))


def _srgb(level: float) -> np.ndarray:
    return 255.0 * np.clip(BASE_LINEAR * level, 0.0, 1.0) ** (1 / 2.2)


def _key_at(theta_deg: float) -> tuple[float, float, float]:
    """A key light θ from the optical axis, in the horizontal plane (the top light's share stays fixed)."""
    t = np.radians(theta_deg)
    return (float(np.sin(t)), 0.0, float(-np.cos(t)))


def _lambert_terms(ambient: float, intensity: float) -> tuple[float, float]:
    """a and b of base · (a + b · max(cos θ, 0)), measured from renders at θ = 90° and θ = 0."""
    config = lambda key: OverlayConfig(ambient=ambient, light_intensity=intensity, key_light_dir=key)  # noqa: E731
    a = _light_level(_centre_colour(config(_key_at(90.0))))
    return a, _light_level(_centre_colour(config(_key_at(0.0)))) - a


@pytest.mark.parametrize(
    "direction",
    [
        _key_at(60.0),  # cos 0.5
        (0.0, -1.0, -1.0),  # from above the camera, 45°
        (-0.3, 0.2, -0.5),  # any direction, not normalised by the caller
        _key_at(120.0),  # behind the square's plane: no key light
        (0.0, 0.0, 1.0),  # from behind the square: none
    ],
)
def test_key_light_direction_follows_lambert(direction):
    ambient, intensity = 0.1, 0.9
    a, b = _lambert_terms(ambient, intensity)
    assert b > 0.3 and a > ambient  # a key light, and a second light besides the ambient one
    got = _centre_colour(OverlayConfig(ambient=ambient, light_intensity=intensity, key_light_dir=direction))
    cos = float(np.asarray(direction) @ TOWARDS_CAMERA / np.linalg.norm(direction))
    np.testing.assert_allclose(got, _srgb(a + b * max(cos, 0.0)), atol=2.0)


def test_ambient_alone_is_the_base_colour_times_ambient():
    got = _centre_colour(OverlayConfig(ambient=0.3, light_intensity=0.0))
    np.testing.assert_allclose(got, _srgb(0.3), atol=1.5)


def test_the_lights_scale_with_their_intensity():
    a1, b1 = _lambert_terms(0.1, 0.8)
    a2, b2 = _lambert_terms(0.1, 0.4)
    assert b2 == pytest.approx(b1 / 2, rel=0.03)
    assert a2 - 0.1 == pytest.approx((a1 - 0.1) / 2, rel=0.05)  # the light from above is one of "the lights"


def test_default_key_light_comes_from_the_upper_left_behind_the_camera():
    default = OverlayConfig(ambient=0.1)
    level = lambda normal: _light_level(_centre_colour(default, np.asarray(normal, float)))  # noqa: E731
    facing = level(TOWARDS_CAMERA)
    unlit_key = _light_level(_centre_colour(OverlayConfig(ambient=0.1, key_light_dir=(0.0, 0.0, 1.0))))
    assert facing > unlit_key + 0.2  # behind the camera: it lights what faces the camera
    # Faces turned 30° towards the left (−x) catch more of it than faces turned right, up more than down.
    s = np.tan(np.radians(30))
    assert level([-s, 0.0, -1.0]) > level([s, 0.0, -1.0]) + 0.05
    assert level([-s, -s, -1.0]) > level([-s, s, -1.0]) + 0.05


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
