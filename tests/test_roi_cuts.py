"""Cuts between time ranges where the two sides read one person apart (pipeline/roi_cuts.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vibe.body.anny import BLAZEPOSE33
from vibe.pipeline.roi_cuts import follow_on, from_time, mend_cuts, split_readings, torso_angles, torso_turns
from vibe.pipeline.roi_stitch import FollowedRange, RangeTracks, stitch_ranges
from vibe.pipeline.roi_tracking import PersonPose, RoiTrackingConfig
from vibe.pipeline.tracker import Track

_SHOULDERS = [BLAZEPOSE33.index(n) for n in ("left_shoulder", "right_shoulder")]
_HIPS = [BLAZEPOSE33.index(n) for n in ("left_hip", "right_hip")]
BOX = np.array([50.0, 50.0, 250.0, 250.0])


def _body(upright: bool) -> np.ndarray:
    """``(33, 3)`` landmarks: shoulders above the hips (upright) or below them, visibility 1."""
    lm = np.zeros((33, 3))
    lm[:, :2], lm[:, 2] = (150.0, 150.0), 1.0
    top, bottom = (100.0, 200.0) if upright else (200.0, 100.0)
    lm[_SHOULDERS, 0], lm[_SHOULDERS, 1] = (130.0, 170.0), top
    lm[_HIPS, 0], lm[_HIPS, 1] = (135.0, 165.0), bottom
    return lm


def _part(times_s, upright, track_id: int = 1, box=BOX) -> RangeTracks:
    """One person read on every frame at ``times_s``, ``upright (n,)`` per frame."""
    n = len(times_s)
    frames = np.arange(n)
    track = Track(track_id, frames, np.tile(box, (n, 1)), np.ones(n), np.zeros((n, 4, 2)))
    lm = np.stack([_body(u) for u in upright])
    return RangeTracks(np.asarray(times_s, float), [track], {track_id: (frames, lm, np.zeros_like(lm))})


def test_torso_angles_and_turns():
    angles = torso_angles(np.stack([_body(True), _body(False)]))
    np.testing.assert_allclose(angles, [0.0, 180.0], atol=1e-9)
    np.testing.assert_allclose(torso_turns([10.0, 170.0, -170.0], [-10.0, -170.0, 170.0]), [20.0, 20.0, 20.0])


EARLIER_TIMES = np.arange(10) / 10  # 0.0 .. 0.9; the cut at 1.0, 0.3 s of lead-in
LATER_TIMES = np.arange(7, 20) / 10  # 0.7 .. 1.9


@pytest.mark.parametrize(
    ("earlier_up", "later_up", "later_box", "expected"),
    [
        (True, False, BOX, [(1, 5)]),  # the later range read the person upside down: the earlier is trusted
        (False, True, BOX, []),  # the earlier is the upside-down one: nothing to follow on with
        (True, True, BOX, []),  # the two agree
        (True, False, BOX + 400.0, []),  # someone else
    ],
)
def test_split_readings(earlier_up, later_up, later_box, expected):
    earlier = _part(EARLIER_TIMES, [earlier_up] * 10)
    later = _part(LATER_TIMES, [later_up] * 13, track_id=5, box=later_box)
    assert split_readings(earlier, later, 1.0, stitch_iou=0.5, max_turn=120.0) == expected


class _ScriptedFollower:
    """A follower whose person reads upright on every frame (what a range that followed them through would do)."""

    def __init__(self):
        self.detector_frames, self.frames = 0, []
        self.tracker = self

    def step(self, frame_id: int, image_rgb: np.ndarray) -> dict[int, PersonPose]:
        self.frames.append(frame_id)
        return {1: PersonPose(_body(True), np.zeros((33, 3)), BOX.copy())}

    def tracks(self) -> list[Track]:
        n = len(self.frames)
        return [Track(1, np.asarray(self.frames), np.tile(BOX, (n, 1)), np.ones(n), np.zeros((n, 4, 2)))]


def _later_reading_upside_down_until(t_right: float) -> RangeTracks:
    return _part(LATER_TIMES, [t >= t_right - 1e-9 for t in LATER_TIMES], track_id=5)


def test_follow_on_stops_once_the_readings_agree():
    earlier = FollowedRange(_ScriptedFollower()).feed((t, None) for t in EARLIER_TIMES)
    later = _later_reading_upside_down_until(1.3)
    frames = ((t, None) for t in LATER_TIMES[LATER_TIMES >= 1.0])
    cut = follow_on(earlier, later, [(1, 5)], frames, max_turn=120.0, agree_frames=2)
    assert cut == pytest.approx(1.5)  # agreed on 1.3 and 1.4: the later range's own from 1.5
    np.testing.assert_allclose(earlier.times, np.arange(15) / 10)
    never = _later_reading_upside_down_until(9.0)
    again = FollowedRange(_ScriptedFollower())
    assert follow_on(again, never, [(1, 5)], ((t, None) for t in LATER_TIMES), 120.0, 2) > LATER_TIMES[-1]
    assert follow_on(again, never, [(1, 5)], iter(()), 120.0, 2) is None


def test_from_time_renumbers_and_drops():
    part = _part(LATER_TIMES, [True] * 13, track_id=5)
    cut = from_time(part, 1.5)
    np.testing.assert_allclose(cut.times_s, LATER_TIMES[8:])
    np.testing.assert_array_equal(cut.tracks[0].frame_ids, np.arange(5))
    np.testing.assert_array_equal(cut.poses[5][0], np.arange(5))
    assert from_time(part, 9.0).tracks == []


def test_mend_cuts_moves_the_cut_and_the_stitch_keeps_one_person_upright():
    earlier = FollowedRange(_ScriptedFollower()).feed((t, None) for t in EARLIER_TIMES)
    later_part = _later_reading_upside_down_until(1.3)

    class _Done:  # the later range's follower: only its result is read
        follower = None

        @staticmethod
        def result() -> RangeTracks:
            return later_part

    def frames_from(k: int, t: float):
        return ((s, None) for s in LATER_TIMES[LATER_TIMES >= t - 1e-9])

    config = RoiTrackingConfig(agree_s=0.2)
    parts, starts = mend_cuts([earlier, _Done()], [None, 1.0], frames_from, config, fps=10.0)
    assert starts == [None, pytest.approx(1.5)]
    tracks, landmarks, times = stitch_ranges(parts, starts, config.stitch_iou)
    np.testing.assert_allclose(times, np.arange(20) / 10)
    assert [t.track_id for t in tracks] == [1]
    np.testing.assert_allclose(torso_angles(landmarks[1].landmarks_img), 0.0, atol=1e-9)  # upright on every frame
    off = RoiTrackingConfig(max_turn=None)
    earlier_off = FollowedRange(_ScriptedFollower()).feed((t, None) for t in EARLIER_TIMES)
    assert mend_cuts([earlier_off, _Done()], [None, 1.0], frames_from, off, fps=10.0)[1] == [None, 1.0]
