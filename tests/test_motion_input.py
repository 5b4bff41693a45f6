"""`load_motion`, the one reader of every command: databases, mocap files, AMASS, options, licences."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vibe.body.anny import Anny
from vibe.data.mocap import MocapOptions, read_bvh
from vibe.data.mocap.readers import detect_bvh_scale
from vibe.data.motion_db import MotionDB
from vibe.data.motion_input import UNKNOWN_LICENCE, load_motion
from vibe.training.data import load_training_motion

pytestmark = pytest.mark.anny

DATA = Path(__file__).parent / "data" / "mocap"
CMU_UNIT_M = 0.0254 / 0.45


@pytest.fixture(scope="module")
def body() -> Anny:
    return Anny()


@pytest.fixture(scope="module")
def imported(body: Anny, tmp_path_factory) -> Path:
    """The committed ASF/AMC excerpt imported with a licence, saved as a database."""
    out = tmp_path_factory.mktemp("db") / "walk.npz"
    load_motion([DATA / "02.asf", DATA / "02_01_f101-160.amc"], body, MocapOptions(licence="CMU terms")).db.save(out)
    return out


def test_units_are_detected_from_the_rest_skeleton() -> None:
    skeleton = read_bvh(DATA / "131_01_f301-360.bvh").skeleton  # CMU ASF units
    scale, unit, extent = detect_bvh_scale(skeleton)
    assert scale == pytest.approx(CMU_UNIT_M) and unit.startswith("CMU") and 20 < extent < 40
    for factor, name in ((CMU_UNIT_M / 0.01, "centimetres"), (CMU_UNIT_M, "metres"), (CMU_UNIT_M / 0.0254, "inches"),
                         (CMU_UNIT_M / 0.001, "millimetres")):  # fmt: skip
        scaled = type(skeleton)(skeleton.joint_names, skeleton.parents, skeleton.offsets * factor)
        assert detect_bvh_scale(scaled)[1] == name


def test_a_database_is_read_as_it_is_and_its_licence_can_be_replaced(body: Anny, imported: Path) -> None:
    db = MotionDB.load(imported)
    same = load_motion([imported], body).db
    np.testing.assert_array_equal(same.quat_xyzw, db.quat_xyzw)
    assert list(same.licence) == ["CMU terms"] and list(same.subject) == ["02"]
    assert list(load_motion([imported], body, MocapOptions(licence="other")).db.licence) == ["other"]


def test_databases_and_files_mix_and_a_missing_licence_says_so(body: Anny, imported: Path, tmp_path: Path) -> None:
    bvh = tmp_path / "131" / "131_01.bvh"
    bvh.parent.mkdir()
    shutil.copy(DATA / "131_01_f301-360.bvh", bvh)
    loaded = load_motion([imported, bvh.parent], body)
    assert loaded.db.num_clips == 2 and list(loaded.db.subject) == ["02", "131"]
    assert list(loaded.db.licence) == ["CMU terms", UNKNOWN_LICENCE]
    assert [f.route for f in loaded.fits] == ["bone-for-bone"]  # only the file was retargeted
    assert loaded.label == "walk + 1 more"


def test_a_database_of_another_body_is_refused(body: Anny, imported: Path, tmp_path: Path) -> None:
    db = MotionDB.load(imported)
    other = tmp_path / "smpl.npz"
    db.body_model = "smpl"
    db.save(other)
    with pytest.raises(ValueError, match="not motion of this"):
        load_motion([other], body)
    with pytest.raises(ValueError, match="no .amc, .bvh"):
        load_motion([tmp_path / "smpl.npz", DATA / "02.asf"][1:], body)


def test_amass_clips_stand_on_the_floor_in_y_up(body: Anny, tmp_path: Path) -> None:
    """A T-pose stood up from AMASS's z-up world: Anny upright, arms level, feet on the floor."""
    frames = 3
    poses = np.zeros((frames, 156))
    poses[:, :3] = Rotation.from_euler("x", 90, degrees=True).as_rotvec()  # body y up → world z up
    np.savez(tmp_path / "clip_poses.npz", poses=poses, trans=np.tile([0.3, -0.2, 0.9], (frames, 1)),
             betas=np.zeros(16), mocap_framerate=np.array(30.0), gender=np.array("female"))  # fmt: skip
    loaded = load_motion([tmp_path / "clip_poses.npz"], body, MocapOptions(fps=None))
    assert [f.route for f in loaded.fits] == ["ik"] and loaded.fits[0].mean_mm < 40
    rotmat, transl = loaded.db.clip(0)
    with torch.no_grad():
        joints = body(torch.as_tensor(rotmat), shape=torch.as_tensor(loaded.db.shape[:1]).expand(frames, -1),
                      transl=torch.as_tensor(transl)).joints.numpy()  # fmt: skip
    y = {n: joints[:, body.joint_names.index(n), 1] for n in ("Head", "Hips", "LeftArm", "LeftHand", "LeftFoot")}
    assert np.all(y["Head"] - y["Hips"] > 0.4)
    assert np.all(np.abs(y["LeftHand"] - y["LeftArm"]) < 0.08)  # a T-pose, not Anny's A-pose
    assert np.all(np.abs(y["LeftFoot"] - 0.08) < 0.05)  # the ankle above the floor


def test_training_reads_mocap_files_with_the_same_options(body: Anny, tmp_path: Path) -> None:
    folder = tmp_path / "131"
    folder.mkdir()
    shutil.copy(DATA / "131_01_f301-360.bvh", folder / "131_01.bvh")
    db = load_training_motion(folder, body, {"bvh_scale": CMU_UNIT_M, "licence": "CMU terms", "fps": 30})
    assert db.num_clips == 1 and list(db.licence) == ["CMU terms"] and db.fps[0] == 30
    assert db.body_model.startswith("anny")
