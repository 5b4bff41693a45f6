"""Read joblib files of numpy arrays without running pickled code.

``joblib.load`` is ``pickle`` underneath and would execute whatever a file
names. :func:`load_joblib_arrays` runs joblib's own array-reading unpickler
(it reads the raw array bytes written after each ``NumpyArrayWrapper``) but
resolves globals through an allow-list: joblib's array wrapper, numpy
arrays, dtypes and scalars. Object arrays are refused too, since their items
are nested pickles. Plain containers (dict, list, tuple), numbers, strings
and ``None`` need no global and load as usual.

Used for the original demo's ``vibe_output.pkl`` and the original
preprocessed dataset "db" files (``3dpw_test_db.pt``, ...).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler

from vibe.io.safe_pickle import numpy_core

__all__ = ["load_joblib_arrays"]


def _allowed_globals() -> dict[tuple[str, str], Any]:
    multiarray = numpy_core("multiarray")
    table: dict[tuple[str, str], Any] = {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"): NumpyArrayWrapper,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{core}.multiarray", "scalar")] = multiarray.scalar
    return table


class _RestrictedJoblibUnpickler(NumpyUnpickler):
    """joblib's unpickler with an allow-list of globals and no object arrays."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not an array type")
        return allowed[(module, name)]

    def load_build(self) -> None:
        # BUILD: stack[-2] is the object, stack[-1] its state. Check the dtype
        # before joblib reads the payload: object arrays hold nested pickles.
        if len(self.stack) >= 2 and isinstance(self.stack[-2], NumpyArrayWrapper):
            state = self.stack[-1]
            dtype = state.get("dtype") if isinstance(state, dict) else None
            if not isinstance(dtype, np.dtype) or dtype.hasobject:
                raise pickle.UnpicklingError(f"refusing an array of dtype {dtype!r}")
        super().load_build()

    dispatch = NumpyUnpickler.dispatch.copy()
    dispatch[pickle.BUILD[0]] = load_build

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing a pickle with persistent ids")


def load_joblib_arrays(path: str | os.PathLike) -> Any:
    """The object stored in a joblib file (uncompressed or compressed), restricted to arrays and containers.

    Raises:
        pickle.UnpicklingError: the file names anything but numpy arrays,
            dtypes and scalars, holds an object array, or is joblib's
            pre-0.10 multi-file format.
    """
    from joblib.numpy_pickle_utils import _validate_fileobject_and_memmap  # joblib's own format detection

    path = Path(path)
    with open(path, "rb") as f, _validate_fileobject_and_memmap(f, str(path), None) as (fobj, _):
        if isinstance(fobj, str):
            raise pickle.UnpicklingError(f"{path}: joblib < 0.10 multi-file format is not supported")
        return _RestrictedJoblibUnpickler(str(path), fobj, ensure_native_byte_order=True).load()
