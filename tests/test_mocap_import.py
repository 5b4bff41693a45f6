"""`import_mocap` dispatch on file types, with the committed CMU excerpts."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from vibe.data.mocap import find_asf, import_mocap, load_asf_amc

DATA = Path(__file__).parent / "data" / "mocap"


@pytest.fixture
def subject_dir(tmp_path):
    folder = tmp_path / "02"
    folder.mkdir()
    shutil.copy(DATA / "02.asf", folder / "02.asf")
    shutil.copy(DATA / "02_01_f101-160.amc", folder / "02_01.amc")
    return folder


def test_amc_finds_its_subject_asf_and_resamples(subject_dir):
    (motion,) = import_mocap([subject_dir / "02_01.amc"], fps=30.0)
    assert motion.fps == 30.0 and motion.num_frames == 15 and motion.name == "02_01"
    full = load_asf_amc(subject_dir / "02.asf", subject_dir / "02_01.amc")
    np.testing.assert_array_equal(motion.local_rotmat, full.local_rotmat[::4])


def test_explicit_asf_and_mixed_formats(subject_dir, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(subject_dir / "02_01.amc", other / "walk.amc")
    np.savez(tmp_path / "amass.npz", poses=np.zeros((8, 156)), betas=np.zeros(16), trans=np.zeros((8, 3)),
             mocap_framerate=np.array(60.0), gender=np.array("male"))  # fmt: skip
    motions = import_mocap(
        [subject_dir / "02.asf", other / "walk.amc", DATA / "131_01_f301-360.bvh", tmp_path / "amass.npz"],
        fps=None,
        bvh_scale=0.0254 / 0.45,
    )
    assert [m.meta["format"] for m in motions] == ["asf/amc", "bvh", "amass"]
    assert [m.fps for m in motions] == [120.0, 120.0, 60.0]
    assert motions[0].meta["skeleton_source"] == str(subject_dir / "02.asf")


def test_find_asf_picks_the_longest_stem_prefix(tmp_path):
    # HDM05 keeps two actors' skeletons in each class folder.
    for name in ("HDM_bd.asf", "HDM_bk.asf", "HDM.asf"):
        (tmp_path / name).write_text("")
    assert find_asf(tmp_path / "HDM_bd_walk_01_120.amc") == tmp_path / "HDM_bd.asf"
    assert find_asf(tmp_path / "HDM_bk_kick_03_120.amc") == tmp_path / "HDM_bk.asf"
    assert find_asf(tmp_path / "HDM_xx_01.amc") == tmp_path / "HDM.asf"  # ends at a separator
    with pytest.raises(FileNotFoundError, match="HDM_bd.asf"):
        find_asf(tmp_path / "other_01.amc")  # the message names the candidates


def test_latin1_comments_read(tmp_path):
    """An AMC whose header comment is Latin-1 (HDM05's 'ü') reads like its ASCII twin."""
    source = DATA / "02_01_f101-160.amc"
    latin = tmp_path / "02_01.amc"
    latin.write_bytes(b"# M\xfcller, Bonn\n" + source.read_bytes())
    plain = load_asf_amc(DATA / "02.asf", source)
    other = load_asf_amc(DATA / "02.asf", latin)
    np.testing.assert_array_equal(other.local_rotmat, plain.local_rotmat)


def test_find_asf_failures(tmp_path):
    (tmp_path / "a.asf").write_text("")
    (tmp_path / "b.asf").write_text("")
    with pytest.raises(FileNotFoundError):
        find_asf(tmp_path / "x_01.amc")
    assert find_asf(tmp_path / "a_07.amc") == tmp_path / "a.asf"
    (tmp_path / "clip.fbx").write_text("")
    with pytest.raises(ValueError, match="not a mocap clip"):
        import_mocap([tmp_path / "clip.fbx"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        import_mocap([tmp_path / "absent.bvh"])
