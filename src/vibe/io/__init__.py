"""Reading and writing files: restricted unpickling of trusted third-party pickles."""

from vibe.io.safe_pickle import load_pickle, safe_loads

__all__ = ["load_pickle", "safe_loads"]
