"""Every column of the synthetic benchmark's table on a hand-made case, against closed forms.

The case: one video whose ground-truth skeleton lies in a plane (z = 3 m) with
only the left wrist accelerating (x += 0.01 t² m), six frames; predictions
push joints out of that plane by ε_t·c_j (c chosen so that Σc = 0 and
Σ c_j·g_j = 0: no translation, scale or rotation explains it), with ε_t
jittering from frame to frame; the model's track misses frame 3; a second
video has no person. With that structure the metrics have closed forms:

- Procrustes keeps the rotation (the cross-covariance is that of the plane)
  and shrinks by s = S / (S + ε²Σc²), S = Σ|g_j − ḡ|², so each joint's
  error is sqrt((s − 1)²|g_j − ḡ|² + s²ε²c_j²);
- pelvis-centred errors are ε|c_j − h|, h the hips' mean of c;
- second differences are Δ²ε·(c_j − h) out of the plane, plus the wrist's
  0.02 m/frame² in x for the prediction itself (ACCEL) but not for its error
  (ACCEL_ERR), over the interior frames of runs of ≥ 3 consecutive frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vibe.body.anny import BLAZEPOSE33
from vibe.body.joint_sets import EVAL14
from vibe.evaluation.report import COLUMNS, table_row
from vibe.evaluation.synthetic_bench import pool_results, table_rows
from vibe.evaluation.synthetic_scoring import (
    COMMON12,
    TrackPrediction,
    aggregate,
    constant_bone_lengths,
    score_track,
    score_video,
    shape_metrics,
    smooth_over_time,
)

Z = np.array([0.0, 0.0, 1.0])
# A planar stick figure (x right, y down, metres), eval14 order, 3 m in front of the camera.
BASE = np.array([
    [-0.10, 0.90], [-0.10, 0.50], [-0.10, 0.00], [0.10, 0.00], [0.10, 0.50], [0.10, 0.90],
    [-0.45, -0.10], [-0.35, -0.30], [-0.20, -0.50], [0.20, -0.50], [0.35, -0.30], [0.45, -0.10],
    [0.00, -0.55], [0.00, -0.80],
])  # fmt: skip
BASE = np.concatenate([BASE, np.full((14, 1), 3.0)], axis=1)
LEFT_WRIST, HIPS = EVAL14.index("left_wrist"), (2, 3)
N_FRAMES = 6
MODEL_FRAMES = np.array([0, 1, 2, 4, 5])  # frame 3 missing: runs [0, 1, 2] and [4, 5]


def _out_of_plane_weights() -> np.ndarray:
    """c (14,): zero on the moving wrist, neck and head; Σc = Σ c·x = Σ c·y = 0 over the rest."""
    free = [j for j in range(14) if j not in (LEFT_WRIST, 12, 13)]
    a = np.stack([np.ones(len(free)), BASE[free, 0], BASE[free, 1]])  # (3, 11) constraints
    v = np.linspace(1.0, -0.6, len(free)) ** 2
    c = np.zeros(14)
    c[free] = v - a.T @ np.linalg.solve(a @ a.T, a @ v)  # projection onto the null space
    return c


C = _out_of_plane_weights()


def _gt_joints() -> np.ndarray:
    g = np.repeat(BASE[None], N_FRAMES, axis=0)
    g[:, LEFT_WRIST, 0] += 0.01 * np.arange(N_FRAMES) ** 2
    return g


def _gt() -> dict:
    kp = np.array([[100.0 + (k % 11) * 20.0, 50.0 + (k // 11) * 50.0] for k in range(33)])  # box 200 × 100 px
    visible = np.arange(33) < 30  # the last 3 hidden
    return {
        "frame_ids": np.arange(N_FRAMES),
        "joints3d_eval14": _gt_joints(),
        "keypoints2d_blazepose33": np.repeat(kp[None], N_FRAMES, axis=0),
        "visible_blazepose33": np.repeat(visible[None], N_FRAMES, axis=0),
    }


def _eps(frames: np.ndarray, base: float, jitter: float) -> np.ndarray:
    return base + jitter * (-1.0) ** frames


def _pushed(frames: np.ndarray, eps: np.ndarray, joints=None) -> np.ndarray:
    joints = _gt_joints()[frames] if joints is None else joints
    return joints + eps[:, None, None] * C[None, :, None] * Z


def _pa_closed_form(frames: np.ndarray, eps: np.ndarray, joints: list[int]) -> float:
    """Mean over frames of the closed-form Procrustes error (mm) of the pushed joints."""
    out = []
    for t, e in zip(frames, eps):
        g = _gt_joints()[t][joints]
        d2 = np.sum((g - g.mean(0)) ** 2, axis=1)
        s = d2.sum() / (d2.sum() + e**2 * np.sum(C[joints] ** 2))
        out.append(np.mean(np.sqrt((s - 1) ** 2 * d2 + s**2 * e**2 * C[joints] ** 2)))
    return 1000 * float(np.mean(out))


def _model_prediction() -> tuple[TrackPrediction, np.ndarray]:
    eps = _eps(MODEL_FRAMES, 0.02, 0.005)
    offsets = np.where(np.arange(33) < 24, 10.0, 30.0)  # px, in x: within 20 px (0.1 × 200) or not
    joints2d = _gt()["keypoints2d_blazepose33"][MODEL_FRAMES].copy()
    joints2d[..., 0] += offsets
    joints2d[3, 24:27, 0] -= 20.0  # frame 4: three more hits
    return TrackPrediction(MODEL_FRAMES, _pushed(MODEL_FRAMES, eps), joints2d), eps


H = C[list(HIPS)].mean()
D2_EPS = 0.025 - 2 * 0.015 + 0.025  # Δ²ε at frame 1, the one interior frame of run [0, 1, 2]
D2_WRIST = 0.01 * (0 - 2 * 1 + 4)  # the ground-truth wrist's second difference, 0.02 m


# Function-scoped (scoring takes milliseconds): a module-scoped result would be computed inside
# whichever test runs first, and mutation testing maps each function to the tests that call it.
@pytest.fixture
def scored() -> tuple[dict, int]:
    model, _ = _model_prediction()
    return score_video(_gt(), {"model": model})


def test_pa_mpjpe_and_mpjpe_closed_form(scored):
    rows, n_matched = scored
    m = rows["model"]
    assert n_matched == 5
    eps = _eps(MODEL_FRAMES, 0.02, 0.005)
    assert m["pa_mpjpe"] == pytest.approx(_pa_closed_form(MODEL_FRAMES, eps, list(range(14))), rel=1e-9)
    assert m["mpjpe"] == pytest.approx(1000 * np.mean(eps) * np.mean(np.abs(C - H)), rel=1e-9)
    assert m["pa_mpjpe12"] == pytest.approx(_pa_closed_form(MODEL_FRAMES, eps, list(range(12))), rel=1e-9)
    assert 0 < m["pa_mpjpe"] < m["mpjpe"]


def test_accel_err_is_the_error_not_the_acceleration(scored):
    """One interior frame (1): the gap at frame 3 leaves run [4, 5] too short; the wrist's own motion is not an error."""
    m = scored[0]["model"]
    d2 = np.abs(D2_EPS * (C - H))  # out of the plane, every joint
    accel = np.sqrt(d2**2 + np.where(np.arange(14) == LEFT_WRIST, D2_WRIST, 0.0) ** 2)
    assert m["accel"] == pytest.approx(1000 * accel.mean(), rel=1e-9)
    assert m["accel_err"] == pytest.approx(1000 * d2.mean(), rel=1e-9)
    assert m["accel_err12"] == pytest.approx(1000 * d2[:12].mean(), rel=1e-9)
    assert m["accel"] - m["accel_err"] > 1.0  # mm/frame²: the two differ on this case


def test_pck2d_counts_visible_points_within_a_tenth_of_the_box(scored):
    # Box side 200 px → 20 px; 24 of 30 visible points hit per frame, 27 on frame 4; hidden ones ignored.
    assert scored[0]["model"]["pck2d"] == pytest.approx(100 * (4 * 24 + 27) / 150)


def test_model_row_has_exactly_the_table_columns(scored):
    assert set(scored[0]["model"]) == {"pa_mpjpe", "mpjpe", "accel", "accel_err", "pa_mpjpe12", "accel_err12", "pck2d"}


def test_shape_metrics_ignore_placement_and_see_build_and_height():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 3))
    moved = target + [0.3, -2.0, 5.0]  # placement only: no shape error
    assert shape_metrics(moved, target) == pytest.approx({"pve_t": 0.0, "height_err": 0.0, "height_abs_err": 0.0}, abs=1e-9)
    taller = target * [1.0, 1.1, 1.0]
    centred = target - target.mean(0)
    expected_pve = 1000.0 * np.abs(0.1 * centred[:, 1]).mean()
    expected_height = 1000.0 * 0.1 * np.ptp(target[:, 1])
    assert shape_metrics(taller, target) == pytest.approx(
        {"pve_t": expected_pve, "height_err": expected_height, "height_abs_err": expected_height}
    )
    assert shape_metrics(target, taller)["height_err"] == pytest.approx(-expected_height)


def test_shape_columns_only_when_both_bodies_at_rest_are_given():
    gt, (model, _) = _gt(), _model_prediction()
    rest = np.random.default_rng(1).normal(size=(20, 3))
    with_rest = TrackPrediction(model.frame_ids, model.joints_eval14, model.joints2d_img, rest * 1.2)
    assert "pve_t" not in score_track(gt, with_rest)[0]  # no ground-truth body at rest
    metrics = score_track({**gt, "vertices_rest": rest}, with_rest)[0]
    assert metrics["pve_t"] == pytest.approx(shape_metrics(rest * 1.2, rest)["pve_t"]) and metrics["pve_t"] > 0


def _world(frames: np.ndarray, eps: np.ndarray, nan_frames=()) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe-style world landmarks (n, 33, 3): the 12 common joints pushed, hip-centred-ish, others 0."""
    world = np.zeros((len(frames), 33, 3))
    pushed = _pushed(frames, eps) - [0.0, 0.0, 3.0]  # a translation: no metric sees it
    for name in COMMON12:
        world[:, BLAZEPOSE33.index(name)] = pushed[:, EVAL14.index(name)]
    world[np.isin(frames, nan_frames)] = np.nan
    return frames, world


def _landmarks_img(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lm = np.concatenate([_gt()["keypoints2d_blazepose33"][frames] + [5.0, 0.0], np.ones((len(frames), 33, 1))], -1)
    lm[frames == 5] = np.nan  # no pose found on frame 5
    return frames, lm


def test_mediapipe_row_closed_form():
    model, _ = _model_prediction()
    eps = _eps(MODEL_FRAMES, 0.01, 0.002)
    rows, _ = score_video(_gt(), {"model": model}, _landmarks_img(MODEL_FRAMES), _world(MODEL_FRAMES, eps, [5]))
    mp = rows["mediapipe"]
    used = MODEL_FRAMES[:4]  # frame 5's world landmarks are NaN: left out
    assert set(mp) == {"pa_mpjpe12", "accel_err12", "pck2d", "n_frames"} and mp["n_frames"] == 4
    assert mp["pa_mpjpe12"] == pytest.approx(_pa_closed_form(used, eps[:4], list(range(12))), rel=1e-9)
    d2_eps = eps[0] - 2 * eps[1] + eps[2]
    assert mp["accel_err12"] == pytest.approx(1000 * np.mean(np.abs(d2_eps * (C[:12] - H))), rel=1e-9)
    assert mp["pck2d"] == pytest.approx(100 * 4 * 30 / 150)  # 5 px off: all hits, but frame 5 missed


# --------------------------------------------------------------------------- smoothed MediaPipe
def test_gaussian_is_the_normalised_kernel_inside_a_run():
    w = np.exp(-np.arange(-9, 10) ** 2 / 18.0)  # σ = 3, cut at 3σ
    impulse = np.zeros(41)
    impulse[20] = 1.0
    out = smooth_over_time(np.arange(41), impulse)
    np.testing.assert_allclose(out[11:30], w / w.sum(), rtol=1e-12)
    assert out[10] == 0.0 and out[30] == 0.0
    np.testing.assert_allclose(smooth_over_time(np.arange(7), np.full((7, 2, 3), 1.5)), 1.5, rtol=1e-12)


def test_gaussian_renormalises_at_run_ends_and_stops_at_gaps():
    w = np.exp(-np.arange(0, 13) ** 2 / 18.0)
    impulse = np.zeros(41)
    impulse[0] = 1.0
    out = smooth_over_time(np.arange(41), impulse)
    assert out[0] == pytest.approx(1.0 / w[:10].sum())  # neighbours 0..9 only
    assert out[3] == pytest.approx(w[3] / (w[:4].sum() + w[1:10].sum()))  # neighbours 0..12 (offsets −3..9)
    # Two runs 6 frames apart (< 3σ): nothing leaks from one to the other.
    frames = np.r_[np.arange(5), np.arange(10, 15)]
    steps = np.r_[np.zeros(5), np.ones(5)]
    np.testing.assert_allclose(smooth_over_time(frames, steps), steps, rtol=0, atol=1e-12)


def test_constant_bone_lengths_take_each_bones_median():
    names = {n: i for i, n in enumerate(COMMON12)}
    joints = np.zeros((3, 12, 3))
    for side, x in (("right", -1.0), ("left", 1.0)):
        joints[:, names[f"{side}_hip"]] = [0.1 * x, 0, 0]
        joints[:, names[f"{side}_knee"]] = [0.1 * x, 0.4, 0]
        joints[:, names[f"{side}_ankle"]] = [0.1 * x, 0.8, 0]
        joints[:, names[f"{side}_shoulder"]] = [0.2 * x, -0.5, 0]
        joints[:, names[f"{side}_elbow"]] = [0.2 * x, -0.2, 0]
        joints[:, names[f"{side}_wrist"]] = [0.2 * x, 0.1, 0]
    for joint in ("hip", "knee", "ankle"):  # the left leg wanders sideways: hips 0.24 apart in frame 1, else 0.2
        joints[:, names[f"left_{joint}"], 0] = [0.1, 0.14, 0.1]
    joints[:, names["left_ankle"], 1] = [0.8, 0.9, 0.85]  # shin 0.4, 0.5, 0.45 → median 0.45
    out = constant_bone_lengths(joints)
    mid = joints[:, [names["right_hip"], names["left_hip"]]].mean(1)  # (3, 3) kept
    half = np.linalg.norm(joints[:, names["left_hip"]] - mid, axis=-1)
    assert half[1] > half[0] == pytest.approx(half[2])
    np.testing.assert_allclose(np.linalg.norm(out[:, names["left_hip"]] - mid, axis=-1), np.median(half))
    np.testing.assert_allclose(out[:, names["left_knee"]] - out[:, names["left_hip"]], [[0, 0.4, 0]] * 3, atol=1e-12)
    np.testing.assert_allclose(out[:, names["left_ankle"]] - out[:, names["left_knee"]], [[0, 0.45, 0]] * 3, atol=1e-12)
    # The right side kept its lengths and directions, so it is unchanged (up to the hip's midpoint shift).
    right = [names[f"right_{j}"] for j in ("knee", "ankle", "shoulder", "elbow", "wrist")]
    np.testing.assert_allclose(out[:, right] - out[:, [names["right_hip"]]], joints[:, right] - joints[:, [names["right_hip"]]], atol=1e-12)


def _umeyama_error_mm(p: np.ndarray, g: np.ndarray) -> float:
    """Reference PA error of one frame (J, 3): similarity Procrustes written out (Umeyama 1991)."""
    mp, mg = p.mean(0), g.mean(0)
    u, s, vt = np.linalg.svd((g - mg).T @ (p - mp))
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / np.sum((p - mp) ** 2)
    return 1000 * float(np.mean(np.linalg.norm(scale * (p - mp) @ rot.T + mg - g, axis=1)))


def test_smoothed_mediapipe_row_against_a_written_out_reference():
    model, _ = _model_prediction()
    eps = _eps(MODEL_FRAMES, 0.01, 0.002)
    frames, world = _world(MODEL_FRAMES, eps, [5])
    rows, _ = score_video(_gt(), {"model": model}, None, (frames, world))
    row = rows["mediapipe_smoothed"]
    # Reference: runs [0, 1, 2] and [4]; Gaussian weights renormalised inside each.
    j12 = np.stack([world[:4, BLAZEPOSE33.index(n)] for n in COMMON12], axis=1)  # (4, 12, 3)
    smooth = np.empty_like(j12)
    for run in ([0, 1, 2], [3]):
        for t in run:
            w = np.array([np.exp(-((t - k) ** 2) / 18.0) for k in run])
            smooth[t] = np.tensordot(w / w.sum(), j12[run], axes=1)
    rebuilt = smooth.copy()
    names = {n: i for i, n in enumerate(COMMON12)}
    mid = smooth[:, [names["right_hip"], names["left_hip"]]].mean(1)
    for hip in ("right_hip", "left_hip"):
        arm = smooth[:, names[hip]] - mid
        rebuilt[:, names[hip]] = mid + arm * np.median(np.linalg.norm(arm, axis=1)) / np.linalg.norm(arm, axis=1)[:, None]
    for side in ("right", "left"):
        for parent, child in (("hip", "knee"), ("knee", "ankle"), ("hip", "shoulder"), ("shoulder", "elbow"), ("elbow", "wrist")):
            a, b = names[f"{side}_{parent}"], names[f"{side}_{child}"]
            bone = smooth[:, b] - smooth[:, a]
            length = np.linalg.norm(bone, axis=1)[:, None]
            rebuilt[:, b] = rebuilt[:, a] + bone / length * np.median(length)
    gt12 = _gt_joints()[MODEL_FRAMES[:4]][:, :12]
    pa = np.mean([_umeyama_error_mm(rebuilt[t], gt12[t]) for t in range(4)])
    centred = lambda x: x - x[:, [names["right_hip"], names["left_hip"]]].mean(1, keepdims=True)  # noqa: E731
    err = centred(rebuilt)[:3] - centred(gt12)[:3]
    accel_err = 1000 * np.mean(np.linalg.norm(err[0] - 2 * err[1] + err[2], axis=-1))
    assert set(row) == {"pa_mpjpe12", "accel_err12", "n_frames"} and row["n_frames"] == 4
    assert row["pa_mpjpe12"] == pytest.approx(pa, rel=1e-9)
    assert row["accel_err12"] == pytest.approx(accel_err, rel=1e-9)
    # The written-out Umeyama agrees with the closed form on the raw landmarks (checks the reference itself).
    raw = np.mean([_umeyama_error_mm(j12[t], gt12[t]) for t in range(4)])
    assert raw == pytest.approx(_pa_closed_form(MODEL_FRAMES[:4], eps[:4], list(range(12))), rel=1e-9)


# --------------------------------------------------------------------------- rows, baselines, pooling
@pytest.fixture
def videos() -> list[dict]:
    """Two scored videos: the hand-made one with a baseline and a per-frame row, and one with no person."""
    gt = _gt()
    model, _ = _model_prediction()
    every = np.arange(N_FRAMES)
    per_frame = TrackPrediction(every, _pushed(every, np.full(N_FRAMES, 0.02)), gt["keypoints2d_blazepose33"])
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90° about z
    baseline = TrackPrediction(model.frame_ids, 2.0 * model.joints_eval14 @ rot.T, model.joints2d_img)
    world = _world(MODEL_FRAMES, _eps(MODEL_FRAMES, 0.01, 0.002), [5])
    metrics, n = score_video(gt, {"model": model, "per_frame": per_frame, "baseline:B": baseline}, None, world)
    return [
        {"video": "video_000.mp4", "n_gt_frames": N_FRAMES, "n_matched": n, "metrics": metrics},
        {"video": "video_001.mp4", "n_gt_frames": 4, "n_matched": 0, "metrics": {}},  # nobody found
    ]


def test_baseline_and_per_frame_rows(videos):
    rows = videos[0]["metrics"]
    model, base, per_frame = rows["model"], rows["baseline:B"], rows["per_frame"]
    # A similarity transform of the model's joints: same PA-MPJPE, its own MPJPE; same 2D joints.
    assert base["pa_mpjpe"] == pytest.approx(model["pa_mpjpe"], rel=1e-9)
    p, g = _model_prediction()[0].joints_eval14, _gt_joints()[MODEL_FRAMES]
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    pc = 2.0 * (p - p[:, list(HIPS)].mean(1, keepdims=True)) @ rot.T
    gc = g - g[:, list(HIPS)].mean(1, keepdims=True)
    assert base["mpjpe"] == pytest.approx(1000 * np.linalg.norm(pc - gc, axis=-1).mean(), rel=1e-9)
    assert base["pck2d"] == model["pck2d"]
    # Per-frame: every frame, a constant push: the error has no acceleration, the wrist's motion remains.
    assert per_frame["accel_err"] == pytest.approx(0.0, abs=1e-9)
    assert per_frame["accel"] == pytest.approx(1000 * D2_WRIST / 14, rel=1e-9)
    assert per_frame["pa_mpjpe"] == pytest.approx(_pa_closed_form(np.arange(6), np.full(6, 0.02), list(range(14))), rel=1e-9)
    assert per_frame["pck2d"] == 100.0


def test_table_rows_and_the_report_columns(videos):
    rows = table_rows(videos, "model.pt", per_frame=True, baselines=["B"])
    assert [r["key"] for r in rows] == ["model", "per_frame", "baseline:B", "mediapipe", "mediapipe_smoothed"]
    model, mp, smooth = rows[0], rows[3], rows[4]
    assert model["n_frames"] == 5 and mp["n_frames"] == 4 and smooth["n_frames"] == 4  # the empty video adds nothing
    assert model["metrics"] == pytest.approx(videos[0]["metrics"]["model"])
    cells = table_row(model).strip("| ").split(" | ")
    keys = [k for k, _ in COLUMNS]
    for key in ("pa_mpjpe", "mpjpe", "accel", "accel_err", "pck2d", "pa_mpjpe12", "accel_err12"):
        assert cells[2 + keys.index(key)] == f"{model['metrics'][key]:.2f}", key
    mp_cells = table_row(mp).strip("| ").split(" | ")
    assert mp_cells[2 + keys.index("pa_mpjpe")] == "–"  # MediaPipe's numbers sit in the 12-joint columns only
    assert mp_cells[2 + keys.index("pa_mpjpe12")] == f"{mp['metrics']['pa_mpjpe12']:.2f}"
    smooth_cells = table_row(smooth).strip("| ").split(" | ")
    assert smooth_cells[2 + keys.index("accel_err12")] == f"{smooth['metrics']['accel_err12']:.2f}"
    assert smooth_cells[2 + keys.index("pck2d")] == "–"


def test_pooling_weights_each_video_by_its_frames(videos):
    def run(bench_dir: str, vids: list[dict]) -> dict:
        n = sum(v["n_matched"] for v in vids)
        return {"bench_dir": bench_dir, "rows": table_rows(vids, "m.pt", True, ["B"]), "videos": vids,
                "n_videos": len(vids), "n_frames": sum(v["n_gt_frames"] for v in vids), "n_matched_frames": n}  # fmt: skip

    # A second run: the same video with the model row's numbers replaced by round ones, on 15 frames.
    other = {"video": "video_000.mp4", "n_gt_frames": 15, "n_matched": 15,
             "metrics": {**videos[0]["metrics"], "model": {"pa_mpjpe": 10.0, "accel_err": 2.0}}}  # fmt: skip
    pooled = pool_results([run("a", videos), run("b", [other])])
    assert pooled["n_videos"] == 3 and pooled["n_frames"] == 6 + 4 + 15 and pooled["n_matched_frames"] == 20
    rows = {r["key"]: r for r in pooled["rows"]}
    a = videos[0]["metrics"]["model"]
    assert rows["model"]["n_frames"] == 20
    assert rows["model"]["metrics"]["pa_mpjpe"] == pytest.approx((5 * a["pa_mpjpe"] + 15 * 10.0) / 20)
    assert rows["model"]["metrics"]["accel_err"] == pytest.approx((5 * a["accel_err"] + 15 * 2.0) / 20)
    assert rows["model"]["metrics"]["mpjpe"] == pytest.approx(a["mpjpe"])  # only run a has it
    # MediaPipe rows weigh by their own frames (4 with world landmarks in each video).
    assert rows["mediapipe_smoothed"]["n_frames"] == 8
    assert rows["mediapipe_smoothed"]["metrics"]["pa_mpjpe12"] == pytest.approx(
        videos[0]["metrics"]["mediapipe_smoothed"]["pa_mpjpe12"]
    )


def test_pooling_reads_older_results_naming_mediapipe_like_eval14():
    old = [{"n_matched": 10, "metrics": {"mediapipe": {"pa_mpjpe": 80.0, "accel_err": 5.0, "n_frames": 10}}}]
    new = [{"n_matched": 30, "metrics": {"mediapipe": {"pa_mpjpe12": 40.0, "accel_err12": 1.0, "n_frames": 30}}}]
    metrics, n = aggregate(old + new, "mediapipe")
    assert n == 40 and metrics == pytest.approx({"pa_mpjpe12": 50.0, "accel_err12": 2.0})


def test_pck2d_threshold_is_inclusive():
    from vibe.evaluation.synthetic_scoring import pck2d

    target = np.array([[[0.0, 0.0], [100.0, 0.0], [0.0, 40.0]]])  # box side 100 → 10 px
    pred = target + [[[10.0, 0.0], [0.0, 10.000001], [0.0, -10.0]]]
    assert pck2d(pred, target, np.ones((1, 3), bool)) == pytest.approx(200 / 3)


def test_nothing_in_common_scores_nothing():
    model, _ = _model_prediction()
    late = TrackPrediction(model.frame_ids + 100, model.joints_eval14, model.joints2d_img)
    assert score_video(_gt(), {"model": late}) == ({}, 0)
    assert score_track(_gt(), late) == ({}, 0)


def test_mediapipe_rows_without_world_or_image_landmarks():
    model, _ = _model_prediction()
    rows, _ = score_video(_gt(), {"model": model}, _landmarks_img(MODEL_FRAMES), None)
    assert set(rows["mediapipe"]) == {"pck2d"} and rows["mediapipe_smoothed"] == {}
    frames, world = _world(MODEL_FRAMES, _eps(MODEL_FRAMES, 0.01, 0.002), MODEL_FRAMES)  # no frame with a pose
    rows, _ = score_video(_gt(), {"model": model}, None, (frames, world))
    assert rows["mediapipe"] == {} and rows["mediapipe_smoothed"] == {}


def test_aggregate_skips_missing_values():
    videos = [
        {"n_matched": 10, "metrics": {"model": {"pa_mpjpe": 50.0, "accel_err": None}}},
        {"n_matched": 30, "metrics": {"model": {"pa_mpjpe": 90.0, "accel_err": 3.0}}},
        {"n_matched": 0, "metrics": {}},
    ]
    metrics, n = aggregate(videos, "model")
    assert n == 40 and metrics == pytest.approx({"pa_mpjpe": 80.0, "accel_err": 3.0})
    assert aggregate(videos, "per_frame") == ({}, 0)


def test_row_labels_and_titles(videos):
    from vibe.evaluation.synthetic_bench import TITLE

    rows = table_rows(videos, "model.pt", per_frame=True, baselines=["G-only"])
    assert [r["label"] for r in rows] == [
        "model.pt",
        "model.pt, per-frame (1-frame windows)",
        "G-only",
        "MediaPipe world landmarks (12 joints)",
        "MediaPipe world, Gaussian σ=3 + constant bones (12 joints)",
    ]
    assert {r["title"] for r in rows} == {TITLE}
    assert [r["key"] for r in table_rows(videos, "m.pt", per_frame=False, baselines=[])] == ["model", "mediapipe", "mediapipe_smoothed"]


def test_write_json_is_indented_complete_and_makes_its_folder(tmp_path):
    import json

    from vibe.evaluation.synthetic_bench import write_json

    path = write_json({"b": [1, 2], "a": "σ"}, tmp_path / "new" / "r.json")
    assert path == tmp_path / "new" / "r.json"
    assert path.read_text() == json.dumps({"b": [1, 2], "a": "σ"}, indent=2) + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary file left


def test_baseline_folders_are_safe_names():
    from vibe.evaluation.synthetic_bench import _label_dir

    assert _label_dir("G-only") == "G-only"
    assert _label_dir("same weights / v2") == "same_weights_v2"
    assert _label_dir("**") == "baseline"


def test_parse_baselines_with_demo_options():
    from vibe.evaluation.synthetic_bench import parse_baselines

    got = parse_baselines(["plain=a.pt", "raw = b.pt, centred_sigma=0 , fit_camera=false", "s=c.pt,smooth=YES"])
    assert got == {
        "plain": Path("a.pt"),
        "raw": (Path("b.pt"), {"centred_sigma": 0.0, "fit_camera": False}),
        "s": (Path("c.pt"), {"smooth": True}),
    }
    with pytest.raises(ValueError, match="expected NAME=CHECKPOINT"):
        parse_baselines(["nopath"])
    with pytest.raises(ValueError, match="given twice"):
        parse_baselines(["a=1.pt", "a=2.pt,smooth=false"])
    with pytest.raises(ValueError, match="baseline option 'speed=2'"):
        parse_baselines(["a=1.pt,speed=2"])


def test_pool_results_of_one_and_of_mismatched_runs(videos):
    import datetime

    run = {"bench_dir": "a", "rows": table_rows(videos, "m.pt", False, []), "videos": videos, "n_videos": 2,
           "n_frames": 10, "n_matched_frames": 5, "created": "2000-01-01T00:00:00+00:00"}  # fmt: skip
    pooled = pool_results([run])
    assert [r["key"] for r in pooled["rows"]] == ["model", "mediapipe", "mediapipe_smoothed"]
    assert pooled["rows"][0]["metrics"] == pytest.approx(videos[0]["metrics"]["model"])
    assert [v["bench_dir"] for v in pooled["videos"]] == ["a", "a"] and pooled["bench_dir"] == ["a"]
    assert (pooled["n_videos"], pooled["n_frames"], pooled["n_matched_frames"]) == (2, 10, 5)
    assert datetime.datetime.fromisoformat(pooled["created"]).year > 2000  # stamped now, not copied
    assert "bench_dir" not in videos[0]  # the caller's entries are left as they were
    with pytest.raises(ValueError, match="nothing to pool"):
        pool_results([])
    with pytest.raises(ValueError, match="different rows"):
        pool_results([run, dict(run, rows=run["rows"][:2])])


def test_write_json_makes_nested_folders_and_replaces_a_file(tmp_path):
    from vibe.evaluation.synthetic_bench import write_json

    target = tmp_path / "a" / "b" / "r.json"
    write_json({"x": 1}, target)
    write_json({"x": 2}, target)  # again, into the folders that now exist
    assert target.read_text() == '{\n  "x": 2\n}\n' and [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_pck2d_box_is_per_frame():
    from vibe.evaluation.synthetic_scoring import pck2d

    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    target = np.stack([100 * square, 200 * square + 50])  # boxes of 100 and 200 px
    pred = target + [15.0, 0.0]  # 15 px: beyond 0.1 × 100, within 0.1 × 200
    assert pck2d(pred, target, np.ones((2, 4), bool)) == pytest.approx(50.0)
    far = np.stack([100 * square, 200 * square + 200])  # the second box from 200 to 400 px
    pred = far + np.array([[[5.0, 0.0]], [[30.0, 0.0]]])  # within 10 px; beyond 20 px (but within 40)
    assert pck2d(pred, far, np.ones((2, 4), bool)) == pytest.approx(50.0)
