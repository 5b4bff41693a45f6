"""Which candidate tracks are people: the body must be seen, not only detected.

The person detector (BlazePose's, face-driven) fires on faces, hands and
face-like objects, and MediaPipe's landmark model then fits a full body to
whatever it is given, so neither a detection nor a landmark set proves a body.
What does is MediaPipe's per-landmark *visibility* (the model's estimate that
the landmark is in view and not occluded): on a real person the shoulders and
hips score high, on a hand, a bottle or an empty crop they score low.

Rule (one decision per track, :func:`judge_tracks`): a frame *shows a body*
when MediaPipe found a pose there and at least ``min_torso_landmarks`` of the
four torso landmarks (both shoulders, both hips) have visibility
≥ ``min_visibility``. A track is a person when at least
``min_body_fraction`` of its frames, and at least ``min_body_frames`` of
them, show a body. Rejected tracks are dropped before the generator: they
are never written, exported or drawn; the run logs how many there were and,
per track, the counts that decided.

MediaPipe's legacy pose solution leaves the landmarks' separate ``presence``
field empty, so visibility is the one per-landmark confidence there is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["TORSO_LANDMARKS", "BodyPresenceConfig", "body_frames", "judge_tracks"]

log = logging.getLogger(__name__)

# BlazePose indices: left/right shoulder, left/right hip.
TORSO_LANDMARKS = (11, 12, 23, 24)


@dataclass(frozen=True)
class BodyPresenceConfig:
    """Thresholds of the person rule (module docstring).

    Attributes:
        enabled: apply the rule (False: every track is a person, as before).
        min_visibility: a landmark is seen when its visibility is at least this.
        min_torso_landmarks: torso landmarks (of 4) that must be seen in a frame.
        min_body_fraction: fraction of the track's frames that must show a body.
        min_body_frames: frames that must show a body (at least 1).
    """

    enabled: bool = True
    min_visibility: float = 0.5
    min_torso_landmarks: int = 3
    min_body_fraction: float = 0.5
    min_body_frames: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_visibility <= 1.0:
            raise ValueError(f"min_visibility must be in [0, 1], got {self.min_visibility}")
        if not 1 <= self.min_torso_landmarks <= len(TORSO_LANDMARKS):
            raise ValueError(f"min_torso_landmarks must be in [1, 4], got {self.min_torso_landmarks}")
        if not 0.0 <= self.min_body_fraction <= 1.0:
            raise ValueError(f"min_body_fraction must be in [0, 1], got {self.min_body_fraction}")
        if self.min_body_frames < 1:
            raise ValueError(f"min_body_frames must be at least 1, got {self.min_body_frames}")


def body_frames(landmarks_img: np.ndarray, found: np.ndarray, config: BodyPresenceConfig) -> np.ndarray:
    """Which frames of a track show a body.

    Args:
        landmarks_img: ``(n, 33, 3)`` BlazePose landmarks (x, y pixels, visibility).
        found: ``(n,)`` bool, whether MediaPipe found a pose in the frame.

    Returns:
        ``(n,)`` bool.
    """
    visibility = np.nan_to_num(np.asarray(landmarks_img)[:, TORSO_LANDMARKS, 2], nan=0.0)
    seen = (visibility >= config.min_visibility).sum(axis=1)
    return np.asarray(found, dtype=bool) & (seen >= config.min_torso_landmarks)


def judge_tracks(
    tracks: Mapping[int, tuple[np.ndarray, np.ndarray]], config: BodyPresenceConfig
) -> tuple[list[int], dict[int, str]]:
    """Split candidate tracks into people and rejects.

    Args:
        tracks: track id → ``(landmarks_img (n, 33, 3), found (n,))``.
        config: the rule's thresholds.

    Returns:
        ``(people, rejected)``: the ids kept, sorted, and id → one-line reason
        for each rejected track.
    """
    if not config.enabled:
        return sorted(tracks), {}
    people, rejected = [], {}
    for tid in sorted(tracks):
        landmarks_img, found = tracks[tid]
        shown = body_frames(landmarks_img, found, config)
        n, k = int(shown.size), int(shown.sum())
        if k >= config.min_body_frames and k >= config.min_body_fraction * n:
            people.append(tid)
        else:
            rejected[tid] = (
                f"body seen in {k} of {n} frames (needs {config.min_body_fraction:.0%} and "
                f"{config.min_body_frames}; pose found in {int(np.sum(found))})"
            )
    if rejected:
        log.info(
            "%d of %d candidate tracks are not people (torso landmarks not seen): %s",
            len(rejected), len(tracks), "; ".join(f"track {t}: {why}" for t, why in rejected.items()),
        )
    return people, rejected
