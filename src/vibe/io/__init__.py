"""Reading and writing files: restricted unpickling of trusted third-party pickles and joblib arrays."""

from vibe.io.joblib_arrays import load_joblib_arrays
from vibe.io.safe_pickle import load_pickle, safe_loads

__all__ = ["load_joblib_arrays", "load_pickle", "safe_loads"]
