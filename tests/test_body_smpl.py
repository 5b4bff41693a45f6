"""SMPL against smplx on a synthetic model written in the official file layout."""

from __future__ import annotations

import numpy as np
import pytest
import roma
import torch
from smpl_fixtures import synthetic_mean_params, synthetic_smpl_arrays, write_synthetic_smpl

from vibe.assets import MissingAssetError
from vibe.body import joint_sets
from vibe.body.smpl import SMPL, load_mean_params, load_smpl_arrays

smplx = pytest.importorskip("smplx", reason="smplx is the reference implementation (test extra)")

# The original 49 keypoints as indices into [24 joints, 21 smplx vertex joints,
# 9 extra-regressor joints] (DESIGN.md, facts from the original release).
SPIN49_SOURCES = [
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27,
]  # fmt: skip
H36M_TO_14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("smpl")
    write_synthetic_smpl(root / "pkl")
    write_synthetic_smpl(root / "npz", fmt="npz")
    return root


@pytest.fixture(scope="module")
def model(folders):
    return SMPL(folders / "pkl")


@pytest.fixture(scope="module")
def reference(folders):
    """smplx.SMPL on the same arrays (from the .npz: smplx's own .pkl path would need chumpy)."""
    with np.load(folders / "npz" / "SMPL_NEUTRAL.npz") as npz:
        struct = smplx.utils.Struct(**{k: npz[k] for k in npz.files})
    return smplx.SMPL(model_path=str(folders / "npz"), data_struct=struct)


def _random_inputs(batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    pose_aa = torch.randn(batch, 24, 3, generator=g) * 0.6
    betas = torch.randn(batch, 10, generator=g) * 1.5
    transl = torch.randn(batch, 3, generator=g)
    return pose_aa, betas, transl


def _smplx_forward(reference, pose_aa, betas, transl):
    batch = pose_aa.shape[0]
    with torch.no_grad():
        return reference(
            betas=betas,
            global_orient=pose_aa[:, 0],
            body_pose=pose_aa[:, 1:].reshape(batch, 69),
            transl=transl,
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_smplx(model, reference, seed):
    pose_aa, betas, transl = _random_inputs(5, seed)
    out = model(roma.rotvec_to_rotmat(pose_aa), betas, transl)
    ref = _smplx_forward(reference, pose_aa, betas, transl)
    assert out.vertices.shape == (5, 6890, 3) and out.joints.shape == (5, 24, 3)
    torch.testing.assert_close(out.vertices, ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.joints, ref.joints[:, :24], atol=1e-5, rtol=0)


def test_joint_rotations_compose_along_the_tree(model):
    pose_aa, betas, _ = _random_inputs(3, 2)
    pose_rotmat = roma.rotvec_to_rotmat(pose_aa)
    out = model(pose_rotmat, betas)
    for j, parent in enumerate(SMPL_PARENTS):
        expected = pose_rotmat[:, 0] if parent < 0 else out.joints_rotmat[:, parent] @ pose_rotmat[:, j]
        torch.testing.assert_close(out.joints_rotmat[:, j], expected, atol=1e-6, rtol=0)
    # A bone keeps its rest length and is rotated by the parent's global rotation.
    rest = model(model.rest_pose(3), betas).joints
    for j, parent in enumerate(SMPL_PARENTS[1:], start=1):
        bone_rest = rest[:, j] - rest[:, parent]
        bone = out.joints[:, j] - out.joints[:, parent]
        expected = (out.joints_rotmat[:, parent] @ bone_rest[..., None])[..., 0]
        torch.testing.assert_close(bone, expected, atol=1e-5, rtol=0)


def test_rest_pose_is_the_shaped_template(folders):
    model64 = SMPL(folders / "pkl", dtype=torch.float64)
    arrays = synthetic_smpl_arrays()
    betas = torch.randn(2, 10, dtype=torch.float64)
    out = model64(model64.rest_pose(2), betas)
    assert out.vertices.dtype == torch.float64
    expected = arrays["v_template"] + np.einsum("bs,vcs->bvc", betas.numpy(), arrays["shapedirs"])
    np.testing.assert_allclose(out.vertices.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(out.joints.numpy(), arrays["J_regressor"] @ expected, atol=1e-12)


def test_default_shape_and_translation_are_zero(model):
    pose_rotmat = roma.rotvec_to_rotmat(_random_inputs(2, 3)[0])
    implicit = model(pose_rotmat)
    explicit = model(pose_rotmat, torch.zeros(2, 10), torch.zeros(2, 3))
    torch.testing.assert_close(implicit.vertices, explicit.vertices)


def test_batched_equals_one_by_one(model):
    pose_aa, betas, transl = _random_inputs(3, 4)
    pose_rotmat = roma.rotvec_to_rotmat(pose_aa)
    batched = model(pose_rotmat, betas, transl).vertices
    for i in range(3):
        single = model(pose_rotmat[i : i + 1], betas[i : i + 1], transl[i : i + 1]).vertices
        torch.testing.assert_close(batched[i : i + 1], single, atol=1e-6, rtol=0)


def test_spin49_matches_smplx_assembly(model, reference, folders):
    pose_aa, betas, transl = _random_inputs(4, 5)
    out = model(roma.rotvec_to_rotmat(pose_aa), betas, transl)
    ref = _smplx_forward(reference, pose_aa, betas, transl)
    assert ref.joints.shape[1] == 45  # 24 joints + smplx's 21 vertex joints
    extra = torch.as_tensor(np.load(folders / "pkl" / "J_regressor_extra.npy"), dtype=torch.float32)
    sources = torch.cat([ref.joints, torch.einsum("kv,bvc->bkc", extra, ref.vertices)], dim=1)
    expected = sources[:, SPIN49_SOURCES]
    torch.testing.assert_close(model.keypoints(out, "spin49"), expected, atol=1e-5, rtol=0)


def test_evaluation_joints_match_h36m_regressor(model, reference, folders):
    pose_aa, betas, transl = _random_inputs(4, 6)
    out = model(roma.rotvec_to_rotmat(pose_aa), betas, transl)
    ref = _smplx_forward(reference, pose_aa, betas, transl)
    h36m = np.load(folders / "pkl" / "J_regressor_h36m.npy")
    expected = np.einsum("kv,bvc->bkc", h36m, ref.vertices.double().numpy())
    np.testing.assert_allclose(model.keypoints(out, "h36m17").numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(model.keypoints(out, "eval14").numpy(), expected[:, H36M_TO_14], atol=1e-5)
    torch.testing.assert_close(model.keypoints(out, "smpl24"), out.joints)


def test_keypoint_sets_are_named_consistently(model):
    sets = model.keypoint_sets
    sizes = {name: len(names) for name, names in sets.items()}
    assert sizes == {"smpl24": 24, "spin49": 49, "eval14": 14, "h36m17": 17}
    assert [sets["h36m17"][i] for i in H36M_TO_14] == sets["eval14"]
    assert sets["spin49"][25:39] == sets["eval14"]
    assert joint_sets.indices_of(joint_sets.SPIN49, joint_sets.EVAL14) == list(range(25, 39))
    assert [name.removeprefix("op_") for name in joint_sets.SPIN49[:25]] == list(joint_sets.BODY25)
    with pytest.raises(KeyError, match="no keypoint set"):
        model.keypoints(model(model.rest_pose(1)), "coco17")


def test_flip_permutation_swaps_sides():
    names = joint_sets.SPIN49
    perm = joint_sets.flip_permutation(names)
    assert sorted(perm) == list(range(len(names)))  # a permutation
    assert names[perm[names.index("op_left_big_toe")]] == "op_right_big_toe"
    assert names[perm[names.index("right_wrist")]] == "left_wrist"
    assert names[perm[names.index("nose")]] == "nose"
    coco = joint_sets.flip_permutation(joint_sets.COCO17)
    assert coco == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_description_matches_file(model, reference):
    assert model.num_vertices == 6890 and model.num_joints == 24 and model.shape_dim == 10
    assert model.parents.tolist() == SMPL_PARENTS == reference.parents.tolist()
    assert model.faces.shape == (13776, 3) and model.faces.dtype == torch.long
    torch.testing.assert_close(model.faces, reference.faces_tensor)
    assert model.state_dict() == {}  # licensed arrays never end up in checkpoints


def test_pkl_and_npz_give_identical_arrays(folders):
    from_pkl = load_smpl_arrays(folders / "pkl" / "SMPL_NEUTRAL.pkl")
    from_npz = load_smpl_arrays(folders / "npz" / "SMPL_NEUTRAL.npz")
    generated = synthetic_smpl_arrays()
    assert from_pkl.keys() == from_npz.keys()
    for key, value in from_pkl.items():
        np.testing.assert_array_equal(value, from_npz[key], err_msg=key)
        np.testing.assert_array_equal(value, generated[key].astype(value.dtype), err_msg=key)
    pkl_model, npz_model = SMPL(folders / "pkl"), SMPL(folders / "npz")
    for (name, a), (_, b) in zip(pkl_model.named_buffers(), npz_model.named_buffers(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_gender_selects_the_file(tmp_path):
    write_synthetic_smpl(tmp_path, gender="FEMALE", seed=7)
    female = SMPL(tmp_path, gender="female")
    expected = synthetic_smpl_arrays(seed=7)["v_template"]
    np.testing.assert_allclose(female.v_template.numpy(), expected, atol=1e-6)
    with pytest.raises(MissingAssetError, match="SMPL_MALE.pkl"):
        SMPL(tmp_path, gender="male")
    with pytest.raises(ValueError, match="gender"):
        SMPL(tmp_path, gender="other")


def test_missing_files_are_each_named(tmp_path):
    with pytest.raises(MissingAssetError) as err:
        SMPL(tmp_path)
    message = str(err.value)
    for name in ("SMPL_NEUTRAL.pkl", "J_regressor_extra.npy", "J_regressor_h36m.npy"):
        assert name in message and str(tmp_path / name) in message
    missing = sorted(p.name for p in err.value.missing)
    assert missing == ["J_regressor_extra.npy", "J_regressor_h36m.npy", "SMPL_NEUTRAL.pkl"]

    write_synthetic_smpl(tmp_path)
    (tmp_path / "J_regressor_h36m.npy").unlink()
    with pytest.raises(MissingAssetError) as err:
        SMPL(tmp_path)
    assert [p.name for p in err.value.missing] == ["J_regressor_h36m.npy"]


def test_default_folder_comes_from_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VIBE_DATA_DIR", str(tmp_path))
    with pytest.raises(MissingAssetError, match=str(tmp_path / "smpl" / "SMPL_NEUTRAL.pkl")):
        SMPL()
    write_synthetic_smpl(tmp_path / "smpl")
    assert SMPL().num_vertices == 6890


def test_mean_params(folders, tmp_path):
    params = load_mean_params(folders / "pkl")
    expected = synthetic_mean_params()
    assert params.pose_rot6d.shape == (144,) and params.shape.shape == (10,) and params.cam.shape == (3,)
    np.testing.assert_allclose(params.pose_rot6d.numpy(), expected["pose"], atol=1e-7)
    np.testing.assert_allclose(params.shape.numpy(), expected["shape"], atol=1e-7)
    np.testing.assert_allclose(params.cam.numpy(), expected["cam"], atol=1e-7)
    # The 6D layout is roma's: special Gram-Schmidt of each (3, 2) block is a rotation.
    rotmats = roma.special_gramschmidt(params.pose_rot6d.view(24, 3, 2).double())
    torch.testing.assert_close(rotmats[..., :2], params.pose_rot6d.view(24, 3, 2).double(), atol=1e-6, rtol=0)
    with pytest.raises(MissingAssetError, match="smpl_mean_params.npz"):
        load_mean_params(tmp_path)


def test_rejects_malformed_inputs(model):
    with pytest.raises(ValueError, match="pose_rotmat"):
        model(torch.eye(3).expand(2, 23, 3, 3))
    with pytest.raises(ValueError, match="shape"):
        model(model.rest_pose(2), torch.zeros(2, 11))
    with pytest.raises(ValueError, match="transl"):
        model(model.rest_pose(2), None, torch.zeros(3))


def test_gradients_reach_pose_and_shape(model):
    pose_rotmat = roma.rotvec_to_rotmat(_random_inputs(1, 8)[0]).requires_grad_(True)
    betas = torch.zeros(1, 10, requires_grad=True)
    out = model(pose_rotmat, betas)
    model.keypoints(out, "spin49").square().sum().backward()
    assert pose_rotmat.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0



def test_gradients_pass_gradcheck(folders, monkeypatch):
    """Float64 gradcheck of the vertices and joints over two chunks of the CPU skinning loop."""
    import vibe.body.smpl as smpl_module

    for steps in ("_SKIN_FRAMES_ONE_THREAD", "_SKIN_FRAMES_THREADED"):  # 4 frames per step, any thread count
        monkeypatch.setattr(smpl_module, steps, 4)
    model64 = SMPL(folders / "pkl", dtype=torch.float64)
    pose_aa, betas, transl = _random_inputs(5, 9)  # 5 frames: two chunks (4 + 1)
    inputs = (roma.rotvec_to_rotmat(pose_aa.double()), betas.double(), transl.double())

    def posed(pose_rotmat, shape, translation):
        out = model64(pose_rotmat, shape, translation)
        return out.vertices, out.joints

    inputs = tuple(x.requires_grad_(True) for x in inputs)
    assert torch.autograd.gradcheck(posed, inputs, fast_mode=True)
