"""Cuts between time ranges where the two sides read one person apart (pipeline/roi_cuts.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vibe.body.anny import BLAZEPOSE33
from vibe.pipeline.label_swaps import torso_angles, torso_turns
from vibe.pipeline.roi_cuts import follow_on, from_time, mend_cuts, read_back, split_readings, with_readings
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
        (True, False, BOX, [(1, 5, True)]),  # the later range read the person upside down: the earlier is trusted
        (False, True, BOX, [(1, 5, False)]),  # the earlier is the upside-down one: the later is trusted
        (True, True, BOX, []),  # the two agree
        (True, False, BOX + 400.0, []),  # someone else
    ],
)
def test_split_readings(earlier_up, later_up, later_box, expected):
    earlier = _part(EARLIER_TIMES, [earlier_up] * 10)
    later = _part(LATER_TIMES, [later_up] * 13, track_id=5, box=later_box)
    assert split_readings(earlier, later, 1.0, stitch_iou=0.5, max_turn=120.0) == expected


def _merged(*parts: RangeTracks) -> RangeTracks:
    """Several one-track parts over the same frames as one part."""
    poses = {k: v for p in parts for k, v in p.poses.items()}
    return RangeTracks(parts[0].times_s, [t for p in parts for t in p.tracks], poses)


def test_split_readings_leaves_a_misread_second_track_beside_a_good_one():
    earlier = _part(EARLIER_TIMES, [True] * 10)
    good, misread = _part(LATER_TIMES, [True] * 13, track_id=5), _part(LATER_TIMES, [False] * 13, track_id=6)
    assert split_readings(earlier, _merged(good, misread), 1.0, 0.5, 120.0) == []
    # The upside-down earlier reading, read alike by a misread later track, is still mended from the good one.
    upside_down = _part(EARLIER_TIMES, [False] * 10)
    assert split_readings(upside_down, _merged(good, misread), 1.0, 0.5, 120.0) == [(1, 5, False)]


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

    def frames_from(k: int, t0: float, t1: float | None):
        assert k == 1 and t1 is None
        return ((s, None) for s in LATER_TIMES[LATER_TIMES >= t0 - 1e-9])

    config = RoiTrackingConfig(agree_s=0.2)
    parts, starts = mend_cuts([earlier, _Done()], [None, 1.0], frames_from, _no_reader, config, fps=10.0)
    assert starts == [None, pytest.approx(1.5)]
    tracks, landmarks, times = stitch_ranges(parts, starts, config.stitch_iou)
    np.testing.assert_allclose(times, np.arange(20) / 10)
    assert [t.track_id for t in tracks] == [1]
    np.testing.assert_allclose(torso_angles(landmarks[1].landmarks_img), 0.0, atol=1e-9)  # upright on every frame
    off = RoiTrackingConfig(max_turn=None)
    earlier_off = FollowedRange(_ScriptedFollower()).feed((t, None) for t in EARLIER_TIMES)
    assert mend_cuts([earlier_off, _Done()], [None, 1.0], frames_from, _no_reader, off, fps=10.0)[1] == [None, 1.0]


def _no_reader():
    raise AssertionError("nothing is read backwards here")


def _reader_from(upright_at: dict[int, bool]):
    """A landmark model reading frame k (the 'image' is the frame id) upright or not; None past the dict."""

    def read(image: int, box_xyxy: np.ndarray):
        if image not in upright_at:
            return None
        lm = _body(upright_at[image])
        return lm, np.zeros_like(lm)

    return read


def test_read_back_replaces_the_misread_frames_and_stops_where_the_range_agrees():
    own = {f: (0.0 if f < 4 else 180.0) for f in range(10)}  # the range's own reading turned upside down at frame 4
    frames = ((f, f) for f in range(9, -1, -1))
    out = read_back(_reader_from({f: True for f in range(10)}), frames, BOX, 0.0, own.get, 120.0, 2, 1.25)
    assert sorted(out) == [4, 5, 6, 7, 8, 9]  # frames 3 and 2 agreed: left as they were, and the read stopped
    np.testing.assert_allclose(torso_angles(np.stack([out[f][0] for f in out])), 0.0, atol=1e-9)
    # A fresh start that does not read like the trusted reading gives nothing; a lost person ends the read.
    assert read_back(_reader_from({9: False}), ((f, f) for f in (9, 8)), BOX, 0.0, own.get, 120.0, 2, 1.25) == {}
    lost = read_back(_reader_from({9: True, 8: True}), ((f, f) for f in (9, 8, 7)), BOX, 0.0, own.get, 120.0, 2, 1.25)
    assert sorted(lost) == [8, 9]


def test_with_readings_replaces_adds_and_removes_poses():
    part = _part(EARLIER_TIMES, [False] * 10)
    keep = part.poses[1][0] != 5
    part.poses[1] = tuple(a[keep] for a in part.poses[1])  # no pose at frame 5
    lm = _body(True)
    box = np.array([0.0, 0.0, 10.0, 10.0])
    new = with_readings(part, 1, {5: (lm, lm, box), 6: (lm, lm, box), 7: None})
    frames, landmarks_img, _ = new.poses[1]
    assert 7 not in frames and 5 in frames
    angles = dict(zip(frames.tolist(), torso_angles(landmarks_img)))
    assert angles[5] == angles[6] == 0.0 and abs(angles[4]) == 180.0
    track = new.tracks[0]
    np.testing.assert_allclose(track.bbox_xyxy[track.frame_ids == 6][0], box)
    np.testing.assert_allclose(track.bbox_xyxy[track.frame_ids == 4][0], BOX)


class _UpsideDownFollower(_ScriptedFollower):
    """A follower that read its person upside down on every frame."""

    def step(self, frame_id: int, image_rgb: np.ndarray) -> dict[int, PersonPose]:
        self.frames.append(frame_id)
        return {1: PersonPose(_body(False), np.zeros((33, 3)), BOX.copy())}


def test_mend_cuts_reads_the_earlier_range_backwards_from_the_upright_later_reading():
    earlier = FollowedRange(_UpsideDownFollower()).feed((t, None) for t in EARLIER_TIMES)
    later_part = _part(LATER_TIMES, [True] * 13, track_id=5)

    class _Done:
        follower = None

        @staticmethod
        def result() -> RangeTracks:
            return later_part

    def frames_between(k: int, t0: float, t1: float | None):
        assert k == 0 and t1 is not None  # the earlier range, a chunk at a time
        return ((t, int(round(t * 10))) for t in EARLIER_TIMES if t0 <= t < t1)

    def fresh_reader():
        return _reader_from({f: True for f in range(10)})

    config = RoiTrackingConfig(agree_s=0.2)
    parts, starts = mend_cuts([earlier, _Done()], [None, 1.0], frames_between, fresh_reader, config, fps=10.0)
    assert starts == [None, 1.0]  # the cut stays
    frames, landmarks_img, _ = parts[0].poses[1]
    np.testing.assert_array_equal(frames, np.arange(10))
    np.testing.assert_allclose(torso_angles(landmarks_img), 0.0, atol=1e-9)  # read upright on every frame now
    tracks, landmarks, _ = stitch_ranges(parts, starts, config.stitch_iou)
    assert [t.track_id for t in tracks] == [1]
    np.testing.assert_allclose(torso_angles(landmarks[1].landmarks_img), 0.0, atol=1e-9)


class _FreshStartFollower(_ScriptedFollower):
    """Reads its person upside down on the first ``upside_down`` frames it is fed, upright after."""

    def __init__(self, upside_down: int):
        super().__init__()
        self.upside_down = upside_down

    def step(self, frame_id: int, image_rgb: np.ndarray) -> dict[int, PersonPose]:
        self.frames.append(frame_id)
        return {1: PersonPose(_body(len(self.frames) > self.upside_down), np.zeros((33, 3)), BOX.copy())}


def test_mend_cuts_over_three_ranges_keeps_one_person_upright():
    # Ranges [0, 1), [1, 2), [2, 3) s at 10 fps with 0.3 s lead-ins; ranges 1 and 2 start upside down
    # (for 5 and 4 frames), so both cuts move: range 1 is first followed on into, then follows on itself.
    times = [np.arange(0, 10) / 10, np.arange(7, 20) / 10, np.arange(17, 30) / 10]
    ranges = [FollowedRange(f) for f in (_ScriptedFollower(), _FreshStartFollower(5), _FreshStartFollower(4))]
    for r, t in zip(ranges, times):
        r.feed((s, None) for s in t)

    def frames_between(k: int, t0: float, t1: float | None):
        return ((s, None) for s in times[k] if s >= t0 - 1e-9 and (t1 is None or s < t1))

    config = RoiTrackingConfig(agree_s=0.2)
    parts, starts = mend_cuts(ranges, [None, 1.0, 2.0], frames_between, _no_reader, config, fps=10.0)
    assert starts[1] > 1.0 and starts[2] > 2.0
    tracks, landmarks, out_times = stitch_ranges(parts, starts, config.stitch_iou)
    np.testing.assert_allclose(out_times, np.arange(30) / 10)
    assert [t.track_id for t in tracks] == [1]  # one person across both cuts
    np.testing.assert_allclose(torso_angles(landmarks[1].landmarks_img), 0.0, atol=1e-9)
