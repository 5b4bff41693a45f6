"""Small rules of the demo, on hand-made inputs: who is a person, repaired timestamps, option values, exit codes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vibe.cli import app
from vibe.pipeline.demo_config import (
    EXIT_INTERRUPTED,
    EXIT_MISSING_ASSETS,
    EXIT_NO_WEIGHTS,
    EXIT_OUTPUT_NOT_WRITABLE,
    EXIT_USAGE,
    EXIT_VIDEO_UNREADABLE,
    DemoConfig,
)
from vibe.pipeline.frame_times import frame_timing, monotonic_frame_times
from vibe.pipeline.person_filter import BodyPresenceConfig, body_span, jitter_limit, judge_tracks, landmark_jitter

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- who is a person
def _standing_body(num_frames: int, visibility: float = 0.95, step_px: float = 2.0) -> np.ndarray:
    """``(n, 33, 3)`` landmarks of a body 200 px tall walking right at ``step_px`` per frame (torso 60 px)."""
    template = np.zeros((33, 2))
    template[[11, 12]] = [[-20, -60], [20, -60]]  # shoulders, hips at the origin: torso length 60
    template[[13, 14]] = [[-30, -30], [30, -30]]
    template[[23, 24]] = [[-12, 0], [12, 0]]
    template[[25, 26]] = [[-14, 50], [14, 50]]
    xy = template[None] + np.stack([np.arange(num_frames) * step_px + 100, np.full(num_frames, 200)], axis=1)[:, None]
    return np.concatenate([xy, np.full((num_frames, 33, 1), visibility)], axis=2)


def test_a_smooth_visible_body_is_a_person():
    lm = _standing_body(30)
    assert judge_tracks({1: (lm, np.ones(30, bool))}, BodyPresenceConfig()) == ([1], {})


def test_a_body_whose_torso_is_not_seen_is_rejected():
    lm = _standing_body(30)
    lm[:20, [11, 12, 23, 24], 2] = 0.2  # torso invisible in 20 of 30 frames: seen in 33 % < 50 %
    kept, rejected = judge_tracks({1: (lm, np.ones(30, bool))}, BodyPresenceConfig())
    assert kept == [] and "body seen in 10 of 30 frames" in rejected[1]
    # Two of four torso landmarks seen is enough when the rule asks for two.
    lm[:20, [11, 12], 2] = 0.9
    assert judge_tracks({1: (lm, np.ones(30, bool))}, BodyPresenceConfig(min_torso_landmarks=2))[0] == [1]


def test_frames_without_a_pose_do_not_count_as_seen():
    lm = _standing_body(10)
    found = np.zeros(10, bool)
    found[:4] = True
    kept, rejected = judge_tracks({1: (lm, found)}, BodyPresenceConfig())
    assert kept == [] and "pose found in 4" in rejected[1]


def test_a_track_spans_its_first_to_last_frame_showing_a_body():
    lm = _standing_body(30)
    found = np.ones(30, bool)
    found[:6] = False  # the tracker's box before the person was seen
    lm[26:, [11, 12, 23, 24], 2] = 0.1  # and after: no torso
    lm[12, [11, 12, 23, 24], 2] = 0.1  # a frame inside stays
    frame_ids = np.arange(100, 130)
    assert body_span(frame_ids, lm, found, BodyPresenceConfig()) == (106, 125)
    assert body_span(frame_ids, lm, np.zeros(30, bool), BodyPresenceConfig()) is None


def test_jumping_landmarks_are_rejected_and_the_jitter_is_the_second_difference():
    rng = np.random.default_rng(0)
    lm = _standing_body(30)
    assert landmark_jitter(lm, np.ones(30, bool)) == pytest.approx(0.0, abs=1e-12)  # constant velocity
    lm[:, :, :2] += rng.normal(0, 12.0, (30, 33, 2))  # ~0.2 torso lengths of noise per frame
    kept, rejected = judge_tracks({1: (lm, np.ones(30, bool))}, BodyPresenceConfig())
    assert kept == [] and "incoherent" in rejected[1]
    # Written out for one frame: mean over the 8 joints of |x[t+1] - 2 x[t] + x[t-1]| / torso length.
    joints = [11, 12, 13, 14, 23, 24, 25, 26]
    second = np.linalg.norm(lm[2:, joints, :2] - 2 * lm[1:-1, joints, :2] + lm[:-2, joints, :2], axis=2).mean(1)
    torso = np.linalg.norm(lm[1:-1, [11, 12], :2].mean(1) - lm[1:-1, [23, 24], :2].mean(1), axis=1)
    assert landmark_jitter(lm, np.ones(30, bool)) == pytest.approx(np.median(second / torso))


def test_a_body_whose_landmarks_jump_in_bursts_is_kept_and_one_that_jumps_throughout_is_not():
    rng = np.random.default_rng(1)
    bursty = _standing_body(60)
    bursty[10:45, :, :2] += rng.normal(0, 12.0, (35, 33, 2))  # a small person's landmarks lost for 35 frames
    found = np.ones(60, bool)
    # The noise touches most second differences (median ~0.2 torso lengths) but not the calm quarter.
    assert landmark_jitter(bursty, found) > 0.1
    assert landmark_jitter(bursty, found, quantile=0.25) < 0.08
    median_rule = BodyPresenceConfig(max_jitter=0.1, jitter_quantile=0.5)
    assert judge_tracks({1: (bursty, found)}, median_rule)[0] == []
    assert judge_tracks({1: (bursty, found)}, BodyPresenceConfig())[0] == [1]  # lower quartile ≤ 0.08
    phantom = _standing_body(60)
    phantom[:, :, :2] += rng.normal(0, 6.0, (60, 33, 2))  # jumping on every frame, half as much
    kept, rejected = judge_tracks({2: (phantom, found)}, BodyPresenceConfig())
    assert kept == [] and "incoherent" in rejected[2]


def test_the_jitter_quantile_is_checked():
    with pytest.raises(ValueError, match="jitter_quantile"):
        BodyPresenceConfig(jitter_quantile=1.5)


def test_the_jitter_limit_grows_below_ten_fps():
    lm = _standing_body(30)
    lm[1::2, :, 0] += 6.0  # a zig-zag of 0.1 torso lengths: second differences of 0.2
    config = BodyPresenceConfig(max_jitter=0.1)
    assert judge_tracks({1: (lm, np.ones(30, bool))}, config, fps=25.0)[0] == []
    assert judge_tracks({1: (lm, np.ones(30, bool))}, config, fps=5.0)[0] == [1]  # limit 0.1 x (10/5)^2 = 0.4


def test_the_jitter_limit_allows_a_pixel_of_noise_so_a_small_person_with_the_same_jitter_is_kept():
    found = np.ones(30, bool)
    small, large = _standing_body(30), _standing_body(30)
    small[:, :, :2] = (small[:, :, :2] - [100, 200]) / 5 + [100, 200]  # torso 12 px: a person ~40 px tall
    small[1::2, :, 0] += 0.6  # a zig-zag whose second differences are 1.2 px = 0.1 torso lengths
    large[1::2, :, 0] += 3.0  # the same 0.1 torso lengths on a 60 px torso: 6 px
    assert landmark_jitter(small, found, 0.25) == pytest.approx(0.1) == landmark_jitter(large, found, 0.25)
    config = BodyPresenceConfig()  # max_jitter 0.08, jitter_noise_px 1
    assert jitter_limit(config, small, found, 30.0) == pytest.approx(0.08 + 1 / 12)
    assert jitter_limit(config, large, found, 30.0) == pytest.approx(0.08 + 1 / 60)
    assert judge_tracks({1: (small, found), 2: (large, found)}, config)[0] == [1]
    assert judge_tracks({1: (small, found)}, BodyPresenceConfig(jitter_noise_px=0.0))[0] == []
    assert jitter_limit(BodyPresenceConfig(max_jitter=None), small, found, 30.0) is None
    holed = large.copy()
    holed[3, 11, :2] = np.nan  # a shoulder missing on one frame with a pose: the limit stays a number
    assert jitter_limit(config, holed, found, 30.0) == pytest.approx(0.08 + 1 / 60)


def test_tracks_too_short_for_the_jitter_must_show_a_body_in_every_frame():
    found = np.array([True, False, True, True])  # no three consecutive frames with a pose: jitter unmeasurable
    kept, rejected = judge_tracks({3: (_standing_body(4), found)}, BodyPresenceConfig())
    assert kept == [] and "needs 100%" in rejected[3]  # 3 of 4 seen would pass the 50 % of longer tracks
    assert judge_tracks({3: (_standing_body(4), found)}, BodyPresenceConfig(unmeasured_body_fraction=0.5))[0] == [3]


def test_a_track_with_another_tracks_landmarks_is_a_duplicate():
    from vibe.pipeline.person_filter import duplicate_tracks

    body = _standing_body(30)
    ghost = body[10:20].copy()
    ghost[:, :, :2] += 3.0  # 3 px off on a 60 px torso: 0.05 torso lengths, the same body
    neighbour = _standing_body(30)
    neighbour[:, :, 0] += 180.0  # someone 3 torso lengths to the side, all the time
    glimpse = body[:10].copy()  # the same body, but seen with a pose on 1 of its 10 frames only
    glimpse_found = np.zeros(10, bool)
    glimpse_found[0] = True
    tracks = {
        1: (np.arange(30), body, np.ones(30, bool)),
        2: (np.arange(10, 20), ghost, np.ones(10, bool)),
        3: (np.arange(30), neighbour, np.ones(30, bool)),
        4: (np.arange(40, 50), glimpse, glimpse_found),  # frames 40-49: shares none with the others
    }
    duplicates = duplicate_tracks(tracks, BodyPresenceConfig())
    assert set(duplicates) == {2} and "duplicate of track 1" in duplicates[2]
    no_box = BodyPresenceConfig(box_min_shared=None)
    assert duplicate_tracks(tracks, BodyPresenceConfig(duplicate_max_distance=None, box_min_shared=None)) == {}
    assert duplicate_tracks(tracks, BodyPresenceConfig(duplicate_max_distance=0.01, box_min_shared=None)) == {}
    assert duplicate_tracks(tracks, no_box) == duplicates
    # The ghost's box is the body's: the box rule finds it without the landmark distance.
    assert "IoU" in duplicate_tracks(tracks, BodyPresenceConfig(duplicate_max_distance=None))[2]


def test_a_track_on_the_same_box_with_mirrored_landmarks_is_a_duplicate_while_it_stays_within_the_other():
    from vibe.pipeline.person_filter import duplicate_tracks, landmark_distance

    body = _standing_body(60)
    mirrored = body.copy()
    centre = body[:, [11, 12, 23, 24], :1].mean(axis=1, keepdims=True)
    mirrored[:, :, 0] = 2 * centre[:, :, 0] - body[:, :, 0]  # the same person read facing the other way
    mirrored[:, [13, 14, 25, 26], 1] += 25.0  # with its limbs elsewhere: far in landmarks, same box
    assert np.median(landmark_distance(body, mirrored)) > 0.25
    tracks = {1: (np.arange(60), body, np.ones(60, bool)), 2: (np.arange(10, 50), mirrored[10:50], np.ones(40, bool))}
    duplicates = duplicate_tracks(tracks, BodyPresenceConfig())
    assert set(duplicates) == {2} and "that person again" in duplicates[2]
    assert duplicate_tracks(tracks, BodyPresenceConfig(box_min_shared=None)) == {}
    # Going on after the first track ends (a third of its frames its own): the only track on them then, kept.
    longer = {1: (np.arange(40), body[:40], np.ones(40, bool)), 2: (np.arange(10, 60), mirrored[10:], np.ones(50, bool))}
    assert duplicate_tracks(longer, BodyPresenceConfig()) == {}
    # Someone beside them, boxes overlapping by less than half: two people.
    beside = body.copy()
    beside[:, :, 0] += 30.0
    assert duplicate_tracks({1: tracks[1], 3: (np.arange(10, 50), beside[10:50], np.ones(40, bool))}, BodyPresenceConfig()) == {}


def test_a_short_track_drawn_on_part_of_another_persons_body_is_not_a_person():
    from vibe.pipeline.person_filter import duplicate_tracks

    body = _standing_body(30)
    small = body.copy()
    thighs = body[:, 23:27, :2].mean(1, keepdims=True)  # (30, 1, 2) between the hips and the knees
    small[:, :, :2] = (body[:, :, :2] - body[:, 23:25, :2].mean(1, keepdims=True)) * 0.3 + thighs
    # a whole body a third the size, on the person's thighs
    beside = small.copy()
    beside[:, :, 0] += 100.0  # the same small body beside the person: someone small, not a part
    tracks = {
        1: (np.arange(30), body, np.ones(30, bool)),
        2: (np.arange(5, 7), small[5:7], np.ones(2, bool)),
        3: (np.arange(5, 7), beside[5:7], np.ones(2, bool)),
        4: (np.arange(10, 20), small[10:20], np.ones(10, bool)),  # long enough for the jitter to judge
    }
    again = body.copy()
    again[:, :, :2] = (body[:, :, :2] - thighs) * 1.2 + thighs + [0.0, -10.0]  # the person drawn again, larger
    tracks[5] = (np.arange(20, 21), again[20:21], np.ones(1, bool))
    duplicates = duplicate_tracks(tracks, BodyPresenceConfig())
    assert set(duplicates) == {2, 5} and "part of that person" in duplicates[2] and "track 1" in duplicates[2]
    assert "that person again" in duplicates[5] and "track 1" in duplicates[5]
    assert set(duplicate_tracks(tracks, BodyPresenceConfig(part_min_iou=1.0, part_near_frames=None))) == {2}
    assert "read once more" in duplicate_tracks(tracks, BodyPresenceConfig(part_min_iou=1.0))[5]  # short and beside
    assert set(duplicate_tracks(tracks, BodyPresenceConfig(part_max_frames=None))) == {5}  # the box rule: IoU ≥ 0.5
    off = BodyPresenceConfig(part_max_frames=None, box_min_shared=None)
    assert duplicate_tracks(tracks, off) == {}
    assert duplicate_tracks(tracks, dataclasses.replace(off, duplicate_max_distance=None)) == {}
    for bad in ({"part_min_iou": 1.5}, {"part_min_inside": -0.1}, {"part_max_frames": -1}):
        with pytest.raises(ValueError):
            BodyPresenceConfig(**bad)


def test_a_short_track_just_before_another_on_the_same_body_is_that_person_read_once_more():
    from vibe.pipeline.person_filter import duplicate_tracks

    body = _standing_body(30)
    centre = body[:, :, :2].mean(1, keepdims=True)
    upside_down = body.copy()
    upside_down[:, :, 1] = 2 * centre[..., 1] - body[:, :, 1]  # the same place, read head down
    away = upside_down.copy()
    away[:, :, 0] += 150.0  # someone else, beside the person
    tracks = {
        1: (np.arange(1, 30), body[1:], np.ones(29, bool)),
        2: (np.arange(0, 1), upside_down[:1], np.ones(1, bool)),  # lost the frame before track 1 takes over
        3: (np.arange(0, 1), away[:1], np.ones(1, bool)),
    }
    duplicates = duplicate_tracks(tracks, BodyPresenceConfig())
    assert set(duplicates) == {2} and "read once more" in duplicates[2] and "track 1" in duplicates[2]
    late = {1: (np.arange(5, 30), body[5:], np.ones(25, bool)), 2: tracks[2]}  # 5 frames apart: not beside
    assert duplicate_tracks(late, BodyPresenceConfig()) == {}
    long_two = {1: tracks[1], 2: (np.arange(0, 1), upside_down[:1], np.ones(1, bool))}
    assert duplicate_tracks(long_two, BodyPresenceConfig(part_near_frames=None)) == {}
    assert duplicate_tracks(long_two, BodyPresenceConfig(part_near_iou=1.0, part_min_inside=1.0)) == {}
    with pytest.raises(ValueError):
        BodyPresenceConfig(part_near_iou=1.2)


def test_box_overlaps_against_areas_counted_by_hand():
    from vibe.pipeline.person_filter import box_overlaps

    inner = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 5.0, 9.0]])
    outer = np.array([[1.0, 1.0, 3.0, 3.0], [-1.0, -1.0, 3.0, 3.0], [0.0, 0.0, 9.0, 9.0]])
    inside, iou = box_overlaps(inner, outer)
    np.testing.assert_allclose(inside, [0.25, 1.0, 0.0])  # 1 of 4; all of it; an empty box
    np.testing.assert_allclose(iou, [1 / 7, 4 / 16, 0.0])


def test_one_frame_people_pass_and_the_rule_can_be_switched_off():
    lm = _standing_body(1)
    assert judge_tracks({7: (lm, np.ones(1, bool))}, BodyPresenceConfig()) == ([7], {})
    hidden = _standing_body(5, visibility=0.0)
    assert judge_tracks({2: (hidden, np.ones(5, bool))}, BodyPresenceConfig(enabled=False)) == ([2], {})


# --------------------------------------------------------------------------- timestamps
def test_timestamps_that_go_back_are_placed_between_their_neighbours():
    times, repaired = monotonic_frame_times(np.array([0.0, 0.04, 0.08, 0.04, 0.16, 0.20]))
    np.testing.assert_allclose(times, [0.0, 0.04, 0.08, 0.12, 0.16, 0.20])
    assert repaired == 1
    times, repaired = monotonic_frame_times(np.array([9.0, 0.04, 0.08, 0.12, np.nan, 0.20]))
    np.testing.assert_allclose(times, [0.0, 0.04, 0.08, 0.12, 0.16, 0.20])
    assert repaired == 2
    times, repaired = monotonic_frame_times(np.array([0.0, 0.1, 0.2]))
    assert repaired == 0 and times.tolist() == [0.0, 0.1, 0.2]


def test_b_frame_timestamps_handed_out_in_coding_order_are_sorted_back():
    # What PyAV decodes from H.264 with B-frames in AVI (no presentation times there): 25 fps, shuffled.
    coded = [1, 4, 3, 5, 2, 8, 7, 9, 6, 11, 12, 10, 13, 16, 15, 17, 14]
    times, repaired = monotonic_frame_times(np.asarray(coded) * 0.04)
    np.testing.assert_allclose(times, np.arange(1, 18) * 0.04)
    assert repaired == sum(c != k for k, c in enumerate(coded, start=1))


def test_frame_timing_from_the_median_interval():
    constant = frame_timing(np.arange(10) * 0.04, fallback_fps=50.0)
    assert constant.fps == pytest.approx(25.0) and not constant.variable
    variable = frame_timing(np.cumsum([0, 0.033, 0.05, 0.033, 0.067, 0.033]), fallback_fps=30.0)
    assert variable.median_interval_s == pytest.approx(0.033) and variable.variable
    single = frame_timing(np.array([1.5]), fallback_fps=24.0)
    assert single.fps == 24.0 and not single.variable


# --------------------------------------------------------------------------- options and exit codes
@pytest.mark.parametrize(
    "args",
    [["--max-frames", "0"], ["--max-frames", "-5"], ["--workers", "-1"], ["--max-frames", "abc"],
     ["--beta", "-1"], ["--min-cutoff", "0"], ["--export", "fbx"], ["--stack", "nope"], ["--device", "gpu7"]],
)  # fmt: skip
def test_invalid_option_values_are_one_line_usage_errors(args, tmp_path):
    result = CliRunner().invoke(app, ["demo", str(ROOT / "assets" / "pose_1.mp4"), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == EXIT_USAGE, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("options", [{"max_frames": 0}, {"max_frames": -5}, {"workers": -1}, {"batch_frames": 0}])
def test_demo_config_refuses_invalid_values(options):
    with pytest.raises(ValueError):
        DemoConfig(**options)


def test_readme_lists_every_exit_code_of_the_demo():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Exit codes") :]
    section = section[: section.index("\n\n")]
    codes = {EXIT_USAGE, EXIT_VIDEO_UNREADABLE, EXIT_MISSING_ASSETS, EXIT_OUTPUT_NOT_WRITABLE, EXIT_NO_WEIGHTS,
             EXIT_INTERRUPTED}  # fmt: skip
    listed = {int(c) for c in re.findall(r"\b(\d+)\b", section)}
    assert codes | {0} <= listed


# --------------------------------------------------------------------------- the output folder
@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_run_folder_swaps_in_whole_and_keeps_the_cache(tmp_path, monkeypatch, atomic_exchange):
    import vibe.pipeline.run_folder as run_folder

    if not atomic_exchange:
        monkeypatch.setattr(run_folder, "_exchange", lambda a, b: False)  # the two-rename fallback
    target = tmp_path / "clip"
    (target / ".cache").mkdir(parents=True)
    (target / ".cache" / "people-1.npz").write_text("cached")
    (target / "person1.bvh").write_text("old run")
    with run_folder.RunFolder(target) as folder:
        (folder.staging / "results.npz").write_text("new run")
        assert folder.final(folder.staging / "results.npz") == target / "results.npz"
        folder.commit()
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == [".cache/people-1.npz", "results.npz"]
    assert [p.name for p in tmp_path.iterdir()] == ["clip"]


def test_run_folder_left_without_commit_changes_nothing(tmp_path):
    from vibe.pipeline.run_folder import RunFolder

    target = tmp_path / "clip"
    target.mkdir()
    (target / "meta.json").write_text("previous")
    with pytest.raises(KeyboardInterrupt):
        with RunFolder(target) as folder:
            (folder.staging / "meta.json").write_text("half written")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["clip"] and (target / "meta.json").read_text() == "previous"
    stale = tmp_path / ".clip.partial-999999999"  # a killed run's, whose process is gone
    stale.mkdir()
    RunFolder(target).open().discard()
    assert not stale.exists()


def test_kept_tracks_lose_their_ends_without_a_body():
    """The demo cuts a track's boxes and landmarks alike to its first-to-last frame showing a body."""
    from vibe.pipeline.demo_config import DemoConfig
    from vibe.pipeline.landmarks import TrackLandmarks
    from vibe.pipeline.run import _trimmed_to_bodies

    lm = _standing_body(20)
    found = np.ones(20, bool)
    found[:5] = False
    ids = np.arange(40, 60)
    track = TrackLandmarks(7, ids, lm, np.zeros((20, 33, 3)), found)
    boxes = {7: (ids, np.tile([100.0, 200.0, 250.0], (20, 1)))}
    cut_boxes, cut = _trimmed_to_bodies(boxes, {7: track}, DemoConfig())
    assert cut_boxes[7][0].tolist() == list(range(45, 60)) and len(cut_boxes[7][1]) == 15
    assert cut[7].frame_ids.tolist() == list(range(45, 60)) and cut[7].found.all()
    assert cut[7].landmarks_img.shape == (15, 33, 3) and cut[7].world.shape == (15, 33, 3)


def test_a_track_too_short_for_the_jitter_whose_torso_jumps_in_size_is_not_a_person():
    from vibe.pipeline.person_filter import torso_scale_step

    walker = _standing_body(2)  # a real person glimpsed for two frames: the same size in both
    shrinking = walker.copy()
    hips = shrinking[1, 23:25, :2].mean(0)
    shrinking[1, :, :2] = (shrinking[1, :, :2] - hips) * 0.79 + hips  # 21 % smaller one frame later
    assert torso_scale_step(walker, np.ones(2, bool)) == pytest.approx(0.0)
    assert torso_scale_step(shrinking, np.ones(2, bool)) == pytest.approx(0.21)
    assert torso_scale_step(shrinking, np.array([True, False])) is None  # no pair of frames with a pose
    tracks = {1: (walker, np.ones(2, bool)), 2: (shrinking, np.ones(2, bool))}
    people, rejected = judge_tracks(tracks, BodyPresenceConfig())
    assert people == [1] and "torso length changes 21%" in rejected[2]
    assert judge_tracks(tracks, BodyPresenceConfig(unmeasured_max_scale_step=None))[0] == [1, 2]
    assert judge_tracks(tracks, BodyPresenceConfig(), fps=10.0)[0] == [1, 2]  # 3 × the step allowed at 10 fps
    with pytest.raises(ValueError, match="unmeasured_max_scale_step"):
        BodyPresenceConfig(unmeasured_max_scale_step=0.0)


def test_a_track_with_a_rejected_phantoms_body_is_that_phantom_again():
    from vibe.pipeline.person_filter import duplicate_tracks

    phantom = _standing_body(2)
    again = phantom[1:].copy()
    again[:, :, :2] += 3.0  # the phantom's body drawn once more, 0.05 torso lengths off
    tracks = {4: (np.arange(28, 30), phantom, np.ones(2, bool)), 5: (np.arange(29, 30), again, np.ones(1, bool))}
    duplicates = duplicate_tracks(tracks, BodyPresenceConfig(), phantoms={4})
    assert set(duplicates) == {5} and "track 4's body again, not a person" in duplicates[5]
    assert "duplicate of track 4" in duplicate_tracks(tracks, BodyPresenceConfig())[5]  # track 4 a person: a ghost
    assert set(duplicate_tracks({5: tracks[5]}, BodyPresenceConfig(), phantoms={4})) == set()
