"""A restricted unpickler for the few pickled files the project reads.

The licensed SMPL files (``SMPL_*.pkl``) and the SMPLify prior (``gmm_08.pkl``)
are Python-2 pickles. Loading them with plain :func:`pickle.load` would run
any callable the file names, so this module resolves only an explicit
allow-list of globals: numpy array / dtype / scalar reconstruction, scipy
sparse CSC/CSR matrices, ``set``, ``OrderedDict`` and the two ``chumpy``
classes found in SMPL-family files. Everything else raises
:class:`pickle.UnpicklingError` naming the refused ``module.name``.

chumpy is not needed: its objects are read into stand-ins and turned into
plain numpy arrays after loading. A ``chumpy.ch.Ch`` pickles its instance
``__dict__`` whose ``"x"`` entry is the wrapped array; a
``chumpy.reordering.Select`` holds ``a`` (another node), ``idxs`` and
``preferred_shape`` and evaluates to ``a.ravel()[idxs].reshape(preferred_shape)``.
Scipy sparse matrices are likewise rebuilt from their pickled
``data``/``indices``/``indptr`` arrays through the public constructor, so files
written by old scipy versions load with the installed one.
"""

from __future__ import annotations

import codecs
import collections
import copyreg
import importlib
import io
import logging
import pickle
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_pickle", "safe_loads", "RestrictedUnpickler", "numpy_core"]

log = logging.getLogger(__name__)

# Python-2 pickles name a few standard modules by their old spelling.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _StandIn:
    """Base of the placeholder classes the unpickler builds instead of foreign objects.

    Pickle creates them with ``cls.__new__(cls, *args)`` and hands their
    state to ``__setstate__``; :func:`_materialize` later swaps each one for a
    plain numpy / scipy object.
    """

    kind = ""
    # Read-only default, replaced per instance by __setstate__.
    state: Mapping[str, Any] = types.MappingProxyType({})

    def __new__(cls, *args: Any, **kwargs: Any) -> _StandIn:
        # Constructor arguments of the original class are irrelevant: only the state is read.
        return object.__new__(cls)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"{self.kind}: expected a dict state, got {type(state).__name__}")
        self.state = state

    def value(self) -> Any:
        """The plain numpy / scipy object this stand-in represents."""
        raise NotImplementedError


class _ChumpyCh(_StandIn):
    kind = "chumpy.ch.Ch"

    def value(self) -> np.ndarray:
        if "x" not in self.state:
            raise pickle.UnpicklingError(f"{self.kind} without an 'x' array in its state")
        return np.asarray(_materialize(self.state["x"]))


class _ChumpySelect(_StandIn):
    kind = "chumpy.reordering.Select"

    def value(self) -> np.ndarray:
        try:
            source = np.asarray(_materialize(self.state["a"]))
            idxs = np.asarray(_materialize(self.state["idxs"]))
        except KeyError as err:
            raise pickle.UnpicklingError(f"{self.kind} state lacks {err}") from None
        result = source.ravel()[idxs]
        shape = self.state.get("preferred_shape")
        return result.reshape(shape) if shape is not None else result


class _SparseMatrix(_StandIn):
    format = ""

    def value(self) -> Any:
        import scipy.sparse

        state = self.state
        shape = state.get("_shape", state.get("shape"))
        try:
            arrays = tuple(np.asarray(_materialize(state[k])) for k in ("data", "indices", "indptr"))
        except KeyError as err:
            raise pickle.UnpicklingError(f"{self.kind} state lacks {err}") from None
        cls = scipy.sparse.csc_matrix if self.format == "csc" else scipy.sparse.csr_matrix
        return cls(arrays, shape=tuple(shape))


class _CscMatrix(_SparseMatrix):
    kind = "scipy.sparse.csc_matrix"
    format = "csc"


class _CsrMatrix(_SparseMatrix):
    kind = "scipy.sparse.csr_matrix"
    format = "csr"


def numpy_core(submodule: str) -> Any:
    """``numpy._core.<submodule>`` (numpy ≥ 1.26), else ``numpy.core.<submodule>``."""
    # numpy 2 moved numpy.core to numpy._core (1.26 already ships the new name as an alias).
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{submodule}")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """``(module, name) → object`` for every global a trusted file may reference."""
    multiarray = numpy_core("multiarray")
    numeric = numpy_core("numeric")
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("builtins", "set"): set,  # chumpy keeps a set of dirty variable names
        ("builtins", "object"): object,
        # Protocol 0/1 pickles rebuild plain objects through copyreg; the class it
        # receives is itself resolved through this table.
        ("copyreg", "_reconstructor"): copyreg._reconstructor,
        # Python 3 writes bytes as _codecs.encode(str, "latin1") under protocol < 3.
        ("_codecs", "encode"): codecs.encode,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("chumpy.ch", "Ch"): _ChumpyCh,
        ("chumpy.reordering", "Select"): _ChumpySelect,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer
    # scipy has moved its sparse classes between private modules over the years.
    for module in ("scipy.sparse", "scipy.sparse.csc", "scipy.sparse._csc"):
        table[(module, "csc_matrix")] = _CscMatrix
    for module in ("scipy.sparse", "scipy.sparse.csr", "scipy.sparse._csr"):
        table[(module, "csr_matrix")] = _CsrMatrix
    return table


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only allow-listed globals (see the module docstring).

    Args:
        file: binary file object to read from.
        extra_allowed: additional ``"module.name"`` globals to allow, resolved
            by normal import (for callers that trust a specific extra class).
    """

    def __init__(self, file: Any, extra_allowed: Iterable[str] = ()):
        # latin1 turns Python-2 byte strings (numpy buffers) into str that numpy accepts.
        super().__init__(file, encoding="latin1")
        self._allowed = _allowed_globals()
        self._extra = {tuple(name.rsplit(".", 1)) for name in extra_allowed}

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        key = (module, name)
        if key in self._allowed:
            return self._allowed[key]
        if key in self._extra:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: it is not in the safe-pickle allow-list "
            "(numpy arrays, scipy sparse matrices, chumpy Ch/Select, set, OrderedDict)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing a pickle with persistent ids")


def _materialize(obj: Any) -> Any:
    """Replace every stand-in inside dicts / lists / tuples by its numpy or scipy value."""
    if isinstance(obj, _StandIn):
        return obj.value()
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialize(v) for v in obj)
    return obj


def safe_loads(data: bytes, extra_allowed: Iterable[str] = ()) -> Any:
    """Unpickle ``data`` with the allow-list; chumpy / sparse stand-ins become numpy / scipy objects.

    Raises:
        pickle.UnpicklingError: the data references a global outside the allow-list.
    """
    obj = RestrictedUnpickler(io.BytesIO(data), extra_allowed=extra_allowed).load()
    return _materialize(obj)


def load_pickle(path: str | Path, extra_allowed: Iterable[str] = ()) -> Any:
    """Load a pickle file through :class:`RestrictedUnpickler` (see :func:`safe_loads`)."""
    path = Path(path)
    log.debug("loading pickle %s with the restricted unpickler", path)
    with path.open("rb") as f:
        obj = RestrictedUnpickler(f, extra_allowed=extra_allowed).load()
    return _materialize(obj)
