"""`vibe view`'s scene (world frame and camera-frame fallback), its server and its command, without a browser."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from view_fixtures import CAM_POSITION, FRAMES, HALF_TURN_X, R_WORLD_CAM, BoxBody, posed, write_result_folder
from vibe.cli import app
from vibe.pipeline.outputs import write_results
from vibe.view.scene import find_videos, foot_joints, load_scene, quantise
from vibe.view.server import make_server, parse_range


@pytest.fixture(scope="module")
def body() -> BoxBody:
    return BoxBody()


def dequantised(person) -> np.ndarray:
    return person.centre + person.half * person.vertices_q.astype(np.float64) / 32767


def test_quantise_round_trips_within_half_a_step() -> None:
    points = np.random.default_rng(0).normal(size=(5, 40, 3)) * [0.3, 0.9, 0.2] + [1, 0.8, -4]
    q, centre, half = quantise(points)
    assert q.dtype == np.int16 and np.abs(q).max() == 32767
    assert np.abs(centre + half * q / 32767 - points).max() <= half / 32767 * 0.5 + 1e-12


def test_fallback_is_the_camera_frame_turned_upright(tmp_path: Path, body: BoxBody) -> None:
    arrays = write_result_folder(tmp_path / "clip", body, world=False)
    scene = load_scene(tmp_path / "clip", body=body)
    verts_cam, joints_cam = posed(body, arrays)
    expected = verts_cam * [1, -1, -1]  # x right, y down, z forward → y up, camera looking down -z
    (person,) = scene.people
    assert scene.frame == "camera" and "No world arrays" in scene.notes[0]
    assert np.abs(dequantised(person) - expected).max() <= person.half / 32767
    np.testing.assert_allclose(person.joints_disp, joints_cam * [1, -1, -1], atol=1e-5)
    np.testing.assert_array_equal(scene.cam_position_disp, 0)
    np.testing.assert_array_equal(scene.rotation_disp_cam, HALF_TURN_X)
    assert scene.ground_y == pytest.approx(expected[..., 1].min(), abs=person.half / 32767)
    assert scene.focal_px == 300 and (scene.width, scene.height) == (320, 240)


def test_world_arrays_place_the_body_and_the_camera(tmp_path: Path, body: BoxBody) -> None:
    arrays = write_result_folder(tmp_path / "clip", body, world=True)
    scene = load_scene(tmp_path / "clip", body=body)
    verts_cam, _ = posed(body, arrays)
    expected = verts_cam @ R_WORLD_CAM.T + CAM_POSITION  # the rigid move the fixture's world arrays encode
    (person,) = scene.people
    assert scene.frame == "world" and scene.notes == []
    assert np.abs(dequantised(person) - expected).max() <= person.half / 32767 + 2e-6  # + float32 storage
    np.testing.assert_allclose(scene.rotation_disp_cam, R_WORLD_CAM)
    np.testing.assert_allclose(scene.cam_position_disp, CAM_POSITION)
    assert scene.ground_y == 0.0
    assert scene.foot_joints == (3, 4)  # BoxBody's left_foot, right_foot
    assert person.summary()["foot_contact"][:2] == [[1, 1], [1, 0]]


def test_world_keypoints_that_disagree_with_the_posed_body_are_reported(tmp_path: Path, body: BoxBody) -> None:
    write_result_folder(tmp_path / "clip", body, world=True)
    path = tmp_path / "clip" / "results.npz"
    with np.load(path) as npz:
        saved = dict(npz)
    saved["track1/joints3d_world"] = saved["track1/joints3d_world"] + np.float32([0, 0.2, 0])
    np.savez(path, **saved)
    scene = load_scene(tmp_path / "clip", body=body)
    assert scene.frame == "world"
    assert len(scene.notes) == 1
    assert "person 1: joints3d_world is 20.0 cm from the body posed at transl_world" in scene.notes[0]


def test_videos_are_the_overlay_then_the_source(tmp_path: Path, body: BoxBody, monkeypatch) -> None:
    folder = tmp_path / "out" / "clip"
    write_result_folder(folder, body, world=False)
    meta = json.loads((folder / "meta.json").read_text())
    assert find_videos(folder, meta) == {"overlay": folder / "overlay.mp4"}
    (tmp_path / "out" / "source.mp4").write_bytes(b"\0")  # beside the result folder
    assert find_videos(folder, meta)["source"] == (tmp_path / "out" / "source.mp4").resolve()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "source.mp4").write_bytes(b"\0")  # relative to where the demo ran wins
    assert find_videos(folder, meta)["source"] == (tmp_path / "source.mp4").resolve()
    (folder / "overlay.mp4").unlink()
    assert list(find_videos(folder, {})) == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-10", (990, 999)),
     ("bytes=900-5000", (900, 999))],
)  # fmt: skip
def test_parse_range(header, expected) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-", "items=0-1", "bytes=0-1,4-5"])
def test_parse_range_rejects_what_cannot_be_served(header) -> None:
    with pytest.raises(ValueError):
        parse_range(header, 1000)


@pytest.fixture(scope="module")
def served(tmp_path_factory, body: BoxBody):
    """A running server for the world fixture folder; yields (base URL, scene, folder)."""
    folder = tmp_path_factory.mktemp("served") / "clip"
    write_result_folder(folder, body, world=True)
    scene = load_scene(folder, body=body)
    server = make_server(scene, port=0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", scene, folder
    server.shutdown()
    server.server_close()


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), b""


def test_server_serves_the_page_the_scene_and_the_arrays(served) -> None:
    base, scene, _ = served
    status, headers, page = get(base)
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"viewer.js" in page
    status, headers, _ = get(base + "static/vendor/three/three.module.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert get(base + "static/vendor/three/LICENSE")[0] == 200
    summary = json.loads(get(base + "data/scene.json")[2])
    assert summary["frame"] == "world" and len(summary["frame_times_s"]) == FRAMES
    faces = np.frombuffer(get(base + summary["faces_url"])[2], "<u4").reshape(-1, 3)
    np.testing.assert_array_equal(faces, scene.faces)
    (person,) = summary["people"]
    verts = np.frombuffer(get(base + person["vertices_url"])[2], "<i2")
    np.testing.assert_array_equal(verts, scene.people[0].vertices_q.ravel())


def test_server_serves_video_byte_ranges(served) -> None:
    base, _, folder = served
    video = (folder / "overlay.mp4").read_bytes()
    status, headers, data = get(base + "video/0")
    assert status == 200 and data == video and headers["Accept-Ranges"] == "bytes"
    status, headers, data = get(base + "video/0", {"Range": "bytes=100-199"})
    assert status == 206 and data == video[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(video)}"
    assert get(base + "video/0", {"Range": f"bytes={len(video)}-"})[0] == 416


@pytest.mark.parametrize("path", ["video/1", "data/track2.bin", "static/../scene.py", "static/%2e%2e/scene.py", "x"])
def test_server_refuses_what_it_does_not_serve(served, path: str) -> None:
    base, _, _ = served
    assert get(base + path)[0] == 404


def test_view_command_wants_a_result_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["view", str(tmp_path), "--no-browser"])
    assert result.exit_code == 2
    assert "no results.npz" in result.output and len(result.output.strip().splitlines()) == 1


def test_view_command_names_an_unknown_body_model(tmp_path: Path, body: BoxBody) -> None:
    write_result_folder(tmp_path / "clip", body, world=False, video="none")  # meta.json: body_model "toy"
    result = CliRunner().invoke(app, ["view", str(tmp_path / "clip"), "--no-browser", "--port", "0"])
    assert result.exit_code == 2 and "unknown body model 'toy'" in result.output


def test_view_command_reports_a_taken_port(tmp_path: Path, body: BoxBody, monkeypatch) -> None:
    write_result_folder(tmp_path / "clip", body, world=False, video="none")
    monkeypatch.setattr("vibe.view.scene.load_body", lambda meta: body)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["view", str(tmp_path / "clip"), "--no-browser", "--port", str(port)])
    assert result.exit_code == 2 and f"cannot serve on port {port}" in result.output


def test_view_command_prints_the_url_and_opens_the_browser_unless_told_not_to(tmp_path, body, monkeypatch) -> None:
    write_result_folder(tmp_path / "clip", body, world=False, video="none")
    monkeypatch.setattr("vibe.view.scene.load_body", lambda meta: body)
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)

    def interrupted(server, poll_interval=0.5):  # Ctrl-C as soon as it serves
        raise KeyboardInterrupt

    monkeypatch.setattr("vibe.view.server.ThreadingHTTPServer.serve_forever", interrupted)
    for flags, expected_opened in (([], True), (["--no-browser"], False)):
        opened.clear()
        result = CliRunner().invoke(app, ["view", str(tmp_path / "clip"), "--port", "0", *flags])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("vibe view: http://127.0.0.1:")
        assert opened == ([result.output.split()[-1]] if expected_opened else [])


def test_a_run_without_people_still_has_a_scene(tmp_path: Path, body: BoxBody) -> None:
    write_result_folder(tmp_path / "clip", body, world=False, video="none")
    write_results(tmp_path / "clip" / "results.npz", np.arange(FRAMES) / 10, {})  # `vibe demo` found nobody
    scene = load_scene(tmp_path / "clip", body=body)
    summary = json.loads(json.dumps(scene.summary()))
    assert summary["people"] == [] and len(summary["frame_times_s"]) == FRAMES and scene.ground_y == 0.0


def test_foot_joints_by_name() -> None:
    anny = ["Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightLeg", "RightFoot"]
    smpl = ["pelvis", "left_hip", "right_hip", "left_ankle", "right_ankle", "left_foot", "right_foot"]
    assert foot_joints(anny) == (4, 7) and foot_joints(smpl) == (5, 6)
    assert foot_joints(["j0", "j1", "left_foot"]) is None
