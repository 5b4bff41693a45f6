"""The restricted unpickler: loads the SMPL-family file contents, refuses everything else."""

from __future__ import annotations

import collections
import datetime
import io
import os
import pickle
import pickletools

import numpy as np
import pytest
import scipy.sparse
from smpl_fixtures import ChLike, OldCscLike, temporary_class_paths

from vibe.io import load_pickle, safe_loads


class SelectLike:
    """Pickles like ``chumpy.reordering.Select`` (state: ``a``, ``idxs``, ``preferred_shape``)."""

    def __init__(self, a: object, idxs: np.ndarray, preferred_shape: tuple[int, ...]):
        self.state = {"a": a, "idxs": idxs, "preferred_shape": preferred_shape, "_dirty_vars": set()}

    def __getstate__(self) -> dict:
        return self.state


class AddLike:
    """Pickles like ``chumpy.ch_ops.add``: a chumpy expression the loader must not evaluate."""

    def __getstate__(self) -> dict:
        return {"a": 1, "b": 2}


class RunsCommand:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


def _chumpy_pickle(obj: object) -> bytes:
    classes = {"chumpy.ch.Ch": ChLike, "chumpy.reordering.Select": SelectLike, "chumpy.ch_ops.add": AddLike}
    with temporary_class_paths(classes):
        return pickle.dumps(obj, protocol=2)


def _globals_in(data: bytes) -> set[str]:
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def test_chumpy_ch_becomes_its_array():
    x = np.random.default_rng(0).normal(size=(5, 3, 2))
    data = _chumpy_pickle({"shapedirs": ChLike(x), "nested": [ChLike(x[0]), (1, "a")]})
    assert "chumpy.ch Ch" in _globals_in(data)
    loaded = safe_loads(data)
    assert isinstance(loaded["shapedirs"], np.ndarray)
    np.testing.assert_array_equal(loaded["shapedirs"], x)
    np.testing.assert_array_equal(loaded["nested"][0], x[0])
    assert loaded["nested"][1] == (1, "a")


def test_chumpy_select_is_evaluated_like_chumpy():
    source = np.arange(24.0).reshape(4, 3, 2)
    idxs = np.array([5, 0, 7, 7, 23, 1])
    data = _chumpy_pickle({"shapedirs": SelectLike(ChLike(source), idxs, (2, 3))})
    expected = source.ravel()[idxs].reshape(2, 3)  # chumpy's Select.compute_r
    np.testing.assert_array_equal(safe_loads(data)["shapedirs"], expected)


def test_other_chumpy_classes_are_refused():
    data = _chumpy_pickle({"v": AddLike()})
    with pytest.raises(pickle.UnpicklingError, match=r"chumpy\.ch_ops\.add"):
        safe_loads(data)


def test_code_execution_is_refused(tmp_path, capfd):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": RunsCommand()}, protocol=2))
    module = os.system.__module__  # 'posix' on Linux, 'nt' on Windows
    with pytest.raises(pickle.UnpicklingError, match=rf"{module}\.system"):
        load_pickle(path)
    assert "should-never-run" not in capfd.readouterr().out


def test_harmless_looking_class_is_refused_unless_allowed():
    data = pickle.dumps({"day": datetime.date(2020, 1, 2)})
    with pytest.raises(pickle.UnpicklingError, match=r"datetime\.date"):
        safe_loads(data)
    assert safe_loads(data, extra_allowed=["datetime.date"]) == {"day": datetime.date(2020, 1, 2)}


def test_old_scipy_csc_path_is_rebuilt():
    dense = np.zeros((4, 9))
    dense[[0, 1, 1, 3], [2, 0, 8, 5]] = [0.5, 1.5, -2.0, 3.0]
    with temporary_class_paths({"scipy.sparse.csc.csc_matrix": OldCscLike}):
        data = pickle.dumps({"J_regressor": OldCscLike(dense)}, protocol=2)
    assert "scipy.sparse.csc csc_matrix" in _globals_in(data)
    loaded = safe_loads(data)["J_regressor"]
    assert isinstance(loaded, scipy.sparse.csc_matrix)
    np.testing.assert_array_equal(loaded.toarray(), dense)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_current_scipy_sparse_matrices_round_trip(protocol):
    dense = np.random.default_rng(1).normal(size=(6, 7)) * (np.random.default_rng(2).random((6, 7)) > 0.6)
    originals = {"csc": scipy.sparse.csc_matrix(dense), "csr": scipy.sparse.csr_matrix(dense)}
    loaded = safe_loads(pickle.dumps(originals, protocol=protocol))
    assert loaded["csc"].format == "csc" and loaded["csr"].format == "csr"
    for value in loaded.values():
        np.testing.assert_array_equal(value.toarray(), dense)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_gmm_prior_layout_loads(tmp_path, protocol):
    # gmm_08.pkl: a dict of arrays (8 Gaussians over the 69-D body pose).
    rng = np.random.default_rng(3)
    gmm = {
        "means": rng.normal(size=(8, 69)),
        "covars": rng.normal(size=(8, 69, 69)),
        "weights": rng.random(8),
    }
    path = tmp_path / "gmm_08.pkl"
    path.write_bytes(pickle.dumps(gmm, protocol=protocol))
    loaded = load_pickle(path)
    assert loaded.keys() == gmm.keys()
    for key, value in gmm.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype


def test_numpy_scalars_dtypes_sets_and_ordered_dicts():
    obj = collections.OrderedDict(
        a=np.float32(1.5), b=np.int64(-3), c=np.dtype("<u4"), d={1, 2}, e=np.array(["x", "yz"])
    )
    loaded = safe_loads(pickle.dumps(obj, protocol=2))
    assert type(loaded) is collections.OrderedDict and list(loaded) == list(obj)
    assert loaded["a"] == obj["a"] and loaded["a"].dtype == np.float32
    assert loaded["b"] == -3 and loaded["b"].dtype == np.int64
    assert loaded["c"] == np.dtype("<u4") and loaded["d"] == {1, 2}
    np.testing.assert_array_equal(loaded["e"], obj["e"])


def test_python2_protocol0_pickle_with_old_module_names():
    # Hand-written Python-2 pickle: a chumpy Ch rebuilt through copy_reg._reconstructor
    # (how protocol 0 stores new-style objects) holding x = [1.0, 2.0], plus a
    # __builtin__.set and a Python-2 str key.
    data = (
        b"(dp0\nS'shapedirs'\np1\n"
        b"ccopy_reg\n_reconstructor\np2\n(cchumpy.ch\nCh\np3\nc__builtin__\nobject\np4\nNtp5\nRp6\n"
        b"(dp7\nS'x'\np8\n(lp9\nF1.0\naF2.0\nasS'_dirty_vars'\np10\n"
        b"c__builtin__\nset\np11\n((lp12\ntp13\nRp14\nsbsS'ids'\np15\n"
        b"g11\n((lp16\nI3\naI4\natp17\nRp18\ns."
    )
    loaded = safe_loads(data)
    np.testing.assert_array_equal(loaded["shapedirs"], np.array([1.0, 2.0]))
    assert loaded["ids"] == {3, 4}


def test_persistent_ids_are_refused():
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):
            return "pid" if obj == "external" else None

    buffer = io.BytesIO()
    WithPid(buffer, protocol=2).dump(["external"])
    with pytest.raises(pickle.UnpicklingError, match="persistent"):
        safe_loads(buffer.getvalue())
