"""A start read upside down is read again on the crop turned over (``PoseEstimator``, ``LandmarkConfig.turn_check``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from vibe.pipeline.landmarks import BLAZEPOSE_LANDMARK_NAMES, LandmarkConfig, PoseEstimator, crop_view, torso_angles
from vibe.pipeline.detector import crop_square
from vibe.pipeline.video import VideoReader

ASSETS = Path(__file__).resolve().parents[1] / "assets"
_UPPER = [BLAZEPOSE_LANDMARK_NAMES.index(n) for n in ("left_shoulder", "right_shoulder")]


@pytest.fixture(scope="module")
def frame_40():
    for i, _, image in VideoReader(ASSETS / "pose_1.mp4"):
        if i == 40:
            return image
    raise AssertionError("pose_1.mp4 has fewer than 41 frames")


def test_torso_angles_up_side_and_down():
    lm = np.zeros((3, 33, 3))
    lm[:, 23:25, :2] = (0.0, 10.0)  # hips
    lm[:, _UPPER, :2] = np.array([(0.0, 0.0), (10.0, 10.0), (0.0, 20.0)])[:, None]  # shoulders above, right, below
    np.testing.assert_allclose(torso_angles(lm), [0.0, 90.0, 180.0], atol=1e-9)


def test_turned_crop_reads_back_into_the_image(frame_40):
    """The same person read on the crop and on the crop turned over: the same landmarks once mapped back."""
    view = crop_view(np.array([288.0, 288.0, 480.0]), 1.2)
    crop = crop_square(frame_40, view, 256)
    readings = []
    for turned in (False, True):
        with PoseEstimator(LandmarkConfig()) as est:
            est._turned = turned
            readings.append(est._read(crop, view))
    (img_a, world_a), (img_b, world_b) = readings
    assert np.abs(torso_angles(img_a[None])[0]) < 30.0
    assert np.median(np.linalg.norm(img_a[:, :2] - img_b[:, :2], axis=1)) < 4.0
    assert np.median(np.linalg.norm(world_a - world_b, axis=1)) < 0.04
    # Without the world's turn back they would be far apart (the check can fail).
    assert np.median(np.linalg.norm(world_a - world_b * [-1.0, -1.0, 1.0], axis=1)) > 0.2


class _FakePose:
    """MediaPipe ``Pose`` stand-in: a body whose shoulders lie below its hips in the crop given (as an upside-down
    start reads), or, with ``flips``, above them in a turned crop (a person truly upside down reads so both ways);
    with ``shrinks``, the turned crop's body is a quarter as tall (a reading squeezed onto part of the person)."""

    def __init__(self, flips: bool, shrinks: bool = False):
        self.flips, self.shrinks, self.calls = flips, shrinks, []

    def process(self, crop: np.ndarray) -> SimpleNamespace:
        if not crop.any():  # the blank crop of forget(): nobody
            return SimpleNamespace(pose_landmarks=None, pose_world_landmarks=None)
        turned = bool(crop[-1, 0, 0] > crop[0, 0, 0])  # the test's crops are bright at the top
        self.calls.append(turned)
        shoulders_y = 0.3 if (turned and self.flips) else 0.55 if (turned and self.shrinks) else 0.7
        points = [SimpleNamespace(x=0.5, y=0.5, z=0.0, visibility=0.9) for _ in range(33)]
        for i in _UPPER:
            points[i] = SimpleNamespace(x=0.5, y=shoulders_y, z=0.0, visibility=0.9)
        landmarks = SimpleNamespace(landmark=points)
        return SimpleNamespace(pose_landmarks=landmarks, pose_world_landmarks=landmarks)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def _with_fake(flips: bool, turn_check: float | None = 120.0, shrinks: bool = False) -> tuple[PoseEstimator, _FakePose]:
    est = PoseEstimator(LandmarkConfig(turn_check=turn_check))
    est._pose.close()
    fake = est._pose = _FakePose(flips, shrinks)
    return est, fake


def _bright_top_image() -> np.ndarray:
    image = np.zeros((200, 200, 3), np.uint8)
    image[:100] = 200
    image[100:] = 50
    return image


@pytest.mark.parametrize("turn_check", [120.0, None])
def test_misread_start_takes_the_turned_reading(turn_check):
    est, fake = _with_fake(flips=False, turn_check=turn_check)
    box = np.array([100.0, 100.0, 150.0])
    landmarks_img, world = est.estimate(_bright_top_image(), box)
    angle = torso_angles(landmarks_img[None])[0]
    if turn_check is None:  # the check off: the upside-down reading as MediaPipe gave it
        assert abs(angle) > 170.0 and not est.turned and fake.calls == [False]
        return
    assert abs(angle) < 10.0 and est.turned and fake.calls == [False, True]
    assert world[_UPPER[0], 1] == pytest.approx(-0.7)  # the world turned back about its depth axis
    est.estimate(_bright_top_image(), box)  # following: turned crops, no second reading
    assert fake.calls == [False, True, True]
    est.forget()
    assert not est.turned


def test_truly_upside_down_start_keeps_its_reading():
    est, fake = _with_fake(flips=True)
    landmarks_img, _ = est.estimate(_bright_top_image(), np.array([100.0, 100.0, 150.0]))
    assert abs(torso_angles(landmarks_img[None])[0]) > 170.0
    assert not est.turned and fake.calls == [False, True, False]  # read again as it was, and followed so


def test_a_turned_reading_that_shrinks_the_body_is_not_taken():
    est, fake = _with_fake(flips=False, shrinks=True)
    landmarks_img, _ = est.estimate(_bright_top_image(), np.array([100.0, 100.0, 150.0]))
    assert abs(torso_angles(landmarks_img[None])[0]) > 170.0
    assert not est.turned and fake.calls == [False, True, False]
