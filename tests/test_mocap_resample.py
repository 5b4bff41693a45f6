"""Frame-rate conversion against scipy's Slerp and exact frame copies."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from vibe.data.mocap.resample import resample, resample_times
from vibe.data.mocap.skeleton import Motion, Skeleton


def _motion(num_frames: int, fps: float) -> Motion:
    rng = np.random.default_rng(0)
    skel = Skeleton(["a", "b", "c"], np.array([-1, 0, 1]), rng.normal(size=(3, 3)))
    # A smooth random walk in rotation space (neighbouring frames < 180° apart).
    steps = Rotation.from_rotvec(rng.normal(scale=0.2, size=(num_frames * 3, 3))).as_matrix()
    local = np.empty((num_frames, 3, 3, 3))
    local[0] = Rotation.random(3, random_state=1).as_matrix()
    for t in range(1, num_frames):
        local[t] = local[t - 1] @ steps[t * 3 : t * 3 + 3]
    return Motion(skel, local, rng.normal(size=(num_frames, 3)).cumsum(0), fps=fps, name="m", meta={"k": 1})


def test_120_to_30_keeps_every_fourth_frame_exactly():
    motion = _motion(41, 120.0)
    out = resample(motion, 30.0)
    assert out.fps == 30.0 and out.num_frames == 11
    np.testing.assert_array_equal(out.local_rotmat, motion.local_rotmat[::4])
    np.testing.assert_array_equal(out.root_transl, motion.root_transl[::4])
    assert out.meta["source_fps"] == 120.0 and out.meta["k"] == 1 and out.skeleton is motion.skeleton


@pytest.mark.parametrize("fps_out", [50.0, 29.97, 25.0, 200.0])
def test_non_integer_ratio_matches_scipy_slerp(fps_out):
    motion = _motion(30, 120.0)
    out = resample(motion, fps_out)
    t_in = np.arange(motion.num_frames) / motion.fps
    t_out = np.arange(out.num_frames) / fps_out
    assert t_out[-1] <= t_in[-1] + 1e-9 and t_out[-1] + 1 / fps_out > t_in[-1]
    for j in range(3):
        slerp = Slerp(t_in, Rotation.from_matrix(motion.local_rotmat[:, j]))
        np.testing.assert_allclose(out.local_rotmat[:, j], slerp(t_out).as_matrix(), atol=1e-9)
    for axis in range(3):
        np.testing.assert_allclose(out.root_transl[:, axis], np.interp(t_out, t_in, motion.root_transl[:, axis]),
                                   atol=1e-12)  # fmt: skip


def test_resample_times_cover_the_clip():
    np.testing.assert_allclose(resample_times(5, 30.0, 60.0), np.arange(9) / 2)
    assert resample_times(1, 120.0, 30.0).tolist() == [0.0]
    with pytest.raises(ValueError):
        resample(_motion(3, 30.0), 0.0)
