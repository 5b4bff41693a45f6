"""BlazePose's left/right label swaps: the torso's facing, the parity over a track, the repair."""

from __future__ import annotations

import numpy as np

from vibe.body.anny import BLAZEPOSE33
from vibe.body.joint_sets import flip_permutation
from vibe.pipeline.label_swaps import (
    SwapConfig,
    drop_flips,
    flip_runs,
    limb_parity,
    repair_swaps,
    short_runs,
    swap_parity,
    torso_angles,
    torso_facing,
    unswap_landmarks,
)
from vibe.pipeline.landmarks import TrackLandmarks

FLIP = flip_permutation(BLAZEPOSE33)


def _body_world(n: int, yaw_rad: np.ndarray) -> np.ndarray:
    """A stick body ``(n, 33, 3)`` (metres; x right, y down, z away from the camera) turned by ``yaw``:
    0 faces the camera (its left side at +x)."""
    rng = np.random.default_rng(0)
    rest = rng.normal(0, 0.05, (33, 3))
    for name, (x, y) in {"left_shoulder": (0.18, -0.5), "right_shoulder": (-0.18, -0.5),
                         "left_hip": (0.12, 0.0), "right_hip": (-0.12, 0.0)}.items():  # fmt: skip
        rest[BLAZEPOSE33.index(name)] = (x, y, 0.0)
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    turn = np.zeros((n, 3, 3))
    turn[:, 0, 0], turn[:, 0, 2], turn[:, 1, 1], turn[:, 2, 0], turn[:, 2, 2] = c, s, 1.0, -s, c
    return np.einsum("nij,kj->nki", turn, rest)


def _image(world: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """Orthographic pixels ``(n, 33, 3)`` (x, y, visibility 1), the image turned by ``roll_deg``."""
    r = np.deg2rad(roll_deg)
    xy = world[..., :2] @ np.array([[np.cos(r), np.sin(r)], [-np.sin(r), np.cos(r)]]) * 400 + 300
    return np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1)


def _swapped(image: np.ndarray, world: np.ndarray, frames) -> tuple[np.ndarray, np.ndarray]:
    """What BlazePose gives when it reads ``frames`` swapped: labels exchanged, world mirrored in depth."""
    image, world = image.copy(), world.copy()
    image[frames] = image[frames][:, FLIP]
    world[frames] = world[frames][:, FLIP] * np.array([1.0, 1.0, -1.0])
    return image, world


def test_facing_is_positive_towards_the_camera_whatever_the_image_roll():
    world = _body_world(3, np.deg2rad(np.array([0.0, 90.0, 180.0])))
    for roll in (0.0, 90.0, -135.0):  # upright, lying, upside down
        facing = torso_facing(_image(world, roll))
        assert facing[0] > 1.0 and abs(facing[1]) < 1e-9 and facing[2] < -1.0
        assert np.allclose(torso_facing(_image(world, roll)[:, FLIP]), -facing)


def test_a_real_turn_is_kept_and_a_brief_swap_is_found():
    turn = _image(_body_world(60, np.linspace(0.0, np.pi, 60)))  # front to back through a side view
    assert not swap_parity(torso_facing(turn)).any()
    still = _image(_body_world(60, np.full(60, 0.3)))
    blip, _ = _swapped(still, np.zeros_like(still), slice(20, 26))
    assert np.array_equal(np.flatnonzero(swap_parity(torso_facing(blip))), np.arange(20, 26))
    whole, _ = _swapped(still, np.zeros_like(still), slice(None))
    assert not swap_parity(torso_facing(whole)).any()  # nothing to be continuous with: left as read


def test_one_wobbling_frame_does_not_start_a_swap():
    facing = np.full(30, 0.2)
    facing[10] = -0.2  # a nearly side-on frame read the other way: cheaper to keep
    assert not swap_parity(facing).any()
    assert swap_parity(facing, SwapConfig(switch_cost=0.0, swapped_cost=0.0))[10]


def test_repair_restores_the_landmarks_and_the_world():
    world = _body_world(40, np.linspace(-0.4, 0.4, 40))
    image = _image(world)
    image_read, world_read = _swapped(image, world, slice(12, 17))
    found = np.ones(40, dtype=bool)
    found[30] = False
    image_read[30], world_read[30] = np.nan, np.nan
    track = TrackLandmarks(1, np.arange(40), image_read, world_read, found)
    repaired, counts = repair_swaps(track)
    assert counts == {"body": 5, "arm": 0, "leg": 0}
    keep = found
    assert np.allclose(repaired.landmarks_img[keep], image[keep]) and np.allclose(repaired.world[keep], world[keep])
    back_image, back_world = unswap_landmarks(image_read, world_read, np.zeros(40, dtype=bool))
    assert np.array_equal(back_image, image_read, equal_nan=True) and back_world is not world_read


def _arms_crossing(n: int, cross: bool = True) -> np.ndarray:
    """Pixels ``(n, 33, 3)`` of a body facing the camera whose hands cross each other (left goes from +x to −x),
    or (``cross=False``) stay apart."""
    image = _image(_body_world(n, np.zeros(n)))
    sweep = np.linspace(1.0, -1.0 if cross else 1.0, n)[:, None]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for k, part in enumerate(("elbow", "wrist", "pinky", "index", "thumb")):
            i = BLAZEPOSE33.index(f"{side}_{part}")
            image[:, i, 0] = 300 + sign * sweep[:, 0] * (60 + 10 * k)
            image[:, i, 1] = 200 + 15 * k
    return image


def test_arms_that_cross_stay_and_an_exchanged_arm_is_found():
    crossing = _arms_crossing(40)
    assert not limb_parity(crossing, "arm").any() and not limb_parity(crossing, "leg").any()
    read = crossing.copy()
    arm = [BLAZEPOSE33.index(f"left_{p}") for p in ("elbow", "wrist", "pinky", "index", "thumb")]
    other = [FLIP[i] for i in arm]
    read[5:9, arm + other] = crossing[5:9, other + arm]  # the labels jump to the other arm for 4 frames
    assert np.array_equal(np.flatnonzero(limb_parity(read, "arm")), np.arange(5, 9))
    world = np.zeros_like(read)
    track = TrackLandmarks(1, np.arange(40), read, world, np.ones(40, dtype=bool))
    repaired, counts = repair_swaps(track)
    assert counts["arm"] == 4 and np.allclose(repaired.landmarks_img, crossing)
    assert repair_swaps(track, SwapConfig(limb_switch_cost=None))[1] == {"body": 0}


def test_short_runs_drops_only_the_runs_longer_than_the_limit():
    frames = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1], dtype=bool)
    assert np.array_equal(short_runs(frames, 3), [1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert np.array_equal(short_runs(frames, 4), frames) and not short_runs(frames, 1).any()
    assert short_runs(np.zeros(0, dtype=bool), 2).shape == (0,)


def test_an_arm_exchange_longer_than_the_limit_is_left_as_read():
    apart = _arms_crossing(90, cross=False)
    arm = [BLAZEPOSE33.index(f"left_{p}") for p in ("elbow", "wrist", "pinky", "index", "thumb")]
    other = [FLIP[i] for i in arm]
    read = apart.copy()
    read[20:60, arm + other] = apart[20:60, other + arm]  # 40 frames: 1.33 s at 30 fps, 0.67 s at 60
    track = TrackLandmarks(1, np.arange(90), read, np.zeros_like(read), np.ones(90, dtype=bool))
    config = SwapConfig(limb_max_run_s=1.0)
    assert repair_swaps(track, config, fps=30.0)[1]["arm"] == 0  # longer than a second: as read
    repaired, counts = repair_swaps(track, config, fps=60.0)
    assert counts["arm"] == 40 and np.allclose(repaired.landmarks_img, apart)
    assert repair_swaps(track, SwapConfig(limb_max_run_s=None), fps=30.0)[1]["arm"] == 40


def _upright_track(n: int, flipped: np.ndarray) -> TrackLandmarks:
    """A track of ``n`` frames read upright but on the ``flipped`` frames (torso axis turned 180°)."""
    lm = np.zeros((n, 33, 3))
    lm[..., 2] = 1.0
    ls, rs, lh, rh = (BLAZEPOSE33.index(k) for k in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    lm[:, [ls, rs], 0], lm[:, [lh, rh], 0] = (90.0, 110.0), (92.0, 108.0)
    lm[:, [ls, rs], 1], lm[:, [lh, rh], 1] = 100.0, 200.0
    lm[flipped, :, 1] = 300.0 - lm[flipped, :, 1]
    return TrackLandmarks(1, np.arange(n), lm, np.zeros_like(lm), np.ones(n, bool))


def test_flip_runs_finds_short_upside_down_runs_against_longer_ones():
    n = 40
    ends = np.zeros(n, bool)
    ends[:3] = ends[-2:] = True  # a fresh start read upside down, and the last frames
    middle = np.zeros(n, bool)
    middle[20:24] = True  # a 4-frame blip between two long runs
    for flipped in (ends, middle):
        track = _upright_track(n, flipped)
        np.testing.assert_array_equal(flip_runs(track.landmarks_img, track.found, 120.0, 15, 15), flipped)
    half = np.arange(n) >= 20  # two long runs: no evidence which one is wrong
    track = _upright_track(n, half)
    assert not flip_runs(track.landmarks_img, track.found, 120.0, 25, 15).any()
    late = np.zeros(n, bool)
    late[36:] = True
    track = _upright_track(n, late)
    track.found[30:36] = False  # the last frames come after 6 frames without a pose
    assert flip_runs(track.landmarks_img, track.found, 120.0, 15, 7)[36:].all()  # frames 29 and 36: 7 apart
    assert not flip_runs(track.landmarks_img, track.found, 120.0, 15, 6).any()  # a longer gap: no turn seen


def test_drop_flips_leaves_those_frames_without_a_pose():
    flipped = np.zeros(40, bool)
    flipped[20:24] = True
    track = _upright_track(40, flipped)
    out, dropped = drop_flips(track, SwapConfig(), fps=30.0)
    assert dropped == 4 and not out.found[20:24].any() and out.found[~flipped].all()
    assert np.isnan(out.landmarks_img[20:24, :, :2]).all() and (out.landmarks_img[20:24, :, 2] == 0).all()
    np.testing.assert_allclose(torso_angles(out.landmarks_img[~flipped]), 0.0, atol=1e-9)
    assert drop_flips(track, SwapConfig(max_turn=None), fps=30.0) == (track, 0)
    assert drop_flips(track, SwapConfig(flip_max_s=0.1), fps=30.0)[1] == 0  # 4 frames > 3: kept
